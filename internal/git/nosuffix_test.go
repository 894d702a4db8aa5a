package git_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestCloneWithoutSuffix: git clone and git push on http://host/<project>, without ".git", behave
// exactly as on the ".git" URL, as on GitLab: every case, allowed or refused, is run through both
// URL forms with the real git client and must end the same way.
func TestCloneWithoutSuffix(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	grandchild, sibling := f.Projects["grandchild"], f.Projects["sibling"]
	pushInitial(t, ts, grandchild.FullPath)
	pushInitial(t, ts, sibling.FullPath)

	projectTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", grandchild.ID), []string{"read_repository"}, nil)
	groupTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	noRepoTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_registry"}, nil)
	dev, rep := ts.CreateUser(t, "dev"), ts.CreateUser(t, "rep")
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/groups/%d/members", f.GroupID), map[string]any{"user_id": dev.ID, "access_level": 30}, nil)
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/groups/%d/members", f.GroupID), map[string]any{"user_id": rep.ID, "access_level": 20}, nil)

	forms := []struct {
		name string
		url  func(fullPath, user, secret string) string
	}{
		{"with .git", ts.GitURL},
		{"without .git", func(fullPath, user, secret string) string {
			return strings.TrimSuffix(ts.GitURL(fullPath, user, secret), ".git")
		}},
	}
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			for _, proto := range []string{"0", "2"} {
				t.Run("ok/deploy tokens clone/v"+proto, func(t *testing.T) {
					for _, tok := range []testenv.DeployToken{projectTok, groupTok} {
						dst := filepath.Join(t.TempDir(), "c")
						testenv.Git(t, "", "-c", "protocol.version="+proto, "clone", "-q", form.url(grandchild.FullPath, tok.Username, tok.Token), dst)
						if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || !strings.Contains(string(b), grandchild.FullPath) {
							t.Fatalf("cloned content wrong: %q %v", b, err)
						}
					}
				})
			}
			t.Run("ok/developer pushes, and the push is what the .git URL serves", func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "c")
				testenv.Git(t, "", "clone", "-q", form.url(grandchild.FullPath, dev.Username, dev.PAT), dst)
				file := strings.ReplaceAll(form.name, " ", "-")
				commit(t, dst, file)
				testenv.Git(t, dst, "push", "-q", "origin", "main")
				check := filepath.Join(t.TempDir(), "check")
				testenv.Git(t, "", "clone", "-q", ts.GitURL(grandchild.FullPath, projectTok.Username, projectTok.Token), check)
				if _, err := os.Stat(filepath.Join(check, file)); err != nil {
					t.Fatalf("the pushed file is not in the repository: %v", err)
				}
			})
			refused := []struct {
				name, path, user, secret string
				want                     string // in git's output
			}{
				{"wrong secret", grandchild.FullPath, projectTok.Username, projectTok.Token + "x", "Authentication failed"},
				{"right secret, wrong username", grandchild.FullPath, "someone-else", projectTok.Token, "Authentication failed"},
				// GIT_TERMINAL_PROMPT=0: git would prompt for a username here.
				{"no credentials on a private project", grandchild.FullPath, "", "", "could not read Username"},
				{"no credentials on a project that does not exist", "group/nothing-here", "", "", "could not read Username"},
				{"project token on another project", sibling.FullPath, projectTok.Username, projectTok.Token, "not found"},
				{"group token on another group's project", sibling.FullPath, groupTok.Username, groupTok.Token, "not found"},
				{"token without read_repository", grandchild.FullPath, noRepoTok.Username, noRepoTok.Token, "403"},
				{"member of another group", sibling.FullPath, dev.Username, dev.PAT, "not found"},
			}
			for _, c := range refused {
				t.Run("fail/"+c.name, func(t *testing.T) {
					out, err := testenv.RunGit(t, "", "clone", "-q", form.url(c.path, c.user, c.secret), filepath.Join(t.TempDir(), "c"))
					if err == nil || !strings.Contains(out, c.want) {
						t.Fatalf("clone: err=%v, want a refusal mentioning %q\n%s", err, c.want, out)
					}
				})
			}
			for _, who := range []struct{ name, user, secret string }{
				{"deploy token", groupTok.Username, groupTok.Token}, {"reporter", rep.Username, rep.PAT}} {
				t.Run("fail/"+who.name+" cannot push", func(t *testing.T) {
					dst := filepath.Join(t.TempDir(), "c")
					testenv.Git(t, "", "clone", "-q", form.url(grandchild.FullPath, who.user, who.secret), dst)
					commit(t, dst, "refused")
					if out, err := testenv.RunGit(t, dst, "push", "-q", "origin", "main"); err == nil || !strings.Contains(out, "403") {
						t.Fatalf("push: err=%v, want a 403\n%s", err, out)
					}
				})
			}
		})
	}

	// GitLab's answer to the advertisement without .git: a redirect to the .git form, before
	// any credential is read, alike for every project path, so it reveals nothing.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(t *testing.T, method, path, user, secret string, body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, secret)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	t.Run("ok/the advertisement redirects to the .git form, for any project path", func(t *testing.T) {
		for _, p := range []string{grandchild.FullPath, "group/nothing-here"} {
			for _, svc := range []string{"git-upload-pack", "git-receive-pack"} {
				for _, cred := range [][2]string{{"", ""}, {projectTok.Username, projectTok.Token}, {"x", "wrong"}} {
					resp := send(t, http.MethodGet, "/"+p+"/info/refs?service="+svc, cred[0], cred[1], nil)
					want := "/" + p + ".git/info/refs?service=" + svc
					if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want || resp.Header.Get("WWW-Authenticate") != "" {
						t.Fatalf("GET %s: %d to %q, want 301 to %q", p, resp.StatusCode, resp.Header.Get("Location"), want)
					}
				}
			}
		}
	})
	t.Run("ok/the POSTs answer without .git as with it", func(t *testing.T) {
		cases := []struct {
			name, path, user, secret string
			want                     int
		}{
			{"project token", grandchild.FullPath, projectTok.Username, projectTok.Token, http.StatusOK},
			{"wrong secret", grandchild.FullPath, projectTok.Username, "wrong", http.StatusUnauthorized},
			{"anonymous", grandchild.FullPath, "", "", http.StatusUnauthorized},
			{"another project", sibling.FullPath, projectTok.Username, projectTok.Token, http.StatusNotFound},
			{"push by a deploy token", grandchild.FullPath, projectTok.Username, projectTok.Token, http.StatusForbidden},
		}
		for _, c := range cases {
			svc := "git-upload-pack"
			if strings.HasPrefix(c.name, "push") {
				svc = "git-receive-pack"
			}
			for _, suffix := range []string{".git", ""} {
				// A flush packet: an empty negotiation, which upload-pack answers with nothing.
				resp := send(t, http.MethodPost, "/"+c.path+suffix+"/"+svc, c.user, c.secret, strings.NewReader("0000"))
				if resp.StatusCode != c.want {
					t.Fatalf("%s, POST %q: %d, want %d", c.name, "/"+c.path+suffix+"/"+svc, resp.StatusCode, c.want)
				}
			}
		}
	})

	// A project whose path ends in info/refs, and one named like a Git service, keep their own
	// URLs: git always appends /info/refs, and a web page has no service query.
	t.Run("ok/paths ending like Git's routes are not taken", func(t *testing.T) {
		var info struct {
			ID int64 `json:"id"`
		}
		// A project is no more visible than its group (GitLab's rule): the groups are public.
		for _, id := range []int64{f.GroupID, f.SubID} {
			ts.MustAPI(t, 200, "PUT", fmt.Sprintf("/groups/%d", id), map[string]any{"visibility": "public"}, nil)
		}
		ts.MustAPI(t, 201, "POST", "/groups", map[string]any{"name": "info", "path": "info", "parent_id": f.GroupID, "visibility": "public"}, &info)
		var refs, pack testenv.Project
		ts.MustAPI(t, 201, "POST", "/projects", map[string]any{"name": "refs", "path": "refs", "namespace_id": info.ID, "visibility": "public"}, &refs)
		ts.MustAPI(t, 201, "POST", "/projects", map[string]any{"name": "git-upload-pack", "path": "git-upload-pack", "namespace_id": f.SubID, "visibility": "public"}, &pack)
		for _, p := range []testenv.Project{refs, pack} {
			pushInitial(t, ts, p.FullPath)
			dst := filepath.Join(t.TempDir(), "c")
			testenv.Git(t, "", "clone", "-q", strings.TrimSuffix(ts.GitURL(p.FullPath, "", ""), ".git"), dst)
			if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || !strings.Contains(string(b), p.FullPath) {
				t.Fatalf("clone of %s: content %q %v", p.FullPath, b, err)
			}
			// The project's page, and group/info/refs's without git's query, are still the web
			// UI's: its sign-in redirect for an anonymous visitor, not Git's redirect.
			for _, path := range []string{"/" + p.FullPath, "/" + refs.FullPath} {
				resp := send(t, http.MethodGet, path, "", "", nil)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/users/sign_in") {
					t.Fatalf("GET %s: %d to %q, want the web UI's sign-in redirect", path, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		}
		for _, p := range []string{
			"/group/info/refs?service=git-upload-pack",                           // "group" alone is no project path
			"/" + grandchild.FullPath + "/info/refs?service=git-upload-pack&x=1", // not the query git sends
			"/" + grandchild.FullPath + "/info/refs?service=other",
			"/users/sign_in/info/refs?service=git-upload-pack", // a path Gatehouse serves itself
		} {
			if resp := send(t, http.MethodGet, p, "", "", nil); resp.StatusCode == http.StatusMovedPermanently {
				t.Fatalf("GET %s redirected to %q", p, resp.Header.Get("Location"))
			}
		}
	})
}

// commit writes a file named name in the work tree dst and commits it.
func commit(t *testing.T, dst, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dst, name), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, dst, "add", ".")
	testenv.Git(t, dst, "commit", "-q", "-m", name)
}
