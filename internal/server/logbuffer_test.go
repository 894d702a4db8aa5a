package server_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestBufferedLogger: info lines wait (at most server.LogFlushDelay), a warning is written at once
// with the lines before it, and Flush writes the rest.
func TestBufferedLogger(t *testing.T) {
	var out syncBuffer
	log, flush := server.NewBufferedLogger(&out, "info")
	log.Info("request", "path", "/one")
	if got := out.String(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	log.With("component", "gc").Warn("disk almost full")
	got := out.String()
	if !strings.Contains(got, `"path":"/one"`) || !strings.Contains(got, `"msg":"disk almost full"`) || !strings.Contains(got, `"component":"gc"`) ||
		strings.Index(got, "/one") > strings.Index(got, "disk almost full") {
		t.Fatalf("after a warning the log holds %q", got)
	}
	log.Info("request", "path", "/two")
	if !testenv.Eventually(5*time.Second, func() bool { return strings.Contains(out.String(), "/two") }) {
		t.Fatalf("an info line was not written within %v: %q", server.LogFlushDelay, out.String())
	}
	log.Debug("not at this level")
	log.Info("request", "path", "/three")
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "/three") || strings.Contains(got, "not at this level") || strings.Count(got, "\n") != 4 {
		t.Fatalf("after Flush the log holds %q", got)
	}
}

// TestLoggerOffersJSONLines: the server's logger lets httpx.Middleware write access lines into
// the same buffer, and a logger with attributes does not (its lines would lack them).
func TestLoggerOffersJSONLines(t *testing.T) {
	var out syncBuffer
	log, flush := server.NewBufferedLogger(&out, "info")
	jl, ok := log.Handler().(httpx.JSONLines)
	if !ok || jl.JSONLines() == nil {
		t.Fatal("the buffered logger offers no JSONLines writer")
	}
	if jl, ok := log.With("component", "gc").Handler().(httpx.JSONLines); ok && jl.JSONLines() != nil {
		t.Fatal("a logger with attributes offers its writer")
	}
	if jl, ok := server.NewLogger(&out, "info").Handler().(httpx.JSONLines); !ok || jl.JSONLines() == nil {
		t.Fatal("NewLogger's logger offers no JSONLines writer")
	}
	_, _ = io.WriteString(jl.JSONLines(), "{\"msg\":\"direct\"}\n")
	log.Info("through slog")
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "{\"msg\":\"direct\"}\n{") || !strings.Contains(got, "through slog") {
		t.Fatalf("the log holds %q", got)
	}
}
