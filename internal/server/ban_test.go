package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// banFixture is a server with one pushed project and a deploy token that may clone it.
type banFixture struct {
	ts   *testenv.TestServer
	path string
	tok  testenv.DeployToken
}

func newBanFixture(t *testing.T, opts ...testenv.ServerOption) banFixture {
	t.Helper()
	ts := testenv.StartServer(t, opts...)
	f := ts.MakeFixture(t)
	p := f.Projects["grandchild"]
	pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
	return banFixture{ts: ts, path: p.FullPath, tok: tok}
}

// wrong returns the i-th kind of failed basic auth: first a wrong password (bcrypt makes it slow
// under the race detector, so only once per run), then alternately an unknown deploy token and
// the right deploy-token secret under the wrong username.
func (b banFixture) wrong(i int) (user, secret string) {
	switch {
	case i == 0:
		return "root", "not-the-password"
	case i%2 == 1:
		return b.tok.Username, "gldt-unknownunknownunknown"
	}
	return "someone-else", b.tok.Token
}

// fail sends n failed attempts and checks each is answered with want.
func (b banFixture) fail(t *testing.T, n int, want int) {
	t.Helper()
	for i := 0; i < n; i++ {
		user, secret := b.wrong(i)
		if r := infoRefs(t, b.ts, b.path, user, secret); r.status != want {
			t.Fatalf("failed attempt %d of %d: status %d, want %d: %s", i+1, n, r.status, want, r.body)
		}
	}
}

func (b banFixture) valid(t *testing.T) response {
	t.Helper()
	return infoRefs(t, b.ts, b.path, b.tok.Username, b.tok.Token)
}

func TestFailedAuthBan(t *testing.T) {
	t.Run("fail/10 failures ban the address, even for valid credentials", func(t *testing.T) {
		t.Parallel()
		b := newBanFixture(t, noLoopbackExemption)
		b.fail(t, 9, http.StatusUnauthorized)
		// The 10th failure within 60 s triggers the ban and is already answered 403.
		user, secret := b.wrong(9)
		if r := infoRefs(t, b.ts, b.path, user, secret); r.status != http.StatusForbidden {
			t.Fatalf("10th failure: status %d, want 403", r.status)
		}
		// The 11th request carries valid deploy-token credentials and is still refused, by git too.
		if r := b.valid(t); r.status != http.StatusForbidden || !strings.Contains(r.body, "too many failed") {
			t.Fatalf("valid credentials while banned: %d %q, want 403", r.status, r.body)
		}
		_, out, err := clone(t, b.ts.GitURL(b.path, b.tok.Username, b.tok.Token))
		if err == nil {
			t.Fatalf("git clone succeeded while banned\n%s", out)
		}
		if !strings.Contains(out, "403") {
			t.Fatalf("git clone refused, but git did not report a 403:\n%s", out)
		}
		// The REST API shares the ban (issue 11, item 3): root's valid token is refused too.
		if st := b.ts.API(t, "GET", "/user", nil, nil); st != http.StatusForbidden {
			t.Fatalf("API while banned: %d, want 403", st)
		}
		// The first failure is audited with the address and the time; the next ones from that
		// address are counted into one summary row (issue 11, item 6).
		events, err := b.ts.Server.Audit.List(context.Background(), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		failures := 0
		for _, e := range events {
			if e.Type == audit.AuthenticationFailed {
				failures++
				if e.IP != "127.0.0.1" || e.CreatedAt.IsZero() {
					t.Errorf("failure event without IP or time: %+v", e)
				}
			}
		}
		if failures != 1 {
			t.Errorf("%d authentication_failed events within the aggregation window, want 1", failures)
		}
		// The ban lasts an hour (the default), then valid credentials work again.
		b.ts.Clock.Advance(59 * time.Minute)
		if r := b.valid(t); r.status != http.StatusForbidden {
			t.Fatalf("after 59 minutes: status %d, want 403", r.status)
		}
		b.ts.Clock.Advance(time.Minute + time.Second)
		mustCloneReadme(t, b.ts, b.path, b.tok.Username, b.tok.Token)
	})

	t.Run("fail/a valid login in between forgives only its own failures", func(t *testing.T) {
		t.Parallel()
		b := newBanFixture(t, noLoopbackExemption)
		// An attacker holding one valid deploy token guesses other tokens and logs in with its own
		// after each guess: before, every success wiped the address's count (issue 11, item 7).
		for i := 1; i <= 9; i++ {
			if r := infoRefs(t, b.ts, b.path, b.tok.Username, fmt.Sprintf("gldt-guess-%02d-%s", i, strings.Repeat("x", 16))); r.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: status %d, want 401", i, r.status)
			}
			if r := b.valid(t); r.status != http.StatusOK {
				t.Fatalf("valid credentials after guess %d: %d %s", i, r.status, r.body)
			}
		}
		if r := infoRefs(t, b.ts, b.path, "root", "guess-10"); r.status != http.StatusForbidden {
			t.Fatalf("10th guess interleaved with successes: status %d, want 403", r.status)
		}
		if r := b.valid(t); r.status != http.StatusForbidden {
			t.Fatalf("valid credentials after 10 interleaved guesses: %d, want 403", r.status)
		}
	})

	t.Run("ok/a success forgives its own identity's failures", func(t *testing.T) {
		t.Parallel()
		b := newBanFixture(t, noLoopbackExemption)
		// The deploy token's own secret under a wrong username: the token's owner mistyping.
		for i := 0; i < 9; i++ {
			if r := infoRefs(t, b.ts, b.path, "someone-else", b.tok.Token); r.status != http.StatusUnauthorized {
				t.Fatalf("typo %d: status %d, want 401", i+1, r.status)
			}
		}
		mustCloneReadme(t, b.ts, b.path, b.tok.Username, b.tok.Token)
		b.fail(t, 9, http.StatusUnauthorized)
		b.fail(t, 1, http.StatusForbidden)
	})

	t.Run("fail/a revoked deploy token is a failure, not a success", func(t *testing.T) {
		t.Parallel()
		b := newBanFixture(t, noLoopbackExemption)
		revoked := b.ts.CreateDeployToken(t, "projects/"+projectID(t, b.ts, b.path), []string{"read_repository"}, nil)
		if err := b.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
			t.Fatal(err)
		}
		b.fail(t, 5, http.StatusUnauthorized)
		// Presenting a revoked token must not reset the count (nor an expired one), or an attacker
		// holding one could probe forever.
		if r := infoRefs(t, b.ts, b.path, revoked.Username, revoked.Token); r.status != http.StatusUnauthorized {
			t.Fatalf("revoked token: status %d, want 401", r.status)
		}
		b.fail(t, 3, http.StatusUnauthorized)
		b.fail(t, 1, http.StatusForbidden) // 5 + revoked + 3 + 1 = 10
		if r := b.valid(t); r.status != http.StatusForbidden {
			t.Fatalf("valid credentials after 10 failures: %d, want 403", r.status)
		}
	})

	t.Run("fail/API failures count toward the Git ban", func(t *testing.T) {
		t.Parallel()
		b := newBanFixture(t, noLoopbackExemption)
		for i := 1; i <= 10; i++ {
			want := http.StatusUnauthorized
			if i == 10 {
				want = http.StatusForbidden
			}
			if st := b.ts.APIAs(t, "glpat-not-a-real-token-0000", "GET", "/user", nil, nil); st != want {
				t.Fatalf("API with a wrong token, attempt %d: status %d, want %d", i, st, want)
			}
		}
		if r := b.valid(t); r.status != http.StatusForbidden {
			t.Fatalf("git after 10 API failures: %d, want 403", r.status)
		}
	})

	t.Run("ok/loopback is exempt by default", func(t *testing.T) {
		t.Parallel()
		b := newBanFixture(t)
		if !b.ts.Server.Config.AuthBan.ExemptLoopback {
			t.Fatal("the default configuration does not exempt loopback")
		}
		b.fail(t, 15, http.StatusUnauthorized)
		mustCloneReadme(t, b.ts, b.path, b.tok.Username, b.tok.Token)
	})
}

// projectID looks a project's numeric id up by path.
func projectID(t *testing.T, ts *testenv.TestServer, fullPath string) string {
	t.Helper()
	p, err := ts.Server.Namespaces.ProjectByPath(context.Background(), fullPath)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(p.ID)
}

// TestBadAllowListRefused: a configuration that did not go through Load (Validate) with an entry
// that is no IP or CIDR is refused by New, naming the entry, rather than booting without it.
func TestBadAllowListRefused(t *testing.T) {
	cfg := bootConfig(t.TempDir())
	cfg.AuthBan.AllowList = []string{"10.0.0.0/8", "intranet"}
	srv, err := server.New(context.Background(), cfg, server.Options{Log: server.NewLogger(&syncBuffer{}, "info"), Stdout: &syncBuffer{}})
	if err == nil {
		srv.Close()
		t.Fatal("booted with an allow-list entry it cannot parse")
	}
	if !strings.Contains(err.Error(), `"intranet"`) {
		t.Fatalf("error %q does not name the entry", err)
	}
}
