package git_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// pushInitial creates a commit and pushes it as root (password auth) to the project.
func pushInitial(t *testing.T, ts *testenv.TestServer, fullPath string) {
	t.Helper()
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("hello from "+fullPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "initial")
	testenv.Git(t, work, "push", "-q", ts.GitURL(fullPath, "root", ts.RootToken), "main")
}

func cloneErr(t *testing.T, url string, protocol string) (string, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "clone")
	return testenv.RunGit(t, "", "-c", "protocol.version="+protocol, "clone", "-q", url, dst)
}

func TestDeployTokenClone(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	for _, name := range []string{"top", "child", "grandchild", "sibling"} {
		pushInitial(t, ts, f.Projects[name].FullPath)
	}
	grandchild, sibling := f.Projects["grandchild"], f.Projects["sibling"]

	projectTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", grandchild.ID), []string{"read_repository"}, nil)
	groupTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	noRepoTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_registry", "read_package_registry"}, nil)

	for _, proto := range []string{"0", "2"} {
		t.Run("ok/project token clones its project/v"+proto, func(t *testing.T) {
			if out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, projectTok.Username, projectTok.Token), proto); err != nil {
				t.Fatalf("clone: %v\n%s", err, out)
			}
		})
		t.Run("ok/group token clones a project two subgroups down/v"+proto, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "c")
			if out, err := testenv.RunGit(t, "", "-c", "protocol.version="+proto, "clone", "-q", ts.GitURL(grandchild.FullPath, groupTok.Username, groupTok.Token), dst); err != nil {
				t.Fatalf("clone: %v\n%s", err, out)
			}
			b, err := os.ReadFile(filepath.Join(dst, "README.md"))
			if err != nil || !strings.Contains(string(b), grandchild.FullPath) {
				t.Fatalf("cloned content wrong: %q %v", b, err)
			}
		})
	}
	refused := []struct {
		name, path, user, secret string
		want                     string // in git's error output
	}{
		{"project token on sibling", sibling.FullPath, projectTok.Username, projectTok.Token, "not found"},
		{"project token on parent group's project", f.Projects["top"].FullPath, projectTok.Username, projectTok.Token, "not found"},
		{"group token on sibling group's project", sibling.FullPath, groupTok.Username, groupTok.Token, "not found"},
		{"token without read_repository", grandchild.FullPath, noRepoTok.Username, noRepoTok.Token, "403"},
		{"right secret, wrong username", grandchild.FullPath, "someone-else", projectTok.Token, "Authentication failed"},
		{"no credentials on private project", grandchild.FullPath, "", "", "could not read Username"},
	}
	for _, c := range refused {
		t.Run("fail/"+c.name, func(t *testing.T) {
			out, err := cloneErr(t, ts.GitURL(c.path, c.user, c.secret), "2")
			if err == nil {
				t.Fatalf("clone succeeded, want refusal\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("clone refused, but git said %q, want it to mention %q", out, c.want)
			}
		})
	}
	t.Run("fail/no token can push", func(t *testing.T) {
		for _, tok := range []testenv.DeployToken{projectTok, groupTok} {
			dst := filepath.Join(t.TempDir(), "c")
			testenv.Git(t, "", "clone", "-q", ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), dst)
			if err := os.WriteFile(filepath.Join(dst, "x"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			testenv.Git(t, dst, "add", ".")
			testenv.Git(t, dst, "commit", "-q", "-m", "x")
			out, err := testenv.RunGit(t, dst, "push", "-q", "origin", "main")
			if err == nil {
				t.Fatalf("push with deploy token succeeded\n%s", out)
			}
			if !strings.Contains(out, "403") {
				t.Fatalf("push refusal should be a 403, got:\n%s", out)
			}
		}
	})
	t.Run("fail/revoked (deleted) token is refused at once", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", grandchild.ID), []string{"read_repository"}, nil)
		if out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), "2"); err != nil {
			t.Fatalf("clone before revoke: %v\n%s", err, out)
		}
		ts.MustAPI(t, 204, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", grandchild.ID, tok.ID), nil, nil)
		if out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), "2"); err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("clone after revoke: err=%v, want an authentication failure\n%s", err, out)
		}
	})
	t.Run("fail/revoked (kept) token is refused at once", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
		if out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), "2"); err != nil {
			t.Fatalf("clone before revoke: %v\n%s", err, out)
		}
		if err := ts.Server.Deploy.Revoke(t.Context(), tok.ID); err != nil {
			t.Fatal(err)
		}
		if out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), "2"); err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("clone after revoke: err=%v, want an authentication failure\n%s", err, out)
		}
	})
	t.Run("fail/expired from the expiry date's midnight UTC", func(t *testing.T) {
		now := ts.Clock.Now().UTC()
		expiry := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 3)
		tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", grandchild.ID), []string{"read_repository"},
			map[string]any{"expires_at": expiry.Format("2006-01-02")})
		ts.Clock.SetTo(expiry.Add(-time.Minute))
		if out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), "2"); err != nil {
			t.Fatalf("clone one minute before expiry: %v\n%s", err, out)
		}
		ts.Clock.SetTo(expiry.Add(time.Second))
		defer ts.Clock.SetTo(now)
		out, err := cloneErr(t, ts.GitURL(grandchild.FullPath, tok.Username, tok.Token), "2")
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("clone after expiry: err=%v, want an authentication failure\n%s", err, out)
		}
	})
	t.Run("fail/no secret in logs", func(t *testing.T) {
		logs := ts.Logs()
		for _, tok := range []testenv.DeployToken{projectTok, groupTok, noRepoTok} {
			if strings.Contains(logs, tok.Token) {
				t.Fatalf("a deploy-token secret appears in the server logs")
			}
		}
		if strings.Contains(logs, ts.RootToken) {
			t.Fatalf("the root token appears in the server logs")
		}
	})
}

func TestHumanAccess(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	pushInitial(t, ts, child.FullPath)

	type user struct {
		ID int64 `json:"id"`
	}
	mkUser := func(name string) (int64, string) {
		var u user
		ts.MustAPI(t, 201, "POST", "/users", map[string]any{"username": name, "email": name + "@example.com",
			"name": name, "password": "password-" + name}, &u)
		return u.ID, "password-" + name
	}
	devID, devPass := mkUser("dev")
	repID, repPass := mkUser("rep")
	_, strangerPass := mkUser("stranger")
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/groups/%d/members", f.GroupID), map[string]any{"user_id": devID, "access_level": 30}, nil)
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/projects/%d/members", child.ID), map[string]any{"user_id": repID, "access_level": 20}, nil)

	push := func(user, pass string) (string, error) {
		dst := filepath.Join(t.TempDir(), "c")
		if out, err := testenv.RunGit(t, "", "clone", "-q", ts.GitURL(child.FullPath, user, pass), dst); err != nil {
			return out, err
		}
		if err := os.WriteFile(filepath.Join(dst, user), []byte(user), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, dst, "add", ".")
		testenv.Git(t, dst, "commit", "-q", "-m", user)
		return testenv.RunGit(t, dst, "push", "-q", "origin", "main")
	}
	t.Run("ok/developer through inherited group role pushes", func(t *testing.T) {
		if out, err := push("dev", devPass); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
	})
	t.Run("fail/reporter clones but cannot push", func(t *testing.T) {
		out, err := push("rep", repPass)
		if err == nil || !strings.Contains(out, "403") {
			t.Fatalf("reporter push: err=%v, want 403\n%s", err, out)
		}
	})
	t.Run("fail/non-member gets 404 on a private project", func(t *testing.T) {
		req, _ := http.NewRequest("GET", ts.URL+"/"+child.FullPath+".git/info/refs?service=git-upload-pack", nil)
		req.SetBasicAuth("stranger", strangerPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("fail/anonymous gets a basic challenge", func(t *testing.T) {
		resp, err := http.Get(ts.URL + "/" + child.FullPath + ".git/info/refs?service=git-upload-pack")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` {
			t.Fatalf("status %d challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("ok/public project clones anonymously", func(t *testing.T) {
		var p testenv.Project
		// A project is no more visible than its group (GitLab's rule): the group goes public first.
		ts.MustAPI(t, 200, "PUT", fmt.Sprintf("/groups/%d", f.GroupID), map[string]any{"visibility": "public"}, nil)
		ts.MustAPI(t, 201, "POST", "/projects", map[string]any{"name": "pub", "namespace_id": f.GroupID, "visibility": "public"}, &p)
		pushInitial(t, ts, p.FullPath)
		if out, err := cloneErr(t, ts.GitURL(p.FullPath, "", ""), "2"); err != nil {
			t.Fatalf("anonymous clone of public project: %v\n%s", err, out)
		}
	})
}
