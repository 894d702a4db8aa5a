package server

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/proxy"
)

// openProxy builds the group dependency proxy over the registry's blob store and token issuer.
func (s *Server) openProxy() error {
	cfg := s.Config.DependencyProxy
	up, err := proxy.NewUpstream(proxy.UpstreamConfig{URL: cfg.UpstreamURL, Username: cfg.UpstreamUsername,
		Password: cfg.UpstreamPassword.Reveal()})
	if err != nil {
		return err
	}
	s.proxy = proxy.New(proxy.Config{Store: s.Store.Proxy, Blobs: s.Blobs, Groups: s.Namespaces, Principals: s.credentials,
		Tokens: s.Tokens, Gate: s.Gate, Upstream: up, Realm: s.Config.ExternalURL + "/jwt/auth",
		TagTTL: cfg.TagTTL, RedirectBlobs: s.Config.S3.Redirect, Fence: s.fence, Log: s.Log, Now: s.Tokens.Now,
		FetchLocks: s.fetchLocks()})
	return nil
}

// v2Handler sends the dependency proxy's paths (proxy.Matches) to the proxy and the rest of
// /v2/ to the registry, which would otherwise take them for ordinary image names.
func v2Handler(registry, dependencyProxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proxy.Matches(r.URL.Path) {
			dependencyProxy.ServeHTTP(w, r)
			return
		}
		registry.ServeHTTP(w, r)
	})
}

// tokenServices are the grantors of /jwt/auth: the container registry's (which also grants
// dependency-proxy names, since clients ask for the service of the shared /v2/ challenge) and
// the dependency proxy's.
func (s *Server) tokenServices(projects *jwtauth.ProjectCache) map[string]jwtauth.Grantor {
	dp := &jwtauth.ProxyGrantor{Groups: s.Namespaces, Gate: s.Gate}
	return map[string]jwtauth.Grantor{
		jwtauth.ContainerRegistryService: &jwtauth.NameRouter{Registry: &jwtauth.RegistryGrantor{Projects: projects, Gate: s.Gate}, Proxy: dp},
		jwtauth.DependencyProxyService:   dp,
	}
}
