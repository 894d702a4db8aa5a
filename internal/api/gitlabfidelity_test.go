package api_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
