package server_test

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// readyStatus GETs /-/ready and returns its status and body.
func readyStatus(t *testing.T, base string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/-/ready", nil)
	r := do(t, "ready", req)
	return r.status, r.body
}

// waitReady waits until /-/ready answers want with a body containing substr.
func waitReady(t *testing.T, base string, want int, substr string) {
	t.Helper()
	var status int
	var body string
	ok := testenv.Eventually(20*time.Second, func() bool {
		status, body = readyStatus(t, base)
		return status == want && strings.Contains(body, substr)
	})
	if !ok {
		t.Fatalf("ready: %d %q, want %d with %q", status, body, want, substr)
	}
}

// viaProxy starts a TCPProxy to the PostgreSQL URL u's host and returns it with u pointed at it.
func viaProxy(t *testing.T, u string) (*testenv.TCPProxy, string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.StartTCPProxy(t, p.Host)
	p.Host = proxy.Addr
	return proxy, p.String()
}

// TestReadyFollowsDependencies: /-/ready answers 503 naming the blob store while MinIO does
// not answer, and the database while PostgreSQL does not, and 200 again once they are back,
// without a restart; /-/health answers 200 throughout (docs/design.md §9.4).
func TestReadyFollowsDependencies(t *testing.T) {
	endpoint, user, pass := testenv.StartMinio(t)
	s3 := testenv.StartTCPProxy(t, endpoint)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	pg, dbURL := viaProxy(t, testenv.PostgresURL(t))
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.DatabaseURL = dbURL
		c.BlobStore = config.BlobStoreS3
		c.S3 = config.S3{Endpoint: s3.Addr, Bucket: "ready-" + hex.EncodeToString(b), AccessKey: user, SecretKey: config.Secret(pass)}
	})
	waitReady(t, ts.URL, http.StatusOK, `"ok"`)

	t.Run("fail/blob store unreachable", func(t *testing.T) {
		s3.Cut()
		defer s3.Restore()
		start := time.Now()
		if status, body := readyStatus(t, ts.URL); status != http.StatusServiceUnavailable || !strings.Contains(body, "blob store unavailable") {
			t.Fatalf("ready with MinIO cut: %d %q, want 503 naming the blob store", status, body)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("ready took %v with MinIO cut, want a bounded answer", d)
		}
		if r := do(t, "health", mustReq(t, ts.URL+"/-/health")); r.status != http.StatusOK {
			t.Fatalf("health with MinIO cut: %d, want 200 (liveness only)", r.status)
		}
	})
	t.Run("ok/blob store back", func(t *testing.T) {
		waitReady(t, ts.URL, http.StatusOK, `"ok"`)
	})
	t.Run("fail/database unreachable", func(t *testing.T) {
		pg.Cut()
		defer pg.Restore()
		waitReady(t, ts.URL, http.StatusServiceUnavailable, "database unavailable")
		if r := do(t, "health", mustReq(t, ts.URL+"/-/health")); r.status != http.StatusOK {
			t.Fatalf("health with PostgreSQL cut: %d, want 200 (liveness only)", r.status)
		}
	})
	t.Run("ok/database back", func(t *testing.T) {
		waitReady(t, ts.URL, http.StatusOK, `"ok"`)
	})
}

func mustReq(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestReadyWhileDraining: once shutdown begins, /-/ready answers 503 "draining" while an
// in-flight request still runs, and that request completes.
func TestReadyWhileDraining(t *testing.T) {
	cfg := bootConfig(t.TempDir())
	cfg.RootToken = config.Secret("glpat-drain-root-0123456789abcdef")
	in := boot(t, cfg)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/api/v4/groups", pr)
	req.Header.Set("PRIVATE-TOKEN", cfg.RootToken.Reveal())
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() { // no t.Fatal off the test goroutine: the answer, or the error, comes back on done
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	if _, err := pw.Write([]byte(`{"name":"drain",`)); err != nil {
		t.Fatal(err)
	}
	// The request is in flight once the server's handler runs; until then a shutdown may
	// rightly refuse a connection it has not accepted yet.
	if !testenv.Eventually(10*time.Second, func() bool { return inFlight(t, in) >= 1 }) {
		t.Fatal("the slow request never reached the handler")
	}
	stopped := make(chan struct{})
	go func() {
		in.Stop()
		close(stopped)
	}()
	ready := func() (int, string) {
		w := httptest.NewRecorder()
		in.Srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
		return w.Code, w.Body.String()
	}
	if !testenv.Eventually(10*time.Second, func() bool {
		code, body := ready()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "draining")
	}) {
		code, body := ready()
		t.Fatalf("ready while draining: %d %q, want 503 draining", code, body)
	}
	select {
	case <-stopped:
		t.Fatal("shutdown finished with a request in flight")
	default:
	}
	_, _ = pw.Write([]byte(`"path":"drain"}`))
	_ = pw.Close()
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusCreated {
			t.Fatalf("in-flight request across shutdown: %d %q %v, want 201", r.status, r.body, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight request across shutdown: no answer in 30 s")
	}
	<-stopped
}

// inFlight reads gatehouse_http_requests_in_flight from in's registry.
func inFlight(t *testing.T, in *instance) float64 {
	t.Helper()
	families, err := in.Srv.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == metrics.Prefix+"http_requests_in_flight" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no gatehouse_http_requests_in_flight metric")
	return 0
}

// TestShutdownDelay: with shutdown_delay, a stopping node answers /-/ready 503 "draining" while
// it still accepts new connections and serves them, so a load balancer's health check takes it
// out before anything is refused; after the delay it stops.
func TestShutdownDelay(t *testing.T) {
	const delay = 5 * time.Second // generous: the checks below must fit in it on a loaded machine
	cfg := bootConfig(t.TempDir())
	cfg.ShutdownDelay = delay
	in := boot(t, cfg)
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string, error) {
		resp, err := fresh.Get(in.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	began := time.Now()
	stopped := make(chan time.Duration, 1)
	go func() {
		in.Stop()
		stopped <- time.Since(began)
	}()
	if !testenv.Eventually(delay/2, func() bool {
		code, body, err := get("/-/ready")
		return err == nil && code == http.StatusServiceUnavailable && strings.Contains(body, "draining")
	}) {
		t.Fatal("/-/ready never answered 503 draining on a new connection during the delay")
	}
	if code, _, err := get("/-/health"); err != nil || code != http.StatusOK {
		t.Fatalf("a new connection during the delay: %d %v, want served (200)", code, err)
	}
	select {
	case d := <-stopped:
		t.Fatalf("stopped after %v, before the delay of %v", d, delay)
	default:
	}
	select {
	case d := <-stopped:
		if d < delay {
			t.Fatalf("stopped after %v, want at least the delay %v", d, delay)
		}
	case <-time.After(delay + 30*time.Second):
		t.Fatal("not stopped 30 s after the delay")
	}
	if _, _, err := get("/-/health"); err == nil {
		t.Fatal("a stopped node still accepts connections")
	}
}
