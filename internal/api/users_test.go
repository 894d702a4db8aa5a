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

// pyOutcome is one step of a script's outcome(): the error's code and message, or code 0 and
// the result.
type pyOutcome struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Result  json.RawMessage `json:"result"`
}

// runPythonScript runs testdata/<script> with Debian's python-gitlab against ts as root, with
// extra environment, and returns its JSON object by key.
func runPythonScript(t *testing.T, ts *testenv.TestServer, script string, extra ...string) map[string]json.RawMessage {
	t.Helper()
	python := pythonGitlab(t)
	cmd := exec.CommandContext(t.Context(), python, "testdata/"+script)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8",
		"GATEHOUSE_URL=" + ts.URL, "GATEHOUSE_TOKEN=" + ts.RootToken}, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s\nserver log tail:\n%s", script, err, stderr.String(), tail(ts.Logs(), 4000))
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%s output %q: %v", script, stdout.String(), err)
	}
	return out
}

// pyStep decodes one key of a script's output into v.
func pyStep(t *testing.T, out map[string]json.RawMessage, key string, v any) {
	t.Helper()
	raw, ok := out[key]
	if !ok {
		t.Fatalf("script printed no %q", key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %s: %v", key, raw, err)
	}
}

// TestPythonGitlabUsers manages users, personal access tokens and impersonation tokens with
// python-gitlab as GitLab automation does.
func TestPythonGitlabUsers(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	out := runPythonScript(t, ts, "pythongitlab_users.py")
	step := func(key string) pyOutcome {
		t.Helper()
		var o pyOutcome
		pyStep(t, out, key, &o)
		return o
	}
	var ids struct{ PAT, Other, Imp int64 }
	pyStep(t, out, "ids", &ids)
	var userID int64
	pyStep(t, out, "user_id", &userID)

	// Outcomes: code 0 and the result (as JSON), or the code and a part of the message.
	for _, c := range []struct {
		key    string
		code   int
		result string // JSON of the result, or a substring of the message
	}{
		{"imp_whoami", 0, `"alice"`},
		{"imp_whoami_after_revoke", 401, "401"},
		{"alice_list_other_user", 401, "401"},
		{"root_list_bogus_revoked", 400, "revoked is invalid"},
		{"rotate_old_whoami", 401, "401"},
		{"rotate_new_whoami", 0, `"alice"`},
		{"rotate_again_old", 400, "400 Bad request - token already revoked"},
		{"get_rotated_old", 0, "true"},
		{"self_rotate_read_api", 403, "403"},
		{"self_rotate_old_whoami", 401, "401"},
		{"revoked_whoami", 401, "401"},
		{"alice_get_root_token", 401, "401"},
		{"alice_revoke_root_token", 400, "400 Bad request"},
		{"root_revoke_missing", 404, "404"},
		{"save", 0, "null"},
		{"update_taken_username", 409, "Username has already been taken"},
		{"update_unsupported", 400, "projects_limit is not supported"},
		{"block", 0, "true"},
		{"block_again", 0, "null"},
		{"blocked_whoami", 401, "401"},
		{"ban_blocked", 403, "You cannot ban blocked users."},
		{"unblock", 0, "true"},
		{"unblock_again", 0, "false"},
		{"ban", 0, "true"},
		{"banned_whoami", 401, "401"},
		{"unban", 0, "true"},
		{"unban_again", 403, "You cannot unban active users."},
		{"active_whoami", 0, `"alice"`},
		{"root_blocks_self", 403, "The API initiating user cannot be blocked by the API"},
		{"alice_memberships", 403, "403"},
		{"alice_blocks_root", 403, "403"},
		{"delete_sole_owner", 409, "User cannot be removed while is the sole-owner of a group"},
		{"delete", 0, "null"},
		{"deleted_get", 404, "User Not Found"},
		{"deleted_whoami", 401, "401"},
		{"delete_alice_sole_owner", 409, "sole-owner of a group"},
		{"delete_alice_hard", 0, "null"},
		{"deleted_alice_project", 404, "Project Not Found"},
		{"deleted_alice_group", 404, "Group Not Found"},
		{"delete_self", 403, "cannot delete their own account"},
		{"user_projects_missing", 404, "404 User Not Found"},
	} {
		o := step(c.key)
		got := string(o.Result)
		if o.Code != 0 {
			got = o.Message
		}
		if o.Code != c.code || (c.code == 0 && got != c.result) || (c.code != 0 && !strings.Contains(got, c.result)) {
			t.Errorf("%s: code %d %s, want %d %s", c.key, o.Code, got, c.code, c.result)
		}
	}

	var imp struct {
		Impersonation bool `json:"impersonation"`
		HasToken      bool `json:"has_token"`
	}
	pyStep(t, out, "imp_created", &imp)
	if !imp.Impersonation || !imp.HasToken {
		t.Errorf("impersonation token created as %+v", imp)
	}
	for key, want := range map[string]string{
		"imp_list_active":   fmt.Sprintf("[%d]", ids.Imp),
		"imp_list_inactive": fmt.Sprintf("[%d]", ids.Imp),
		"imp_get":           "true",
		// Alice's own list never shows the impersonation token; root's shows all three.
		"alice_list":       fmt.Sprintf("[%d, %d]", ids.PAT, ids.Other),
		"root_list_alice":  fmt.Sprintf("[%d, %d, %d]", ids.PAT, ids.Other, ids.Imp),
		"root_list_search": `["alice-read"]`,
		"saved_name":       `"Alice Liddell"`,
		"blocked_state":    `"blocked"`,
		"banned_state":     `"banned"`,
		"user_projects":    `["alice/notes"]`,
		"memberships":      `[["Namespace", 30]]`,
		"deleted_members":  fmt.Sprintf("[%d]", userID),
	} {
		var v any
		pyStep(t, out, key, &v)
		got, _ := json.Marshal(v)
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		wantJSON, _ := json.Marshal(w)
		if string(got) != string(wantJSON) {
			t.Errorf("%s = %s, want %s", key, got, wantJSON)
		}
	}
	var rot struct {
		Code      int    `json:"code"`
		ExpiresAt string `json:"expires_at"`
		NewID     int64  `json:"new_id"`
		SameName  bool   `json:"same_name"`
	}
	pyStep(t, out, "rotate", &rot)
	if rot.Code != 0 || rot.ExpiresAt != "2099-01-01" || rot.NewID == ids.Other || !rot.SameName {
		t.Errorf("rotate = %+v", rot)
	}
	var selfRot struct {
		Code      int  `json:"code"`
		HasExpiry bool `json:"has_expiry"`
	}
	pyStep(t, out, "self_rotate", &selfRot)
	if selfRot.Code != 0 || !selfRot.HasExpiry {
		t.Errorf("self rotate = %+v (a rotation without expires_at expires in a week)", selfRot)
	}
}

// TestReadUserScope: a token with GitLab's read_user scope reads profiles and nothing else.
func TestReadUserScope(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	u := newUser(t, ts, "reader", "read_user")
	addMember(t, ts, fmt.Sprintf("projects/%d", f.Projects["child"].ID), u, 30)
	mustStatus(t, asPAT(t, ts, u.PAT, "GET", "/user", nil), 200, "GET /user")
	mustStatus(t, asPAT(t, ts, u.PAT, "GET", fmt.Sprintf("/users/%d", u.ID), nil), 200, "GET /users/:id")
	mustStatus(t, asPAT(t, ts, u.PAT, "GET", fmt.Sprintf("/projects/%d", f.Projects["child"].ID), nil), 403, "GET a project it is a member of")
	mustStatus(t, asPAT(t, ts, u.PAT, "GET", "/personal_access_tokens", nil), 403, "list its tokens")
}
