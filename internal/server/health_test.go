package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func TestHealthAndReady(t *testing.T) {
	ts := testenv.StartServer(t)
	get := func(method, path string) response {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return do(t, method+" "+path, req)
	}
	for _, path := range []string{"/-/health", "/-/ready"} {
		t.Run("ok"+path, func(t *testing.T) {
			r := get("GET", path)
			if r.status != http.StatusOK || strings.TrimSpace(r.body) != `{"status":"ok"}` ||
				r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %q", r.status, r.header.Get("Content-Type"), r.body)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Fatal("no request ID")
			}
		})
		t.Run("fail/POST"+path, func(t *testing.T) {
			// Only GET is routed; other methods fall through to the catch-all's 404.
			if r := get("POST", path); r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
				t.Fatalf("POST %s: %d %q, want 404 or 405", path, r.status, r.body)
			}
		})
	}
	t.Run("ok/health needs no credentials even when the ban is strict", func(t *testing.T) {
		strict := testenv.StartServer(t, noLoopbackExemption)
		req, _ := http.NewRequest("GET", strict.URL+"/-/health", nil)
		req.SetBasicAuth("nobody", "wrong")
		if r := do(t, "health with bad credentials", req); r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
	})
}

func TestReadyWithoutDatabase(t *testing.T) {
	srv, err := server.New(context.Background(), bootConfig(t.TempDir()),
		server.Options{Log: server.NewLogger(&syncBuffer{}, "info"), Stdout: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	serve := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	if w := serve("/-/ready"); w.Code != http.StatusOK {
		t.Fatalf("ready with a database: %d", w.Code)
	}
	if err := srv.Store.SQL().Close(); err != nil {
		t.Fatal(err)
	}
	if w := serve("/-/ready"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "database unavailable") {
		t.Fatalf("ready without a database: %d %q, want 503", w.Code, w.Body.String())
	}
	if w := serve("/-/health"); w.Code != http.StatusOK {
		t.Fatalf("health (liveness) without a database: %d, want 200", w.Code)
	}
}
