package notify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/smtpmail"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The store implements what the job consumes.
var (
	_ notify.Store     = (*sqlstore.ExpiryStore)(nil)
	_ notify.Leases    = (*sqlstore.LeaseStore)(nil)
	_ notify.Directory = (*namespace.Service)(nil)
	_ notify.Directory = (*sqlstore.NamespaceStore)(nil)
)

// now is the fixture's "today, 01:00 UTC", when the scheduler runs.
var now = time.Date(2031, time.March, 10, 1, 0, 0, 0, time.UTC)

// day returns 00:00 UTC of the date n days after now's date (a token's expiry instant).
func day(n int) time.Time { return time.Date(2031, time.March, 10+n, 0, 0, 0, 0, time.UTC) }

const externalURL = "https://gatehouse.example.com"

// fixture is a namespace tree with members at every level and tokens at every distance:
//
//	acme (alice owner, erin developer)
//	└── platform (bob maintainer, ivan reporter)
//	    ├── app (carol maintainer, dave developer, frank maintainer but blocked, ivan maintainer)
//	    └── deep (grace maintainer)
//	        └── svc
//	other (heidi owner)
//	    └── side
type fixture struct {
	store *sqlstore.Stores
	users map[string]*namespace.User
	// tokens by name: t5 (app, 5 days), t25 (group platform, 25 days), t55 (svc, 55 days),
	// revoked5 (app, 5 days, revoked), t90 (side, 90 days), never (app, no expiry), expired
	// (app, yesterday).
	tokens map[string]*token.DeployToken
}

// wantRecipients are the mails the fixture's first run must send: token → interval, users.
var wantRecipients = map[string]struct {
	interval int
	users    []string
}{
	"t5":  {7, []string{"alice", "bob", "carol", "ivan"}},
	"t25": {30, []string{"alice", "bob"}},
	"t55": {60, []string{"alice", "bob", "grace"}},
}

func wantMailCount() int {
	n := 0
	for _, w := range wantRecipients {
		n += len(w.users)
	}
	return n
}

func openSQLite(t *testing.T) *sqlstore.Stores {
	t.Helper()
	return openSQLitePath(t, filepath.Join(t.TempDir(), "gatehouse.db"))
}

// openSQLitePath opens (and migrates) the SQLite database at path; several stores may share it.
func openSQLitePath(t *testing.T, path string) *sqlstore.Stores {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// openPostgres opens a migrated store on a fresh schema of the test PostgreSQL (url, or a new
// schema when url is "").
func openPostgres(t *testing.T, url string) *sqlstore.Stores {
	t.Helper()
	if url == "" {
		url = testenv.PostgresURL(t)
	}
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T, s *sqlstore.Stores) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: s, users: map[string]*namespace.User{}, tokens: map[string]*token.DeployToken{}}
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"} {
		u := &namespace.User{Username: name, Email: name + "@example.com", Name: strings.ToUpper(name[:1]) + name[1:] + " Example",
			PasswordHash: "x", CreatedAt: now}
		must(t, s.Namespaces.CreateUser(ctx, u))
		f.users[name] = u
	}
	group := func(path string, parent int64) *namespace.Group {
		g := &namespace.Group{Name: path, Path: path, ParentID: parent, CreatedAt: now}
		must(t, s.Namespaces.CreateGroup(ctx, g))
		return g
	}
	project := func(path string, groupID int64) *namespace.Project {
		p := &namespace.Project{Name: path, Path: path, GroupID: groupID, Visibility: namespace.Private, CreatedAt: now}
		must(t, s.Namespaces.CreateProject(ctx, p))
		return p
	}
	acme := group("acme", 0)
	platform := group("platform", acme.ID)
	deep := group("deep", platform.ID)
	other := group("other", 0)
	app := project("app", platform.ID)
	svc := project("svc", deep.ID)
	side := project("side", other.ID)
	member := func(user string, g *namespace.Group, p *namespace.Project, role namespace.Role) {
		m := namespace.Member{UserID: f.users[user].ID, Role: role, CreatedAt: now}
		if g != nil {
			m.GroupID = g.ID
		} else {
			m.ProjectID = p.ID
		}
		must(t, s.Namespaces.AddMember(ctx, m))
	}
	member("alice", acme, nil, namespace.Owner)
	member("erin", acme, nil, namespace.Developer)
	member("bob", platform, nil, namespace.Maintainer)
	member("ivan", platform, nil, namespace.Reporter)
	member("carol", nil, app, namespace.Maintainer)
	member("dave", nil, app, namespace.Developer)
	member("frank", nil, app, namespace.Maintainer)
	member("ivan", nil, app, namespace.Maintainer)
	member("grace", deep, nil, namespace.Maintainer)
	member("heidi", other, nil, namespace.Owner)
	_, err := s.SQL().ExecContext(ctx, rebind(s, `UPDATE users SET blocked = ? WHERE id = ?`), true, f.users["frank"].ID)
	must(t, err)

	tok := func(name string, owner token.Owner, expires *time.Time) *token.DeployToken {
		d := make([]byte, 32)
		_, _ = rand.Read(d)
		tk := &token.DeployToken{Name: "deploy-" + name, Scopes: token.Scopes{token.ReadRepository}, ExpiresAt: expires,
			CreatedAt: now.AddDate(0, 0, -100), CreatorID: f.users["alice"].ID, Owner: owner, Digest: d}
		must(t, s.Tokens.CreateDeployToken(ctx, tk))
		f.tokens[name] = tk
		return tk
	}
	at := func(n int) *time.Time { d := day(n); return &d }
	tok("t5", token.Owner{ProjectID: app.ID}, at(5))
	tok("t25", token.Owner{GroupID: platform.ID}, at(25))
	tok("t55", token.Owner{ProjectID: svc.ID}, at(55))
	must(t, s.Tokens.RevokeDeployToken(ctx, tok("revoked5", token.Owner{ProjectID: app.ID}, at(5)).ID))
	tok("t90", token.Owner{ProjectID: side.ID}, at(90))
	tok("never", token.Owner{ProjectID: app.ID}, nil)
	tok("expired", token.Owner{ProjectID: app.ID}, at(-1))
	return f
}

// rebind turns ? placeholders into $n for PostgreSQL.
func rebind(s *sqlstore.Stores, q string) string {
	if s.Dialect() != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mailerFor(t *testing.T, mp *testbin.Mailpit) *smtpmail.Mailer {
	t.Helper()
	m, err := smtpmail.New(smtpmail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: smtpmail.TLSNone,
		From: "Gatehouse <gatehouse@example.com>"})
	must(t, err)
	return m
}

// newJob builds a job over s at clock c; mailer may be nil (no SMTP).
func newJob(t *testing.T, s *sqlstore.Stores, c *clock, mailer notify.Mailer, opts ...func(*notify.Config)) (*notify.Job, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := notify.Config{Store: s.Expiry, Leases: s.Leases, Namespaces: namespace.NewService(s.Namespaces, c.Now), ExternalURL: externalURL,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: c.Now, Node: "node-" + t.Name()}
	if mailer != nil {
		cfg.Mailer = mailer
	}
	for _, o := range opts {
		o(&cfg)
	}
	j, err := notify.NewJob(cfg)
	must(t, err)
	return j, logs
}

// received groups mailpit's messages by notice header: "token=<id>; interval=<n>" → sorted
// recipient usernames.
func received(t *testing.T, mp *testbin.Mailpit) (map[string][]string, []testbin.Mail) {
	t.Helper()
	mails := mp.Messages(t)
	out := map[string][]string{}
	for _, m := range mails {
		h := m.Headers[notify.NoticeHeader]
		if len(h) != 1 {
			t.Fatalf("mail %q has %s %q, want one", m.Subject, notify.NoticeHeader, h)
		}
		if len(m.To) != 1 {
			t.Fatalf("mail %q has %d recipients, want 1", m.Subject, len(m.To))
		}
		key := strings.TrimPrefix(h[0], notify.JobName+"; ")
		out[key] = append(out[key], strings.TrimSuffix(m.To[0].Address, "@example.com"))
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out, mails
}

func noticeKey(tokenID int64, interval int) string {
	return "token=" + strconv.FormatInt(tokenID, 10) + "; interval=" + strconv.Itoa(interval)
}
