package helm_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling) and the real helm client (pinned in go.mod).
type env struct {
	ts   *testenv.TestServer
	f    testenv.Fixture
	helm string
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{helm: testenv.GoTool(t, "helm")}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	return e
}

var rw = []string{"read_package_registry", "write_package_registry"}

func (e *env) token(t *testing.T, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) projectOwner(name string) string {
	return fmt.Sprintf("projects/%d", e.f.Projects[name].ID)
}

// repo is a project's channel repository URL, as `helm repo add` takes it.
func (e *env) repo(project, channel string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/helm/%s", e.ts.URL, e.f.Projects[project].ID, channel)
}

// upload URL of a project's channel.
func (e *env) uploadURL(project, channel string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/helm/api/%s/charts", e.ts.URL, e.f.Projects[project].ID, channel)
}

// client is the real helm with a private home (config, cache, data) and no cluster.
type client struct {
	bin, home string
}

func (e *env) newClient(t *testing.T) *client {
	t.Helper()
	return &client{bin: e.helm, home: t.TempDir()}
}

func (c *client) run(t testing.TB, args ...string) (string, int) {
	t.Helper()
	env := append(testenv.ClientEnv(c.home), "HELM_CONFIG_HOME="+filepath.Join(c.home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(c.home, "cache"), "HELM_DATA_HOME="+filepath.Join(c.home, "data"),
		"KUBECONFIG="+filepath.Join(c.home, "no-kubeconfig"))
	return testenv.RunClient(t, 2*time.Minute, c.home, env, c.bin, args...)
}

func (c *client) must(t testing.TB, args ...string) string {
	t.Helper()
	out, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("helm %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// pack writes a chart named name at version with a ConfigMap template carrying greeting, and
// packages it with the real `helm package`; it returns the .tgz's bytes.
func (c *client) pack(t testing.TB, name, version, greeting string) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	writeChart(t, src, name, version, greeting)
	dest := t.TempDir()
	c.must(t, "package", src, "--destination", dest)
	b, err := os.ReadFile(filepath.Join(dest, name+"-"+version+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeChart writes a chart directory: Chart.yaml, values.yaml with greeting, and a ConfigMap
// template that renders it.
func writeChart(t testing.TB, src, name, version, greeting string) {
	t.Helper()
	files := map[string]string{
		"Chart.yaml":               fmt.Sprintf("apiVersion: v2\nname: %s\ndescription: A Gatehouse test chart\ntype: application\nversion: %s\nappVersion: \"1.0\"\n", name, version),
		"values.yaml":              "greeting: " + greeting + "\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// upload POSTs chart as `curl --form 'chart=@<file>' --user <user>:<token>` does (GitLab's
// documented upload), and returns the status and body.
func upload(t testing.TB, u, user, secret string, chart []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("chart", "chart.tgz")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(chart)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, u, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	return do(t, req)
}

func get(t testing.TB, u, user, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustUpload(t testing.TB, u, user, secret string, chart []byte) {
	t.Helper()
	if status, body := upload(t, u, user, secret, chart); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
}

// installable adds the repository with the credentials, pulls the chart at version and renders
// it with `helm template` and `helm install --dry-run=client`; it returns the rendered greeting.
func (c *client) installable(t *testing.T, repo, user, secret, chart, version string) string {
	t.Helper()
	c.must(t, "repo", "add", "--username", user, "--password", secret, "gh", repo)
	dest := t.TempDir()
	c.must(t, "pull", "gh/"+chart, "--version", version, "--destination", dest)
	tgz := filepath.Join(dest, chart+"-"+version+".tgz")
	out := c.must(t, "template", "rel", tgz)
	if dry := c.must(t, "install", "rel", "gh/"+chart, "--version", version, "--dry-run=client"); !strings.Contains(dry, "kind: ConfigMap") {
		t.Fatalf("helm install --dry-run rendered no ConfigMap:\n%s", dry)
	}
	for _, line := range strings.Split(out, "\n") {
		if g, ok := strings.CutPrefix(strings.TrimSpace(line), "greeting: "); ok {
			return strings.Trim(g, `"`)
		}
	}
	t.Fatalf("helm template rendered no greeting:\n%s", out)
	return ""
}

// TestUploadPullInstall: a chart packaged by helm is uploaded with a project deploy token as
// GitLab documents (multipart "chart"), then added, pulled, templated and dry-run installed by
// helm with a read-only deploy token; re-uploading the version replaces it in its channel only.
func TestUploadPullInstall(t *testing.T) {
	e := start(t)
	c := e.newClient(t)
	writer := e.token(t, e.projectOwner("top"), rw...)
	reader := e.token(t, e.projectOwner("top"), "read_package_registry")
	mustUpload(t, e.uploadURL("top", "stable"), writer.Username, writer.Token, c.pack(t, "hello", "0.1.0", "first"))
	if got := c.installable(t, e.repo("top", "stable"), reader.Username, reader.Token, "hello", "0.1.0"); got != "first" {
		t.Fatalf("rendered greeting %q", got)
	}

	// The same version to another channel, then again to stable: each channel serves its own.
	mustUpload(t, e.uploadURL("top", "beta"), writer.Username, writer.Token, c.pack(t, "hello", "0.1.0", "beta"))
	mustUpload(t, e.uploadURL("top", "stable"), writer.Username, writer.Token, c.pack(t, "hello", "0.1.0", "second"))
	c2 := e.newClient(t)
	if got := c2.installable(t, e.repo("top", "stable"), reader.Username, reader.Token, "hello", "0.1.0"); got != "second" {
		t.Fatalf("stable after a re-upload renders %q", got)
	}
	c3 := e.newClient(t)
	if got := c3.installable(t, e.repo("top", "beta"), reader.Username, reader.Token, "hello", "0.1.0"); got != "beta" {
		t.Fatalf("beta renders %q", got)
	}
	// A channel nothing was uploaded to is an empty repository, as GitLab's.
	status, body := get(t, e.repo("top", "empty")+"/index.yaml", reader.Username, reader.Token)
	if status != http.StatusOK || !strings.Contains(body, "entries: {}") {
		t.Fatalf("empty channel: %d %s", status, body)
	}
	// helm cm-push finds the upload URL through serverInfo.contextPath.
	status, body = get(t, e.repo("top", "stable")+"/index.yaml", reader.Username, reader.Token)
	if want := fmt.Sprintf("contextPath: /api/v4/projects/%d/packages/helm", e.f.Projects["top"].ID); status != http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("index: %d, want %q in\n%s", status, want, body)
	}

	// The Packages API lists the chart (package_type=helm) and deletes it.
	var list []struct {
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		Version     string `json:"version"`
		PackageType string `json:"package_type"`
	}
	e.ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/packages?package_type=helm", e.f.Projects["top"].ID), nil, &list)
	if len(list) != 1 || list[0].Name != "hello" || list[0].Version != "0.1.0" || list[0].PackageType != "helm" {
		t.Fatalf("Packages API lists %+v", list)
	}
	var files []struct {
		FileName string `json:"file_name"`
	}
	e.ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/packages/%d/package_files", e.f.Projects["top"].ID, list[0].ID), nil, &files)
	if len(files) != 2 {
		t.Fatalf("package files %+v, want the stable and beta copies", files)
	}
	e.ts.MustAPI(t, 204, "DELETE", fmt.Sprintf("/projects/%d/packages/%d", e.f.Projects["top"].ID, list[0].ID), nil, nil)
	// helm 4 keeps pulled charts in its content cache: a fresh client sees the deletion.
	c4 := e.newClient(t)
	c4.must(t, "repo", "add", "--username", reader.Username, "--password", reader.Token, "gh", e.repo("top", "stable"))
	if out, code := c4.run(t, "pull", "gh/hello", "--version", "0.1.0", "--destination", t.TempDir()); code == 0 {
		t.Fatalf("pulled a deleted chart:\n%s", out)
	}
	if status, _ := get(t, e.repo("top", "stable")+"/charts/hello-0.1.0.tgz", reader.Username, reader.Token); status != http.StatusNotFound {
		t.Fatalf("download of a deleted chart: %d", status)
	}
	for name, tok := range map[string]testenv.DeployToken{"writer": writer, "reader": reader} {
		if strings.Contains(e.ts.Logs(), tok.Token) {
			t.Fatalf("the %s token's secret is in the server's logs", name)
		}
	}
}

func TestReadOnlyTokenCannotUpload(t *testing.T) {
	e := start(t)
	c := e.newClient(t)
	tok := e.token(t, e.projectOwner("top"), "read_package_registry")
	status, body := upload(t, e.uploadURL("top", "stable"), tok.Username, tok.Token, c.pack(t, "ro", "1.0.0", "x"))
	if status != http.StatusForbidden || !strings.Contains(body, "lacks the write_package_registry scope") {
		t.Fatalf("read-only upload: %d %s", status, body)
	}
	e.ts.AssertNoPackages(t, e.f, packages.Helm)
}

// TestGroupTokenReachesSubgroupCharts: a chart in group/sub/subsub/grandchild is pulled with a
// read-only group deploy token; a group token of another group, and a token of another
// project, are refused as not found.
func TestGroupTokenReachesSubgroupCharts(t *testing.T) {
	e := start(t)
	c := e.newClient(t)
	mustUpload(t, e.uploadURL("grandchild", "stable"), "root", e.ts.RootToken, c.pack(t, "deep", "2.0.0", "depths"))
	groupTok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	if got := c.installable(t, e.repo("grandchild", "stable"), groupTok.Username, groupTok.Token, "deep", "2.0.0"); got != "depths" {
		t.Fatalf("rendered %q", got)
	}
	for name, tok := range map[string]testenv.DeployToken{
		"a group token of another group": e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), "read_package_registry"),
		"another project's token":        e.token(t, e.projectOwner("top"), rw...),
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			c := e.newClient(t)
			out, code := c.run(t, "repo", "add", "--username", tok.Username, "--password", tok.Token, "gh", e.repo("grandchild", "stable"))
			if code == 0 || !strings.Contains(out, "404") {
				t.Fatalf("repo add: exit %d\n%s", code, out)
			}
			if status, _ := upload(t, e.uploadURL("grandchild", "stable"), tok.Username, tok.Token, c.pack(t, "x", "1.0.0", "x")); status != http.StatusNotFound {
				t.Fatalf("upload: %d", status)
			}
		})
	}
}

func TestRevokedAndExpiredTokens(t *testing.T) {
	e := start(t)
	c := e.newClient(t)
	owner := e.projectOwner("top")
	mustUpload(t, e.uploadURL("top", "stable"), "root", e.ts.RootToken, c.pack(t, "life", "1.0.0", "x"))
	revoked := e.token(t, owner, rw...)
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, owner, rw, map[string]any{"expires_at": tomorrow})
	for _, tok := range []testenv.DeployToken{revoked, expiring} {
		e.newClient(t).must(t, "repo", "add", "--username", tok.Username, "--password", tok.Token, "gh", e.repo("top", "stable"))
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		out, code := e.newClient(t).run(t, "repo", "add", "--username", tok.Username, "--password", tok.Token, "gh", e.repo("top", "stable"))
		if code == 0 || !strings.Contains(out, "401") {
			t.Fatalf("%s token: exit %d\n%s", name, code, out)
		}
		status, body := upload(t, e.uploadURL("top", "stable"), tok.Username, tok.Token, c.pack(t, "life", "1.0.1", "x"))
		if status != http.StatusUnauthorized || !strings.Contains(body, name) {
			t.Fatalf("%s token upload: %d %s", name, status, body)
		}
		if strings.Contains(e.ts.Logs(), tok.Token) || strings.Contains(out, tok.Token) {
			t.Fatalf("the %s token's secret is in the server's logs or helm's output", name)
		}
	}
	if !strings.Contains(e.ts.Logs(), "/packages/helm/") {
		t.Fatal("the logs recorded no helm request: the secret check proves nothing")
	}
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	c := e.newClient(t)
	tok := e.token(t, e.projectOwner("top"), rw...)
	chart := c.pack(t, "ext", "1.0.0", "x")
	status, body := upload(t, e.uploadURL("top", "stable"), tok.Username, tok.Token, chart)
	if status != http.StatusForbidden || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token upload under external authorization: %d %s", status, body)
	}
	// People still upload and pull; deploy tokens cannot read either.
	mustUpload(t, e.uploadURL("top", "stable"), "root", e.ts.RootToken, chart)
	if got := c.installable(t, e.repo("top", "stable"), "root", e.ts.RootToken, "ext", "1.0.0"); got != "x" {
		t.Fatalf("rendered %q", got)
	}
	out, code := e.newClient(t).run(t, "repo", "add", "--username", tok.Username, "--password", tok.Token, "gh", e.repo("top", "stable"))
	if code == 0 || !strings.Contains(out, "403") {
		t.Fatalf("deploy token read under external authorization: exit %d\n%s", code, out)
	}
}

// TestHostileUploads: each gets the format's error, and nothing is stored.
func TestHostileUploads(t *testing.T) {
	e := start(t, testenv.MaxFileSize(packages.Helm, 64<<10))
	c := e.newClient(t)
	tok := e.token(t, e.projectOwner("top"), rw...)
	good := c.pack(t, "good", "1.0.0", "x")
	big := make([]byte, 70<<10)
	for name, chart := range map[string][]byte{
		"not gzip":  []byte("not a chart"),
		"truncated": good[:len(good)/2],
		"oversize":  big,
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			status, body := upload(t, e.uploadURL("top", "stable"), tok.Username, tok.Token, chart)
			want := http.StatusBadRequest
			if name == "oversize" {
				want = http.StatusRequestEntityTooLarge
			}
			if status != want || !strings.Contains(body, `"message"`) {
				t.Fatalf("%d %s, want %d", status, body, want)
			}
		})
	}
	for name, path := range map[string]string{
		"traversal channel":  fmt.Sprintf("/api/v4/projects/%d/packages/helm/api/%%2e%%2e/charts", e.f.Projects["top"].ID),
		"slash channel":      fmt.Sprintf("/api/v4/projects/%d/packages/helm/api/a%%2fb/charts", e.f.Projects["top"].ID),
		"traversal download": fmt.Sprintf("/api/v4/projects/%d/packages/helm/stable/charts/..%%2f..%%2fgood-1.0.0.tgz", e.f.Projects["top"].ID),
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			method := http.MethodPost
			if strings.Contains(name, "download") {
				method = http.MethodGet
			}
			if status, body := testenv.RawRequest(t, e.ts.URL, method, path, tok.Token, nil); status != http.StatusBadRequest {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	e.ts.AssertNoPackages(t, e.f, packages.Helm)
	if strings.Contains(e.ts.Logs(), tok.Token) {
		t.Fatal("the token's secret is in the server's logs")
	}
}

func TestPostgresUploadPull(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	c := e.newClient(t)
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	mustUpload(t, e.uploadURL("child", "stable"), tok.Username, tok.Token, c.pack(t, "pg", "0.1.0", "postgres"))
	if got := c.installable(t, e.repo("child", "stable"), tok.Username, tok.Token, "pg", "0.1.0"); got != "postgres" {
		t.Fatalf("rendered %q", got)
	}
}

// TestProjectPathRepository: the repository URL may name the project by its URL-encoded full
// path, as GitLab documents; helm keeps the encoding when it resolves index.yaml and the
// chart's relative URL, and cm-push's contextPath keeps it too.
func TestProjectPathRepository(t *testing.T) {
	e := start(t)
	c := e.newClient(t)
	tok := e.token(t, e.projectOwner("grandchild"), rw...)
	ref := strings.ReplaceAll(e.f.Projects["grandchild"].FullPath, "/", "%2F")
	base := e.ts.URL + "/api/v4/projects/" + ref + "/packages/helm"
	mustUpload(t, base+"/api/stable/charts", tok.Username, tok.Token, c.pack(t, "bypath", "0.2.0", "by path"))
	if got := c.installable(t, base+"/stable", tok.Username, tok.Token, "bypath", "0.2.0"); got != "by path" {
		t.Fatalf("rendered %q", got)
	}
	status, body := get(t, base+"/stable/index.yaml", tok.Username, tok.Token)
	if want := "contextPath: /api/v4/projects/" + ref + "/packages/helm"; status != http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("index: %d, want %q in\n%s", status, want, body)
	}
}
