package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Secret push protection (docs/design.md §6.2.2), with real git pushes.
func TestSecretPushProtection(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSecretPushProtection(t) })
	t.Run("postgres", func(t *testing.T) { testSecretPushProtection(t, testenv.WithPostgres(t)) })
}

func testSecretPushProtection(t *testing.T, opts ...testenv.ServerOption) {
	ts := testenv.StartServer(t, opts...)
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	live := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
	revoked := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
	ts.MustAPI(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, revoked.ID), nil, nil)
	dev := ts.CreateUser(t, "dev", "write_repository", "read_repository")
	ts.MustAPI(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/projects/%d/members", p.ID), map[string]any{"user_id": dev.ID, "access_level": 30}, nil)
	url := ts.GitURL(p.FullPath, "dev", dev.PAT)

	work := t.TempDir()
	testenv.Git(t, "", "clone", "-q", url, work)
	testenv.Git(t, work, "config", "user.email", "dev@example.com")
	testenv.Git(t, work, "config", "user.name", "Dev")
	commit := func(name, content, msg string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, work, "add", "-A")
		testenv.Git(t, work, "commit", "-q", "-m", msg)
		return strings.TrimSpace(testenv.Git(t, work, "rev-parse", "HEAD"))
	}
	remoteMain := func() string {
		out := testenv.Git(t, "", "ls-remote", url, "refs/heads/main")
		id, _, _ := strings.Cut(out, "\t")
		return id
	}
	push := func(args ...string) (string, error) {
		return testenv.RunGit(t, work, append([]string{"push", url}, args...)...)
	}

	t.Run("ok/a revoked token and a binary file pass", func(t *testing.T) {
		commit("old.env", "# revoked long ago\nTOKEN="+revoked.Token+"\n", "a revoked token")
		commit("blob.bin", "\x00\x01binary\x00"+live.Token+"\x00", "a binary file")
		if out, err := push("main"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
	})

	t.Run("fail/a live deploy token is refused, named by commit, file and line", func(t *testing.T) {
		before := remoteMain()
		id := commit("deploy/ci.env", "A=1\nDEPLOY_PASSWORD="+live.Token+"\n", "add CI settings")
		commit("README.md", "unrelated\n", "later commit")
		out, err := push("main")
		if err == nil {
			t.Fatalf("push with a live deploy token succeeded:\n%s", out)
		}
		for _, want := range []string{"secret push protection", "commit " + id[:12] + ", file deploy/ci.env, line 2: a live deploy token",
			"git push -o secret_push_protection.skip_all", "pre-receive hook declined"} {
			if !strings.Contains(out, want) {
				t.Errorf("git's output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "could not scan") || strings.Contains(out, "too large") {
			t.Errorf("a complete scan reported as incomplete:\n%s", out)
		}
		if strings.Contains(out, live.Token) || strings.Contains(ts.Logs(), live.Token) {
			t.Error("the secret was echoed to the pusher or logged")
		}
		if got := remoteMain(); got != before {
			t.Fatalf("refused push moved main from %s to %s", before, got)
		}
		if fsck, err := testenv.RunGit(t, "", "--git-dir="+ts.Server.Repos.Dir(p.ID), "fsck", "--no-dangling"); err != nil {
			t.Fatalf("fsck after a refused push: %v\n%s", err, fsck)
		}
	})

	t.Run("ok/the skip option lets it through and is audited", func(t *testing.T) {
		out, err := push("-o", "secret_push_protection.skip_all", "main")
		if err != nil {
			t.Fatalf("push with the skip option: %v\n%s", err, out)
		}
		if !strings.Contains(out, "secret push protection skipped") {
			t.Errorf("no notice of the skip:\n%s", out)
		}
		events, err := ts.Server.Audit.List(context.Background(), "project", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		var blocked, skipped int
		for _, e := range events {
			switch e.Type {
			case audit.SecretPushBlocked:
				blocked++
			case audit.SecretPushSkipped:
				skipped++
				if e.ActorName != "dev" || !strings.Contains(e.Details, "deploy/ci.env, line 2") || strings.Contains(e.Details, live.Token) {
					t.Errorf("skip event: %+v", e)
				}
			}
		}
		if blocked != 1 || skipped != 1 {
			t.Errorf("audit: %d blocked, %d skipped, want 1 and 1", blocked, skipped)
		}
	})

	t.Run("fail/a live personal access token on a new branch is refused", func(t *testing.T) {
		testenv.Git(t, work, "checkout", "-q", "-b", "feature")
		commit("notes/todo.md", "# todo\n\nuse "+dev.PAT+" for now\n", "notes")
		out, err := push("feature")
		if err == nil || !strings.Contains(out, "file notes/todo.md, line 3: a live personal access token") || strings.Contains(out, dev.PAT) {
			t.Fatalf("push of a live personal access token: %v\n%s", err, out)
		}
	})

	t.Run("ok/deleting a branch is not scanned", func(t *testing.T) {
		testenv.Git(t, work, "checkout", "-q", "main")
		if out, err := push("main:refs/heads/gone"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		if out, err := push("--delete", "gone"); err != nil {
			t.Fatalf("delete: %v\n%s", err, out)
		}
	})
}

// TestSecretPushProtectionOff: with the setting off, a live token is pushed like any text.
func TestSecretPushProtectionOff(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) { c.SecretPushProtection = false })
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	live := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "ci.env"), []byte("TOKEN="+live.Token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", "-A")
	testenv.Git(t, work, "commit", "-q", "-m", "token")
	if out, err := testenv.RunGit(t, work, "push", ts.GitURL(p.FullPath, "root", ts.RootToken), "main"); err != nil {
		t.Fatalf("push with protection off: %v\n%s", err, out)
	}
}

// TestSecretPushProtectionHookDirRemoved: a temporary-file cleaner removing the hook's directory
// must not turn the check off; the next push makes it again and is still checked.
func TestSecretPushProtectionHookDirRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // this server's hook directory, apart from other processes'
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	live := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
	dirs, err := filepath.Glob(filepath.Join(tmp, "gatehouse-hooks-*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("hook directories after a push: %v %v", dirs, err)
	}
	if err := os.RemoveAll(dirs[0]); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	url := ts.GitURL(p.FullPath, "root", ts.RootToken)
	testenv.Git(t, "", "clone", "-q", url, work)
	if err := os.WriteFile(filepath.Join(work, "ci.env"), []byte("T="+live.Token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", "-A")
	testenv.Git(t, work, "-c", "user.name=r", "-c", "user.email=r@example.com", "commit", "-q", "-m", "token")
	if out, err := testenv.RunGit(t, work, "push", url, "main"); err == nil || !strings.Contains(out, "a live deploy token") {
		t.Fatalf("push after the hook directory was removed: %v\n%s", err, out)
	}
}
