package notify

import (
	"context"
	"time"
)

// Scheduler calls Run every day at Hour:Minute UTC until its context ends. Its clock is
// injectable: Now reads the time and After waits (a test fires After's channel and moves Now).
type Scheduler struct {
	// Hour and Minute are the UTC time of day of the run (01:00 for the expiry job).
	Hour, Minute int
	// Run is the work; it is called on the scheduler's goroutine, one run at a time, with the
	// slot's scheduled instant (so the nodes of a cluster can run each slot once).
	Run func(ctx context.Context, slot time.Time)
	// Now and After default to time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// NextRun returns the first instant strictly after now that is hour:minute UTC.
func NextRun(now time.Time, hour, minute int) time.Time {
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day(), hour, minute, 0, 0, time.UTC)
	if !next.After(now) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// Loop runs until ctx is done.
func (s *Scheduler) Loop(ctx context.Context) {
	now, after := s.Now, s.After
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	var last time.Time // the last run's scheduled instant
	for {
		from := now()
		if from.Before(last) {
			// The wall clock went back (or a timer fired early): never run one slot twice.
			from = last
		}
		next := NextRun(from, s.Hour, s.Minute)
		select {
		case <-ctx.Done():
			return
		case <-after(next.Sub(now())):
		}
		if ctx.Err() != nil {
			return
		}
		last = next
		s.Run(ctx, next)
	}
}
