package registry

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// route is a parsed request path.
type route = ocihttp.Route[oci.Name]

// maxUploadID bounds the <id> of /v2/<name>/blobs/uploads/<id>: longer ones are no upload of
// this registry's.
const maxUploadID = 128

// parsePath parses a /v2/ request path (ocihttp.SplitPath), then its repository name.
func parsePath(p string) (route, error) {
	rt, err := ocihttp.SplitPath(p)
	switch {
	case err != nil:
		return route{}, err
	case rt.Kind == ocihttp.KindBase || rt.Kind == ocihttp.KindCatalog:
		return route{Kind: rt.Kind}, nil
	case len(rt.Upload) > maxUploadID:
		return route{}, ocihttp.Fail(ocihttp.CodeBlobUploadUnknown, "")
	}
	return ocihttp.ParseName(rt, oci.ParseName)
}

// catalogAction is decided on the instance for the catalog: it lists every repository.
const catalogAction = access.AdministerInstance

var (
	pullOnly = []string{jwtauth.Pull}
	pullPush = []string{jwtauth.Pull, jwtauth.Push}
	delOnly  = []string{jwtauth.Delete}
	catalog  = []string{jwtauth.All}
)

// routes is THE route table: every (endpoint, method) the registry serves and the access it
// needs. The dispatcher consults it before any handler runs; a test asserts every entry maps to
// access actions.
var routes = ocihttp.Routes[*Handler, oci.Name, grant]{
	ocihttp.KindBase: {
		http.MethodGet:  {Serve: (*Handler).serveBase},
		http.MethodHead: {Serve: (*Handler).serveBase},
	},
	ocihttp.KindCatalog: {
		http.MethodGet: {Need: catalog, Serve: (*Handler).serveCatalog},
	},
	ocihttp.KindTags: {
		http.MethodGet: {Need: pullOnly, Serve: (*Handler).serveTags},
	},
	ocihttp.KindManifest: {
		http.MethodGet:    {Need: pullOnly, Serve: (*Handler).serveManifest},
		http.MethodHead:   {Need: pullOnly, Serve: (*Handler).serveManifest},
		http.MethodPut:    {Need: pullPush, Serve: (*Handler).servePutManifest},
		http.MethodDelete: {Need: delOnly, Serve: (*Handler).serveDeleteManifest},
	},
	ocihttp.KindBlob: {
		http.MethodGet:    {Need: pullOnly, Serve: (*Handler).serveBlob},
		http.MethodHead:   {Need: pullOnly, Serve: (*Handler).serveBlob},
		http.MethodDelete: {Need: delOnly, Serve: (*Handler).serveDeleteBlob},
	},
	ocihttp.KindUploadStart: {
		http.MethodPost: {Need: pullPush, Serve: (*Handler).serveStartUpload},
	},
	ocihttp.KindUpload: {
		http.MethodGet:    {Need: pullPush, Serve: (*Handler).serveUploadStatus},
		http.MethodPatch:  {Need: pullPush, Serve: (*Handler).servePatchUpload},
		http.MethodPut:    {Need: pullPush, Serve: (*Handler).servePutUpload},
		http.MethodDelete: {Need: pullPush, Serve: (*Handler).serveCancelUpload},
	},
	ocihttp.KindReferrers: {
		http.MethodGet: {Need: pullOnly, Serve: (*Handler).serveReferrers},
	},
}

// Routes lists the registry's routes with how each is gated, from the table its dispatcher
// looks up (docs/architecture.md §3.3): a repository's route decides the access action of each
// token action it needs (jwtauth.ImageAction) on the project that owns the repository (a mount
// then decides pull on its source too), the catalog decides catalogAction on the instance, and
// the base endpoint decides nothing.
func Routes() []gate.Route {
	return routes.Gated("{name}", func(k ocihttp.Kind, need []string) gate.Rule {
		switch k {
		case ocihttp.KindBase:
			return gate.Public("the API version check: it answers any token /jwt/auth issued, even an anonymous one's, and reaches nothing")
		case ocihttp.KindCatalog:
			return gate.Decide(catalogAction)
		}
		return ocihttp.Decide(need, jwtauth.ImageAction)
	})
}
