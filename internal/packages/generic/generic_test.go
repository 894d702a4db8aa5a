package generic_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree and real curl.
type env struct {
	ts   *testenv.TestServer
	f    testenv.Fixture
	curl string
	dir  string
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	curl := testenv.Binary(t, "curl")
	ts, f := testenv.StartWithFixture(t, opts...)
	return &env{ts: ts, f: f, curl: curl, dir: t.TempDir()}
}

func smallLimit(n int64) testenv.ServerOption { return testenv.MaxFileSize(packages.Generic, n) }

// fileURL is the generic URL of a file in project (numeric id).
func (e *env) fileURL(project, name, version, file string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/%s/%s/%s", e.ts.URL, e.f.Projects[project].ID, name, version, file)
}

type result struct {
	status  int
	body    []byte
	headers http.Header
}

// message decodes GitLab's {"message": …}.
func (r result) message(t *testing.T) string {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil || m.Message == "" {
		t.Fatalf("body %q is not GitLab's {\"message\": …}", r.body)
	}
	return m.Message
}

// run runs curl with args and returns the status, body and headers.
func (e *env) run(t *testing.T, args ...string) result {
	t.Helper()
	body := filepath.Join(e.dir, "body")
	hdr := filepath.Join(e.dir, "headers")
	all := append([]string{"-sS", "-o", body, "-D", hdr, "-w", "%{http_code}"}, args...)
	out, err := exec.Command(e.curl, all...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(redactArgs(args), " "), err, out)
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("curl status %q", out)
	}
	b, _ := os.ReadFile(body)
	h := http.Header{}
	raw, _ := os.ReadFile(hdr)
	for _, line := range strings.Split(string(raw), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	_ = os.Remove(body)
	return result{status: status, body: b, headers: h}
}

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, "gldt-") || strings.Contains(a, "glpat-") {
			a = "[REDACTED]"
		}
		out[i] = a
	}
	return out
}

func (e *env) writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// assertNothingStored fails unless no project holds a generic package and the blob store holds
// no blob and no upload in progress.
func (e *env) assertNothingStored(t *testing.T) {
	t.Helper()
	e.ts.AssertNoPackages(t, e.f, packages.Generic)
}

func TestCurlUploadDownload(t *testing.T) {
	e := start(t)
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID),
		[]string{"read_package_registry", "write_package_registry"}, nil)
	content := randomBytes(t, 300<<10)
	file := e.writeFile(t, "tool.tar.gz", content)
	u := e.fileURL("top", "my-tool", "1.2.3", "tool.tar.gz")

	t.Run("ok/upload with the DEPLOY-TOKEN header", func(t *testing.T) {
		r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--upload-file", file, u)
		if r.status != http.StatusCreated || r.message(t) != "201 Created" {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
	})
	t.Run("ok/download with basic auth, any username", func(t *testing.T) {
		r := e.run(t, "--user", "anything:"+tok.Token, u)
		if r.status != http.StatusOK || !bytes.Equal(r.body, content) {
			t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
		}
		if r.headers.Get("X-Checksum-Sha256") != sha256Hex(content) || r.headers.Get("Etag") != `"`+sha256Hex(content)+`"` ||
			r.headers.Get("Content-Type") != "application/octet-stream" ||
			r.headers.Get("Content-Disposition") != `attachment; filename="tool.tar.gz"` {
			t.Fatalf("headers: %v", r.headers)
		}
	})
	t.Run("ok/download with the token's own username and with the Deploy-Token header", func(t *testing.T) {
		for _, args := range [][]string{{"--user", tok.Username + ":" + tok.Token}, {"--header", "Deploy-Token: " + tok.Token}} {
			if r := e.run(t, append(args, u)...); r.status != http.StatusOK || !bytes.Equal(r.body, content) {
				t.Fatalf("download: %d", r.status)
			}
		}
	})
	t.Run("ok/select=package_file answers the file with its checksums", func(t *testing.T) {
		small := []byte("checksummed\n")
		f := e.writeFile(t, "sum.txt", small)
		r := e.run(t, "--user", "ci:"+tok.Token, "--upload-file", f, e.fileURL("top", "my-tool", "1.2.3", "sum.txt")+"?select=package_file")
		var got struct {
			ID         int64  `json:"id"`
			PackageID  int64  `json:"package_id"`
			FileName   string `json:"file_name"`
			Size       int64  `json:"size"`
			FileSHA256 string `json:"file_sha256"`
			FileSHA1   string `json:"file_sha1"`
			FileMD5    string `json:"file_md5"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("select=package_file: %d %s", r.status, r.body)
		}
		sums := packages.SumsOf(small)
		if got.FileName != "sum.txt" || got.Size != int64(len(small)) || got.FileSHA256 != sums.SHA256 ||
			got.FileSHA1 != sums.SHA1 || got.FileMD5 != sums.MD5 || got.ID == 0 || got.PackageID == 0 {
			t.Fatalf("file JSON = %+v", got)
		}
	})
	t.Run("ok/personal access token in PRIVATE-TOKEN, project by URL-encoded path", func(t *testing.T) {
		enc := fmt.Sprintf("%s/api/v4/projects/%s/packages/generic/my-tool/1.2.3/tool.tar.gz", e.ts.URL, url.PathEscape(e.f.Projects["top"].FullPath))
		if !strings.Contains(enc, "group%2Ftop") {
			t.Fatalf("path not encoded: %s", enc)
		}
		if r := e.run(t, "--header", "PRIVATE-TOKEN: "+e.ts.RootToken, enc); r.status != http.StatusOK || !bytes.Equal(r.body, content) {
			t.Fatalf("download by path: %d %s", r.status, r.body[:min(len(r.body), 200)])
		}
	})
	t.Run("ok/re-upload replaces the file", func(t *testing.T) {
		v2 := []byte("version two")
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--upload-file", e.writeFile(t, "v2", v2), u); r.status != http.StatusCreated {
			t.Fatalf("re-upload: %d %s", r.status, r.body)
		}
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, u); !bytes.Equal(r.body, v2) {
			t.Fatalf("after re-upload got %d bytes", len(r.body))
		}
	})
	t.Run("ok/status=hidden stays downloadable", func(t *testing.T) {
		hu := e.fileURL("top", "my-tool", "2.0.0", "hidden.bin")
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--upload-file", e.writeFile(t, "h", []byte("h")), hu+"?status=hidden"); r.status != http.StatusCreated {
			t.Fatalf("hidden upload: %d %s", r.status, r.body)
		}
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, hu); r.status != http.StatusOK || string(r.body) != "h" {
			t.Fatalf("hidden download: %d %s", r.status, r.body)
		}
		pkg, err := e.ts.Server.Packages.Package(context.Background(), e.f.Projects["top"].ID, packages.Generic, "my-tool")
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.ts.Server.Packages.Version(context.Background(), pkg, "2.0.0")
		if err != nil || v.Status != packages.StatusHidden {
			t.Fatalf("version 2.0.0: %+v, %v", v, err)
		}
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--upload-file", e.writeFile(t, "h", []byte("h")), hu+"?status=gone"); r.status != http.StatusBadRequest {
			t.Fatalf("bad status: %d %s", r.status, r.body)
		}
	})
	t.Run("ok/declared checksums are verified", func(t *testing.T) {
		data := []byte("declared")
		f := e.writeFile(t, "declared", data)
		cu := e.fileURL("top", "checked", "1.0", "declared.bin")
		r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--header", "X-Checksum-Sha256: "+sha256Hex([]byte("something else")), "--upload-file", f, cu)
		if r.status != http.StatusBadRequest || !strings.Contains(r.message(t), "sha256 checksum does not match") {
			t.Fatalf("bad checksum: %d %s", r.status, r.body)
		}
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, cu); r.status != http.StatusNotFound {
			t.Fatalf("a refused upload is visible: %d", r.status)
		}
		r = e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--header", "X-Checksum-Sha256: "+strings.ToUpper(sha256Hex(data)), "--upload-file", f, cu)
		if r.status != http.StatusCreated {
			t.Fatalf("good checksum: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/missing file and version are 404", func(t *testing.T) {
		for _, p := range []string{e.fileURL("top", "my-tool", "1.2.3", "nope"), e.fileURL("top", "my-tool", "9.9.9", "tool.tar.gz"), e.fileURL("top", "nope", "1", "x")} {
			if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, p); r.status != http.StatusNotFound || r.message(t) != "404 Not Found" {
				t.Fatalf("%s: %d %s", p, r.status, r.body)
			}
		}
	})
	t.Run("fail/other methods are 405", func(t *testing.T) {
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "-X", "DELETE", u); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE: %d", r.status)
		}
	})
}

// TestAccess runs the credential rules the issue lists, for generic files.
func TestAccess(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	rw := []string{"read_package_registry", "write_package_registry"}
	groupTok := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw, nil)
	topTok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw, nil)
	readTok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["grandchild"].ID), []string{"read_package_registry"}, nil)
	f := e.writeFile(t, "f", []byte("payload"))
	gc := e.fileURL("grandchild", "pkg", "1.0", "f.bin")

	t.Run("ok/a group token reaches a sub-subgroup project's packages", func(t *testing.T) {
		if r := e.run(t, "--user", "x:"+groupTok.Token, "--upload-file", f, gc); r.status != http.StatusCreated {
			t.Fatalf("group token upload: %d %s", r.status, r.body)
		}
		if r := e.run(t, "--header", "Deploy-Token: "+groupTok.Token, gc); r.status != http.StatusOK || string(r.body) != "payload" {
			t.Fatalf("group token download: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/a group token does not reach another group's project", func(t *testing.T) {
		r := e.run(t, "--header", "Deploy-Token: "+groupTok.Token, "--upload-file", f, e.fileURL("sibling", "pkg", "1.0", "f.bin"))
		if r.status != http.StatusNotFound {
			t.Fatalf("sibling: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/another project's token is refused as not found", func(t *testing.T) {
		if r := e.run(t, "--header", "Deploy-Token: "+topTok.Token, gc); r.status != http.StatusNotFound || r.message(t) != "404 Not Found" {
			t.Fatalf("other project's token: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/a read-only token cannot publish", func(t *testing.T) {
		r := e.run(t, "--header", "Deploy-Token: "+readTok.Token, "--upload-file", f, e.fileURL("grandchild", "pkg", "2.0", "f.bin"))
		if r.status != http.StatusForbidden || !strings.Contains(r.message(t), "write_package_registry") {
			t.Fatalf("read-only publish: %d %s", r.status, r.body)
		}
		if r := e.run(t, "--header", "Deploy-Token: "+readTok.Token, gc); r.status != http.StatusOK {
			t.Fatalf("read-only download: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/no credentials on a private project asks for basic auth", func(t *testing.T) {
		for _, p := range []string{gc, fmt.Sprintf("%s/api/v4/projects/999999/packages/generic/a/1/b", e.ts.URL)} {
			r := e.run(t, p)
			if r.status != http.StatusUnauthorized || r.headers.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` {
				t.Fatalf("anonymous %s: %d %v", p, r.status, r.headers)
			}
		}
	})
	t.Run("fail/an unknown token is 401", func(t *testing.T) {
		r := e.run(t, "--user", "x:gldt-"+strings.Repeat("n", 20), gc)
		if r.status != http.StatusUnauthorized || r.headers.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` || r.message(t) != "401 Unauthorized" {
			t.Fatalf("unknown token: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/revoked token", func(t *testing.T) {
		tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["grandchild"].ID), rw, nil)
		if r := e.run(t, "--header", "Deploy-Token: "+tok.Token, gc); r.status != http.StatusOK {
			t.Fatalf("before revocation: %d", r.status)
		}
		if err := e.ts.Server.Deploy.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		r := e.run(t, "--header", "Deploy-Token: "+tok.Token, gc)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.message(t), "revoked") {
			t.Fatalf("revoked: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/expired token (clock moved)", func(t *testing.T) {
		tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
		tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["grandchild"].ID), rw, map[string]any{"expires_at": tomorrow})
		if r := e.run(t, "--user", "x:"+tok.Token, gc); r.status != http.StatusOK {
			t.Fatalf("before expiry: %d %s", r.status, r.body)
		}
		e.ts.Clock.Advance(49 * time.Hour)
		r := e.run(t, "--user", "x:"+tok.Token, gc)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.message(t), "expired") {
			t.Fatalf("expired: %d %s", r.status, r.body)
		}
	})
	t.Run("ok/no secret reached the logs", func(t *testing.T) {
		logs := e.ts.Logs()
		for _, s := range []string{groupTok.Token, topTok.Token, readTok.Token, "gldt-" + strings.Repeat("n", 20)} {
			if strings.Contains(logs, s) {
				t.Fatal("a deploy token secret is in the server's logs")
			}
		}
		if !strings.Contains(logs, "/packages/generic/") {
			t.Fatal("the logs recorded no package request: the check above proves nothing")
		}
	})
}

func TestExternalAuthorizationRefusesDeployTokens(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), []string{"read_package_registry", "write_package_registry"}, nil)
	f := e.writeFile(t, "f", []byte("x"))
	u := e.fileURL("top", "pkg", "1.0", "f")
	for _, args := range [][]string{{"--upload-file", f, u}, {u}} {
		r := e.run(t, append([]string{"--header", "Deploy-Token: " + tok.Token}, args...)...)
		if r.status != http.StatusForbidden || !strings.Contains(r.message(t), "external authorization") {
			t.Fatalf("deploy token under external authorization: %d %s", r.status, r.body)
		}
	}
	// A person's token still works.
	if r := e.run(t, "--header", "PRIVATE-TOKEN: "+e.ts.RootToken, "--upload-file", f, u); r.status != http.StatusCreated {
		t.Fatalf("PAT under external authorization: %d %s", r.status, r.body)
	}
}

// rawRequest sends exactly path, unnormalised (as curl --path-as-is would), with a deploy token.
func rawRequest(t *testing.T, base, method, path, tok string, body []byte) (int, string) {
	t.Helper()
	return testenv.RawRequest(t, base, method, path, tok, body)
}

func TestHostileInput(t *testing.T) {
	const limit = 64 << 10
	e := start(t, smallLimit(limit))
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), []string{"read_package_registry", "write_package_registry"}, nil)
	id := e.f.Projects["top"].ID
	base := fmt.Sprintf("/api/v4/projects/%d/packages/generic/", id)

	t.Run("fail/oversized upload with Content-Length", func(t *testing.T) {
		f := e.writeFile(t, "big", randomBytes(t, limit+1))
		r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--upload-file", f, e.fileURL("top", "big", "1.0", "big.bin"))
		if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.message(t), "413") {
			t.Fatalf("oversized: %d %s", r.status, r.body)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/oversized chunked upload", func(t *testing.T) {
		f := e.writeFile(t, "big", randomBytes(t, 3*limit))
		r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--header", "Transfer-Encoding: chunked", "-X", "PUT",
			"--data-binary", "@"+f, e.fileURL("top", "big", "1.0", "big.bin"))
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized chunked: %d %s", r.status, r.body)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/traversal and junk in names, versions and filenames", func(t *testing.T) {
		for _, p := range []string{
			"%2e%2e/1.0/f", "..%2f..%2fetc/1.0/f", "a%2fb/1.0/f", "..%5c..%5cx/1.0/f", "a%00b/1.0/f", "a%0d%0ab/1.0/f",
			"pkg/..%2f..%2f1/f", "pkg/1..0/f", "pkg/1.0/..%2fpasswd", "pkg/1.0/%2e%2e", "pkg/1.0/a%5cb", "pkg/1.0/a%00.tgz",
			"pkg/1.0/%22quoted%22", strings.Repeat("n", 600) + "/1.0/f", "pkg/" + strings.Repeat("1", 300) + "/f",
		} {
			status, body := rawRequest(t, e.ts.URL, http.MethodPut, base+p, tok.Token, []byte("evil"))
			if status != http.StatusBadRequest || !strings.Contains(body, `"message":"400 Bad request`) {
				t.Fatalf("PUT %s: %d %s", p, status, body)
			}
		}
		// Unencoded dot segments never reach a handler as a name: the mux cleans the path and
		// redirects to it (here, to no package route at all), and nothing is stored.
		status, _ := rawRequest(t, e.ts.URL, http.MethodPut, base+"../../../../x/1.0/f", tok.Token, []byte("evil"))
		if status < 300 || status == http.StatusCreated {
			t.Fatalf("dot segments: %d", status)
		}
		t.Logf("dot segments answered %d", status)
		e.assertNothingStored(t)
	})
	t.Run("ok/exactly the limit", func(t *testing.T) {
		f := e.writeFile(t, "edge", randomBytes(t, limit))
		if r := e.run(t, "--header", "DEPLOY-TOKEN: "+tok.Token, "--upload-file", f, e.fileURL("top", "edge", "1.0", "edge.bin")); r.status != http.StatusCreated {
			t.Fatalf("at the limit: %d %s", r.status, r.body)
		}
	})
}

func TestPostgres(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.GroupID), []string{"read_package_registry", "write_package_registry"}, nil)
	content := randomBytes(t, 100<<10)
	u := e.fileURL("child", "pg", "1.0", "pg.bin")
	if r := e.run(t, "--user", "x:"+tok.Token, "--upload-file", e.writeFile(t, "pg", content), u); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if r := e.run(t, "--user", "x:"+tok.Token, u); r.status != http.StatusOK || !bytes.Equal(r.body, content) {
		t.Fatalf("download: %d", r.status)
	}
}
