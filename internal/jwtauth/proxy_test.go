package jwtauth

import (
	"context"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
)

// fixedGrantor grants what it is told and records what it was asked.
type fixedGrantor struct {
	grant []string
	asked []string
}

func (f *fixedGrantor) Grant(_ context.Context, _ *http.Request, _ access.Principal, s Scope) ([]string, error) {
	f.asked = append(f.asked, s.Name)
	return f.grant, nil
}

func TestNameRouter(t *testing.T) {
	reg, dp := &fixedGrantor{grant: []string{"registry"}}, &fixedGrantor{grant: []string{"proxy"}}
	n := &NameRouter{Registry: reg, Proxy: dp}
	for _, c := range []struct {
		scope, want string
	}{
		{"repository:group/top/app:pull", "registry"},
		{"repository:group/dependency_proxy/containers/alpine:pull", "proxy"},
		{"repository:group/sub/dependency_proxy/containers/library/alpine:pull,delete", "proxy"},
		{"repository:group/dependency_proxy/app:pull", "registry"},
		{"registry:catalog:*", "registry"},
	} {
		s, err := ParseScope(c.scope)
		if err != nil {
			t.Fatal(err)
		}
		got, err := n.Grant(context.Background(), nil, access.AnonymousPrincipal, s)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s went to %v (%v), want %s", c.scope, got, err, c.want)
		}
	}
	if len(dp.asked) != 2 || len(reg.asked) != 3 {
		t.Fatalf("proxy asked %v, registry asked %v", dp.asked, reg.asked)
	}
	// Push never comes back for a proxy name under the container registry's service.
	dp.grant = []string{Pull, Push, Delete}
	s, _ := ParseScope("repository:g/dependency_proxy/containers/x:pull,push,delete")
	if got, err := n.Grant(context.Background(), nil, access.AnonymousPrincipal, s); err != nil || len(got) != 2 || got[0] != Pull || got[1] != Delete {
		t.Fatalf("proxy grant through the router: %v %v, want pull and delete", got, err)
	}
}

func TestProxyAction(t *testing.T) {
	for a, want := range map[string]access.Action{Pull: access.ProxyPull, Push: access.ProxyPush, Delete: access.ProxyDelete} {
		if got, ok := ProxyAction(a); !ok || got != want {
			t.Errorf("ProxyAction(%q) = %q %v", a, got, ok)
		}
	}
	if _, ok := ProxyAction("*"); ok {
		t.Error(`ProxyAction("*") is one action`)
	}
}
