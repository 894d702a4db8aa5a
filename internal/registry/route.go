package registry

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// kind is an endpoint of the distribution API.
type kind int

const (
	kindBase        kind = iota + 1 // /v2/
	kindCatalog                     // /v2/_catalog
	kindTags                        // /v2/<name>/tags/list
	kindManifest                    // /v2/<name>/manifests/<reference>
	kindBlob                        // /v2/<name>/blobs/<digest>
	kindUploadStart                 // /v2/<name>/blobs/uploads/
	kindUpload                      // /v2/<name>/blobs/uploads/<id>
	kindReferrers                   // /v2/<name>/referrers/<digest>
)

func (k kind) String() string {
	return [...]string{"", "base", "catalog", "tags", "manifest", "blob", "upload-start", "upload", "referrers"}[k]
}

// route is a parsed request path. name is set for every kind but base and catalog.
type route struct {
	kind   kind
	name   oci.Name
	ref    Reference   // kindManifest
	digest blob.Digest // kindBlob, kindReferrers
	upload string      // kindUpload
}

// MaxTagLength is the longest tag (OCI: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}).
const MaxTagLength = 128

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
			return Reference{}, ocihttp.Fail(ocihttp.CodeDigestInvalid, "invalid digest")
		}
		return Reference{Digest: d}, nil
	}
	if !ValidTag(s) {
		return Reference{}, ocihttp.Fail(ocihttp.CodeManifestUnknown, "invalid tag")
	}
	return Reference{Tag: s}, nil
}

// ValidTag reports whether s matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidTag(s string) bool {
	if s == "" || len(s) > MaxTagLength {
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

// parsePath parses a /v2/ request path tail first: the last one or two segments say which
// endpoint it is, and everything before them is the repository name (which may itself contain
// "blobs" or "manifests" as components).
func parsePath(p string) (route, error) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		if p == "/v2" {
			return route{kind: kindBase}, nil
		}
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	switch rest {
	case "":
		return route{kind: kindBase}, nil
	case "_catalog":
		return route{kind: kindCatalog}, nil
	}
	if len(rest) > oci.MaxNameLength+len("/blobs/uploads/")+256 {
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "path too long")
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	head, last := rest[:i], rest[i+1:]
	var rt route
	var name string
	switch {
	case last == "" && strings.HasSuffix(head, "/blobs/uploads"):
		rt.kind, name = kindUploadStart, strings.TrimSuffix(head, "/blobs/uploads")
	case last == "uploads" && strings.HasSuffix(head, "/blobs"):
		rt.kind, name = kindUploadStart, strings.TrimSuffix(head, "/blobs")
	case last == "list" && strings.HasSuffix(head, "/tags"):
		rt.kind, name = kindTags, strings.TrimSuffix(head, "/tags")
	case strings.HasSuffix(head, "/blobs/uploads") && last != "":
		rt.kind, name, rt.upload = kindUpload, strings.TrimSuffix(head, "/blobs/uploads"), last
		if len(last) > 128 {
			return route{}, ocihttp.Fail(codeBlobUploadUnknown, "")
		}
	case strings.HasSuffix(head, "/manifests") && last != "":
		rt.kind, name = kindManifest, strings.TrimSuffix(head, "/manifests")
		ref, err := ParseReference(last)
		if err != nil {
			return route{}, err
		}
		rt.ref = ref
	case strings.HasSuffix(head, "/blobs") && last != "":
		rt.kind, name = kindBlob, strings.TrimSuffix(head, "/blobs")
		d, err := blob.ParseDigest(last)
		if err != nil {
			return route{}, ocihttp.Fail(ocihttp.CodeDigestInvalid, "invalid digest")
		}
		rt.digest = d
	case strings.HasSuffix(head, "/referrers") && last != "":
		rt.kind, name = kindReferrers, strings.TrimSuffix(head, "/referrers")
		d, err := blob.ParseDigest(last)
		if err != nil {
			return route{}, ocihttp.Fail(ocihttp.CodeDigestInvalid, "invalid digest")
		}
		rt.digest = d
	default:
		return route{}, ocihttp.Fail(ocihttp.CodeNotFound, "")
	}
	n, err := oci.ParseName(name)
	if err != nil {
		return route{}, ocihttp.Fail(ocihttp.CodeNameInvalid, "")
	}
	rt.name = n
	return rt, nil
}

// endpoint says what a (kind, method) needs and who serves it.
type endpoint struct {
	// need are the token actions required on the route's repository ("registry:catalog:*" for
	// the catalog; none for the base endpoint, which needs only a valid token).
	need []string
	// serve runs only after the dispatcher has authorized the request; it gets the grant.
	serve func(h *Handler, w http.ResponseWriter, r *http.Request, rt route, g grant)
}

var (
	pullOnly = []string{jwtauth.Pull}
	pullPush = []string{jwtauth.Pull, jwtauth.Push}
	delOnly  = []string{jwtauth.Delete}
	catalog  = []string{jwtauth.All}
)

// routes is THE route table: every (endpoint, method) the registry serves and the access it
// needs. The dispatcher consults it before any handler runs; a test asserts every entry maps to
// access actions.
var routes = map[kind]map[string]endpoint{
	kindBase: {
		http.MethodGet:  {nil, (*Handler).serveBase},
		http.MethodHead: {nil, (*Handler).serveBase},
	},
	kindCatalog: {
		http.MethodGet: {catalog, (*Handler).serveCatalog},
	},
	kindTags: {
		http.MethodGet: {pullOnly, (*Handler).serveTags},
	},
	kindManifest: {
		http.MethodGet:    {pullOnly, (*Handler).serveManifest},
		http.MethodHead:   {pullOnly, (*Handler).serveManifest},
		http.MethodPut:    {pullPush, (*Handler).servePutManifest},
		http.MethodDelete: {delOnly, (*Handler).serveDeleteManifest},
	},
	kindBlob: {
		http.MethodGet:    {pullOnly, (*Handler).serveBlob},
		http.MethodHead:   {pullOnly, (*Handler).serveBlob},
		http.MethodDelete: {delOnly, (*Handler).serveDeleteBlob},
	},
	kindUploadStart: {
		http.MethodPost: {pullPush, (*Handler).serveStartUpload},
	},
	kindUpload: {
		http.MethodGet:    {pullPush, (*Handler).serveUploadStatus},
		http.MethodPatch:  {pullPush, (*Handler).servePatchUpload},
		http.MethodPut:    {pullPush, (*Handler).servePutUpload},
		http.MethodDelete: {pullPush, (*Handler).serveCancelUpload},
	},
	kindReferrers: {
		http.MethodGet: {pullOnly, (*Handler).serveReferrers},
	},
}

// allowHeader lists the methods of an endpoint for 405 answers.
func allowHeader(k kind) string {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if _, ok := routes[k][m]; ok {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}
