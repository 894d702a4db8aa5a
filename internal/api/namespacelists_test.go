package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestNamespaceExists: GET /namespaces/:namespace/exists tells whether a path is taken by a
// group or (top level) a user, top level or below parent_id, and suggests a free one, as
// python-gitlab's gl.namespaces.exists reads it.
func TestNamespaceExists(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", "/groups", map[string]any{"name": "taken", "path": "taken"}, &g)
	ts.MustAPI(t, http.StatusCreated, "POST", "/groups", map[string]any{"name": "taken1", "path": "taken1"}, nil)
	ts.MustAPI(t, http.StatusCreated, "POST", "/groups", map[string]any{"name": "sub", "path": "sub", "parent_id": g.ID}, nil)
	ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": "app", "namespace_id": g.ID}, nil)
	type answer struct {
		Exists   bool     `json:"exists"`
		Suggests []string `json:"suggests"`
	}
	for _, c := range []struct {
		path     string
		exists   bool
		suggests []string
	}{
		{"/namespaces/taken/exists", true, []string{"taken2"}},
		{"/namespaces/root/exists", true, []string{"root1"}},
		{"/namespaces/free/exists", false, []string{}},
		{fmt.Sprintf("/namespaces/sub/exists?parent_id=%d", g.ID), true, []string{"sub1"}},
		// A project is not a namespace here, as in GitLab: a private one stays untold.
		{fmt.Sprintf("/namespaces/app/exists?parent_id=%d", g.ID), false, []string{}},
		{fmt.Sprintf("/namespaces/other/exists?parent_id=%d", g.ID), false, []string{}},
	} {
		var a answer
		ts.MustAPI(t, http.StatusOK, "GET", c.path, nil, &a)
		if a.Exists != c.exists || !slices.Equal(a.Suggests, c.suggests) {
			t.Errorf("%s = %+v, want exists %v suggests %v", c.path, a, c.exists, c.suggests)
		}
	}
	if code := ts.API(t, "GET", "/namespaces/taken/exists?parent_id=99999", nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown parent: %d, want 404", code)
	}
	if code := ts.API(t, "GET", "/namespaces/taken/exists?colour=red", nil, nil); code != http.StatusBadRequest {
		t.Errorf("unknown parameter: %d, want 400", code)
	}
}

// TestDirectMemberFilters: a group's direct member list takes user_ids and query like
// members/all (python-gitlab's group.members.list(user_ids=[…])); a non-integer id is 400.
func TestDirectMemberFilters(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	alice := ts.CreateUser(t, "alice-filter", "api")
	bob := ts.CreateUser(t, "bob-filter", "api")
	for _, u := range []testenv.User{alice, bob} {
		ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/groups/%d/members", f.GroupID),
			map[string]any{"user_id": u.ID, "access_level": 30}, nil)
	}
	names := func(query string) []string {
		var ms []struct {
			Username string `json:"username"`
		}
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/groups/%d/members?%s", f.GroupID, query), nil, &ms)
		var out []string
		for _, m := range ms {
			out = append(out, m.Username)
		}
		slices.Sort(out)
		return out
	}
	if got := names(fmt.Sprintf("user_ids=%d,99999", alice.ID)); !slices.Equal(got, []string{"alice-filter"}) {
		t.Errorf("user_ids: %v", got)
	}
	if got := names("query=BOB"); !slices.Equal(got, []string{"bob-filter"}) {
		t.Errorf("query: %v", got)
	}
	if code := ts.API(t, "GET", fmt.Sprintf("/groups/%d/members?user_ids=x", f.GroupID), nil, nil); code != http.StatusBadRequest {
		t.Errorf("user_ids=x: %d, want 400", code)
	}
}

// TestAnonymousGroupList: GET /groups without credentials lists the public groups only, as
// GitLab does, and offers them keyset pagination by name (GitLab's anonymous-only keyset).
func TestAnonymousGroupList(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	for _, g := range []struct{ path, visibility string }{{"pub-b", "public"}, {"pub-a", "public"}, {"inner", "internal"}, {"secret", "private"}} {
		ts.MustAPI(t, http.StatusCreated, "POST", "/groups", map[string]any{"name": g.path, "path": g.path, "visibility": g.visibility}, nil)
	}
	get := func(path string) (int, []string, string) {
		resp, err := http.Get(ts.URL + "/api/v4" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var gs []struct {
			Path string `json:"path"`
		}
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&gs); err != nil {
				t.Fatal(err)
			}
		}
		var paths []string
		for _, g := range gs {
			paths = append(paths, g.Path)
		}
		return resp.StatusCode, paths, resp.Header.Get("Link")
	}
	if code, paths, _ := get("/groups"); code != http.StatusOK || !slices.Equal(paths, []string{"pub-a", "pub-b"}) {
		t.Errorf("anonymous GET /groups = %d %v, want 200 [pub-a pub-b]", code, paths)
	}
	code, paths, link := get("/groups?pagination=keyset&order_by=name&sort=asc&per_page=1")
	if code != http.StatusOK || !slices.Equal(paths, []string{"pub-a"}) || !strings.Contains(link, `rel="next"`) {
		t.Fatalf("anonymous keyset page 1 = %d %v Link %q", code, paths, link)
	}
	next := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
	next = next[strings.Index(next, "/api/v4")+len("/api/v4"):]
	if code, paths, _ := get(next); code != http.StatusOK || !slices.Equal(paths, []string{"pub-b"}) {
		t.Errorf("anonymous keyset page 2 (%s) = %d %v", next, code, paths)
	}
	if code, _, _ := get("/groups?owned=true"); code != http.StatusOK {
		t.Errorf("anonymous owned=true: %d", code)
	}
}
