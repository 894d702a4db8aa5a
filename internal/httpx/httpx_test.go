package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines decodes the JSON log lines.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

const secret = "gldt-Zx9vQ2mN8pL4rT6wY1uB"

func TestAccessLog(t *testing.T) {
	log, buf := newLogger()
	var seenID string
	h := httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenID = httpx.RequestID(r.Context())
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "hello")
	}))
	r := httptest.NewRequest(http.MethodPost, "/group/project.git/git-upload-pack?private_token="+secret+"&x=1",
		strings.NewReader("password="+secret))
	r.RemoteAddr = "192.0.2.1:4321"
	r.SetBasicAuth("gitlab+deploy-token-1", secret)
	r.Header.Set("Private-Token", secret)
	r.Header.Set("Deploy-Token", secret)
	r.Header.Set("Cookie", "session="+secret)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	if w.Code != http.StatusTeapot || w.Body.String() != "hello" {
		t.Fatalf("response %d %q", w.Code, w.Body.String())
	}
	id := w.Header().Get("X-Request-Id")
	if len(id) != 16 || id != seenID {
		t.Fatalf("X-Request-Id %q, handler saw %q", id, seenID)
	}
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("the access log contains the secret:\n%s", buf.String())
	}
	lines := buf.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), buf.String())
	}
	got := lines[0]
	want := map[string]any{"msg": "request", "request_id": id, "method": "POST", "path": "/group/project.git/git-upload-pack",
		"status": float64(http.StatusTeapot), "bytes": float64(5), "remote": "192.0.2.1:4321"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("log field %s = %v, want %v", k, got[k], v)
		}
	}
	// The allow-list: nothing but these fields (plus slog's own).
	allowed := map[string]bool{"time": true, "level": true, "msg": true, "request_id": true, "method": true, "path": true,
		"status": true, "bytes": true, "duration_ms": true, "remote": true}
	for k := range got {
		if !allowed[k] {
			t.Errorf("access log has field %q outside the allow-list", k)
		}
	}
}

func TestAccessLogStatus(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"ok/implicit 200 with a body", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") }, 200},
		{"ok/implicit 200 without a body", func(w http.ResponseWriter, r *http.Request) {}, 200},
		{"ok/explicit 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, 204},
		{"fail/status before the body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "nope")
		}, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, buf := newLogger()
			srv := httptest.NewServer(httpx.Middleware(log, nil, c.handler))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("client saw %d, want %d", resp.StatusCode, c.want)
			}
			srv.Close() // waits for the handler, and so the log line
			lines := buf.lines(t)
			if len(lines) != 1 || lines[0]["status"] != float64(c.want) {
				t.Fatalf("logged %v, want status %d", lines, c.want)
			}
		})
	}
}

func TestRecover(t *testing.T) {
	t.Run("fail/panic becomes a logged 500", func(t *testing.T) {
		log, buf := newLogger()
		h := httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("boom")
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/p", nil))
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "boom") {
			t.Fatalf("response %d %q: want a generic 500", w.Code, w.Body.String())
		}
		lines := buf.lines(t)
		if len(lines) != 2 || lines[0]["msg"] != "panic" || lines[0]["panic"] != "boom" || lines[0]["stack"] == "" {
			t.Fatalf("panic not logged with its stack: %v", lines)
		}
		if lines[1]["msg"] != "request" || lines[1]["status"] != float64(500) {
			t.Fatalf("access line %v, want status 500", lines[1])
		}
		if id := w.Header().Get("X-Request-Id"); lines[0]["request_id"] != id || id == "" {
			t.Fatalf("panic log request_id %v, header %q", lines[0]["request_id"], id)
		}
	})
	t.Run("ok/panic after the header keeps the status", func(t *testing.T) {
		log, buf := newLogger()
		h := httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("late")
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/p", nil))
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d", w.Code)
		}
		if lines := buf.lines(t); len(lines) != 2 || lines[1]["status"] != float64(http.StatusAccepted) {
			t.Fatalf("lines %v", lines)
		}
	})
	t.Run("ok/ErrAbortHandler propagates", func(t *testing.T) {
		log, _ := newLogger()
		h := httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/p", nil))
		t.Fatal("ErrAbortHandler was swallowed")
	})
}

func TestFlushThroughMiddleware(t *testing.T) {
	log, _ := newLogger()
	for name, flush := range map[string]func(w http.ResponseWriter) error{
		"ok/http.Flusher": func(w http.ResponseWriter) error {
			f, ok := w.(http.Flusher)
			if !ok {
				return errors.New("not a Flusher")
			}
			f.Flush()
			return nil
		},
		"ok/http.ResponseController": func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() },
	} {
		t.Run(name, func(t *testing.T) {
			var ferr error
			h := httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "part")
				ferr = flush(w)
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if ferr != nil || !w.Flushed {
				t.Fatalf("flush did not reach the writer: %v, flushed %v", ferr, w.Flushed)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"message": "ok"})
	if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != "application/json" ||
		strings.TrimSpace(w.Body.String()) != `{"message":"ok"}` {
		t.Fatalf("%d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}

func TestInternal(t *testing.T) {
	log, buf := newLogger()
	var id string
	h := httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id = httpx.RequestID(r.Context())
		httpx.Internal(r.Context(), log, errors.New("disk on fire"))
		w.WriteHeader(http.StatusInternalServerError)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	lines := buf.lines(t)
	if len(lines) != 2 || lines[0]["msg"] != "internal error" || lines[0]["err"] != "disk on fire" || lines[0]["request_id"] != id || id == "" {
		t.Fatalf("internal error not logged with the request id %q: %v", id, lines)
	}
	if strings.Contains(w.Body.String(), "disk on fire") {
		t.Fatal("Internal wrote the error to the client")
	}
	if httpx.RequestID(t.Context()) != "" {
		t.Fatal("RequestID of a bare context is not empty")
	}
}

func TestClientIP(t *testing.T) {
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[::ffff:127.0.0.1]:80", "127.0.0.1"}, // v4-mapped is unmapped, so bans and allow-lists match
		{"198.51.100.2", "198.51.100.2"},
		{"not-an-address", "invalid IP"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		if got := httpx.ClientIP(r).String(); got != c.want {
			t.Errorf("ClientIP(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}

// The observer hears each request once, with its status, the body bytes the handler read, the
// response bytes written and a duration, also when the handler panics.
func TestMiddlewareObserver(t *testing.T) {
	log, _ := newLogger()
	type seen struct {
		path        string
		status      int
		in, out     int64
		took        time.Duration
		sawCtxValue bool
	}
	var got []seen
	observe := func(r *http.Request, status int, in, out int64, took time.Duration) {
		got = append(got, seen{r.URL.Path, status, in, out, took, httpx.RequestID(r.Context()) != ""})
	}
	h := httpx.Middleware(log, observe, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		_, _ = io.CopyN(io.Discard, r.Body, 3)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "hello")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/up", strings.NewReader("abcdef")))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/panic", nil))
	if len(got) != 2 {
		t.Fatalf("observed %d requests, want 2", len(got))
	}
	if g := got[0]; g.path != "/up" || g.status != http.StatusCreated || g.in != 3 || g.out != 5 || g.took <= 0 || !g.sawCtxValue {
		t.Fatalf("observed %+v, want /up 201, 3 bytes read, 5 written, a duration and the request ID", g)
	}
	if g := got[1]; g.path != "/panic" || g.status != http.StatusInternalServerError || g.in != 0 {
		t.Fatalf("observed %+v, want /panic 500", g)
	}
}
