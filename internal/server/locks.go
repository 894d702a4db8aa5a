package server

import (
	"github.com/gatehouse-dev/gatehouse/internal/proxy"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// openLocks sets the locks every node sees (docs/architecture.md §4.5) on PostgreSQL; on SQLite,
// which one node serves, s.locks stays nil and the registry and the proxy lock within the process.
func (s *Server) openLocks() {
	if s.Config.IsPostgres() {
		s.locks = &sqlstore.Locker{Store: s.Store.Locks, Log: s.Log}
	}
}

// uploadLocks serialise a registry upload session's requests across the nodes; nil (in-process)
// on SQLite.
func (s *Server) uploadLocks() registry.UploadLocks {
	if s.locks == nil {
		return nil
	}
	return s.locks
}

// fetchLocks let one node at a time fetch an upstream blob into the dependency proxy's cache;
// nil (in-process only) on SQLite.
func (s *Server) fetchLocks() proxy.FetchLocks {
	if s.locks == nil {
		return nil
	}
	return s.locks
}
