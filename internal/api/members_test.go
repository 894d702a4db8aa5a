package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// memberFixture is a top-level group created by a user (its only owner), a maintainer and a
// newcomer, and a project in the group.
type memberFixture struct {
	owner, maint, newcomer user
	group, project         int64
}

func newMemberFixture(t *testing.T, ts *testenv.TestServer) memberFixture {
	t.Helper()
	f := memberFixture{owner: newUser(t, ts, "gowner"), maint: newUser(t, ts, "gmaint"), newcomer: newUser(t, ts, "gnew")}
	var g, p struct {
		ID int64 `json:"id"`
	}
	mustStatus(t, asPAT(t, ts, f.owner.PAT, "POST", "/groups", map[string]any{"name": "crew", "path": "crew"}), 201, "owner creates group")
	ts.MustAPI(t, 200, "GET", "/groups/crew", nil, &g)
	ts.MustAPI(t, 201, "POST", "/projects", map[string]any{"name": "ship", "namespace_id": g.ID}, &p)
	f.group, f.project = g.ID, p.ID
	mustStatus(t, asPAT(t, ts, f.owner.PAT, "POST", fmt.Sprintf("/groups/%d/members", g.ID),
		map[string]any{"user_id": f.maint.ID, "access_level": 40}), 201, "owner adds maintainer")
	return f
}

// memberLevel returns u's direct access level on "groups/<id>" or "projects/<id>", 0 if none.
func memberLevel(t *testing.T, ts *testenv.TestServer, on string, u user) int {
	t.Helper()
	var ms []struct {
		ID          int64 `json:"id"`
		AccessLevel int   `json:"access_level"`
	}
	ts.MustAPI(t, 200, "GET", "/"+on+"/members", nil, &ms)
	for _, m := range ms {
		if m.ID == u.ID {
			return m.AccessLevel
		}
	}
	return 0
}

// A group maintainer could demote the group's only owner by POSTing the owner as a new member
// (an upsert). Now POST on a member is 409, and PUT and DELETE follow GitLab's rules.
func TestMemberOwnerProtection(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := newMemberFixture(t, ts)
	group := fmt.Sprintf("groups/%d", f.group)
	members := "/" + group + "/members"
	ownerAt := fmt.Sprintf("%s/%d", members, f.owner.ID)

	r := asPAT(t, ts, f.maint.PAT, "POST", members, map[string]any{"user_id": f.owner.ID, "access_level": 10})
	mustStatus(t, r, 409, "maintainer re-adds the owner as guest")
	if r.message(t) != "Member already exists" {
		t.Errorf("409 message %q", r.message(t))
	}
	if got := memberLevel(t, ts, group, f.owner); got != 50 {
		t.Fatalf("the owner's level is %d after the maintainer's POST, want 50", got)
	}
	for _, c := range []struct {
		name, pat, method, path string
		body                    map[string]any
		status                  int
		message                 string
	}{
		{"fail/maintainer demotes the owner", f.maint.PAT, "PUT", ownerAt, map[string]any{"access_level": 10}, 403, "only an owner"},
		{"fail/maintainer removes the owner", f.maint.PAT, "DELETE", ownerAt, nil, 403, "only an owner"},
		{"fail/maintainer grants owner", f.maint.PAT, "POST", members, map[string]any{"user_id": f.newcomer.ID, "access_level": 50}, 403, "above your own"},
		{"fail/owner demotes self, the last owner", f.owner.PAT, "PUT", ownerAt, map[string]any{"access_level": 40}, 403, "last owner"},
		{"fail/owner removes self, the last owner", f.owner.PAT, "DELETE", ownerAt, nil, 403, "last owner"},
		{"fail/admin removes the last owner", ts.RootToken, "DELETE", ownerAt, nil, 403, "last owner"},
		{"fail/update a non-member", f.owner.PAT, "PUT", fmt.Sprintf("%s/%d", members, f.newcomer.ID), map[string]any{"access_level": 10}, 404, "Member Not Found"},
		{"fail/update without access_level", f.owner.PAT, "PUT", fmt.Sprintf("%s/%d", members, f.maint.ID), map[string]any{}, 400, "access_level"},
		{"fail/newcomer (no role) removes the owner", f.newcomer.PAT, "DELETE", ownerAt, nil, 404, "Group Not Found"},
		{"ok/maintainer adds a developer", f.maint.PAT, "POST", members, map[string]any{"user_id": f.newcomer.ID, "access_level": 30}, 201, ""},
		{"ok/maintainer promotes to maintainer", f.maint.PAT, "PUT", fmt.Sprintf("%s/%d", members, f.newcomer.ID), map[string]any{"access_level": 40}, 200, ""},
		{"ok/get one member", f.maint.PAT, "GET", fmt.Sprintf("%s/%d", members, f.newcomer.ID), nil, 200, ""},
		{"ok/maintainer removes a maintainer", f.maint.PAT, "DELETE", fmt.Sprintf("%s/%d", members, f.newcomer.ID), nil, 204, ""},
		{"fail/get a removed member", f.maint.PAT, "GET", fmt.Sprintf("%s/%d", members, f.newcomer.ID), nil, 404, "Member Not Found"},
		{"ok/owner makes the maintainer an owner", f.owner.PAT, "PUT", fmt.Sprintf("%s/%d", members, f.maint.ID), map[string]any{"access_level": 50}, 200, ""},
		{"ok/then the first owner may step down", f.owner.PAT, "PUT", ownerAt, map[string]any{"access_level": 30}, 200, ""},
	} {
		r := asPAT(t, ts, c.pat, c.method, c.path, c.body)
		if r.status != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
		}
		if c.message != "" && !strings.Contains(r.message(t), c.message) {
			t.Errorf("%s: message %q does not say %q", c.name, r.message(t), c.message)
		}
	}
	if got := memberLevel(t, ts, group, f.owner); got != 30 {
		t.Fatalf("the first owner's level is %d, want 30", got)
	}
}

// The same attack and rules driven by the real python-gitlab, as an automation script would.
func TestPythonGitlabMembers(t *testing.T) {
	t.Parallel()
	python := pythonGitlab(t)
	ts := testenv.StartServer(t)
	f := newMemberFixture(t, ts)
	cmd := exec.CommandContext(t.Context(), python, "testdata/pythongitlab_members.py")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8",
		"GATEHOUSE_URL=" + ts.URL, "OWNER_TOKEN=" + f.owner.PAT, "MAINT_TOKEN=" + f.maint.PAT,
		fmt.Sprintf("GROUP_ID=%d", f.group), fmt.Sprintf("PROJECT_ID=%d", f.project),
		fmt.Sprintf("OWNER_ID=%d", f.owner.ID), fmt.Sprintf("MAINT_ID=%d", f.maint.ID), fmt.Sprintf("NEWCOMER_ID=%d", f.newcomer.ID)}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python-gitlab script: %v\nstderr:\n%s", err, stderr.String())
	}
	type outcome struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Result  any    `json:"result"`
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("script output %q: %v", stdout.String(), err)
	}
	step := func(name string) outcome {
		var o outcome
		if err := json.Unmarshal(out[name], &o); err != nil {
			t.Fatalf("%s: %s: %v", name, out[name], err)
		}
		return o
	}
	for _, c := range []struct {
		step    string
		code    int
		message string
	}{
		{"maint_readds_owner", 409, "Member already exists"},
		{"maint_updates_owner", 403, "only an owner"},
		{"maint_removes_owner", 403, "only an owner"},
		{"maint_grants_owner", 403, "above your own"},
		{"maint_adds_developer", 0, ""},
		{"maint_promotes_to_maintainer", 0, ""},
		{"maint_removes_developer", 0, ""},
		{"owner_demotes_self", 403, "last owner"},
		{"owner_removes_self", 403, "last owner"},
		{"owner_adds_project_owner", 0, ""},
		{"maint_readds_project_owner", 409, "Member already exists"},
		{"maint_demotes_project_owner", 403, "only an owner"},
		{"maint_removes_project_owner", 403, "only an owner"},
		{"owner_promotes_maint", 0, ""},
		{"owner_steps_down", 0, ""},
	} {
		o := step(c.step)
		if o.Code != c.code || !strings.Contains(o.Message, c.message) {
			t.Errorf("%s: %+v, want code %d with %q", c.step, o, c.code, c.message)
		}
	}
	if r := step("maint_promotes_to_maintainer").Result; r != float64(40) {
		t.Errorf("promoted level read back %v, want 40", r)
	}
	var levels struct {
		Owner   int `json:"owner_level"`
		Project int `json:"project_newcomer_level"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &levels); err != nil {
		t.Fatal(err)
	}
	if levels.Owner != 50 || levels.Project != 50 {
		t.Fatalf("levels after the attempts: owner %d, project newcomer %d; want 50, 50", levels.Owner, levels.Project)
	}
}
