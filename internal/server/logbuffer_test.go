package server

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuilder is a strings.Builder safe for the flush timer's goroutine.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBufferedLogger: info lines wait (at most logFlushDelay), a warning is written at once
// with the lines before it, and Flush writes the rest.
func TestBufferedLogger(t *testing.T) {
	var out syncBuilder
	log, buf := newBufferedLogger(&out, "info")
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
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "/two") {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was not written within %v: %q", logFlushDelay, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Debug("not at this level")
	log.Info("request", "path", "/three")
	if err := buf.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "/three") || strings.Contains(got, "not at this level") || strings.Count(got, "\n") != 4 {
		t.Fatalf("after Flush the log holds %q", got)
	}
}
