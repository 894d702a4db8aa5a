package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

const digestA = "sha256:" + "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"

func TestParsePath(t *testing.T) {
	ok := []struct {
		path               string
		kind               ocihttp.Kind
		group, image, ref  string
		wantTag, wantBlobs bool
	}{
		{"/v2/group/dependency_proxy/containers/alpine/manifests/latest", ocihttp.KindManifest, "group", "alpine", "latest", true, false},
		{"/v2/group/sub/dependency_proxy/containers/library/alpine/manifests/3.20", ocihttp.KindManifest, "group/sub", "library/alpine", "3.20", true, false},
		{"/v2/g/dependency_proxy/containers/bitnami/redis/manifests/" + digestA, ocihttp.KindManifest, "g", "bitnami/redis", digestA, false, false},
		{"/v2/g/dependency_proxy/containers/alpine/blobs/" + digestA, ocihttp.KindBlob, "g", "alpine", digestA, false, true},
		// Image names may contain "manifests" or "blobs" as components: the tail decides.
		{"/v2/g/dependency_proxy/containers/x/manifests/blobs/" + digestA, ocihttp.KindBlob, "g", "x/manifests", digestA, false, true},
		{"/v2/g/dependency_proxy/containers/x/blobs/manifests/v1", ocihttp.KindManifest, "g", "x/blobs", "v1", true, false},
		// The first marker splits group from image.
		{"/v2/g/dependency_proxy/containers/a/dependency_proxy/containers/b/manifests/v1", ocihttp.KindManifest, "g", "a/dependency_proxy/containers/b", "v1", true, false},
		{"/v2/g/dependency_proxy/containers/alpine/blobs/uploads/", ocihttp.KindUploadStart, "g", "alpine", "", false, false},
		{"/v2/g/dependency_proxy/containers/alpine/blobs/uploads/abc", ocihttp.KindUpload, "g", "alpine", "", false, false},
	}
	for _, c := range ok {
		t.Run("ok/"+c.path, func(t *testing.T) {
			rt, err := parsePath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			ref := rt.Ref.String()
			if rt.Kind == ocihttp.KindBlob {
				ref = string(rt.Digest)
			}
			if rt.Kind != c.kind || rt.Name.Group != c.group || string(rt.Name.Image) != c.image ||
				rt.Name.Name.String() != c.group+oci.ProxyMarker+c.image || ref != c.ref {
				t.Fatalf("parsePath = %+v", rt)
			}
			if (rt.Ref.Tag != "") != c.wantTag || (c.wantBlobs && rt.Digest == "") {
				t.Fatalf("tag/digest: %+v", rt)
			}
			if !Matches(c.path) {
				t.Fatal("Matches is false for a proxy path")
			}
		})
	}
	fail := []struct {
		path   string
		status int
	}{
		{"/v2/group/dependency_proxy/containers/alpine/tags/list", http.StatusNotFound},
		{"/v2/group/dependency_proxy/containers/alpine/referrers/" + digestA, http.StatusNotFound},
		{"/v2/dependency_proxy/containers/alpine/manifests/latest", http.StatusBadRequest},
		{"/v2/group/dependency_proxy/containers/manifests/latest", http.StatusBadRequest},
		{"/v2/Group/dependency_proxy/containers/alpine/manifests/latest", http.StatusBadRequest},
		{"/v2/group/dependency_proxy/containers/alpine/manifests/-bad", http.StatusNotFound},
		{"/v2/group/dependency_proxy/containers/alpine/manifests/sha256:abc", http.StatusBadRequest},
		{"/v2/group/dependency_proxy/containers/alpine/blobs/latest", http.StatusBadRequest},
		{"/v2/group/dependency_proxy/containers/alpine/manifests/", http.StatusNotFound},
		{"/v2/group/dependency_proxy/containers/alpine", http.StatusNotFound},
		{"/v2/group/dependency_proxy/containers/a//b/manifests/v1", http.StatusBadRequest},
		{"/v2/g/dependency_proxy/containers/" + strings.Repeat("a", 300) + "/manifests/v1", http.StatusBadRequest},
		{"/v2/g/dependency_proxy/containers/" + strings.Repeat("a/", 400) + "manifests/v1", http.StatusNotFound},
		{"/v3/g/dependency_proxy/containers/a/manifests/v1", http.StatusNotFound},
	}
	for _, c := range fail {
		t.Run("fail/"+c.path[:min(len(c.path), 90)], func(t *testing.T) {
			_, err := parsePath(c.path)
			var e *ocihttp.Error
			if !errors.As(err, &e) || e.Code.Status != c.status {
				t.Fatalf("parsePath error %v, want status %d", err, c.status)
			}
		})
	}
	for _, p := range []string{"/v2/", "/v2/group/top/app/manifests/v1", "/v2/group/dependency_proxy/app/manifests/v1", "/api/v4/dependency_proxy/containers/x"} {
		if Matches(p) {
			t.Errorf("Matches(%q) is true", p)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/v2/group/dependency_proxy/containers/alpine/manifests/latest",
		"/v2/group/sub/dependency_proxy/containers/library/alpine/blobs/" + digestA,
		"/v2/g/dependency_proxy/containers/x/manifests/blobs/" + digestA,
		"/v2/g/dependency_proxy/containers/alpine/blobs/uploads/",
		"/v2/g/dependency_proxy/containers/a/dependency_proxy/containers/b/manifests/v1",
		"/v2//dependency_proxy/containers//manifests/",
		"/v2/dependency_proxy/containers/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := parsePath(p)
		if err != nil {
			var e *ocihttp.Error
			if !errors.As(err, &e) || e.Code.Status < 400 || e.Code.Status >= 500 {
				t.Fatalf("parsePath(%q) error %v is not a 4xx *ocihttp.Error", p, err)
			}
			return
		}
		if !Matches(p) {
			t.Fatalf("parsePath accepted %q, which Matches refuses", p)
		}
		n, err := oci.ParseProxyName(rt.Name.Name.String())
		if err != nil || n != rt.Name {
			t.Fatalf("name of %q does not round-trip: %+v %v", p, rt.Name, err)
		}
		if rt.Name.Group+oci.ProxyMarker+string(rt.Name.Image) != string(rt.Name.Name) {
			t.Fatalf("name of %q does not split: %+v", p, rt.Name)
		}
		switch rt.Kind {
		case ocihttp.KindManifest:
			if (rt.Ref.Tag == "") == (rt.Ref.Digest == "") || (rt.Ref.Tag != "" && !oci.ValidTag(rt.Ref.Tag)) {
				t.Fatalf("manifest reference of %q: %+v", p, rt)
			}
			if !strings.HasSuffix(p, "/manifests/"+rt.Ref.String()) {
				t.Fatalf("reference of %q is not its tail: %+v", p, rt)
			}
		case ocihttp.KindBlob:
			if !oci.ValidDigest(string(rt.Digest)) || !strings.HasSuffix(p, "/blobs/"+string(rt.Digest)) {
				t.Fatalf("blob digest of %q: %+v", p, rt)
			}
		case ocihttp.KindUploadStart, ocihttp.KindUpload:
		default:
			t.Fatalf("kind %d for %q", rt.Kind, p)
		}
	})
}

func TestParseChallenge(t *testing.T) {
	cases := []struct {
		in     string
		scheme string
		params map[string]string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`,
			"Bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"}},
		{`Bearer realm="http://localhost:1/jwt/auth",service="container_registry",scope="repository:a:pull,push",error="insufficient_scope"`,
			"Bearer", map[string]string{"realm": "http://localhost:1/jwt/auth", "service": "container_registry", "scope": "repository:a:pull,push", "error": "insufficient_scope"}},
		{`Basic realm="Gatehouse"`, "Basic", map[string]string{"realm": "Gatehouse"}},
		{`bearer Realm=http://x/t , Service = s`, "bearer", map[string]string{"realm": "http://x/t", "service": "s"}},
		{`Bearer realm="a\"b", Basic realm="z"`, "Bearer", map[string]string{"realm": `a"b`}},
		{`Bearer`, "Bearer", map[string]string{}},
		{`Bearer realm="unterminated`, "Bearer", map[string]string{"realm": "unterminated"}},
	}
	for _, c := range cases {
		scheme, params := parseChallenge(c.in)
		if scheme != c.scheme || len(params) != len(c.params) {
			t.Errorf("parseChallenge(%q) = %q %v", c.in, scheme, params)
			continue
		}
		for k, v := range c.params {
			if params[k] != v {
				t.Errorf("parseChallenge(%q)[%s] = %q, want %q", c.in, k, params[k], v)
			}
		}
	}
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`,
		`Basic realm="x"`, `Bearer realm="a\"b", Basic realm="z"`, `x y=`, `a "=b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scheme, params := parseChallenge(s)
		if params == nil || len(scheme) > maxChallenge || len(params) > maxChallenge {
			t.Fatalf("parseChallenge(%q) = %q %v", s, scheme, params)
		}
		for k := range params {
			if !isToken(k) {
				t.Fatalf("parseChallenge(%q) has parameter name %q", s, k)
			}
		}
	})
}

func TestImagePath(t *testing.T) {
	hub, err := NewUpstream(UpstreamConfig{URL: DefaultUpstreamURL})
	if err != nil {
		t.Fatal(err)
	}
	local, err := NewUpstream(UpstreamConfig{URL: "http://127.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		u           *Upstream
		image, want string
	}{
		{hub, "alpine", "library/alpine"},
		{hub, "library/alpine", "library/alpine"},
		{hub, "bitnami/redis", "bitnami/redis"},
		{local, "alpine", "alpine"},
		{local, "group/top/app", "group/top/app"},
	} {
		if got := c.u.ImagePath(oci.Name(c.image)); got != c.want {
			t.Errorf("ImagePath(%q) = %q, want %q", c.image, got, c.want)
		}
	}
	for _, bad := range []string{"ftp://x", "https://u:p@x", "https://x/v2", "https://x?y", "x", ""} {
		if _, err := NewUpstream(UpstreamConfig{URL: bad}); err == nil || strings.Contains(err.Error(), ":p@") {
			t.Errorf("NewUpstream(%q) = %v", bad, err)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := secret("hunter2-upstream")
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "pass", s)
	js, _ := json.Marshal(map[string]any{"pass": s})
	for _, out := range []string{s.String(), s.GoString(), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s), logs.String(), string(js)} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
}
