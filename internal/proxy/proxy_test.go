package proxy_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a Gatehouse whose dependency proxy pulls from a second Gatehouse (through a spy that
// counts upstream requests), with the standard fixture tree and deploy tokens.
type env struct {
	up    *upstream
	ts    *testenv.TestServer
	host  string
	f     testenv.Fixture
	crane string
	// Deploy tokens: read (read_virtual_registry) and write (write_virtual_registry) of the
	// group "group"; sub (read) of group/sub; other (read) of the sibling group "other";
	// noScope (read_registry) of "group"; project (read_virtual_registry) of project group/top;
	// legacy (read_registry and write_registry, GitLab's rule before the virtual-registry
	// scopes) of "group", and legacyProject (the same) of project group/top.
	read, write, sub, other, noScope, project, legacy, legacyProject testenv.DeployToken
	// manifest and layer are the digests of the upstream image group/pub/app:v1 (public).
	manifest, layer string
}

func newEnv(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	up := startUpstream(t)
	e := &env{up: up, crane: testenv.GoTool(t, "crane")}
	e.manifest, e.layer = up.push(t, "group/pub/app:v1", 64<<10)
	e.ts = testenv.StartServer(t, append([]testenv.ServerOption{testenv.Localhost, func(c *config.Config) {
		c.DependencyProxy.UpstreamURL = up.spy.srv.URL
	}}, opts...)...)
	e.host = hostOf(t, e.ts)
	e.f = e.ts.MakeFixture(t)
	group := "groups/" + itoa(e.f.GroupID)
	e.read = e.ts.CreateDeployToken(t, group, []string{"read_virtual_registry"}, nil)
	e.write = e.ts.CreateDeployToken(t, group, []string{"write_virtual_registry"}, nil)
	e.noScope = e.ts.CreateDeployToken(t, group, []string{"read_registry", "read_repository"}, nil)
	e.sub = e.ts.CreateDeployToken(t, "groups/"+itoa(e.f.SubID), []string{"read_virtual_registry"}, nil)
	e.other = e.ts.CreateDeployToken(t, "groups/"+itoa(e.f.OtherGroupID), []string{"read_virtual_registry"}, nil)
	e.project = e.ts.CreateDeployToken(t, "projects/"+itoa(e.f.Projects["top"].ID), []string{"read_virtual_registry", "read_registry"}, nil)
	e.legacy = e.ts.CreateDeployToken(t, group, []string{"read_registry", "write_registry"}, nil)
	e.legacyProject = e.ts.CreateDeployToken(t, "projects/"+itoa(e.f.Projects["top"].ID), []string{"read_registry", "write_registry"}, nil)
	return e
}

// image is the proxy's name for an upstream image in group's proxy: host/<group>/dependency_proxy/containers/<image>.
func (e *env) image(group, upstreamImage string) string {
	return e.host + "/" + group + "/dependency_proxy/containers/" + upstreamImage
}

// login is a fresh crane HOME logged in to the proxy's host as tok.
func (e *env) login(t *testing.T, tok testenv.DeployToken) string {
	t.Helper()
	home := t.TempDir()
	testenv.MustRun(t, home, e.crane, "auth", "login", e.host, "-u", tok.Username, "-p", tok.Token)
	return home
}

// bearer is a dependency_proxy token for tok with the scope actions on the proxy image.
func (e *env) bearer(t *testing.T, tok testenv.DeployToken, group, image, actions string) string {
	t.Helper()
	status, jwt, _ := testenv.RegistryToken(t, e.ts.URL, "dependency_proxy", tok.Username, tok.Token,
		"repository:"+group+"/dependency_proxy/containers/"+image+":"+actions)
	if status != http.StatusOK {
		t.Fatalf("token: %d", status)
	}
	return jwt
}

func (e *env) url(group, image, endpoint string) string {
	return e.ts.URL + "/v2/" + group + "/dependency_proxy/containers/" + image + "/" + endpoint
}

// TestPullThroughProxy pulls an upstream image with crane and skopeo through a group's proxy,
// checks what reaches the upstream, and who is refused.
func TestPullThroughProxy(t *testing.T) {
	e := newEnv(t)
	ref := e.image("group", "group/pub/app")
	home := e.login(t, e.read)

	testenv.MustRun(t, home, e.crane, "pull", ref+":v1", filepath.Join(home, "app.tar"))
	if got := strings.TrimSpace(testenv.MustRun(t, home, e.crane, "digest", ref+":v1")); got != e.manifest {
		t.Fatalf("digest through the proxy %s, upstream %s", got, e.manifest)
	}
	upstreamManifest := testenv.MustRun(t, e.up.home, e.crane, "manifest", e.up.host+"/group/pub/app:v1")
	if got := testenv.MustRun(t, home, e.crane, "manifest", ref+":v1"); got != upstreamManifest {
		t.Fatalf("manifest through the proxy differs from the upstream's:\n%s\n%s", got, upstreamManifest)
	}
	if n := e.up.spy.count("GET", "/blobs/"+e.layer); n != 1 {
		t.Fatalf("layer fetched %d times from the upstream, want 1", n)
	}
	if n := e.up.spy.count("GET", "/manifests/"); n != 1 {
		t.Fatalf("manifest fetched %d times from the upstream, want 1", n)
	}

	t.Run("ok/second pull is served from the cache", func(t *testing.T) {
		before := e.up.spy.total()
		home := e.login(t, e.read)
		testenv.MustRun(t, home, e.crane, "pull", ref+":v1", filepath.Join(home, "again.tar"))
		testenv.MustRun(t, home, e.crane, "pull", ref+"@"+e.manifest, filepath.Join(home, "by-digest.tar"))
		if after := e.up.spy.total(); after != before {
			t.Fatalf("the cached image reached the upstream %d more times", after-before)
		}
	})
	t.Run("ok/skopeo", func(t *testing.T) {
		skopeo := testenv.Binary(t, "skopeo")
		home := t.TempDir()
		testenv.MustRun(t, home, skopeo, "--insecure-policy", "copy", "--src-tls-verify=false",
			"--src-creds", e.read.Username+":"+e.read.Token, "docker://"+ref+":v1", "dir:"+filepath.Join(home, "dir"))
		out := testenv.MustRun(t, home, skopeo, "inspect", "--no-tags", "--tls-verify=false", "--creds", e.write.Username+":"+e.write.Token,
			"docker://"+ref+":v1")
		if !strings.Contains(out, e.manifest) {
			t.Fatalf("skopeo inspect does not show digest %s:\n%s", e.manifest, out)
		}
	})
	t.Run("ok/a group token reaches its subgroups' proxies, each with its own cache", func(t *testing.T) {
		gets, heads := e.up.spy.count("GET", "/blobs/"+e.layer), e.up.spy.count("HEAD", "/blobs/"+e.layer)
		sub := e.image("group/sub", "group/pub/app")
		testenv.MustRun(t, home, e.crane, "pull", sub+":v1", filepath.Join(home, "sub.tar"))
		// The subgroup's cache had nothing, but the bytes are stored: the upstream only confirms
		// it serves the layer for this image.
		if g, h := e.up.spy.count("GET", "/blobs/"+e.layer), e.up.spy.count("HEAD", "/blobs/"+e.layer); g != gets || h != heads+1 {
			t.Fatalf("layer GETs %d→%d, HEADs %d→%d; want the GETs unchanged and one HEAD", gets, g, heads, h)
		}
		subHome := e.login(t, e.sub)
		testenv.MustRun(t, subHome, e.crane, "pull", sub+":v1", filepath.Join(subHome, "sub.tar"))
		testenv.MustFail(t, subHome, []string{"DENIED", "403"}, e.crane, "manifest", ref+":v1")
	})
	t.Run("ok/a group token with read_registry and write_registry, as GitLab still accepts", func(t *testing.T) {
		home := e.login(t, e.legacy)
		testenv.MustRun(t, home, e.crane, "pull", ref+":v1", filepath.Join(home, "legacy.tar"))
		testenv.MustRun(t, home, e.crane, "manifest", e.image("group/sub", "group/pub/app")+":v1")
		testenv.MustFail(t, home, []string{"DENIED", "403"}, e.crane, "manifest", e.image("other", "group/pub/app")+":v1")
	})
	t.Run("fail/anonymous", func(t *testing.T) {
		testenv.MustFail(t, t.TempDir(), []string{"UNAUTHORIZED", "401"}, e.crane, "manifest", ref+":v1")
	})
	for name, tok := range map[string]testenv.DeployToken{
		"a sibling group's token": e.other, "a token with read_registry but not write_registry": e.noScope, "a project token": e.project,
		"a project token with read_registry and write_registry": e.legacyProject} {
		t.Run("fail/"+name, func(t *testing.T) {
			testenv.MustFail(t, e.login(t, tok), []string{"DENIED", "403"}, e.crane, "manifest", ref+":v1")
		})
	}
	t.Run("fail/a private upstream image without upstream credentials", func(t *testing.T) {
		testenv.MustRun(t, e.up.home, e.crane, "append", "--new_layer", testenv.RandomFile(t, e.up.home, "p.bin", 100), "-t", e.up.host+"/group/top/private:v1")
		testenv.MustFail(t, home, []string{"MANIFEST_UNKNOWN", "refused access"}, e.crane, "manifest", e.image("group", "group/top/private")+":v1")
	})
	t.Run("fail/disabled proxy, for deploy tokens and administrators", func(t *testing.T) {
		path := "/groups/" + itoa(e.f.GroupID) + "/dependency_proxy"
		var s struct {
			Enabled bool `json:"enabled"`
		}
		e.ts.MustAPI(t, http.StatusOK, "GET", path, nil, &s)
		if !s.Enabled {
			t.Fatal("a group's proxy is disabled by default")
		}
		e.ts.MustAPI(t, http.StatusOK, "PUT", path, map[string]any{"enabled": false}, &s)
		if s.Enabled {
			t.Fatal("PUT enabled=false answered enabled")
		}
		testenv.MustFail(t, home, []string{"DENIED", "403"}, e.crane, "manifest", ref+":v1")
		root := t.TempDir()
		testenv.MustRun(t, root, e.crane, "auth", "login", e.host, "-u", "root", "-p", e.ts.RootToken)
		testenv.MustFail(t, root, []string{"DENIED", "403"}, e.crane, "manifest", ref+":v1")
		// Subgroups keep their own setting, as in GitLab.
		testenv.MustRun(t, home, e.crane, "manifest", e.image("group/sub", "group/pub/app")+":v1")
		e.ts.MustAPI(t, http.StatusOK, "PUT", path, map[string]any{"enabled": true}, &s)
		testenv.MustRun(t, home, e.crane, "manifest", ref+":v1")
		testenv.MustRun(t, root, e.crane, "manifest", ref+":v1")
	})
}

// TestTokensAndChallenges checks /jwt/auth's grants for the proxy, the challenge, and that
// pushes are refused.
func TestTokensAndChallenges(t *testing.T) {
	e := newEnv(t)
	name := "group/dependency_proxy/containers/group/pub/app"
	scope := "repository:" + name + ":pull,push,delete"
	for _, c := range []struct {
		name string
		tok  testenv.DeployToken
		want []string
	}{
		{"ok/read_virtual_registry gets pull", e.read, []string{"repository:" + name + ":pull"}},
		{"ok/write_virtual_registry gets pull, push and delete", e.write, []string{"repository:" + name + ":pull,push,delete"}},
		{"fail/a project token gets nothing", e.project, nil},
		{"fail/a sibling group's token gets nothing", e.other, nil},
		{"fail/read_registry gets nothing", e.noScope, nil},
		{"ok/read_registry and write_registry get pull, push and delete", e.legacy, []string{"repository:" + name + ":pull,push,delete"}},
		{"fail/a project token with read_registry and write_registry gets nothing", e.legacyProject, nil},
		{"fail/a subgroup token gets nothing on its parent", e.sub, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, access := testenv.RegistryToken(t, e.ts.URL, "dependency_proxy", c.tok.Username, c.tok.Token, scope)
			if status != http.StatusOK || !slices.Equal(access, c.want) {
				t.Fatalf("dependency_proxy: %d %v, want %v", status, access, c.want)
			}
			// The container registry's service grants the proxy's names too (clients ask for the
			// service of the /v2/ challenge, the registry's on a host serving both), never push.
			var noPush []string
			for _, a := range c.want {
				noPush = append(noPush, strings.Replace(a, "pull,push,delete", "pull,delete", 1))
			}
			status, _, access = testenv.RegistryToken(t, e.ts.URL, "container_registry", c.tok.Username, c.tok.Token, scope)
			if status != http.StatusOK || !slices.Equal(access, noPush) {
				t.Fatalf("container_registry: %d %v, want %v", status, access, noPush)
			}
		})
	}
	t.Run("ok/challenge names the proxy's service and scope", func(t *testing.T) {
		resp := get(t, context.Background(), http.MethodGet, e.url("group", "group/pub/app", "manifests/v1"), "")
		ch := resp.Header.Get("WWW-Authenticate")
		want := `Bearer realm="` + e.ts.URL + `/jwt/auth",service="dependency_proxy",scope="repository:` + name + `:pull"`
		if resp.StatusCode != http.StatusUnauthorized || ch != want || ociError(t, resp) != "UNAUTHORIZED" {
			t.Fatalf("%d %q, want 401 %q", resp.StatusCode, ch, want)
		}
	})
	t.Run("fail/a token for another image is challenged for this one", func(t *testing.T) {
		jwt := e.bearer(t, e.read, "group", "other/image", "pull")
		resp := get(t, context.Background(), http.MethodGet, e.url("group", "group/pub/app", "manifests/v1"), jwt)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		resp.Body.Close()
	})
	t.Run("fail/pushes are unsupported", func(t *testing.T) {
		jwt := e.bearer(t, e.write, "group", "group/pub/app", "pull,push")
		for _, c := range []struct{ method, endpoint string }{
			{http.MethodPost, "blobs/uploads/"}, {http.MethodPatch, "blobs/uploads/abc"},
			{http.MethodPut, "manifests/v2"}, {http.MethodPost, "blobs/" + e.layer}} {
			resp := get(t, context.Background(), c.method, e.url("group", "group/pub/app", c.endpoint), jwt)
			if resp.StatusCode != http.StatusMethodNotAllowed || ociError(t, resp) != "UNSUPPORTED" {
				t.Fatalf("%s %s: %d", c.method, c.endpoint, resp.StatusCode)
			}
		}
	})
	t.Run("ok/write_virtual_registry deletes cached content; read_virtual_registry cannot", func(t *testing.T) {
		read := e.bearer(t, e.read, "group", "group/pub/app", "pull,delete")
		resp := get(t, context.Background(), http.MethodGet, e.url("group", "group/pub/app", "manifests/v1"), read)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("pull: %d", resp.StatusCode)
		}
		resp = get(t, context.Background(), http.MethodDelete, e.url("group", "group/pub/app", "manifests/"+e.manifest), read)
		if resp.StatusCode != http.StatusForbidden || ociError(t, resp) != "DENIED" {
			t.Fatalf("delete with read_virtual_registry: %d", resp.StatusCode)
		}
		write := e.bearer(t, e.write, "group", "group/pub/app", "pull,delete")
		before := e.up.spy.count("HEAD", "/manifests/")
		for _, c := range []struct {
			endpoint string
			status   int
		}{
			{"manifests/" + e.manifest, http.StatusAccepted},
			{"manifests/" + e.manifest, http.StatusNotFound},
			{"manifests/v1", http.StatusNotFound}, // the tag went with its manifest
			{"blobs/" + e.layer, http.StatusNotFound},
		} {
			resp := get(t, context.Background(), http.MethodDelete, e.url("group", "group/pub/app", c.endpoint), write)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("DELETE %s: %d, want %d", c.endpoint, resp.StatusCode, c.status)
			}
		}
		// Deleted from the cache: the next pull asks the upstream again (a HEAD: the bytes are
		// still stored until garbage collection, so they need not travel again).
		resp = get(t, context.Background(), http.MethodGet, e.url("group", "group/pub/app", "manifests/v1"), write)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || e.up.spy.count("HEAD", "/manifests/") != before+1 {
			t.Fatalf("pull after delete: %d, upstream manifest HEADs %d→%d", resp.StatusCode, before, e.up.spy.count("HEAD", "/manifests/"))
		}
	})
	t.Run("ok/crane deletes a cached manifest with write_virtual_registry", func(t *testing.T) {
		ref := e.image("group", "group/pub/app")
		home := e.login(t, e.write)
		testenv.MustRun(t, home, e.crane, "manifest", ref+":v1")
		testenv.MustFail(t, e.login(t, e.read), []string{"DENIED", "403", "UNAUTHORIZED"}, e.crane, "delete", ref+"@"+e.manifest)
		testenv.MustRun(t, home, e.crane, "delete", ref+"@"+e.manifest)
		if _, err := e.ts.Server.Store.Proxy.ProxyManifest(context.Background(), e.f.GroupID, "group/pub/app", e.manifest); err == nil {
			t.Fatal("crane delete left the cached manifest")
		}
	})
	t.Run("ok/settings API: owners only", func(t *testing.T) {
		path := "/groups/" + itoa(e.f.GroupID) + "/dependency_proxy"
		var u struct {
			ID int64 `json:"id"`
		}
		e.ts.MustAPI(t, http.StatusCreated, "POST", "/users", map[string]any{"username": "dev", "email": "dev@example.com",
			"name": "Dev", "password": "password-dev-1"}, &u)
		var pat struct {
			Token string `json:"token"`
		}
		e.ts.MustAPI(t, http.StatusCreated, "POST", "/users/"+itoa(u.ID)+"/personal_access_tokens",
			map[string]any{"name": "pat", "scopes": []string{"api"}}, &pat)
		e.ts.MustAPI(t, http.StatusCreated, "POST", "/groups/"+itoa(e.f.GroupID)+"/members", map[string]any{"user_id": u.ID, "access_level": 40}, nil)
		if got := e.ts.APIAs(t, pat.Token, "GET", path, nil, nil); got != http.StatusOK {
			t.Fatalf("maintainer reads the setting: %d", got)
		}
		if got := e.ts.APIAs(t, pat.Token, "PUT", path, map[string]any{"enabled": false}, nil); got != http.StatusForbidden {
			t.Fatalf("maintainer changes the setting: %d, want 403", got)
		}
		if got := e.ts.APIAs(t, pat.Token, "DELETE", path+"/cache", nil, nil); got != http.StatusForbidden {
			t.Fatalf("maintainer purges: %d, want 403", got)
		}
		if got := e.ts.APIAs(t, "", "GET", path, nil, nil); got != http.StatusUnauthorized {
			t.Fatalf("anonymous reads the setting: %d, want 401", got)
		}
		if got := e.ts.API(t, "PUT", path, map[string]any{"enabled": "maybe"}, nil); got != http.StatusBadRequest {
			t.Fatalf("bad enabled: %d, want 400", got)
		}
		// The owner (root, an admin) purges the cache: the next pull goes upstream again.
		jwt := e.bearer(t, e.read, "group", "group/pub/app", "pull")
		pull := func() {
			t.Helper()
			resp := get(t, context.Background(), http.MethodGet, e.url("group", "group/pub/app", "manifests/v1"), jwt)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("pull: %d", resp.StatusCode)
			}
		}
		pull()
		before := e.up.spy.count("HEAD", "/manifests/")
		pull()
		if e.up.spy.count("HEAD", "/manifests/") != before {
			t.Fatal("a cached tag was checked upstream within the TTL")
		}
		e.ts.MustAPI(t, http.StatusAccepted, "DELETE", path+"/cache", nil, nil)
		if _, err := e.ts.Server.Store.Proxy.ProxyManifest(context.Background(), e.f.GroupID, "group/pub/app", "v1"); err == nil {
			t.Fatal("the purge left the cached tag")
		}
		pull()
		if e.up.spy.count("HEAD", "/manifests/") != before+1 {
			t.Fatalf("pull after purge: upstream manifest HEADs %d→%d", before, e.up.spy.count("HEAD", "/manifests/"))
		}
	})
}

// TestTagRefreshAndUpstreamDown: a cached tag is served without asking the upstream for the
// TTL, then checked with a HEAD (and fetched again only when it moved), and served from the
// cache while the upstream is down.
func TestTagRefreshAndUpstreamDown(t *testing.T) {
	e := newEnv(t)
	ref := e.image("group", "group/pub/app") + ":v1"
	home := e.login(t, e.read)
	digest := func() string { return strings.TrimSpace(testenv.MustRun(t, home, e.crane, "digest", ref)) }
	if got := digest(); got != e.manifest {
		t.Fatalf("first pull %s, want %s", got, e.manifest)
	}
	moved, _ := e.up.push(t, "group/pub/app:v1", 1000)
	heads, gets := e.up.spy.count("HEAD", "/manifests/"), e.up.spy.count("GET", "/manifests/")

	e.ts.Clock.Advance(23 * time.Hour)
	if got := digest(); got != e.manifest {
		t.Fatalf("within the TTL: %s, want the cached %s", got, e.manifest)
	}
	if h, g := e.up.spy.count("HEAD", "/manifests/"), e.up.spy.count("GET", "/manifests/"); h != heads || g != gets {
		t.Fatalf("within the TTL the upstream was asked (HEAD %d→%d, GET %d→%d)", heads, h, gets, g)
	}

	e.ts.Clock.Advance(2 * time.Hour)
	if got := digest(); got != moved {
		t.Fatalf("after the TTL: %s, want the moved tag's %s", got, moved)
	}
	if h, g := e.up.spy.count("HEAD", "/manifests/"), e.up.spy.count("GET", "/manifests/"); h != heads+1 || g != gets+1 {
		t.Fatalf("refresh: HEAD %d→%d, GET %d→%d; want one of each", heads, h, gets, g)
	}
	testenv.MustRun(t, home, e.crane, "pull", ref, filepath.Join(home, "moved.tar"))

	// Unchanged upstream: the HEAD confirms it, nothing is fetched.
	e.ts.Clock.Advance(25 * time.Hour)
	heads, gets = e.up.spy.count("HEAD", "/manifests/"), e.up.spy.count("GET", "/manifests/")
	if got := digest(); got != moved {
		t.Fatalf("after a confirming HEAD: %s", got)
	}
	if h, g := e.up.spy.count("HEAD", "/manifests/"), e.up.spy.count("GET", "/manifests/"); h != heads+1 || g != gets {
		t.Fatalf("confirm: HEAD %d→%d, GET %d→%d; want one HEAD and no GET", heads, h, gets, g)
	}

	// Upstream down: the stale cached tag is still served, in full.
	e.up.spy.srv.Close()
	e.ts.Clock.Advance(48 * time.Hour)
	home2 := e.login(t, e.read)
	testenv.MustRun(t, home2, e.crane, "pull", ref, filepath.Join(home2, "down.tar"))
	if got := strings.TrimSpace(testenv.MustRun(t, home2, e.crane, "digest", ref)); got != moved {
		t.Fatalf("upstream down: %s, want the cached %s", got, moved)
	}
	testenv.MustFail(t, home2, []string{"UNAVAILABLE", "502"}, e.crane, "manifest", e.image("group", "group/pub/never-cached")+":v1")
}

// TestConcurrentPullsFetchOnce: 20 clients asking at once for a blob the cache lacks cause one
// upstream fetch, and all get the right bytes.
func TestConcurrentPullsFetchOnce(t *testing.T) {
	e := newEnv(t)
	_, layer := e.up.push(t, "group/pub/big:v1", 2<<20)
	jwt := e.bearer(t, e.read, "group", "group/pub/big", "pull")
	e.up.spy.set(func(s *spy) { s.delay = 300 * time.Millisecond })
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, e.url("group", "group/pub/big", "blobs/"+layer), nil)
			req.Header.Set("Authorization", "Bearer "+jwt)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || sha256Hex(body) != layer || resp.Header.Get("Docker-Content-Digest") != layer {
				errs <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a concurrent pull failed: %s", err)
	}
	if n := e.up.spy.count("GET", "/blobs/"+layer); n != 1 {
		t.Fatalf("20 concurrent pulls fetched the blob %d times from the upstream, want 1", n)
	}
}

// TestNoPartialOrFalseCacheEntries: a client that goes away mid-blob leaves no partial cache
// entry (and a fetch the upstream then completes is still cached, in full); an upstream that
// sends wrong bytes for a digest is never cached, and the client never gets the whole wrong blob.
func TestNoPartialOrFalseCacheEntries(t *testing.T) {
	e := newEnv(t)
	store, blobs := e.ts.Server.Store, e.ts.Server.Blobs
	ctx := context.Background()
	cached := func(d string) bool {
		_, err := store.Proxy.ProxyBlob(ctx, e.f.GroupID, d)
		return err == nil
	}
	stored := func(d string) bool {
		_, err := blobs.Stat(ctx, blobDigest(d))
		return err == nil
	}
	// cachedSoon waits for a fetch's cache entry: the client may have read the last byte of the
	// tee before the proxy commits what it wrote beside it.
	cachedSoon := func(d string) bool {
		return testenv.Eventually(30*time.Second, func() bool { return cached(d) })
	}
	// abandon starts a GET of a paused blob, reads a little, and goes away.
	abandon := func(t *testing.T, image, layer string) {
		t.Helper()
		jwt := e.bearer(t, e.read, "group", image, "pull")
		cctx, cancel := context.WithCancel(ctx)
		resp := get(t, cctx, http.MethodGet, e.url("group", image, "blobs/"+layer), jwt)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatalf("first bytes: %v", err)
		}
		waitFor(t, e.up.spy.paused, layer, "the upstream to pause")
		cancel()
		resp.Body.Close()
	}

	t.Run("ok/client gone and upstream cut: nothing cached", func(t *testing.T) {
		_, layer := e.up.push(t, "group/pub/cut:v1", 4<<20)
		release := make(chan struct{})
		e.up.spy.set(func(s *spy) { s.pause[layer], s.cut[layer] = release, true })
		abandon(t, "group/pub/cut", layer)
		close(release)
		waitFor(t, e.up.spy.done, layer, "the upstream body to end")
		time.Sleep(200 * time.Millisecond) // let the fetch notice
		if cached(layer) || stored(layer) {
			t.Fatalf("a cut blob was cached (record %v, bytes %v)", cached(layer), stored(layer))
		}
		e.up.spy.set(func(s *spy) { delete(s.pause, layer) })
		jwt := e.bearer(t, e.read, "group", "group/pub/cut", "pull")
		resp := get(t, ctx, http.MethodGet, e.url("group", "group/pub/cut", "blobs/"+layer), jwt)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || sha256Hex(body) != layer || !cachedSoon(layer) || e.up.spy.count("GET", "/blobs/"+layer) != 2 {
			t.Fatalf("pull after the cut: %v, digest ok %v, cached %v, upstream GETs %d", err, sha256Hex(body) == layer,
				cached(layer), e.up.spy.count("GET", "/blobs/"+layer))
		}
	})
	t.Run("ok/client gone, upstream completes: cached in full", func(t *testing.T) {
		_, layer := e.up.push(t, "group/pub/gone:v1", 4<<20)
		release := make(chan struct{})
		e.up.spy.set(func(s *spy) { s.pause[layer] = release })
		abandon(t, "group/pub/gone", layer)
		close(release)
		if !cachedSoon(layer) {
			t.Fatal("a fetch completed after its client left was not cached")
		}
		rc, err := blobs.Open(ctx, blobDigest(layer), 0)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		if sha256Hex(body) != layer {
			t.Fatal("the cached bytes do not match the digest")
		}
		before := e.up.spy.total()
		jwt := e.bearer(t, e.read, "group", "group/pub/gone", "pull")
		resp := get(t, ctx, http.MethodGet, e.url("group", "group/pub/gone", "blobs/"+layer), jwt)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if sha256Hex(body) != layer || e.up.spy.total() != before {
			t.Fatal("the cached blob was not served from the cache")
		}
	})
	t.Run("ok/corrupt upstream blob: never cached, never delivered whole", func(t *testing.T) {
		_, layer := e.up.push(t, "group/pub/corrupt:v1", 1<<20)
		e.up.spy.set(func(s *spy) { s.corrupt[layer] = true })
		jwt := e.bearer(t, e.read, "group", "group/pub/corrupt", "pull")
		resp := get(t, ctx, http.MethodGet, e.url("group", "group/pub/corrupt", "blobs/"+layer), jwt)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("the client received a whole blob of %d bytes with the wrong digest (status %d)", len(body), resp.StatusCode)
		}
		// The layer is a little over 1 MiB (tar and gzip of 1 MiB of random bytes), and the
		// proxy holds back only its last chunk: compare with the whole length, not 1 MiB.
		if resp.ContentLength < 0 || int64(len(body)) >= resp.ContentLength {
			t.Fatalf("the client received %d bytes of %d", len(body), resp.ContentLength)
		}
		if cached(layer) || stored(layer) {
			t.Fatalf("a corrupt blob was cached (record %v, bytes %v)", cached(layer), stored(layer))
		}
		e.up.spy.set(func(s *spy) { delete(s.corrupt, layer) })
		testenv.MustRun(t, e.login(t, e.read), e.crane, "pull", e.image("group", "group/pub/corrupt")+":v1", filepath.Join(t.TempDir(), "c.tar"))
		if !cachedSoon(layer) || e.up.spy.count("GET", "/blobs/"+layer) != 2 {
			t.Fatalf("after the upstream healed: cached %v, upstream GETs %d", cached(layer), e.up.spy.count("GET", "/blobs/"+layer))
		}
	})
	t.Run("ok/corrupt upstream manifest: refused, never cached", func(t *testing.T) {
		manifest, _ := e.up.push(t, "group/pub/badmanifest:v1", 100)
		e.up.spy.set(func(s *spy) { s.corruptManifests = true })
		jwt := e.bearer(t, e.read, "group", "group/pub/badmanifest", "pull")
		for _, ref := range []string{"v1", manifest} {
			resp := get(t, ctx, http.MethodGet, e.url("group", "group/pub/badmanifest", "manifests/"+ref), jwt)
			if resp.StatusCode != http.StatusBadGateway || ociError(t, resp) != "UNAVAILABLE" {
				t.Fatalf("%s: %d, want 502", ref, resp.StatusCode)
			}
			if _, err := store.Proxy.ProxyManifest(ctx, e.f.GroupID, "group/pub/badmanifest", ref); err == nil {
				t.Fatalf("a corrupt manifest was cached under %s", ref)
			}
		}
		if stored(manifest) {
			t.Fatal("a corrupt manifest's bytes were stored")
		}
		e.up.spy.set(func(s *spy) { s.corruptManifests = false })
		resp := get(t, ctx, http.MethodGet, e.url("group", "group/pub/badmanifest", "manifests/v1"), jwt)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || sha256Hex(body) != manifest || resp.Header.Get("Docker-Content-Digest") != manifest {
			t.Fatalf("after the upstream healed: %d", resp.StatusCode)
		}
	})
}

// TestPrivateUpstreamWithCredentials: with upstream credentials (a deploy token of the upstream
// Gatehouse), the proxy pulls a private image; on PostgreSQL; the credentials never reach the
// logs.
func TestPrivateUpstreamWithCredentials(t *testing.T) {
	up := startUpstream(t)
	crane := testenv.GoTool(t, "crane")
	testenv.MustRun(t, up.home, crane, "append", "--new_layer", testenv.RandomFile(t, up.home, "l.bin", 32<<10), "-t", up.host+"/group/top/private:v1")
	want := strings.TrimSpace(testenv.MustRun(t, up.home, crane, "digest", up.host+"/group/top/private:v1"))
	cred := up.ts.CreateDeployToken(t, "projects/"+itoa(up.f.Projects["top"].ID), []string{"read_registry"}, nil)

	ts := testenv.StartServer(t, testenv.Localhost, testenv.WithPostgres(t), func(c *config.Config) {
		c.DependencyProxy.UpstreamURL = up.spy.srv.URL
		c.DependencyProxy.UpstreamUsername = cred.Username
		c.DependencyProxy.UpstreamPassword = config.Secret(cred.Token)
	})
	f := ts.MakeFixture(t)
	tok := ts.CreateDeployToken(t, "groups/"+itoa(f.GroupID), []string{"read_virtual_registry"}, nil)
	host := hostOf(t, ts)
	home := t.TempDir()
	testenv.MustRun(t, home, crane, "auth", "login", host, "-u", tok.Username, "-p", tok.Token)
	ref := host + "/group/dependency_proxy/containers/group/top/private:v1"
	testenv.MustRun(t, home, crane, "pull", ref, filepath.Join(home, "p.tar"))
	if got := strings.TrimSpace(testenv.MustRun(t, home, crane, "digest", ref)); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	before := up.spy.total()
	testenv.MustRun(t, home, crane, "pull", ref, filepath.Join(home, "again.tar"))
	if up.spy.total() != before {
		t.Fatal("the second pull reached the upstream")
	}
	if strings.Contains(ts.Logs(), cred.Token) {
		t.Fatal("the upstream password is in the logs")
	}
}

// TestGarbageCollectionKeepsTheCache: garbage collection keeps what a group's proxy has cached,
// and removes it once the cache is purged.
func TestGarbageCollectionKeepsTheCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	home := e.login(t, e.read)
	ref := e.image("group", "group/pub/app") + ":v1"
	testenv.MustRun(t, home, e.crane, "pull", ref, filepath.Join(home, "app.tar"))
	have := func(d string) bool {
		_, err := e.ts.Server.Blobs.Stat(ctx, blobDigest(d))
		return err == nil
	}
	if !have(e.layer) || !have(e.manifest) {
		t.Fatal("the pull stored nothing")
	}
	// The proxy records a blob in the group's cache just after the client has its last byte;
	// the clock may only jump past the grace period once that record exists, as it would long
	// before a real 48 hours passed.
	if !testenv.Eventually(5*time.Second, func() bool {
		_, err := e.ts.Server.Store.Proxy.ProxyBlob(ctx, e.f.GroupID, e.layer)
		return err == nil
	}) {
		t.Fatal("the pulled layer was never recorded in the group's cache")
	}
	e.ts.Clock.Advance(48 * time.Hour) // past the grace period (and the tag TTL)
	if _, err := e.ts.Server.GC.Run(ctx, gc.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if !have(e.layer) || !have(e.manifest) {
		t.Fatalf("garbage collection removed cached content (layer %v, manifest %v)", have(e.layer), have(e.manifest))
	}
	e.ts.MustAPI(t, http.StatusAccepted, "DELETE", "/groups/"+itoa(e.f.GroupID)+"/dependency_proxy/cache", nil, nil)
	e.ts.Clock.Advance(48 * time.Hour)
	rep, err := e.ts.Server.GC.Run(ctx, gc.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if have(e.layer) || have(e.manifest) {
		t.Fatalf("purged content survived garbage collection: %+v", rep)
	}
	// The proxy fetches it again.
	testenv.MustRun(t, home, e.crane, "pull", ref, filepath.Join(home, "again.tar"))
	if n := e.up.spy.count("GET", "/blobs/"+e.layer); n != 2 {
		t.Fatalf("layer fetched %d times, want 2", n)
	}
}
