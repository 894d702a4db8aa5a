package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// genericDownloadAllocs is what one authenticated 4 KiB generic-package download allocates in
// the handler stack (middleware, routing, authentication, the decision, the file), as bench/run's
// generic GET sends it: basic auth with a deploy token, info-level access log. net/http's own
// allocations (the request, the header copy it writes) are not counted. Lower it when a change
// saves allocations; a change that adds some must say why. It was 44 before issue 13's last
// round of savings.
const genericDownloadAllocs = 18

// TestGenericDownloadAllocations pins the allocations of the hot path (bench/run's generic GET).
func TestGenericDownloadAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector sync.Pool drops items on purpose: allocation counts mean nothing")
	}
	ts := testenv.StartServer(t, func(c *config.Config) { c.LogLevel = "info" })
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": "hot", "path": "hot"}, &g)
	var p struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, http.MethodPost, "/projects", map[string]any{"name": "app", "path": "app", "namespace_id": g.ID}, &p)
	dt := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_package_registry", "write_package_registry"}, nil)
	content := bytes.Repeat([]byte("gatehouse-hot!!\n"), 256) // 4 KiB
	url := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0.0/tool.bin", p.ID)
	h := ts.Server.Handler()
	put := httptest.NewRequest(http.MethodPut, url, bytes.NewReader(content))
	put.SetBasicAuth(dt.Username, dt.Token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, put)
	if rec.Code != http.StatusCreated {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	get := httptest.NewRequest(http.MethodGet, url, nil)
	get.SetBasicAuth(dt.Username, dt.Token)
	w := &discardWriter{header: http.Header{}}
	serve := func() {
		clear(w.header)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, get)
	}
	serve()
	if w.status != http.StatusOK || w.n != len(content) {
		t.Fatalf("GET: status %d, %d bytes", w.status, w.n)
	}
	if n := testing.AllocsPerRun(200, serve); n > genericDownloadAllocs {
		t.Fatalf("%v allocations per download, want at most %d", n, genericDownloadAllocs)
	} else {
		t.Logf("%v allocations per download", n)
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that only the handler stack's
// allocations are counted. It takes deadlines, as net/http's writer does (an unsupported
// deadline would cost http.ResponseController an error value per call).
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) SetReadDeadline(time.Time) error { return nil }

func (w *discardWriter) SetWriteDeadline(time.Time) error { return nil }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}
