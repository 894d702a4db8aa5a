package bench

import (
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// startBenchServer boots the server the HTTP benchmarks measure (SQLite, info-level access
// log, the benchmarks' instance key) with a group "bench", public so that a project in it may be
// public too, and returns the group's id.
func startBenchServer(b *testing.B) (*testenv.TestServer, int64) {
	ts := testenv.StartServer(b, func(c *config.Config) { c.SecretKey = benchKey; c.LogLevel = "info" })
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(b, http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": "bench", "path": "bench", "visibility": "public"}, &g)
	return ts, g.ID
}

// createBenchProject creates bench/<path> with visibility ("" for the default, private) and
// returns its id.
func createBenchProject(b *testing.B, ts *testenv.TestServer, groupID int64, path, visibility string) int64 {
	body := map[string]any{"name": path, "path": path, "namespace_id": groupID}
	if visibility != "" {
		body["visibility"] = visibility
	}
	var p struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(b, http.StatusCreated, http.MethodPost, "/projects", body, &p)
	return p.ID
}
