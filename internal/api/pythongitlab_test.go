package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// debianPython is the interpreter Debian's python3-gitlab is installed for. The python3 first on
// PATH may be another build without it.
const debianPython = "/usr/bin/python3"

// pythonGitlab returns the interpreter that can import gitlab, skipping (failing under CI=true)
// when there is none, as testenv.Binary does for other clients.
func pythonGitlab(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "import gitlab; print(gitlab.__version__)").CombinedOutput()
	if err != nil {
		testenv.Missing(t, "%s cannot import gitlab (apt-get install python3-gitlab): %v: %s", debianPython, err, bytes.TrimSpace(out))
	}
	return debianPython
}

// pyToken is a deploy token as the python script reports it.
type pyToken struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Username    string   `json:"username"`
	Scopes      []string `json:"scopes"`
	ExpiresAt   *string  `json:"expires_at"`
	Revoked     *bool    `json:"revoked"`
	Expired     *bool    `json:"expired"`
	HasTokenKey bool     `json:"has_token_key"`
	TokenPrefix *string  `json:"token_prefix"`
	TokenLen    int      `json:"token_len"`
}

type pyError struct {
	Type    *string `json:"type"`
	Code    *int    `json:"code"`
	Message string  `json:"message"`
}

type pyOutput struct {
	PythonGitlab string `json:"python_gitlab"`
	User         string `json:"user"`
	Project      struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
		ByPathID          int64  `json:"by_path_id"`
	} `json:"project"`
	ProjectCreated         pyToken   `json:"project_created"`
	ProjectCustom          pyToken   `json:"project_custom"`
	ProjectExtra           []pyToken `json:"project_extra"`
	ProjectList            []pyToken `json:"project_list"`
	ProjectFirstPage       []int64   `json:"project_first_page"`
	ProjectIterated        []int64   `json:"project_iterated"`
	ProjectGet             pyToken   `json:"project_get"`
	ProjectGetAfterDelete  pyError   `json:"project_get_after_delete"`
	ProjectListAfterDelete []int64   `json:"project_list_after_delete"`
	ProjectCreateBadScope  pyError   `json:"project_create_bad_scope"`
	ProjectCreateBadExpiry pyError   `json:"project_create_bad_expiry"`
	ProjectCreatedPast     pyToken   `json:"project_created_past"`
	Group                  struct {
		ID       int64  `json:"id"`
		FullPath string `json:"full_path"`
	} `json:"group"`
	GroupCreated         pyToken   `json:"group_created"`
	GroupList            []pyToken `json:"group_list"`
	GroupGet             pyToken   `json:"group_get"`
	InstanceList         []pyToken `json:"instance_list"`
	InstanceActive       []int64   `json:"instance_active"`
	GroupGetAfterDelete  pyError   `json:"group_get_after_delete"`
	GroupListAfterDelete []int64   `json:"group_list_after_delete"`
	MissingProject       pyError   `json:"missing_project"`
	Warnings             []string  `json:"warnings"`
}

// TestPythonGitlab runs an automation script written for GitLab, with Debian's python-gitlab,
// against Gatehouse with only the base URL changed (docs/design.md §6.8).
func TestPythonGitlab(t *testing.T) {
	t.Parallel()
	python := pythonGitlab(t)
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	// A revoked token elsewhere, so the instance-wide active filter has something to hide.
	revoked := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", f.Projects["sibling"].ID), []string{"read_registry"}, nil)
	if err := ts.Server.Deploy.Revoke(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	expires := ts.Clock.Now().UTC().AddDate(0, 3, 0).Format("2006-01-02")

	cmd := exec.CommandContext(t.Context(), python, "testdata/pythongitlab.py")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8",
		"GATEHOUSE_URL=" + ts.URL, "GATEHOUSE_TOKEN=" + ts.RootToken,
		fmt.Sprintf("PROJECT_ID=%d", child.ID), "PROJECT_PATH=" + child.FullPath,
		fmt.Sprintf("GROUP_ID=%d", f.SubID), "GROUP_PATH=group/sub", "EXPIRES_AT=" + expires}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("python-gitlab script: %v\nstderr:\n%s\nserver log tail:\n%s", err, stderr.String(), tail(ts.Logs(), 4000))
	}
	t.Logf("python-gitlab script ran in %s", time.Since(start).Round(time.Millisecond))
	var out pyOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("script output %q: %v", stdout.String(), err)
	}
	if !strings.HasPrefix(out.PythonGitlab, "3.") && !strings.HasPrefix(out.PythonGitlab, "4.") {
		t.Logf("untested python-gitlab version %s", out.PythonGitlab)
	}

	isCreated := func(t *testing.T, what string, tok pyToken) {
		t.Helper()
		if !tok.HasTokenKey || tok.TokenPrefix == nil || *tok.TokenPrefix != "gldt-" || tok.TokenLen < 32 {
			t.Errorf("%s: create answer without a gldt- secret: %+v", what, tok)
		}
		if tok.ID == 0 || tok.Revoked == nil || *tok.Revoked || tok.Expired == nil || *tok.Expired {
			t.Errorf("%s: id/revoked/expired wrong: %+v", what, tok)
		}
	}
	noSecret := func(t *testing.T, what string, toks ...pyToken) {
		t.Helper()
		for _, tok := range toks {
			if tok.HasTokenKey || tok.TokenLen != 0 {
				t.Errorf("%s: token %d carries a secret outside the create answer", what, tok.ID)
			}
		}
	}
	defaultName := func(tok pyToken) string { return fmt.Sprintf("gitlab+deploy-token-%d", tok.ID) }

	t.Run("ok/auth and project lookups", func(t *testing.T) {
		if out.User != "root" {
			t.Errorf("gl.auth() user = %q", out.User)
		}
		if out.Project.ID != child.ID || out.Project.PathWithNamespace != child.FullPath || out.Project.ByPathID != child.ID {
			t.Errorf("project = %+v", out.Project)
		}
		if out.Group.ID != f.SubID || out.Group.FullPath != "group/sub" {
			t.Errorf("group = %+v", out.Group)
		}
	})
	t.Run("ok/project create", func(t *testing.T) {
		c := out.ProjectCreated
		isCreated(t, "project_created", c)
		if c.Username != defaultName(c) || c.Name != "py-project" {
			t.Errorf("username/name = %q/%q, want the default username", c.Username, c.Name)
		}
		if !slices.Equal(c.Scopes, []string{"read_repository", "read_registry"}) {
			t.Errorf("scopes = %v", c.Scopes)
		}
		if c.ExpiresAt == nil || *c.ExpiresAt != expires+"T00:00:00.000Z" {
			t.Errorf("expires_at = %v, want %sT00:00:00.000Z", c.ExpiresAt, expires)
		}
		cu := out.ProjectCustom
		isCreated(t, "project_custom", cu)
		if cu.Username != "py-custom-user" || cu.ExpiresAt != nil || !slices.Equal(cu.Scopes, []string{"read_package_registry"}) {
			t.Errorf("custom = %+v", cu)
		}
		for _, x := range out.ProjectExtra {
			isCreated(t, "project_extra", x)
			if !slices.Equal(x.Scopes, []string{"read_repository"}) {
				t.Errorf("extra scopes (sent as a string) = %v", x.Scopes)
			}
		}
	})
	t.Run("ok/project list, pages and get", func(t *testing.T) {
		if len(out.ProjectList) != 5 {
			t.Fatalf("list(get_all=True) gave %d tokens, want 5 across pages of 2", len(out.ProjectList))
		}
		noSecret(t, "project_list", out.ProjectList...)
		noSecret(t, "project_get", out.ProjectGet)
		var listed []int64
		for _, x := range out.ProjectList {
			listed = append(listed, x.ID)
		}
		if !slices.Equal(out.ProjectIterated, listed) {
			t.Errorf("iterator gave %v, list %v", out.ProjectIterated, listed)
		}
		if !slices.Equal(out.ProjectFirstPage, listed[:2]) {
			t.Errorf("page 1 = %v, want %v", out.ProjectFirstPage, listed[:2])
		}
		g := out.ProjectGet
		c := out.ProjectCreated
		if g.ID != c.ID || g.Username != c.Username || !slices.Equal(g.Scopes, c.Scopes) || *g.ExpiresAt != *c.ExpiresAt {
			t.Errorf("get = %+v, created %+v", g, c)
		}
	})
	t.Run("ok/project delete", func(t *testing.T) {
		e := out.ProjectGetAfterDelete
		if e.Code == nil || *e.Code != 404 || e.Type == nil || *e.Type != "GitlabGetError" {
			t.Errorf("get after delete = %+v, want GitlabGetError 404", e)
		}
		if len(out.ProjectListAfterDelete) != 3 || slices.Contains(out.ProjectListAfterDelete, out.ProjectCreated.ID) ||
			slices.Contains(out.ProjectListAfterDelete, out.ProjectCustom.ID) {
			t.Errorf("list after deleting two = %v", out.ProjectListAfterDelete)
		}
	})
	t.Run("fail/project create errors", func(t *testing.T) {
		for name, e := range map[string]pyError{"bad scope": out.ProjectCreateBadScope, "bad expiry": out.ProjectCreateBadExpiry} {
			if e.Code == nil || *e.Code != 400 || e.Type == nil || *e.Type != "GitlabCreateError" {
				t.Errorf("%s: %+v, want GitlabCreateError 400", name, e)
			}
		}
		if !strings.Contains(out.ProjectCreateBadScope.Message, "scopes") || !strings.Contains(out.ProjectCreateBadExpiry.Message, "expires_at") {
			t.Errorf("messages %q / %q do not name the field", out.ProjectCreateBadScope.Message, out.ProjectCreateBadExpiry.Message)
		}
	})
	t.Run("ok/past expiry creates an expired token", func(t *testing.T) {
		p := out.ProjectCreatedPast
		if p.ID == 0 || p.TokenPrefix == nil || *p.TokenPrefix != "gldt-" || p.Expired == nil || !*p.Expired || p.ExpiresAt == nil || !strings.HasPrefix(*p.ExpiresAt, "2000-01-01") {
			t.Errorf("past-dated token = %+v, want expired on 2000-01-01", p)
		}
	})
	t.Run("ok/group tokens", func(t *testing.T) {
		c := out.GroupCreated
		isCreated(t, "group_created", c)
		if c.Username != defaultName(c) || c.ExpiresAt != nil || !slices.Equal(c.Scopes, []string{"read_repository", "read_package_registry"}) {
			t.Errorf("group token = %+v", c)
		}
		if len(out.GroupList) != 1 || out.GroupList[0].ID != c.ID {
			t.Errorf("group list = %+v", out.GroupList)
		}
		noSecret(t, "group list/get", append(out.GroupList, out.GroupGet)...)
		if out.GroupGet.ID != c.ID || out.GroupGet.Username != c.Username {
			t.Errorf("group get = %+v", out.GroupGet)
		}
		if e := out.GroupGetAfterDelete; e.Code == nil || *e.Code != 404 {
			t.Errorf("group get after delete = %+v", e)
		}
		if len(out.GroupListAfterDelete) != 0 {
			t.Errorf("group list after delete = %v", out.GroupListAfterDelete)
		}
	})
	t.Run("ok/instance list", func(t *testing.T) {
		// 3 remaining project tokens + the group token + the revoked one on another project.
		if len(out.InstanceList) != 5 {
			t.Fatalf("gl.deploytokens.list() gave %d, want 5", len(out.InstanceList))
		}
		noSecret(t, "instance list", out.InstanceList...)
		if len(out.InstanceActive) != 4 || slices.Contains(out.InstanceActive, revoked.ID) {
			t.Errorf("active list = %v, want 4 without the revoked %d", out.InstanceActive, revoked.ID)
		}
		var sawRevoked bool
		for _, x := range out.InstanceList {
			if x.ID == revoked.ID {
				sawRevoked = x.Revoked != nil && *x.Revoked
			}
		}
		if !sawRevoked {
			t.Errorf("the revoked token is not listed as revoked")
		}
	})
	t.Run("fail/missing project", func(t *testing.T) {
		if e := out.MissingProject; e.Code == nil || *e.Code != 404 {
			t.Errorf("missing project = %+v", e)
		}
	})
	t.Run("ok/no client warnings", func(t *testing.T) {
		if len(out.Warnings) != 0 {
			t.Errorf("python-gitlab warned: %q", out.Warnings)
		}
	})
	if strings.Contains(stderr.String(), "Traceback") {
		t.Errorf("script stderr: %s", stderr.String())
	}
	if _, err := os.Stat("testdata/__pycache__"); err == nil {
		t.Errorf("the script left a __pycache__ in testdata")
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
