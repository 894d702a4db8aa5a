package authn_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// pkgEnv is a real Authenticator over SQLite with a project, a user (password and PAT) and a
// deploy token on the project.
type pkgEnv struct {
	auth       *authn.Authenticator
	gate       *gate.Gate
	store      *sqlstore.Stores
	clock      *clock
	project    *namespace.Project
	user       *namespace.User
	password   string
	pat        token.Secret
	deploy     *token.DeployToken
	deployTok  token.Secret
	otherToken token.Secret
}

const envPassword = "correct horse battery staple"

func newPkgEnv(t *testing.T) *pkgEnv {
	t.Helper()
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	c := &clock{now: time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)}
	ns := namespace.NewService(s.Namespaces, c.Now)
	dig := token.NewDigester([]byte("instance-key"))
	deploy := token.NewDeployService(s.Tokens, dig, c.Now)
	usage := token.NewUsageWriter(s.Tokens, c.Now)
	t.Cleanup(usage.Close)
	personal := token.NewPersonalService(s.Tokens, dig, c.Now)
	e := &pkgEnv{store: s, clock: c, password: envPassword}
	var err error
	if e.user, err = ns.CreateUser(ctx, namespace.CreateUserInput{Username: "dev", Email: "dev@example.com", Name: "Dev", Password: envPassword}); err != nil {
		t.Fatal(err)
	}
	g, err := ns.CreateGroup(ctx, namespace.CreateGroupInput{Name: "G", Path: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if e.project, err = ns.CreateProject(ctx, namespace.CreateProjectInput{Name: "p", Path: "p", GroupID: g.ID}); err != nil {
		t.Fatal(err)
	}
	if _, e.pat, err = personal.Create(ctx, token.CreatePersonalInput{UserID: e.user.ID, Name: "pat", Scopes: []string{"read_package_registry"}}); err != nil {
		t.Fatal(err)
	}
	if e.deploy, e.deployTok, err = deploy.Create(ctx, token.CreateDeployInput{Name: "d", Username: "deployer", Scopes: []string{"read_package_registry"},
		Owner: token.Owner{ProjectID: e.project.ID}, CreatorID: e.user.ID}); err != nil {
		t.Fatal(err)
	}
	if _, e.otherToken, err = deploy.Create(ctx, token.CreateDeployInput{Name: "other", Scopes: []string{"read_package_registry"},
		Owner: token.Owner{GroupID: g.ID}, CreatorID: e.user.ID}); err != nil {
		t.Fatal(err)
	}
	log := audit.NewLog(s.Audit, c.Now)
	e.gate = gate.New(gate.Config{Authorizer: access.New(ns, c.Now, access.Options{}), Audit: log})
	e.auth = &authn.Authenticator{Deploy: deploy, Usage: usage, Personal: personal, Users: ns, Audit: log,
		Ban: ban.NewMemoryLimiter(ban.Options{MaxFailures: 3, Window: time.Minute, Duration: time.Hour}, c.Now)}
	return e
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// request is a package request from a non-loopback address (so the ban would apply).
func request(headers map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v4/projects/1/packages/generic/x/1/f", nil)
	r.RemoteAddr = "198.51.100.7:40000"
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

func TestPackagesCredentials(t *testing.T) {
	e := newPkgEnv(t)
	ctx := context.Background()
	dt, pat := e.deployTok.Reveal(), e.pat.Reveal()
	type want int
	const (
		deployToken want = iota + 1
		patUser
		passwordUser
		anonymous
		invalid
	)
	cases := []struct {
		name    string
		headers map[string]string
		opts    authn.PackageAuth
		want    want
	}{
		{"ok/Deploy-Token header", map[string]string{"Deploy-Token": dt}, authn.PackageAuth{}, deployToken},
		{"ok/DEPLOY-TOKEN header spelled upper case", map[string]string{"DEPLOY-TOKEN": dt}, authn.PackageAuth{}, deployToken},
		{"ok/basic, deploy token, any username", map[string]string{"Authorization": basic("whatever", dt)}, authn.PackageAuth{}, deployToken},
		{"ok/basic, deploy token, empty username", map[string]string{"Authorization": basic("", dt)}, authn.PackageAuth{}, deployToken},
		{"ok/basic, deploy token, its own username", map[string]string{"Authorization": basic("deployer", dt)}, authn.PackageAuth{}, deployToken},
		{"ok/bearer deploy token (npm _authToken)", map[string]string{"Authorization": "Bearer " + dt}, authn.PackageAuth{}, deployToken},
		{"ok/bearer personal access token", map[string]string{"Authorization": "Bearer " + pat}, authn.PackageAuth{}, patUser},
		{"ok/Private-Token", map[string]string{"Private-Token": pat}, authn.PackageAuth{}, patUser},
		{"ok/PRIVATE-TOKEN", map[string]string{"PRIVATE-TOKEN": pat}, authn.PackageAuth{}, patUser},
		{"ok/basic, personal access token, any username", map[string]string{"Authorization": basic("ci", pat)}, authn.PackageAuth{}, patUser},
		{"ok/basic password", map[string]string{"Authorization": basic("dev", envPassword)}, authn.PackageAuth{}, passwordUser},
		{"ok/no credentials", nil, authn.PackageAuth{}, anonymous},
		{"ok/Deploy-Token wins over a bad Authorization", map[string]string{"Deploy-Token": dt, "Authorization": "Bearer junk"}, authn.PackageAuth{}, deployToken},
		{"ok/hook: token header (NuGet X-NuGet-ApiKey)", map[string]string{"X-NuGet-ApiKey": dt}, authn.PackageAuth{TokenHeaders: []string{"X-NuGet-ApiKey"}}, deployToken},
		{"ok/hook: username checked, right username", map[string]string{"Authorization": basic("deployer", dt)}, authn.PackageAuth{CheckDeployUsername: true}, deployToken},
		{"fail/hook: username checked, wrong username", map[string]string{"Authorization": basic("someone", dt)}, authn.PackageAuth{CheckDeployUsername: true}, invalid},
		{"ok/a hook header unknown to the default rule is ignored", map[string]string{"X-NuGet-ApiKey": dt}, authn.PackageAuth{}, anonymous},
		{"fail/unknown deploy token", map[string]string{"Deploy-Token": "gldt-" + strings.Repeat("x", 20)}, authn.PackageAuth{}, invalid},
		{"fail/personal access token in Deploy-Token", map[string]string{"Deploy-Token": pat}, authn.PackageAuth{}, invalid},
		{"fail/deploy token in Private-Token", map[string]string{"Private-Token": dt}, authn.PackageAuth{}, invalid},
		{"fail/bearer that is no token of ours", map[string]string{"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}, authn.PackageAuth{}, invalid},
		{"fail/basic wrong password", map[string]string{"Authorization": basic("dev", "wrong password")}, authn.PackageAuth{}, invalid},
		{"fail/basic password without username", map[string]string{"Authorization": basic("", envPassword)}, authn.PackageAuth{}, invalid},
		{"fail/malformed basic", map[string]string{"Authorization": "Basic !!!"}, authn.PackageAuth{}, invalid},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(c.headers)
			r.RemoteAddr = fmt.Sprintf("198.51.100.%d:40000", 100+i) // one address each: the ban is not under test here
			p, err := e.auth.PackagesWith(ctx, r, c.opts)
			if c.want == invalid {
				if !errors.Is(err, authn.ErrInvalidCredentials) || p.Kind != access.Anonymous {
					t.Fatalf("got %v, %v; want ErrInvalidCredentials", p.Kind, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch c.want {
			case deployToken:
				if p.Kind != access.DeployTokenPrincipal || p.DeployToken.ID != e.deploy.ID || p.User != nil {
					t.Fatalf("principal = %+v, want deploy token %d", p, e.deploy.ID)
				}
			case patUser:
				if p.Kind != access.UserPrincipal || p.User.ID != e.user.ID || p.PersonalToken == nil || p.DeployToken != nil {
					t.Fatalf("principal = %+v, want the user through their PAT", p)
				}
			case passwordUser:
				if p.Kind != access.UserPrincipal || p.User.ID != e.user.ID || p.PersonalToken != nil {
					t.Fatalf("principal = %+v, want the user by password", p)
				}
			case anonymous:
				if p.Kind != access.Anonymous {
					t.Fatalf("principal = %+v, want anonymous", p)
				}
			}
		})
	}
	// Packages is PackagesWith the default rule.
	p, err := e.auth.Packages(ctx, request(map[string]string{"Authorization": basic("x", dt)}))
	if err != nil || p.Kind != access.DeployTokenPrincipal {
		t.Fatalf("Packages = %+v, %v", p, err)
	}
}

// TestPackagesFailuresBanned: wrong credentials on a package endpoint count in the ban Git uses,
// and a banned address is refused even the right token (issue 11, item 3).
func TestPackagesFailuresBanned(t *testing.T) {
	e := newPkgEnv(t)
	ctx := context.Background()
	bogus := "gldt-" + strings.Repeat("q", 24)
	for i := 1; i <= 3; i++ { // MaxFailures
		_, err := e.auth.Packages(ctx, request(map[string]string{"Authorization": basic("gitlab+deploy-token-1", bogus)}))
		want := authn.ErrInvalidCredentials
		if i == 3 {
			want = authn.ErrBanned
		}
		if !errors.Is(err, want) {
			t.Fatalf("failure %d: err = %v, want %v", i, err, want)
		}
	}
	if !e.auth.Ban.Banned(t.Context(), netip.MustParseAddr("198.51.100.7"), "") {
		t.Fatal("package failures did not ban the address")
	}
	for _, h := range []map[string]string{{"Deploy-Token": e.deployTok.Reveal()}, {"Private-Token": e.pat.Reveal()},
		{"Authorization": basic("dev", envPassword)}, {}} {
		if _, err := e.auth.Packages(ctx, request(h)); !errors.Is(err, authn.ErrBanned) {
			t.Fatalf("banned address presenting %d header(s): err = %v, want ErrBanned", len(h), err)
		}
	}
	events, err := e.auth.Audit.List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		for _, field := range []string{ev.ActorName, ev.Details, ev.TargetName} {
			if strings.Contains(field, bogus) || strings.Contains(field, e.deployTok.Reveal()) {
				t.Fatalf("audit event %+v contains a secret", ev)
			}
		}
	}
}

// TestPackagesInactiveDeployToken: a revoked or expired token authenticates as itself and access
// refuses it with the reason, so the format can say why.
func TestPackagesInactiveDeployToken(t *testing.T) {
	e := newPkgEnv(t)
	ctx := context.Background()
	r := request(map[string]string{"Deploy-Token": e.deployTok.Reveal()})
	p, err := e.auth.Packages(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	res := access.Resource{Project: e.project}
	if d, err := e.gate.Authorize(ctx, r, p, res, access.ReadPackage); err != nil || !d.Allow() {
		t.Fatalf("active token: %+v, %v", d, err)
	}
	if d, err := e.gate.Authorize(ctx, r, p, res, access.WritePackage); err != nil || d.Allow() || d.Denial != access.Forbidden {
		t.Fatalf("read-only token writing: %+v, %v", d, err)
	}
	if err := e.auth.Deploy.Revoke(ctx, e.deploy.ID); err != nil {
		t.Fatal(err)
	}
	p, err = e.auth.Packages(ctx, r)
	if err != nil || p.Kind != access.DeployTokenPrincipal || !p.DeployToken.Revoked {
		t.Fatalf("revoked token: %+v, %v", p, err)
	}
	d, err := e.gate.Authorize(ctx, r, p, res, access.ReadPackage)
	if err != nil || d.Allow() || d.Denial != access.Unauthenticated || !strings.Contains(d.Reason, "revoked") {
		t.Fatalf("revoked token decision: %+v, %v", d, err)
	}
}

// countingBan counts the questions asked of the ban it wraps.
type countingBan struct {
	ban.Limiter
	mu     sync.Mutex
	banned []string // the identity of each Banned call
}

func (c *countingBan) Banned(ctx context.Context, ip netip.Addr, identity string) bool {
	c.mu.Lock()
	c.banned = append(c.banned, identity)
	c.mu.Unlock()
	return c.Limiter.Banned(ctx, ip, identity)
}

// TestBanCheckedOnce: every answer is under the ban, asked once per request (a question is a
// database round trip on PostgreSQL): with credentials, for the address and their identity
// together; without, for the address.
func TestBanCheckedOnce(t *testing.T) {
	e := newPkgEnv(t)
	counter := &countingBan{Limiter: e.auth.Ban}
	e.auth.Ban = counter
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		headers  map[string]string
		identity bool
	}{
		{"ok/deploy token", map[string]string{"Deploy-Token": e.deployTok.Reveal()}, true},
		{"ok/basic auth", map[string]string{"Authorization": basic("x", e.deployTok.Reveal())}, true},
		{"ok/no credentials", nil, false},
	} {
		counter.banned = nil
		if _, err := e.auth.Packages(ctx, request(c.headers)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(counter.banned) != 1 || (counter.banned[0] != "") == !c.identity {
			t.Errorf("%s: the ban was asked %d times, identities %q; want once, with an identity: %v", c.name, len(counter.banned), counter.banned, c.identity)
		}
	}
}
