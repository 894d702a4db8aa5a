// Package httpx is Gatehouse's shared HTTP plumbing: request IDs, an allow-listed access log that
// never records headers or query strings, and panic recovery. No business logic.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"
	"unsafe"
)

type ctxKey int

const requestIDKey ctxKey = 1

// RequestID returns the request's ID, or "".
func RequestID(ctx context.Context) string {
	if st, ok := ctx.Value(requestIDKey).(*requestState); ok {
		return st.idValue[0]
	}
	return ""
}

// newID writes a new request ID (16 hex digits of 64 random bits) into id.
func newID(id *[16]byte) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	hex.Encode(id[:], b[:])
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers (git) flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadFrom lets io.Copy reach the server's own ReadFrom, which splices a file or pipe into the
// socket when the response is not chunked (git packs).
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	n, err := rf.ReadFrom(r)
	w.bytes += n
	return n, err
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestState is Middleware's state of one request. It is also the request's context: the
// parent's, with the state itself as the value of requestIDKey (a context.WithValue would be
// one more allocation per request).
type requestState struct {
	context.Context
	sw      statusWriter
	body    countingBody
	id      [16]byte   // the request ID's digits; idValue[0] is a string over them
	idValue [1]string  // the X-Request-Id header's value
	client  netip.Addr // ClientIP, resolved once: the ban, the allow-lists and the gate each ask
}

// Value is the parent's Value but for requestIDKey, which is the state.
func (st *requestState) Value(key any) any {
	if key == requestIDKey {
		return st
	}
	return st.Context.Value(key)
}

// Observer is told about each request once it is answered: its status, the bytes of its body
// read by the handler (in) and of the response written (out), and how long it took. It runs on
// every request, so it must be quick.
type Observer func(r *http.Request, status int, in, out int64, took time.Duration)

// countingBody counts the bytes of a request body the handler reads.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// Middleware adds a request ID (X-Request-Id), recovers panics as 500, and writes one access-log
// line per request with an allow-list of fields: method, path (no query string), status, bytes,
// duration, remote address (and the proxy, when a trusted one named the client) and request
// ID. Headers, bodies and query strings are never logged. observe, when not nil, is told about
// each request as well (the metrics).
func Middleware(log *slog.Logger, observe Observer, next http.Handler) http.Handler {
	var lines io.Writer
	if jl, ok := log.Handler().(JSONLines); ok {
		lines = jl.JSONLines()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// One allocation holds the request's context, writer, body counter and ID.
		st := &requestState{Context: r.Context(), client: ClientIP(r)}
		newID(&st.id)
		// The ID's string shares the state's bytes, which never change once written.
		id := unsafe.String(&st.id[0], len(st.id))
		st.idValue[0] = id
		w.Header()["X-Request-Id"] = st.idValue[:] // the canonical key, set without Set's copy
		var ctx context.Context = st
		sw := &st.sw
		sw.ResponseWriter = w
		r = r.WithContext(ctx)
		var body *countingBody
		if observe != nil && r.Body != nil && r.Body != http.NoBody {
			body = &st.body
			body.ReadCloser = r.Body
			r.Body = body
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(ctx, "panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					http.Error(sw, "internal server error", http.StatusInternalServerError)
				}
			}
			status := sw.status
			if status == 0 {
				// The handler wrote nothing: net/http answers 200.
				status = http.StatusOK
			}
			// The wall clock moved as the monotonic one did: one clock read instead of two.
			took := time.Since(start)
			now := start.Add(took)
			if observe != nil {
				var in int64
				if body != nil {
					in = body.n
				}
				observe(r, status, in, sw.bytes, took)
			}
			if h := log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
				l := accessLine{now: now, id: id, r: r, status: status, bytes: sw.bytes, took: took}
				l.client, l.forward = forwardedClient(ctx)
				l.log(h, lines)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Internal logs err with the request ID and answers a generic 500 through write; internal
// details are never shown to clients.
func Internal(ctx context.Context, log *slog.Logger, err error) {
	log.ErrorContext(ctx, "internal error", "request_id", RequestID(ctx), "err", err.Error())
}
