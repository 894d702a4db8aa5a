package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// logBuffer batches the server's log lines into fewer writes. Without it every request costs a
// write system call for its access-log line, which bench/run's profiles showed at 5% of the CPU
// of a small package download. A line waits at most logFlushDelay (or until logBufferSize bytes
// wait); warnings and errors are written at once with everything before them (flushOnWarn), and
// Server.Close writes what is left. slog's handlers write each record with one Write, so lines
// are never split.
type logBuffer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	timer   *time.Timer
	pending bool
}

const (
	logFlushDelay = 100 * time.Millisecond
	logBufferSize = 64 << 10
)

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, logBufferSize)}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	if !b.pending && b.w.Buffered() > 0 {
		b.pending = true
		b.timer.Reset(logFlushDelay)
	}
	return n, err
}

// Flush writes every buffered line.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	b.timer.Stop()
	return b.w.Flush()
}

// flushOnWarn is a handler that flushes its buffer after each record at warning level or above,
// so that problems reach the operator without delay.
type flushOnWarn struct {
	slog.Handler
	buf *logBuffer
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.buf.Flush()
	}
	return err
}

// JSONLines passes on the wrapped handler's writer (httpx.JSONLines): the buffer, and lines
// written there are at info level, which needs no flush.
func (h flushOnWarn) JSONLines() io.Writer {
	if jl, ok := h.Handler.(httpx.JSONLines); ok {
		return jl.JSONLines()
	}
	return nil
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{h.Handler.WithGroup(name), h.buf}
}

// newBufferedLogger is NewLogger over a logBuffer of w.
func newBufferedLogger(w io.Writer, level string) (*slog.Logger, *logBuffer) {
	buf := newLogBuffer(w)
	return slog.New(flushOnWarn{NewLogger(buf, level).Handler(), buf}), buf
}
