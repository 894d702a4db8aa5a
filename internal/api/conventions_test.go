package api_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Issue 14's REST conventions (items 4, 6, 8, 10, 13, 21, 22): GitLab's error bodies, pagination,
// sudo, list filters, /version and /metadata, settings and multipart bodies.

// body returns the answer's body without its trailing newline.
func (r result) text() string { return strings.TrimSpace(string(r.body)) }

// TestGrapeErrorBodies (item 4): parameter problems are Grape's {"error": …}, all of them at once
// in declaration order; the model's refusals are GitLab's {"message": …} wording.
func TestGrapeErrorBodies(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	root := map[string]string{"PRIVATE-TOKEN": ts.RootToken}
	base := fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID)
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"fail/missing name and scopes", "POST", base, `{}`, 400, `{"error":"name is missing, scopes is missing"}`},
		{"fail/unknown scope", "POST", base, `{"name":"x","scopes":["read_repository","sudo"]}`, 400, `{"error":"scopes does not have a valid value"}`},
		{"fail/expires_at not a date", "POST", base, `{"name":"x","scopes":["read_repository"],"expires_at":"soon"}`, 400, `{"error":"expires_at is invalid"}`},
		{"fail/empty scopes", "POST", base, `{"name":"x","scopes":[]}`, 400, `{"message":"Scopes can't be blank"}`},
		{"fail/bad username", "POST", base, `{"name":"x","scopes":["read_repository"],"username":"a b"}`, 400,
			`{"message":"Username can contain only letters, digits, '_', '-', '+', and '.'"}`},
		{"fail/unknown parameter", "POST", base, `{"name":"x","scopes":["read_repository"],"read_repository":true}`, 400,
			`{"error":"read_repository is not supported by Gatehouse"}`},
		{"fail/active=bogus", "GET", base + "?active=bogus", "", 400, `{"error":"active is invalid"}`},
		{"fail/non-integer token id", "DELETE", base + "/abc", "", 400, `{"error":"token_id is invalid"}`},
		{"fail/non-integer user id", "GET", "/users/abc", "", 400, `{"error":"id is invalid"}`},
		{"fail/non-integer member id", "GET", fmt.Sprintf("/projects/%d/members/abc", f.Projects["top"].ID), "", 400, `{"error":"user_id is invalid"}`},
		{"fail/user taken", "POST", "/users", `{"username":"ROOT","email":"r2@example.com","name":"R","password":"password-r2"}`, 409,
			`{"message":"Username has already been taken"}`},
		{"fail/packages package_type", "GET", fmt.Sprintf("/projects/%d/packages?package_type=nope", f.Projects["top"].ID), "", 400,
			`{"error":"package_type does not have a valid value"}`},
		{"fail/packages unknown filter", "GET", fmt.Sprintf("/groups/%d/packages?colour=x", f.GroupID), "", 400,
			`{"error":"colour is not supported by Gatehouse"}`},
		{"fail/page not an integer", "GET", base + "?page=two", "", 400, `{"error":"page is invalid"}`},
		{"fail/model validation", "POST", "/groups", `{"name":"Admin","path":"admin"}`, 400, `{"message":{"path":["is a reserved name"]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, call{method: c.method, path: c.path, headers: root, body: c.body, ctype: "application/json"})
			mustStatus(t, r, c.status, c.method+" "+c.path)
			if r.text() != c.want {
				t.Fatalf("body %s, want %s", r.text(), c.want)
			}
		})
	}
}

// TestPaginationHeaders (item 6): GitLab's REST doc's example, with prev, next, first and last.
func TestPaginationHeaders(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	owner := fmt.Sprintf("projects/%d", f.Projects["top"].ID)
	for range 8 {
		ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
	}
	base := ts.URL + "/api/v4/" + owner + "/deploy_tokens"
	r := asPAT(t, ts, ts.RootToken, "GET", "/"+owner+"/deploy_tokens?per_page=3&page=2", nil)
	mustStatus(t, r, 200, "page 2")
	want := map[string]string{"X-Page": "2", "X-Per-Page": "3", "X-Total": "8", "X-Total-Pages": "3", "X-Next-Page": "3", "X-Prev-Page": "1"}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	rels := linkRels(t, r.header.Get("Link"))
	for rel, page := range map[string]string{"prev": "1", "next": "3", "first": "1", "last": "3"} {
		if rels[rel] != base+"?page="+page+"&per_page=3" {
			t.Errorf("Link rel=%s = %q, want %s?page=%s&per_page=3", rel, rels[rel], base, page)
		}
	}
	t.Run("ok/first page has no prev", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", "/"+owner+"/deploy_tokens?per_page=3", nil)
		if r.header.Get("X-Prev-Page") != "" || linkRels(t, r.header.Get("Link"))["prev"] != "" {
			t.Fatalf("page 1: X-Prev-Page %q, Link %q", r.header.Get("X-Prev-Page"), r.header.Get("Link"))
		}
	})
	t.Run("fail/keyset where GitLab does not offer it", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", "/"+owner+"/deploy_tokens?pagination=keyset", nil)
		mustStatus(t, r, 405, "keyset deploy tokens")
		if r.text() != `{"error":"Keyset pagination is not yet available for this type of request"}` {
			t.Fatalf("body %s", r.text())
		}
	})
}

// follow pages a list by its Link rel="next" until there is none, returning the ids in order.
func follow(t *testing.T, ts *testenv.TestServer, path string) []int64 {
	t.Helper()
	var out []int64
	for range 50 {
		r := asPAT(t, ts, ts.RootToken, "GET", path, nil)
		mustStatus(t, r, 200, path)
		var page []struct {
			ID int64 `json:"id"`
		}
		r.json(t, &page)
		for _, x := range page {
			out = append(out, x.ID)
		}
		next := linkRels(t, r.header.Get("Link"))["next"]
		if next == "" {
			return out
		}
		if strings.Contains(r.header.Get("Link"), `rel="first"`) && strings.Contains(path, "keyset") {
			t.Fatalf("keyset answered offset links: %s", r.header.Get("Link"))
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		path = strings.TrimPrefix(u.RequestURI(), "/api/v4")
	}
	t.Fatal("no end after 50 pages")
	return nil
}

// TestKeysetPagination (item 6): projects by id (asc and desc, id_after/id_before in the Link),
// users by id and by username (a cursor); other orders are GitLab's 405.
func TestKeysetPagination(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	var projects []int64
	for _, p := range f.Projects {
		projects = append(projects, p.ID)
	}
	for i := range 5 {
		var p testenv.Project
		ts.MustAPI(t, 201, "POST", "/projects", map[string]any{"name": fmt.Sprintf("k%d", i), "namespace_id": f.GroupID}, &p)
		projects = append(projects, p.ID)
	}
	slices.Sort(projects)
	if got := follow(t, ts, "/projects?pagination=keyset&order_by=id&sort=asc&per_page=2"); !slices.Equal(got, projects) {
		t.Fatalf("keyset asc gave %v, want %v", got, projects)
	}
	desc := slices.Clone(projects)
	slices.Reverse(desc)
	if got := follow(t, ts, "/projects?pagination=keyset&order_by=id&sort=desc&per_page=3"); !slices.Equal(got, desc) {
		t.Fatalf("keyset desc gave %v, want %v", got, desc)
	}
	users := []int64{1}
	for _, n := range []string{"zed", "amy", "kim"} {
		users = append(users, newUser(t, ts, n).ID)
	}
	// By username: amy, kim, root, zed.
	want := []int64{users[2], users[3], users[0], users[1]}
	if got := follow(t, ts, "/users?pagination=keyset&order_by=username&sort=asc&per_page=1"); !slices.Equal(got, want) {
		t.Fatalf("users by username gave %v, want %v", got, want)
	}
	t.Run("fail/keyset of projects by name is GitLab's 405", func(t *testing.T) {
		mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", "/projects?pagination=keyset&order_by=name&sort=asc", nil), 405, "keyset by name")
		mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", "/groups?pagination=keyset&order_by=name&sort=asc", nil), 405, "keyset groups signed in")
	})
}

func fieldsOf(t *testing.T, r result, key string) []string {
	t.Helper()
	var list []map[string]any
	r.json(t, &list)
	var out []string
	for _, x := range list {
		out = append(out, fmt.Sprint(x[key]))
	}
	return out
}

// TestListFilters (item 10): GitLab's filters on /projects, /groups and /users; unknown orders
// and filters Gatehouse lacks are 400s naming them.
func TestListFilters(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	alice := newUser(t, ts, "alice")
	bob := newUser(t, ts, "bob")
	addMember(t, ts, fmt.Sprintf("projects/%d", f.Projects["sibling"].ID), alice, 30)
	addMember(t, ts, fmt.Sprintf("groups/%d", f.SubID), alice, 50)
	mustStatus(t, asPAT(t, ts, alice.PAT, "POST", "/projects", map[string]any{"name": "alice-own", "visibility": "public"}), 201, "alice's project")
	if _, err := ts.Server.Store.SQL().ExecContext(t.Context(), `UPDATE users SET blocked = TRUE WHERE id = $1`, bob.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, pat, path, key string
		want                 []string
	}{
		{"ok/projects search", ts.RootToken, "/projects?search=CHILD&order_by=path&sort=asc", "path", []string{"child", "grandchild"}},
		{"ok/projects search_namespaces", ts.RootToken, "/projects?search=other/&search_namespaces=true", "path", []string{"sibling"}},
		{"ok/projects order_by name asc", ts.RootToken, "/projects?order_by=name&sort=asc", "path", []string{"alice-own", "child", "grandchild", "sibling", "top"}},
		{"ok/projects default created_at desc", ts.RootToken, "/projects?per_page=1", "path", []string{"alice-own"}},
		{"ok/projects visibility", ts.RootToken, "/projects?visibility=public", "path", []string{"alice-own"}},
		{"ok/projects membership", alice.PAT, "/projects?membership=true&order_by=path&sort=asc", "path", []string{"alice-own", "child", "grandchild", "sibling"}},
		{"ok/projects owned", alice.PAT, "/projects?owned=true&order_by=path&sort=asc", "path", []string{"alice-own", "child", "grandchild"}},
		{"ok/projects min_access_level", alice.PAT, "/projects?min_access_level=30&order_by=path&sort=asc", "path", []string{"alice-own", "child", "grandchild", "sibling"}},
		{"ok/projects archived=false is all", alice.PAT, "/projects?archived=false&membership=true&order_by=path", "path", []string{"sibling", "grandchild", "child", "alice-own"}},
		{"ok/groups top_level_only", ts.RootToken, "/groups?top_level_only=true", "path", []string{"group", "other"}},
		{"ok/groups search and sort", ts.RootToken, "/groups?search=sub&sort=desc", "path", []string{"subsub", "sub"}},
		{"ok/groups skip_groups", ts.RootToken, fmt.Sprintf("/groups?skip_groups[]=%d&skip_groups[]=%d", f.SubID, f.OtherGroupID), "path", []string{"group", "subsub"}},
		{"ok/groups of a member by default", alice.PAT, "/groups", "path", []string{"sub", "subsub"}},
		{"ok/groups owned", alice.PAT, "/groups?owned=true&order_by=id&sort=desc", "path", []string{"subsub", "sub"}},
		{"ok/subgroups with the groups' filters", ts.RootToken, fmt.Sprintf("/groups/%d/subgroups?search=SUB&order_by=id", f.SubID), "path", []string{"subsub"}},
		{"ok/subgroups of a member", alice.PAT, fmt.Sprintf("/groups/%d/subgroups", f.SubID), "path", []string{"subsub"}},
		{"ok/users search", ts.RootToken, "/users?search=ALI", "username", []string{"alice"}},
		{"ok/users blocked", ts.RootToken, "/users?blocked=true", "username", []string{"bob"}},
		{"ok/users active, id desc", ts.RootToken, "/users?active=true", "username", []string{"alice", "root"}},
		{"ok/users order_by username", ts.RootToken, "/users?order_by=username&sort=asc", "username", []string{"alice", "bob", "root"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := asPAT(t, ts, c.pat, "GET", c.path, nil)
			mustStatus(t, r, 200, c.path)
			if got := fieldsOf(t, r, c.key); !slices.Equal(got, c.want) {
				t.Fatalf("%s: %v, want %v", c.path, got, c.want)
			}
		})
	}
	t.Run("ok/simple projects", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", "/projects?simple=true&per_page=1", nil)
		mustStatus(t, r, 200, "simple")
		var list []map[string]any
		r.json(t, &list)
		if len(list) != 1 || list[0]["path_with_namespace"] == nil || list[0]["namespace"] == nil {
			t.Fatalf("simple = %v", list)
		}
		if _, ok := list[0]["visibility"]; ok {
			t.Fatalf("simple view has visibility: %v", list[0])
		}
	})
	refusals := []struct{ path, want string }{
		{"/projects?order_by=colour", `{"error":"order_by does not have a valid value"}`},
		{"/projects?sort=sideways", `{"error":"sort does not have a valid value"}`},
		{"/projects?order_by=last_activity_at", `{"error":"order_by last_activity_at is not supported by Gatehouse"}`},
		{"/projects?statistics=true", `{"error":"statistics is not supported by Gatehouse"}`},
		{"/projects?with_issues_enabled=true&owned=maybe", `{"error":"owned is invalid, with_issues_enabled is not supported by Gatehouse"}`},
		{"/projects?colour=blue", `{"error":"colour is not supported by Gatehouse"}`},
		{"/groups?order_by=size", `{"error":"order_by does not have a valid value"}`},
		{"/groups?statistics=true", `{"error":"statistics is not supported by Gatehouse"}`},
		{"/groups?all_available=perhaps", `{"error":"all_available is invalid"}`},
		{fmt.Sprintf("/groups/%d/subgroups?statistics=true", f.GroupID), `{"error":"statistics is not supported by Gatehouse"}`},
		{"/users?active=bogus", `{"error":"active is invalid"}`},
		{"/users?external=true", `{"error":"external is not supported by Gatehouse"}`},
		{"/users?order_by=updated_at", `{"error":"order_by updated_at is not supported by Gatehouse"}`},
	}
	for _, c := range refusals {
		t.Run("fail/"+c.path, func(t *testing.T) {
			r := asPAT(t, ts, ts.RootToken, "GET", c.path, nil)
			mustStatus(t, r, 400, c.path)
			if r.text() != c.want {
				t.Fatalf("body %s, want %s", r.text(), c.want)
			}
		})
	}
}

// TestSudo (item 8): GitLab's rules for the Sudo header and the sudo parameter.
func TestSudo(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	alice := newUser(t, ts, "alice")
	var tok struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, 201, "POST", "/users/1/personal_access_tokens", map[string]any{"name": "sudo", "scopes": []string{"api", "sudo"}}, &tok)
	sudoer := tok.Token
	who := func(t *testing.T, r result) string {
		t.Helper()
		mustStatus(t, r, 200, "GET /user")
		var u struct {
			Username string `json:"username"`
		}
		r.json(t, &u)
		return u.Username
	}
	t.Run("ok/header by username", func(t *testing.T) {
		if u := who(t, do(t, ts, call{method: "GET", path: "/user", headers: map[string]string{"PRIVATE-TOKEN": sudoer, "Sudo": "alice"}})); u != "alice" {
			t.Fatalf("acted as %s", u)
		}
	})
	t.Run("ok/parameter by id", func(t *testing.T) {
		if u := who(t, do(t, ts, call{method: "GET", path: "/user?sudo=" + strconv.FormatInt(alice.ID, 10), headers: map[string]string{"PRIVATE-TOKEN": sudoer}})); u != "alice" {
			t.Fatalf("acted as %s", u)
		}
	})
	t.Run("ok/the sudo'd user's rights, not the admin's", func(t *testing.T) {
		r := do(t, ts, call{method: "GET", path: "/deploy_tokens", headers: map[string]string{"PRIVATE-TOKEN": sudoer, "Sudo": "alice"}})
		mustStatus(t, r, 403, "alice's instance token list")
	})
	t.Run("fail/the sudo scope alone grants nothing", func(t *testing.T) {
		var only struct {
			Token  string   `json:"token"`
			Scopes []string `json:"scopes"`
		}
		ts.MustAPI(t, 201, "POST", "/users/1/personal_access_tokens", map[string]any{"name": "only-sudo", "scopes": []string{"sudo", "read_api"}}, &only)
		if !slices.Equal(only.Scopes, []string{"read_api", "sudo"}) {
			t.Fatalf("scopes listed %v, want sudo last", only.Scopes)
		}
		ts.MustAPI(t, 201, "POST", "/users/1/personal_access_tokens", map[string]any{"name": "only-sudo", "scopes": []string{"sudo"}}, &only)
		r := do(t, ts, call{method: "GET", path: "/users", headers: map[string]string{"PRIVATE-TOKEN": only.Token, "Sudo": "alice"}})
		mustStatus(t, r, 403, "a sudo-only token listing users")
	})
	t.Run("ok/audit names the user and the administrator", func(t *testing.T) {
		f := ts.MakeFixture(t)
		top := f.Projects["top"]
		addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), alice, 40)
		r := do(t, ts, call{method: "POST", path: fmt.Sprintf("/projects/%d/deploy_tokens", top.ID), ctype: "application/json",
			body: `{"name":"by-sudo","scopes":["read_repository"]}`, headers: map[string]string{"PRIVATE-TOKEN": sudoer, "Sudo": "alice"}})
		mustStatus(t, r, 201, "create as alice")
		events, err := ts.Server.Audit.List(t.Context(), "project", top.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.TargetName == "by-sudo" && e.ActorName == "alice" && strings.Contains(e.Details, "sudo by administrator root") {
				return
			}
		}
		t.Fatalf("no event by alice naming root's sudo: %+v", events)
	})
	refusals := []struct {
		name, pat, sudo string
		status          int
		want            string
	}{
		{"fail/not an admin", alice.PAT, "root", 403, `{"message":"403 Forbidden - Must be admin to use sudo"}`},
		{"fail/admin token without the sudo scope", ts.RootToken, "alice", 403,
			`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"sudo"}`},
		{"fail/unknown user", sudoer, "nobody", 404, `{"message":"404 User with ID or username 'nobody' Not Found"}`},
		{"fail/anonymous", "", "alice", 401, `{"message":"401 Unauthorized"}`},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{"Sudo": c.sudo}
			if c.pat != "" {
				h["PRIVATE-TOKEN"] = c.pat
			}
			r := do(t, ts, call{method: "GET", path: "/user", headers: h})
			mustStatus(t, r, c.status, "sudo")
			if r.text() != c.want {
				t.Fatalf("body %s, want %s", r.text(), c.want)
			}
		})
	}
}

// TestMetadata (item 13): /version and /metadata in GitLab's shape, with Gatehouse's own version.
func TestMetadata(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	for _, p := range []string{"/version", "/metadata"} {
		var m struct {
			Version    string `json:"version"`
			Revision   string `json:"revision"`
			Enterprise *bool  `json:"enterprise"`
			KAS        *struct {
				Enabled bool `json:"enabled"`
			} `json:"kas"`
			Gatehouse struct {
				Version string `json:"version"`
			} `json:"gatehouse"`
		}
		ts.MustAPI(t, 200, "GET", p, nil, &m)
		if m.Version != "17.11.0" || m.Revision == "" || m.Enterprise == nil || *m.Enterprise || m.KAS == nil || m.Gatehouse.Version == "" {
			t.Fatalf("%s = %+v", p, m)
		}
	}
}

// TestApplicationSettingsRefuseUnknown (item 21): a setting Gatehouse does not apply is a 400
// naming it, and nothing of the request is applied.
func TestApplicationSettingsRefuseUnknown(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	r := asPAT(t, ts, ts.RootToken, "PUT", "/application/settings", map[string]any{"signup_enabled": false,
		"external_authorization_service_default_label": "secret"})
	mustStatus(t, r, 400, "PUT signup_enabled")
	if r.text() != `{"error":"signup_enabled is not supported by Gatehouse"}` {
		t.Fatalf("body %s", r.text())
	}
	var s map[string]any
	ts.MustAPI(t, 200, "GET", "/application/settings", nil, &s)
	if s["external_authorization_service_default_label"] == "secret" {
		t.Fatal("a refused PUT applied a setting")
	}
	ts.MustAPI(t, 200, "PUT", "/application/settings", map[string]any{"external_authorization_service_default_label": "ok"}, nil)
}

// TestMultipartBodies (item 22): python-gitlab posts multipart/form-data when a file is attached;
// fields are read like a form's, a file part is refused by name.
func TestMultipartBodies(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	post := func(t *testing.T, file bool) result {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("name", "multi")
		_ = mw.WriteField("scopes[]", "read_repository")
		_ = mw.WriteField("scopes[]", "read_registry")
		if file {
			fw, _ := mw.CreateFormFile("avatar", "a.png")
			_, _ = fw.Write([]byte("\x89PNG"))
		}
		_ = mw.Close()
		return do(t, ts, call{method: "POST", path: fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID),
			headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}, body: b.String(), ctype: mw.FormDataContentType()})
	}
	t.Run("ok/fields", func(t *testing.T) {
		r := post(t, false)
		mustStatus(t, r, http.StatusCreated, "multipart create")
		var dt deployTokenView
		r.json(t, &dt)
		if dt.Name != "multi" || !slices.Equal(dt.Scopes, []string{"read_repository", "read_registry"}) {
			t.Fatalf("created %+v", dt)
		}
	})
	t.Run("fail/a file part", func(t *testing.T) {
		r := post(t, true)
		mustStatus(t, r, http.StatusBadRequest, "multipart with avatar")
		if !strings.Contains(r.message(t), "avatar") {
			t.Fatalf("body %s does not name avatar", r.body)
		}
	})
}
