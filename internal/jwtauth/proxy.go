package jwtauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// DependencyProxyService is the token audience of the group dependency proxy (docs/design.md §6.5).
const DependencyProxyService = "dependency_proxy"

// Groups finds the group a dependency-proxy image name belongs to. *namespace.Service
// implements it.
type Groups interface {
	// GroupByPath returns the group with that full path (case-insensitively), or an error
	// wrapping errkind.ErrNotFound.
	GroupByPath(ctx context.Context, fullPath string) (*namespace.Group, error)
}

// ProxyGrantor decides scopes for the dependency proxy:
// repository:<group path>/dependency_proxy/containers/<image>:pull,push,delete through access on
// the group (pull→ProxyPull, push→ProxyPush, delete→ProxyDelete, "*"→each of them). So a group
// deploy token with read_virtual_registry gets pull, one with write_virtual_registry (or both
// read_registry and write_registry, docs/design.md §6.5) pull, push and delete, for its group and
// the groups below it; project tokens get nothing.
type ProxyGrantor struct {
	Groups Groups
	Gate   *gate.Gate
}

// Grant implements Grantor.
func (g *ProxyGrantor) Grant(ctx context.Context, r *http.Request, p access.Principal, s Scope) ([]string, error) {
	if s.Type != RepositoryType {
		return nil, nil
	}
	name, err := oci.ParseProxyName(s.Name)
	if err != nil {
		return nil, nil
	}
	group, err := g.Groups.GroupByPath(ctx, name.Group)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return grantEach(ctx, r, g.Gate, p, access.Resource{Group: group}, s.Actions, ProxyAction)
}

// ProxyAction maps a token action to the access action it needs on the proxy's group.
func ProxyAction(a string) (access.Action, bool) {
	switch a {
	case Pull:
		return access.ProxyPull, true
	case Push:
		return access.ProxyPush, true
	case Delete:
		return access.ProxyDelete, true
	}
	return "", false
}

// NameRouter sends scopes naming dependency-proxy images (oci.IsProxyName) to Proxy and every
// other scope to Registry. The container registry's service needs it: the registry and the
// proxy share /v2/ on one host, so clients ask /jwt/auth for the service of the /v2/ challenge
// (container_registry) whichever image they pull, and the proxy accepts those tokens. Push is
// dropped from such grants: the proxy takes no pushes, and an external Distribution registry
// trusting container_registry tokens must not take one under a proxy name either.
type NameRouter struct {
	Registry Grantor
	Proxy    Grantor
}

// Grant implements Grantor.
func (n *NameRouter) Grant(ctx context.Context, r *http.Request, p access.Principal, s Scope) ([]string, error) {
	if s.Type != RepositoryType || !oci.IsProxyName(s.Name) {
		return n.Registry.Grant(ctx, r, p, s)
	}
	granted, err := n.Proxy.Grant(ctx, r, p, s)
	if err != nil {
		return nil, err
	}
	out := granted[:0:0]
	for _, a := range granted {
		if a != Push && a != All {
			out = append(out, a)
		}
	}
	return out, nil
}
