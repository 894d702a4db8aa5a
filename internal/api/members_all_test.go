package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestPythonGitlabMembersAll lists inherited members with python-gitlab's members_all: each
// user once, with their highest access level over the group, its ancestors and the project.
func TestPythonGitlabMembersAll(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	top, sm, pm, nobody, outsider := newUser(t, ts, "topdev"), newUser(t, ts, "submaint"), newUser(t, ts, "projrep"), newUser(t, ts, "nobody"), newUser(t, ts, "outsider")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), top, 30)  // inherited by sub and child
	addMember(t, ts, fmt.Sprintf("groups/%d", f.SubID), sm, 40)     // direct on sub
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), pm, 10)   // a guest above…
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), pm, 20)  // …and reporter on the project
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), top, 10) // lower than the inherited 30
	var personal testenv.Project
	if code := ts.APIAs(t, pm.PAT, "POST", "/projects", map[string]any{"name": "mine"}, &personal); code != 201 {
		t.Fatalf("create personal project: %d", code)
	}
	out := runPythonScript(t, ts, "pythongitlab_members_all.py", "VIEWER_TOKEN="+sm.PAT, "OUTSIDER_TOKEN="+outsider.PAT,
		fmt.Sprintf("SUB_ID=%d", f.SubID), fmt.Sprintf("PROJECT_ID=%d", child.ID), fmt.Sprintf("PERSONAL_ID=%d", personal.ID),
		fmt.Sprintf("SM_ID=%d", sm.ID), fmt.Sprintf("NOBODY_ID=%d", nobody.ID))
	for key, want := range map[string]string{
		// root created the fixture's groups, so it is their Owner member, as in GitLab.
		"group_all":        `{"projrep":10,"root":50,"submaint":40,"topdev":30}`,
		"group_direct":     `{"root":50,"submaint":40}`,
		"project_all":      `{"projrep":20,"root":50,"submaint":40,"topdev":30}`,
		"project_query":    `{"submaint":40}`,
		"project_user_ids": `{"submaint":40}`,
		"group_get":        `40`,
		"project_get":      `40`,
		// A personal project's namespace owner is its Owner.
		"personal_all": `{"projrep":50}`,
	} {
		var got, w any
		pyStep(t, out, key, &got)
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		ws, _ := json.Marshal(w)
		if string(g) != string(ws) {
			t.Errorf("%s = %s, want %s", key, g, ws)
		}
	}
	for _, c := range []struct {
		key     string
		code    int
		message string
	}{
		{"group_get_nobody", 404, "404 Member Not Found"},
		{"outsider", 404, "404 Group Not Found"},
		{"unsupported", 400, "show_seat_info is not supported"},
		{"personal_hidden", 404, "404 Project Not Found"},
	} {
		var o pyOutcome
		pyStep(t, out, c.key, &o)
		if o.Code != c.code || !strings.Contains(o.Message, c.message) {
			t.Errorf("%s: %d %q, want %d with %q", c.key, o.Code, o.Message, c.code, c.message)
		}
	}
}
