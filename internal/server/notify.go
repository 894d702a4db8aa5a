package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/smtpmail"
)

// expiryHour is the UTC hour of the daily jobs: the deploy-token expiry run (docs/design.md §4.1:
// 01:00 UTC), then audit retention.
const expiryHour = 1

// openNotify builds the deploy-token expiry job, with an SMTP mailer when smtp.host is set
// (without one, notices are logged and recorded, not sent).
func (s *Server) openNotify(opts Options) error {
	var mailer notify.Mailer
	if c := s.Config.SMTP; c.Enabled() {
		m, err := smtpmail.New(smtpmail.Config{Host: c.Host, Port: c.Port, TLS: c.TLS, Username: c.Username,
			Password: c.Password.Reveal(), From: c.From})
		if err != nil {
			return err
		}
		mailer = m
	}
	job, err := notify.NewJob(notify.Config{Store: s.Store.Expiry, Leases: s.Store.Leases, Namespaces: s.Namespaces, Mailer: mailer,
		ExternalURL: s.Config.ExternalURL, Log: s.Log, Now: opts.Now})
	if err != nil {
		return err
	}
	s.Expiry = job
	s.expirySchedule = &notify.Scheduler{Hour: expiryHour, Now: opts.Now, After: opts.After, Run: s.runDaily}
	return nil
}

// runDaily runs the daily jobs, one after the other; each takes its own lease, so one that is
// busy or fails does not hold up the other.
func (s *Server) runDaily(ctx context.Context, slot time.Time) {
	s.runExpiry(ctx, slot)
	if ctx.Err() == nil && s.AuditRetention != nil {
		s.runAuditRetention(ctx, slot)
	}
}

// runExpiry is the run of one daily slot: another node running it (or having run it) is not an
// error.
func (s *Server) runExpiry(ctx context.Context, slot time.Time) {
	if _, err := (expiryJob{s}).RunSlot(ctx, slot); err != nil && ctx.Err() == nil {
		if errors.Is(err, notify.ErrBusy) {
			s.Log.Info("deploy-token expiry job skipped: another node is running it or ran it")
			return
		}
		s.Log.Error("deploy-token expiry job", "err", err)
	}
}

// startNotify runs the daily expiry job until ctx is done; wait blocks until it has stopped.
func (s *Server) startNotify(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	if s.expirySchedule != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.expirySchedule.Loop(ctx)
		}()
	}
	return wg.Wait
}
