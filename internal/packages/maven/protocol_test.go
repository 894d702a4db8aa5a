package maven_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// These tests speak the protocol exactly as mvn does (PUT artifact, .sha1, .md5, then
// maven-metadata.xml and its checksums; GET with checksums), with Go's HTTP client, to cover the
// credential rules and hostile input quickly.

// deploySequence PUTs a file and its .sha1 and .md5 as Maven's wagon does, with hdr as the
// credential, and fails unless every answer is a success.
func (e *env) deploySequence(t testing.TB, base, path string, content []byte, hdr ...string) {
	t.Helper()
	sums := packages.SumsOf(content)
	for _, put := range []struct {
		suffix string
		body   []byte
		want   int
	}{{"", content, http.StatusCreated}, {".sha1", []byte(sums.SHA1), http.StatusNoContent}, {".md5", []byte(sums.MD5), http.StatusNoContent}} {
		if r := e.do(t, http.MethodPut, base+"/"+path+put.suffix, put.body, hdr...); r.status != put.want {
			t.Fatalf("PUT %s%s: %d %s", path, put.suffix, r.status, r.body)
		}
	}
}

func TestProtocol(t *testing.T) {
	e := start(t)
	rw := []string{"read_package_registry", "write_package_registry"}
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw, nil)
	base := e.projectRepo("top")
	gp := e.groupPath()
	jar := []byte("PK fake jar " + randomHex(t, 8))
	pom := []byte("<project><modelVersion>4.0.0</modelVersion></project>")
	e.deploySequence(t, base, gp+"/lib/1.0/lib-1.0.jar", jar, "Deploy-Token", tok.Token)
	e.deploySequence(t, base, gp+"/lib/1.0/lib-1.0.pom", pom, "Deploy-Token", tok.Token)
	meta := []byte("<metadata><groupId>" + e.groupID + "</groupId><artifactId>lib</artifactId><versioning><versions><version>1.0</version></versions></versioning></metadata>")
	e.deploySequence(t, base, gp+"/lib/maven-metadata.xml", meta, "Deploy-Token", tok.Token)
	sums := packages.SumsOf(jar)

	t.Run("ok/GET answers the file with checksum headers, and every checksum file", func(t *testing.T) {
		r := e.do(t, http.MethodGet, base+"/"+gp+"/lib/1.0/lib-1.0.jar", nil, "Deploy-Token", tok.Token)
		if r.status != http.StatusOK || !bytes.Equal(r.body, jar) || r.header.Get("X-Checksum-Sha1") != sums.SHA1 ||
			r.header.Get("Content-Type") != "application/java-archive" {
			t.Fatalf("GET jar: %d %v", r.status, r.header)
		}
		for ext, want := range map[string]string{"md5": sums.MD5, "sha1": sums.SHA1, "sha256": sums.SHA256, "sha512": sums.SHA512} {
			r := e.do(t, http.MethodGet, base+"/"+gp+"/lib/1.0/lib-1.0.jar."+ext, nil, "Deploy-Token", tok.Token)
			if r.status != http.StatusOK || string(r.body) != want {
				t.Fatalf("GET .%s: %d %s", ext, r.status, r.body)
			}
		}
		r = e.do(t, http.MethodGet, base+"/"+gp+"/lib/maven-metadata.xml", nil, "Deploy-Token", tok.Token)
		if r.status != http.StatusOK || !bytes.Equal(r.body, meta) {
			t.Fatalf("GET metadata: %d %s", r.status, r.body)
		}
	})
	t.Run("ok/HEAD answers headers only", func(t *testing.T) {
		r := e.do(t, http.MethodHead, base+"/"+gp+"/lib/1.0/lib-1.0.pom", nil, "Private-Token", e.ts.RootToken)
		if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(pom)) {
			t.Fatalf("HEAD: %d %v", r.status, r.header)
		}
	})
	t.Run("ok/maven-metadata.xml is re-deployed", func(t *testing.T) {
		meta2 := bytes.Replace(meta, []byte("</versions>"), []byte("<version>1.1</version></versions>"), 1)
		e.deploySequence(t, base, gp+"/lib/maven-metadata.xml", meta2, "Deploy-Token", tok.Token)
		if r := e.do(t, http.MethodGet, base+"/"+gp+"/lib/maven-metadata.xml", nil, "Deploy-Token", tok.Token); !bytes.Equal(r.body, meta2) {
			t.Fatalf("metadata after re-deploy: %s", r.body)
		}
	})
	t.Run("ok/a non-unique SNAPSHOT file is replaced", func(t *testing.T) {
		p := gp + "/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar"
		e.deploySequence(t, base, p, []byte("one"), "Deploy-Token", tok.Token)
		e.deploySequence(t, base, p, []byte("two"), "Deploy-Token", tok.Token)
		if r := e.do(t, http.MethodGet, base+"/"+p, nil, "Deploy-Token", tok.Token); string(r.body) != "two" {
			t.Fatalf("after SNAPSHOT re-deploy: %q", r.body)
		}
	})
	t.Run("fail/a release file is not replaced", func(t *testing.T) {
		r := e.do(t, http.MethodPut, base+"/"+gp+"/lib/1.0/lib-1.0.jar", []byte("evil"), "Deploy-Token", tok.Token)
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "cannot be deployed again") {
			t.Fatalf("release re-deploy: %d %s", r.status, r.body)
		}
		if r := e.do(t, http.MethodGet, base+"/"+gp+"/lib/1.0/lib-1.0.jar", nil, "Deploy-Token", tok.Token); !bytes.Equal(r.body, jar) {
			t.Fatal("the release jar changed")
		}
	})
	t.Run("fail/a checksum file that does not match is refused and stores nothing", func(t *testing.T) {
		for _, ext := range []string{"sha1", "md5", "sha256", "sha512"} {
			wrong := strings.Repeat("0", map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}[ext])
			r := e.do(t, http.MethodPut, base+"/"+gp+"/lib/1.0/lib-1.0.jar."+ext, []byte(wrong), "Deploy-Token", tok.Token)
			if r.status != http.StatusConflict || !strings.Contains(string(r.body), ext+" checksum does not match") {
				t.Fatalf("wrong .%s: %d %s", ext, r.status, r.body)
			}
		}
		for _, body := range []string{"", "zz", strings.Repeat("a", 2000)} {
			if r := e.do(t, http.MethodPut, base+"/"+gp+"/lib/1.0/lib-1.0.jar.sha1", []byte(body), "Deploy-Token", tok.Token); r.status != http.StatusBadRequest {
				t.Fatalf("malformed .sha1 %q: %d %s", body[:min(len(body), 10)], r.status, r.body)
			}
		}
		if r := e.do(t, http.MethodPut, base+"/"+gp+"/lib/1.0/lib-1.0-missing.jar.sha1", []byte(sums.SHA1), "Deploy-Token", tok.Token); r.status != http.StatusNotFound {
			t.Fatalf("checksum of a missing file: %d", r.status)
		}
		if v := e.version(t, "top", gp+"/lib", "1.0"); len(v.Files) != 2 {
			t.Fatalf("files after checksum uploads: %+v", v.Files)
		}
	})
	t.Run("fail/missing files are 404, other methods 405", func(t *testing.T) {
		for _, p := range []string{gp + "/lib/1.0/lib-1.0-sources.jar", gp + "/lib/9.9/lib-9.9.jar", gp + "/nope/maven-metadata.xml", gp + "/lib/1.0/lib-1.0-sources.jar.sha1"} {
			if r := e.do(t, http.MethodGet, base+"/"+p, nil, "Deploy-Token", tok.Token); r.status != http.StatusNotFound || string(r.body) != "404 Not Found\n" {
				t.Fatalf("GET %s: %d %q", p, r.status, r.body)
			}
		}
		if r := e.do(t, http.MethodDelete, base+"/"+gp+"/lib/1.0/lib-1.0.jar", nil, "Deploy-Token", tok.Token); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE: %d", r.status)
		}
		if r := e.do(t, http.MethodPut, e.instanceRepo()+"/"+gp+"/lib/3.0/lib-3.0.jar", []byte("x"), "Deploy-Token", tok.Token); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("PUT at the instance level: %d", r.status)
		}
	})
}

// TestAccess runs the credential rules for Maven.
func TestAccess(t *testing.T) {
	e := start(t)
	e.nameAfter("grandchild")
	ctx := context.Background()
	rw := []string{"read_package_registry", "write_package_registry"}
	groupTok := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw, nil)
	otherGroupTok := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), rw, nil)
	topTok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw, nil)
	gp := e.groupPath()
	file := gp + "/deep/1.0/deep-1.0.jar"
	content := []byte("deep jar")

	t.Run("ok/a group token deploys to a sub-subgroup project and reads it at every level", func(t *testing.T) {
		e.deploySequence(t, e.projectRepo("grandchild"), file, content, "Authorization", basicHeader("anything", groupTok.Token))
		for _, base := range []string{e.projectRepo("grandchild"), e.groupRepo(e.f.GroupID), e.groupRepo(e.f.SubSubID), e.instanceRepo()} {
			if r := e.do(t, http.MethodGet, base+"/"+file, nil, "Deploy-Token", groupTok.Token); r.status != http.StatusOK || !bytes.Equal(r.body, content) {
				t.Fatalf("GET %s: %d %s", base, r.status, r.body)
			}
		}
	})
	t.Run("fail/a group token of another group is refused as not found", func(t *testing.T) {
		for _, base := range []string{e.projectRepo("grandchild"), e.groupRepo(e.f.GroupID), e.instanceRepo()} {
			if r := e.do(t, http.MethodGet, base+"/"+file, nil, "Deploy-Token", otherGroupTok.Token); r.status != http.StatusNotFound {
				t.Fatalf("GET %s: %d %s", base, r.status, r.body)
			}
		}
		if r := e.do(t, http.MethodGet, e.groupRepo(e.f.OtherGroupID)+"/"+file, nil, "Deploy-Token", otherGroupTok.Token); r.status != http.StatusNotFound {
			t.Fatalf("own group endpoint: %d", r.status)
		}
		r := e.do(t, http.MethodPut, e.projectRepo("grandchild")+"/"+gp+"/deep/2.0/deep-2.0.jar", []byte("x"), "Deploy-Token", otherGroupTok.Token)
		if r.status != http.StatusNotFound {
			t.Fatalf("PUT: %d", r.status)
		}
	})
	t.Run("fail/another project's token is refused as not found", func(t *testing.T) {
		for _, base := range []string{e.projectRepo("grandchild"), e.groupRepo(e.f.GroupID), e.instanceRepo()} {
			if r := e.do(t, http.MethodGet, base+"/"+file, nil, "Deploy-Token", topTok.Token); r.status != http.StatusNotFound || string(r.body) != "404 Not Found\n" {
				t.Fatalf("GET %s: %d %s", base, r.status, r.body)
			}
		}
	})
	t.Run("fail/no credentials ask for basic auth", func(t *testing.T) {
		for _, u := range []string{e.projectRepo("grandchild") + "/" + file, e.groupRepo(e.f.GroupID) + "/" + file, e.instanceRepo() + "/" + file,
			e.projectRepo("grandchild") + "/" + gp + "/none/1/none-1.jar", e.ts.URL + "/api/v4/projects/999999/packages/maven/a/b/1/b-1.jar"} {
			r := e.do(t, http.MethodGet, u, nil)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` {
				t.Fatalf("anonymous %s: %d %v", u, r.status, r.header)
			}
		}
		r := e.do(t, http.MethodPut, e.projectRepo("grandchild")+"/"+gp+"/deep/3.0/deep-3.0.jar", []byte("x"))
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("anonymous PUT: %d", r.status)
		}
	})
	t.Run("fail/an unknown token is 401", func(t *testing.T) {
		r := e.do(t, http.MethodGet, e.projectRepo("grandchild")+"/"+file, nil, "Authorization", basicHeader("x", "gldt-"+strings.Repeat("n", 20)))
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` {
			t.Fatalf("unknown token: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/revoked token", func(t *testing.T) {
		tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["grandchild"].ID), rw, nil)
		u := e.projectRepo("grandchild") + "/" + file
		if r := e.do(t, http.MethodGet, u, nil, "Deploy-Token", tok.Token); r.status != http.StatusOK {
			t.Fatalf("before revocation: %d", r.status)
		}
		if err := e.ts.Server.Deploy.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		r := e.do(t, http.MethodGet, u, nil, "Deploy-Token", tok.Token)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "revoked") {
			t.Fatalf("revoked: %d %s", r.status, r.body)
		}
		r = e.do(t, http.MethodPut, e.projectRepo("grandchild")+"/"+gp+"/deep/4.0/deep-4.0.jar", []byte("x"), "Deploy-Token", tok.Token)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("revoked PUT: %d %s", r.status, r.body)
		}
	})
	t.Run("fail/expired token (clock moved)", func(t *testing.T) {
		tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
		tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["grandchild"].ID), rw, map[string]any{"expires_at": tomorrow})
		u := e.groupRepo(e.f.GroupID) + "/" + file
		if r := e.do(t, http.MethodGet, u, nil, "Authorization", basicHeader("x", tok.Token)); r.status != http.StatusOK {
			t.Fatalf("before expiry: %d %s", r.status, r.body)
		}
		e.ts.Clock.Advance(49 * time.Hour)
		r := e.do(t, http.MethodGet, u, nil, "Authorization", basicHeader("x", tok.Token))
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "expired") {
			t.Fatalf("expired: %d %s", r.status, r.body)
		}
	})
	t.Run("ok/no secret reached the logs", func(t *testing.T) {
		logs := e.ts.Logs()
		for _, s := range []string{groupTok.Token, otherGroupTok.Token, topTok.Token, "gldt-" + strings.Repeat("n", 20)} {
			if strings.Contains(logs, s) {
				t.Fatal("a deploy token secret is in the server's logs")
			}
		}
		if !strings.Contains(logs, "/packages/maven/") {
			t.Fatal("the logs recorded no Maven request: the check above proves nothing")
		}
	})
}

func TestExternalAuthorizationRefusesDeployTokens(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), []string{"read_package_registry", "write_package_registry"}, nil)
	u := e.projectRepo("top") + "/" + e.groupPath() + "/ext/1.0/ext-1.0.jar"
	for _, m := range []string{http.MethodPut, http.MethodGet} {
		for _, hdr := range [][]string{{"Deploy-Token", tok.Token}, {"Authorization", basicHeader(tok.Username, tok.Token)}} {
			r := e.do(t, m, u, []byte("x"), hdr...)
			if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "external authorization") {
				t.Fatalf("%s with a deploy token under external authorization: %d %s", m, r.status, r.body)
			}
		}
	}
	e.assertNothingStored(t)
	// A person's token still works.
	if r := e.do(t, http.MethodPut, u, []byte("x"), "Private-Token", e.ts.RootToken); r.status != http.StatusCreated {
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
	e := start(t, func(c *config.Config) { c.Packages.MaxFileSize = map[string]int64{"maven": limit} })
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), []string{"read_package_registry", "write_package_registry"}, nil)
	base := e.projectRepo("top")
	gp := e.groupPath()
	prefix := fmt.Sprintf("/api/v4/projects/%d/packages/maven/", e.f.Projects["top"].ID)

	t.Run("fail/traversal and junk in coordinates, versions and file names", func(t *testing.T) {
		for _, p := range []string{
			"com/%2e%2e/app/1.0/app-1.0.jar", "com/..%2f..%2fetc/app/1.0/app-1.0.jar", "com/a%2fb/app/1.0/app-1.0.jar",
			"com/..%5c..%5cx/app/1.0/app-1.0.jar", "com/a%00b/app/1.0/app-1.0.jar", "com/a%0d%0ab/app/1.0/app-1.0.jar",
			"com/app/..%2f..%2f1/app-1.jar", "com/app/1..0/app-1.jar", "com/app/1.0/..%2fpasswd", "com/app/1.0/%2e%2e",
			"com/app/1.0/app-1.0%5c.jar", "com/app/1.0/app-1.0%00.jar", "com/app/1.0/app-%22quoted%22.jar",
			"com/app/1.0/other-1.0.jar", "com/app/@maven-metadata/app-1.jar", "com/app/1.0/index.html",
			strings.Repeat("n", 200) + "/app/1.0/app-1.0.jar", "com/app/" + strings.Repeat("1", 300) + "/app-1.jar",
		} {
			status, body := rawRequest(t, e.ts.URL, http.MethodPut, prefix+p, tok.Token, []byte("evil"))
			if status != http.StatusBadRequest || !strings.HasPrefix(body, "400 Bad Request") {
				t.Fatalf("PUT %s: %d %s", p, status, body)
			}
		}
		// Unencoded dot segments never reach a handler: the mux cleans the path and redirects.
		status, _ := rawRequest(t, e.ts.URL, http.MethodPut, prefix+"com/../../../../x/1.0/x-1.0.jar", tok.Token, []byte("evil"))
		if status < 300 || status == http.StatusCreated {
			t.Fatalf("dot segments: %d", status)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/a declared checksum that does not match", func(t *testing.T) {
		for _, h := range [][]string{{"X-Checksum-Sha1", packages.SumsOf([]byte("other")).SHA1}, {"X-Checksum-Sha256", packages.SumsOf([]byte("other")).SHA256},
			{"X-Checksum-Md5", "not-hex"}} {
			r := e.do(t, http.MethodPut, base+"/"+gp+"/app/1.0/app-1.0.jar", []byte("jar"), "Deploy-Token", tok.Token, h[0], h[1])
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s mismatch: %d %s", h[0], r.status, r.body)
			}
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/oversized upload with Content-Length", func(t *testing.T) {
		r := e.do(t, http.MethodPut, base+"/"+gp+"/app/1.0/app-1.0.jar", bytes.Repeat([]byte("x"), limit+1), "Deploy-Token", tok.Token)
		if r.status != http.StatusRequestEntityTooLarge || !strings.HasPrefix(string(r.body), "413") {
			t.Fatalf("oversized: %d %s", r.status, r.body)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/oversized chunked upload", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPut, base+"/"+gp+"/app/1.0/app-1.0.jar", struct{ *bytes.Reader }{bytes.NewReader(bytes.Repeat([]byte("x"), 3*limit))})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // unknown: the body goes chunked
		req.Header.Set("Deploy-Token", tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked oversized: %d", resp.StatusCode)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/maven-metadata.xml that is not, or names another artifact", func(t *testing.T) {
		for _, c := range []struct{ path, doc string }{
			{gp + "/app/maven-metadata.xml", "not xml"},
			{gp + "/app/maven-metadata.xml", "<metadata><groupId>org.evil</groupId><artifactId>app</artifactId></metadata>"},
			{gp + "/app/maven-metadata.xml", "<metadata><groupId>" + e.groupID + "</groupId><artifactId>other</artifactId></metadata>"},
			{gp + "/app/1.0-SNAPSHOT/maven-metadata.xml", "<metadata><groupId>" + e.groupID + "</groupId><artifactId>app</artifactId><version>2.0-SNAPSHOT</version></metadata>"},
		} {
			if r := e.do(t, http.MethodPut, base+"/"+c.path, []byte(c.doc), "Deploy-Token", tok.Token); r.status != http.StatusBadRequest {
				t.Fatalf("PUT %s: %d %s", c.path, r.status, r.body)
			}
		}
		big := "<metadata>" + strings.Repeat(" ", limit) + "</metadata>"
		if r := e.do(t, http.MethodPut, base+"/"+gp+"/app/maven-metadata.xml", []byte(big), "Deploy-Token", tok.Token); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized metadata: %d %s", r.status, r.body)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/a checksum of nothing stores nothing", func(t *testing.T) {
		r := e.do(t, http.MethodPut, base+"/"+gp+"/app/1.0/app-1.0.jar.sha1", []byte(packages.SumsOf(nil).SHA1), "Deploy-Token", tok.Token)
		if r.status != http.StatusNotFound {
			t.Fatalf("checksum without file: %d %s", r.status, r.body)
		}
		e.assertNothingStored(t)
	})
	t.Run("ok/exactly the limit", func(t *testing.T) {
		e.deploySequence(t, base, gp+"/app/1.0/app-1.0.jar", bytes.Repeat([]byte("y"), limit), "Deploy-Token", tok.Token)
	})
}
