package proxy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func hostOf(t *testing.T, ts *testenv.TestServer) string {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func itoa(n int64) string { return fmt.Sprint(n) }

// upstream is a Gatehouse serving as the proxy's upstream registry, with a public project
// group/pub and the private group/top, and a spy in front of it.
type upstream struct {
	ts   *testenv.TestServer
	host string
	f    testenv.Fixture
	home string // crane logged in as root
	spy  *spy
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	ts := testenv.StartServer(t, testenv.Localhost)
	u := &upstream{ts: ts, host: hostOf(t, ts), f: ts.MakeFixture(t), home: t.TempDir()}
	var p testenv.Project
	// A project is no more visible than its group (GitLab's rule): the group goes public first.
	ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("/groups/%d", u.f.GroupID), map[string]any{"visibility": "public"}, nil)
	ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": "pub", "path": "pub",
		"namespace_id": u.f.GroupID, "visibility": "public"}, &p)
	testenv.MustRun(t, u.home, testenv.GoTool(t, "crane"), "auth", "login", u.host, "-u", "root", "-p", ts.RootToken)
	u.spy = newSpy(t, ts.URL)
	return u
}

// push pushes a fresh one-layer image (layer of n random bytes) to the upstream as ref (a
// name:tag on the upstream) and returns its manifest digest and layer digest.
func (u *upstream) push(t *testing.T, ref string, n int) (manifest, layer string) {
	t.Helper()
	crane := testenv.GoTool(t, "crane")
	file := testenv.RandomFile(t, u.home, "layer.bin", n)
	testenv.MustRun(t, u.home, crane, "append", "--new_layer", file, "-t", u.host+"/"+ref)
	manifest = strings.TrimSpace(testenv.MustRun(t, u.home, crane, "digest", u.host+"/"+ref))
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(testenv.MustRun(t, u.home, crane, "manifest", u.host+"/"+ref)), &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("manifest of %s: %v", ref, err)
	}
	return manifest, m.Layers[len(m.Layers)-1].Digest
}

// spy is a reverse proxy in front of the upstream that counts the registry requests it passes
// and can delay, stall, cut or corrupt blob bodies and corrupt manifest bodies.
type spy struct {
	srv *httptest.Server

	mu     sync.Mutex
	counts map[string]int // "GET /v2/…" → requests
	// delay holds blob GETs back this long before answering.
	delay time.Duration
	// corrupt flips a byte in the middle of the body of these blob digests.
	corrupt map[string]bool
	// corruptManifests flips a byte of every manifest GET body.
	corruptManifests bool
	// pause sends half of these blobs' bodies, then waits for the channel to be closed; cut
	// then ends the body with an error instead of the rest.
	pause map[string]chan struct{}
	cut   map[string]bool
	// paused is signalled when a paused body reaches its pause, done when a body ends.
	paused, done chan string
}

func newSpy(t *testing.T, target string) *spy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &spy{counts: map[string]int{}, corrupt: map[string]bool{}, pause: map[string]chan struct{}{}, cut: map[string]bool{},
		paused: make(chan string, 16), done: make(chan string, 64)}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = s.modify
	rp.ErrorLog = nil
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") || strings.Contains(r.URL.Path, "/blobs/") {
			s.mu.Lock()
			s.counts[r.Method+" "+r.URL.Path]++
			delay := s.delay
			s.mu.Unlock()
			if delay > 0 && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				time.Sleep(delay)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// count is how many requests of method went to paths containing sub.
func (s *spy) count(method, sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		m, p, _ := strings.Cut(k, " ")
		if m == method && strings.Contains(p, sub) {
			n += v
		}
	}
	return n
}

// total is how many registry requests passed.
func (s *spy) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.counts {
		n += v
	}
	return n
}

func (s *spy) set(f func(s *spy)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *spy) modify(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return nil
	}
	path := resp.Request.URL.Path
	d := path[strings.LastIndexByte(path, '/')+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.Contains(path, "/manifests/") && s.corruptManifests:
		resp.Body = &flipper{r: resp.Body, at: 10}
	case strings.Contains(path, "/blobs/") && s.corrupt[d]:
		resp.Body = &flipper{r: resp.Body, at: resp.ContentLength / 2}
	case strings.Contains(path, "/blobs/") && s.pause[d] != nil:
		resp.Body = &pauser{r: resp.Body, half: resp.ContentLength / 2, release: s.pause[d], cut: s.cut[d], digest: d, s: s}
	}
	if strings.Contains(path, "/blobs/") {
		resp.Body = &doneSignal{ReadCloser: resp.Body, digest: d, done: s.done}
	}
	return nil
}

// flipper flips the byte at offset at.
type flipper struct {
	r   io.ReadCloser
	at  int64
	off int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipper) Close() error { return f.r.Close() }

// pauser passes half of the body, then waits for release; then the rest, or an error if cut.
type pauser struct {
	r       io.ReadCloser
	half    int64
	off     int64
	release chan struct{}
	cut     bool
	digest  string
	s       *spy
	waited  bool
}

func (p *pauser) Read(b []byte) (int, error) {
	if p.off >= p.half && !p.waited {
		p.waited = true
		p.s.paused <- p.digest
		<-p.release
		if p.cut {
			return 0, io.ErrUnexpectedEOF
		}
	}
	if !p.waited && p.off+int64(len(b)) > p.half {
		b = b[:p.half-p.off]
	}
	n, err := p.r.Read(b)
	p.off += int64(n)
	return n, err
}

func (p *pauser) Close() error { return p.r.Close() }

type doneSignal struct {
	io.ReadCloser
	digest string
	done   chan string
	once   sync.Once
}

func (d *doneSignal) Close() error {
	d.once.Do(func() { d.done <- d.digest })
	return d.ReadCloser.Close()
}

// waitFor waits for ch to deliver want.
func waitFor(t *testing.T, ch chan string, want, what string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// get sends method to base+path with a bearer token ("" for none).
func get(t *testing.T, ctx context.Context, method, url, bearer string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ociError decodes an OCI error envelope and returns its first code.
func ociError(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var env struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &env); err != nil || len(env.Errors) == 0 {
		t.Fatalf("status %d: not an OCI error envelope: %q", resp.StatusCode, raw)
	}
	return env.Errors[0].Code
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func blobDigest(s string) blob.Digest { return blob.Digest(s) }
