package web

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

func TestCSRFTokens(t *testing.T) {
	a := &session{raw: bytes.Repeat([]byte{1}, sessionIDBytes)}
	b := &session{raw: bytes.Repeat([]byte{2}, sessionIDBytes)}
	if a.csrfToken() == b.csrfToken() {
		t.Fatal("two sessions share a CSRF token")
	}
	if again := (&session{raw: bytes.Repeat([]byte{1}, sessionIDBytes)}).csrfToken(); again != a.csrfToken() {
		t.Fatal("a session's CSRF token is not stable")
	}
	cases := map[string]bool{
		"ok/own token":          true,
		"fail/empty":            false,
		"fail/other session's":  false,
		"fail/truncated":        false,
		"fail/one byte changed": false,
	}
	tok := a.csrfToken()
	values := map[string]string{"ok/own token": tok, "fail/empty": "", "fail/other session's": b.csrfToken(),
		"fail/truncated": tok[:len(tok)-1], "fail/one byte changed": "A" + tok[1:]}
	if tok[0] == 'A' {
		values["fail/one byte changed"] = "B" + tok[1:]
	}
	for name, want := range cases {
		if got := a.checkCSRF(values[name]); got != want {
			t.Errorf("%s: checkCSRF = %v", name, got)
		}
	}
	if strings.Contains(tok, string(a.raw)) {
		t.Error("the CSRF token carries the session id")
	}
	h := New(Config{Key: []byte("k1")})
	h2 := New(Config{Key: []byte("k2")})
	if h.loginCSRF("v") == h.loginCSRF("w") || h.loginCSRF("v") == h2.loginCSRF("v") {
		t.Error("sign-in CSRF tokens do not depend on both the cookie and the key")
	}
}

func TestLocalRedirect(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "/",
		"/groups/a":                      "/groups/a",
		"/a/b/-/settings/repository?x=1": "/a/b/-/settings/repository?x=1",
		"//evil.example":                 "/",
		"/\\evil.example":                "/",
		"https://evil.example/":          "/",
		"javascript:alert(1)":            "/",
		"/a\r\nSet-Cookie: x":            "/",
	} {
		if got := localRedirect(in); got != want {
			t.Errorf("localRedirect(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRoute(t *testing.T) {
	cases := []struct {
		path string
		want route
		ok   bool
	}{
		{"/", route{kind: homeRoute}, true},
		{"/groups/a/b", route{kind: groupRoute, path: "a/b"}, true},
		{"/a/b", route{kind: projectRoute, path: "a/b"}, true},
		{"/a/b/-/settings/repository", route{kind: projectRoute, path: "a/b", action: actSettings}, true},
		{"/groups/a/-/settings/repository/deploy_token/create", route{kind: groupRoute, path: "a", action: actCreate}, true},
		{"/a/b/c/-/deploy_tokens/7/revoke", route{kind: projectRoute, path: "a/b/c", action: actRevoke, tokenID: 7}, true},
		{"/a/b/-/deploy_tokens/8/rotate", route{kind: projectRoute, path: "a/b", action: actRotate, tokenID: 8}, true},
		{"/groups/a/-/deploy_tokens/9/usage", route{kind: groupRoute, path: "a", action: actUsage, tokenID: 9}, true},
		{"/a/b/-/audit_events", route{kind: projectRoute, path: "a/b", action: actAudit}, true},
		{"/groups/a/b/-/audit_events", route{kind: groupRoute, path: "a/b", action: actAudit}, true},
		{"/a/b/-/deploy_tokens/8/rotate/x", route{}, false},
		{"/a/b/-/deploy_tokens/8/delete", route{}, false},
		{"/a/b/-/deploy_tokens/8", route{}, false},
		{"/a/b/-/audit_events/1", route{}, false},
		{"/a", route{}, false},
		{"/a/b.git/info/refs", route{}, false},
		{"/a/b/", route{}, false},
		{"/groups/", route{}, false},
		{"/api/v4", route{}, false},
		{"/v2/a/b", route{}, false},
		{"/a/b/-/deploy_tokens/0/revoke", route{}, false},
		{"/a/b/-/deploy_tokens/-1/revoke", route{}, false},
		{"/a/b/-/settings", route{}, false},
	}
	for _, c := range cases {
		got, ok := parseRoute(c.path)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

// TestTemplatesEscape renders every user-controlled string through the pages and checks that
// markup arrives as text.
func TestTemplatesEscape(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	h := New(Config{})
	user := &namespace.User{Username: "u" + evil}
	sess := &session{raw: bytes.Repeat([]byte{3}, sessionIDBytes), user: user}
	tgt := &target{Kind: "project", Name: evil, FullPath: "a/b" + evil, Base: "/a/b"}
	now := time.Now()
	d := tokensData{Target: tgt, CanManage: true, Form: tokenForm{Name: evil, Username: evil, ExpiresAt: evil},
		Errors: map[string]string{"name": evil}, ErrorList: []string{evil},
		Created: &createdToken{Name: evil, Username: evil, Token: `gldt-"><b>x`},
		Active: []tokenRow{{ID: 1, Name: evil, Username: evil, Scopes: []string{evil}, CreatedAt: now, LastUsedAt: &now,
			LastUsedIP: evil, AllowedIPs: []string{evil}}},
		Inactive: []tokenRow{{ID: 2, Name: evil, Username: evil, CreatedAt: now, Status: "Revoked"}}}
	pages := map[string]*page{
		"deploy_tokens": {Title: evil, User: user, CSRF: sess.csrfToken(), Breadcrumbs: []crumb{{Label: evil, Href: "/" + evil}}, Notice: evil, Data: d},
		"revoke":        {Title: evil, User: user, Data: revokeData{Target: tgt, Token: tokenRow{ID: 1, Name: evil, Username: evil, CreatedAt: now}}},
		"rotate": {Title: evil, User: user, Data: rotateData{Target: tgt, Error: evil, Graces: []graceOption{{Value: evil, Label: evil}},
			Token: tokenRow{ID: 1, Name: evil, Username: evil, CreatedAt: now, LastUsedAt: &now, LastUsedIP: evil}}},
		"usage": {Title: evil, User: user, Data: usageData{Target: tgt, Usage: []usageDay{{Day: now, Requests: 3}},
			Token: tokenRow{ID: 1, Name: evil, Username: evil, CreatedAt: now, AllowedIPs: []string{evil}, Status: evil}}},
		"audit_events": {Title: evil, User: user, Data: auditData{Target: tgt, Total: 1, Page: 1, Pages: 2, Next: "/x?page=" + evil,
			Events: []auditRow{{At: now, Type: evil, Label: evil, ActorKind: "user", Actor: evil, TokenName: evil, TokenUsername: evil, IP: evil, Details: evil}}}},
		"sign_in": {Title: evil, Data: signInData{Login: evil, RedirectTo: evil, Error: evil}},
		"home":    {Title: evil, User: user, Data: homeData{Groups: []*namespace.Group{{Name: evil, FullPath: evil}}}},
		"group":   {Title: evil, User: user, Data: groupData{Group: &namespace.Group{Name: evil, FullPath: evil}}},
		"project": {Title: evil, User: user, Data: projectData{Project: &namespace.Project{Name: evil, FullPath: evil}, CloneURL: evil, Overview: evilOverview(evil)}},
		"error":   {Title: evil, Data: errorData{Status: 404, Heading: evil, Message: evil}},
		// namespace_forms.go
		"group_new":    {Title: evil, User: user, Data: nsEvilNewGroup(evil)},
		"project_new":  {Title: evil, User: user, Data: nsEvilNewProject(evil)},
		"group_edit":   {Title: evil, User: user, Notice: evil, Data: nsEvilSettings(evil, "group")},
		"project_edit": {Title: evil, User: user, Notice: evil, Data: nsEvilSettings(evil, "project")},
		// User settings (account.go).
		"personal_access_tokens": {Title: evil, User: user, Notice: evil, Data: patsData{Form: patForm{Name: evil, ExpiresAt: evil},
			Scopes: []scopeOption{{Value: evil, Description: evil}}, formErrors: formErrors{Errors: map[string]string{"name": evil}, ErrorList: []string{evil}},
			Created:  &createdPAT{Name: evil, Token: `glpat-"><b>x`, ExpiresAt: &now},
			Active:   []patRow{{ID: 1, Name: evil, Scopes: []string{evil}, CreatedAt: now, LastUsedAt: &now}},
			Inactive: []patRow{{ID: 2, Name: evil, Scopes: []string{evil}, CreatedAt: now, Status: evil}}}},
		"personal_access_token_confirm": {Title: evil, User: user, Data: patConfirmData{Rotate: true, ExpiresAt: evil, Error: evil,
			Token: patRow{ID: 1, Name: evil, Scopes: []string{evil}, CreatedAt: now}}},
		"password": {Title: evil, User: user, Data: passwordData{formErrors: formErrors{Errors: map[string]string{"current_password": evil},
			ErrorList: []string{evil}}}},
	}
	maps.Copy(pages, membersAdminEscapePages(evil, user, now))
	maps.Copy(pages, projectPagesEvil(evil, user))
	for name, p := range pages {
		t.Run("ok/"+name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, name, p)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, body)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, `"><b>x`) {
				t.Fatalf("unescaped markup in %s:\n%s", name, body)
			}
			if !strings.Contains(body, "&lt;script&gt;") {
				t.Fatalf("%s does not show the escaped text", name)
			}
		})
	}
	if len(pages) != len(pageNames) {
		t.Fatalf("test covers %d pages of %d", len(pages), len(pageNames))
	}
}
