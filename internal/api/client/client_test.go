package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api/client"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func mustNew(t *testing.T, base, pat string) *client.Client {
	t.Helper()
	c, err := client.New(base, pat)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, base, pat string
		ok              bool
	}{
		{"ok/plain", "http://127.0.0.1:8080", "glpat-x", true},
		{"ok/trailing slash and prefix", "https://example.com/gatehouse/", "glpat-x", true},
		{"fail/relative", "example.com", "glpat-x", false},
		{"fail/other scheme", "ftp://example.com", "glpat-x", false},
		{"fail/credentials in the URL", "https://user:hunter2@example.com", "glpat-x", false},
		{"fail/query", "https://example.com/?a=b", "glpat-x", false},
		{"fail/no token", "https://example.com", " ", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := client.New(c.base, c.pat)
			if (err == nil) != c.ok {
				t.Fatalf("New(%q) err = %v, want ok=%v", c.base, err, c.ok)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the URL's password: %v", err)
			}
			if c.ok && strings.HasSuffix(cl.BaseURL(), "/") {
				t.Fatalf("BaseURL %q keeps a trailing slash", cl.BaseURL())
			}
		})
	}
	t.Run("ok/client does not print its token", func(t *testing.T) {
		cl := mustNew(t, "http://127.0.0.1:1", "glpat-very-secret")
		for _, s := range []string{fmt.Sprint(cl), fmt.Sprintf("%v %+v %#v", cl, cl, cl)} {
			if strings.Contains(s, "glpat-very-secret") {
				t.Fatalf("client printed its token: %s", s)
			}
		}
	})
}

func TestSecretDoesNotPrint(t *testing.T) {
	t.Parallel()
	var tok client.DeployToken
	if err := json.Unmarshal([]byte(`{"id":7,"username":"u","token":"gldt-abcdef","expires_at":"2031-02-03T00:00:00.000Z"}`), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Token.Reveal() != "gldt-abcdef" || tok.Token.IsZero() {
		t.Fatalf("Reveal = %q", tok.Token.Reveal())
	}
	if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(time.Date(2031, 2, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("expires_at = %v", tok.ExpiresAt)
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("token", "secret", tok.Token, "tok", tok)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%s", tok.Token),
		fmt.Sprintf("%q", tok.Token), string(b), logs.String()} {
		if strings.Contains(s, "abcdef") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	var none client.DeployToken
	if err := json.Unmarshal([]byte(`{"id":1,"token":null}`), &none); err != nil || !none.Token.IsZero() {
		t.Fatalf("null token: %v %v", err, none.Token.IsZero())
	}
}

func TestClientAgainstServer(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	ctx := context.Background()
	c := mustNew(t, ts.URL+"/", ts.RootToken)
	child := f.Projects["child"]

	t.Run("ok/get project by id and path", func(t *testing.T) {
		for _, ref := range []string{fmt.Sprint(child.ID), child.FullPath, "/" + child.FullPath + "/"} {
			p, err := c.GetProject(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != child.ID || p.PathWithNamespace != "group/sub/child" || p.HTTPURLToRepo != ts.URL+"/group/sub/child.git" {
				t.Fatalf("GetProject(%q) = %+v", ref, p)
			}
		}
		g, err := c.GetGroup(ctx, "group/sub")
		if err != nil || g.ID != f.SubID || g.FullPath != "group/sub" || g.ParentID == nil || *g.ParentID != f.GroupID {
			t.Fatalf("GetGroup = %+v, %v", g, err)
		}
	})

	t.Run("ok/project token lifecycle", func(t *testing.T) {
		exp := ts.Clock.Now().UTC().AddDate(0, 1, 0).Format("2006-01-02")
		tok, err := c.CreateProjectDeployToken(ctx, child.FullPath, client.CreateDeployTokenOptions{Name: "cli",
			Scopes: []string{"read_registry", "read_repository"}, ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.Token.Reveal(), "gldt-") || tok.Username != fmt.Sprintf("gitlab+deploy-token-%d", tok.ID) ||
			!slices.Equal(tok.Scopes, []string{"read_repository", "read_registry"}) || tok.ExpiresAt == nil ||
			tok.ExpiresAt.Format("2006-01-02") != exp || tok.Revoked || tok.Expired {
			t.Fatalf("created %+v", tok)
		}
		got, err := c.GetProjectDeployToken(ctx, fmt.Sprint(child.ID), tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Token.IsZero() || got.Username != tok.Username || got.Name != "cli" {
			t.Fatalf("get = %+v", got)
		}
		list, err := c.ListProjectDeployTokens(ctx, child.FullPath, client.ListDeployTokensOptions{})
		if err != nil || len(list) != 1 || list[0].ID != tok.ID || !list[0].Token.IsZero() {
			t.Fatalf("list = %+v, %v", list, err)
		}
		if err := c.DeleteProjectDeployToken(ctx, child.FullPath, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetProjectDeployToken(ctx, child.FullPath, tok.ID)
		if !client.IsNotFound(err) {
			t.Fatalf("get after delete: %v, want 404", err)
		}
	})

	t.Run("ok/group tokens and the active filter", func(t *testing.T) {
		a, err := c.CreateGroupDeployToken(ctx, "group", client.CreateDeployTokenOptions{Name: "a", Scopes: []string{"read_repository"}, Username: "group-reader"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.CreateGroupDeployToken(ctx, fmt.Sprint(f.GroupID), client.CreateDeployTokenOptions{Name: "b", Scopes: []string{"read_repository"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Username != "group-reader" || a.ExpiresAt != nil {
			t.Fatalf("a = %+v", a)
		}
		if err := ts.Server.Deploy.Revoke(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		all, err := c.ListGroupDeployTokens(ctx, "group", client.ListDeployTokensOptions{})
		if err != nil || len(all) != 2 || !all[1].Revoked {
			t.Fatalf("all = %+v, %v", all, err)
		}
		act, err := c.ListGroupDeployTokens(ctx, "group", client.ListDeployTokensOptions{Active: true})
		if err != nil || len(act) != 1 || act[0].ID != a.ID {
			t.Fatalf("active = %+v, %v", act, err)
		}
		inst, err := c.ListAllDeployTokens(ctx, client.ListDeployTokensOptions{Active: true})
		if err != nil || len(inst) != 1 {
			t.Fatalf("instance active = %+v, %v", inst, err)
		}
		got, err := c.GetGroupDeployToken(ctx, "group", a.ID)
		if err != nil || got.ID != a.ID {
			t.Fatalf("group get = %+v, %v", got, err)
		}
		if err := c.DeleteGroupDeployToken(ctx, "group", a.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteGroupDeployToken(ctx, "group", a.ID); !client.IsNotFound(err) {
			t.Fatalf("second delete: %v", err)
		}
	})

	t.Run("ok/lists follow pagination", func(t *testing.T) {
		top := f.Projects["top"]
		for i := range 103 {
			ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, map[string]any{"name": fmt.Sprint("many-", i)})
		}
		list, err := c.ListProjectDeployTokens(ctx, top.FullPath, client.ListDeployTokensOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 103 || list[0].Name != "many-0" || list[102].Name != "many-102" {
			t.Fatalf("listed %d tokens", len(list))
		}
	})

	t.Run("fail/errors carry status and message, never the token", func(t *testing.T) {
		cases := []struct {
			name   string
			call   func(c *client.Client) error
			pat    string
			status int
			msg    string
		}{
			{"validation", func(c *client.Client) error {
				_, err := c.CreateProjectDeployToken(ctx, child.FullPath, client.CreateDeployTokenOptions{Name: "x", Scopes: []string{"read_everything"}})
				return err
			}, ts.RootToken, 400, "scopes"},
			{"empty scopes", func(c *client.Client) error {
				_, err := c.CreateProjectDeployToken(ctx, child.FullPath, client.CreateDeployTokenOptions{Name: "x"})
				return err
			}, ts.RootToken, 400, "Scopes can't be blank"},
			{"missing project", func(c *client.Client) error {
				_, err := c.GetProject(ctx, "group/nope")
				return err
			}, ts.RootToken, 404, "Project Not Found"},
			{"unknown token", func(c *client.Client) error {
				return c.DeleteProjectDeployToken(ctx, child.FullPath, 999999)
			}, ts.RootToken, 404, "Not Found"},
			{"bad personal token", func(c *client.Client) error {
				_, err := c.GetProject(ctx, child.FullPath)
				return err
			}, "glpat-wrong-and-secret-000000", 401, "401 Unauthorized"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call(mustNew(t, ts.URL, tc.pat))
				var e *client.Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want *client.Error", err)
				}
				if e.StatusCode != tc.status || client.StatusCode(err) != tc.status || !strings.Contains(e.Message, tc.msg) {
					t.Fatalf("err = %+v, want %d containing %q", e, tc.status, tc.msg)
				}
				if strings.Contains(err.Error(), tc.pat) || strings.Contains(fmt.Sprintf("%+v", e), tc.pat) {
					t.Fatalf("error shows the token: %v", err)
				}
			})
		}
	})
}

// The client refuses redirects, so PRIVATE-TOKEN never reaches another host.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("PRIVATE-TOKEN") != "" {
			leaked.Store(true)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1}`))
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()

	c := mustNew(t, redirector.URL, "glpat-must-not-travel")
	_, err := c.GetProject(context.Background(), "1")
	if client.StatusCode(err) != http.StatusFound {
		t.Fatalf("err = %v, want a 302 *Error", err)
	}
	if leaked.Load() {
		t.Fatalf("the token followed the redirect")
	}
}

// Error messages that are not plain strings (GitLab sends objects for some validation errors)
// are shown as JSON; a server echoing the token has it scrubbed.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	const pat = "glpat-echoed-by-a-bad-proxy"
	bodies := map[string]struct {
		body string
		want string
	}{
		"/api/v4/projects/1": {`{"message":{"name":["can't be blank"]}}`, `{"name":["can't be blank"]}`},
		"/api/v4/projects/2": {`{"error":"scopes is invalid"}`, "scopes is invalid"},
		"/api/v4/projects/3": {`upstream said ` + pat, "upstream said [REDACTED]"},
		"/api/v4/projects/4": {``, ""},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(bodies[r.URL.Path].body))
	}))
	defer srv.Close()
	c := mustNew(t, srv.URL, pat)
	for path, b := range bodies {
		_, err := c.GetProject(context.Background(), strings.TrimPrefix(path, "/api/v4/projects/"))
		var e *client.Error
		if !errors.As(err, &e) || e.Message != b.want || e.StatusCode != 400 {
			t.Errorf("%s: err = %#v, want message %q", path, err, b.want)
		}
		if strings.Contains(err.Error(), pat) {
			t.Errorf("%s: error shows the token", path)
		}
		if !strings.Contains(err.Error(), "400") {
			t.Errorf("%s: error %q lacks the status", path, err)
		}
	}
}
