package ocihttp

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// Kind is an endpoint of the distribution API.
type Kind int

const (
	KindBase        Kind = iota + 1 // /v2/
	KindCatalog                     // /v2/_catalog
	KindTags                        // /v2/<name>/tags/list
	KindManifest                    // /v2/<name>/manifests/<reference>
	KindBlob                        // /v2/<name>/blobs/<digest>
	KindUploadStart                 // /v2/<name>/blobs/uploads/
	KindUpload                      // /v2/<name>/blobs/uploads/<id>
	KindReferrers                   // /v2/<name>/referrers/<digest>
)

func (k Kind) String() string {
	return [...]string{"", "base", "catalog", "tags", "manifest", "blob", "upload-start", "upload", "referrers"}[k]
}

// Pattern is the kind's path, with name as the pattern of the repository name.
func (k Kind) Pattern(name string) string {
	return strings.Replace([...]string{"", "/v2/", "/v2/_catalog", "/v2/{name}/tags/list",
		"/v2/{name}/manifests/{reference}", "/v2/{name}/blobs/{digest}", "/v2/{name}/blobs/uploads/",
		"/v2/{name}/blobs/uploads/{id}", "/v2/{name}/referrers/{digest}"}[k], "{name}", name, 1)
}

// Route is a parsed /v2/ request path; N is the protocol's repository name (the registry's
// oci.Name, the dependency proxy's oci.ProxyName), set for every kind but base and catalog.
type Route[N any] struct {
	Kind   Kind
	Name   N
	Ref    Reference   // KindManifest
	Digest blob.Digest // KindBlob, KindReferrers
	Upload string      // KindUpload
}

// Reference is a manifest reference: a tag or a digest (exactly one is set).
type Reference struct {
	Tag    string
	Digest blob.Digest
}

func (r Reference) String() string {
	if r.Digest != "" {
		return string(r.Digest)
	}
	return r.Tag
}

// ParseReference parses the <reference> of /v2/<name>/manifests/<reference>: a digest when it
// contains a colon (sha256 or sha512; anything else fails with DIGEST_INVALID), otherwise a tag
// (anything else fails with MANIFEST_UNKNOWN: no such manifest can exist).
func ParseReference(s string) (Reference, error) {
	if strings.IndexByte(s, ':') >= 0 {
		d, err := blob.ParseDigest(s)
		if err != nil {
			return Reference{}, Fail(CodeDigestInvalid, "invalid digest")
		}
		return Reference{Digest: d}, nil
	}
	if !oci.ValidTag(s) {
		return Reference{}, Fail(CodeManifestUnknown, "invalid tag")
	}
	return Reference{Tag: s}, nil
}

// SplitPath parses a /v2/ request path tail first: the last one or two segments say which
// endpoint it is, and everything before them is the repository name (which may itself contain
// "blobs" or "manifests" as components). The name is left as text for the protocol to parse
// (ParseName), since the registry's names and the proxy's differ.
func SplitPath(p string) (Route[string], error) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		if p == "/v2" {
			return Route[string]{Kind: KindBase}, nil
		}
		return Route[string]{}, Fail(CodeNotFound, "")
	}
	switch rest {
	case "":
		return Route[string]{Kind: KindBase}, nil
	case "_catalog":
		return Route[string]{Kind: KindCatalog}, nil
	}
	if len(rest) > oci.MaxNameLength+len("/blobs/uploads/")+256 {
		return Route[string]{}, Fail(CodeNotFound, "path too long")
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return Route[string]{}, Fail(CodeNotFound, "")
	}
	head, last := rest[:i], rest[i+1:]
	var rt Route[string]
	switch {
	case last == "" && strings.HasSuffix(head, "/blobs/uploads"):
		rt.Kind, rt.Name = KindUploadStart, strings.TrimSuffix(head, "/blobs/uploads")
	case last == "uploads" && strings.HasSuffix(head, "/blobs"):
		rt.Kind, rt.Name = KindUploadStart, strings.TrimSuffix(head, "/blobs")
	case last == "list" && strings.HasSuffix(head, "/tags"):
		rt.Kind, rt.Name = KindTags, strings.TrimSuffix(head, "/tags")
	case strings.HasSuffix(head, "/blobs/uploads") && last != "":
		rt.Kind, rt.Name, rt.Upload = KindUpload, strings.TrimSuffix(head, "/blobs/uploads"), last
	case strings.HasSuffix(head, "/manifests") && last != "":
		rt.Kind, rt.Name = KindManifest, strings.TrimSuffix(head, "/manifests")
		ref, err := ParseReference(last)
		if err != nil {
			return Route[string]{}, err
		}
		rt.Ref = ref
	case strings.HasSuffix(head, "/blobs") && last != "":
		rt.Kind, rt.Name = KindBlob, strings.TrimSuffix(head, "/blobs")
	case strings.HasSuffix(head, "/referrers") && last != "":
		rt.Kind, rt.Name = KindReferrers, strings.TrimSuffix(head, "/referrers")
	default:
		return Route[string]{}, Fail(CodeNotFound, "")
	}
	if rt.Kind == KindBlob || rt.Kind == KindReferrers {
		d, err := blob.ParseDigest(last)
		if err != nil {
			return Route[string]{}, Fail(CodeDigestInvalid, "invalid digest")
		}
		rt.Digest = d
	}
	return rt, nil
}

// ParseName parses the name of a route SplitPath returned with parse (a name that does not
// parse fails with NAME_INVALID).
func ParseName[N any](rt Route[string], parse func(string) (N, error)) (Route[N], error) {
	n, err := parse(rt.Name)
	if err != nil {
		return Route[N]{}, Fail(CodeNameInvalid, "")
	}
	return Route[N]{Kind: rt.Kind, Name: n, Ref: rt.Ref, Digest: rt.Digest, Upload: rt.Upload}, nil
}

// Endpoint says what a (kind, method) needs and who serves it.
type Endpoint[H, N, G any] struct {
	// Need are the token actions the route requires (on its repository; the registry's
	// catalog needs "*", its base endpoint nothing but a valid token).
	Need []string
	// Serve runs only after the dispatcher has authorized the request; it gets the grant.
	Serve func(h H, w http.ResponseWriter, r *http.Request, rt Route[N], g G)
}

// Routes is a protocol's route table: every (endpoint, method) it serves and the access it needs.
type Routes[H, N, G any] map[Kind]map[string]Endpoint[H, N, G]

// methods are the methods a table may list, in the order they are listed.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allow lists the methods of an endpoint for 405 answers.
func (t Routes[H, N, G]) allow(k Kind) string {
	var ms []string
	for _, m := range methods {
		if _, ok := t[k][m]; ok {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}

// Gated lists the table as gate routes (docs/architecture.md §3.3), by kind, then method, so
// that what a protocol lists is the table its dispatcher looks up: name is the pattern of the
// repository name, and rule says how an endpoint of a kind, needing need, is gated (Decide for
// the routes Gate.Authorize decides).
func (t Routes[H, N, G]) Gated(name string, rule func(k Kind, need []string) gate.Rule) []gate.Route {
	var out []gate.Route
	for k := KindBase; k <= KindReferrers; k++ {
		for _, m := range methods {
			if ep, ok := t[k][m]; ok {
				out = append(out, gate.Route{Method: m, Pattern: k.Pattern(name), Rule: rule(k, ep.Need)})
			}
		}
	}
	return out
}

// Dispatcher is the one dispatcher of the registry and the dependency proxy
// (docs/architecture.md §3.3): parse the path, look up the route's access in the table,
// authorize once, then serve; a handler cannot be reached without the grant G.
type Dispatcher[H, N, G any] struct {
	Routes Routes[H, N, G]
	Parse  func(path string) (Route[N], error)
	// Authorize decides the request (writing a challenge itself when it answers 401).
	Authorize  func(h H, w http.ResponseWriter, r *http.Request, rt Route[N], need []string) (G, error)
	WriteError func(h H, w http.ResponseWriter, r *http.Request, err error)
	// Unsupported is the detail of the 405 answer to a method the table does not list.
	Unsupported string
}

// Serve dispatches one request to h.
func (d *Dispatcher[H, N, G]) Serve(h H, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, err := d.Parse(r.URL.Path)
	if err != nil {
		d.WriteError(h, w, r, err)
		return
	}
	ep, ok := d.Routes[rt.Kind][r.Method]
	if !ok {
		w.Header().Set("Allow", d.Routes.allow(rt.Kind))
		d.WriteError(h, w, r, Fail(CodeUnsupported, "%s", d.Unsupported))
		return
	}
	g, err := d.Authorize(h, w, r, rt, ep.Need)
	if err != nil {
		d.WriteError(h, w, r, err)
		return
	}
	ep.Serve(h, w, r, rt, g)
}
