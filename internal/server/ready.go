package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// readyTimeout bounds each readiness check, so a hung dependency answers 503, not a hang.
const readyTimeout = 2 * time.Second

// ready answers GET /-/ready (docs/design.md §9.4): 200 while the node should get traffic,
// 503 naming the reason while it drains or while the database or the blob store does not
// answer. /-/health stays liveness only. A cache bus that is down keeps the node ready (its
// caches are off, so every answer comes from the database: slower, never stale) but shows in
// the body, "cache_bus": "down: caches off" (and in gatehouse_cache_bus_up).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	body := map[string]string{"status": "ok"}
	if !s.Bus.Healthy() {
		body["cache_bus"] = "down: caches off"
	}
	if status := s.readiness(r.Context()); status != "" {
		body["status"] = status
		httpx.WriteJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, body)
}

// readiness returns why the node is not ready, or "" when it is.
func (s *Server) readiness(ctx context.Context) string {
	if s.draining.Load() {
		return "draining"
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.Store.SQL().PingContext(ctx); err != nil {
		return "database unavailable"
	}
	if p, ok := s.Blobs.(blob.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			s.Log.Warn("readiness: blob store unavailable", "err", err)
			return "blob store unavailable"
		}
	}
	return ""
}
