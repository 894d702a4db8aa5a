package gate_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

type events struct {
	mu   sync.Mutex
	list []*audit.Event
}

func (e *events) RecordEvent(_ context.Context, ev *audit.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	return nil
}

func (e *events) ListEvents(context.Context, string, int64) ([]*audit.Event, error) { return nil, nil }
func (e *events) Event(context.Context, int64) (*audit.Event, error)                { return nil, errkind.ErrNotFound }

func (e *events) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.list)
}

type noRoles struct{}

func (noRoles) ProjectRole(context.Context, int64, *namespace.Project) (namespace.Role, error) {
	return namespace.NoRole, nil
}

func (noRoles) GroupRole(context.Context, int64, *namespace.Group) (namespace.Role, error) {
	return namespace.NoRole, nil
}

// The gate sets the client address, audits a deploy token's refusal only when it is the
// request's decision (Authorize, not a listing's Permits), and records both checks for tests.
func TestAuthorizeAuditsPermitsDoesNot(t *testing.T) {
	store := &events{}
	g := gate.New(gate.Config{Authorizer: access.New(noRoles{}, nil, access.Options{}), Audit: audit.NewLog(store, nil)})
	project := &namespace.Project{ID: 7, FullPath: "group/top", Visibility: namespace.Private}
	allowList := netip.MustParsePrefix("192.0.2.0/24")
	p := access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: &token.DeployToken{ID: 3, Username: "d",
		Scopes: token.Scopes{token.ReadRepository}, Owner: token.Owner{ProjectID: 7}, AllowedIPs: []netip.Prefix{allowList}}}
	res := access.Resource{Project: project}
	inside := httptest.NewRequest("GET", "/", nil)
	inside.RemoteAddr = "192.0.2.9:4000"
	outside := httptest.NewRequest("GET", "/", nil)
	outside.RemoteAddr = "198.51.100.1:4000"
	rec := &gate.Recorder{}
	ctx := gate.WithRecorder(context.Background(), rec)

	if ok, err := g.Permits(ctx, inside, p, res, access.ReadRepository); err != nil || !ok {
		t.Fatalf("Permits from the allow-list: %v, %v", ok, err)
	}
	if ok, err := g.Permits(ctx, outside, p, res, access.ReadRepository); err != nil || ok {
		t.Fatalf("Permits from outside the allow-list: %v, %v", ok, err)
	}
	if n := store.count(); n != 0 {
		t.Fatalf("Permits audited %d events", n)
	}
	d, err := g.Authorize(ctx, outside, p, res, access.ReadRepository)
	if err != nil || d.Allow() || d.Denial != access.Forbidden {
		t.Fatalf("Authorize from outside the allow-list: %+v, %v", d, err)
	}
	if n := store.count(); n != 1 {
		t.Fatalf("a refused decision audited %d events, want 1", n)
	}
	checks := rec.Checks()
	if len(checks) != 3 || !checks[0].Filter || !checks[1].Filter || checks[2].Filter || checks[2].Action != access.ReadRepository || checks[2].Decision.Allow() {
		t.Fatalf("recorded %+v, want two filters and one refused decision", checks)
	}
}

// Observe hears each request's decision with its principal, and not a listing's filter.
func TestObserveHearsDecisionsNotFilters(t *testing.T) {
	var heard []access.Decision
	var kinds []access.PrincipalKind
	g := gate.New(gate.Config{Authorizer: access.New(noRoles{}, nil, access.Options{}),
		Observe: func(p access.Principal, d access.Decision) { kinds, heard = append(kinds, p.Kind), append(heard, d) }})
	public := &namespace.Project{ID: 1, FullPath: "g/pub", Visibility: namespace.Public}
	private := &namespace.Project{ID: 2, FullPath: "g/priv", Visibility: namespace.Private}
	r := httptest.NewRequest("GET", "/", nil)
	ctx := context.Background()
	if _, err := g.Authorize(ctx, r, access.AnonymousPrincipal, access.Resource{Project: public}, access.ReadRepository); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Authorize(ctx, r, access.AnonymousPrincipal, access.Resource{Project: private}, access.ReadRepository); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Permits(ctx, r, access.AnonymousPrincipal, access.Resource{Project: private}, access.ReadRepository); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 2 || !heard[0].Allow() || heard[0].Cause != access.CauseVisibility ||
		heard[1].Allow() || heard[1].Cause != access.CauseAuthRequired || kinds[0] != access.Anonymous {
		t.Fatalf("observed %+v (kinds %v), want the public read allowed and the private one refused, and no filter", heard, kinds)
	}
}
