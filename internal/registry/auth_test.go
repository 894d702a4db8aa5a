package registry_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// accessOf decodes the access claim of a token (the signature is checked by the registry tests).
func accessOf(t *testing.T, tok string) map[string][]string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c jwtauth.Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Access == nil {
		t.Fatalf("token without an access claim: %s", raw)
	}
	out := map[string][]string{}
	for _, a := range c.Access {
		out[a.Type+":"+a.Name] = a.Actions
	}
	return out
}

func TestTokenEndpoint(t *testing.T) {
	e := newClientEnv(t)
	base := e.ts.URL
	rw, ro := e.rw, e.ro

	t.Run("ok/no scope gives a token with empty access (docker login)", func(t *testing.T) {
		status, tok := tokenFor(t, base, rw.Username, rw.Token)
		if status != http.StatusOK || len(accessOf(t, tok)) != 0 {
			t.Fatalf("%d %v", status, accessOf(t, tok))
		}
		resp, err := http.Get(base + "/jwt/auth?service=container_registry")
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || body["token"] == nil || body["access_token"] != body["token"] ||
			body["expires_in"] != float64(300) || body["issued_at"] == nil {
			t.Fatalf("anonymous token answer %d %v", resp.StatusCode, body)
		}
	})
	t.Run("ok/grant is requested ∩ allowed; deploy tokens never delete", func(t *testing.T) {
		_, tok := tokenFor(t, base, rw.Username, rw.Token, "repository:group/top/app:pull,push,delete", "repository:group/top:*")
		got := accessOf(t, tok)
		if !slices.Equal(got["repository:group/top/app"], []string{"pull", "push"}) || !slices.Equal(got["repository:group/top"], []string{"pull", "push"}) {
			t.Fatalf("access %v", got)
		}
		_, tok = tokenFor(t, base, ro.Username, ro.Token, "repository:group/top/app:pull,push")
		if got := accessOf(t, tok); !slices.Equal(got["repository:group/top/app"], []string{"pull"}) {
			t.Fatalf("read-only access %v", got)
		}
	})
	t.Run("ok/several scopes in one parameter and repeated parameters", func(t *testing.T) {
		_, tok := tokenFor(t, base, rw.Username, rw.Token, "repository:group/top/a:pull repository:group/top/b:push", "repository:group/top/c:pull")
		got := accessOf(t, tok)
		if len(got) != 3 || got["repository:group/top/b"][0] != "push" {
			t.Fatalf("access %v", got)
		}
	})
	t.Run("ok/denied scopes are dropped, not errors", func(t *testing.T) {
		status, tok := tokenFor(t, base, rw.Username, rw.Token, "repository:other/sibling/x:pull", "repository:no/such/project:pull",
			"repository:Not_A_Name:pull", "registry:catalog:*", "repository:group/top:pull")
		got := accessOf(t, tok)
		if status != http.StatusOK || len(got) != 1 || got["repository:group/top"][0] != "pull" {
			t.Fatalf("%d %v", status, got)
		}
	})
	t.Run("ok/group token reaches subgroup projects only", func(t *testing.T) {
		_, tok := tokenFor(t, base, e.group.Username, e.group.Token, "repository:group/sub/subsub/grandchild/x:pull,push",
			"repository:other/sibling:pull")
		got := accessOf(t, tok)
		if len(got) != 1 || !slices.Equal(got["repository:group/sub/subsub/grandchild/x"], []string{"pull"}) {
			t.Fatalf("access %v", got)
		}
	})
	t.Run("ok/catalog for administrators only", func(t *testing.T) {
		_, tok := tokenFor(t, base, "root", e.ts.RootToken, "registry:catalog:*", "repository:group/top:*")
		got := accessOf(t, tok)
		if !slices.Equal(got["registry:catalog"], []string{"*"}) || !slices.Equal(got["repository:group/top"], []string{"pull", "push", "delete"}) {
			t.Fatalf("admin access %v", got)
		}
		dev, pat := makeMember(t, e.ts, "projects/"+itoa(e.f.Projects["top"].ID), 30)
		_, tok = tokenFor(t, base, dev, pat, "registry:catalog:*", "repository:group/top:pull,push,delete")
		got = accessOf(t, tok)
		if _, ok := got["registry:catalog"]; ok || !slices.Equal(got["repository:group/top"], []string{"pull", "push"}) {
			t.Fatalf("developer access %v", got)
		}
	})
	t.Run("ok/password login", func(t *testing.T) {
		// makeMember gives the user the password "password-<name>".
		user, _ := makeMember(t, e.ts, "projects/"+itoa(e.f.Projects["top"].ID), 20)
		status, tok := tokenFor(t, base, user, "password-"+user, "repository:group/top:pull")
		if status != http.StatusOK || accessOf(t, tok)["repository:group/top"][0] != "pull" {
			t.Fatalf("%d", status)
		}
	})
	t.Run("fail/unknown service is 404", func(t *testing.T) {
		resp, err := http.Get(base + "/jwt/auth?service=nope&scope=repository:group/top:pull")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/invalid credentials are 401", func(t *testing.T) {
		for _, c := range [][2]string{{rw.Username, rw.Token + "x"}, {"someone-else", rw.Token}, {"root", "wrong"}, {"x", "glpat-nope"}} {
			if status, _ := tokenFor(t, base, c[0], c[1], "repository:group/top:pull"); status != http.StatusUnauthorized {
				t.Fatalf("%s: status %d", c[0], status)
			}
		}
	})
	t.Run("fail/malformed scope is 400", func(t *testing.T) {
		if status, _ := tokenFor(t, base, rw.Username, rw.Token, "repository:group/top"); status != http.StatusBadRequest {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("fail/revoked deploy token cannot log in", func(t *testing.T) {
		dt := e.ts.CreateDeployToken(t, "projects/"+itoa(e.f.Projects["top"].ID), []string{"read_registry"}, nil)
		e.ts.MustAPI(t, http.StatusNoContent, "DELETE", "/projects/"+itoa(e.f.Projects["top"].ID)+"/deploy_tokens/"+itoa(dt.ID), nil, nil)
		if status, _ := tokenFor(t, base, dt.Username, dt.Token); status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
	})
}

// TestTokenEndpointBan: /jwt/auth failures count toward the shared failed-auth ban.
func TestTokenEndpointBan(t *testing.T) {
	ts, f, _ := startRegistry(t, func(c *config.Config) { c.AuthBan.ExemptLoopback = false })
	dt := ts.CreateDeployToken(t, "projects/"+itoa(f.Projects["top"].ID), []string{"read_registry"}, nil)
	for i := range 10 {
		if status, _ := tokenFor(t, ts.URL, dt.Username, "gldt-wrong"); status != http.StatusUnauthorized && i < 9 {
			t.Fatalf("attempt %d: %d", i, status)
		}
	}
	if status, _ := tokenFor(t, ts.URL, dt.Username, dt.Token); status != http.StatusForbidden {
		t.Fatalf("banned client got %d, want 403", status)
	}
}

// regRequest sends an HTTP request to the registry with an optional bearer token.
func regRequest(t *testing.T, method, u, tok string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("status %d without an OCI error envelope (%v)", resp.StatusCode, err)
	}
	return body.Errors[0].Code
}

func TestChallengesAndDenials(t *testing.T) {
	e := newClientEnv(t)
	base := e.ts.URL
	realm := `Bearer realm="` + base + `/jwt/auth",service="container_registry"`
	_, rwTok := tokenFor(t, base, e.rw.Username, e.rw.Token, "repository:group/top/app:pull")
	_, otherTok := tokenFor(t, base, e.other.Username, e.other.Token, "repository:group/top/app:pull")

	for _, c := range []struct {
		name, method, path, tok string
		status                  int
		code, challenge         string
	}{
		{"fail/base without a token", "GET", "/v2/", "", 401, "UNAUTHORIZED", realm},
		{"ok/base with any valid token", "GET", "/v2/", otherTok, 200, "", ""},
		{"fail/base with a forged token", "GET", "/v2/", rwTok + "x", 401, "UNAUTHORIZED", realm + `,error="invalid_token"`},
		{"fail/pull without a token", "GET", "/v2/group/top/app/manifests/v1", "", 401, "UNAUTHORIZED",
			realm + `,scope="repository:group/top/app:pull"`},
		{"fail/push without a token", "POST", "/v2/group/top/app/blobs/uploads/", "", 401, "UNAUTHORIZED",
			realm + `,scope="repository:group/top/app:pull,push"`},
		{"fail/push with a pull token", "POST", "/v2/group/top/app/blobs/uploads/", rwTok, 401, "UNAUTHORIZED",
			realm + `,scope="repository:group/top/app:pull,push",error="insufficient_scope"`},
		{"fail/delete with a deploy token is denied, not challenged", "DELETE", "/v2/group/top/app/manifests/v1", rwTok, 403, "DENIED", ""},
		{"fail/other project's token is denied", "GET", "/v2/group/top/app/manifests/v1", otherTok, 403, "DENIED", ""},
		{"fail/no such project is denied alike", "GET", "/v2/no/such/app/manifests/v1", otherTok, 403, "DENIED", ""},
		{"fail/catalog for a deploy token", "GET", "/v2/_catalog", rwTok, 403, "DENIED", ""},
		{"ok/empty repository of a readable project", "GET", "/v2/group/top/app/manifests/v1", rwTok, 404, "MANIFEST_UNKNOWN", ""},
		{"fail/invalid name", "GET", "/v2/Group/top/manifests/v1", rwTok, 400, "NAME_INVALID", ""},
		{"fail/wrong method", "PATCH", "/v2/group/top/app/manifests/v1", rwTok, 405, "UNSUPPORTED", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := regRequest(t, c.method, base+c.path, c.tok, nil, "")
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
				t.Fatal("no Docker-Distribution-API-Version header")
			}
			if c.challenge != resp.Header.Get("WWW-Authenticate") {
				t.Fatalf("challenge %q, want %q", resp.Header.Get("WWW-Authenticate"), c.challenge)
			}
			if c.code != "" && errorCode(t, resp) != c.code {
				t.Fatalf("wrong error code")
			}
		})
	}
	t.Run("ok/admin learns that a name is unknown", func(t *testing.T) {
		_, tok := tokenFor(t, base, "root", e.ts.RootToken, "repository:no/such/app:pull")
		resp := regRequest(t, "GET", base+"/v2/no/such/app/tags/list", tok, nil, "")
		if resp.StatusCode != 404 || errorCode(t, resp) != "NAME_UNKNOWN" {
			t.Fatalf("status %d", resp.StatusCode)
		}
		_, tok = tokenFor(t, base, "root", e.ts.RootToken, "registry:catalog:*")
		resp = regRequest(t, "GET", base+"/v2/_catalog", tok, nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("catalog status %d", resp.StatusCode)
		}
	})
}

// pushBlob uploads data into repo with a monolithic POST and returns its digest.
func pushBlob(t *testing.T, base, repo, tok string, data string) string {
	t.Helper()
	d := sha256Digest(data)
	resp := regRequest(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+url.QueryEscape(d), tok, nil, data)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push blob to %s: %d", repo, resp.StatusCode)
	}
	return d
}

// TestBlobIsolationAndMounts: a blob is served only from repositories that pushed or mounted it,
// and a mount needs read access to its source; otherwise the POST falls back to an upload.
func TestBlobIsolationAndMounts(t *testing.T) {
	e := newClientEnv(t)
	base := e.ts.URL
	_, tok := tokenFor(t, base, e.rw.Username, e.rw.Token, "repository:group/top/a:pull,push", "repository:group/top/b:pull,push",
		"repository:group/top/c:pull,push", "repository:group/top/d:pull,push")
	d := pushBlob(t, base, "group/top/a", tok, "hello blob")
	if resp := regRequest(t, "HEAD", base+"/v2/group/top/a/blobs/"+d, tok, nil, ""); resp.StatusCode != 200 || resp.ContentLength != 10 {
		t.Fatalf("HEAD in its repository: %d %d", resp.StatusCode, resp.ContentLength)
	}
	if resp := regRequest(t, "GET", base+"/v2/group/top/b/blobs/"+d, tok, nil, ""); resp.StatusCode != 404 || errorCode(t, resp) != "BLOB_UNKNOWN" {
		t.Fatalf("GET from another repository: %d", resp.StatusCode)
	}
	// Mount from a readable repository: 201.
	resp := regRequest(t, "POST", base+"/v2/group/top/b/blobs/uploads/?mount="+d+"&from=group/top/a", tok, nil, "")
	if resp.StatusCode != 201 || resp.Header.Get("Docker-Content-Digest") != d {
		t.Fatalf("mount: %d", resp.StatusCode)
	}
	// Mount without "from" finds it in the same project.
	if resp := regRequest(t, "POST", base+"/v2/group/top/c/blobs/uploads/?mount="+d, tok, nil, ""); resp.StatusCode != 201 {
		t.Fatalf("mount without from: %d", resp.StatusCode)
	}
	// The other project's token holder pushes the same bytes knowing only the digest: a mount
	// from group/top/a (which it cannot read) falls back to an upload session.
	_, otherTok := tokenFor(t, base, e.other.Username, e.other.Token, "repository:other/sibling/x:pull,push", "repository:group/top/a:pull")
	resp = regRequest(t, "POST", base+"/v2/other/sibling/x/blobs/uploads/?mount="+d+"&from=group/top/a", otherTok, nil, "")
	if resp.StatusCode != 202 || resp.Header.Get("Location") == "" {
		t.Fatalf("mount from an unreadable repository: %d, want 202", resp.StatusCode)
	}
	if resp := regRequest(t, "POST", base+"/v2/other/sibling/x/blobs/uploads/?mount="+d, otherTok, nil, ""); resp.StatusCode != 202 {
		t.Fatalf("mount without from across projects: %d, want 202", resp.StatusCode)
	}
	if resp := regRequest(t, "HEAD", base+"/v2/other/sibling/x/blobs/"+d, otherTok, nil, ""); resp.StatusCode != 404 {
		t.Fatalf("the blob leaked into the other project: %d", resp.StatusCode)
	}
	// A token lacking pull on a readable source is challenged for both scopes.
	_, narrow := tokenFor(t, base, e.rw.Username, e.rw.Token, "repository:group/top/d:pull,push")
	resp = regRequest(t, "POST", base+"/v2/group/top/d/blobs/uploads/?mount="+d+"&from=group/top/a", narrow, nil, "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"),
		`scope="repository:group/top/d:pull,push repository:group/top/a:pull",error="insufficient_scope"`) {
		t.Fatalf("mount with a narrow token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// An upload session cannot be driven through another repository's URL.
	resp = regRequest(t, "POST", base+"/v2/group/top/a/blobs/uploads/", tok, nil, "")
	loc := resp.Header.Get("Location")
	if resp := regRequest(t, "GET", base+strings.Replace(loc, "/group/top/a/", "/group/top/b/", 1), tok, nil, ""); resp.StatusCode != 404 {
		t.Fatalf("upload status through another repository: %d", resp.StatusCode)
	}
	if resp := regRequest(t, "GET", base+loc, tok, nil, ""); resp.StatusCode != 204 || resp.Header.Get("Range") != "0-0" {
		t.Fatalf("upload status: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
}

func TestManifestValidation(t *testing.T) {
	e := newClientEnv(t)
	base := e.ts.URL
	_, tok := tokenFor(t, base, e.rw.Username, e.rw.Token, "repository:group/top/app:pull,push")
	cfg := pushBlob(t, base, "group/top/app", tok, "{}")
	layer := sha256Digest("not pushed")
	manifest := func(layers ...string) string {
		var ls []string
		for _, l := range layers {
			ls = append(ls, `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+l+`","size":10}`)
		}
		return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			cfg + `","size":2},"layers":[` + strings.Join(ls, ",") + `]}`
	}
	ct := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
	put := func(ref, body string, hdr map[string]string) *http.Response {
		return regRequest(t, "PUT", base+"/v2/group/top/app/manifests/"+ref, tok, hdr, body)
	}
	for _, c := range []struct {
		name, ref, body string
		hdr             map[string]string
		status          int
		code            string
	}{
		{"fail/malformed JSON", "v1", `{"schemaVersion":2,`, ct, 400, "MANIFEST_INVALID"},
		{"fail/missing layer blob", "v1", manifest(layer), ct, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"fail/index of a missing manifest", "v1", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` +
			layer + `","size":1}]}`, map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"fail/Content-Type contradicts mediaType", "v1", manifest(), map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}, 400, "MANIFEST_INVALID"},
		{"fail/digest does not match", sha256Digest("other"), manifest(), ct, 400, "DIGEST_INVALID"},
		{"fail/larger than 4 MiB", "v1", `{"schemaVersion":2,"x":"` + strings.Repeat("a", 4<<20) + `"}`, ct, 413, "SIZE_INVALID"},
		{"fail/invalid tag parameter", sha256Digest(manifest()) + "?tag=-bad", manifest(), ct, 400, "MANIFEST_INVALID"},
		{"ok/valid", "v1", manifest(), ct, 201, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := put(c.ref, c.body, c.hdr)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.code != "" && errorCode(t, resp) != c.code {
				t.Fatal("wrong code")
			}
		})
	}
	resp := regRequest(t, "GET", base+"/v2/group/top/app/manifests/v1", tok, nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.oci.image.manifest.v1+json" ||
		resp.Header.Get("Docker-Content-Digest") != sha256Digest(manifest()) {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestTagsAndChunks(t *testing.T) {
	e := newClientEnv(t)
	base := e.ts.URL
	_, tok := tokenFor(t, base, e.rw.Username, e.rw.Token, "repository:group/top/app:pull,push")
	cfg := pushBlob(t, base, "group/top/app", tok, "{}")
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfg + `","size":2},"layers":[]}`
	for _, tag := range []string{"b", "a", "c", "B"} {
		if resp := regRequest(t, "PUT", base+"/v2/group/top/app/manifests/"+tag, tok,
			map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, m); resp.StatusCode != 201 {
			t.Fatalf("push %s: %d", tag, resp.StatusCode)
		}
	}
	list := func(query string) ([]string, string) {
		resp := regRequest(t, "GET", base+"/v2/group/top/app/tags/list"+query, tok, nil, "")
		var body struct {
			Name string
			Tags []string
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.Name != "group/top/app" {
			t.Fatalf("tags/list%s: %d %v", query, resp.StatusCode, err)
		}
		return body.Tags, resp.Header.Get("Link")
	}
	if tags, link := list(""); !slices.Equal(tags, []string{"B", "a", "b", "c"}) || link != "" {
		t.Fatalf("all: %v %q", tags, link)
	}
	tags, link := list("?n=2")
	if !slices.Equal(tags, []string{"B", "a"}) || link != `</v2/group/top/app/tags/list?last=a&n=2>; rel="next"` {
		t.Fatalf("page 1: %v %q", tags, link)
	}
	if tags, link := list("?n=2&last=a"); !slices.Equal(tags, []string{"b", "c"}) || link != "" {
		t.Fatalf("page 2: %v %q", tags, link)
	}
	if tags, link := list("?n=0"); tags == nil || len(tags) != 0 || link != "" {
		t.Fatalf("n=0: %v %q", tags, link)
	}

	// Chunks must arrive in order and match their Content-Range.
	resp := regRequest(t, "POST", base+"/v2/group/top/app/blobs/uploads/", tok, nil, "")
	loc := resp.Header.Get("Location")
	patch := func(rng, body string) *http.Response {
		return regRequest(t, "PATCH", base+loc, tok, map[string]string{"Content-Range": rng, "Content-Type": "application/octet-stream"}, body)
	}
	if resp := patch("0-4", "hello"); resp.StatusCode != 202 || resp.Header.Get("Range") != "0-4" {
		t.Fatalf("chunk 1: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if resp := patch("10-14", "world"); resp.StatusCode != 416 || resp.Header.Get("Range") != "0-4" {
		t.Fatalf("out of order: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if resp := patch("5-9", " wor"); resp.StatusCode != 400 {
		t.Fatalf("short chunk: %d", resp.StatusCode)
	}
	if resp := regRequest(t, "GET", base+loc, tok, nil, ""); resp.StatusCode != 204 || resp.Header.Get("Range") != "0-4" {
		t.Fatalf("status after a refused chunk: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if resp := patch("5-10", " world"); resp.StatusCode != 202 {
		t.Fatalf("chunk 2: %d", resp.StatusCode)
	}
	d := sha256Digest("hello world")
	if resp := regRequest(t, "PUT", base+loc+"&digest="+d, tok, nil, ""); resp.StatusCode != 201 {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	resp = regRequest(t, "GET", base+"/v2/group/top/app/blobs/"+d, tok, map[string]string{"Range": "bytes=6-"}, "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(body) != "world" || resp.Header.Get("Content-Range") != "bytes 6-10/11" {
		t.Fatalf("range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	if resp := regRequest(t, "GET", base+"/v2/group/top/app/blobs/"+d, tok, map[string]string{"If-None-Match": `"` + d + `"`}, ""); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
}

// TestNoSecretsInLogs drives the registry's success and failure paths and checks that no deploy
// token, personal access token or issued JWT reaches the logs.
func TestNoSecretsInLogs(t *testing.T) {
	e := newClientEnv(t)
	base := e.ts.URL
	crane := testenv.GoTool(t, "crane")
	home := t.TempDir()
	testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.rw.Username, "-p", e.rw.Token)
	testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 1000), "-t", e.host+"/group/top/app:v1")
	_, jwtRW := tokenFor(t, base, e.rw.Username, e.rw.Token, "repository:group/top/app:pull,push")
	_, jwtRO := tokenFor(t, base, e.ro.Username, e.ro.Token, "repository:group/top/app:pull,push")
	tokenFor(t, base, e.rw.Username, e.rw.Token+"x", "repository:group/top/app:pull")
	tokenFor(t, base, e.rw.Token, e.rw.Token, "repository:group/top/app:pull")
	tokenFor(t, base, "root", e.ts.RootToken, "repository:group/top/app:pull")
	regRequest(t, "POST", base+"/v2/group/top/app/blobs/uploads/", jwtRO, nil, "")
	regRequest(t, "GET", base+"/v2/group/top/app/manifests/v1", jwtRW+"x", nil, "")
	regRequest(t, "DELETE", base+"/v2/group/top/app/manifests/v1", jwtRW, nil, "")
	e.ts.MustAPI(t, http.StatusNoContent, "DELETE", "/projects/"+itoa(e.f.Projects["top"].ID)+"/deploy_tokens/"+itoa(e.rw.ID), nil, nil)
	regRequest(t, "GET", base+"/v2/group/top/app/manifests/v1", jwtRW, nil, "")
	logs := e.ts.Logs()
	if !strings.Contains(logs, "/v2/group/top/app/manifests/v1") {
		t.Fatal("the logs do not show the requests: is the capture working?")
	}
	for name, secret := range map[string]string{"deploy token": e.rw.Token, "read-only token": e.ro.Token,
		"root token": e.ts.RootToken, "JWT": jwtRW, "JWT signature": jwtRW[strings.LastIndexByte(jwtRW, '.')+1:],
		"read-only JWT": jwtRO} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}
