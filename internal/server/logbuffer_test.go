package server_test

import (
	"strings"
	"testing"
	"time"

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
