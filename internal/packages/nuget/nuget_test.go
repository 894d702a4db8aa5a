package nuget_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling).
type env struct {
	ts *testenv.TestServer
	f  testenv.Fixture
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	return e
}

// feed is a project's NuGet feed prefix (".../packages/nuget", no trailing slash).
func (e *env) feed(project string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/nuget", e.ts.URL, e.f.Projects[project].ID)
}

func (e *env) groupFeed(id int64) string {
	return fmt.Sprintf("%s/api/v4/groups/%d/-/packages/nuget", e.ts.URL, id)
}

func (e *env) token(t *testing.T, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) projectOwner(name string) string {
	return fmt.Sprintf("projects/%d", e.f.Projects[name].ID)
}

var rw = []string{"read_package_registry", "write_package_registry"}

// nupkg builds a package as nuget pack does: <id>.nuspec, [Content_Types].xml, _rels/.rels and
// one content file. extra adds entries (or removes them, given ""); its "@deps" key replaces the
// dependency (Newtonsoft.Json [13.0.1, ) for .NETFramework4.5) with "id range", or none ("").
func nupkg(t testing.TB, id, version, greeting string, extra map[string]string) []byte {
	t.Helper()
	dep := `<dependency id="Newtonsoft.Json" version="[13.0.1, )" />`
	if d, ok := extra["@deps"]; ok {
		dep = ""
		if d != "" {
			f := strings.Fields(d)
			dep = `<dependency id="` + f[0] + `" version="` + f[1] + `" />`
		}
	}
	nuspec := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>%s</id>
    <version>%s</version>
    <authors>Gatehouse Tests, Someone Else</authors>
    <description>%s</description>
    <tags>gatehouse test</tags>
    <projectUrl>https://example.com/project</projectUrl>
    <dependencies>
      <group targetFramework=".NETFramework4.5">
        %s
      </group>
    </dependencies>
  </metadata>
</package>`, id, version, xmlEscape(greeting), dep)
	files := map[string]string{
		id + ".nuspec":         nuspec,
		"[Content_Types].xml":  `<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" /><Default Extension="nuspec" ContentType="application/octet" /><Default Extension="txt" ContentType="application/octet" /></Types>`,
		"_rels/.rels":          `<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/` + id + `.nuspec" Id="R1" /></Relationships>`,
		"content/greeting.txt": greeting,
	}
	for k, v := range extra {
		if k == "@deps" {
			continue
		}
		if v == "" {
			delete(files, k)
			continue
		}
		files[k] = v
	}
	return zipOf(t, files)
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushBody is the multipart form dotnet nuget push and nuget.exe send: one part named
// "package" holding the .nupkg.
func pushBody(t testing.TB, pkg []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("package", "package.nupkg")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pkg)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// cred is how a request presents a credential.
type cred struct {
	user, secret string // basic auth when user != ""
	apiKey       string // X-NuGet-ApiKey
}

func basic(user, secret string) cred { return cred{user: user, secret: secret} }
func apiKey(secret string) cred      { return cred{apiKey: secret} }

// do sends one request as dotnet nuget does and returns the status, headers and body.
func do(t testing.TB, method, u string, c cred, contentType string, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.secret)
	}
	if c.apiKey != "" {
		req.Header.Set("X-NuGet-ApiKey", c.apiKey)
	}
	req.Header.Set("X-NuGet-Client-Version", "6.11.0")
	req.Header.Set("X-NuGet-Protocol-Version", "4.1.0")
	req.Header.Set("User-Agent", "NuGet Command Line/6.11.0 (Linux)")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// push PUTs pkg to url as dotnet nuget push does (PackagePublish/2.0.0).
func push(t testing.TB, u string, c cred, pkg []byte) (int, string) {
	t.Helper()
	ct, body := pushBody(t, pkg)
	status, _, resp := do(t, http.MethodPut, u, c, ct, body)
	return status, resp
}

func getJSON(t testing.TB, u string, c cred, out any) int {
	t.Helper()
	status, _, body := do(t, http.MethodGet, u, c, "", nil)
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("GET %s: %v\n%s", u, err, body)
		}
	}
	return status
}

// assertNothingStored fails unless no project holds a NuGet package and the blob store holds no
// blob and no upload.
func (e *env) assertNothingStored(t *testing.T) {
	t.Helper()
	e.ts.AssertNoPackages(t, e.f, packages.NuGet)
}

func mustContain(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}
