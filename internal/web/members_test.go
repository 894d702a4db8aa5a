package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// apiMember is GET …/members/:user_id's answer.
type apiMember struct {
	AccessLevel int     `json:"access_level"`
	ExpiresAt   *string `json:"expires_at"`
}

// memberOf reads a user's direct membership through the API; the status is 404 when there is none.
func memberOf(t *testing.T, ts *testenv.TestServer, owner string, userID int64) (int, apiMember) {
	t.Helper()
	var m apiMember
	status := ts.API(t, "GET", fmt.Sprintf("/%s/members/%d", owner, userID), nil, &m)
	return status, m
}

func membersPath(base string) string {
	if strings.HasPrefix(base, "/groups/") {
		return base + "/-/group_members"
	}
	return base + "/-/project_members"
}

func TestMembersPages(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	groupOwner := fmt.Sprintf("groups/%d", f.GroupID)
	alice := ts.CreateUser(t, "alice")
	bob := ts.CreateUser(t, "bob")
	carol := ts.CreateUser(t, "carol")
	dave := ts.CreateUser(t, "dave")
	addMember(t, ts, groupOwner, alice.ID, 40) // Maintainer of group: may manage members, not owners
	addMember(t, ts, groupOwner, dave.ID, 20)  // Reporter: sees the members, changes nothing
	// A user whose name is markup: every page shows it escaped.
	var evil struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", "/users", map[string]any{"username": "evil", "email": "evil@example.com",
		"name": `<script>x</script>`, "password": "password-evil"}, &evil)
	addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), evil.ID, 10)

	root, rootCSRF := signIn(t, ts, "root", rootPassword(ts))
	groupMembers := membersPath("/groups/group")
	projectMembers := membersPath("/" + top.FullPath)

	t.Run("ok/links from the group and project pages", func(t *testing.T) {
		mustContain(t, "group page", root.get("/groups/group").body, `href="`+groupMembers+`"`)
		mustContain(t, "project page", root.get("/"+top.FullPath).body, `href="`+projectMembers+`"`)
	})

	t.Run("ok/direct and inherited members", func(t *testing.T) {
		r := root.get(groupMembers)
		if r.status != http.StatusOK {
			t.Fatalf("group members: %d", r.status)
		}
		mustContain(t, "group members", r.body, "Group members", "@alice", "Maintainer", "@dave", "Reporter", "Direct member",
			`id="invite-form"`, `<option value="bob">`, `<label for="invite-username">`)
		r = root.get(projectMembers)
		if r.status != http.StatusOK {
			t.Fatalf("project members: %d", r.status)
		}
		mustContain(t, "project members", r.body, "Project members", `Inherited from <a href="/groups/group">group</a>`,
			"@evil", "Guest", `&lt;script&gt;x&lt;/script&gt;`)
		if strings.Contains(r.body, `<script>x</script>`) {
			t.Fatal("a member's name is not escaped")
		}
		// An inherited member is changed in its group: no controls for it here.
		if strings.Contains(r.body, fmt.Sprintf(`action="%s/%d"`, projectMembers, alice.ID)) {
			t.Fatal("an inherited member has a change form")
		}
		// Deeper down, the source is the nearest group that gives the role.
		r = root.get(membersPath("/groups/group/sub/subsub"))
		mustContain(t, "subsub members", r.body, `Inherited from <a href="/groups/group">group</a>`)
	})

	aliceUI, aliceCSRF := signIn(t, ts, "alice", "password-alice")

	t.Run("fail/a maintainer cannot grant Owner; the form keeps its values", func(t *testing.T) {
		r := aliceUI.post(groupMembers, url.Values{"authenticity_token": {aliceCSRF}, "username": {"bob"}, "access_level": {"50"},
			"expires_at": {"2099-01-02"}})
		if r.status != http.StatusForbidden {
			t.Fatalf("invite as owner: %d", r.status)
		}
		mustContain(t, "refusal", r.body, "Cannot grant a role above your own.", `value="bob"`, `value="2099-01-02"`,
			`<option value="50" selected>Owner</option>`)
		if status, _ := memberOf(t, ts, groupOwner, bob.ID); status != http.StatusNotFound {
			t.Fatalf("bob became a member: %d", status)
		}
	})

	t.Run("fail/unknown user and past date", func(t *testing.T) {
		r := aliceUI.post(groupMembers, url.Values{"authenticity_token": {aliceCSRF}, "username": {"nobody"}, "access_level": {"20"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Username does not match any user.") {
			t.Fatalf("unknown user: %d", r.status)
		}
		r = aliceUI.post(groupMembers, url.Values{"authenticity_token": {aliceCSRF}, "username": {"bob"}, "access_level": {"20"},
			"expires_at": {"2001-01-01"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Access expiration date cannot be a date in the past.") {
			t.Fatalf("past date: %d", r.status)
		}
	})

	t.Run("ok/invite, change role and expiry, remove", func(t *testing.T) {
		expires := time.Now().UTC().AddDate(0, 2, 0).Format(time.DateOnly)
		r := aliceUI.post(groupMembers, url.Values{"authenticity_token": {aliceCSRF}, "username": {"@bob"}, "access_level": {"20"},
			"expires_at": {expires}})
		if r.status != http.StatusSeeOther || r.location != groupMembers+"?notice=invited" {
			t.Fatalf("invite: %d %q %s", r.status, r.location, r.body)
		}
		status, m := memberOf(t, ts, groupOwner, bob.ID)
		if status != http.StatusOK || m.AccessLevel != 20 || m.ExpiresAt == nil || *m.ExpiresAt != expires {
			t.Fatalf("after invite: %d %+v", status, m)
		}
		mustContain(t, "after invite", aliceUI.get(r.location).body, "The member was added.", "@bob")
		// Inviting again is a conflict, said in words.
		r = aliceUI.post(groupMembers, url.Values{"authenticity_token": {aliceCSRF}, "username": {"bob"}, "access_level": {"20"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "already a member") {
			t.Fatalf("invite twice: %d", r.status)
		}

		r = aliceUI.post(fmt.Sprintf("%s/%d", groupMembers, bob.ID), url.Values{"authenticity_token": {aliceCSRF}, "access_level": {"30"},
			"expires_at": {""}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
		if status, m := memberOf(t, ts, groupOwner, bob.ID); status != http.StatusOK || m.AccessLevel != 30 || m.ExpiresAt != nil {
			t.Fatalf("after update: %d %+v", status, m)
		}
		r = aliceUI.post(fmt.Sprintf("%s/%d/remove", groupMembers, bob.ID), url.Values{"authenticity_token": {aliceCSRF}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("remove: %d %s", r.status, r.body)
		}
		if status, _ := memberOf(t, ts, groupOwner, bob.ID); status != http.StatusNotFound {
			t.Fatalf("after remove: %d", status)
		}
		// A project's members page works the same.
		r = aliceUI.post(projectMembers, url.Values{"authenticity_token": {aliceCSRF}, "username": {"bob"}, "access_level": {"30"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("project invite: %d %s", r.status, r.body)
		}
		if status, m := memberOf(t, ts, fmt.Sprintf("projects/%d", top.ID), bob.ID); status != http.StatusOK || m.AccessLevel != 30 {
			t.Fatalf("project member: %d %+v", status, m)
		}
	})

	t.Run("fail/a maintainer cannot change or remove an owner", func(t *testing.T) {
		r := aliceUI.post(fmt.Sprintf("%s/%d/remove", groupMembers, 1), url.Values{"authenticity_token": {aliceCSRF}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "Only an owner can change or remove an owner.") {
			t.Fatalf("remove owner: %d", r.status)
		}
	})

	t.Run("fail/the last owner cannot be demoted or removed", func(t *testing.T) {
		r := root.post(fmt.Sprintf("%s/%d", groupMembers, 1), url.Values{"authenticity_token": {rootCSRF}, "access_level": {"40"}})
		if r.status != http.StatusForbidden {
			t.Fatalf("demote last owner: %d", r.status)
		}
		mustContain(t, "last owner", r.body, "The last owner cannot be demoted or removed", `id="member-error-1"`)
		r = root.post(fmt.Sprintf("%s/%d/remove", groupMembers, 1), url.Values{"authenticity_token": {rootCSRF}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "The last owner cannot be demoted or removed") {
			t.Fatalf("remove last owner: %d", r.status)
		}
		if status, m := memberOf(t, ts, groupOwner, 1); status != http.StatusOK || m.AccessLevel != 50 {
			t.Fatalf("root's membership changed: %d %+v", status, m)
		}
	})

	t.Run("fail/a reporter sees the members but changes nothing (403)", func(t *testing.T) {
		daveUI, daveCSRF := signIn(t, ts, "dave", "password-dave")
		r := daveUI.get(groupMembers)
		if r.status != http.StatusOK || strings.Contains(r.body, `id="invite-form"`) || strings.Contains(r.body, "/remove") {
			t.Fatalf("reporter's view: %d", r.status)
		}
		for _, p := range []string{groupMembers, fmt.Sprintf("%s/%d", groupMembers, alice.ID), fmt.Sprintf("%s/%d/remove", groupMembers, alice.ID)} {
			r := daveUI.post(p, url.Values{"authenticity_token": {daveCSRF}, "username": {"carol"}, "access_level": {"10"}})
			if r.status != http.StatusForbidden {
				t.Fatalf("reporter POST %s: %d", p, r.status)
			}
		}
		if status, m := memberOf(t, ts, groupOwner, alice.ID); status != http.StatusOK || m.AccessLevel != 40 {
			t.Fatalf("alice changed: %d %+v", status, m)
		}
	})

	t.Run("fail/an outsider gets 404", func(t *testing.T) {
		carolUI, carolCSRF := signIn(t, ts, "carol", "password-carol")
		for _, p := range []string{groupMembers, projectMembers, membersPath("/groups/no/such")} {
			if r := carolUI.get(p); r.status != http.StatusNotFound {
				t.Fatalf("GET %s: %d", p, r.status)
			}
			if r := carolUI.post(p, url.Values{"authenticity_token": {carolCSRF}, "username": {"carol"}, "access_level": {"50"}}); r.status != http.StatusNotFound {
				t.Fatalf("POST %s: %d", p, r.status)
			}
		}
		if status, _ := memberOf(t, ts, groupOwner, carol.ID); status != http.StatusNotFound {
			t.Fatal("carol joined")
		}
	})

	t.Run("fail/CSRF", func(t *testing.T) {
		for _, tok := range []string{"", "wrong"} {
			r := root.post(groupMembers, url.Values{"authenticity_token": {tok}, "username": {"carol"}, "access_level": {"10"}})
			if r.status != http.StatusForbidden {
				t.Fatalf("token %q: %d", tok, r.status)
			}
			r = root.post(fmt.Sprintf("%s/%d/remove", groupMembers, alice.ID), url.Values{"authenticity_token": {tok}})
			if r.status != http.StatusForbidden {
				t.Fatalf("remove with token %q: %d", tok, r.status)
			}
		}
		if status, _ := memberOf(t, ts, groupOwner, carol.ID); status != http.StatusNotFound {
			t.Fatal("carol joined without a CSRF token")
		}
		if status, _ := memberOf(t, ts, groupOwner, alice.ID); status != http.StatusOK {
			t.Fatal("alice was removed without a CSRF token")
		}
	})

	t.Run("fail/paths that are not pages", func(t *testing.T) {
		for _, p := range []string{groupMembers + "/x", groupMembers + "/0", groupMembers + "/1/delete", "/groups/group/-/project_members",
			"/" + top.FullPath + "/-/group_members"} {
			if r := root.get(p); r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
				t.Errorf("GET %s: %d", p, r.status)
			}
		}
		if r := root.get(fmt.Sprintf("%s/%d", groupMembers, alice.ID)); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET of a member's form target: %d", r.status)
		}
	})
}
