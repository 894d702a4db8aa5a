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

// TestPythonGitlabConventions drives issue 14's conventions with the real python-gitlab, as
// automation does: gl.projects.list(search=…), get_all and iterator over more than 20 projects
// (Link rel="next"), keyset pagination, sudo (header, parameter, per call) and the error bodies
// python-gitlab shows as error_message.
func TestPythonGitlabConventions(t *testing.T) {
	t.Parallel()
	python := pythonGitlab(t)
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	alice := newUser(t, ts, "alice")
	var tok struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, 201, "POST", "/users/1/personal_access_tokens", map[string]any{"name": "sudo", "scopes": []string{"api", "sudo"}}, &tok)
	cmd := exec.CommandContext(t.Context(), python, "testdata/pythongitlab_conventions.py")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8",
		"GATEHOUSE_URL=" + ts.URL, "ROOT_TOKEN=" + ts.RootToken, "SUDO_TOKEN=" + tok.Token, "ALICE_TOKEN=" + alice.PAT,
		fmt.Sprintf("GROUP_ID=%d", f.GroupID)}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python-gitlab script: %v\nstderr:\n%s", err, stderr.String())
	}
	type outcome struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	var out struct {
		Search         []string `json:"search"`
		GetAll         []int64  `json:"get_all"`
		Iterator       []int64  `json:"iterator"`
		FirstPage      int      `json:"first_page"`
		Keyset         []int64  `json:"keyset"`
		KeysetBadOrder outcome  `json:"keyset_bad_order"`
		SudoHeaderUser string   `json:"sudo_header_user"`
		SudoParamUser  string   `json:"sudo_param_user"`
		SudoOnCall     string   `json:"sudo_on_call"`
		SudoNotAdmin   outcome  `json:"sudo_not_admin"`
		SudoNoScope    outcome  `json:"sudo_without_scope"`
		SudoUnknown    outcome  `json:"sudo_unknown"`
		CreateMissing  outcome  `json:"create_missing"`
		CreateBadScope outcome  `json:"create_bad_scope"`
		ListBadFilter  outcome  `json:"list_bad_filter"`
		Avatar         outcome  `json:"avatar"`
		AvatarCreated  int      `json:"avatar_created"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("script output %q: %v", stdout.String(), err)
	}
	if !slices.Equal(out.Search, []string{"bulk-10", "bulk-11", "bulk-12", "bulk-13", "bulk-14", "bulk-15", "bulk-16", "bulk-17", "bulk-18", "bulk-19"}) {
		t.Errorf("search = %v", out.Search)
	}
	// 4 fixture projects and 25 bulk ones, made before any sudo.
	if len(out.GetAll) != 29 || !slices.Equal(out.GetAll, out.Iterator) || out.FirstPage != 20 {
		t.Errorf("get_all %d items, iterator %d, first page %d; want 29, the same, 20", len(out.GetAll), len(out.Iterator), out.FirstPage)
	}
	if len(out.Keyset) != 29 || !slices.IsSorted(out.Keyset) {
		t.Errorf("keyset = %v, want all 29 in id order", out.Keyset)
	}
	if out.KeysetBadOrder.Code != 405 || !strings.Contains(out.KeysetBadOrder.Message, "Keyset pagination is not yet available") {
		t.Errorf("keyset by name: %+v", out.KeysetBadOrder)
	}
	if out.AvatarCreated != 0 {
		t.Errorf("a refused multipart create made the project")
	}
	if out.SudoHeaderUser != "alice" || out.SudoParamUser != "alice" || out.SudoOnCall != "alice" {
		t.Errorf("sudo acted as %q, %q, %q; want alice", out.SudoHeaderUser, out.SudoParamUser, out.SudoOnCall)
	}
	for _, c := range []struct {
		name string
		got  outcome
		code int
		msg  string
	}{
		{"sudo by a non-admin", out.SudoNotAdmin, 403, "Must be admin to use sudo"},
		{"sudo without the scope", out.SudoNoScope, 403, "insufficient_scope"},
		{"sudo of nobody", out.SudoUnknown, 404, "User with ID or username 'nobody' Not Found"},
		{"create with empty scopes", out.CreateMissing, 400, "Scopes can't be blank"},
		{"create with api scope", out.CreateBadScope, 400, "scopes does not have a valid value"},
		{"list with statistics", out.ListBadFilter, 400, "statistics is not supported by Gatehouse"},
		{"create with an avatar (multipart)", out.Avatar, 400, "avatar is not supported by Gatehouse"},
	} {
		if c.got.Code != c.code || !strings.Contains(c.got.Message, c.msg) {
			t.Errorf("%s: %+v, want %d with %q", c.name, c.got, c.code, c.msg)
		}
	}
}
