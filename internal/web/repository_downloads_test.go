package web_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Archives and raw files with a deploy token or a personal access token (docs/design.md
// §6.2.1), fetched with real curl and unpacked with real tar and unzip.

// curlGet runs curl on url with args and returns the status and the body's file.
func curlGet(t *testing.T, url string, args ...string) (int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "body")
	cmd := exec.Command("curl", append([]string{"-sS", "-o", out, "-w", "%{http_code}"}, append(args, url)...)...)
	code, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	var status int
	if _, err := fmt.Sscan(string(code), &status); err != nil {
		t.Fatalf("curl status %q: %v", code, err)
	}
	return status, out
}

// listArchive lists an archive's files with the real tool of its format.
func listArchive(t *testing.T, file, format string) string {
	t.Helper()
	var cmd *exec.Cmd
	switch format {
	case "zip":
		cmd = exec.Command("unzip", "-Z1", file)
	case "tar.gz":
		cmd = exec.Command("tar", "-tzf", file)
	case "tar.bz2":
		cmd = exec.Command("tar", "-tjf", file)
	default:
		cmd = exec.Command("tar", "-tf", file)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s of %s: %v\n%s", cmd.Args[0], format, err, out)
	}
	return string(out)
}

func TestArchivesAndRawFilesWithTokens(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testArchivesAndRawFiles(t) })
	t.Run("postgres", func(t *testing.T) { testArchivesAndRawFiles(t, testenv.WithPostgres(t)) })
}

func testArchivesAndRawFiles(t *testing.T, opts ...testenv.ServerOption) {
	for _, tool := range []string{"curl", "tar", "unzip", "bzip2"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (Debian's %s): %v", tool, tool, err)
		}
	}
	ts := testenv.StartServer(t, opts...)
	f := ts.MakeFixture(t)
	gc, sibling := f.Projects["grandchild"], f.Projects["sibling"]
	pushBrowserRepo(t, ts, gc.FullPath)
	pushBrowserRepo(t, ts, sibling.FullPath)
	base := ts.URL + "/" + gc.FullPath
	repoScope := []string{"read_repository"}
	projTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", gc.ID), repoScope, nil)
	// A group token two subgroups up reaches the project (issue 17: group deploy tokens).
	groupTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), repoScope, nil)
	registryTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_registry", "read_package_registry"}, nil)
	siblingTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", sibling.ID), repoScope, nil)
	revokedTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", gc.ID), repoScope, nil)
	ts.MustAPI(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/projects/%d/deploy_tokens/%d", gc.ID, revokedTok.ID), nil, nil)
	expiringTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", gc.ID), repoScope,
		map[string]any{"expires_at": ts.Clock.Now().UTC().AddDate(0, 0, 2).Format("2006-01-02")})
	reporter := ts.CreateUser(t, "reporter", "read_repository")
	addMember(t, ts, fmt.Sprintf("projects/%d", gc.ID), reporter.ID, 20)
	registryOnly := ts.CreateUser(t, "registryonly", "read_registry")
	addMember(t, ts, fmt.Sprintf("projects/%d", gc.ID), registryOnly.ID, 20)
	basic := func(tok testenv.DeployToken) []string { return []string{"-u", tok.Username + ":" + tok.Token} }

	t.Run("ok/archives of every format, unpacked by the real tools", func(t *testing.T) {
		for _, c := range []struct {
			format string
			args   []string
		}{
			{"tar.gz", basic(projTok)},
			{"zip", []string{"-H", "Deploy-Token: " + groupTok.Token}},
			{"tar.bz2", basic(groupTok)},
			{"tar", []string{"-H", "Private-Token: " + reporter.PAT}},
		} {
			status, file := curlGet(t, base+"/-/archive/feature/x/grandchild-feature-x."+c.format, c.args...)
			if status != http.StatusOK {
				body, _ := os.ReadFile(file)
				t.Fatalf("%s: %d %s", c.format, status, body)
			}
			list := listArchive(t, file, c.format)
			for _, want := range []string{"grandchild-feature-x/README.md", "grandchild-feature-x/feature.txt", "grandchild-feature-x/src/main.go"} {
				if !strings.Contains(list, want) {
					t.Errorf("%s archive lacks %s:\n%s", c.format, want, list)
				}
			}
		}
	})

	t.Run("ok/raw file, the bytes as pushed", func(t *testing.T) {
		for name, args := range map[string][]string{
			"project token":      basic(projTok),
			"group token header": {"-H", "Deploy-Token: " + groupTok.Token},
			"bearer":             {"-H", "Authorization: Bearer " + groupTok.Token},
			"personal token":     {"-u", "reporter:" + reporter.PAT},
		} {
			status, file := curlGet(t, base+"/-/raw/main/src/main.go", args...)
			body, _ := os.ReadFile(file)
			if status != http.StatusOK || string(body) != "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n" {
				t.Errorf("%s: %d %q", name, status, body)
			}
		}
		status, file := curlGet(t, base+"/-/raw/main/bin.dat", basic(projTok)...)
		if body, _ := os.ReadFile(file); status != http.StatusOK || string(body) != "\x00\x01\x02\x03\x00x" {
			t.Errorf("binary raw: %d %q", status, body)
		}
	})

	t.Run("ok/an archive already held is not made again", func(t *testing.T) {
		url := base + "/-/archive/main/grandchild-main.zip"
		resp := headWith(t, url, projTok, "")
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || etag == "" {
			t.Fatalf("HEAD archive: %d etag %q", resp.StatusCode, etag)
		}
		if again := headWith(t, url, projTok, etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match with the commit's tag: %d, want 304", again.StatusCode)
		}
		// Another name for the same commit is another file: its own tag.
		if other := headWith(t, base+"/-/archive/v1.0/grandchild-v1.0.zip", projTok, etag); other.StatusCode != http.StatusOK {
			t.Errorf("another ref's archive with the first tag: %d, want 200", other.StatusCode)
		}
	})

	t.Run("fail/refusals in plain text with git's statuses", func(t *testing.T) {
		ts.Clock.Advance(72 * time.Hour) // expiringTok is now past its date
		for _, c := range []struct {
			name string
			url  string
			args []string
			want int
		}{
			{"token of a sibling project", base + "/-/raw/main/README.md", basic(siblingTok), http.StatusNotFound},
			{"token without read_repository", base + "/-/raw/main/README.md", basic(registryTok), http.StatusForbidden},
			{"revoked token", base + "/-/archive/main/grandchild-main.zip", basic(revokedTok), http.StatusUnauthorized},
			{"expired token", base + "/-/archive/main/grandchild-main.zip", basic(expiringTok), http.StatusUnauthorized},
			{"wrong secret", base + "/-/raw/main/README.md", []string{"-u", projTok.Username + ":gldt-not-the-secret-xxxxxxxxxx"}, http.StatusUnauthorized},
			{"personal token without a repository scope", base + "/-/raw/main/README.md", []string{"-H", "Private-Token: " + registryOnly.PAT}, http.StatusForbidden},
			{"group token on the sibling's project", ts.URL + "/" + sibling.FullPath + "/-/raw/main/README.md", basic(groupTok), http.StatusNotFound},
			{"project that does not exist", ts.URL + "/group/nope/-/raw/main/README.md", basic(groupTok), http.StatusNotFound},
			{"missing file", base + "/-/raw/main/nope.txt", basic(projTok), http.StatusNotFound},
			{"unknown archive format", base + "/-/archive/main/grandchild-main.rar", basic(projTok), http.StatusNotFound},
		} {
			status, file := curlGet(t, c.url, c.args...)
			body, _ := os.ReadFile(file)
			if status != c.want || strings.Contains(string(body), "<html") || strings.Contains(string(body), "gldt-") {
				t.Errorf("%s: %d %q, want %d in plain text", c.name, status, body, c.want)
			}
		}
		// The sibling's token opens its own project's files, so its refusal above was reach.
		if status, _ := curlGet(t, ts.URL+"/"+sibling.FullPath+"/-/raw/main/README.md", basic(siblingTok)...); status != http.StatusOK {
			t.Errorf("sibling token on its own project: %d", status)
		}
	})

	t.Run("ok/anonymous: a public project's files, a private one's sign-in", func(t *testing.T) {
		status, _ := curlGet(t, base+"/-/raw/main/README.md")
		if status != http.StatusSeeOther {
			t.Errorf("private project without credentials: %d, want the sign-in redirect", status)
		}
		ts.MustAPI(t, http.StatusOK, http.MethodPut, fmt.Sprintf("/groups/%d", f.OtherGroupID), map[string]any{"visibility": "public"}, nil)
		ts.MustAPI(t, http.StatusOK, http.MethodPut, fmt.Sprintf("/projects/%d", sibling.ID), map[string]any{"visibility": "public"}, nil)
		status, file := curlGet(t, ts.URL+"/"+sibling.FullPath+"/-/archive/main/sibling-main.tar.gz")
		if status != http.StatusOK || !strings.Contains(listArchive(t, file, "tar.gz"), "sibling-main/README.md") {
			t.Errorf("public project without credentials: %d", status)
		}
	})
}

// headWith sends HEAD with tok in basic auth and, when etag is set, If-None-Match.
func headWith(t *testing.T, url string, tok testenv.DeployToken, etag string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(tok.Username, tok.Token)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
