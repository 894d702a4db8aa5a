package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

type pyEvent struct {
	ID          int64  `json:"id"`
	EntityType  string `json:"entity_type"`
	EntityID    int64  `json:"entity_id"`
	EventName   string `json:"event_name"`
	AuthorEmail string `json:"author_email"`
	EntityPath  string `json:"entity_path"`
}

type pyRepositoryOutput struct {
	Branches []struct {
		Name    string `json:"name"`
		Default bool   `json:"default"`
		Merged  bool   `json:"merged"`
		Commit  string `json:"commit"`
	} `json:"branches"`
	BranchGet struct {
		Name   string `json:"name"`
		Commit string `json:"commit"`
	} `json:"branch_get"`
	BranchMissing pyError `json:"branch_missing"`
	Tags          []struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Commit  string `json:"commit"`
	} `json:"tags"`
	TagGet        string   `json:"tag_get"`
	Tree          []string `json:"tree"`
	TreeRecursive []string `json:"tree_recursive"`
	TreePaged     []string `json:"tree_paged"`
	File          struct {
		Decoded       string `json:"decoded"`
		FilePath      string `json:"file_path"`
		BlobID        string `json:"blob_id"`
		LastCommitID  string `json:"last_commit_id"`
		Size          int64  `json:"size"`
		ContentSHA256 string `json:"content_sha256"`
		SHAOK         bool   `json:"sha_ok"`
	} `json:"file"`
	FileMissing      pyError   `json:"file_missing"`
	Raw              string    `json:"raw"`
	RawDefault       string    `json:"raw_default"`
	ArchiveNames     []string  `json:"archive_names"`
	InstanceEvents   []pyEvent `json:"instance_events"`
	InstanceGet      pyEvent   `json:"instance_get"`
	InstanceProjects []pyEvent `json:"instance_projects"`
	ProjectEvents    []pyEvent `json:"project_events"`
	ProjectGet       pyEvent   `json:"project_get"`
	GroupGet         pyEvent   `json:"group_get"`
	GroupGetOther    pyError   `json:"group_get_other"`
	ReaderEvents     pyError   `json:"reader_events"`
	Warnings         []string  `json:"warnings"`
}

// TestPythonGitlabRepository reads a repository pushed with real git, and audit events, with
// Debian's python-gitlab as a script written for GitLab would.
func TestPythonGitlabRepository(t *testing.T) {
	t.Parallel()
	python := pythonGitlab(t)
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	repo := pushRepo(t, ts, child.FullPath)
	ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_repository"}, nil)
	ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	reader := newUser(t, ts, "py-reader", "read_api")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), reader, 20)

	cmd := exec.CommandContext(t.Context(), python, "testdata/pythongitlab_repository.py")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8",
		"GATEHOUSE_URL=" + ts.URL, "GATEHOUSE_TOKEN=" + ts.RootToken, "READER_TOKEN=" + reader.PAT,
		fmt.Sprintf("PROJECT_ID=%d", child.ID), fmt.Sprintf("GROUP_ID=%d", f.GroupID)}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python-gitlab script: %v\nstderr:\n%s\nserver log tail:\n%s", err, stderr.String(), tail(ts.Logs(), 4000))
	}
	var out pyRepositoryOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("script output %q: %v", stdout.String(), err)
	}

	t.Run("ok/branches", func(t *testing.T) {
		var names []string
		for _, b := range out.Branches {
			names = append(names, b.Name)
			if (b.Name == "main") != b.Default || (b.Name == "merged-one") != b.Merged {
				t.Errorf("branch %+v", b)
			}
		}
		if !slices.Equal(names, []string{"feature/x", "main", "merged-one"}) {
			t.Errorf("branches.list() = %v", names)
		}
		if out.BranchGet.Name != "feature/x" || out.BranchGet.Commit != repo.feature {
			t.Errorf("branches.get(feature/x) = %+v", out.BranchGet)
		}
		if e := out.BranchMissing; e.Code == nil || *e.Code != 404 || e.Type == nil || *e.Type != "GitlabGetError" {
			t.Errorf("missing branch = %+v", e)
		}
	})
	t.Run("ok/tags", func(t *testing.T) {
		if len(out.Tags) != 3 || out.Tags[2].Name != "v2.0" || out.Tags[2].Message != "release two" || out.Tags[2].Commit != repo.main {
			t.Errorf("tags.list() = %+v", out.Tags)
		}
		if out.TagGet != "release two" {
			t.Errorf("tags.get(v2.0).message = %q", out.TagGet)
		}
	})
	t.Run("ok/tree", func(t *testing.T) {
		want := []string{"dir", "README.md", "bin.dat", "run.sh", "with space & plus+.txt"}
		if !slices.Equal(out.Tree, want) || !slices.Equal(out.TreePaged, want) {
			t.Errorf("repository_tree() = %v, paged by 2 %v, want %v", out.Tree, out.TreePaged, want)
		}
		if !slices.Equal(out.TreeRecursive, []string{"dir/sub", "dir/sub/file.txt", "dir/top.txt"}) {
			t.Errorf("repository_tree(path=dir, recursive=True) = %v", out.TreeRecursive)
		}
	})
	t.Run("ok/files", func(t *testing.T) {
		fv := out.File
		if fv.Decoded != "deep\n" || fv.FilePath != "dir/sub/file.txt" || fv.Size != 5 || !fv.SHAOK || fv.LastCommitID != repo.main || len(fv.BlobID) != 40 {
			t.Errorf("files.get(...) = %+v", fv)
		}
		if e := out.FileMissing; e.Code == nil || *e.Code != 404 || !strings.Contains(e.Message, "File Not Found") {
			t.Errorf("missing file = %+v", e)
		}
		if out.Raw != "feature\n" || out.RawDefault != repoContent["README.md"] {
			t.Errorf("files.raw = %q, on the default branch %q", out.Raw, out.RawDefault)
		}
		prefix := "child-main-" + repo.main + "/"
		for name := range repoContent {
			if !slices.Contains(out.ArchiveNames, prefix+name) {
				t.Errorf("repository_archive(format=zip) lacks %s: %v", name, out.ArchiveNames)
			}
		}
	})
	t.Run("ok/audit events", func(t *testing.T) {
		if len(out.InstanceEvents) < 2 || out.InstanceGet.ID != out.InstanceEvents[0].ID {
			t.Fatalf("audit_events.list/get = %+v / %+v", out.InstanceEvents, out.InstanceGet)
		}
		for _, e := range out.InstanceProjects {
			if e.EntityType != "Project" {
				t.Errorf("entity_type=Project listed %+v", e)
			}
		}
		if len(out.ProjectEvents) != 1 || out.ProjectEvents[0].EventName != "deploy_token_created" {
			t.Fatalf("project.audit_events.list() = %+v", out.ProjectEvents)
		}
		pe := out.ProjectGet
		if pe.ID != out.ProjectEvents[0].ID || pe.EntityType != "Project" || pe.EntityID != child.ID ||
			pe.EntityPath != child.FullPath || pe.AuthorEmail == "" {
			t.Errorf("project.audit_events.get() = %+v", pe)
		}
		if g := out.GroupGet; g.EntityType != "Group" || g.EntityID != f.GroupID || g.EventName != "group_deploy_token_created" || g.EntityPath != "group" {
			t.Errorf("group.audit_events.get() = %+v", g)
		}
		if e := out.GroupGetOther; e.Code == nil || *e.Code != 404 {
			t.Errorf("a project's event through the group = %+v, want 404", e)
		}
		if e := out.ReaderEvents; e.Code == nil || *e.Code != 403 {
			t.Errorf("a reporter listing project audit events = %+v, want 403", e)
		}
	})
	t.Run("ok/no client warnings", func(t *testing.T) {
		if len(out.Warnings) != 0 {
			t.Errorf("python-gitlab warned: %q", out.Warnings)
		}
	})
}
