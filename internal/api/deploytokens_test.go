package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// gitlabTime is the format GitLab uses for deploy-token expiry instants.
var gitlabTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$`)

// futureDate returns the date days after the server clock's today, as YYYY-MM-DD.
func futureDate(ts *testenv.TestServer, days int) string {
	return ts.Clock.Now().UTC().AddDate(0, 0, days).Format("2006-01-02")
}

// The fields of docs/design.md §6.8: create answers all of them with the secret; list and get
// without it.
func TestDeployTokenCreateListGet(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	expires := futureDate(ts, 30)

	owners := []struct {
		name, path string
	}{
		{"project by id", fmt.Sprintf("/projects/%d", child.ID)},
		{"project by path", "/projects/" + url.PathEscape(child.FullPath)},
		{"group by id", fmt.Sprintf("/groups/%d", f.SubID)},
		{"group by path", "/groups/" + url.PathEscape("group/sub")},
	}
	for _, o := range owners {
		t.Run("ok/"+o.name, func(t *testing.T) {
			r := asPAT(t, ts, ts.RootToken, "POST", o.path+"/deploy_tokens", map[string]any{
				"name": "deployer " + o.name, "scopes": []string{"read_registry", "read_repository"}, "expires_at": expires})
			mustStatus(t, r, http.StatusCreated, "create")
			for _, k := range []string{"id", "name", "username", "expires_at", "token", "scopes", "revoked", "expired"} {
				if !hasKey(t, r.body, k) {
					t.Errorf("create answer lacks %q: %s", k, r.body)
				}
			}
			var created deployTokenView
			r.json(t, &created)
			if created.Token == nil || !strings.HasPrefix(*created.Token, "gldt-") || len(*created.Token) < len("gldt-")+27 {
				t.Fatalf("create answer has no gldt- secret of at least 160 bits")
			}
			secret := *created.Token
			if want := fmt.Sprintf("gitlab+deploy-token-%d", created.ID); created.Username != want {
				t.Errorf("username = %q, want the default %q", created.Username, want)
			}
			if created.Name != "deployer "+o.name {
				t.Errorf("name = %q", created.Name)
			}
			// Scopes come back in GitLab's order, whatever order they were sent in.
			if !slices.Equal(created.Scopes, []string{"read_repository", "read_registry"}) {
				t.Errorf("scopes = %v", created.Scopes)
			}
			if created.ExpiresAt == nil || *created.ExpiresAt != expires+"T00:00:00.000Z" || !gitlabTime.MatchString(*created.ExpiresAt) {
				t.Errorf("expires_at = %v, want %sT00:00:00.000Z", created.ExpiresAt, expires)
			}
			if created.Revoked || created.Expired {
				t.Errorf("new token revoked=%v expired=%v", created.Revoked, created.Expired)
			}

			lr := asPAT(t, ts, ts.RootToken, "GET", o.path+"/deploy_tokens", nil)
			mustStatus(t, lr, http.StatusOK, "list")
			if strings.Contains(string(lr.body), secret) || strings.Contains(string(lr.body), `"token"`) {
				t.Fatalf("list shows the secret or a token field: %s", lr.body)
			}
			var list []deployTokenView
			lr.json(t, &list)
			if !containsID(list, created.ID) {
				t.Fatalf("list %v lacks token %d", ids(list), created.ID)
			}

			gr := asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/deploy_tokens/%d", o.path, created.ID), nil)
			mustStatus(t, gr, http.StatusOK, "get")
			if strings.Contains(string(gr.body), secret) || hasKey(t, gr.body, "token") {
				t.Fatalf("get shows the secret or a token field: %s", gr.body)
			}
			for _, k := range []string{"id", "name", "username", "expires_at", "scopes", "revoked", "expired"} {
				if !hasKey(t, gr.body, k) {
					t.Errorf("get answer lacks %q: %s", k, gr.body)
				}
			}
			var got deployTokenView
			gr.json(t, &got)
			created.Token = nil
			if !reflect.DeepEqual(got, created) {
				t.Errorf("get = %+v, want %+v", got, created)
			}
		})
	}

	t.Run("ok/custom username", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_package_registry"},
			map[string]any{"username": "ci.bot-1+pkg_reader"})
		if tok.Username != "ci.bot-1+pkg_reader" {
			t.Fatalf("username = %q", tok.Username)
		}
		var got deployTokenView
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", child.ID, tok.ID), nil, &got)
		if got.Username != "ci.bot-1+pkg_reader" {
			t.Fatalf("get username = %q", got.Username)
		}
	})

	t.Run("ok/no expiry is null", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "POST", fmt.Sprintf("/projects/%d/deploy_tokens", child.ID),
			map[string]any{"name": "forever", "scopes": []string{"read_repository"}})
		mustStatus(t, r, http.StatusCreated, "create")
		var m map[string]json.RawMessage
		r.json(t, &m)
		if string(m["expires_at"]) != "null" {
			t.Fatalf("expires_at = %s, want null", m["expires_at"])
		}
	})

	t.Run("ok/an expiry with a time keeps only its UTC date", func(t *testing.T) {
		day := ts.Clock.Now().UTC().AddDate(0, 2, 0)
		in := time.Date(day.Year(), day.Month(), day.Day(), 13, 45, 0, 0, time.UTC).Format(time.RFC3339)
		var got deployTokenView
		ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/projects/%d/deploy_tokens", child.ID),
			map[string]any{"name": "timed", "scopes": []string{"read_repository"}, "expires_at": in}, &got)
		if want := day.Format("2006-01-02") + "T00:00:00.000Z"; got.ExpiresAt == nil || *got.ExpiresAt != want {
			t.Fatalf("expires_at = %v, want %s", got.ExpiresAt, want)
		}
	})

	t.Run("fail/unknown token id and a token of another owner are 404", func(t *testing.T) {
		other := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", f.Projects["top"].ID), []string{"read_repository"}, nil)
		for _, p := range []string{
			fmt.Sprintf("/projects/%d/deploy_tokens/999999", child.ID),
			fmt.Sprintf("/projects/%d/deploy_tokens/%d", child.ID, other.ID),
			fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.GroupID, other.ID),
		} {
			r := asPAT(t, ts, ts.RootToken, "GET", p, nil)
			mustStatus(t, r, http.StatusNotFound, "GET "+p)
			if r.message(t) == "" {
				t.Errorf("GET %s: 404 without a message", p)
			}
		}
	})
	t.Run("fail/a token id that is not an integer is Grape's 400", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/not-a-number", child.ID), nil)
		mustStatus(t, r, http.StatusBadRequest, "GET …/deploy_tokens/not-a-number")
		if string(r.body) != `{"error":"token_id is invalid"}`+"\n" {
			t.Fatalf("body %q", r.body)
		}
	})
}

// Validation failures answer 400 with a message naming the field, create nothing, and leave a
// creation_failed audit event.
func TestDeployTokenValidation(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := fmt.Sprintf("/projects/%d/deploy_tokens", top.ID)
	ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, map[string]any{"username": "first-name"})
	// A date in the past and a custom username another token has are accepted, as in GitLab
	// (TestDeployTokenPastExpiry, TestDeployTokenUsernamesShared).

	cases := []struct {
		name  string
		body  string
		ctype string
		field string
	}{
		{"fail/unknown scope", `{"name":"x","scopes":["read_repository","sudo"]}`, "application/json", "scopes"},
		{"fail/api is not a deploy scope", `{"name":"x","scopes":["api"]}`, "application/json", "scopes"},
		{"fail/empty scopes", `{"name":"x","scopes":[]}`, "application/json", "scopes"},
		{"fail/missing scopes", `{"name":"x"}`, "application/json", "scopes"},
		{"fail/blank scope in a form", `name=x&scopes=`, "application/x-www-form-urlencoded", "scopes"},
		{"fail/missing name", `{"scopes":["read_repository"]}`, "application/json", "name"},
		{"fail/blank name", `{"name":"   ","scopes":["read_repository"]}`, "application/json", "name"},
		{"fail/expiry unparseable", `{"name":"x","scopes":["read_repository"],"expires_at":"next tuesday"}`, "application/json", "expires_at"},
		{"fail/expiry impossible date", `{"name":"x","scopes":["read_repository"],"expires_at":"2099-13-45"}`, "application/json", "expires_at"},
		{"fail/expiry unparseable in a form", `name=x&scopes[]=read_repository&expires_at=soon`, "application/x-www-form-urlencoded", "expires_at"},
		{"fail/username with a space", `{"name":"x","scopes":["read_repository"],"username":"bad name"}`, "application/json", "username"},
		{"fail/username taking the default prefix", `{"name":"x","scopes":["read_repository"],"username":"gitlab+deploy-token-9999"}`, "application/json", "username"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, call{method: "POST", path: base, body: c.body, ctype: c.ctype,
				headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
			mustStatus(t, r, http.StatusBadRequest, "create")
			// GitLab names the field as the parameter (Grape) or as the model attribute
			// ("Expires at", Rails' full message).
			msg := r.message(t)
			if !strings.Contains(msg, c.field) && !strings.Contains(strings.ToLower(msg), strings.ReplaceAll(c.field, "_", " ")) {
				t.Fatalf("message %q does not name %q", msg, c.field)
			}
			if strings.Contains(string(r.body), "gldt-") {
				t.Fatalf("a refused create returned a secret: %s", r.body)
			}
		})
	}

	t.Run("ok/nothing was created", func(t *testing.T) {
		var list []deployTokenView
		ts.MustAPI(t, http.StatusOK, "GET", base, nil, &list)
		if len(list) != 1 || list[0].Username != "first-name" {
			t.Fatalf("project tokens after refused creates = %+v, want only the first", list)
		}
	})

	t.Run("ok/each refusal was audited", func(t *testing.T) {
		events, err := ts.Server.Audit.List(context.Background(), "project", top.ID)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, e := range events {
			if e.Type == audit.DeployTokenCreationFailed {
				failed++
			}
		}
		if failed != len(cases) {
			t.Fatalf("%d %s events, want %d", failed, audit.DeployTokenCreationFailed, len(cases))
		}
	})

	t.Run("fail/unsupported body type", func(t *testing.T) {
		r := do(t, ts, call{method: "POST", path: base, body: "<token/>", ctype: "application/xml",
			headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
		mustStatus(t, r, http.StatusUnsupportedMediaType, "xml body")
	})

	t.Run("fail/malformed JSON", func(t *testing.T) {
		r := do(t, ts, call{method: "POST", path: base, body: `{"name":`, ctype: "application/json",
			headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
		mustStatus(t, r, http.StatusBadRequest, "bad json")
	})
}

// GitLab's API takes form-encoded bodies (scopes[]=a&scopes[]=b) as well as JSON, and clients
// such as python-gitlab send "" for username and expires_at to mean the default and never.
func TestDeployTokenBodies(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	base := fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["child"].ID)
	expires := futureDate(ts, 10)

	cases := []struct {
		name       string
		body       string
		ctype      string
		wantScopes []string
		wantUser   string // "" means the default
		wantExpiry string // "" means null
	}{
		{"ok/form with scopes[]", "name=form&scopes%5B%5D=read_repository&scopes%5B%5D=read_package_registry",
			"application/x-www-form-urlencoded", []string{"read_repository", "read_package_registry"}, "", ""},
		{"ok/form with unescaped scopes[] and charset", "name=form2&scopes[]=write_registry&scopes[]=read_registry&expires_at=" + expires,
			"application/x-www-form-urlencoded; charset=utf-8", []string{"read_registry", "write_registry"}, "", expires},
		{"ok/form with empty username and expires_at", "name=form3&scopes[]=read_repository&username=&expires_at=",
			"application/x-www-form-urlencoded", []string{"read_repository"}, "", ""},
		{"ok/form with a single scopes value", "name=form4&scopes=read_repository&username=form-user",
			"application/x-www-form-urlencoded", []string{"read_repository"}, "form-user", ""},
		{"ok/form with comma-separated scopes", "name=form5&scopes=read_repository,read_registry",
			"application/x-www-form-urlencoded", []string{"read_repository", "read_registry"}, "", ""},
		{"ok/json with empty username and expires_at", `{"name":"json","scopes":["read_registry"],"username":"","expires_at":""}`,
			"application/json", []string{"read_registry"}, "", ""},
		{"ok/json with null username and expires_at", `{"name":"json2","scopes":["read_registry"],"username":null,"expires_at":null}`,
			"application/json", []string{"read_registry"}, "", ""},
		{"ok/json with comma-separated scopes string", `{"name":"json3","scopes":"read_repository,write_package_registry"}`,
			"application/json", []string{"read_repository", "write_package_registry"}, "", ""},
		{"ok/json duplicate scopes collapse", `{"name":"json4","scopes":["read_registry","read_registry"],"expires_at":"` + expires + `T08:00:00Z"}`,
			"application/json", []string{"read_registry"}, "", expires},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, call{method: "POST", path: base, body: c.body, ctype: c.ctype,
				headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
			mustStatus(t, r, http.StatusCreated, "create")
			var got deployTokenView
			r.json(t, &got)
			if got.Token == nil || !strings.HasPrefix(*got.Token, "gldt-") {
				t.Fatalf("no secret in the create answer")
			}
			if !slices.Equal(got.Scopes, c.wantScopes) {
				t.Errorf("scopes = %v, want %v", got.Scopes, c.wantScopes)
			}
			wantUser := c.wantUser
			if wantUser == "" {
				wantUser = fmt.Sprintf("gitlab+deploy-token-%d", got.ID)
			}
			if got.Username != wantUser {
				t.Errorf("username = %q, want %q", got.Username, wantUser)
			}
			switch {
			case c.wantExpiry == "" && got.ExpiresAt != nil:
				t.Errorf("expires_at = %q, want null", *got.ExpiresAt)
			case c.wantExpiry != "" && (got.ExpiresAt == nil || *got.ExpiresAt != c.wantExpiry+"T00:00:00.000Z"):
				t.Errorf("expires_at = %v, want %sT00:00:00.000Z", got.ExpiresAt, c.wantExpiry)
			}
		})
	}
}

// ?active=true hides revoked tokens (the web UI's Revoke, here ts.Server.Deploy.Revoke) and
// expired ones (the clock moved past expires_at); without it both are listed with their flags.
func TestDeployTokenActiveFilter(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	ctx := context.Background()
	for _, owner := range []string{fmt.Sprintf("projects/%d", f.Projects["top"].ID), fmt.Sprintf("groups/%d", f.GroupID)} {
		active := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		revoked := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		expiring := ts.CreateDeployToken(t, owner, []string{"read_repository"}, map[string]any{"expires_at": futureDate(ts, 1)})
		if err := ts.Server.Deploy.Revoke(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		list := func(t *testing.T, path string) map[int64]deployTokenView {
			t.Helper()
			var l []deployTokenView
			ts.MustAPI(t, http.StatusOK, "GET", path, nil, &l)
			out := map[int64]deployTokenView{}
			for _, x := range l {
				out[x.ID] = x
			}
			return out
		}
		wantIDs := func(t *testing.T, got map[int64]deployTokenView, want ...int64) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("listed %d tokens, want %v", len(got), want)
			}
			for _, id := range want {
				if _, ok := got[id]; !ok {
					t.Fatalf("token %d missing", id)
				}
			}
		}
		path := "/" + owner + "/deploy_tokens"

		t.Run("ok/before expiry/"+owner, func(t *testing.T) {
			all := list(t, path)
			wantIDs(t, all, active.ID, revoked.ID, expiring.ID)
			if !all[revoked.ID].Revoked || all[active.ID].Revoked || all[expiring.ID].Expired {
				t.Fatalf("flags wrong: %+v", all)
			}
			wantIDs(t, list(t, path+"?active=true"), active.ID, expiring.ID)
			wantIDs(t, list(t, path+"?active=false"), active.ID, revoked.ID, expiring.ID)
			// python-gitlab sends Python's True; GitLab's API reads it as true.
			wantIDs(t, list(t, path+"?active=True"), active.ID, expiring.ID)
		})
		// Revoked and expired tokens are still readable one by one.
		var got deployTokenView
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("%s/%d", path, revoked.ID), nil, &got)
		if !got.Revoked {
			t.Fatalf("GET of a revoked token says revoked=false")
		}
	}

	ts.Clock.Advance(48 * time.Hour)
	for _, owner := range []string{fmt.Sprintf("projects/%d", f.Projects["top"].ID), fmt.Sprintf("groups/%d", f.GroupID)} {
		t.Run("ok/after expiry/"+owner, func(t *testing.T) {
			var all, act []deployTokenView
			ts.MustAPI(t, http.StatusOK, "GET", "/"+owner+"/deploy_tokens", nil, &all)
			ts.MustAPI(t, http.StatusOK, "GET", "/"+owner+"/deploy_tokens?active=true", nil, &act)
			if len(all) != 3 || len(act) != 1 {
				t.Fatalf("all=%v active=%v, want 3 and 1", ids(all), ids(act))
			}
			expired := 0
			for _, x := range all {
				if x.Expired {
					expired++
					if x.Revoked || containsID(act, x.ID) {
						t.Errorf("expired token %d is revoked or listed as active", x.ID)
					}
				}
			}
			if expired != 1 {
				t.Fatalf("%d expired tokens, want 1: %+v", expired, all)
			}
		})
	}

	t.Run("ok/instance list", func(t *testing.T) {
		var all, act []deployTokenView
		ts.MustAPI(t, http.StatusOK, "GET", "/deploy_tokens", nil, &all)
		ts.MustAPI(t, http.StatusOK, "GET", "/deploy_tokens?active=true", nil, &act)
		if len(all) != 6 || len(act) != 2 {
			t.Fatalf("instance: all=%v active=%v, want 6 and 2", ids(all), ids(act))
		}
		for _, x := range act {
			if x.Revoked || x.Expired {
				t.Fatalf("active list has %+v", x)
			}
		}
	})
}

// DELETE answers 204, destroys the token (GET then 404) and stops it at once.
func TestDeployTokenDelete(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	grandchild := f.Projects["grandchild"]
	cases := []struct {
		name, owner string
	}{
		{"ok/project token", fmt.Sprintf("projects/%d", grandchild.ID)},
		{"ok/project token by path", "projects/" + url.PathEscape(grandchild.FullPath)},
		{"ok/group token", fmt.Sprintf("groups/%d", f.GroupID)},
		{"ok/subgroup token by path", "groups/" + url.PathEscape("group/sub")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := ts.CreateDeployToken(t, c.owner, []string{"read_repository"}, nil)
			if st := ts.InfoRefs(t, grandchild.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
				t.Fatalf("before delete: git info/refs = %d, want 200", st)
			}
			path := fmt.Sprintf("/%s/deploy_tokens/%d", c.owner, tok.ID)
			r := asPAT(t, ts, ts.RootToken, "DELETE", path, nil)
			mustStatus(t, r, http.StatusNoContent, "delete")
			if len(r.body) != 0 {
				t.Errorf("204 with a body: %q", r.body)
			}
			mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", path, nil), http.StatusNotFound, "get after delete")
			mustStatus(t, asPAT(t, ts, ts.RootToken, "DELETE", path, nil), http.StatusNotFound, "second delete")
			var list []deployTokenView
			ts.MustAPI(t, http.StatusOK, "GET", "/"+c.owner+"/deploy_tokens", nil, &list)
			if containsID(list, tok.ID) {
				t.Fatalf("deleted token still listed")
			}
			if st := ts.InfoRefs(t, grandchild.FullPath, tok.Username, tok.Token).Status; st != http.StatusUnauthorized {
				t.Fatalf("after delete: git info/refs = %d, want 401", st)
			}
			if _, err := ts.Server.Deploy.Authenticate(context.Background(), tok.Username, token.NewSecret(tok.Token), true); !errors.Is(err, errkind.ErrNotFound) {
				t.Fatalf("deleted token still authenticates: %v", err)
			}
		})
	}

	t.Run("fail/delete through another owner is 404 and leaves the token working", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", grandchild.ID), []string{"read_repository"}, nil)
		for _, p := range []string{
			fmt.Sprintf("/projects/%d/deploy_tokens/%d", f.Projects["top"].ID, tok.ID),
			fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.SubSubID, tok.ID),
		} {
			mustStatus(t, asPAT(t, ts, ts.RootToken, "DELETE", p, nil), http.StatusNotFound, "DELETE "+p)
		}
		if st := ts.InfoRefs(t, grandchild.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
			t.Fatalf("git info/refs = %d after refused deletes, want 200", st)
		}
	})
}

// Created, creation_failed and destroyed events carry the actor, the IP and the target, and no
// field anywhere holds a secret.
func TestDeployTokenAudit(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	ctx := context.Background()
	maint := newUser(t, ts, "maint")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), maint, 50)

	cases := []struct {
		name, entity               string
		entityID                   int64
		created, failed, destroyed string
	}{
		{"ok/project", "project", f.Projects["child"].ID, audit.DeployTokenCreated, audit.DeployTokenCreationFailed, audit.DeployTokenDestroyed},
		{"ok/group", "group", f.SubID, audit.GroupDeployTokenCreated, audit.GroupDeployTokenFailed, audit.GroupDeployTokenDestroyed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := fmt.Sprintf("/%ss/%d/deploy_tokens", c.entity, c.entityID)
			r := asPAT(t, ts, maint.PAT, "POST", base, map[string]any{"name": "audited", "scopes": []string{"read_repository"}})
			mustStatus(t, r, http.StatusCreated, "create")
			var tok deployTokenView
			r.json(t, &tok)
			secret := *tok.Token
			mustStatus(t, asPAT(t, ts, maint.PAT, "POST", base, map[string]any{"name": "bad", "scopes": []string{"nope"}}),
				http.StatusBadRequest, "failed create")
			mustStatus(t, asPAT(t, ts, maint.PAT, "DELETE", fmt.Sprintf("%s/%d", base, tok.ID), nil), http.StatusNoContent, "delete")

			events, err := ts.Server.Audit.List(ctx, c.entity, c.entityID)
			if err != nil {
				t.Fatal(err)
			}
			byType := map[string]*audit.Event{}
			for _, e := range events {
				if _, dup := byType[e.Type]; dup {
					t.Errorf("two %s events", e.Type)
				}
				byType[e.Type] = e
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secret) || strings.Contains(string(b), "gldt-") ||
					strings.Contains(string(b), maint.PAT) || strings.Contains(string(b), ts.RootToken) {
					t.Errorf("audit event holds a secret: %s", b)
				}
			}
			for _, typ := range []string{c.created, c.failed, c.destroyed} {
				e := byType[typ]
				if e == nil {
					t.Fatalf("no %s event among %d", typ, len(events))
				}
				if e.ActorKind != "user" || e.ActorID != maint.ID || e.ActorName != "maint" {
					t.Errorf("%s actor = %s %d %q", typ, e.ActorKind, e.ActorID, e.ActorName)
				}
				if e.IP != "127.0.0.1" {
					t.Errorf("%s ip = %q", typ, e.IP)
				}
				if e.EntityType != c.entity || e.EntityID != c.entityID || e.TargetType != "deploy_token" {
					t.Errorf("%s entity/target = %s %d %s", typ, e.EntityType, e.EntityID, e.TargetType)
				}
				if e.CreatedAt.IsZero() {
					t.Errorf("%s has no time", typ)
				}
			}
			if e := byType[c.created]; e.TargetID != tok.ID || e.TargetName != "audited" {
				t.Errorf("created target = %d %q", e.TargetID, e.TargetName)
			}
			if e := byType[c.destroyed]; e.TargetID != tok.ID {
				t.Errorf("destroyed target = %d", e.TargetID)
			}
			if e := byType[c.failed]; !strings.Contains(e.Details, "scopes") || e.TargetName != "bad" {
				t.Errorf("failed event details=%q target=%q", e.Details, e.TargetName)
			}
			if strings.Contains(ts.Logs(), secret) {
				t.Errorf("the server logged a deploy-token secret")
			}
		})
	}
}
