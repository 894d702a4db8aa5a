package api_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// apiRoutes is the API's route table (api.Routes, without the catch-all), so a route added later
// is covered by the tests below without anyone remembering to list it.
func apiRoutes(t *testing.T) []string {
	t.Helper()
	var routes []string
	for _, rt := range api.Routes() {
		if rt.Method != "" {
			routes = append(routes, rt.Method+" "+rt.Pattern)
		}
	}
	// The table has 25 routes today; far fewer means the table went wrong.
	if len(routes) < 25 {
		t.Fatalf("found only %d routes in the route table: %v", len(routes), routes)
	}
	return routes
}

// A deploy token never opens the REST API (docs/design.md §6.8), whichever way it is presented.
func TestDeployTokenRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	all := []string{"read_repository", "read_registry", "write_registry", "read_virtual_registry",
		"write_virtual_registry", "read_package_registry", "write_package_registry"}
	projectTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), all, nil)
	groupTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), all, nil)

	presentations := []struct {
		name   string
		header func(tok testenv.DeployToken) (string, string)
	}{
		{"PRIVATE-TOKEN", func(tok testenv.DeployToken) (string, string) { return "PRIVATE-TOKEN", tok.Token }},
		{"Bearer", func(tok testenv.DeployToken) (string, string) { return "Authorization", "Bearer " + tok.Token }},
		{"basic password", func(tok testenv.DeployToken) (string, string) {
			return "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(tok.Username+":"+tok.Token))
		}},
		{"Deploy-Token header", func(tok testenv.DeployToken) (string, string) { return "Deploy-Token", tok.Token }},
	}
	for _, route := range apiRoutes(t) {
		method, pattern, _ := strings.Cut(route, " ")
		for _, tok := range []struct {
			kind string
			testenv.DeployToken
		}{{"project", projectTok}, {"group", groupTok}} {
			path := strings.TrimPrefix(pattern, "/api/v4")
			switch {
			case strings.HasPrefix(path, "/projects/{id}"):
				path = strings.Replace(path, "{id}", strconv.FormatInt(child.ID, 10), 1)
			case strings.HasPrefix(path, "/groups/{id}"):
				path = strings.Replace(path, "{id}", strconv.FormatInt(f.GroupID, 10), 1)
			case strings.HasPrefix(path, "/users/{id}"):
				path = strings.Replace(path, "{id}", "1", 1)
			case strings.HasPrefix(path, "/namespaces/{id}"):
				path = strings.Replace(path, "{id}", strconv.FormatInt(f.GroupID, 10), 1)
			}
			path = strings.Replace(path, "{token_id}", strconv.FormatInt(tok.ID, 10), 1)
			path = strings.Replace(path, "{package_id}", "1", 1)
			path = strings.Replace(path, "{project_id}", strconv.FormatInt(child.ID, 10), 1)
			path = strings.Replace(path, "{user_id}", "1", 1)
			path = strings.Replace(path, "{group_id}", strconv.FormatInt(f.OtherGroupID, 10), 1)
			path = strings.Replace(path, "{package_file_id}", "1", 1)
			path = strings.NewReplacer("{event_id}", "1", "{branch}", "main", "{tag_name}", "v1", "{file_path}", "README.md").Replace(path)
			path = strings.Replace(path, "{key}", "SOME_KEY", 1)
			if strings.Contains(path, "{") {
				t.Fatalf("route %s has a wildcard this test does not fill", route)
			}
			for _, p := range presentations {
				t.Run(fmt.Sprintf("fail/%s %s/%s token/%s", method, path, tok.kind, p.name), func(t *testing.T) {
					k, v := p.header(tok.DeployToken)
					c := call{method: method, path: path, headers: map[string]string{k: v}}
					if method == "POST" {
						c.body, c.ctype = `{"name":"x","scopes":["read_repository"],"path":"x","username":"x","user_id":1,"access_level":10}`, "application/json"
					}
					r := do(t, ts, c)
					mustStatus(t, r, http.StatusUnauthorized, route)
					if r.header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without a challenge")
					}
					if strings.Contains(string(r.body), tok.Token) {
						t.Errorf("the answer echoes the token")
					}
				})
			}
		}
	}
	// The refused requests changed nothing: both tokens are still the only two.
	var list []deployTokenView
	ts.MustAPI(t, http.StatusOK, "GET", "/deploy_tokens", nil, &list)
	if len(list) != 2 {
		t.Fatalf("%d deploy tokens after refused requests, want 2", len(list))
	}
	if strings.Contains(ts.Logs(), projectTok.Token) || strings.Contains(ts.Logs(), groupTok.Token) {
		t.Fatalf("the server logged a deploy-token secret")
	}
}

// A personal access token works as PRIVATE-TOKEN and as a Bearer token; bad ones are 401.
func TestPersonalTokenPresentation(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	alice := newUser(t, ts, "alice")
	cases := []struct {
		name    string
		headers map[string]string
		status  int
		user    string
	}{
		{"ok/PRIVATE-TOKEN", map[string]string{"PRIVATE-TOKEN": alice.PAT}, 200, "alice"},
		{"ok/Authorization Bearer", map[string]string{"Authorization": "Bearer " + alice.PAT}, 200, "alice"},
		{"ok/lower-case bearer", map[string]string{"Authorization": "bearer " + ts.RootToken}, 200, "root"},
		{"fail/unknown PAT", map[string]string{"PRIVATE-TOKEN": "glpat-not-a-real-token-000000"}, 401, ""},
		{"fail/unknown Bearer", map[string]string{"Authorization": "Bearer glpat-not-a-real-token-000000"}, 401, ""},
		{"fail/no credentials", nil, 401, ""},
		{"fail/password as basic auth is not an API credential", map[string]string{"Authorization": "Basic " +
			base64.StdEncoding.EncodeToString([]byte("alice:password-alice"))}, 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, call{method: "GET", path: "/user", headers: c.headers})
			mustStatus(t, r, c.status, "GET /user")
			if c.status != 200 {
				if r.header.Get("WWW-Authenticate") == "" || r.message(t) == "" {
					t.Errorf("401 without challenge or message: %s", r.body)
				}
				return
			}
			var u struct {
				Username string `json:"username"`
			}
			r.json(t, &u)
			if u.Username != c.user {
				t.Fatalf("authenticated as %q, want %q", u.Username, c.user)
			}
		})
	}

	t.Run("fail/expired PAT", func(t *testing.T) {
		var pat struct {
			Token string `json:"token"`
		}
		ts.MustAPI(t, 201, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", alice.ID), map[string]any{
			"name": "short", "scopes": []string{"api"}, "expires_at": ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")}, &pat)
		mustStatus(t, asPAT(t, ts, pat.Token, "GET", "/user", nil), 200, "before expiry")
		ts.Clock.Advance(49 * time.Hour)
		mustStatus(t, asPAT(t, ts, pat.Token, "GET", "/user", nil), 401, "after expiry")
	})
}

// Who may see and manage which deploy tokens (docs/design.md §2.10; §6.10: 404 for what the
// caller may not see, 403 for what it may see but not do).
func TestDeployTokenPermissions(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child, grandchild, sibling := f.Projects["child"], f.Projects["grandchild"], f.Projects["sibling"]

	outsider := newUser(t, ts, "outsider")
	developer := newUser(t, ts, "developer")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), developer, 30)
	projMaint := newUser(t, ts, "projmaint")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), projMaint, 40)
	groupMaint := newUser(t, ts, "groupmaint")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), groupMaint, 40)
	subOwner := newUser(t, ts, "subowner")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.SubID), subOwner, 50)
	readAPI := newUser(t, ts, "readapi", "read_api")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), readAPI, 50)

	childTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_repository"}, nil)
	groupTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	subTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.SubID), []string{"read_repository"}, nil)

	childPath := fmt.Sprintf("/projects/%d", child.ID)
	childByPath := "/projects/" + url.PathEscape(child.FullPath)
	groupPath := fmt.Sprintf("/groups/%d", f.GroupID)
	subPath := fmt.Sprintf("/groups/%d", f.SubID)
	newTok := map[string]any{"name": "n", "scopes": []string{"read_repository"}}
	tokenOf := func(base string, id int64) string { return fmt.Sprintf("%s/deploy_tokens/%d", base, id) }

	cases := []struct {
		name   string
		who    user
		method string
		path   string
		body   any
		status int
	}{
		// A user who is no member sees nothing: the same 404 as for what does not exist.
		{"fail/outsider gets project", outsider, "GET", childPath, nil, 404},
		{"fail/outsider gets project by path", outsider, "GET", childByPath, nil, 404},
		{"fail/outsider lists project tokens", outsider, "GET", childPath + "/deploy_tokens", nil, 404},
		{"fail/outsider creates project token", outsider, "POST", childPath + "/deploy_tokens", newTok, 404},
		{"fail/outsider gets project token", outsider, "GET", tokenOf(childPath, childTok.ID), nil, 404},
		{"fail/outsider deletes project token", outsider, "DELETE", tokenOf(childPath, childTok.ID), nil, 404},
		{"fail/outsider gets group", outsider, "GET", groupPath, nil, 404},
		{"fail/outsider lists group tokens", outsider, "GET", groupPath + "/deploy_tokens", nil, 404},
		{"fail/outsider creates group token", outsider, "POST", groupPath + "/deploy_tokens", newTok, 404},
		{"fail/outsider deletes group token", outsider, "DELETE", tokenOf(groupPath, groupTok.ID), nil, 404},
		{"fail/outsider lists all tokens", outsider, "GET", "/deploy_tokens", nil, 403},
		{"fail/anyone on a project that does not exist", outsider, "GET", "/projects/999999/deploy_tokens", nil, 404},
		{"fail/anyone on a path that does not exist", outsider, "GET", "/projects/" + url.PathEscape("group/nope") + "/deploy_tokens", nil, 404},

		// A developer sees the project but may not manage its tokens.
		{"ok/developer gets project", developer, "GET", childPath, nil, 200},
		{"fail/developer lists project tokens", developer, "GET", childPath + "/deploy_tokens", nil, 403},
		{"fail/developer creates project token", developer, "POST", childPath + "/deploy_tokens", newTok, 403},
		{"fail/developer gets project token", developer, "GET", tokenOf(childPath, childTok.ID), nil, 403},
		{"fail/developer deletes project token", developer, "DELETE", tokenOf(childPath, childTok.ID), nil, 403},
		{"fail/developer on another project", developer, "GET", fmt.Sprintf("/projects/%d/deploy_tokens", sibling.ID), nil, 404},

		// A project maintainer manages that project's tokens only.
		{"ok/project maintainer lists", projMaint, "GET", childPath + "/deploy_tokens", nil, 200},
		{"ok/project maintainer creates", projMaint, "POST", childByPath + "/deploy_tokens", newTok, 201},
		{"ok/project maintainer gets", projMaint, "GET", tokenOf(childPath, childTok.ID), nil, 200},
		{"fail/project maintainer on the group", projMaint, "GET", subPath + "/deploy_tokens", nil, 404},
		{"fail/project maintainer on a grandchild", projMaint, "GET", fmt.Sprintf("/projects/%d/deploy_tokens", grandchild.ID), nil, 404},

		// A group maintainer manages project tokens below (inherited) and lists group tokens,
		// but only owners create or delete group tokens.
		{"ok/group maintainer creates a grandchild token (inherited)", groupMaint, "POST", fmt.Sprintf("/projects/%d/deploy_tokens", grandchild.ID), newTok, 201},
		{"ok/group maintainer lists group tokens", groupMaint, "GET", groupPath + "/deploy_tokens", nil, 200},
		{"ok/group maintainer lists subgroup tokens", groupMaint, "GET", subPath + "/deploy_tokens", nil, 200},
		{"ok/group maintainer gets a group token", groupMaint, "GET", tokenOf(groupPath, groupTok.ID), nil, 200},
		{"fail/group maintainer creates group token", groupMaint, "POST", groupPath + "/deploy_tokens", newTok, 403},
		{"fail/group maintainer deletes group token", groupMaint, "DELETE", tokenOf(subPath, subTok.ID), nil, 403},
		{"fail/group maintainer lists all tokens", groupMaint, "GET", "/deploy_tokens", nil, 403},

		// A subgroup owner owns that subgroup's tokens, not its parent's.
		{"ok/subgroup owner creates subgroup token", subOwner, "POST", subPath + "/deploy_tokens", newTok, 201},
		{"ok/subgroup owner creates by path", subOwner, "POST", "/groups/" + url.PathEscape("group/sub") + "/deploy_tokens", newTok, 201},
		{"ok/subgroup owner creates in sub-subgroup (inherited)", subOwner, "POST", fmt.Sprintf("/groups/%d/deploy_tokens", f.SubSubID), newTok, 201},
		{"fail/subgroup owner on the parent group", subOwner, "POST", groupPath + "/deploy_tokens", newTok, 404},
		{"ok/subgroup owner deletes subgroup token", subOwner, "DELETE", tokenOf(subPath, subTok.ID), nil, 204},

		// A read_api token reads but never writes, whatever its user's role.
		{"ok/read_api lists", readAPI, "GET", groupPath + "/deploy_tokens", nil, 200},
		{"ok/read_api gets project", readAPI, "GET", childPath, nil, 200},
		{"fail/read_api creates project token", readAPI, "POST", childPath + "/deploy_tokens", newTok, 403},
		{"fail/read_api creates group token", readAPI, "POST", groupPath + "/deploy_tokens", newTok, 403},
		{"fail/read_api deletes group token", readAPI, "DELETE", tokenOf(groupPath, groupTok.ID), nil, 403},

		// Administrators see everything; anonymous callers are asked to authenticate.
		{"ok/admin lists all tokens", user{PAT: ts.RootToken}, "GET", "/deploy_tokens", nil, 200},
		{"fail/anonymous lists project tokens", user{}, "GET", childPath + "/deploy_tokens", nil, 401},
		{"fail/anonymous lists all tokens", user{}, "GET", "/deploy_tokens", nil, 401},
		{"fail/anonymous creates group token", user{}, "POST", groupPath + "/deploy_tokens", newTok, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := asPAT(t, ts, c.who.PAT, c.method, c.path, c.body)
			mustStatus(t, r, c.status, c.method+" "+c.path)
			if c.status >= 400 && r.message(t) == "" {
				t.Errorf("error answer without a message: %s", r.body)
			}
			if c.status == 201 {
				var tok deployTokenView
				r.json(t, &tok)
				if tok.Token == nil || !strings.HasPrefix(*tok.Token, "gldt-") {
					t.Errorf("201 without a secret")
				}
			}
		})
	}

	t.Run("ok/invisible and missing answer alike", func(t *testing.T) {
		hidden := asPAT(t, ts, outsider.PAT, "GET", childPath+"/deploy_tokens", nil)
		missing := asPAT(t, ts, outsider.PAT, "GET", "/projects/999999/deploy_tokens", nil)
		if string(hidden.body) != string(missing.body) {
			t.Fatalf("hidden %s vs missing %s: existence leaks", hidden.body, missing.body)
		}
	})

	t.Run("ok/refusals changed nothing", func(t *testing.T) {
		for _, id := range []int64{childTok.ID, groupTok.ID} {
			if _, err := ts.Server.Deploy.Get(t.Context(), id); err != nil {
				t.Fatalf("token %d: %v", id, err)
			}
		}
		var groupList []deployTokenView
		ts.MustAPI(t, 200, "GET", groupPath+"/deploy_tokens", nil, &groupList)
		if len(groupList) != 1 || groupList[0].ID != groupTok.ID {
			t.Fatalf("group tokens = %v, want only %d", ids(groupList), groupTok.ID)
		}
	})
}
