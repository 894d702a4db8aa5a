package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func TestVersionAndCurrentUser(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	alice := newUser(t, ts, "alice")

	t.Run("ok/version", func(t *testing.T) {
		r := asPAT(t, ts, alice.PAT, "GET", "/version", nil)
		mustStatus(t, r, 200, "version")
		var v map[string]any
		r.json(t, &v)
		if v["version"] == "" || v["revision"] == "" {
			t.Fatalf("version answer %v", v)
		}
	})
	t.Run("fail/version needs a credential", func(t *testing.T) {
		mustStatus(t, asPAT(t, ts, "", "GET", "/version", nil), 401, "anonymous version")
	})
	t.Run("ok/current user shows own email and admin flag", func(t *testing.T) {
		var u map[string]any
		ts.MustAPI(t, 200, "GET", "/user", nil, &u)
		if u["username"] != "root" || u["is_admin"] != true || u["email"] == nil || u["state"] != "active" {
			t.Fatalf("root /user = %v", u)
		}
		r := asPAT(t, ts, alice.PAT, "GET", "/user", nil)
		mustStatus(t, r, 200, "alice /user")
		r.json(t, &u)
		if u["username"] != "alice" || u["is_admin"] != false || u["email"] != "alice@example.com" ||
			u["id"] != float64(alice.ID) {
			t.Fatalf("alice /user = %v", u)
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	alice := newUser(t, ts, "alice")
	bob := newUser(t, ts, "bob")

	t.Run("ok/list and filter by username", func(t *testing.T) {
		var all []map[string]any
		ts.MustAPI(t, 200, "GET", "/users", nil, &all)
		if len(all) != 3 {
			t.Fatalf("%d users, want root, alice and bob", len(all))
		}
		var one []map[string]any
		ts.MustAPI(t, 200, "GET", "/users?username=BOB", nil, &one)
		if len(one) != 1 || one[0]["id"] != float64(bob.ID) {
			t.Fatalf("?username=BOB = %v", one)
		}
	})
	t.Run("ok/get by id", func(t *testing.T) {
		var u map[string]any
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/users/%d", alice.ID), nil, &u)
		if u["username"] != "alice" || u["name"] != "User alice" || u["email"] != "alice@example.com" {
			t.Fatalf("admin view of alice = %v", u)
		}
	})
	t.Run("ok/others' email and admin flag stay private", func(t *testing.T) {
		r := asPAT(t, ts, bob.PAT, "GET", fmt.Sprintf("/users/%d", alice.ID), nil)
		mustStatus(t, r, 200, "bob gets alice")
		if hasKey(t, r.body, "email") || hasKey(t, r.body, "is_admin") {
			t.Fatalf("bob sees alice's private fields: %s", r.body)
		}
	})
	t.Run("fail/unknown user", func(t *testing.T) {
		mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", "/users/999999", nil), 404, "unknown user")
	})
	t.Run("fail/only admins create users", func(t *testing.T) {
		r := asPAT(t, ts, alice.PAT, "POST", "/users", map[string]any{"username": "eve", "email": "eve@example.com",
			"name": "Eve", "password": "password-eve"})
		mustStatus(t, r, 403, "alice creates a user")
	})
	t.Run("ok/admin flag from a form reads booleans as GitLab does", func(t *testing.T) {
		r := do(t, ts, call{method: "POST", path: "/users", ctype: "application/x-www-form-urlencoded",
			body:    "username=carol&email=carol%40example.com&name=Carol&password=password-carol&admin=True",
			headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
		mustStatus(t, r, 201, "create admin")
		var u map[string]any
		r.json(t, &u)
		if u["is_admin"] != true || u["username"] != "carol" {
			t.Fatalf("created %v, want an admin", u)
		}
	})
	t.Run("fail/duplicate username", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "POST", "/users", map[string]any{"username": "alice", "email": "a2@example.com",
			"name": "A2", "password": "password-a2"})
		// GitLab's 409 and wording (issue 14, item 4).
		mustStatus(t, r, 409, "duplicate user")
		if msg := r.message(t); msg != "Username has already been taken" {
			t.Fatalf("message %q", msg)
		}
	})
	t.Run("fail/duplicate email", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "POST", "/users", map[string]any{"username": "alice2", "email": "ALICE@example.com",
			"name": "A2", "password": "password-a2"})
		mustStatus(t, r, 409, "duplicate email")
		if msg := r.message(t); msg != "Email has already been taken" {
			t.Fatalf("message %q", msg)
		}
	})
	t.Run("fail/username of a top-level group and the reverse", func(t *testing.T) {
		ts.MustAPI(t, 201, "POST", "/groups", map[string]any{"name": "Shared", "path": "shared"}, nil)
		r := asPAT(t, ts, ts.RootToken, "POST", "/users", map[string]any{"username": "Shared", "email": "shared@example.com",
			"name": "Shared", "password": "password-shared"})
		mustStatus(t, r, 400, "user named like a group")
		if msg := r.message(t); msg != "username has already been taken" {
			t.Fatalf("message %q", msg)
		}
		r = asPAT(t, ts, ts.RootToken, "POST", "/groups", map[string]any{"name": "Alice", "path": "ALICE"})
		mustStatus(t, r, 400, "group named like a user")
		if msg := r.message(t); msg != "path has already been taken" {
			t.Fatalf("message %q", msg)
		}
	})
}

func TestPersonalAccessTokens(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	alice := newUser(t, ts, "alice")
	bob := newUser(t, ts, "bob")

	var created map[string]any
	expires := ts.Clock.Now().UTC().AddDate(0, 1, 0).Format("2006-01-02")
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", alice.ID),
		map[string]any{"name": "automation", "scopes": []string{"read_api", "read_repository"}, "expires_at": expires}, &created)
	secret, _ := created["token"].(string)

	t.Run("ok/create answers the secret once", func(t *testing.T) {
		if !strings.HasPrefix(secret, "glpat-") {
			t.Fatalf("created = %v", created)
		}
		if created["user_id"] != float64(alice.ID) || created["name"] != "automation" || created["active"] != true ||
			created["revoked"] != false || created["expires_at"] != expires {
			t.Fatalf("created = %v", created)
		}
		if fmt.Sprint(created["scopes"]) != "[read_api read_repository]" {
			t.Fatalf("scopes = %v", created["scopes"])
		}
	})
	t.Run("ok/self shows the token without its secret", func(t *testing.T) {
		r := asPAT(t, ts, secret, "GET", "/personal_access_tokens/self", nil)
		mustStatus(t, r, 200, "self")
		if strings.Contains(string(r.body), secret) || hasKey(t, r.body, "token") {
			t.Fatalf("self shows the secret: %s", r.body)
		}
		var self map[string]any
		r.json(t, &self)
		if self["id"] != created["id"] || self["user_id"] != float64(alice.ID) || self["name"] != "automation" {
			t.Fatalf("self = %v", self)
		}
	})
	t.Run("ok/the new token authenticates as its user", func(t *testing.T) {
		var u map[string]any
		r := asPAT(t, ts, secret, "GET", "/user", nil)
		mustStatus(t, r, 200, "user")
		r.json(t, &u)
		if u["username"] != "alice" {
			t.Fatalf("authenticated as %v", u["username"])
		}
	})
	t.Run("fail/non-admin cannot create tokens, even for self", func(t *testing.T) {
		for _, id := range []int64{alice.ID, bob.ID} {
			r := asPAT(t, ts, alice.PAT, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", id),
				map[string]any{"name": "x", "scopes": []string{"api"}})
			mustStatus(t, r, 403, "alice creates a PAT")
		}
	})
	t.Run("fail/unknown user", func(t *testing.T) {
		mustStatus(t, asPAT(t, ts, ts.RootToken, "POST", "/users/999999/personal_access_tokens",
			map[string]any{"name": "x", "scopes": []string{"api"}}), 404, "unknown user")
	})
	t.Run("fail/deploy scope only", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", alice.ID),
			map[string]any{"name": "x", "scopes": []string{"read_virtual_registry"}})
		mustStatus(t, r, 400, "bad scope")
		if !strings.Contains(r.message(t), "scopes") {
			t.Fatalf("message %q", r.message(t))
		}
	})
	t.Run("fail/missing name", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", alice.ID),
			map[string]any{"scopes": []string{"api"}})
		mustStatus(t, r, 400, "no name")
		if !strings.Contains(r.message(t), "name") {
			t.Fatalf("message %q", r.message(t))
		}
	})
}

func TestGroupsAndProjects(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	outsider := newUser(t, ts, "outsider")
	member := newUser(t, ts, "member")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.SubID), member, 10)

	type group struct {
		ID       int64  `json:"id"`
		Path     string `json:"path"`
		FullPath string `json:"full_path"`
		ParentID *int64 `json:"parent_id"`
		WebURL   string `json:"web_url"`
	}
	t.Run("ok/group by id and by encoded full path", func(t *testing.T) {
		for _, p := range []string{
			fmt.Sprintf("/groups/%d", f.SubSubID),
			"/groups/" + url.PathEscape("group/sub/subsub"),
			"/groups/group%2Fsub%2Fsubsub",
			"/groups/Group%2FSUB%2Fsubsub",
		} {
			var g group
			ts.MustAPI(t, 200, "GET", p, nil, &g)
			if g.ID != f.SubSubID || g.FullPath != "group/sub/subsub" || g.Path != "subsub" ||
				g.ParentID == nil || *g.ParentID != f.SubID || !strings.HasSuffix(g.WebURL, "/groups/group/sub/subsub") {
				t.Fatalf("GET %s = %+v", p, g)
			}
		}
		var top group
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/groups/%d", f.GroupID), nil, &top)
		if top.ParentID != nil || top.FullPath != "group" {
			t.Fatalf("top group = %+v", top)
		}
	})
	t.Run("ok/subgroups", func(t *testing.T) {
		var subs []group
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/groups/%d/subgroups", f.GroupID), nil, &subs)
		if len(subs) != 1 || subs[0].ID != f.SubID || subs[0].FullPath != "group/sub" {
			t.Fatalf("subgroups = %+v", subs)
		}
	})
	t.Run("ok/group list is filtered by membership", func(t *testing.T) {
		var all, mine, none []group
		ts.MustAPI(t, 200, "GET", "/groups", nil, &all)
		if len(all) != 4 {
			t.Fatalf("root sees %d groups, want 4", len(all))
		}
		r := asPAT(t, ts, member.PAT, "GET", "/groups", nil)
		mustStatus(t, r, 200, "member groups")
		r.json(t, &mine)
		if len(mine) != 2 {
			t.Fatalf("member of group/sub sees %+v, want sub and subsub", mine)
		}
		r = asPAT(t, ts, outsider.PAT, "GET", "/groups", nil)
		mustStatus(t, r, 200, "outsider groups")
		r.json(t, &none)
		if len(none) != 0 {
			t.Fatalf("outsider sees %+v", none)
		}
	})

	type project struct {
		ID                int64  `json:"id"`
		Path              string `json:"path"`
		PathWithNamespace string `json:"path_with_namespace"`
		Visibility        string `json:"visibility"`
		HTTPURLToRepo     string `json:"http_url_to_repo"`
		Namespace         struct {
			ID       int64  `json:"id"`
			Kind     string `json:"kind"`
			FullPath string `json:"full_path"`
		} `json:"namespace"`
	}
	t.Run("ok/project by id and by encoded full path", func(t *testing.T) {
		for _, p := range []string{
			fmt.Sprintf("/projects/%d", child.ID),
			"/projects/group%2Fsub%2Fchild",
			"/projects/" + url.PathEscape(child.FullPath),
		} {
			var got project
			ts.MustAPI(t, 200, "GET", p, nil, &got)
			if got.ID != child.ID || got.PathWithNamespace != "group/sub/child" || got.Path != "child" ||
				got.Visibility != "private" || got.Namespace.ID != f.SubID || got.Namespace.Kind != "group" ||
				got.Namespace.FullPath != "group/sub" || got.HTTPURLToRepo != ts.URL+"/group/sub/child.git" {
				t.Fatalf("GET %s = %+v", p, got)
			}
		}
	})
	t.Run("fail/missing project path", func(t *testing.T) {
		mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", "/projects/group%2Fsub%2Fnope", nil), 404, "missing project")
		mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", "/groups/group%2Fnope", nil), 404, "missing group")
	})
	t.Run("ok/inherited membership shows projects below", func(t *testing.T) {
		var list []project
		r := asPAT(t, ts, member.PAT, "GET", "/projects", nil)
		mustStatus(t, r, 200, "member projects")
		r.json(t, &list)
		got := map[string]bool{}
		for _, p := range list {
			got[p.PathWithNamespace] = true
		}
		if len(list) != 2 || !got["group/sub/child"] || !got["group/sub/subsub/grandchild"] {
			t.Fatalf("member of group/sub sees %v", got)
		}
		mustStatus(t, asPAT(t, ts, member.PAT, "GET", fmt.Sprintf("/projects/%d", f.Projects["grandchild"].ID), nil), 200, "grandchild")
		mustStatus(t, asPAT(t, ts, member.PAT, "GET", fmt.Sprintf("/projects/%d", f.Projects["top"].ID), nil), 404, "top")
	})
	t.Run("ok/a user creates a group it then owns", func(t *testing.T) {
		var g group
		r := asPAT(t, ts, outsider.PAT, "POST", "/groups", map[string]any{"name": "Mine", "path": "mine"})
		mustStatus(t, r, 201, "create group")
		r.json(t, &g)
		mustStatus(t, asPAT(t, ts, outsider.PAT, "POST", fmt.Sprintf("/groups/%d/deploy_tokens", g.ID),
			map[string]any{"name": "t", "scopes": []string{"read_registry"}}), 201, "owner creates a group token")
		var p project
		r = asPAT(t, ts, outsider.PAT, "POST", "/projects", map[string]any{"name": "app", "namespace_id": g.ID})
		mustStatus(t, r, 201, "create project")
		r.json(t, &p)
		if p.PathWithNamespace != "mine/app" {
			t.Fatalf("project = %+v", p)
		}
	})
	t.Run("fail/subgroup in a group one cannot see", func(t *testing.T) {
		mustStatus(t, asPAT(t, ts, outsider.PAT, "POST", "/groups", map[string]any{"name": "x", "path": "x", "parent_id": f.GroupID}),
			404, "outsider creates a subgroup")
		mustStatus(t, asPAT(t, ts, outsider.PAT, "POST", "/projects", map[string]any{"name": "x", "namespace_id": f.GroupID}),
			404, "outsider creates a project")
	})
	t.Run("fail/invalid and reserved paths", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"name": "API", "path": "api"},
			{"name": "bad", "path": "bad path"},
			{"name": "dup", "path": "group"},
		} {
			r := asPAT(t, ts, ts.RootToken, "POST", "/groups", body)
			mustStatus(t, r, 400, fmt.Sprint(body))
			if !strings.Contains(r.message(t), "path") {
				t.Errorf("message %q does not name path", r.message(t))
			}
		}
	})
}

// Members carry GitLab's access levels 10..50; a group role is inherited by every subgroup and
// project below, and the highest role wins. Each user has level L directly on the project
// group/sub/subsub/grandchild and on the group "other", whose subgroup other/inner holds the
// project other/inner/deep, reached only by inheritance.
func TestMembers(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	grandchild := f.Projects["grandchild"]
	var inner, deep struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, 201, "POST", "/groups", map[string]any{"name": "inner", "path": "inner", "parent_id": f.OtherGroupID}, &inner)
	ts.MustAPI(t, 201, "POST", "/projects", map[string]any{"name": "deep", "namespace_id": inner.ID}, &deep)
	levels := []int{10, 20, 30, 40, 50}
	users := map[int]user{}
	for _, l := range levels {
		users[l] = newUser(t, ts, "level"+strconv.Itoa(l))
		addMember(t, ts, fmt.Sprintf("projects/%d", grandchild.ID), users[l], l)
		addMember(t, ts, fmt.Sprintf("groups/%d", f.OtherGroupID), users[l], l)
	}

	t.Run("ok/member lists show access levels", func(t *testing.T) {
		type member struct {
			ID          int64  `json:"id"`
			Username    string `json:"username"`
			AccessLevel int    `json:"access_level"`
			State       string `json:"state"`
		}
		for _, path := range []string{
			fmt.Sprintf("/projects/%d/members", grandchild.ID),
			fmt.Sprintf("/groups/%d/members", f.OtherGroupID),
		} {
			var all, ms []member
			ts.MustAPI(t, 200, "GET", path, nil, &all)
			for _, m := range all {
				// root created the fixture's groups, so it is their Owner member (as in GitLab).
				if m.Username != "root" {
					ms = append(ms, m)
				}
			}
			got := map[int64]int{}
			for _, m := range ms {
				got[m.ID] = m.AccessLevel
				if m.State != "active" || m.Username == "" {
					t.Errorf("%s: member %+v", path, m)
				}
			}
			if len(ms) != len(levels) {
				t.Fatalf("%s: %d members, want %d", path, len(ms), len(levels))
			}
			for l, u := range users {
				if got[u.ID] != l {
					t.Errorf("%s: %s has level %d, want %d", path, u.Username, got[u.ID], l)
				}
			}
		}
		// Member lists are direct members only: the subgroup has none of its own but its creator
		// (root, its Owner member as in GitLab).
		var innerMembers []member
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/groups/%d/members", inner.ID), nil, &innerMembers)
		if len(innerMembers) != 1 || innerMembers[0].Username != "root" {
			t.Fatalf("other/inner direct members = %+v", innerMembers)
		}
	})

	// What each level may do with deploy tokens, on a project directly and through the group.
	for _, l := range levels {
		u := users[l]
		for _, c := range []struct {
			how     string
			project int64
			group   int64 // a group whose tokens the level may or may not manage; 0: none
		}{
			{"direct", grandchild.ID, f.SubSubID},
			{"inherited", deep.ID, inner.ID},
		} {
			t.Run(fmt.Sprintf("ok/level %d %s", l, c.how), func(t *testing.T) {
				base := fmt.Sprintf("/projects/%d", c.project)
				mustStatus(t, asPAT(t, ts, u.PAT, "GET", base, nil), 200, "view")
				wantList, wantCreate := 403, 403
				if l >= 40 {
					wantList, wantCreate = 200, 201
				}
				mustStatus(t, asPAT(t, ts, u.PAT, "GET", base+"/deploy_tokens", nil), wantList, "list tokens")
				mustStatus(t, asPAT(t, ts, u.PAT, "POST", base+"/deploy_tokens",
					map[string]any{"name": "by-" + u.Username, "scopes": []string{"read_repository"}}), wantCreate, "create token")
				// Group tokens: a project member has no role on the project's group (404); a
				// group member's role is inherited by the subgroup (maintainers list, owners create).
				groupBase := fmt.Sprintf("/groups/%d/deploy_tokens", c.group)
				wantGroupList, wantGroupCreate := 404, 404
				if c.how == "inherited" {
					wantGroupList, wantGroupCreate = 403, 403
					if l >= 40 {
						wantGroupList = 200
					}
					if l == 50 {
						wantGroupCreate = 201
					}
				}
				mustStatus(t, asPAT(t, ts, u.PAT, "GET", groupBase, nil), wantGroupList, "list group tokens")
				mustStatus(t, asPAT(t, ts, u.PAT, "POST", groupBase,
					map[string]any{"name": "g-" + u.Username, "scopes": []string{"read_repository"}}), wantGroupCreate, "create group token")
			})
		}
	}

	t.Run("ok/highest role wins", func(t *testing.T) {
		deepTokens := fmt.Sprintf("/projects/%d/deploy_tokens", deep.ID)
		// A guest of the group who is a maintainer of the project manages its tokens.
		addMember(t, ts, fmt.Sprintf("projects/%d", deep.ID), users[10], 40)
		mustStatus(t, asPAT(t, ts, users[10].PAT, "GET", deepTokens, nil), 200, "guest+maintainer lists")
		// A group maintainer who is a guest of the project keeps maintainer rights.
		addMember(t, ts, fmt.Sprintf("projects/%d", deep.ID), users[40], 10)
		mustStatus(t, asPAT(t, ts, users[40].PAT, "GET", deepTokens, nil), 200, "maintainer+guest lists")
	})

	t.Run("fail/bad member requests", func(t *testing.T) {
		path := fmt.Sprintf("/projects/%d/members", grandchild.ID)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"user_id": users[10].ID, "access_level": 35}, "access_level"},
			{map[string]any{"user_id": users[10].ID}, "access_level"},
			{map[string]any{"access_level": 30}, "user_id"},
			{map[string]any{"user_id": 999999, "access_level": 30}, "user_id"},
		} {
			r := asPAT(t, ts, ts.RootToken, "POST", path, c.body)
			mustStatus(t, r, 400, fmt.Sprint(c.body))
			if !strings.Contains(r.message(t), c.field) {
				t.Errorf("message %q does not name %s", r.message(t), c.field)
			}
		}
	})
	t.Run("fail/maintainers cannot grant owner, developers cannot add members", func(t *testing.T) {
		newcomer := newUser(t, ts, "newcomer")
		path := fmt.Sprintf("/groups/%d/members", inner.ID)
		mustStatus(t, asPAT(t, ts, users[40].PAT, "POST", path, map[string]any{"user_id": newcomer.ID, "access_level": 50}), 403, "maintainer grants owner")
		mustStatus(t, asPAT(t, ts, users[30].PAT, "POST", path, map[string]any{"user_id": newcomer.ID, "access_level": 10}), 403, "developer adds a member")
		mustStatus(t, asPAT(t, ts, users[40].PAT, "POST", path, map[string]any{"user_id": newcomer.ID, "access_level": 30}), 201, "maintainer adds a developer")
		mustStatus(t, asPAT(t, ts, users[50].PAT, "POST", path, map[string]any{"user_id": newcomer.ID, "access_level": 50}), 409, "owner re-adds a member")
		mustStatus(t, asPAT(t, ts, users[50].PAT, "PUT", fmt.Sprintf("%s/%d", path, newcomer.ID), map[string]any{"access_level": 50}), 200, "owner grants owner")
		var ms []struct {
			ID          int64 `json:"id"`
			AccessLevel int   `json:"access_level"`
		}
		ts.MustAPI(t, 200, "GET", path, nil, &ms)
		// root is there too: it created other/inner, so it is its Owner member.
		if len(ms) != 2 || ms[1].ID != newcomer.ID || ms[1].AccessLevel != 50 {
			t.Fatalf("other/inner members = %+v, want root and the newcomer as owners", ms)
		}
	})
}

// Lists are paginated as GitLab does: page/per_page, X-* headers and a Link to the next page.
func TestPagination(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	owner := fmt.Sprintf("projects/%d", f.Projects["top"].ID)
	var created []int64
	for range 5 {
		created = append(created, ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil).ID)
	}

	var seen []int64
	next := "/" + owner + "/deploy_tokens?per_page=2"
	for page := 1; page <= 3; page++ {
		r := asPAT(t, ts, ts.RootToken, "GET", next, nil)
		mustStatus(t, r, 200, next)
		h := r.header
		if h.Get("X-Total") != "5" || h.Get("X-Total-Pages") != "3" || h.Get("X-Per-Page") != "2" || h.Get("X-Page") != strconv.Itoa(page) {
			t.Fatalf("page %d headers: total=%q pages=%q per=%q page=%q", page, h.Get("X-Total"), h.Get("X-Total-Pages"), h.Get("X-Per-Page"), h.Get("X-Page"))
		}
		var list []deployTokenView
		r.json(t, &list)
		seen = append(seen, ids(list)...)
		link := h.Get("Link")
		if page == 3 {
			if h.Get("X-Next-Page") != "" || strings.Contains(link, `rel="next"`) {
				t.Fatalf("last page still points on: X-Next-Page=%q Link=%q", h.Get("X-Next-Page"), link)
			}
			if len(list) != 1 {
				t.Fatalf("last page has %d items", len(list))
			}
			break
		}
		if h.Get("X-Next-Page") != strconv.Itoa(page+1) || len(list) != 2 {
			t.Fatalf("page %d: X-Next-Page=%q, %d items", page, h.Get("X-Next-Page"), len(list))
		}
		// Link: <http://host/api/v4/...?page=N&per_page=2>; rel="next", … (TestPaginationHeaders)
		target := linkRels(t, link)["next"]
		if !strings.HasPrefix(target, ts.URL+"/api/v4/") {
			t.Fatalf("Link = %q", link)
		}
		u, err := url.Parse(target)
		if err != nil || u.Query().Get("page") != strconv.Itoa(page+1) || u.Query().Get("per_page") != "2" {
			t.Fatalf("Link target %q", target)
		}
		next = strings.TrimPrefix(u.RequestURI(), "/api/v4")
	}
	if fmt.Sprint(seen) != fmt.Sprint(created) {
		t.Fatalf("pages gave %v, want %v in order", seen, created)
	}

	t.Run("ok/past the end is an empty array", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", "/"+owner+"/deploy_tokens?per_page=2&page=9", nil)
		mustStatus(t, r, 200, "page 9")
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("page 9 = %s, want []", r.body)
		}
	})
	t.Run("ok/per_page is capped at 100 and defaults to 20", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", "/"+owner+"/deploy_tokens?per_page=1000", nil)
		if r.header.Get("X-Per-Page") != "100" {
			t.Fatalf("X-Per-Page = %q", r.header.Get("X-Per-Page"))
		}
		r = asPAT(t, ts, ts.RootToken, "GET", "/"+owner+"/deploy_tokens", nil)
		if r.header.Get("X-Per-Page") != "20" || r.header.Get("X-Total-Pages") != "1" {
			t.Fatalf("defaults: per=%q pages=%q", r.header.Get("X-Per-Page"), r.header.Get("X-Total-Pages"))
		}
	})
	t.Run("ok/other lists paginate too", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", "/projects?per_page=3", nil)
		mustStatus(t, r, 200, "projects")
		if r.header.Get("X-Total") != "4" || r.header.Get("X-Next-Page") != "2" {
			t.Fatalf("projects: total=%q next=%q", r.header.Get("X-Total"), r.header.Get("X-Next-Page"))
		}
	})
}

// Behind a TLS-terminating proxy the server sees plain HTTP on an inner address; the Link header
// must still point at the external URL, which python-gitlab follows for the next page.
func TestPaginationLinkUsesExternalURL(t *testing.T) {
	t.Parallel()
	const external = "https://gatehouse.example.com"
	ts := testenv.StartServer(t, func(c *config.Config) { c.ExternalURL = external })
	inner := "http://" + ts.Server.Config.Listen
	req, err := http.NewRequest("GET", inner+"/api/v4/users?per_page=1&username=", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", ts.RootToken)
	// A second user, so there is a next page.
	var u struct {
		ID int64 `json:"id"`
	}
	body := `{"username":"second","email":"second@example.com","name":"Second","password":"password-second"}`
	post, err := http.NewRequest("POST", inner+"/api/v4/users", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	post.Header.Set("PRIVATE-TOKEN", ts.RootToken)
	post.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create user: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	link := resp.Header.Get("Link")
	if next := linkRels(t, link)["next"]; !strings.HasPrefix(next, external+"/api/v4/users?") || !strings.Contains(next, "page=2") {
		t.Fatalf("Link = %q, want the next page under %s", link, external)
	}
}
