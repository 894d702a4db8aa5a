package server

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// NewBufferedLogger exposes newBufferedLogger, with its buffer's Flush, to the external tests.
func NewBufferedLogger(w io.Writer, level string) (*slog.Logger, func() error) {
	log, buf := newBufferedLogger(w, level)
	return log, buf.Flush
}

// LogFlushDelay is logFlushDelay, for the external tests.
const LogFlushDelay = logFlushDelay

// RunDaily runs the daily jobs once, as the scheduler does at 01:00 UTC, for the slot at slot.
func RunDaily(s *Server, ctx context.Context, slot time.Time) { s.runDaily(ctx, slot) }

// DeleteProject deletes a project as the namespace service does (the row, then the
// OnProjectDeleted hook: its repository and the caches); no surface offers it yet.
func DeleteProject(s *Server, ctx context.Context, id int64) error {
	if err := s.Store.Namespaces.DeleteProject(ctx, id); err != nil {
		return err
	}
	return s.Namespaces.OnProjectDeleted(ctx, id)
}
