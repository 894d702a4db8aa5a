package api_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestTransferKeepsTokensImagesAndRepository: after a project or group moves, its repository and
// images answer at the new path with real git and crane, the old path answers nothing, and a
// group deploy token reaches the project exactly while it is still below the token's group.
func TestTransferKeepsTokensImagesAndRepository(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t, testenv.Localhost)
	f := ts.MakeFixture(t)
	crane := testenv.GoTool(t, "crane")
	host := ts.Host()
	child := f.Projects["child"] // group/sub/child

	// Content: a commit and an image, pushed by root.
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("moving\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "initial")
	testenv.Git(t, work, "push", "-q", ts.GitURL(child.FullPath, "root", ts.RootToken), "main")
	rootHome := t.TempDir()
	testenv.MustRun(t, rootHome, crane, "auth", "login", host, "-u", "root", "-p", ts.RootToken)
	testenv.MustRun(t, rootHome, crane, "append", "--new_layer", testenv.RandomFile(t, rootHome, "layer.bin", 2000), "-t", host+"/group/sub/child/app:v1")

	scopes := []string{"read_repository", "read_registry"}
	topTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), scopes, nil)
	subTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.SubID), scopes, nil)
	homes := map[string]string{}
	for name, tok := range map[string]testenv.DeployToken{"top": topTok, "sub": subTok} {
		homes[name] = t.TempDir()
		testenv.MustRun(t, homes[name], crane, "auth", "login", host, "-u", tok.Username, "-p", tok.Token)
	}
	toks := map[string]testenv.DeployToken{"top": topTok, "sub": subTok}

	// reaches says whether token name clones project path and pulls its image app:v1.
	reaches := func(t *testing.T, name, path string, want bool) {
		t.Helper()
		tok := toks[name]
		out, err := testenv.RunGit(t, "", "clone", "-q", ts.GitURL(path, tok.Username, tok.Token), filepath.Join(t.TempDir(), "c"))
		if (err == nil) != want {
			t.Errorf("%s token clones %s: %v (%s), want success=%v", name, path, err, strings.TrimSpace(out), want)
		}
		out, err = testenv.Run(t, homes[name], crane, "manifest", host+"/"+path+"/app:v1")
		if (err == nil) != want {
			t.Errorf("%s token pulls %s/app:v1: %v (%s), want success=%v", name, path, err, strings.TrimSpace(out), want)
		}
	}
	reaches(t, "top", "group/sub/child", true)
	reaches(t, "sub", "group/sub/child", true)

	// The project moves down into group/sub/subsub: both tokens still reach it, at its new path only.
	var moved testenv.Project
	ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("/projects/%d/transfer", child.ID), map[string]any{"namespace": f.SubSubID}, &moved)
	if moved.FullPath != "group/sub/subsub/child" {
		t.Fatalf("transferred project at %s", moved.FullPath)
	}
	reaches(t, "top", "group/sub/subsub/child", true)
	reaches(t, "sub", "group/sub/subsub/child", true)
	reaches(t, "top", "group/sub/child", false)

	// group/sub moves under other: the group token of group loses the project, sub's keeps it.
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/groups/%d/transfer", f.SubID), map[string]any{"group_id": f.OtherGroupID}, nil)
	reaches(t, "top", "other/sub/subsub/child", false)
	reaches(t, "sub", "other/sub/subsub/child", true)
	reaches(t, "sub", "group/sub/subsub/child", false)
	// Root, with every right, finds nothing at the old paths either.
	if out, err := testenv.Run(t, rootHome, crane, "manifest", host+"/group/sub/subsub/child/app:v1"); err == nil {
		t.Errorf("the old image name still answers: %s", out)
	}

	// The project is deleted: 202, and nothing answers any more.
	var msg struct {
		Message string `json:"message"`
	}
	ts.MustAPI(t, http.StatusAccepted, "DELETE", fmt.Sprintf("/projects/%d", child.ID), nil, &msg)
	if msg.Message != "202 Accepted" {
		t.Fatalf("delete answered %q", msg.Message)
	}
	reaches(t, "sub", "other/sub/subsub/child", false)
	if out, err := testenv.Run(t, rootHome, crane, "manifest", host+"/other/sub/subsub/child/app:v1"); err == nil {
		t.Errorf("a deleted project's image still answers: %s", out)
	}
}
