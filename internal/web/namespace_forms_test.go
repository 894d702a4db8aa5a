package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The new group, subgroup and project forms and Settings › General (docs/design.md §6.9), over
// HTTP against a real server.

const evilName = `<script>x</script>`

type apiGroup struct {
	ID       int64  `json:"id"`
	FullPath string `json:"full_path"`
	Name     string `json:"name"`
}

type apiProject struct {
	ID                int64  `json:"id"`
	PathWithNamespace string `json:"path_with_namespace"`
	Visibility        string `json:"visibility"`
	Description       string `json:"description"`
	Name              string `json:"name"`
}

func apiCreateGroup(t *testing.T, ts *testenv.TestServer, path string, parentID int64, visibility string) apiGroup {
	t.Helper()
	body := map[string]any{"name": path, "path": path, "visibility": visibility}
	if parentID != 0 {
		body["parent_id"] = parentID
	}
	var g apiGroup
	ts.MustAPI(t, http.StatusCreated, "POST", "/groups", body, &g)
	return g
}

func apiCreateProject(t *testing.T, ts *testenv.TestServer, path string, nsID int64) apiProject {
	t.Helper()
	var p apiProject
	ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": path, "path": path, "namespace_id": nsID}, &p)
	return p
}

func apiGetProject(t *testing.T, ts *testenv.TestServer, fullPath string) (apiProject, int) {
	t.Helper()
	var p apiProject
	st := ts.API(t, "GET", "/projects/"+url.PathEscape(fullPath), nil, &p)
	return p, st
}

func apiGetGroup(t *testing.T, ts *testenv.TestServer, fullPath string) (apiGroup, int) {
	t.Helper()
	var g apiGroup
	st := ts.API(t, "GET", "/groups/"+url.PathEscape(fullPath), nil, &g)
	return g, st
}

func mustStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: %d, want %d: %s", what, r.status, want, r.body)
	}
}

func mustNotContain(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("%s: must not contain %q", what, b)
		}
	}
}

func TestNewGroupForms(t *testing.T) {
	ts := testenv.StartServer(t)
	aliceID := createUser(t, ts, "alice", "alice-password")
	bobID := createUser(t, ts, "bob", "bob-password")
	outsiderID := createUser(t, ts, "outsider", "outsider-password")
	_ = outsiderID
	alice, token := signIn(t, ts, "alice", "alice-password")

	home := alice.get("/")
	mustContain(t, "ok/home shows what to do next", home.body, `id="home-empty"`, `href="/groups/new"`, `href="/projects/new"`,
		"ask one of its owners or an administrator")

	form := alice.get("/groups/new")
	mustStatus(t, "ok/new group form", form, http.StatusOK)
	mustContain(t, "new group form", form.body, "<h1>Create group</h1>", `<label for="group-name">Group name</label>`,
		`<label for="group-path">Group URL</label>`, `<legend>Visibility level</legend>`, `id="visibility-private" name="visibility" value="private" checked`,
		`data-slug-target="group-path"`)

	if r := alice.post("/groups/new", url.Values{"name": {"No token"}}); r.status != http.StatusForbidden {
		t.Fatalf("fail/CSRF missing: %d", r.status)
	}

	// The path is derived from the name when left empty; the creator becomes the owner.
	r := alice.post("/groups/new", url.Values{"authenticity_token": {token}, "name": {"My Team"}, "description": {"The " + evilName + " team"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/my-team?created=1" {
		t.Fatalf("ok/create group: %d %q %s", r.status, r.location, r.body)
	}
	page := alice.get(r.location)
	mustContain(t, "ok/new group page", page.body, "Group &#39;My Team&#39; was successfully created.", `id="group-empty"`,
		"Create a subgroup or project", `id="new-subgroup"`, `id="group-settings"`)
	team, _ := apiGetGroup(t, ts, "my-team")
	var members []struct {
		ID          int64 `json:"id"`
		AccessLevel int   `json:"access_level"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/groups/%d/members", team.ID), nil, &members)
	if len(members) != 1 || members[0].ID != aliceID || members[0].AccessLevel != 50 {
		t.Fatalf("ok/creator owns the group: %+v", members)
	}

	// A name with markup is shown as text, everywhere.
	r = alice.post("/groups/new", url.Values{"authenticity_token": {token}, "name": {evilName}, "path": {"evil"}})
	mustStatus(t, "ok/create evil group", r, http.StatusSeeOther)
	for _, p := range []string{"/groups/evil", "/groups/evil/-/edit", "/"} {
		b := alice.get(p).body
		mustNotContain(t, "escaped "+p, b, evilName)
		mustContain(t, "escaped "+p, b, "&lt;script&gt;x&lt;/script&gt;")
	}

	// A refusal keeps what was typed.
	r = alice.post("/groups/new", url.Values{"authenticity_token": {token}, "name": {"Again " + evilName}, "path": {"my-team"},
		"description": {"kept " + evilName}, "visibility": {"internal"}})
	mustStatus(t, "fail/taken path", r, http.StatusUnprocessableEntity)
	mustContain(t, "taken path", r.body, "Path has already been taken.", `value="Again &lt;script&gt;x&lt;/script&gt;"`,
		"kept &lt;script&gt;x&lt;/script&gt;</textarea>", `value="my-team"`, `value="internal" checked`, `role="alert"`)
	mustNotContain(t, "taken path", r.body, evilName)
	r = alice.post("/groups/new", url.Values{"authenticity_token": {token}, "name": {""}, "path": {""}})
	mustStatus(t, "fail/no name", r, http.StatusUnprocessableEntity)
	mustContain(t, "no name", r.body, "Name is missing.")
	r = alice.post("/groups/new", url.Values{"authenticity_token": {token}, "name": {"Reserved"}, "path": {"new"}})
	mustStatus(t, "fail/reserved path", r, http.StatusUnprocessableEntity)
	mustContain(t, "reserved path", r.body, "Path is a reserved name.")

	// Subgroups: the parent's visibility bounds the options.
	sub := alice.get(fmt.Sprintf("/groups/new?parent_id=%d", team.ID))
	mustStatus(t, "ok/new subgroup form", sub, http.StatusOK)
	mustContain(t, "new subgroup form", sub.body, "<h1>Create subgroup</h1>", `name="parent_id" value="`+fmt.Sprint(team.ID)+`"`,
		`value="public" disabled`, "Not available: the parent group my-team is private.")
	r = alice.post("/groups/new", url.Values{"authenticity_token": {token}, "parent_id": {fmt.Sprint(team.ID)}, "name": {"Backend"}, "visibility": {"public"}})
	mustStatus(t, "fail/subgroup more visible than its parent", r, http.StatusUnprocessableEntity)
	mustContain(t, "subgroup visibility", r.body, "public is not allowed since the parent group has a private visibility.", `value="Backend"`)
	r = alice.post("/groups/new", url.Values{"authenticity_token": {token}, "parent_id": {fmt.Sprint(team.ID)}, "name": {"Backend"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/my-team/backend?created=1" {
		t.Fatalf("ok/create subgroup: %d %q %s", r.status, r.location, r.body)
	}

	// Who may create a subgroup: maintainers and up (403 below, 404 for who may not see it).
	addMember(t, ts, fmt.Sprintf("groups/%d", team.ID), bobID, 20)
	bob, bobToken := signIn(t, ts, "bob", "bob-password")
	quiet := apiCreateGroup(t, ts, "quiet", 0, "private")
	addMember(t, ts, fmt.Sprintf("groups/%d", quiet.ID), bobID, 20)
	mustContain(t, "reporter's empty group", bob.get("/groups/quiet").body, `id="group-empty"`, "Ask an owner or maintainer")
	mustNotContain(t, "reporter sees no create buttons", bob.get("/groups/my-team").body, `id="new-subgroup"`, `id="group-settings"`)
	mustStatus(t, "fail/reporter's subgroup form", bob.get(fmt.Sprintf("/groups/new?parent_id=%d", team.ID)), http.StatusForbidden)
	mustStatus(t, "fail/reporter creates a subgroup", bob.post("/groups/new", url.Values{"authenticity_token": {bobToken},
		"parent_id": {fmt.Sprint(team.ID)}, "name": {"Nope"}}), http.StatusForbidden)
	outsider, outsiderToken := signIn(t, ts, "outsider", "outsider-password")
	mustStatus(t, "fail/outsider's subgroup form", outsider.get(fmt.Sprintf("/groups/new?parent_id=%d", team.ID)), http.StatusNotFound)
	mustStatus(t, "fail/outsider creates a subgroup", outsider.post("/groups/new", url.Values{"authenticity_token": {outsiderToken},
		"parent_id": {fmt.Sprint(team.ID)}, "name": {"Nope"}}), http.StatusNotFound)
	mustStatus(t, "fail/malformed parent", alice.get("/groups/new?parent_id=abc"), http.StatusNotFound)
	mustStatus(t, "fail/missing parent", alice.get("/groups/new?parent_id=999999"), http.StatusNotFound)
	if _, st := apiGetGroup(t, ts, "my-team/nope"); st != http.StatusNotFound {
		t.Fatalf("a refused subgroup was created: %d", st)
	}
	addMember(t, ts, fmt.Sprintf("groups/%d", team.ID), outsiderID, 40)
	mustStatus(t, "ok/maintainer's subgroup form", outsider.get(fmt.Sprintf("/groups/new?parent_id=%d", team.ID)), http.StatusOK)
}

func TestNewProjectForm(t *testing.T) {
	ts := testenv.StartServer(t)
	team := apiCreateGroup(t, ts, "team", 0, "private")
	devID := createUser(t, ts, "dev", "dev-password")
	maintID := createUser(t, ts, "maint", "maint-password")
	createUser(t, ts, "outsider", "outsider-password")
	addMember(t, ts, fmt.Sprintf("groups/%d", team.ID), devID, 30)
	addMember(t, ts, fmt.Sprintf("groups/%d", team.ID), maintID, 40)

	maint, token := signIn(t, ts, "maint", "maint-password")
	form := maint.get("/projects/new")
	mustStatus(t, "ok/new project form", form, http.StatusOK)
	mustContain(t, "new project form", form.body, "<h1>Create blank project</h1>", `<label for="project-name">Project name</label>`,
		"maint (your personal namespace)", `data-max-visibility="private">team</option>`, `<label for="project-path">Project slug</label>`)

	if r := maint.post("/projects/new", url.Values{"name": {"x"}}); r.status != http.StatusForbidden {
		t.Fatalf("fail/CSRF missing: %d", r.status)
	}

	// In the personal namespace, the path derived from the name.
	r := maint.post("/projects/new", url.Values{"authenticity_token": {token}, "name": {"Hello World"}, "description": {evilName}})
	if r.status != http.StatusSeeOther || r.location != "/maint/hello-world?created=1" {
		t.Fatalf("ok/create personal project: %d %q %s", r.status, r.location, r.body)
	}
	page := maint.get(r.location)
	clone := ts.URL + "/maint/hello-world.git"
	mustContain(t, "ok/new project page", page.body, "Project &#39;Hello World&#39; was successfully created.", `id="empty-repository"`,
		"git remote add origin "+clone, "git push --set-upstream origin --all", "git clone "+clone, "write_repository", `id="project-settings"`)

	// In a group (namespace_id), chosen from the group page's button; visibility bounded by the group.
	group := maint.get("/groups/team")
	mustContain(t, "group page buttons", group.body, fmt.Sprintf(`href="/projects/new?namespace_id=%d"`, team.ID))
	inGroup := maint.get(fmt.Sprintf("/projects/new?namespace_id=%d", team.ID))
	mustStatus(t, "ok/new project in group", inGroup, http.StatusOK)
	mustContain(t, "new project in group", inGroup.body, fmt.Sprintf(`<option value="%d" selected data-max-visibility="private">team</option>`, team.ID),
		`value="public" disabled`, "Not available: the parent group team is private.")
	r = maint.post("/projects/new", url.Values{"authenticity_token": {token}, "namespace_id": {fmt.Sprint(team.ID)}, "name": {"API"}, "path": {"api"},
		"visibility": {"public"}})
	if r.status != http.StatusSeeOther || r.location != "/team/api?created=1" {
		t.Fatalf("ok/create project in group: %d %q %s", r.status, r.location, r.body)
	}
	if p, _ := apiGetProject(t, ts, "team/api"); p.Visibility != "private" {
		t.Fatalf("ok/the group's visibility bounds the project's: %+v", p)
	}

	// A refusal keeps the values.
	r = maint.post("/projects/new", url.Values{"authenticity_token": {token}, "namespace_id": {fmt.Sprint(team.ID)}, "name": {"Dup " + evilName},
		"path": {"api"}, "description": {"kept"}})
	mustStatus(t, "fail/taken path", r, http.StatusUnprocessableEntity)
	mustContain(t, "taken path", r.body, "Path has already been taken.", `value="Dup &lt;script&gt;x&lt;/script&gt;"`, ">kept</textarea>",
		fmt.Sprintf(`<option value="%d" selected`, team.ID))
	mustNotContain(t, "taken path", r.body, evilName)
	r = maint.post("/projects/new", url.Values{"authenticity_token": {token}, "name": {"Bad"}, "path": {"bad.git"}})
	mustStatus(t, "fail/bad path", r, http.StatusUnprocessableEntity)
	mustContain(t, "bad path", r.body, "Path can contain only letters")

	// Developers may not create projects in the group (403); outsiders do not see it (404);
	// nobody creates in another's personal namespace (404).
	dev, devToken := signIn(t, ts, "dev", "dev-password")
	mustNotContain(t, "developer's namespace choices", dev.get("/projects/new").body, ">team</option>")
	mustStatus(t, "fail/developer's form", dev.get(fmt.Sprintf("/projects/new?namespace_id=%d", team.ID)), http.StatusForbidden)
	mustStatus(t, "fail/developer creates", dev.post("/projects/new", url.Values{"authenticity_token": {devToken},
		"namespace_id": {fmt.Sprint(team.ID)}, "name": {"nope"}}), http.StatusForbidden)
	outsider, outToken := signIn(t, ts, "outsider", "outsider-password")
	mustStatus(t, "fail/outsider's form", outsider.get(fmt.Sprintf("/projects/new?namespace_id=%d", team.ID)), http.StatusNotFound)
	var maintUser struct {
		NamespaceID int64 `json:"namespace_id"`
	}
	var ns []struct {
		ID   int64  `json:"id"`
		Path string `json:"path"`
		Kind string `json:"kind"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", "/namespaces?search=maint", nil, &ns)
	for _, n := range ns {
		if n.Kind == "user" && n.Path == "maint" {
			maintUser.NamespaceID = n.ID
		}
	}
	if maintUser.NamespaceID == 0 {
		t.Fatalf("no personal namespace for maint: %+v", ns)
	}
	mustStatus(t, "fail/another's personal namespace", outsider.post("/projects/new", url.Values{"authenticity_token": {outToken},
		"namespace_id": {fmt.Sprint(maintUser.NamespaceID)}, "name": {"intruder"}}), http.StatusNotFound)
	mustStatus(t, "fail/malformed namespace", outsider.get("/projects/new?namespace_id=x"), http.StatusNotFound)
}

func TestGroupSettingsGeneral(t *testing.T) {
	ts := testenv.StartServer(t)
	team := apiCreateGroup(t, ts, "team", 0, "internal")
	sub := apiCreateGroup(t, ts, "sub", team.ID, "internal")
	other := apiCreateGroup(t, ts, "other", 0, "private")
	apiCreateProject(t, ts, "app", sub.ID)
	ownerID := createUser(t, ts, "owner", "owner-password")
	maintID := createUser(t, ts, "maint", "maint-password")
	createUser(t, ts, "outsider", "outsider-password")
	addMember(t, ts, fmt.Sprintf("groups/%d", team.ID), ownerID, 50)
	addMember(t, ts, fmt.Sprintf("groups/%d", other.ID), ownerID, 50)
	addMember(t, ts, fmt.Sprintf("groups/%d", team.ID), maintID, 40)

	owner, token := signIn(t, ts, "owner", "owner-password")
	edit := owner.get("/groups/team/sub/-/edit")
	mustStatus(t, "ok/owner's settings", edit, http.StatusOK)
	mustContain(t, "settings page", edit.body, "<h1>General settings", `<label for="group-name">Group name</label>`, "Change group URL",
		"Transfer group", "Delete group", "Git clone URLs", "The old URLs stop working", `<label for="confirm-delete">Enter the following to confirm: <code>team/sub</code></label>`,
		`value="public" disabled`, `<option value="0">No parent group`, fmt.Sprintf(`<option value="%d">other</option>`, other.ID))
	mustNotContain(t, "no transfer to itself or its parent", edit.body, fmt.Sprintf(`<option value="%d">`, team.ID), fmt.Sprintf(`<option value="%d">`, sub.ID))

	for _, p := range []string{"/groups/team/sub/-/edit", "/groups/team/sub/-/path", "/groups/team/sub/-/transfer", "/groups/team/sub/-/delete"} {
		if r := owner.post(p, url.Values{"name": {"x"}, "confirm_path": {"team/sub"}}); r.status != http.StatusForbidden {
			t.Fatalf("fail/CSRF missing on %s: %d", p, r.status)
		}
	}

	// Rename: a refusal keeps the values; success says so.
	r := owner.post("/groups/team/sub/-/edit", url.Values{"authenticity_token": {token}, "name": {" "}, "description": {"kept " + evilName}, "visibility": {"private"}})
	mustStatus(t, "fail/blank name", r, http.StatusUnprocessableEntity)
	mustContain(t, "blank name", r.body, "Name can&#39;t be blank.", "kept &lt;script&gt;x&lt;/script&gt;</textarea>", `value="private" checked`)
	r = owner.post("/groups/team/sub/-/edit", url.Values{"authenticity_token": {token}, "name": {"Sub " + evilName}, "description": {"d"}, "visibility": {"public"}})
	mustStatus(t, "fail/more visible than the parent", r, http.StatusUnprocessableEntity)
	mustContain(t, "visibility refusal", r.body, "public is not allowed since the parent group has a internal visibility.")
	r = owner.post("/groups/team/sub/-/edit", url.Values{"authenticity_token": {token}, "name": {"Sub " + evilName}, "description": {"d"}, "visibility": {"private"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/team/sub/-/edit?updated=1" {
		t.Fatalf("ok/rename: %d %q %s", r.status, r.location, r.body)
	}
	page := owner.get(r.location)
	mustContain(t, "renamed", page.body, "Group &#39;Sub &lt;script&gt;x&lt;/script&gt;&#39; was successfully updated.")
	mustNotContain(t, "renamed", page.body, evilName)
	r = owner.post("/groups/team/sub/-/edit", url.Values{"authenticity_token": {token}, "name": {"Sub"}, "description": {"d"}, "visibility": {"private"}})
	mustStatus(t, "ok/rename back", r, http.StatusSeeOther)

	// Change path: the current path typed to confirm.
	r = owner.post("/groups/team/sub/-/path", url.Values{"authenticity_token": {token}, "path": {"renamed"}, "confirm_path": {"team/wrong"}})
	mustStatus(t, "fail/path with wrong confirmation", r, http.StatusUnprocessableEntity)
	mustContain(t, "wrong confirmation", r.body, "Type team/sub to confirm", `value="renamed"`, `value="team/wrong"`)
	if _, st := apiGetGroup(t, ts, "team/sub"); st != http.StatusOK {
		t.Fatal("a refused path change happened")
	}
	r = owner.post("/groups/team/sub/-/path", url.Values{"authenticity_token": {token}, "path": {"renamed"}, "confirm_path": {"team/sub"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/team/renamed/-/edit?path_changed=1" {
		t.Fatalf("ok/change path: %d %q %s", r.status, r.location, r.body)
	}
	mustContain(t, "path changed", owner.get(r.location).body, "The old URLs no longer work.")
	mustStatus(t, "old group URL", owner.get("/groups/team/sub"), http.StatusNotFound)
	if _, st := apiGetProject(t, ts, "team/renamed/app"); st != http.StatusOK {
		t.Fatalf("the project did not move with its group: %d", st)
	}

	// Transfer: to another group the owner may create in, then to the top level.
	r = owner.post("/groups/team/renamed/-/transfer", url.Values{"authenticity_token": {token}, "new_parent_group_id": {""}, "confirm_path": {"team/renamed"}})
	mustStatus(t, "fail/no parent chosen", r, http.StatusUnprocessableEntity)
	mustContain(t, "no parent chosen", r.body, "Select a parent group")
	r = owner.post("/groups/team/renamed/-/transfer", url.Values{"authenticity_token": {token}, "new_parent_group_id": {fmt.Sprint(other.ID)}, "confirm_path": {"renamed"}})
	mustStatus(t, "fail/transfer with wrong confirmation", r, http.StatusUnprocessableEntity)
	mustContain(t, "transfer confirmation", r.body, fmt.Sprintf(`<option value="%d" selected>other</option>`, other.ID), `value="renamed"`)
	r = owner.post("/groups/team/renamed/-/transfer", url.Values{"authenticity_token": {token}, "new_parent_group_id": {fmt.Sprint(other.ID)}, "confirm_path": {"team/renamed"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/other/renamed/-/edit?transferred=1" {
		t.Fatalf("ok/transfer: %d %q %s", r.status, r.location, r.body)
	}
	if p, st := apiGetProject(t, ts, "other/renamed/app"); st != http.StatusOK || p.Visibility != "private" {
		t.Fatalf("ok/the project moved and took the new parent's visibility: %d %+v", st, p)
	}
	r = owner.post("/groups/other/renamed/-/transfer", url.Values{"authenticity_token": {token}, "new_parent_group_id": {"0"}, "confirm_path": {"other/renamed"}})
	// The group keeps its direct owner (root, its creator) and the transferrer, whose ownership
	// was inherited, loses it, as in GitLab: the redirect goes where they still may go.
	if r.status != http.StatusSeeOther || r.location != "/?transferred=group" {
		t.Fatalf("ok/transfer to the top level: %d %q %s", r.status, r.location, r.body)
	}
	mustContain(t, "transferred away", owner.get(r.location).body, "The group was transferred. You are not one of its owners there")
	mustStatus(t, "the transferred group", owner.get("/groups/renamed"), http.StatusNotFound)
	// A group without a direct owner gets the transferrer as its owner.
	r = owner.post("/groups/new", url.Values{"authenticity_token": {token}, "parent_id": {fmt.Sprint(other.ID)}, "name": {"Mine"}})
	mustStatus(t, "ok/create subgroup", r, http.StatusSeeOther)
	mine, _ := apiGetGroup(t, ts, "other/mine")
	ts.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/groups/%d/members/%d", mine.ID, ownerID), nil, nil)
	r = owner.post("/groups/other/mine/-/transfer", url.Values{"authenticity_token": {token}, "new_parent_group_id": {"0"}, "confirm_path": {"other/mine"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/mine/-/edit?transferred=1" {
		t.Fatalf("ok/transfer to the top level as its only owner: %d %q %s", r.status, r.location, r.body)
	}
	mustStatus(t, "ok/project in mine", owner.post("/projects/new", url.Values{"authenticity_token": {token}, "namespace_id": {fmt.Sprint(mine.ID)}, "name": {"app"}}), http.StatusSeeOther)

	// Who may: a maintainer sees the group but not its settings (403); an outsider nothing (404).
	maint, maintToken := signIn(t, ts, "maint", "maint-password")
	mustNotContain(t, "maintainer's group page", maint.get("/groups/team").body, `id="group-settings"`)
	mustStatus(t, "fail/maintainer's settings", maint.get("/groups/team/-/edit"), http.StatusForbidden)
	mustStatus(t, "fail/maintainer deletes", maint.post("/groups/team/-/delete", url.Values{"authenticity_token": {maintToken}, "confirm_path": {"team"}}), http.StatusForbidden)
	outsider, outToken := signIn(t, ts, "outsider", "outsider-password")
	mustStatus(t, "fail/outsider's settings of a private group", outsider.get("/groups/other/-/edit"), http.StatusNotFound)
	mustStatus(t, "fail/outsider's settings of an internal group", outsider.get("/groups/team/-/edit"), http.StatusForbidden)
	mustStatus(t, "fail/outsider transfers", outsider.post("/groups/other/-/transfer", url.Values{"authenticity_token": {outToken},
		"new_parent_group_id": {"0"}, "confirm_path": {"other"}}), http.StatusNotFound)
	// Transferring below a group one may not create in: that group decides.
	mustStatus(t, "fail/transfer below a group the owner may not create in", owner.post("/groups/mine/-/transfer", url.Values{"authenticity_token": {token},
		"new_parent_group_id": {fmt.Sprint(apiCreateGroup(t, ts, "foreign", 0, "private").ID)}, "confirm_path": {"mine"}}), http.StatusNotFound)
	mustStatus(t, "fail/GET on an action", owner.get("/groups/mine/-/delete"), http.StatusMethodNotAllowed)

	// Delete: with the path typed.
	r = owner.post("/groups/mine/-/delete", url.Values{"authenticity_token": {token}, "confirm_path": {"RENAMED"}})
	mustStatus(t, "fail/delete with wrong confirmation", r, http.StatusUnprocessableEntity)
	mustContain(t, "delete confirmation", r.body, "Type mine to confirm", "The group was not deleted:")
	r = owner.post("/groups/mine/-/delete", url.Values{"authenticity_token": {token}, "confirm_path": {"mine"}})
	if r.status != http.StatusSeeOther || r.location != "/?deleted=group" {
		t.Fatalf("ok/delete: %d %q %s", r.status, r.location, r.body)
	}
	mustContain(t, "deleted", owner.get(r.location).body, "The group, its subgroups and their projects were deleted.")
	if _, st := apiGetProject(t, ts, "mine/app"); st != http.StatusNotFound {
		t.Fatalf("the project outlived its group: %d", st)
	}
}

func TestProjectSettingsGeneral(t *testing.T) {
	ts := testenv.StartServer(t)
	team := apiCreateGroup(t, ts, "team", 0, "internal")
	dest := apiCreateGroup(t, ts, "dest", 0, "private")
	proj := apiCreateProject(t, ts, "app", team.ID)
	ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("/projects/%d", proj.ID), map[string]any{"visibility": "internal"}, nil)
	ownerID := createUser(t, ts, "owner", "owner-password")
	maintID := createUser(t, ts, "maint", "maint-password")
	devID := createUser(t, ts, "dev", "dev-password")
	createUser(t, ts, "outsider", "outsider-password")
	addMember(t, ts, fmt.Sprintf("projects/%d", proj.ID), ownerID, 50)
	addMember(t, ts, fmt.Sprintf("groups/%d", dest.ID), ownerID, 40)
	addMember(t, ts, fmt.Sprintf("projects/%d", proj.ID), maintID, 40)
	addMember(t, ts, fmt.Sprintf("projects/%d", proj.ID), devID, 30)

	// A maintainer edits the description only; the name and visibility are the owners'.
	maint, maintToken := signIn(t, ts, "maint", "maint-password")
	mustContain(t, "maintainer's project page", maint.get("/team/app").body, `id="project-settings"`)
	edit := maint.get("/team/app/edit")
	mustStatus(t, "ok/maintainer's settings", edit, http.StatusOK)
	mustContain(t, "maintainer's settings", edit.body, `id="owner-only"`, `<label for="project-description">`)
	mustNotContain(t, "maintainer's settings", edit.body, `name="name"`, "Delete project", "Transfer project")
	r := maint.post("/team/app/edit", url.Values{"authenticity_token": {maintToken}, "description": {"by " + evilName}})
	mustStatus(t, "ok/maintainer edits the description", r, http.StatusSeeOther)
	mustContain(t, "description kept escaped", maint.get("/team/app/edit").body, "by &lt;script&gt;x&lt;/script&gt;</textarea>")
	mustStatus(t, "fail/maintainer renames", maint.post("/team/app/edit", url.Values{"authenticity_token": {maintToken}, "name": {"x"}, "description": {""}}), http.StatusForbidden)
	mustStatus(t, "fail/maintainer deletes", maint.post("/team/app/-/delete", url.Values{"authenticity_token": {maintToken}, "confirm_path": {"team/app"}}), http.StatusForbidden)
	dev, _ := signIn(t, ts, "dev", "dev-password")
	mustNotContain(t, "developer's project page", dev.get("/team/app").body, `id="project-settings"`)
	mustStatus(t, "fail/developer's settings", dev.get("/team/app/edit"), http.StatusForbidden)
	outsider, _ := signIn(t, ts, "outsider", "outsider-password")
	mustStatus(t, "fail/outsider's settings of an internal project", outsider.get("/team/app/edit"), http.StatusForbidden)
	mustStatus(t, "fail/outsider's settings of a missing project", outsider.get("/team/none/edit"), http.StatusNotFound)

	owner, token := signIn(t, ts, "owner", "owner-password")
	edit = owner.get("/team/app/edit")
	mustContain(t, "owner's settings", edit.body, `<label for="project-name">Project name</label>`, "Change path", "Transfer project", "Delete project",
		"container registry image names", "package registry URLs", fmt.Sprintf(`<option value="%d">dest</option>`, dest.ID), "owner (your personal namespace)")
	for _, p := range []string{"/team/app/edit", "/team/app/-/path", "/team/app/-/transfer", "/team/app/-/delete"} {
		if r := owner.post(p, url.Values{"name": {"x"}, "confirm_path": {"team/app"}}); r.status != http.StatusForbidden {
			t.Fatalf("fail/CSRF missing on %s: %d", p, r.status)
		}
	}
	r = owner.post("/team/app/edit", url.Values{"authenticity_token": {token}, "name": {""}, "description": {"kept"}, "visibility": {"private"}})
	mustStatus(t, "fail/blank name", r, http.StatusUnprocessableEntity)
	mustContain(t, "blank name", r.body, "Name can&#39;t be blank.", ">kept</textarea>", `value="private" checked`)
	r = owner.post("/team/app/edit", url.Values{"authenticity_token": {token}, "name": {"App " + evilName}, "description": {"d"}, "visibility": {"public"}})
	mustStatus(t, "fail/more visible than the group", r, http.StatusUnprocessableEntity)
	mustContain(t, "visibility refusal", r.body, "public is not allowed in a internal group.")
	r = owner.post("/team/app/edit", url.Values{"authenticity_token": {token}, "name": {"App " + evilName}, "description": {"d"}, "visibility": {"internal"}})
	if r.status != http.StatusSeeOther || r.location != "/team/app/edit?updated=1" {
		t.Fatalf("ok/rename: %d %q %s", r.status, r.location, r.body)
	}
	mustContain(t, "renamed", owner.get(r.location).body, "Project &#39;App &lt;script&gt;x&lt;/script&gt;&#39; was successfully updated.")

	// Change path.
	r = owner.post("/team/app/-/path", url.Values{"authenticity_token": {token}, "path": {"service"}, "confirm_path": {"app"}})
	mustStatus(t, "fail/path with wrong confirmation", r, http.StatusUnprocessableEntity)
	mustContain(t, "wrong confirmation", r.body, "Type team/app to confirm", `value="service"`)
	r = owner.post("/team/app/-/path", url.Values{"authenticity_token": {token}, "path": {"service"}, "confirm_path": {"team/app"}})
	if r.status != http.StatusSeeOther || r.location != "/team/service/edit?path_changed=1" {
		t.Fatalf("ok/change path: %d %q %s", r.status, r.location, r.body)
	}
	mustStatus(t, "old project URL", owner.get("/team/app"), http.StatusNotFound)
	mustContain(t, "new clone URL", owner.get("/team/service").body, ts.URL+"/team/service.git")

	// Transfer to a group the owner may create in (dest: maintainer), then to the personal namespace.
	r = owner.post("/team/service/-/transfer", url.Values{"authenticity_token": {token}, "new_namespace_id": {fmt.Sprint(dest.ID)}, "confirm_path": {"x"}})
	mustStatus(t, "fail/transfer with wrong confirmation", r, http.StatusUnprocessableEntity)
	mustContain(t, "transfer kept", r.body, fmt.Sprintf(`<option value="%d" selected>dest</option>`, dest.ID))
	r = owner.post("/team/service/-/transfer", url.Values{"authenticity_token": {token}, "new_namespace_id": {fmt.Sprint(dest.ID)}, "confirm_path": {"team/service"}})
	if r.status != http.StatusSeeOther || r.location != "/dest/service/edit?transferred=1" {
		t.Fatalf("ok/transfer: %d %q %s", r.status, r.location, r.body)
	}
	if p, _ := apiGetProject(t, ts, "dest/service"); p.Visibility != "private" {
		t.Fatalf("ok/the new group's visibility bounds the project's: %+v", p)
	}
	mustStatus(t, "fail/transfer into a group the owner may not create in", owner.post("/dest/service/-/transfer", url.Values{"authenticity_token": {token},
		"new_namespace_id": {fmt.Sprint(team.ID)}, "confirm_path": {"dest/service"}}), http.StatusForbidden)
	edit = owner.get("/dest/service/edit")
	personal := between(edit.body, `<option value="`, `">owner (your personal namespace)`)
	r = owner.post("/dest/service/-/transfer", url.Values{"authenticity_token": {token}, "new_namespace_id": {personal}, "confirm_path": {"dest/service"}})
	if r.status != http.StatusSeeOther || r.location != "/owner/service/edit?transferred=1" {
		t.Fatalf("ok/transfer to the personal namespace: %d %q %s", r.status, r.location, r.body)
	}

	// Delete with the path typed.
	r = owner.post("/owner/service/-/delete", url.Values{"authenticity_token": {token}, "confirm_path": {"owner/servic"}})
	mustStatus(t, "fail/delete with wrong confirmation", r, http.StatusUnprocessableEntity)
	mustContain(t, "delete confirmation", r.body, "The project was not deleted:", `value="owner/servic"`)
	r = owner.post("/owner/service/-/delete", url.Values{"authenticity_token": {token}, "confirm_path": {"owner/service"}})
	if r.status != http.StatusSeeOther || r.location != "/?deleted=project" {
		t.Fatalf("ok/delete: %d %q %s", r.status, r.location, r.body)
	}
	if _, st := apiGetProject(t, ts, "owner/service"); st != http.StatusNotFound {
		t.Fatalf("the project was not deleted: %d", st)
	}
}

// TestProjectNamedEdit: /a/b/edit is project a/b's settings, and the page of a project named
// edit in group a/b when a/b is not a project.
func TestProjectNamedEdit(t *testing.T) {
	ts := testenv.StartServer(t)
	a := apiCreateGroup(t, ts, "a", 0, "private")
	b := apiCreateGroup(t, ts, "b", a.ID, "private")
	apiCreateProject(t, ts, "edit", b.ID)
	apiCreateProject(t, ts, "edit", a.ID)
	root, _ := signIn(t, ts, "root", rootPassword(ts))
	mustContain(t, "project a/b/edit", root.get("/a/b/edit").body, "<h1>edit")
	mustContain(t, "project a/edit", root.get("/a/edit").body, "<h1>edit")
	mustContain(t, "settings of a/edit", root.get("/a/edit/edit").body, "<h1>General settings")
}

// between is the text of s between the first before and the next after.
func between(s, before, after string) string {
	i := strings.Index(s, after)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(s[:i], before)
	if j < 0 {
		return ""
	}
	return s[j+len(before) : i]
}
