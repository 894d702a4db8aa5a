package token_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// clock is an injected, movable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is a real SQLite store with one user, group and project to own tokens.
type env struct {
	store   *sqlstore.Stores
	clock   *clock
	digest  *token.Digester
	user    *namespace.User
	group   *namespace.Group
	project *namespace.Project
}

var noon = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	e := &env{store: s, clock: &clock{now: noon}, digest: token.NewDigester([]byte("k"))}
	e.user = &namespace.User{Username: "root", Email: "root@example.com", Name: "Root", PasswordHash: "x", CreatedAt: noon}
	e.group = &namespace.Group{Name: "G", Path: "g", CreatedAt: noon}
	if err := s.Namespaces.CreateUser(ctx, e.user); err != nil {
		t.Fatal(err)
	}
	if err := s.Namespaces.CreateGroup(ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.project = &namespace.Project{Name: "P", Path: "p", GroupID: e.group.ID, Visibility: namespace.Private, CreatedAt: noon}
	if err := s.Namespaces.CreateProject(ctx, e.project); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) deployService(t *testing.T, store token.DeployStore) *token.DeployService {
	t.Helper()
	if store == nil {
		store = e.store.Tokens
	}
	return token.NewDeployService(store, e.digest, e.clock.Now)
}

func (e *env) input(name string) token.CreateDeployInput {
	return token.CreateDeployInput{Name: name, Scopes: []string{"read_repository"}, Owner: token.Owner{ProjectID: e.project.ID}, CreatorID: e.user.ID}
}

func TestDeployCreate(t *testing.T) {
	e := newEnv(t)
	svc := e.deployService(t, nil)
	ctx := context.Background()

	t.Run("ok/defaults", func(t *testing.T) {
		in := e.input("ci")
		in.Scopes = []string{"write_registry", "read_registry", "read_registry"}
		tok, sec, err := svc.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Username != fmt.Sprintf("gitlab+deploy-token-%d", tok.ID) {
			t.Errorf("username = %q", tok.Username)
		}
		if !sec.HasPrefix("gldt-") || !bytes.Equal(tok.Digest, e.digest.Digest(sec)) {
			t.Errorf("secret/digest mismatch")
		}
		if strings.Join(tok.Scopes.Strings(), ",") != "read_registry,write_registry" {
			t.Errorf("scopes = %v", tok.Scopes)
		}
		if tok.ExpiresAt != nil || !tok.CreatedAt.Equal(noon) || tok.CreatorID != e.user.ID || tok.Revoked {
			t.Errorf("token = %+v", *tok)
		}
		stored, err := svc.Get(ctx, tok.ID)
		if err != nil || stored.Username != tok.Username || !bytes.Equal(stored.Digest, tok.Digest) {
			t.Fatalf("Get = %+v, %v", stored, err)
		}
	})
	t.Run("ok/custom username, group owner, expiry as rfc3339", func(t *testing.T) {
		in := e.input("grp")
		in.Username, in.Owner, in.ExpiresAt = " deploy.bot ", token.Owner{GroupID: e.group.ID}, "2030-07-01T23:30:00-02:00"
		tok, _, err := svc.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2030, 7, 2, 0, 0, 0, 0, time.UTC)
		if tok.Username != "deploy.bot" || !tok.Owner.IsGroup() || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(want) {
			t.Fatalf("token = %+v (expires %v)", *tok, tok.ExpiresAt)
		}
	})
	t.Run("ok/empty strings mean default username and no expiry", func(t *testing.T) {
		in := e.input("python-gitlab")
		in.Username, in.ExpiresAt = "", ""
		tok, _, err := svc.Create(ctx, in)
		if err != nil || tok.ExpiresAt != nil || !strings.HasPrefix(tok.Username, "gitlab+deploy-token-") {
			t.Fatalf("Create = %+v, %v", tok, err)
		}
	})

	before := countTokens(t, svc)
	fails := []struct {
		name  string
		edit  func(*token.CreateDeployInput)
		field string // "" for a plain errkind.ErrInvalid
		kind  error
	}{
		{"fail/name missing", func(in *token.CreateDeployInput) { in.Name = "  " }, "name", errkind.ErrInvalid},
		{"fail/name too long", func(in *token.CreateDeployInput) { in.Name = strings.Repeat("n", 256) }, "name", errkind.ErrInvalid},
		{"fail/scopes missing", func(in *token.CreateDeployInput) { in.Scopes = nil }, "scopes", errkind.ErrInvalid},
		{"fail/scope unknown", func(in *token.CreateDeployInput) { in.Scopes = []string{"read_repository", "sudo"} }, "scopes", errkind.ErrInvalid},
		{"fail/personal scope", func(in *token.CreateDeployInput) { in.Scopes = []string{"api"} }, "scopes", errkind.ErrInvalid},
		{"fail/expiry garbage", func(in *token.CreateDeployInput) { in.ExpiresAt = "next week" }, "expires_at", errkind.ErrInvalid},
		{"fail/username characters", func(in *token.CreateDeployInput) { in.Username = "a b" }, "username", errkind.ErrInvalid},
		{"fail/username reserved", func(in *token.CreateDeployInput) { in.Username = "gitlab+deploy-token-999" }, "username", errkind.ErrInvalid},
		{"fail/username of a user", func(in *token.CreateDeployInput) { in.Username = "ROOT" }, "username", errkind.ErrInvalid},
		{"fail/no owner", func(in *token.CreateDeployInput) { in.Owner = token.Owner{} }, "", errkind.ErrInvalid},
		{"fail/two owners", func(in *token.CreateDeployInput) { in.Owner.GroupID = e.group.ID }, "", errkind.ErrInvalid},
		{"fail/missing project", func(in *token.CreateDeployInput) { in.Owner = token.Owner{ProjectID: 999999} }, "", errkind.ErrNotFound},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			in := e.input("bad")
			tc.edit(&in)
			tok, sec, err := svc.Create(ctx, in)
			if !errors.Is(err, tc.kind) || tok != nil || !sec.IsZero() {
				t.Fatalf("Create = %v, secret zero %v, %v; want %v", tok, sec.IsZero(), err, tc.kind)
			}
			var ve *errkind.ValidationError
			if isVE := errors.As(err, &ve); isVE != (tc.field != "") || (isVE && ve.Field != tc.field) {
				t.Fatalf("error %v: want a errkind.ValidationError on %q", err, tc.field)
			}
		})
	}
	t.Run("ok/failures stored nothing", func(t *testing.T) {
		if n := countTokens(t, svc); n != before {
			t.Fatalf("%d tokens after failed creations, want %d", n, before)
		}
	})
	// GitLab checks only the expiry's format, and custom usernames are not unique.
	t.Run("ok/expiry today and a username another token has", func(t *testing.T) {
		in := e.input("late")
		in.ExpiresAt, in.Username = "2030-06-15", "deploy.bot"
		tok, sec, err := svc.Create(ctx, in)
		if err != nil || sec.IsZero() {
			t.Fatalf("Create: %v", err)
		}
		if tok.Username != "deploy.bot" || !tok.Expired(e.clock.Now()) || tok.Active(e.clock.Now()) {
			t.Fatalf("token %+v: want deploy.bot, already expired", tok.ID)
		}
	})
}

func countTokens(t *testing.T, svc *token.DeployService) int {
	t.Helper()
	all, err := svc.List(context.Background(), token.DeployFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

func TestDeployAuthenticate(t *testing.T) {
	e := newEnv(t)
	svc := e.deployService(t, nil)
	ctx := context.Background()
	mk := func(name, username, expires string) (*token.DeployToken, token.Secret) {
		in := e.input(name)
		in.Username, in.ExpiresAt = username, expires
		tok, sec, err := svc.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return tok, sec
	}
	live, liveSec := mk("live", "", "")
	other, otherSec := mk("other", "other-user", "")
	revoked, revokedSec := mk("revoked", "", "")
	expiring, expiringSec := mk("expiring", "", "2030-06-16")
	deleted, deletedSec := mk("deleted", "", "")
	if err := svc.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(time.Date(2030, 6, 16, 12, 0, 0, 0, time.UTC)) // the expiring token is now past its date
	unknown, err := token.GenerateSecret(token.DeployTokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	pat, err := token.GenerateSecret(token.PersonalTokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		username      string
		secret        token.Secret
		checkUsername bool
		want          *token.DeployToken
		revoked       bool
		expired       bool
	}{
		{"ok/username and secret", live.Username, liveSec, true, live, false, false},
		{"ok/username ignored", "anything", liveSec, false, live, false, false},
		{"ok/custom username", "other-user", otherSec, true, other, false, false},
		{"ok/revoked is returned so the caller can say so", revoked.Username, revokedSec, true, revoked, true, false},
		{"ok/expired is returned so the caller can say so", expiring.Username, expiringSec, true, expiring, false, true},
		{"fail/wrong username", "other-user", liveSec, true, nil, false, false},
		{"fail/username case differs", strings.ToUpper(live.Username), liveSec, true, nil, false, false},
		{"fail/another token's secret", live.Username, otherSec, true, nil, false, false},
		{"fail/unknown secret", live.Username, unknown, true, nil, false, false},
		{"fail/unknown secret without username check", "", unknown, false, nil, false, false},
		{"fail/personal token prefix", live.Username, pat, false, nil, false, false},
		{"fail/empty secret", live.Username, token.NewSecret(""), false, nil, false, false},
		{"fail/secret with a suffix", live.Username, token.NewSecret(liveSec.Reveal() + "x"), true, nil, false, false},
		{"fail/deleted", deleted.Username, deletedSec, true, nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.Authenticate(ctx, tc.username, tc.secret, tc.checkUsername)
			if tc.want == nil {
				if !errors.Is(err, errkind.ErrNotFound) || got != nil {
					t.Fatalf("Authenticate = %v, %v; want errkind.ErrNotFound", got, err)
				}
				return
			}
			if err != nil || got == nil || got.ID != tc.want.ID {
				t.Fatalf("Authenticate = %v, %v; want token %d", got, err, tc.want.ID)
			}
			now := e.clock.Now()
			if got.Revoked != tc.revoked || got.Expired(now) != tc.expired || got.Active(now) != (!tc.revoked && !tc.expired) {
				t.Fatalf("token revoked=%v expired=%v; want %v %v", got.Revoked, got.Expired(now), tc.revoked, tc.expired)
			}
		})
	}
}

// countingStore is the real store, counting and recording last-used writes.
type countingStore struct {
	*sqlstore.TokenStore
	mu      sync.Mutex
	touches []string
}

func (c *countingStore) TouchDeployToken(ctx context.Context, id int64, at time.Time, ip netip.Addr) error {
	c.mu.Lock()
	c.touches = append(c.touches, fmt.Sprintf("%d@%s", id, at.Format("15:04:05.000")))
	c.mu.Unlock()
	return c.TokenStore.TouchDeployToken(ctx, id, at, ip)
}

func TestMarkUsed(t *testing.T) {
	e := newEnv(t)
	cs := &countingStore{TokenStore: e.store.Tokens}
	svc := token.NewDeployService(cs, e.digest, e.clock.Now)
	usage := token.NewUsageWriter(cs, e.clock.Now)
	ctx := context.Background()
	a, _, err := svc.Create(ctx, e.input("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := svc.Create(ctx, e.input("b"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after time.Duration
		tok   *token.DeployToken
	}{
		{0, a},                               // first use: written
		{time.Second, a},                     // within a minute: skipped
		{30 * time.Second, b},                // another token: written
		{59 * time.Second, a},                // still within a minute of the last write: skipped
		{time.Minute, a},                     // a minute later: written
		{time.Minute + time.Second, b},       // 31s after b's write: skipped
		{2*time.Minute - time.Nanosecond, a}, // just under a minute after a's last write: skipped
		{3 * time.Minute, a},                 // written
		{3 * time.Minute, b},                 // written
	}
	for _, st := range steps {
		e.clock.Set(noon.Add(st.after))
		usage.MarkUsed(st.tok, netip.Addr{})
	}
	usage.Close()
	usage.Close() // idempotent
	want := fmt.Sprintf("%[1]d@12:00:00.000 %[2]d@12:00:30.000 %[1]d@12:01:00.000 %[1]d@12:03:00.000 %[2]d@12:03:00.000", a.ID, b.ID)
	cs.mu.Lock()
	got := strings.Join(cs.touches, " ")
	cs.mu.Unlock()
	if got != want {
		t.Fatalf("last-used writes:\n got %s\nwant %s", got, want)
	}
	// Close flushed the queue: the database holds the last write of each token.
	for _, tok := range []*token.DeployToken{a, b} {
		stored, err := e.store.Tokens.DeployToken(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := noon.Add(3 * time.Minute); stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(want) {
			t.Errorf("token %d last_used_at = %v, want %v", tok.ID, stored.LastUsedAt, want)
		}
	}
}

func TestDeployRevokeDelete(t *testing.T) {
	e := newEnv(t)
	svc := e.deployService(t, nil)
	ctx := context.Background()
	tok, sec, err := svc.Create(ctx, e.input("r"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/revoke keeps the token listed", func(t *testing.T) {
		if err := svc.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, tok.ID)
		if err != nil || !got.Revoked {
			t.Fatalf("Get after revoke = %+v, %v", got, err)
		}
		active, err := svc.List(ctx, token.DeployFilter{ProjectID: e.project.ID, ActiveAt: svc.Now()})
		if err != nil || len(active) != 0 {
			t.Fatalf("active list after revoke = %v, %v", active, err)
		}
	})
	t.Run("ok/delete destroys it", func(t *testing.T) {
		if err := svc.Delete(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, tok.ID); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("Get after delete: %v", err)
		}
		if _, err := svc.Authenticate(ctx, tok.Username, sec, true); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("Authenticate after delete: %v", err)
		}
	})
	t.Run("fail/revoke missing", func(t *testing.T) {
		if err := svc.Revoke(ctx, tok.ID); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("Revoke deleted token: %v", err)
		}
	})
	t.Run("fail/delete missing", func(t *testing.T) {
		if err := svc.Delete(ctx, tok.ID); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("Delete twice: %v", err)
		}
	})
}

func TestPersonalTokens(t *testing.T) {
	e := newEnv(t)
	svc := token.NewPersonalService(e.store.Tokens, e.digest, e.clock.Now)
	ctx := context.Background()
	tok, sec, err := svc.Create(ctx, token.CreatePersonalInput{UserID: e.user.ID, Name: "laptop",
		Scopes: []string{"read_repository", "api"}, ExpiresAt: "2030-06-17"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/created", func(t *testing.T) {
		if !sec.HasPrefix("glpat-") || !bytes.Equal(tok.Digest, e.digest.Digest(sec)) || tok.UserID != e.user.ID ||
			strings.Join(tok.Scopes.Strings(), ",") != "api,read_repository" {
			t.Fatalf("token = %+v", *tok)
		}
	})
	t.Run("ok/authenticate", func(t *testing.T) {
		got, err := svc.Authenticate(ctx, sec)
		if err != nil || got.ID != tok.ID || got.UserID != e.user.ID {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
	})
	t.Run("ok/bootstrap secret used as given", func(t *testing.T) {
		boot := token.NewSecret("glpat-bootstrap-root-token-0123456789")
		bt, got, err := svc.Create(ctx, token.CreatePersonalInput{UserID: e.user.ID, Name: "root", Scopes: []string{"api"}, Secret: boot})
		if err != nil || got.Reveal() != boot.Reveal() || !bytes.Equal(bt.Digest, e.digest.Digest(boot)) {
			t.Fatalf("bootstrap Create = %v, %v", bt, err)
		}
		if a, err := svc.Authenticate(ctx, boot); err != nil || a.ID != bt.ID {
			t.Fatalf("Authenticate(bootstrap) = %v, %v", a, err)
		}
	})
	t.Run("fail/wrong secret", func(t *testing.T) {
		if _, err := svc.Authenticate(ctx, token.NewSecret(sec.Reveal()+"x")); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("Authenticate(wrong) = %v", err)
		}
	})
	t.Run("fail/expired", func(t *testing.T) {
		e.clock.Set(time.Date(2030, 6, 17, 0, 0, 0, 0, time.UTC))
		defer e.clock.Set(noon)
		if _, err := svc.Authenticate(ctx, sec); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("Authenticate(expired) = %v", err)
		}
	})
	fails := []struct {
		name  string
		in    token.CreatePersonalInput
		field string
		kind  error
	}{
		{"fail/name", token.CreatePersonalInput{UserID: e.user.ID, Scopes: []string{"api"}}, "name", errkind.ErrInvalid},
		{"fail/deploy-only scope", token.CreatePersonalInput{UserID: e.user.ID, Name: "x", Scopes: []string{"read_virtual_registry"}}, "scopes", errkind.ErrInvalid},
		{"fail/expiry past", token.CreatePersonalInput{UserID: e.user.ID, Name: "x", Scopes: []string{"api"}, ExpiresAt: "2030-01-01"}, "expires_at", errkind.ErrInvalid},
		{"fail/missing user", token.CreatePersonalInput{UserID: 999999, Name: "x", Scopes: []string{"api"}}, "", errkind.ErrNotFound},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := svc.Create(ctx, tc.in)
			var ve *errkind.ValidationError
			if !errors.Is(err, tc.kind) || errors.As(err, &ve) != (tc.field != "") || (tc.field != "" && ve.Field != tc.field) {
				t.Fatalf("Create = %v, want %v on %q", err, tc.kind, tc.field)
			}
		})
	}
}
