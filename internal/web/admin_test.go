package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// adminGets are the Admin area's pages; adminPosts its forms' targets.
var (
	adminGets  = []string{"/admin", "/admin/users", "/admin/users?search=root", "/admin/users/new", "/admin/users/root", "/admin/application_settings", "/admin/system_info"}
	adminPosts = []string{"/admin/users", "/admin/users/root/block", "/admin/users/root/unblock", "/admin/users/root/administrator",
		"/admin/users/root/password", "/admin/application_settings"}
)

func TestAdminAreaIsForAdministratorsOnly(t *testing.T) {
	ts := testenv.StartServer(t)
	ts.CreateUser(t, "carol")
	carol, csrfToken := signIn(t, ts, "carol", "password-carol")
	if strings.Contains(carol.get("/").body, `href="/admin"`) {
		t.Error("a non-admin sees the Admin link")
	}
	for _, p := range adminGets {
		if r := carol.get(p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
	for _, p := range adminPosts {
		r := carol.post(p, url.Values{"authenticity_token": {csrfToken}, "username": {"x"}, "name": {"x"}, "email": {"x@example.com"},
			"password": {"password-x1"}, "admin": {"1"}})
		if r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.status)
		}
	}
	var me struct {
		IsAdmin bool `json:"is_admin"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", "/users/2", nil, &me)
	if me.IsAdmin {
		t.Fatal("carol made herself admin")
	}
	// Anonymous: sign in first. Paths that are not pages: 404.
	if r := newUIClient(t, ts).get("/admin/users"); r.status != http.StatusSeeOther {
		t.Errorf("anonymous: %d", r.status)
	}
	root, _ := signIn(t, ts, "root", rootPassword(ts))
	for _, p := range []string{"/admin/", "/admin/nothing", "/admin/users/root/delete", "/admin/users/-x", "/admin/users/root/block/x"} {
		if r := root.get(p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
}

var generatedRE = regexp.MustCompile(`id="new-password-value" type="text" readonly value="([^"]+)"`)

func TestAdminUsers(t *testing.T) {
	ts := testenv.StartServer(t)
	ts.CreateUser(t, "carol")
	root, csrfToken := signIn(t, ts, "root", rootPassword(ts))
	form := func(kv ...string) url.Values {
		v := url.Values{"authenticity_token": {csrfToken}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	t.Run("ok/overview and search", func(t *testing.T) {
		r := root.get("/admin")
		if r.status != http.StatusOK {
			t.Fatalf("overview: %d", r.status)
		}
		mustContain(t, "overview", r.body, "Instance overview", `<a href="/admin/users">2</a> (1 administrators, 0 blocked)`, "Projects")
		mustContain(t, "layout", root.get("/").body, `href="/admin"`)
		r = root.get("/admin/users?search=CAR")
		mustContain(t, "search", r.body, `href="/admin/users/carol"`, "1 of 2 users")
		if strings.Contains(r.body, `href="/admin/users/root"`) {
			t.Error("search for car lists root")
		}
	})

	t.Run("ok/create with a typed password, escaped", func(t *testing.T) {
		r := root.post("/admin/users", form("username", "dora", "name", `<script>x</script>`, "email", "dora@example.com", "password", "dora-password"))
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		mustContain(t, "created", r.body, "User was successfully created.", "&lt;script&gt;x&lt;/script&gt;", "dora@example.com")
		if strings.Contains(r.body, "<script>x</script>") || strings.Contains(r.body, "new-password-value") {
			t.Fatal("unescaped name, or a typed password shown")
		}
		if l := root.get("/admin/users"); strings.Contains(l.body, "<script>x</script>") || !strings.Contains(l.body, "&lt;script&gt;") {
			t.Fatal("list: name not escaped")
		}
		signIn(t, ts, "dora", "dora-password")
	})

	t.Run("fail/invalid or taken keeps the values", func(t *testing.T) {
		r := root.post("/admin/users", form("username", "carol", "name", "Another Carol", "email", "carol2@example.com", "password", "long-enough"))
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("taken: %d", r.status)
		}
		mustContain(t, "taken", r.body, "has already been taken", `value="Another Carol"`, `value="carol2@example.com"`, `value="carol"`)
		r = root.post("/admin/users", form("username", "erin", "name", "Erin", "email", "erin@example.com", "password", "short"))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Password is too short (minimum is 8 characters).") {
			t.Fatalf("short password: %d", r.status)
		}
		if strings.Contains(r.body, `value="short"`) {
			t.Fatal("the password was echoed")
		}
	})

	t.Run("ok/create with a generated password shown once", func(t *testing.T) {
		r := root.post("/admin/users", form("username", "gen", "name", "Gen", "email", "gen@example.com"))
		m := generatedRE.FindStringSubmatch(r.body)
		if r.status != http.StatusCreated || m == nil {
			t.Fatalf("create: %d", r.status)
		}
		signIn(t, ts, "gen", m[1])
		if strings.Contains(root.get("/admin/users/gen").body, m[1]) {
			t.Fatal("the generated password is shown again")
		}
	})

	t.Run("ok/block refuses sign-in and ends sessions; unblock", func(t *testing.T) {
		carol, _ := signIn(t, ts, "carol", "password-carol")
		r := root.post("/admin/users/carol/block", form())
		if r.status != http.StatusSeeOther || r.location != "/admin/users/carol?notice=blocked" {
			t.Fatalf("block: %d %q", r.status, r.location)
		}
		mustContain(t, "blocked", root.get(r.location).body, "Successfully blocked.", `<dd id="user-state">blocked</dd>`, `id="unblock-user"`)
		if r := carol.get("/"); r.status != http.StatusSeeOther {
			t.Fatalf("blocked user's session: %d", r.status)
		}
		u := newUIClient(t, ts)
		page := u.get("/users/sign_in")
		if r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, page.body)}, "login": {"carol"}, "password": {"password-carol"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("blocked sign-in: %d", r.status)
		}
		if r := root.post("/admin/users/carol/unblock", form()); r.status != http.StatusSeeOther {
			t.Fatalf("unblock: %d", r.status)
		}
		signIn(t, ts, "carol", "password-carol")
	})

	t.Run("fail/an admin cannot block or demote themselves", func(t *testing.T) {
		r := root.post("/admin/users/root/block", form())
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "You cannot block yourself.") {
			t.Fatalf("block self: %d", r.status)
		}
		r = root.post("/admin/users/root/administrator", form("admin", "0"))
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "You cannot remove your own administrator access.") {
			t.Fatalf("demote self: %d", r.status)
		}
		if r := root.get("/admin"); r.status != http.StatusOK {
			t.Fatalf("root lost the Admin area: %d", r.status)
		}
	})

	t.Run("ok/make and remove administrator", func(t *testing.T) {
		carol, _ := signIn(t, ts, "carol", "password-carol")
		if r := root.post("/admin/users/carol/administrator", form("admin", "1")); r.status != http.StatusSeeOther {
			t.Fatalf("make admin: %d", r.status)
		}
		if r := carol.get("/admin"); r.status != http.StatusOK {
			t.Fatalf("new admin: %d", r.status)
		}
		if r := root.post("/admin/users/carol/administrator", form("admin", "0")); r.status != http.StatusSeeOther {
			t.Fatalf("remove admin: %d", r.status)
		}
		if r := carol.get("/admin"); r.status != http.StatusNotFound {
			t.Fatalf("former admin: %d", r.status)
		}
	})

	t.Run("ok/reset password, typed and generated", func(t *testing.T) {
		before, _ := signIn(t, ts, "carol", "password-carol")
		r := root.post("/admin/users/carol/password", form("password", "carol-new-password"))
		if r.status != http.StatusSeeOther {
			t.Fatalf("reset: %d", r.status)
		}
		// The reset ends carol's sign-ins; the administrator's own session stays.
		if g := before.get("/"); g.status != http.StatusSeeOther || !strings.Contains(g.header.Get("Location"), "/users/sign_in") {
			t.Errorf("carol's session after the reset: %d %s", g.status, g.header.Get("Location"))
		}
		if g := root.get("/admin/users"); g.status != http.StatusOK {
			t.Errorf("root's session after resetting carol's password: %d", g.status)
		}
		signIn(t, ts, "carol", "carol-new-password")
		r = root.post("/admin/users/carol/password", form("password", "short"))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Password is too short") {
			t.Fatalf("short: %d", r.status)
		}
		r = root.post("/admin/users/carol/password", form())
		m := generatedRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("generate: %d", r.status)
		}
		signIn(t, ts, "carol", m[1])
	})

	t.Run("fail/CSRF and unknown users", func(t *testing.T) {
		for _, p := range adminPosts {
			if r := root.post(p, url.Values{"username": {"x"}, "name": {"x"}, "email": {"x@example.com"}}); r.status != http.StatusForbidden {
				t.Errorf("POST %s without a token: %d", p, r.status)
			}
		}
		if r := root.get("/admin/users/nobody"); r.status != http.StatusNotFound {
			t.Errorf("unknown user: %d", r.status)
		}
		if r := root.post("/admin/users/nobody/block", form()); r.status != http.StatusNotFound {
			t.Errorf("block unknown user: %d", r.status)
		}
	})
}

func TestAdminSettingsAndSystemInfo(t *testing.T) {
	ts := testenv.StartServer(t)
	root, csrfToken := signIn(t, ts, "root", rootPassword(ts))

	r := root.get("/admin/application_settings")
	if r.status != http.StatusOK {
		t.Fatalf("settings: %d", r.status)
	}
	mustContain(t, "settings", r.body, `<label for="extauthz-url">`, "auth_ban.max_failures", "GATEHOUSE_AUTH_BAN_MAX_FAILURES", "metrics.allow",
		`value="0.5"`)

	// The domain's validation, shown with the values kept.
	r = root.post("/admin/application_settings", url.Values{"authenticity_token": {csrfToken}, "external_authorization_service_enabled": {"1"},
		"external_authorization_service_url": {""}, "external_authorization_service_timeout": {"0.5"},
		"external_authorization_service_default_label": {"<b>label</b>"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="error-summary"`) || !strings.Contains(r.body, `value="&lt;b&gt;label&lt;/b&gt;"`) {
		t.Fatalf("enable without a URL: %d %s", r.status, r.body)
	}
	r = root.post("/admin/application_settings", url.Values{"authenticity_token": {csrfToken}, "external_authorization_service_timeout": {"abc"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad timeout: %d", r.status)
	}
	r = root.post("/admin/application_settings", url.Values{"authenticity_token": {csrfToken},
		"external_authorization_service_url": {"https://authz.example.com/check"}, "external_authorization_service_timeout": {"2"},
		"external_authorization_service_default_label": {"secret"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, r.body)
	}
	var got struct {
		Enabled bool    `json:"external_authorization_service_enabled"`
		URL     *string `json:"external_authorization_service_url"`
		Timeout float64 `json:"external_authorization_service_timeout"`
		Label   string  `json:"external_authorization_service_default_label"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", "/application/settings", nil, &got)
	if got.Enabled || got.URL == nil || *got.URL != "https://authz.example.com/check" || got.Timeout != 2 || got.Label != "secret" {
		t.Fatalf("saved settings: %+v", got)
	}
	mustContain(t, "saved", root.get(r.location).body, "Application settings saved successfully.", `value="https://authz.example.com/check"`)

	r = root.get("/admin/system_info")
	if r.status != http.StatusOK {
		t.Fatalf("system info: %d", r.status)
	}
	mustContain(t, "system info", r.body, "Gatehouse ", "sqlite 3.", "filesystem", "Uptime", "deploy-token-expiry", "audit-retention", "Never")
}
