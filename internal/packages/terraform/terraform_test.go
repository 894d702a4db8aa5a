package terraform_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a server over HTTPS (tofu talks to registries only over HTTPS) with the fixture tree
// (group/top, group/sub/child, group/sub/subsub/grandchild, other/sibling).
type env struct {
	ts *testenv.TestServer
	f  testenv.Fixture
	ca *testenv.CA
	c  *http.Client
}

func start(t testing.TB, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{ca: testenv.NewCA(t)}
	opts = append([]testenv.ServerOption{testenv.WithTLS(t, e.ca, t.TempDir())}, opts...)
	e.ts = testenv.StartServer(t, opts...)
	e.c = e.ca.Client()
	// Not following redirects: download-latest's 302 is checked as such.
	e.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e.ts.Client = e.c
	e.f = e.ts.MakeFixture(t)
	return e
}

var rw = []string{"read_package_registry", "write_package_registry"}

func (e *env) token(t testing.TB, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) project(name string) string { return fmt.Sprintf("projects/%d", e.f.Projects[name].ID) }

// uploadURL is GitLab's upload endpoint of a project's module version.
func (e *env) uploadURL(project, name, system, version string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/terraform/modules/%s/%s/%s/file", e.ts.URL, e.f.Projects[project].ID, name, system, version)
}

// module is the instance-level module registry prefix of namespace/name/system.
func (e *env) module(ns, name, system string) string {
	return e.ts.URL + "/api/v4/packages/terraform/modules/v1/" + ns + "/" + name + "/" + system
}

// cred is how a request presents a credential.
type cred map[string]string

func bearer(tok string) cred { return cred{"Authorization": "Bearer " + tok} }

func basic(t testenv.DeployToken) cred {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(t.Username, t.Token)
	return cred{"Authorization": req.Header.Get("Authorization")}
}

func (e *env) do(t testing.TB, method, u string, c cred, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c {
		req.Header.Set(k, v)
	}
	resp, err := e.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// upload PUTs a module archive as GitLab's documentation does (curl --upload-file).
func (e *env) upload(t testing.TB, project, name, system, version string, c cred, body []byte) (int, string) {
	t.Helper()
	st, _, b := e.do(t, http.MethodPut, e.uploadURL(project, name, system, version), c, body)
	return st, b
}

// archive builds a module .tgz with main.tf (holding marker) and the given extra entries.
func archive(t testing.TB, marker string, extra ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := map[string]string{
		"main.tf":      "output \"marker\" {\n  value = \"" + marker + "\"\n}\n",
		"variables.tf": "variable \"unused\" {\n  default = \"x\"\n}\n",
	}
	for _, name := range []string{"main.tf", "variables.tf"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range extra {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type versionsDoc struct {
	Modules []struct {
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	} `json:"modules"`
}

func (e *env) versions(t testing.TB, ns, name, system string, c cred) (int, []string, string) {
	t.Helper()
	st, _, body := e.do(t, http.MethodGet, e.module(ns, name, system)+"/versions", c, nil)
	var doc versionsDoc
	var out []string
	if st == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Modules) != 1 {
			t.Fatalf("versions document %q: %v", body, err)
		}
		for _, v := range doc.Modules[0].Versions {
			out = append(out, v.Version)
		}
	}
	return st, out, body
}

// fetch follows the protocol as tofu does: download, then the X-Terraform-Get link without
// credentials. It returns the download's status and, when it was 204, the archive fetch's.
func (e *env) fetch(t testing.TB, ns, name, system, version string, c cred) (int, int, string) {
	t.Helper()
	st, hdr, body := e.do(t, http.MethodGet, e.module(ns, name, system)+"/"+version+"/download", c, nil)
	if st != http.StatusNoContent {
		return st, 0, body
	}
	link := hdr.Get("X-Terraform-Get")
	u, err := url.Parse(link)
	if err != nil || u.IsAbs() || u.Query().Get("archive") != "tgz" {
		t.Fatalf("X-Terraform-Get %q", link)
	}
	fst, _, file := e.do(t, http.MethodGet, e.ts.URL+link, nil, nil)
	return st, fst, file
}

// TestProtocol walks the module registry protocol as tofu does, over HTTPS: discovery, upload
// with a project deploy token, versions and download with a group deploy token in
// TF_TOKEN_<host>'s form (Authorization: Bearer), and the archive through the download link.
func TestProtocol(t *testing.T) {
	e := start(t)
	protocol(t, e)
}

// TestProtocolPostgres is TestProtocol on PostgreSQL.
func TestProtocolPostgres(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	protocol(t, e)
}

func protocol(t *testing.T, e *env) {
	writer := e.token(t, e.project("child"), rw...)
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	v1, v2 := archive(t, "one"), archive(t, "two")

	t.Run("ok/discovery", func(t *testing.T) {
		st, _, body := e.do(t, http.MethodGet, e.ts.URL+"/.well-known/terraform.json", nil, nil)
		if st != 200 || strings.TrimSpace(body) != `{"modules.v1":"/api/v4/packages/terraform/modules/v1/"}` {
			t.Fatalf("discovery: %d %s", st, body)
		}
	})
	t.Run("ok/upload with basic auth and with a Deploy-Token header", func(t *testing.T) {
		if st, body := e.upload(t, "child", "vpc", "aws", "1.0.0", basic(writer), v1); st != 201 || !strings.Contains(body, "201 Created") {
			t.Fatalf("upload: %d %s", st, body)
		}
		if st, body := e.upload(t, "child", "vpc", "aws", "1.1.0", cred{"Deploy-Token": writer.Token}, v2); st != 201 {
			t.Fatalf("upload: %d %s", st, body)
		}
		if st, body := e.upload(t, "child", "vpc", "aws", "2.0.0-rc.1", bearer(writer.Token), v2); st != 201 {
			t.Fatalf("upload: %d %s", st, body)
		}
	})
	t.Run("ok/versions with a group token as a bearer", func(t *testing.T) {
		st, vs, body := e.versions(t, "group", "vpc", "aws", bearer(reader.Token))
		if st != 200 || strings.Join(vs, ",") != "1.0.0,1.1.0,2.0.0-rc.1" {
			t.Fatalf("versions: %d %v %s", st, vs, body)
		}
	})
	t.Run("ok/download and archive through the link", func(t *testing.T) {
		st, fst, file := e.fetch(t, "group", "vpc", "aws", "1.0.0", bearer(reader.Token))
		if st != 204 || fst != 200 || file != string(v1) {
			t.Fatalf("download %d, archive %d (%d bytes)", st, fst, len(file))
		}
	})
	t.Run("ok/archive with the credential itself", func(t *testing.T) {
		st, _, file := e.do(t, http.MethodGet, e.module("group", "vpc", "aws")+"/1.1.0/file", basic(reader), nil)
		if st != 200 || file != string(v2) {
			t.Fatalf("archive: %d", st)
		}
	})
	t.Run("ok/download latest redirects to the highest release", func(t *testing.T) {
		st, hdr, _ := e.do(t, http.MethodGet, e.module("group", "vpc", "aws")+"/download", bearer(reader.Token), nil)
		if st != http.StatusFound || hdr.Get("Location") != "/api/v4/packages/terraform/modules/v1/group/vpc/aws/1.1.0/download" {
			t.Fatalf("latest: %d %q", st, hdr.Get("Location"))
		}
	})
	t.Run("fail/re-upload of a version is 403", func(t *testing.T) {
		st, body := e.upload(t, "child", "vpc", "aws", "1.0.0", basic(writer), v2)
		if st != 403 || !strings.Contains(body, "already exists") {
			t.Fatalf("re-upload: %d %s", st, body)
		}
	})
	t.Run("fail/anonymous is asked to authenticate", func(t *testing.T) {
		st, hdr, _ := e.do(t, http.MethodGet, e.module("group", "vpc", "aws")+"/versions", nil, nil)
		if st != 401 || hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("anonymous versions: %d", st)
		}
	})
	t.Run("fail/a link is bound to its archive", func(t *testing.T) {
		_, hdr, _ := e.do(t, http.MethodGet, e.module("group", "vpc", "aws")+"/1.0.0/download", bearer(reader.Token), nil)
		link := strings.Replace(hdr.Get("X-Terraform-Get"), "/1.0.0/file", "/1.1.0/file", 1)
		if st, _, body := e.do(t, http.MethodGet, e.ts.URL+link, nil, nil); st != 401 || !strings.Contains(body, "download link") {
			t.Fatalf("link for another version: %d %s", st, body)
		}
		if st, _, _ := e.do(t, http.MethodGet, e.ts.URL+link[:strings.Index(link, "token=")]+"token=AAAA", nil, nil); st != 401 {
			t.Fatalf("forged link: %d", st)
		}
	})
	t.Run("fail/a link expires after five minutes", func(t *testing.T) {
		_, hdr, _ := e.do(t, http.MethodGet, e.module("group", "vpc", "aws")+"/1.0.0/download", bearer(reader.Token), nil)
		e.ts.Clock.Advance(6 * time.Minute)
		if st, _, _ := e.do(t, http.MethodGet, e.ts.URL+hdr.Get("X-Terraform-Get"), nil, nil); st != 401 {
			t.Fatalf("expired link: %d", st)
		}
	})
	t.Run("fail/a link dies with its token", func(t *testing.T) {
		tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
		_, hdr, _ := e.do(t, http.MethodGet, e.module("group", "vpc", "aws")+"/1.0.0/download", bearer(tok.Token), nil)
		if err := e.ts.Server.Deploy.Revoke(t.Context(), tok.ID); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := e.do(t, http.MethodGet, e.ts.URL+hdr.Get("X-Terraform-Get"), nil, nil); st != 401 {
			t.Fatalf("link of a revoked token: %d", st)
		}
	})
	t.Run("ok/the Packages API lists and deletes the module", func(t *testing.T) {
		var list []struct {
			ID          int64  `json:"id"`
			Name        string `json:"name"`
			PackageType string `json:"package_type"`
		}
		e.ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/packages?package_type=terraform_module", e.f.Projects["child"].ID), nil, &list)
		if len(list) != 3 || list[0].Name != "vpc/aws" || list[0].PackageType != "terraform_module" {
			t.Fatalf("packages: %+v", list)
		}
		e.ts.MustAPI(t, 204, "DELETE", fmt.Sprintf("/projects/%d/packages/%d", e.f.Projects["child"].ID, list[0].ID), nil, nil)
		if st, vs, _ := e.versions(t, "group", "vpc", "aws", bearer(reader.Token)); st != 200 || len(vs) != 2 {
			t.Fatalf("after delete: %d %v", st, vs)
		}
	})
	if logs := e.ts.Logs(); strings.Contains(logs, writer.Token) || strings.Contains(logs, reader.Token) {
		t.Fatal("a deploy token appears in the server's logs")
	}
}

// TestDeployTokens is the deploy-token matrix of the module registry: scopes, reach, revoked
// and expired tokens, and external authorization.
func TestDeployTokens(t *testing.T) {
	e := start(t)
	owner := e.token(t, e.project("grandchild"), rw...)
	if st, body := e.upload(t, "grandchild", "net", "gcp", "1.0.0", basic(owner), archive(t, "x")); st != 201 {
		t.Fatalf("upload: %d %s", st, body)
	}
	cases := []struct {
		name  string
		owner string
		scope []string
		read  int // versions at the instance level (namespace group)
		write int // upload of a new version to grandchild
	}{
		{"project token of the project", e.project("grandchild"), rw, 200, 201},
		{"read-only project token", e.project("grandchild"), []string{"read_package_registry"}, 200, 403},
		{"write-only project token", e.project("grandchild"), []string{"write_package_registry"}, 403, 201},
		{"group token of the top-level group", fmt.Sprintf("groups/%d", e.f.GroupID), rw, 200, 201},
		{"group token of a subgroup above", fmt.Sprintf("groups/%d", e.f.SubID), []string{"read_package_registry"}, 200, 403},
		{"token of another project", e.project("top"), rw, 404, 404},
		{"group token of a sibling group", fmt.Sprintf("groups/%d", e.f.OtherGroupID), rw, 404, 404},
		{"token without package scopes", e.project("grandchild"), []string{"read_repository"}, 403, 403},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := e.token(t, c.owner, c.scope...)
			if st, _, body := e.versions(t, "group", "net", "gcp", bearer(tok.Token)); st != c.read {
				t.Fatalf("versions: %d, want %d: %s", st, c.read, body)
			}
			st, body := e.upload(t, "grandchild", "net", "gcp", fmt.Sprintf("1.1.%d", i), basic(tok), archive(t, "y"))
			if st != c.write {
				t.Fatalf("upload: %d, want %d: %s", st, c.write, body)
			}
			if c.write == 403 && !strings.Contains(body, "403 Forbidden - ") {
				t.Fatalf("a 403 without its reason: %s", body)
			}
		})
	}
	t.Run("IP allow-list", func(t *testing.T) {
		in := e.ts.CreateDeployToken(t, e.project("grandchild"), rw, map[string]any{"allowed_ips": []string{"127.0.0.0/8"}})
		if st, _, body := e.versions(t, "group", "net", "gcp", bearer(in.Token)); st != 200 {
			t.Fatalf("from an allowed address: %d %s", st, body)
		}
		out := e.ts.CreateDeployToken(t, e.project("grandchild"), rw, map[string]any{"allowed_ips": []string{"192.0.2.0/24"}})
		if st, _, body := e.versions(t, "group", "net", "gcp", bearer(out.Token)); st != 403 || !strings.Contains(body, "IP") {
			t.Fatalf("from an address outside the list: %d %s", st, body)
		}
	})
	t.Run("fail/revoked", func(t *testing.T) {
		tok := e.token(t, e.project("grandchild"), rw...)
		if err := e.ts.Server.Deploy.Revoke(t.Context(), tok.ID); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := e.versions(t, "group", "net", "gcp", bearer(tok.Token)); st != 401 {
			t.Fatalf("revoked: %d", st)
		}
	})
	t.Run("fail/expired", func(t *testing.T) {
		tok := e.ts.CreateDeployToken(t, e.project("grandchild"), rw, map[string]any{"expires_at": e.ts.Clock.Now().Add(24 * time.Hour).Format("2006-01-02")})
		if st, _, _ := e.versions(t, "group", "net", "gcp", bearer(tok.Token)); st != 200 {
			t.Fatalf("before expiry: %d", st)
		}
		e.ts.Clock.Advance(49 * time.Hour)
		if st, _, _ := e.versions(t, "group", "net", "gcp", bearer(tok.Token)); st != 401 {
			t.Fatalf("expired: %d", st)
		}
	})
	if strings.Contains(e.ts.Logs(), owner.Token) {
		t.Fatal("a deploy token appears in the server's logs")
	}
}

// TestExternalAuthorization: deploy tokens get a 403 that says why; personal access tokens
// still work.
func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.token(t, e.project("top"), rw...)
	st, body := e.upload(t, "top", "net", "gcp", "1.0.0", basic(tok), archive(t, "x"))
	if st != 403 || !strings.Contains(strings.ToLower(body), "external authorization") {
		t.Fatalf("deploy token under external authorization: %d %s", st, body)
	}
	if st, body := e.upload(t, "top", "net", "gcp", "1.0.0", cred{"Private-Token": e.ts.RootToken}, archive(t, "x")); st != 201 {
		t.Fatalf("personal access token: %d %s", st, body)
	}
	if st, _, body := e.versions(t, "group", "net", "gcp", bearer(e.ts.RootToken)); st != 200 {
		t.Fatalf("versions with a personal access token: %d %s", st, body)
	}
}

// TestHostileInput: traversal, oversize, malformed archives and a checksum mismatch get the
// format's error and leave nothing stored.
func TestHostileInput(t *testing.T) {
	e := start(t, testenv.MaxFileSize(packages.Terraform, 64<<10))
	tok := e.token(t, e.project("top"), rw...)
	bomb := func() []byte {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		_ = tw.WriteHeader(&tar.Header{Name: "big.tf", Mode: 0o644, Size: 64 << 20, Typeflag: tar.TypeReg})
		_, _ = tw.Write(make([]byte, 64<<20))
		_ = tw.Close()
		_ = gz.Close()
		return buf.Bytes()
	}()
	good := archive(t, "ok")
	cases := []struct {
		name, path string
		hdr        cred
		body       []byte
		want       int
	}{
		{"encoded traversal in the name", "%2e%2e/aws/1.0.0/file", nil, good, 400},
		{"encoded slash in the system", "vpc/a%2fb/1.0.0/file", nil, good, 400},
		{"backslash in the name", "..%5cx/aws/1.0.0/file", nil, good, 400},
		{"NUL in the version", "vpc/aws/1.0.0%00/file", nil, good, 400},
		{"newline in the name", "a%0ab/aws/1.0.0/file", nil, good, 400},
		{"version traversal", "vpc/aws/..%2f1.0.0/file", nil, good, 400},
		{"version with a v", "vpc/aws/v1.0.0/file", nil, good, 400},
		{"absurd name", strings.Repeat("a", 300) + "/aws/1.0.0/file", nil, good, 400},
		{"oversized", "vpc/aws/1.0.0/file", nil, bytes.Repeat([]byte{1}, 65<<10), 413},
		{"not gzip", "vpc/aws/1.0.0/file", nil, []byte("just text"), 400},
		{"truncated", "vpc/aws/1.0.0/file", nil, good[:len(good)-10], 400},
		{"entry outside the module", "vpc/aws/1.0.0/file", nil, archive(t, "x", &tar.Header{Name: "../../etc/x.tf", Mode: 0o644, Typeflag: tar.TypeReg}), 400},
		{"absolute entry", "vpc/aws/1.0.0/file", nil, archive(t, "x", &tar.Header{Name: "/etc/x.tf", Mode: 0o644, Typeflag: tar.TypeReg}), 400},
		{"symlink out", "vpc/aws/1.0.0/file", nil, archive(t, "x", &tar.Header{Name: "l", Linkname: "../../../etc/passwd", Typeflag: tar.TypeSymlink}), 400},
		{"gzip bomb", "vpc/aws/1.0.0/file", nil, bomb, 400},
		{"checksum mismatch", "vpc/aws/1.0.0/file", cred{"X-Checksum-Sha256": strings.Repeat("0", 64)}, good, 400},
	}
	for _, c := range cases {
		t.Run("fail/"+c.name, func(t *testing.T) {
			base := fmt.Sprintf("/api/v4/projects/%d/packages/terraform/modules/", e.f.Projects["top"].ID)
			req, err := http.NewRequest(http.MethodPut, e.ts.URL+"/", bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = base + c.path // sent unnormalised, as curl --path-as-is would
			req.Header.Set("Deploy-Token", tok.Token)
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := e.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var msg struct{ Message string }
			if resp.StatusCode != c.want || json.Unmarshal(b, &msg) != nil || msg.Message == "" {
				t.Fatalf("%d %s, want %d with a message", resp.StatusCode, b, c.want)
			}
		})
	}
	e.ts.AssertNoPackages(t, e.f, packages.Terraform)
	t.Run("fail/read traversal", func(t *testing.T) {
		for _, p := range []string{"%2e%2e/vpc/aws/versions", "group/vpc/%2e%2e/versions", "group/vpc/aws/..%2f..%2f1.0.0/download", "a%2fb/vpc/aws/versions"} {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/", nil)
			req.URL.Opaque = "/api/v4/packages/terraform/modules/v1/" + p
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := e.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("%s: %d, want 400", p, resp.StatusCode)
			}
		}
	})
}
