package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

const (
	sha  = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sha5 = "sha512:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		path string
		kind ocihttp.Kind
		name string
		ref  string
	}{
		{"/v2/", ocihttp.KindBase, "", ""},
		{"/v2", ocihttp.KindBase, "", ""},
		{"/v2/_catalog", ocihttp.KindCatalog, "", ""},
		{"/v2/group/top/tags/list", ocihttp.KindTags, "group/top", ""},
		{"/v2/group/top/manifests/latest", ocihttp.KindManifest, "group/top", "latest"},
		{"/v2/group/top/manifests/" + sha, ocihttp.KindManifest, "group/top", sha},
		{"/v2/group/top/manifests/" + sha5, ocihttp.KindManifest, "group/top", sha5},
		{"/v2/group/top/blobs/" + sha, ocihttp.KindBlob, "group/top", sha},
		{"/v2/group/top/blobs/uploads/", ocihttp.KindUploadStart, "group/top", ""},
		{"/v2/group/top/blobs/uploads", ocihttp.KindUploadStart, "group/top", ""},
		{"/v2/group/top/blobs/uploads/abc123", ocihttp.KindUpload, "group/top", "abc123"},
		{"/v2/group/top/referrers/" + sha, ocihttp.KindReferrers, "group/top", sha},
		// Endpoint words are fine inside names: the path is parsed from its tail.
		{"/v2/group/blobs/manifests/v1", ocihttp.KindManifest, "group/blobs", "v1"},
		{"/v2/a/manifests/tags/list", ocihttp.KindTags, "a/manifests", ""},
		{"/v2/a/blobs/uploads/blobs/" + sha, ocihttp.KindBlob, "a/blobs/uploads", sha},
	} {
		t.Run("ok"+c.path, func(t *testing.T) {
			rt, err := parsePath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			switch rt.Kind {
			case ocihttp.KindManifest:
				got = rt.Ref.String()
			case ocihttp.KindBlob, ocihttp.KindReferrers:
				got = string(rt.Digest)
			case ocihttp.KindUpload:
				got = rt.Upload
			}
			if rt.Kind != c.kind || string(rt.Name) != c.name || got != c.ref {
				t.Fatalf("parsePath(%q) = %v %q %q, want %v %q %q", c.path, rt.Kind, rt.Name, got, c.kind, c.name, c.ref)
			}
		})
	}
	for _, c := range []struct {
		path string
		code string
	}{
		{"/v2/group/top", "UNSUPPORTED"},
		{"/v2/Group/top/tags/list", "NAME_INVALID"},
		{"/v2/group//top/tags/list", "NAME_INVALID"},
		{"/v2/group/top/manifests/sha256:baddigeststring", "DIGEST_INVALID"},
		{"/v2/group/top/manifests/md5:0123", "DIGEST_INVALID"},
		{"/v2/group/top/manifests/-bad", "MANIFEST_UNKNOWN"},
		{"/v2/group/top/blobs/latest", "DIGEST_INVALID"},
		{"/v2/group/top/referrers/nope", "DIGEST_INVALID"},
		{"/v3/group/top/tags/list", "UNSUPPORTED"},
		{"/v2/" + strings.Repeat("a/", 300) + "tags/list", "UNSUPPORTED"},
	} {
		t.Run("fail"+c.path[:min(len(c.path), 60)], func(t *testing.T) {
			_, err := parsePath(c.path)
			var e *ocihttp.Error
			if !errors.As(err, &e) || e.Code.Name != c.code {
				t.Fatalf("parsePath(%q) = %v, want %s", c.path, err, c.code)
			}
		})
	}
}

// TestRouteTable asserts that every endpoint of every route kind maps to access actions: the
// dispatcher derives the required access from this table, so an entry without one would be an
// unauthorized endpoint.
func TestRouteTable(t *testing.T) {
	for k := ocihttp.KindBase; k <= ocihttp.KindReferrers; k++ {
		methods, ok := routes[k]
		if !ok || len(methods) == 0 {
			t.Errorf("route kind %v has no endpoints", k)
		}
		for m, ep := range methods {
			if ep.Serve == nil {
				t.Errorf("%v %s has no handler", k, m)
			}
			switch k {
			case ocihttp.KindBase:
				if len(ep.Need) != 0 {
					t.Errorf("%v %s: the base endpoint needs a valid token only", k, m)
				}
				continue
			case ocihttp.KindCatalog:
				if len(ep.Need) != 1 || ep.Need[0] != jwtauth.All {
					t.Errorf("%v %s must need registry:catalog:*", k, m)
				}
				continue
			}
			if len(ep.Need) == 0 {
				t.Errorf("%v %s has no access mapping", k, m)
			}
			for _, a := range ep.Need {
				if _, ok := jwtauth.ImageAction(a); !ok {
					t.Errorf("%v %s needs %q, which maps to no access action", k, m, a)
				}
			}
			write := m == http.MethodPut || m == http.MethodPatch || m == http.MethodPost || (k == ocihttp.KindUpload)
			if write && !contains(ep.Need, jwtauth.Push) {
				t.Errorf("%v %s writes but does not need push", k, m)
			}
			if m == http.MethodDelete && k != ocihttp.KindUpload && !contains(ep.Need, jwtauth.Delete) {
				t.Errorf("%v %s deletes but does not need delete", k, m)
			}
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// panicStore fails the test if any handler reaches the metadata store.
type panicStore struct{ Store }

type fixedProjects struct{ p *namespace.Project }

func (f fixedProjects) ProjectByLongestPath(context.Context, []string) (*namespace.Project, error) {
	return f.p, nil
}

type noRoles struct{}

func (noRoles) ProjectRole(context.Context, int64, *namespace.Project) (namespace.Role, error) {
	return namespace.NoRole, nil
}
func (noRoles) GroupRole(context.Context, int64, *namespace.Group) (namespace.Role, error) {
	return namespace.NoRole, nil
}

// TestDispatcherAuthorizesFirst sends every (route, method) of the table without credentials
// for a private project: each must be answered 401 with a Bearer challenge for the route's
// scope, and no handler may run (the store panics if touched).
func TestDispatcherAuthorizesFirst(t *testing.T) {
	key, err := jwtauth.GenerateKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Store: panicStore{}, Projects: jwtauth.NewProjectCache(fixedProjects{&namespace.Project{ID: 1, FullPath: "group/top", Visibility: namespace.Private}}, nil),
		Tokens: jwtauth.NewIssuer(key, jwtauth.Options{}), Gate: gate.New(gate.Config{Authorizer: access.New(noRoles{}, nil, access.Options{})}),
		Realm: "http://localhost/jwt/auth", UploadSecret: []byte("k")})
	paths := map[ocihttp.Kind]string{ocihttp.KindBase: "/v2/", ocihttp.KindCatalog: "/v2/_catalog", ocihttp.KindTags: "/v2/group/top/tags/list",
		ocihttp.KindManifest: "/v2/group/top/manifests/v1", ocihttp.KindBlob: "/v2/group/top/blobs/" + sha,
		ocihttp.KindUploadStart: "/v2/group/top/blobs/uploads/", ocihttp.KindUpload: "/v2/group/top/blobs/uploads/u1?_state=x",
		ocihttp.KindReferrers: "/v2/group/top/referrers/" + sha}
	for k, methods := range routes {
		for m, ep := range methods {
			t.Run("fail/"+k.String()+"/"+m, func(t *testing.T) {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("a handler ran before authorization: %v", v)
					}
				}()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(m, paths[k], nil))
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", w.Code)
				}
				ch := w.Header().Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, `Bearer realm="http://localhost/jwt/auth",service="container_registry"`) {
					t.Fatalf("challenge %q", ch)
				}
				if k != ocihttp.KindBase && k != ocihttp.KindCatalog && !strings.Contains(ch, `scope="repository:group/top:`+strings.Join(ep.Need, ",")+`"`) {
					t.Fatalf("challenge %q lacks the route's scope %v", ch, ep.Need)
				}
			})
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/tags/list", "/v2/a/manifests/v1", "/v2/a/blobs/" + sha,
		"/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/x", "/v2/a/referrers/" + sha, "/v2/a//b/blobs/uploads/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := parsePath(p)
		if err != nil {
			return
		}
		if rt.Kind < ocihttp.KindBase || rt.Kind > ocihttp.KindReferrers {
			t.Fatalf("bad kind %v", rt.Kind)
		}
		if rt.Kind != ocihttp.KindBase && rt.Kind != ocihttp.KindCatalog {
			if _, err := oci.ParseName(string(rt.Name)); err != nil {
				t.Fatalf("parsePath(%q) gave an invalid name %q", p, rt.Name)
			}
		}
	})
}

func TestSingleRange(t *testing.T) {
	for _, c := range []struct {
		header   string
		ifRange  bool
		start, n int64
		ok       bool
	}{
		{"bytes=500-1499", false, 500, 1000, true},
		{"bytes=500-", false, 500, 1548, true},
		{"bytes=-500", false, 1548, 500, true},
		{"bytes=-5000", false, 0, 2048, true},
		{"bytes=2000-5000", false, 2000, 48, true},
		{"bytes=0-0", false, 0, 1, true},
		{"bytes=500-0", false, 0, -1, true},
		{"bytes=5000-10000", false, 0, -1, true},
		{"bytes=2048-", false, 0, -1, true},
		{"bytes=-0", false, 0, -1, true},
		{"bytes=x-1", false, 0, -1, true},
		{"bytes=0-1,5-6", false, 0, 0, false},
		{"bytes=0-1", true, 0, 0, false},
		{"items=0-1", false, 0, 0, false},
		{"", false, 0, 0, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Range", c.header)
		if c.ifRange {
			r.Header.Set("If-Range", `"x"`)
		}
		start, n, ok := singleRange(r, 2048)
		if start != c.start || n != c.n || ok != c.ok {
			t.Errorf("%q: %d %d %v, want %d %d %v", c.header, start, n, ok, c.start, c.n, c.ok)
		}
	}
}
