package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps nothing but accepts deadlines, as a connection's
// writer does.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header                 { return w.h }
func (w *discardWriter) Write(p []byte) (int, error)         { return len(p), nil }
func (w *discardWriter) WriteHeader(int)                     {}
func (w *discardWriter) SetWriteDeadline(time.Time) error    { return nil }
func (w *discardWriter) SetReadDeadline(time.Time) error     { return nil }
func (w *discardWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// BenchmarkChain is the server's middleware chain (ClientAddress, Deadlines, Middleware with an
// observer and the access log written directly) around a handler that asks for the client
// address three times and writes 4 KiB.
func BenchmarkChain(b *testing.B) {
	body := make([]byte, 4096)
	var observed int
	log := slog.New(jsonLines{slog.NewJSONHandler(io.Discard, nil), io.Discard, &observed})
	h := ClientAddress(TrustedProxies{}, Deadlines(Timeouts{Read: time.Minute, Write: time.Minute},
		Middleware(log, func(*http.Request, int, int64, int64, time.Duration) {}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for range 3 { // the ban, the credential attempt and the gate each ask
				_ = ClientIP(r)
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(body)
		}))))
	r := httptest.NewRequest(http.MethodGet, "/api/v4/projects/1/packages/generic/app/1.0.0/app.bin", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
