package notify_test

import (
	"context"
	"errors"
	"html"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/smtpmail"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

func TestIntervalFor(t *testing.T) {
	for _, tc := range []struct {
		days, want int
	}{
		{-3, 0}, {0, 0}, {1, 7}, {5, 7}, {7, 7}, {8, 30}, {25, 30}, {30, 30}, {31, 60}, {55, 60}, {60, 60}, {61, 0}, {365, 0},
	} {
		if got := notify.IntervalFor(tc.days); got != tc.want {
			t.Errorf("IntervalFor(%d) = %d, want %d", tc.days, got, tc.want)
		}
	}
}

func TestDaysLeft(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expires time.Time
		at      time.Time
		want    int
	}{
		{"ok/01:00 run, five days", day(5), now, 5},
		{"ok/just after midnight", day(5), time.Date(2031, 3, 10, 0, 0, 1, 0, time.UTC), 5},
		{"ok/just before midnight", day(5), time.Date(2031, 3, 10, 23, 59, 59, 0, time.UTC), 5},
		{"ok/tomorrow", day(1), now, 1},
		{"ok/not a midnight rounds up", day(5).Add(time.Hour), now, 6},
		{"ok/other time zone", day(5), now.In(time.FixedZone("UTC-10", -10*3600)), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.DaysLeft(tc.expires, tc.at); got != tc.want {
				t.Fatalf("DaysLeft = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestExpiryMailsSQLite(t *testing.T) { testExpiryMails(t, openSQLite(t)) }

func TestExpiryMailsPostgres(t *testing.T) { testExpiryMails(t, openPostgres(t, "")) }

// testExpiryMails: tokens expiring in 5, 25 and 55 days get exactly their 7-, 30- and 60-day
// mails, to each owner and maintainer (direct and inherited) and nobody else; revoked, expired,
// far and never-expiring tokens get none; a second run sends nothing; later runs send the next
// interval once.
func testExpiryMails(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	f := newFixture(t, s)
	mp := testbin.StartMailpit(t)
	c := &clock{t: now}
	job, logs := newJob(t, s, c, mailerFor(t, mp))

	sum, err := job.Run(ctx)
	must(t, err)
	if !sum.SMTPConfigured || sum.Tokens != 3 || sum.MailsSent != wantMailCount() || sum.MailsFailed != 0 ||
		sum.AlreadyNotified != 0 || sum.Examined != 3 || sum.Errors != 0 {
		t.Fatalf("first run summary = %+v, want 3 tokens, %d mails", sum, wantMailCount())
	}
	got, mails := received(t, mp)
	want := map[string][]string{}
	for name, w := range wantRecipients {
		want[noticeKey(f.tokens[name].ID, w.interval)] = w.users
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mails by notice = %v\nwant %v", got, want)
	}

	// Every mail names the token, its path, the date and the settings link, in text and HTML,
	// and never carries a secret.
	byKey := map[string]testbin.Mail{}
	for _, m := range mails {
		byKey[strings.TrimPrefix(m.Headers[notify.NoticeHeader][0], notify.JobName+"; ")] = m
	}
	for _, tc := range []struct {
		token, path, date, link string
		interval                int
	}{
		{"t5", "acme/platform/app", "2031-03-15", externalURL + "/acme/platform/app/-/settings/repository#deploy-tokens", 7},
		{"t25", "acme/platform", "2031-04-04", externalURL + "/groups/acme/platform/-/settings/repository", 30},
		{"t55", "acme/platform/deep/svc", "2031-05-04", externalURL + "/acme/platform/deep/svc/-/settings/repository#deploy-tokens", 60},
	} {
		tk := f.tokens[tc.token]
		m := byKey[noticeKey(tk.ID, tc.interval)]
		for what, body := range map[string]string{"text": m.Text, "html": html.UnescapeString(m.HTML)} {
			for _, want := range []string{tk.Name, tk.Username, tc.path, tc.date, tc.link} {
				if !strings.Contains(body, want) {
					t.Errorf("%s mail (%s) lacks %q:\n%s", tc.token, what, want, body)
				}
			}
			if strings.Contains(body, "gldt-") {
				t.Errorf("%s mail (%s) contains a token secret", tc.token, what)
			}
		}
		if !strings.Contains(m.Subject, tk.Name) || !strings.Contains(m.Subject, tc.path) {
			t.Errorf("%s subject %q lacks the token name or path", tc.token, m.Subject)
		}
		if m.From.Address != "gatehouse@example.com" {
			t.Errorf("%s from %q", tc.token, m.From.Address)
		}
	}
	if strings.Contains(logs.String(), "gldt-") {
		t.Error("logs contain a token secret")
	}

	// A second run (a rerun, or a restart) sends nothing.
	sum, err = job.Run(ctx)
	must(t, err)
	if sum.MailsSent != 0 || sum.Tokens != 0 || sum.AlreadyNotified != 3 {
		t.Fatalf("second run summary = %+v, want nothing sent, 3 already notified", sum)
	}
	if n := len(mp.Messages(t)); n != wantMailCount() {
		t.Fatalf("after the second run mailpit holds %d mails, want %d", n, wantMailCount())
	}
	// A fresh job (a restarted server) sends nothing either.
	job2, _ := newJob(t, s, c, mailerFor(t, mp))
	sum, err = job2.Run(ctx)
	must(t, err)
	if sum.MailsSent != 0 {
		t.Fatalf("restarted job sent %d mails", sum.MailsSent)
	}

	// 26 days later t55 is 29 days away: its 30-day notice goes out once; t5 and t25 have expired.
	mp.Clear(t)
	c.Set(now.AddDate(0, 0, 26))
	sum, err = job.Run(ctx)
	must(t, err)
	if sum.Tokens != 1 || sum.MailsSent != 3 {
		t.Fatalf("day 26 summary = %+v, want 1 token, 3 mails", sum)
	}
	got, _ = received(t, mp)
	if want := map[string][]string{noticeKey(f.tokens["t55"].ID, 30): {"alice", "bob", "grace"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("day 26 mails = %v, want %v", got, want)
	}
	// And on day 49 (6 days left) its 7-day notice; the 90-day token (41 days left) its 60-day one.
	mp.Clear(t)
	c.Set(now.AddDate(0, 0, 49))
	sum, err = job.Run(ctx)
	must(t, err)
	got, _ = received(t, mp)
	want = map[string][]string{
		noticeKey(f.tokens["t55"].ID, 7):  {"alice", "bob", "grace"},
		noticeKey(f.tokens["t90"].ID, 60): {"heidi"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("day 49 mails = %v, want %v (summary %+v)", got, want, sum)
	}
	notices, err := s.Expiry.ExpiryNotices(ctx, f.tokens["t55"].ID)
	must(t, err)
	var intervals []int
	for _, n := range notices {
		if n.SentAt == nil || n.Recipients != 3 {
			t.Errorf("t55 notice %+v not completed for 3 recipients", n)
		}
		intervals = append(intervals, n.IntervalDays)
	}
	if !slices.Equal(intervals, []int{7, 30, 60}) {
		t.Fatalf("t55 notices for intervals %v, want 7, 30, 60", intervals)
	}
	for _, name := range []string{"revoked5", "never", "expired"} {
		if notices, _ := s.Expiry.ExpiryNotices(ctx, f.tokens[name].ID); len(notices) != 0 {
			t.Errorf("token %s has notices %+v, want none", name, notices)
		}
	}
}

// TestSendFailureRetried: when the SMTP server is down no mail goes out and the claim is
// released, so the next run (with SMTP back) sends the notice, once.
func TestSendFailureRetried(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	f := newFixture(t, s)
	c := &clock{t: now}
	down, err := smtpmail.New(smtpmail.Config{Host: "127.0.0.1", Port: closedPort(t), TLS: smtpmail.TLSNone,
		From: "gatehouse@example.com", Timeout: 2 * time.Second})
	must(t, err)
	job, logs := newJob(t, s, c, down)
	sum, err := job.Run(ctx)
	must(t, err)
	if sum.MailsSent != 0 || sum.MailsFailed != wantMailCount() || sum.Retry != 3 || sum.Tokens != 0 {
		t.Fatalf("summary with SMTP down = %+v", sum)
	}
	if !strings.Contains(logs.String(), "next run retries") {
		t.Fatalf("the failure is not logged:\n%s", logs.String())
	}
	for _, tk := range f.tokens {
		if n, _ := s.Expiry.ExpiryNotices(ctx, tk.ID); len(n) != 0 {
			t.Fatalf("token %s keeps notices %+v after a failed send", tk.Name, n)
		}
	}
	mp := testbin.StartMailpit(t)
	job, _ = newJob(t, s, c, mailerFor(t, mp))
	sum, err = job.Run(ctx)
	must(t, err)
	if sum.MailsSent != wantMailCount() {
		t.Fatalf("retry summary = %+v", sum)
	}
	sum, err = job.Run(ctx)
	must(t, err)
	if sum.MailsSent != 0 || len(mp.Messages(t)) != wantMailCount() {
		t.Fatalf("a run after the retry sent %d mails", sum.MailsSent)
	}
}

// TestNoSMTP: without a mailer notices are logged and recorded, not sent.
func TestNoSMTP(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	f := newFixture(t, s)
	c := &clock{t: now}
	job, logs := newJob(t, s, c, nil)
	sum, err := job.Run(ctx)
	must(t, err)
	if sum.SMTPConfigured || sum.MailsSent != 0 || sum.MailsLogged != wantMailCount() || sum.Tokens != 3 {
		t.Fatalf("summary without SMTP = %+v", sum)
	}
	if !strings.Contains(sum.Message(), "SMTP is not configured") {
		t.Fatalf("summary message %q does not say SMTP is not configured", sum.Message())
	}
	if !strings.Contains(logs.String(), "SMTP is not configured") || !strings.Contains(logs.String(), `"carol"`) {
		t.Fatalf("the notice is not logged with its recipients:\n%s", logs.String())
	}
	if n, _ := s.Expiry.ExpiryNotices(ctx, f.tokens["t5"].ID); len(n) != 1 || n[0].IntervalDays != 7 || n[0].SentAt == nil {
		t.Fatalf("t5 notices = %+v, want the 7-day one recorded", n)
	}
	sum, err = job.Run(ctx)
	must(t, err)
	if sum.MailsLogged != 0 || sum.AlreadyNotified != 3 {
		t.Fatalf("second run without SMTP = %+v", sum)
	}
}

// TestLeaseBusy: while one run holds the lease, another answers ErrBusy; after it, runs work.
func TestLeaseBusy(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	c := &clock{t: now}
	ok, err := s.Leases.AcquireLease(ctx, notify.JobName, "other-node", now, now.Add(time.Minute), now)
	if err != nil || !ok {
		t.Fatalf("take the lease: %v %v", ok, err)
	}
	job, _ := newJob(t, s, c, nil)
	if _, err := job.Run(ctx); !errors.Is(err, notify.ErrBusy) {
		t.Fatalf("run while another node holds the lease: %v, want ErrBusy", err)
	}
	c.Set(now.Add(2 * time.Minute)) // the other node's lease expired (it crashed)
	if _, err := job.Run(ctx); err != nil {
		t.Fatalf("run after the lease expired: %v", err)
	}
	if _, err := job.Run(ctx); err != nil {
		t.Fatalf("run after a released lease: %v", err)
	}
}

func TestTwoNodesPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
	testTwoNodes(t, func(t *testing.T) *sqlstore.Stores { return openPostgres(t, url) })
}

func TestTwoNodesSQLite(t *testing.T) {
	path := t.TempDir() + "/gatehouse.db"
	testTwoNodes(t, func(t *testing.T) *sqlstore.Stores { return openSQLitePath(t, path) })
}

// testTwoNodes runs two job runners, each with its own connection pool on one database, at
// the same time, many times: every notice goes out exactly once. The first rounds share the
// lease; the later ones use distinct lease names, so only the per-notice claims keep the nodes
// apart.
func testTwoNodes(t *testing.T, open func(t *testing.T) *sqlstore.Stores) {
	ctx := context.Background()
	a, b := open(t), open(t)
	f := newFixture(t, a)
	mp := testbin.StartMailpit(t)
	c := &clock{t: now}
	for round, sharedLease := range []bool{true, true, false, false, false} {
		mp.Clear(t)
		var jobs []*notify.Job
		for i, s := range []*sqlstore.Stores{a, b} {
			lease := func(cfg *notify.Config) {
				if !sharedLease {
					cfg.LeaseName = notify.JobName + "-node" + string(rune('a'+i))
				}
			}
			j, _ := newJob(t, s, c, mailerFor(t, mp), lease)
			jobs = append(jobs, j)
		}
		// Each round is a new day for fresh claims: reset the notices.
		_, err := a.SQL().ExecContext(ctx, `DELETE FROM deploy_token_expiry_notices`)
		must(t, err)
		var wg sync.WaitGroup
		sums := make([]notify.Summary, len(jobs))
		errs := make([]error, len(jobs))
		start := make(chan struct{})
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sums[i], errs[i] = j.Run(ctx)
			}()
		}
		close(start)
		wg.Wait()
		sent := 0
		for i, err := range errs {
			if err != nil && !errors.Is(err, notify.ErrBusy) {
				t.Fatalf("round %d node %d: %v", round, i, err)
			}
			sent += sums[i].MailsSent
		}
		got, _ := received(t, mp)
		want := map[string][]string{}
		for name, w := range wantRecipients {
			want[noticeKey(f.tokens[name].ID, w.interval)] = w.users
		}
		if sent != wantMailCount() || !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d (shared lease %v): sent %d (summaries %+v, errors %v), mails %v\nwant %v",
				round, sharedLease, sent, sums, errs, got, want)
		}
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	must(t, l.Close())
	return port
}
