package api_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Issue 14's deploy-token and REST-convention items: GitLab's documented examples, run as written
// with only host, ids and tokens changed, must answer as GitLab does.

// TestTrailingSlashes (item 1): GitLab's router strips trailing slashes, and its deploy-token
// doc creates a project token with POST …/projects/5/deploy_tokens/ (here with the doc's own
// body, whose expires_at of 2021-01-01 is in the past: item 2).
func TestTrailingSlashes(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	root := map[string]string{"PRIVATE-TOKEN": ts.RootToken}

	t.Run("ok/the doc's create example", func(t *testing.T) {
		r := do(t, ts, call{method: "POST", path: fmt.Sprintf("/projects/%d/deploy_tokens/", top.ID), headers: root,
			ctype: "application/json", body: `{"name": "My deploy token", "expires_at": "2021-01-01", "username": "custom-user", "scopes": ["read_repository"]}`})
		mustStatus(t, r, http.StatusCreated, "POST …/deploy_tokens/")
		var dt deployTokenView
		r.json(t, &dt)
		if dt.Username != "custom-user" || dt.Token == nil || !dt.Expired {
			t.Fatalf("created %+v, want custom-user, a secret and expired", dt)
		}
	})
	for _, p := range []string{
		"/user/", "/projects/", fmt.Sprintf("/projects/%d/", top.ID), fmt.Sprintf("/projects/%d/deploy_tokens/", top.ID),
		fmt.Sprintf("/groups/%d/deploy_tokens//", f.GroupID), "/projects/" + url.PathEscape(top.FullPath) + "/",
	} {
		t.Run("ok/GET "+p, func(t *testing.T) {
			mustStatus(t, do(t, ts, call{method: "GET", path: p, headers: root}), http.StatusOK, "GET "+p)
		})
	}
	t.Run("fail/unknown paths stay 404 with or without a slash", func(t *testing.T) {
		for _, p := range []string{"/", "/nothing/", "/nothing", fmt.Sprintf("/projects/%d/nothing/", top.ID)} {
			mustStatus(t, do(t, ts, call{method: "GET", path: p, headers: root}), http.StatusNotFound, "GET "+p)
		}
	})
}

// TestDeployTokenPastExpiry (item 2): GitLab checks only the format of expires_at, so a date today
// or in the past creates a token that is already expired: refused when used, listed with
// expired: true. An unparseable date is still a 400.
func TestDeployTokenPastExpiry(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := fmt.Sprintf("/projects/%d/deploy_tokens", top.ID)
	now := ts.Clock.Now().UTC()
	for _, exp := range []string{"2021-01-01", now.AddDate(0, 0, -1).Format("2006-01-02"), now.Format("2006-01-02"), "2001-02-03T10:00:00Z"} {
		t.Run("ok/"+exp, func(t *testing.T) {
			r := asPAT(t, ts, ts.RootToken, "POST", base, map[string]any{"name": "late " + exp, "scopes": []string{"read_repository", "read_registry"}, "expires_at": exp})
			mustStatus(t, r, http.StatusCreated, "create expiring "+exp)
			var dt deployTokenView
			r.json(t, &dt)
			if !dt.Expired || dt.ExpiresAt == nil || !strings.HasPrefix(*dt.ExpiresAt, exp[:10]) {
				t.Fatalf("created %+v, want expired on %s", dt, exp[:10])
			}
			var got deployTokenView
			ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("%s/%d", base, dt.ID), nil, &got)
			if !got.Expired {
				t.Fatalf("GET shows %+v, want expired", got)
			}
			var active []deployTokenView
			ts.MustAPI(t, http.StatusOK, "GET", base+"?active=true", nil, &active)
			if containsID(active, dt.ID) {
				t.Fatalf("an expired token is listed as active")
			}
			if st := ts.InfoRefs(t, top.FullPath, dt.Username, *dt.Token).Status; st != http.StatusUnauthorized && st != http.StatusForbidden {
				t.Fatalf("git with an already-expired token: status %d, want a refusal", st)
			}
			if st := jwtAuth(t, ts, top.FullPath, dt.Username, *dt.Token).status; st != http.StatusUnauthorized {
				t.Fatalf("/jwt/auth with an already-expired token: status %d, want 401", st)
			}
		})
	}
	t.Run("fail/unparseable", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "POST", base, map[string]any{"name": "x", "scopes": []string{"read_repository"}, "expires_at": "2021-13-01"})
		mustStatus(t, r, http.StatusBadRequest, "create with 2021-13-01")
	})
}

// jwtAuth asks /jwt/auth for pull on the project's repository with basic credentials.
func jwtAuth(t *testing.T, ts *testenv.TestServer, fullPath, user, secret string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/jwt/auth?"+url.Values{"service": {"container_registry"},
		"scope": {"repository:" + fullPath + ":pull"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, secret)
	return send(t, req)
}

func send(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestDeployTokenUsernamesShared (item 3): as in GitLab, one custom username may name tokens on
// many projects and groups. Each secret finds its own token, on every surface that takes a
// username (Git, /jwt/auth, package basic auth, NuGet's own-username rule), and the presented
// username must still be that token's. A user's username stays refused
// (TestDeployTokenUsernamesNeverNameAUser).
func TestDeployTokenUsernamesShared(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top, sibling := f.Projects["top"], f.Projects["sibling"]
	scopes := []string{"read_repository", "read_registry", "read_package_registry"}
	onTop := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), scopes, map[string]any{"username": "deployer"})
	onSibling := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", sibling.ID), scopes, map[string]any{"username": "deployer"})
	onGroup := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.OtherGroupID), scopes, map[string]any{"username": "deployer"})
	for _, tok := range []testenv.DeployToken{onTop, onSibling, onGroup} {
		if tok.Username != "deployer" {
			t.Fatalf("token %d username %q, want deployer", tok.ID, tok.Username)
		}
	}
	pull := func(t *testing.T, path, user, secret string) bool {
		t.Helper()
		r := jwtAuth(t, ts, path, user, secret)
		if r.status != http.StatusOK {
			return false
		}
		var body struct {
			Token string `json:"token"`
		}
		r.json(t, &body)
		return strings.Contains(decodeClaims(t, body.Token), `"actions":["pull"]`)
	}
	pkgGet := func(t *testing.T, projectID int64, user, secret string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v4/projects/%d/packages/nuget/query?q=acme", ts.URL, projectID), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, secret)
		return send(t, req).status
	}
	cases := []struct {
		name     string
		tok      testenv.DeployToken
		reach    testenv.Project
		notReach testenv.Project
	}{
		{"project top", onTop, top, sibling},
		{"project sibling", onSibling, sibling, top},
		{"group other", onGroup, sibling, top},
	}
	for _, c := range cases {
		t.Run("ok/"+c.name+" reaches its own project only", func(t *testing.T) {
			if !pull(t, c.reach.FullPath, "deployer", c.tok.Token) {
				t.Fatalf("/jwt/auth: no pull on %s", c.reach.FullPath)
			}
			if pull(t, c.notReach.FullPath, "deployer", c.tok.Token) {
				t.Fatalf("/jwt/auth: pull on %s, which the token does not reach", c.notReach.FullPath)
			}
			if st := ts.InfoRefs(t, c.reach.FullPath, "deployer", c.tok.Token).Status; st != http.StatusOK {
				t.Fatalf("git info/refs on %s: %d", c.reach.FullPath, st)
			}
			if st := ts.InfoRefs(t, c.notReach.FullPath, "deployer", c.tok.Token).Status; st == http.StatusOK {
				t.Fatalf("git info/refs on %s, which the token does not reach: 200", c.notReach.FullPath)
			}
			if st := pkgGet(t, c.reach.ID, "deployer", c.tok.Token); st != http.StatusOK {
				t.Fatalf("NuGet search of %s with the token's own username: %d", c.reach.FullPath, st)
			}
		})
		t.Run("fail/"+c.name+" under another username", func(t *testing.T) {
			if pull(t, c.reach.FullPath, "someone-else", c.tok.Token) {
				t.Fatal("/jwt/auth accepted the secret under another username")
			}
			if st := ts.InfoRefs(t, c.reach.FullPath, "someone-else", c.tok.Token).Status; st != http.StatusUnauthorized {
				t.Fatalf("git under another username: %d, want 401", st)
			}
			if st := pkgGet(t, c.reach.ID, "someone-else", c.tok.Token); st != http.StatusUnauthorized {
				t.Fatalf("NuGet under another username: %d, want 401", st)
			}
		})
	}
	t.Run("ok/revoking one leaves the others", func(t *testing.T) {
		ts.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, onTop.ID), nil, nil)
		if pull(t, top.FullPath, "deployer", onTop.Token) {
			t.Fatal("a deleted token still pulls")
		}
		if !pull(t, sibling.FullPath, "deployer", onSibling.Token) || !pull(t, sibling.FullPath, "deployer", onGroup.Token) {
			t.Fatal("deleting one deployer token ended another")
		}
	})
}

// decodeClaims returns the JSON payload of a JWT.
func decodeClaims(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// gitlabScopeOrder is GitLab's order of the deploy-token scopes (item 5).
var gitlabScopeOrder = []string{"read_repository", "read_registry", "write_registry", "read_package_registry",
	"write_package_registry", "read_virtual_registry", "write_virtual_registry"}

// TestDeployTokenScopesInGitLabOrder (item 5): however a client lists them, the scopes come back
// in GitLab's order from create, get, the project list and the instance list.
func TestDeployTokenScopesInGitLabOrder(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	base := fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID)
	reversed := slices.Clone(gitlabScopeOrder)
	slices.Reverse(reversed)
	var created deployTokenView
	ts.MustAPI(t, http.StatusCreated, "POST", base, map[string]any{"name": "all", "scopes": reversed}, &created)
	var got deployTokenView
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("%s/%d", base, created.ID), nil, &got)
	var list, all []deployTokenView
	ts.MustAPI(t, http.StatusOK, "GET", base, nil, &list)
	ts.MustAPI(t, http.StatusOK, "GET", "/deploy_tokens", nil, &all)
	if len(list) != 1 || len(all) != 1 {
		t.Fatalf("lists %d and %d tokens, want 1", len(list), len(all))
	}
	for what, scopes := range map[string][]string{"create": created.Scopes, "get": got.Scopes, "list": list[0].Scopes, "instance list": all[0].Scopes} {
		if !slices.Equal(scopes, gitlabScopeOrder) {
			t.Errorf("%s: scopes %v, want GitLab's order %v", what, scopes, gitlabScopeOrder)
		}
	}
}

// TestPrivateTokenQueryParameter (item 7): ?private_token= authenticates like the PRIVATE-TOKEN
// header; a wrong one is a 401 (it counts in the one ban: TestEverySurfaceSharesTheBan in
// internal/server); the secret is never logged, nor echoed into a pagination Link, nor taken
// for a parameter of the endpoint.
func TestPrivateTokenQueryParameter(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	q := "?private_token=" + url.QueryEscape(ts.RootToken)
	t.Run("ok/the user", func(t *testing.T) {
		r := do(t, ts, call{method: "GET", path: "/user" + q})
		mustStatus(t, r, http.StatusOK, "GET /user?private_token=")
		var u struct {
			Username string `json:"username"`
		}
		r.json(t, &u)
		if u.Username != "root" {
			t.Fatalf("user %q, want root", u.Username)
		}
	})
	t.Run("ok/a write, with a paginated list", func(t *testing.T) {
		base := fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID)
		for i := range 3 {
			r := do(t, ts, call{method: "POST", path: base + q, ctype: "application/json",
				body: fmt.Sprintf(`{"name":"q%d","scopes":["read_repository"]}`, i)})
			mustStatus(t, r, http.StatusCreated, "POST with ?private_token=")
		}
		r := do(t, ts, call{method: "GET", path: base + q + "&per_page=2"})
		mustStatus(t, r, http.StatusOK, "list with ?private_token=")
		link := r.header.Get("Link")
		if !strings.Contains(link, `rel="next"`) || strings.Contains(link, ts.RootToken) || strings.Contains(link, "private_token") {
			t.Fatalf("Link %q: want a next page without the secret", link)
		}
	})
	t.Run("fail/a wrong token", func(t *testing.T) {
		r := do(t, ts, call{method: "GET", path: "/user?private_token=glpat-wrong-wrong-wrong-wrong"})
		mustStatus(t, r, http.StatusUnauthorized, "GET /user with a wrong ?private_token=")
	})
	t.Run("fail/a deploy token", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", f.Projects["top"].ID), []string{"read_repository"}, nil)
		r := do(t, ts, call{method: "GET", path: "/user?private_token=" + url.QueryEscape(tok.Token)})
		mustStatus(t, r, http.StatusUnauthorized, "GET /user with a deploy token in ?private_token=")
	})
	t.Run("ok/never logged", func(t *testing.T) {
		logs := ts.Logs()
		if !strings.Contains(logs, `"/api/v4/user"`) && !strings.Contains(logs, "path=/api/v4/user") {
			t.Fatalf("the access log has no request to /api/v4/user; cannot check it:\n%s", logs)
		}
		if strings.Contains(logs, ts.RootToken) || strings.Contains(logs, "glpat-wrong") || strings.Contains(logs, "private_token") {
			t.Fatal("the log holds the query's token")
		}
	})
}

// TestWrongMethod (item 9): a wrong method on an existing path is GitLab's (Grape's) 405
// {"error":"405 Not Allowed"} with an Allow header, before anything else is checked; an unknown
// path stays 404.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	cases := []struct {
		method, path string
		allow        []string
	}{
		{"PATCH", fmt.Sprintf("/projects/%d/deploy_tokens", top.ID), []string{"GET", "POST"}},
		{"PUT", fmt.Sprintf("/projects/%d/deploy_tokens/", top.ID), []string{"GET", "POST"}},
		{"POST", fmt.Sprintf("/projects/%d/deploy_tokens/1", top.ID), []string{"GET", "DELETE"}},
		{"DELETE", "/version", []string{"GET"}},
		{"PUT", "/deploy_tokens", []string{"GET"}},
		{"GET", fmt.Sprintf("/groups/%d/deploy_tokens/1/rotate", f.GroupID), []string{"POST"}},
	}
	for _, c := range cases {
		t.Run("fail/"+c.method+" "+c.path, func(t *testing.T) {
			for _, who := range []map[string]string{{"PRIVATE-TOKEN": ts.RootToken}, nil} {
				r := do(t, ts, call{method: c.method, path: c.path, headers: who})
				mustStatus(t, r, http.StatusMethodNotAllowed, c.method+" "+c.path)
				var body map[string]string
				r.json(t, &body)
				if len(body) != 1 || body["error"] != "405 Not Allowed" {
					t.Fatalf("body %s, want {\"error\":\"405 Not Allowed\"}", r.body)
				}
				allow := strings.Split(r.header.Get("Allow"), ", ")
				for _, m := range c.allow {
					if !slices.Contains(allow, m) {
						t.Fatalf("Allow %q lacks %s", r.header.Get("Allow"), m)
					}
				}
				if slices.Contains(allow, c.method) {
					t.Fatalf("Allow %q names the refused method", r.header.Get("Allow"))
				}
			}
		})
	}
	t.Run("ok/OPTIONS lists the methods", func(t *testing.T) {
		r := do(t, ts, call{method: "OPTIONS", path: fmt.Sprintf("/projects/%d/deploy_tokens", top.ID)})
		mustStatus(t, r, http.StatusNoContent, "OPTIONS")
		if allow := strings.Split(r.header.Get("Allow"), ", "); !slices.Contains(allow, "GET") || !slices.Contains(allow, "POST") {
			t.Fatalf("Allow %q", r.header.Get("Allow"))
		}
	})
	t.Run("fail/unknown path is 404", func(t *testing.T) {
		for _, m := range []string{"GET", "POST", "PATCH", "OPTIONS"} {
			r := do(t, ts, call{method: m, path: "/nothing/here", headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
			mustStatus(t, r, http.StatusNotFound, m+" /nothing/here")
		}
	})
}

// TestDeployTokenDocExamples runs every example of GitLab's doc/api/deploy_tokens.md as written,
// with only the host, the ids and the token changed, and checks the answer has the documented
// status and every documented field with the documented value or type.
func TestDeployTokenDocExamples(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	root := map[string]string{"PRIVATE-TOKEN": ts.RootToken}
	jsonHeaders := map[string]string{"PRIVATE-TOKEN": ts.RootToken, "Content-Type": "application/json"}
	const docBody = `{"name": "My deploy token", "expires_at": "2021-01-01", "username": "custom-user", "scopes": ["read_repository"]}`
	var projectTok, groupTok deployTokenView
	created := func(t *testing.T, r result, out *deployTokenView) {
		t.Helper()
		mustStatus(t, r, http.StatusCreated, "create")
		r.json(t, out)
		if out.Name != "My deploy token" || out.Username != "custom-user" || out.ExpiresAt == nil ||
			*out.ExpiresAt != "2021-01-01T00:00:00.000Z" || out.Token == nil || !slices.Equal(out.Scopes, []string{"read_repository"}) {
			t.Fatalf("created %s", r.body)
		}
	}
	documented := []string{"id", "name", "username", "expires_at", "revoked", "expired", "scopes"}
	hasDocumented := func(t *testing.T, raw []byte) {
		t.Helper()
		for _, k := range documented {
			if !hasKey(t, raw, k) {
				t.Fatalf("answer %s lacks %q", raw, k)
			}
		}
	}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"POST /projects/5/deploy_tokens/", func(t *testing.T) {
			created(t, do(t, ts, call{method: "POST", path: fmt.Sprintf("/projects/%d/deploy_tokens/", top.ID), headers: jsonHeaders, body: docBody}), &projectTok)
		}},
		{"POST /groups/5/deploy_tokens/", func(t *testing.T) {
			created(t, do(t, ts, call{method: "POST", path: fmt.Sprintf("/groups/%d/deploy_tokens/", f.GroupID), headers: jsonHeaders, body: docBody}), &groupTok)
		}},
		{"GET /deploy_tokens", func(t *testing.T) {
			r := do(t, ts, call{method: "GET", path: "/deploy_tokens", headers: root})
			mustStatus(t, r, 200, "list all")
			var list []map[string]any
			r.json(t, &list)
			if len(list) != 2 {
				t.Fatalf("%d tokens", len(list))
			}
			for _, x := range list {
				if _, ok := x["token"]; ok {
					t.Fatal("a list shows a secret")
				}
			}
		}},
		{"GET /projects/1/deploy_tokens", func(t *testing.T) {
			r := do(t, ts, call{method: "GET", path: fmt.Sprintf("/projects/%d/deploy_tokens", top.ID), headers: root})
			mustStatus(t, r, 200, "project list")
			var list []deployTokenView
			r.json(t, &list)
			if len(list) != 1 || list[0].ID != projectTok.ID || !list[0].Expired || list[0].Revoked {
				t.Fatalf("project list %s", r.body)
			}
		}},
		{"GET /projects/1/deploy_tokens/1", func(t *testing.T) {
			r := do(t, ts, call{method: "GET", path: fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, projectTok.ID), headers: root})
			mustStatus(t, r, 200, "project get")
			hasDocumented(t, r.body)
		}},
		{"GET /groups/1/deploy_tokens", func(t *testing.T) {
			r := do(t, ts, call{method: "GET", path: fmt.Sprintf("/groups/%d/deploy_tokens", f.GroupID), headers: root})
			mustStatus(t, r, 200, "group list")
			var list []deployTokenView
			r.json(t, &list)
			if len(list) != 1 || list[0].ID != groupTok.ID {
				t.Fatalf("group list %s", r.body)
			}
		}},
		{"GET /groups/1/deploy_tokens/1", func(t *testing.T) {
			r := do(t, ts, call{method: "GET", path: fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.GroupID, groupTok.ID), headers: root})
			mustStatus(t, r, 200, "group get")
			hasDocumented(t, r.body)
		}},
		{"DELETE /projects/5/deploy_tokens/13", func(t *testing.T) {
			p := fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, projectTok.ID)
			mustStatus(t, do(t, ts, call{method: "DELETE", path: p, headers: root}), http.StatusNoContent, "delete")
			mustStatus(t, do(t, ts, call{method: "GET", path: p, headers: root}), http.StatusNotFound, "get after delete")
		}},
		{"DELETE /groups/5/deploy_tokens/13", func(t *testing.T) {
			p := fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.GroupID, groupTok.ID)
			mustStatus(t, do(t, ts, call{method: "DELETE", path: p, headers: root}), http.StatusNoContent, "delete")
			mustStatus(t, do(t, ts, call{method: "GET", path: p, headers: root}), http.StatusNotFound, "get after delete")
		}},
	}
	// In order: the lists and gets read what the creates made, the deletes come last.
	for _, s := range steps {
		if !t.Run("ok/"+s.name, s.run) {
			t.FailNow()
		}
	}
}
