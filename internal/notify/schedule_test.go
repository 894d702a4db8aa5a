package notify_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

func TestNextRun(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"ok/before 01:00 runs today", utc(2031, 3, 10, 0, 59), utc(2031, 3, 10, 1, 0)},
		{"ok/at 01:00 runs tomorrow", utc(2031, 3, 10, 1, 0), utc(2031, 3, 11, 1, 0)},
		{"ok/afternoon runs tomorrow", utc(2031, 3, 10, 15, 30), utc(2031, 3, 11, 1, 0)},
		{"ok/month end", utc(2031, 2, 28, 2, 0), utc(2031, 3, 1, 1, 0)},
		{"ok/year end", utc(2031, 12, 31, 23, 0), utc(2032, 1, 1, 1, 0)},
		{"ok/other zone is converted to UTC", time.Date(2031, 3, 10, 18, 0, 0, 0, time.FixedZone("UTC-6", -6*3600)), utc(2031, 3, 11, 1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.NextRun(tc.now, 1, 0); !got.Equal(tc.want) {
				t.Fatalf("NextRun(%s) = %s, want %s", tc.now, got, tc.want)
			}
		})
	}
}

// fakeTimer hands each After call to the test, which moves the clock and fires it.
type fakeTimer struct {
	clock *clock
	waits chan time.Duration
	fire  chan time.Time
}

func newFakeTimer(c *clock) *fakeTimer {
	return &fakeTimer{clock: c, waits: make(chan time.Duration), fire: make(chan time.Time)}
}

func (f *fakeTimer) After(d time.Duration) <-chan time.Time {
	f.waits <- d
	return f.fire
}

// elapse moves the clock by d and fires the pending wait.
func (f *fakeTimer) elapse(d time.Duration) {
	f.clock.Set(f.clock.Now().Add(d))
	f.fire <- f.clock.Now()
}

// TestSchedulerRunsJobAt0100 drives the server's daily scheduler with a fake clock: started at
// 15:30 UTC it waits until 01:00 UTC the next day, runs the job then (the mails go out), and
// waits 24 hours for the next run, which sends nothing new.
func TestSchedulerRunsJobAt0100(t *testing.T) {
	s := openSQLite(t)
	f := newFixture(t, s)
	mp := testbin.StartMailpit(t)
	// The fixture's tokens are dated from now (2031-03-10 01:00); start the day before.
	c := &clock{t: time.Date(2031, time.March, 9, 15, 30, 0, 0, time.UTC)}
	job, _ := newJob(t, s, c, mailerFor(t, mp))
	timer := newFakeTimer(c)
	var mu sync.Mutex
	var runs []time.Time
	var sums []notify.Summary
	ran := make(chan struct{})
	sched := &notify.Scheduler{Hour: 1, Now: c.Now, After: timer.After, Run: func(ctx context.Context, _ time.Time) {
		sum, err := job.Run(ctx)
		if err != nil {
			t.Errorf("job: %v", err)
		}
		mu.Lock()
		runs = append(runs, c.Now())
		sums = append(sums, sum)
		mu.Unlock()
		ran <- struct{}{}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sched.Loop(ctx) }()
	defer func() { cancel(); <-done }()

	if d := <-timer.waits; d != 9*time.Hour+30*time.Minute {
		t.Fatalf("first wait %s, want 9h30m (until 01:00 UTC)", d)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Fatalf("%d mails before the scheduled time", n)
	}
	timer.elapse(9*time.Hour + 30*time.Minute)
	<-ran
	mu.Lock()
	if !runs[0].Equal(now) {
		t.Fatalf("ran at %s, want %s", runs[0], now)
	}
	if sums[0].MailsSent != wantMailCount() {
		t.Fatalf("scheduled run summary %+v", sums[0])
	}
	mu.Unlock()
	got, _ := received(t, mp)
	want := map[string][]string{}
	for name, w := range wantRecipients {
		want[noticeKey(f.tokens[name].ID, w.interval)] = w.users
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scheduled mails %v, want %v", got, want)
	}

	if d := <-timer.waits; d != 24*time.Hour {
		t.Fatalf("second wait %s, want 24h", d)
	}
	timer.elapse(24 * time.Hour)
	<-ran
	mu.Lock()
	if want := now.Add(24 * time.Hour); !runs[1].Equal(want) || sums[1].MailsSent != 0 {
		t.Fatalf("second run at %s sent %d, want at %s sending nothing", runs[1], sums[1].MailsSent, want)
	}
	mu.Unlock()
	<-timer.waits // the third wait: the loop goes on until cancelled
}

// TestSchedulerClockBack: a wall clock that goes back after a run never repeats that slot.
func TestSchedulerClockBack(t *testing.T) {
	c := &clock{t: time.Date(2031, 3, 10, 0, 0, 0, 0, time.UTC)}
	timer := newFakeTimer(c)
	ran := make(chan time.Time)
	sched := &notify.Scheduler{Hour: 1, Now: c.Now, After: timer.After, Run: func(context.Context, time.Time) {
		at := c.Now()
		c.Set(time.Date(2031, 3, 10, 0, 59, 0, 0, time.UTC)) // NTP moves the clock back during the run
		ran <- at
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sched.Loop(ctx) }()
	defer func() { cancel(); <-done }()
	if d := <-timer.waits; d != time.Hour {
		t.Fatalf("first wait %s, want 1h", d)
	}
	timer.elapse(time.Hour)
	if at := <-ran; !at.Equal(time.Date(2031, 3, 10, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("ran at %s", at)
	}
	if d := <-timer.waits; d != 24*time.Hour+time.Minute {
		t.Fatalf("wait after the clock went back %s, want until tomorrow 01:00 (24h1m)", d)
	}
}
