package proxy

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// route is a parsed request path.
type route = ocihttp.Route[oci.ProxyName]

// Matches reports whether path is one of the proxy's: /v2/ and a name containing
// /dependency_proxy/containers/. The server sends these here before the registry sees them.
func Matches(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v2/")
	return ok && oci.IsProxyName(rest)
}

// parsePath parses /v2/<group>/dependency_proxy/containers/<image>/(manifests/<ref>|blobs/<digest>)
// (ocihttp.SplitPath); the image name splits at its first marker into group path and image.
func parsePath(p string) (route, error) {
	rt, err := ocihttp.SplitPath(p)
	if err != nil {
		return route{}, err
	}
	if _, ok := routes[rt.Kind]; !ok {
		// Tag lists, the catalog and referrers are not part of the proxy.
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	return ocihttp.ParseName(rt, oci.ParseProxyName)
}

// routes is THE route table: every (endpoint, method) the proxy serves and the access it
// needs. Anything else is answered 405 before authorization: the proxy fills its cache only
// from the upstream, so pushes (uploads, manifest PUTs) are not supported, as in GitLab.
var routes = ocihttp.Routes[*Handler, oci.ProxyName, grant]{
	ocihttp.KindManifest: {
		http.MethodGet:    {Need: []string{jwtauth.Pull}, Serve: (*Handler).serveManifest},
		http.MethodHead:   {Need: []string{jwtauth.Pull}, Serve: (*Handler).serveManifest},
		http.MethodDelete: {Need: []string{jwtauth.Delete}, Serve: (*Handler).serveDeleteManifest},
	},
	ocihttp.KindBlob: {
		http.MethodGet:    {Need: []string{jwtauth.Pull}, Serve: (*Handler).serveBlob},
		http.MethodHead:   {Need: []string{jwtauth.Pull}, Serve: (*Handler).serveBlob},
		http.MethodDelete: {Need: []string{jwtauth.Delete}, Serve: (*Handler).serveDeleteBlob},
	},
	ocihttp.KindUploadStart: {},
	ocihttp.KindUpload:      {},
}

// Routes lists the proxy's routes with how each is gated, from the table its dispatcher looks
// up (docs/architecture.md §3.3): each decides the access action of the token action it needs
// (jwtauth.ProxyAction) on the group the path names.
func Routes() []gate.Route {
	return routes.Gated("{group}/dependency_proxy/containers/{image}", func(_ ocihttp.Kind, need []string) gate.Rule {
		return ocihttp.Decide(need, jwtauth.ProxyAction)
	})
}
