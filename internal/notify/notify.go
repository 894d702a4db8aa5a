// Package notify mails the owners and maintainers of a project or group when one of its deploy
// tokens is about to expire (docs/design.md §4). It knows no HTTP and no SQL: it declares the
// storage (Store, Leases), the namespace lookups (Directory) and the Mailer it consumes; sqlstore,
// namespace and notify/smtpmail implement them, and the server schedules the job daily at 01:00 UTC
// (Scheduler).
//
// The rules, decided here:
//
//   - Intervals are 60, 30 and 7 days. A token whose expiry date is N days after today (UTC)
//     is due the most specific interval that covers N: 7 when N ≤ 7, else 30 when N ≤ 30, else
//     60 when N ≤ 60. Only that one notice is sent; a token first seen 5 days before expiry gets
//     the 7-day mail, not the 60- and 30-day ones too, as GitLab does.
//   - Only active tokens count: revoked and already expired tokens are never mailed.
//   - Recipients are the users whose highest role on the token's project (direct, or inherited
//     from any ancestor group; the owner of a user-namespace project is its owner) or group
//     (direct, or inherited from its ancestors) is maintainer or owner. Blocked users and users
//     without an email address are skipped. Each recipient gets their own mail.
//   - Each (token, interval) notice is sent once. A run claims the notice in the store before
//     mailing (an atomic insert on the unique key), so reruns, restarts and two nodes running
//     at once never both send it. After mailing the claim is completed. When no recipient could
//     be mailed (SMTP down), the claim is released so the next run retries; when at least one
//     was mailed it is completed, so the others are not mailed twice (the failures are logged
//     and counted). A claim never completed (the node died mid-send) is taken over after
//     ClaimTimeout; in that rare case a mail may go out twice.
//   - Without a Mailer (no SMTP host configured) notices are logged and recorded, not sent
//     (docs/design.md §4.4); the summary says so.
//   - A lease in the database (Leases) lets one node of a cluster run the job at a time; Run
//     answers ErrBusy while another holds it. The claims alone already prevent double mail;
//     the lease keeps nodes from doing the work twice.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// JobName names the deploy-token expiry job (its lease and its API/CLI name).
const JobName = "deploy-token-expiry"

// Intervals are the notice intervals in days, most specific first.
var Intervals = []int{7, 30, 60}

// Defaults for Config.
const (
	DefaultLeaseTTL     = 30 * time.Minute
	DefaultClaimTimeout = time.Hour
)

// ErrBusy is returned by Run while another node (or another run on this one) holds the lease,
// and by RunSlot also when another node already ran the slot.
var ErrBusy = errors.New("the job is already running")

// Store is the persistence the job needs (*sqlstore.ExpiryStore implements it).
type Store interface {
	// DeployTokensExpiringBetween returns the unrevoked deploy tokens whose expiry instant is
	// after after and at or before until, by id.
	DeployTokensExpiringBetween(ctx context.Context, after, until time.Time) ([]*token.DeployToken, error)
	// ClaimExpiryNotice claims the (tokenID, intervalDays) notice for holder at now: true when
	// it was never claimed, or its unfinished claim was made at or before staleBefore.
	ClaimExpiryNotice(ctx context.Context, tokenID int64, intervalDays int, holder string, now, staleBefore time.Time) (bool, error)
	// CompleteExpiryNotice records that holder's claim was handled at now for recipients
	// people; false when holder no longer holds it.
	CompleteExpiryNotice(ctx context.Context, tokenID int64, intervalDays int, holder string, now time.Time, recipients int) (bool, error)
	// ReleaseExpiryNotice drops holder's unfinished claim so a later run claims it again.
	ReleaseExpiryNotice(ctx context.Context, tokenID int64, intervalDays int, holder string) error
}

// Leases let one node run a job at a time (*sqlstore.LeaseStore implements them).
type Leases interface {
	// AcquireLease takes the lease name for holder until until, if it is free at now and the
	// last completed run ended at or before ranBefore.
	AcquireLease(ctx context.Context, name, holder string, now, until, ranBefore time.Time) (bool, error)
	// ReleaseLease frees holder's lease name; completed records now as the last completed run.
	ReleaseLease(ctx context.Context, name, holder string, now time.Time, completed bool) error
}

// Directory looks up the namespace side of a token: its project or group, their members and
// the users (*namespace.Service implements it). Lookups return errkind.ErrNotFound.
type Directory interface {
	Project(ctx context.Context, id int64) (*namespace.Project, error)
	Group(ctx context.Context, id int64) (*namespace.Group, error)
	// ListMembers returns the direct members of a group (groupID) or a project (projectID).
	ListMembers(ctx context.Context, groupID, projectID int64) ([]namespace.Member, error)
	User(ctx context.Context, id int64) (*namespace.User, error)
}

// Address is a mail recipient.
type Address struct {
	Name  string
	Email string
}

// Message is one mail: a plain-text body with an HTML alternative.
type Message struct {
	To      Address
	Subject string
	Text    string
	HTML    string
	// Headers are extra header fields (X-Gatehouse-Notice), for filters and tests.
	Headers map[string]string
}

// Mailer delivers messages (notify/smtpmail implements it over SMTP).
type Mailer interface {
	// Send delivers m, or returns why it could not.
	Send(ctx context.Context, m Message) error
}

// Config configures a Job.
type Config struct {
	Store      Store
	Leases     Leases
	Namespaces Directory
	// Mailer sends the notices; nil means SMTP is not configured: notices are logged and
	// recorded, not sent.
	Mailer Mailer
	// ExternalURL is the server's public base URL, for the settings links.
	ExternalURL string
	Log         *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Node names this server in lease and claim holders; empty means the host name.
	Node string
	// LeaseName overrides the lease's name (JobName); tests use it to run two jobs without
	// the lease, so that only the claims keep them apart.
	LeaseName string
	// LeaseTTL bounds how long a crashed run blocks the others (DefaultLeaseTTL).
	LeaseTTL time.Duration
	// ClaimTimeout is how old an unfinished claim must be before another run takes it over
	// (DefaultClaimTimeout).
	ClaimTimeout time.Duration
}

// Job finds the deploy tokens about to expire and mails their notices.
type Job struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// NewJob returns the job over cfg; it fails when a required part is missing.
func NewJob(cfg Config) (*Job, error) {
	if cfg.Store == nil || cfg.Leases == nil || cfg.Namespaces == nil {
		return nil, errors.New("notify: Store, Leases and Namespaces are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = JobName
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	cfg.ExternalURL = strings.TrimRight(cfg.ExternalURL, "/")
	return &Job{cfg: cfg, log: cfg.Log.With("job", JobName), now: cfg.Now}, nil
}

// SMTPConfigured reports whether the job sends mail (a Mailer is set).
func (j *Job) SMTPConfigured() bool { return j.cfg.Mailer != nil }

// Summary is what one run did.
type Summary struct {
	StartedAt  time.Time
	FinishedAt time.Time
	// SMTPConfigured is false when notices were only logged and recorded.
	SMTPConfigured bool
	// Examined is how many active tokens expire within the longest interval.
	Examined int
	// Tokens is how many tokens had a notice recorded by this run (sent, or logged without SMTP).
	Tokens int
	// MailsSent, MailsFailed: mails the SMTP server accepted and refused.
	MailsSent   int
	MailsFailed int
	// MailsLogged are the mails that would have been sent had SMTP been configured.
	MailsLogged int
	// AlreadyNotified is how many tokens had their due notice recorded before (or by a
	// concurrent run).
	AlreadyNotified int
	// NoRecipients is how many tokens had nobody to mail (recorded all the same).
	NoRecipients int
	// Retry is how many notices were released for the next run to retry (no mail went out).
	Retry int
	// Errors is how many tokens could not be handled (lookups failed); they are retried.
	Errors int
	// Notices lists the notices recorded by this run.
	Notices []NoticeResult
}

// NoticeResult is one notice a run recorded.
type NoticeResult struct {
	TokenID      int64
	IntervalDays int
	Recipients   int
	Sent         int
}

// Message summarises the run in one sentence, for humans.
func (s Summary) Message() string {
	if !s.SMTPConfigured {
		return fmt.Sprintf("SMTP is not configured: %d notice(s) for %d token(s) were logged and recorded, not sent", s.MailsLogged, s.Tokens)
	}
	return fmt.Sprintf("sent %d mail(s) for %d token(s); %d failed", s.MailsSent, s.Tokens, s.MailsFailed)
}

// DaysLeft is the number of days from today's date (UTC) to the expiry date of expiresAt
// (00:00 UTC of that date), rounded up for an instant that is not a midnight.
func DaysLeft(expiresAt, now time.Time) int {
	today := now.UTC().Truncate(24 * time.Hour)
	d := expiresAt.Sub(today)
	return int((d + 24*time.Hour - 1) / (24 * time.Hour))
}

// IntervalFor returns the most specific interval covering daysLeft, or 0 when none does (more
// than 60 days, or already expired).
func IntervalFor(daysLeft int) int {
	if daysLeft < 1 {
		return 0
	}
	for _, i := range Intervals {
		if daysLeft <= i {
			return i
		}
	}
	return 0
}

// Run runs the job once: it takes the lease (ErrBusy when another run holds it), finds the
// tokens due a notice and mails them. Errors on single tokens are logged and counted in the
// summary, not returned; an error is returned only when the job could not run at all.
func (j *Job) Run(ctx context.Context) (Summary, error) { return j.run(ctx, time.Time{}) }

// RunSlot is Run for the daily slot at slot: ErrBusy also when a run (on any node) completed at
// or after slot, so the nodes of a cluster that all fire at 01:00 run the job once.
func (j *Job) RunSlot(ctx context.Context, slot time.Time) (Summary, error) {
	return j.run(ctx, slot.Add(-time.Second))
}

// run is Run, refusing when the last completed run ended after ranBefore (zero: now).
func (j *Job) run(ctx context.Context, ranBefore time.Time) (Summary, error) {
	now := j.now()
	if ranBefore.IsZero() {
		ranBefore = now
	}
	sum := Summary{StartedAt: now, SMTPConfigured: j.cfg.Mailer != nil}
	holder := j.cfg.Node + "/" + randomHex(8)
	ok, err := j.cfg.Leases.AcquireLease(ctx, j.cfg.LeaseName, holder, now, now.Add(j.cfg.LeaseTTL), ranBefore)
	if err != nil {
		return sum, fmt.Errorf("%s: %w", JobName, err)
	}
	if !ok {
		return sum, ErrBusy
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := j.cfg.Leases.ReleaseLease(rctx, j.cfg.LeaseName, holder, j.now(), true); err != nil {
			j.log.Warn("release job lease", "err", err)
		}
	}()
	today := now.UTC().Truncate(24 * time.Hour)
	tokens, err := j.cfg.Store.DeployTokensExpiringBetween(ctx, now, today.AddDate(0, 0, Intervals[len(Intervals)-1]))
	if err != nil {
		return sum, fmt.Errorf("%s: %w", JobName, err)
	}
	for _, t := range tokens {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if !t.Active(now) {
			continue
		}
		sum.Examined++
		j.notifyToken(ctx, t, now, holder, &sum)
	}
	sum.FinishedAt = j.now()
	j.log.Info("deploy-token expiry notices", "examined", sum.Examined, "tokens", sum.Tokens,
		"mails_sent", sum.MailsSent, "mails_failed", sum.MailsFailed, "mails_logged", sum.MailsLogged,
		"already_notified", sum.AlreadyNotified, "smtp_configured", sum.SMTPConfigured)
	return sum, nil
}

// notifyToken claims, renders and sends t's due notice.
func (j *Job) notifyToken(ctx context.Context, t *token.DeployToken, now time.Time, holder string, sum *Summary) {
	days := DaysLeft(*t.ExpiresAt, now)
	interval := IntervalFor(days)
	if interval == 0 {
		return
	}
	log := j.log.With("token_id", t.ID, "interval_days", interval)
	claimed, err := j.cfg.Store.ClaimExpiryNotice(ctx, t.ID, interval, holder, now, now.Add(-j.cfg.ClaimTimeout))
	if err != nil {
		log.Error("claim expiry notice", "err", err)
		sum.Errors++
		return
	}
	if !claimed {
		sum.AlreadyNotified++
		return
	}
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := j.cfg.Store.ReleaseExpiryNotice(rctx, t.ID, interval, holder); err != nil {
			log.Error("release expiry notice", "err", err)
		}
	}
	complete := func(recipients, sent int) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ok, err := j.cfg.Store.CompleteExpiryNotice(rctx, t.ID, interval, holder, j.now(), recipients); err != nil || !ok {
			log.Error("record expiry notice", "err", err, "held", ok)
		}
		sum.Tokens++
		sum.Notices = append(sum.Notices, NoticeResult{TokenID: t.ID, IntervalDays: interval, Recipients: recipients, Sent: sent})
	}
	n, users, err := j.notice(ctx, t, days, interval)
	if err != nil {
		log.Error("find expiry notice recipients", "err", err)
		sum.Errors++
		release()
		return
	}
	log = log.With("path", n.Path)
	if len(users) == 0 {
		log.Warn("deploy token expires soon but has no owner or maintainer to notify", "days_left", days)
		sum.NoRecipients++
		complete(0, 0)
		return
	}
	if j.cfg.Mailer == nil {
		log.Info("deploy token expires soon; SMTP is not configured, so the notice is logged, not sent",
			"days_left", days, "recipients", usernames(users))
		sum.MailsLogged += len(users)
		complete(len(users), 0)
		return
	}
	sent := 0
	for _, u := range users {
		if err := j.cfg.Mailer.Send(ctx, RenderMessage(n, u)); err != nil {
			log.Error("send expiry notice", "user", u.Username, "err", err)
			sum.MailsFailed++
			continue
		}
		sent++
	}
	if sent == 0 {
		log.Warn("no expiry notice could be sent; the next run retries", "recipients", len(users))
		sum.Retry++
		release()
		return
	}
	sum.MailsSent += sent
	log.Info("sent expiry notices", "days_left", days, "sent", sent, "recipients", len(users))
	complete(len(users), sent)
}

// notice gathers what the mail says about t and whom it goes to.
func (j *Job) notice(ctx context.Context, t *token.DeployToken, days, interval int) (Notice, []*namespace.User, error) {
	n := Notice{TokenID: t.ID, TokenName: t.Name, Username: t.Username, ExpiresAt: t.ExpiresAt.UTC(),
		DaysLeft: days, IntervalDays: interval, Group: t.Owner.IsGroup()}
	roles := map[int64]namespace.Role{}
	grant := func(members []namespace.Member) {
		for _, m := range members {
			roles[m.UserID] = max(roles[m.UserID], m.Role)
		}
	}
	var groups []int64
	if t.Owner.IsGroup() {
		g, err := j.cfg.Namespaces.Group(ctx, t.Owner.GroupID)
		if err != nil {
			return n, nil, fmt.Errorf("group %d: %w", t.Owner.GroupID, err)
		}
		n.Path = g.FullPath
		n.SettingsURL = j.cfg.ExternalURL + "/groups/" + g.FullPath + "/-/settings/repository"
		groups = g.Ancestry
	} else {
		p, err := j.cfg.Namespaces.Project(ctx, t.Owner.ProjectID)
		if err != nil {
			return n, nil, fmt.Errorf("project %d: %w", t.Owner.ProjectID, err)
		}
		n.Path = p.FullPath
		n.SettingsURL = j.cfg.ExternalURL + "/" + p.FullPath + "/-/settings/repository#deploy-tokens"
		groups = p.GroupAncestry
		if p.OwnerUserID != 0 {
			roles[p.OwnerUserID] = namespace.Owner
		}
		members, err := j.cfg.Namespaces.ListMembers(ctx, 0, p.ID)
		if err != nil {
			return n, nil, err
		}
		grant(members)
	}
	for _, gid := range groups {
		members, err := j.cfg.Namespaces.ListMembers(ctx, gid, 0)
		if err != nil {
			return n, nil, err
		}
		grant(members)
	}
	var ids []int64
	for id, r := range roles {
		if r >= namespace.Maintainer {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var users []*namespace.User
	for _, id := range ids {
		u, err := j.cfg.Namespaces.User(ctx, id)
		if errors.Is(err, errkind.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, nil, err
		}
		if u.Blocked || strings.TrimSpace(u.Email) == "" {
			continue
		}
		users = append(users, u)
	}
	return n, users, nil
}

func usernames(users []*namespace.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Username
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
