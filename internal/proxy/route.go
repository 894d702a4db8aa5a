package proxy

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// kind is an endpoint of the proxy.
type kind int

const (
	kindManifest kind = iota + 1 // …/manifests/<tag|digest>
	kindBlob                     // …/blobs/<digest>
	kindUpload                   // …/blobs/uploads/[<id>]: pushes, which the proxy does not take
)

// route is a parsed request path.
type route struct {
	kind kind
	name oci.ProxyName
	// tag or digest (kindManifest; exactly one is set).
	tag    string
	digest blob.Digest // kindManifest by digest, kindBlob
}

// ref is the manifest reference as text.
func (rt route) ref() string {
	if rt.digest != "" {
		return string(rt.digest)
	}
	return rt.tag
}

// maxTagLength is the longest tag (OCI: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}).
const maxTagLength = 128

// validTag reports whether s matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(s string) bool {
	if s == "" || len(s) > maxTagLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			(i > 0 && (c == '.' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// Matches reports whether path is one of the proxy's: /v2/ and a name containing
// /dependency_proxy/containers/. The server sends these here before the registry sees them.
func Matches(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v2/")
	return ok && oci.IsProxyName(rest)
}

// parsePath parses /v2/<group>/dependency_proxy/containers/<image>/(manifests/<ref>|blobs/<digest>)
// tail first: the last one or two segments name the endpoint, everything before them is the
// image name (which may itself contain "blobs" or "manifests" as components), and the name
// splits at its first marker into group path and image.
func parsePath(p string) (route, error) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok || len(rest) > oci.MaxNameLength+len("/blobs/uploads/")+256 {
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	head, last := rest[:i], rest[i+1:]
	var rt route
	var name string
	switch {
	case strings.HasSuffix(head, "/blobs/uploads"):
		rt.kind, name = kindUpload, strings.TrimSuffix(head, "/blobs/uploads")
	case last == "uploads" && strings.HasSuffix(head, "/blobs"):
		rt.kind, name = kindUpload, strings.TrimSuffix(head, "/blobs")
	case strings.HasSuffix(head, "/manifests") && last != "":
		rt.kind, name = kindManifest, strings.TrimSuffix(head, "/manifests")
		if strings.IndexByte(last, ':') >= 0 {
			d, err := blob.ParseDigest(last)
			if err != nil {
				return route{}, ocihttp.Fail(ocihttp.CodeDigestInvalid, "invalid digest")
			}
			rt.digest = d
		} else if validTag(last) {
			rt.tag = last
		} else {
			return route{}, ocihttp.Fail(ocihttp.CodeManifestUnknown, "invalid tag")
		}
	case strings.HasSuffix(head, "/blobs") && last != "":
		rt.kind, name = kindBlob, strings.TrimSuffix(head, "/blobs")
		d, err := blob.ParseDigest(last)
		if err != nil {
			return route{}, ocihttp.Fail(ocihttp.CodeDigestInvalid, "invalid digest")
		}
		rt.digest = d
	default:
		// Tag lists, the catalog and referrers are not part of the proxy.
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	n, err := oci.ParseProxyName(name)
	if err != nil {
		return route{}, ocihttp.Fail(ocihttp.CodeNameInvalid, "")
	}
	rt.name = n
	return rt, nil
}

// Token actions of the Docker token protocol the proxy checks.
const (
	actionPull   = "pull"
	actionDelete = "delete"
)

// endpoint says what a (kind, method) needs and who serves it.
type endpoint struct {
	// need are the token actions required on the route's image.
	need []string
	// serve runs only after the dispatcher has authorized the request; it gets the grant.
	serve func(h *Handler, w http.ResponseWriter, r *http.Request, rt route, g grant)
}

// routes is THE route table: every (endpoint, method) the proxy serves and the access it
// needs. Anything else is answered 405 before authorization: the proxy fills its cache only
// from the upstream, so pushes (uploads, manifest PUTs) are not supported, as in GitLab.
var routes = map[kind]map[string]endpoint{
	kindManifest: {
		http.MethodGet:    {[]string{actionPull}, (*Handler).serveManifest},
		http.MethodHead:   {[]string{actionPull}, (*Handler).serveManifest},
		http.MethodDelete: {[]string{actionDelete}, (*Handler).serveDeleteManifest},
	},
	kindBlob: {
		http.MethodGet:    {[]string{actionPull}, (*Handler).serveBlob},
		http.MethodHead:   {[]string{actionPull}, (*Handler).serveBlob},
		http.MethodDelete: {[]string{actionDelete}, (*Handler).serveDeleteBlob},
	},
	kindUpload: {},
}

// allowHeader lists the methods of an endpoint for 405 answers.
func allowHeader(k kind) string {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
		if _, ok := routes[k][m]; ok {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}
