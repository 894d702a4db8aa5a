package httpx

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestAccessLineMatchesSlog pins the directly written access-log line to the bytes
// slog.JSONHandler writes for the same record, and leaves every string that needs escaping to
// slog.
func TestAccessLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 4, 5, 123456789, time.UTC)
	cases := []struct {
		name, method, path, remote string
		client                     string // forwarded client, if any
		now                        time.Time
		plain                      bool
	}{
		{name: "plain", method: "GET", path: "/api/v4/projects/1/packages/generic/app/1.0.0/app.bin", remote: "127.0.0.1:51234", now: at, plain: true},
		{name: "whole second", method: "HEAD", path: "/v2/", remote: "[::1]:80", now: at.Truncate(time.Second), plain: true},
		{name: "local zone", method: "GET", path: "/jwt/auth", remote: "10.0.0.1:1", now: at.In(time.FixedZone("x", -5*3600)), plain: true},
		{name: "monotonic", method: "GET", path: "/", remote: "10.0.0.1:1", now: time.Now(), plain: true},
		{name: "forwarded", method: "GET", path: "/a b/<c>&", remote: "10.0.0.9:443", client: "2001:db8::1", now: at, plain: true},
		{name: "quote", method: "GET", path: `/a"b`, remote: "10.0.0.1:1", now: at},
		{name: "backslash", method: "GET", path: `/a\b`, remote: "10.0.0.1:1", now: at},
		{name: "unicode", method: "GET", path: "/é", remote: "10.0.0.1:1", now: at},
		{name: "control", method: "GET", path: "/a\x01", remote: "10.0.0.1:1", now: at},
		{name: "invalid utf-8", method: "GET", path: "/a\xff", remote: "10.0.0.1:1", now: at},
		{name: "year", method: "GET", path: "/", remote: "10.0.0.1:1", now: at.AddDate(9000, 0, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/", nil)
			r.URL.Path = c.path
			r.RemoteAddr = c.remote
			l := accessLine{now: c.now, id: "0123456789abcdef", r: r, status: 404, bytes: 4096, took: 1500 * time.Millisecond}
			if c.client != "" {
				l.client, l.forward = netip.MustParseAddr(c.client), true
			}
			var want bytes.Buffer
			if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), l.record()); err != nil {
				t.Fatal(err)
			}
			got, ok := l.appendJSON(nil)
			if ok != c.plain {
				t.Fatalf("written directly: %v, want %v (slog: %s)", ok, c.plain, want.String())
			}
			if ok && string(got) != want.String() {
				t.Fatalf("line\n%s\nslog writes\n%s", got, want.String())
			}
		})
	}
}

// jsonLines is a JSON handler offering its writer, as the server's logger does; it counts the
// records that reach Handle.
type jsonLines struct {
	*slog.JSONHandler
	w       io.Writer
	handled *int
}

func (h jsonLines) JSONLines() io.Writer { return h.w }

func (h jsonLines) Handle(ctx context.Context, r slog.Record) error {
	*h.handled++
	return h.JSONHandler.Handle(ctx, r)
}

// TestMiddlewareWritesJSONLines checks Middleware writes its line to a JSONLines writer itself
// when it can, and through the handler when the path needs escaping.
func TestMiddlewareWritesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	handled := 0
	log := slog.New(jsonLines{slog.NewJSONHandler(&buf, nil), &buf, &handled})
	h := Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	for _, path := range []string{"/plain", "/caf%C3%A9"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || handled != 1 {
		t.Fatalf("%d lines, %d through Handle (want 2, 1):\n%s", len(lines), handled, buf.String())
	}
	if !strings.Contains(lines[0], `"msg":"request","request_id":"`) || !strings.Contains(lines[0], `"path":"/plain","status":200,"bytes":5,`) {
		t.Fatalf("line %s", lines[0])
	}
	if !strings.Contains(lines[1], `"path":"/café"`) {
		t.Fatalf("line %s", lines[1])
	}
}

// BenchmarkAccessLine compares the access-log line through slog.JSONHandler with the line
// written directly, both to io.Discard.
func BenchmarkAccessLine(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/api/v4/projects/1/packages/generic/app/1.0.0/app.bin", nil)
	l := accessLine{now: time.Now(), id: "0123456789abcdef", r: r, status: 200, bytes: 4096, took: time.Millisecond}
	h := slog.NewJSONHandler(io.Discard, nil)
	b.Run("slog", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.log(h, nil)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.log(h, io.Discard)
		}
	})
}
