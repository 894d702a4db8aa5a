package server

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// openAuditRetention builds the job that deletes audit events older than audit.retention, one
// node at a time; the daily jobs' scheduler runs it after the expiry job (notify.go).
func (s *Server) openAuditRetention(opts Options) {
	node, _ := os.Hostname()
	s.AuditRetention = &audit.Retention{Store: s.Store.Audit, Leases: s.Store.Leases, Keep: s.Config.Audit.Retention, Node: node, Now: opts.Now}
}

// runAuditRetention is the run of one daily slot: another node running it (or having run it) is
// not an error.
func (s *Server) runAuditRetention(ctx context.Context, slot time.Time) {
	n, err := s.retention(ctx, slot)
	switch {
	case errors.Is(err, audit.ErrBusy):
		s.Log.Info("audit retention skipped: another node is running it or ran it")
	case err != nil && ctx.Err() == nil:
		s.Log.Error("audit retention", "err", err, "deleted", n)
	case n > 0:
		s.Log.Info("audit retention", "deleted", n, "retention", s.Config.Audit.Retention)
	}
}

// startAudit writes, on every node, the audit log's summary rows of aggregated failures as
// their windows close (and the open ones when ctx ends); wait blocks until it has stopped.
func (s *Server) startAudit(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if err := s.Audit.Flush(fctx, true); err != nil {
					s.Log.Error("flush audit summaries", "err", err)
				}
				return
			case <-t.C:
				if err := s.Audit.Flush(ctx, false); err != nil && ctx.Err() == nil {
					s.Log.Error("flush audit summaries", "err", err)
				}
			}
		}
	}()
	return wg.Wait
}
