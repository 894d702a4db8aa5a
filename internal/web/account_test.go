package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/web"
)

// User settings › Access tokens and Password (docs/design.md §6.9), over plain HTTP against a
// real server; account_browser_test.go drives the same pages in Chromium.

const patsPage = "/-/user_settings/personal_access_tokens"

func patPath(id int64, act string) string { return fmt.Sprintf("%s/%d/%s", patsPage, id, act) }

var (
	newPATRE      = regexp.MustCompile(`id="new-token-value" type="text" readonly value="(glpat-[^"]+)"`)
	patRowRE      = regexp.MustCompile(`<tr data-token-id="(\d+)">\s*<th scope="row">([^<]*)</th>`)
	printedPassRE = regexp.MustCompile(`Initial password \(shown once\): (\S+)`)
)

// newPAT is the secret a page shows once.
func newPAT(t *testing.T, body string) string {
	t.Helper()
	m := newPATRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no new personal access token in page:\n%s", body)
	}
	return m[1]
}

// patID is the id of the listed token named name (its escaped HTML).
func patID(t *testing.T, body, name string) int64 {
	t.Helper()
	for _, m := range patRowRE.FindAllStringSubmatch(body, -1) {
		if m[2] == name {
			var id int64
			fmt.Sscan(m[1], &id)
			return id
		}
	}
	t.Fatalf("token %q not listed", name)
	return 0
}

// apiUser is GET /api/v4/user with a personal access token: its status.
func apiUser(t *testing.T, ts *testenv.TestServer, pat string) int {
	t.Helper()
	return ts.APIAs(t, pat, http.MethodGet, "/user", nil, nil)
}

func TestAccessTokensPage(t *testing.T) {
	ts := testenv.StartServer(t)
	root, _ := signIn(t, ts, "root", rootPassword(ts))

	page := root.get(patsPage)
	if page.status != http.StatusOK {
		t.Fatalf("ok/page: %d", page.status)
	}
	mustContain(t, "page", page.body, "<h1 id=\"pats-heading\">Personal access tokens</h1>", `<label for="pat-name">Token name</label>`,
		`<legend>Select scopes</legend>`, `value="api"`, "Grants complete read/write access to the API", `value="read_user"`,
		`value="write_repository"`, `value="sudo"`, "when authenticated as an administrator", `name="expires_at" type="date"`,
		`href="/-/user_settings/password/edit"`, "<summary>User settings</summary>")
	for _, s := range []string{"read_virtual_registry", "write_virtual_registry"} { // deploy-token scopes only
		if strings.Contains(page.body, `value="`+s+`"`) {
			t.Errorf("offers %s, which personal access tokens cannot carry", s)
		}
	}
	token := csrf(t, page.body)

	t.Run("fail/no CSRF", func(t *testing.T) {
		r := root.post(patsPage, url.Values{"name": {"x"}, "scopes": {"api"}})
		if r.status != http.StatusForbidden {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("fail/empty form", func(t *testing.T) {
		r := root.post(patsPage, url.Values{"authenticity_token": {token}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("%d", r.status)
		}
		mustContain(t, "errors", r.body, "Token name is missing.", "Select at least one scope.", `id="error-summary"`)
	})
	t.Run("fail/past date keeps the values, escaped", func(t *testing.T) {
		past := ts.Clock.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
		r := root.post(patsPage, url.Values{"authenticity_token": {token}, "name": {`<script>x</script>`}, "expires_at": {past},
			"scopes": {"read_api"}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("%d", r.status)
		}
		mustContain(t, "kept form", r.body, "Expiration date must be in the future.", `value="&lt;script&gt;x&lt;/script&gt;"`,
			`value="`+past+`"`, `value="read_api" checked`)
		if strings.Contains(r.body, "<script>x</script>") {
			t.Fatal("the name is not escaped")
		}
	})

	name := `<script>x</script> CI`
	var secret string
	var id int64
	t.Run("ok/create", func(t *testing.T) {
		exp := ts.Clock.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")
		r := root.post(patsPage, url.Values{"authenticity_token": {token}, "name": {name}, "expires_at": {exp},
			"scopes": {"api", "write_repository"}})
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		secret = newPAT(t, r.body)
		mustContain(t, "created", r.body, "Your new personal access token has been created.", "you won’t be able to access it again",
			`data-copy-target="new-token-value"`, "It expires on", exp)
		if strings.Contains(r.body, "<script>x</script>") {
			t.Fatal("the name is not escaped")
		}
		if got := apiUser(t, ts, secret); got != http.StatusOK {
			t.Fatalf("the new token on GET /api/v4/user: %d", got)
		}
		list := root.get(patsPage)
		if strings.Contains(list.body, secret) {
			t.Fatal("the secret is shown again")
		}
		id = patID(t, list.body, "&lt;script&gt;x&lt;/script&gt; CI")
		mustContain(t, "list", list.body, "<code>api</code>, <code>write_repository</code>", exp)
		// The API use above is the token's last use.
		row := list.body[strings.Index(list.body, fmt.Sprintf(`<tr data-token-id="%d">`, id)):]
		row = row[:strings.Index(row, "</tr>")]
		if strings.Contains(row, "Never") || strings.Count(row, "<time ") != 3 { // created, last used, expires
			t.Errorf("last use not shown: %s", row)
		}
	})

	t.Run("ok/rotate", func(t *testing.T) {
		confirm := root.get(patPath(id, "rotate"))
		if confirm.status != http.StatusOK {
			t.Fatalf("confirm: %d", confirm.status)
		}
		mustContain(t, "rotate confirmation", confirm.body, "Rotate personal access token &lt;script&gt;x&lt;/script&gt; CI?", `id="confirm-rotate"`)
		if r := root.post(patPath(id, "rotate"), url.Values{"authenticity_token": {token}, "expires_at": {"not a date"}}); r.status != http.StatusUnprocessableEntity ||
			!strings.Contains(r.body, "Expiration date is invalid") || !strings.Contains(r.body, `value="not a date"`) {
			t.Fatalf("fail/bad date: %d", r.status)
		}
		if r := root.post(patPath(id, "rotate"), url.Values{"expires_at": {""}}); r.status != http.StatusForbidden {
			t.Fatalf("fail/no CSRF: %d", r.status)
		}
		r := root.post(patPath(id, "rotate"), url.Values{"authenticity_token": {token}})
		if r.status != http.StatusOK {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		next := newPAT(t, r.body)
		week := ts.Clock.Now().UTC().AddDate(0, 0, 7).Format("2006-01-02")
		mustContain(t, "rotated", r.body, "The previous token no longer works.", week)
		if apiUser(t, ts, secret) != http.StatusUnauthorized || apiUser(t, ts, next) != http.StatusOK {
			t.Fatal("after rotation the old token must be refused and the new one work")
		}
		secret, id = next, patID(t, r.body, "&lt;script&gt;x&lt;/script&gt; CI")
	})

	t.Run("ok/revoke", func(t *testing.T) {
		confirm := root.get(patPath(id, "revoke"))
		if confirm.status != http.StatusOK {
			t.Fatalf("confirm: %d", confirm.status)
		}
		mustContain(t, "revoke confirmation", confirm.body, "This action cannot be undone.", `id="confirm-revoke"`)
		if r := root.post(patPath(id, "revoke"), nil); r.status != http.StatusForbidden {
			t.Fatalf("fail/no CSRF: %d", r.status)
		}
		if apiUser(t, ts, secret) != http.StatusOK {
			t.Fatal("a refused revoke revoked")
		}
		r := root.post(patPath(id, "revoke"), url.Values{"authenticity_token": {token}})
		if r.status != http.StatusSeeOther || r.location != fmt.Sprintf("%s?revoked=%d", patsPage, id) {
			t.Fatalf("revoke: %d %q", r.status, r.location)
		}
		if apiUser(t, ts, secret) != http.StatusUnauthorized {
			t.Fatal("the revoked token still works")
		}
		list := root.get(r.location)
		mustContain(t, "after revoke", list.body, "Revoked personal access token", "Inactive personal access tokens (2)", "Revoked</span>")
		// Revoked tokens lead back to the list.
		for _, act := range []string{"revoke", "rotate"} {
			if r := root.get(patPath(id, act)); r.status != http.StatusSeeOther || r.location != patsPage {
				t.Errorf("%s of a revoked token: %d %q", act, r.status, r.location)
			}
		}
	})

	t.Run("fail/another user's tokens are not found", func(t *testing.T) {
		aliceID := createUser(t, ts, "alice", "alice-password")
		alice, aliceCSRF := signIn(t, ts, "alice", "alice-password")
		// Root's bootstrap token (id 1) and an impersonation token made for alice are not hers to manage.
		var imp struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
		}
		ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/users/%d/impersonation_tokens", aliceID),
			map[string]any{"name": "impersonation", "scopes": []string{"api"}}, &imp)
		for _, other := range []int64{1, imp.ID} {
			for _, act := range []string{"revoke", "rotate"} {
				if r := alice.get(patPath(other, act)); r.status != http.StatusNotFound {
					t.Errorf("GET %s of token %d: %d", act, other, r.status)
				}
				if r := alice.post(patPath(other, act), url.Values{"authenticity_token": {aliceCSRF}}); r.status != http.StatusNotFound {
					t.Errorf("POST %s of token %d: %d", act, other, r.status)
				}
			}
		}
		if apiUser(t, ts, ts.RootToken) != http.StatusOK || apiUser(t, ts, imp.Token) != http.StatusOK {
			t.Fatal("another user's token was revoked or rotated")
		}
		page := alice.get(patsPage)
		if strings.Contains(page.body, "impersonation") || strings.Contains(page.body, "bootstrap") {
			t.Fatal("lists tokens that are not hers")
		}
		// sudo is an administrator's scope.
		if strings.Contains(page.body, `value="sudo"`) {
			t.Error("offers sudo to a non-administrator")
		}
		r := alice.post(patsPage, url.Values{"authenticity_token": {aliceCSRF}, "name": {"s"}, "scopes": {"sudo", "api"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Scopes does not have a valid value") {
			t.Fatalf("fail/sudo by a non-administrator: %d", r.status)
		}
		r = alice.post(patsPage, url.Values{"authenticity_token": {aliceCSRF}, "name": {"mine"}, "scopes": {"read_user"}, "expires_at": {""}})
		if r.status != http.StatusCreated || !strings.Contains(r.body, "It never expires.") {
			t.Fatalf("ok/her own token without expiry: %d", r.status)
		}
		if apiUser(t, ts, newPAT(t, r.body)) != http.StatusOK {
			t.Fatal("her read_user token cannot read /user")
		}
		if r := root.get(patPath(patID(t, r.body, "mine"), "revoke")); r.status != http.StatusNotFound {
			t.Fatalf("an administrator's page reaches another user's token: %d", r.status)
		}
	})
}

func TestPasswordPage(t *testing.T) {
	ts := testenv.StartServer(t)
	createUser(t, ts, "alice", "alice-password")
	first, token := signIn(t, ts, "alice", "alice-password")
	second, _ := signIn(t, ts, "alice", "alice-password")

	page := first.get("/-/user_settings/password/edit")
	if page.status != http.StatusOK {
		t.Fatalf("ok/page: %d", page.status)
	}
	mustContain(t, "page", page.body, "<h1 id=\"password-heading\">Password</h1>", `<label for="current-password">Current password</label>`,
		`<label for="new-password">New password</label>`, `<label for="password-confirmation">Password confirmation</label>`,
		`action="/-/user_settings/password"`, `autocomplete="current-password"`)
	if r := first.get("/-/user_settings/password"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET of the form's target: %d", r.status)
	}
	change := func(current, next, confirm string) response {
		return first.post("/-/user_settings/password", url.Values{"authenticity_token": {token}, "current_password": {current},
			"new_password": {next}, "password_confirmation": {confirm}})
	}
	if r := first.post("/-/user_settings/password", url.Values{"current_password": {"alice-password"}, "new_password": {"x-new-password"},
		"password_confirmation": {"x-new-password"}}); r.status != http.StatusForbidden {
		t.Fatalf("fail/no CSRF: %d", r.status)
	}
	for _, c := range []struct {
		name, current, next, confirm, want string
	}{
		{"fail/confirmation", "alice-password", "a-new-password", "another", "Password confirmation doesn&#39;t match Password."},
		{"fail/wrong current", "guess", "a-new-password", "a-new-password", "You must provide a valid current password."},
		{"fail/too short", "alice-password", "short", "short", "New password is too short (minimum is 8 characters)."},
		{"fail/unchanged", "alice-password", "alice-password", "alice-password", "New password must be different from the current password."},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := change(c.current, c.next, c.confirm)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%d", r.status)
			}
			mustContain(t, c.name, r.body, c.want, `id="error-summary"`)
			for _, secret := range []string{c.current, c.next} {
				if strings.Contains(r.body, `value="`+secret+`"`) {
					t.Fatal("a password is echoed into the form")
				}
			}
		})
	}
	r := change("alice-password", "alice-new-password", "alice-new-password")
	if r.status != http.StatusSeeOther || r.location != "/-/user_settings/password/edit?updated=1" {
		t.Fatalf("ok/change: %d %q %s", r.status, r.location, r.body)
	}
	mustContain(t, "after the change", first.get(r.location).body, "Your password was changed. Your other sessions were signed out.")
	if r := first.get("/"); r.status != http.StatusOK {
		t.Fatalf("ok/this session stays: %d", r.status)
	}
	if r := second.get("/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/users/sign_in") {
		t.Fatalf("fail/the other session lives on: %d %q", r.status, r.location)
	}
	signIn(t, ts, "alice", "alice-new-password")
	u := newUIClient(t, ts)
	form := u.get("/users/sign_in")
	if r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, form.body)}, "login": {"alice"},
		"password": {"alice-password"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("fail/the old password still signs in: %d", r.status)
	}
}

// TestPasswordWrongCurrentCountsInBan: a wrong current password is a failed authentication, in the
// ban sign-in shares (docs/design.md §7.1): enough of them ban the user's identity everywhere.
func TestPasswordWrongCurrentCountsInBan(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.AuthBan.ExemptLoopback = false
		c.AuthBan.MaxFailures = 3
	})
	createUser(t, ts, "alice", "alice-password")
	alice, token := signIn(t, ts, "alice", "alice-password")
	for i := 1; i <= 3; i++ {
		r := alice.post("/-/user_settings/password", url.Values{"authenticity_token": {token}, "current_password": {"guess"},
			"new_password": {"a-new-password"}, "password_confirmation": {"a-new-password"}})
		want := http.StatusUnprocessableEntity
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("attempt %d: %d, want %d", i, r.status, want)
		}
	}
	// Banned now: the right password changes nothing, and alice cannot sign in anywhere else.
	r := alice.post("/-/user_settings/password", url.Values{"authenticity_token": {token}, "current_password": {"alice-password"},
		"new_password": {"a-new-password"}, "password_confirmation": {"a-new-password"}})
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("fail/right password while banned: %d", r.status)
	}
	u := newUIClient(t, ts)
	form := u.get("/users/sign_in")
	if r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, form.body)}, "login": {"alice"},
		"password": {"alice-password"}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("fail/sign-in while banned: %d", r.status)
	}
	ts.Clock.Advance(2 * time.Hour)
	if r := alice.post("/-/user_settings/password", url.Values{"authenticity_token": {token}, "current_password": {"alice-password"},
		"new_password": {"a-new-password"}, "password_confirmation": {"a-new-password"}}); r.status != http.StatusSeeOther {
		t.Fatalf("ok/after the ban: %d", r.status)
	}
	// Read once the address is no longer banned (the API refuses a banned address too).
	var events []struct {
		EventName string `json:"event_name"`
		Details   struct {
			CustomMessage string `json:"custom_message"`
		} `json:"details"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", "/audit_events", nil, &events)
	found := false
	for _, e := range events {
		found = found || strings.Contains(fmt.Sprint(e), "password change")
	}
	if !found {
		t.Errorf("no authentication_failed audit event for the password change: %+v", events)
	}
}

// TestRootMustChangePrintedPassword: with no GATEHOUSE_ROOT_PASSWORD the server prints root's
// generated password; signed in with it, every page leads to the password page until it changes.
func TestRootMustChangePrintedPassword(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) { c.RootPassword = "" })
	m := printedPassRE.FindStringSubmatch(ts.Logs())
	if m == nil {
		t.Fatal("no initial password printed")
	}
	printed := m[1]
	u := newUIClient(t, ts)
	form := u.get("/users/sign_in")
	if r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, form.body)}, "login": {"root"}, "password": {printed}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	for _, p := range []string{"/", "/groups/nowhere", patsPage, "/some/project/-/settings/repository"} {
		if r := u.get(p); r.status != http.StatusSeeOther || r.location != "/-/user_settings/password/edit" {
			t.Errorf("GET %s: %d %q, want the password page", p, r.status, r.location)
		}
	}
	page := u.get("/-/user_settings/password/edit")
	if page.status != http.StatusOK {
		t.Fatalf("password page: %d", page.status)
	}
	mustContain(t, "forced page", page.body, "Set up new password", "Please set a new password before proceeding.", "Set new password")
	if strings.Contains(page.body, `class="settings-nav"`) {
		t.Error("the forced page links to pages it cannot show yet")
	}
	token := csrf(t, page.body)
	// A form elsewhere is not acted on either.
	if r := u.post(patsPage, url.Values{"authenticity_token": {token}, "name": {"early"}, "scopes": {"api"}}); r.status != http.StatusSeeOther {
		t.Fatalf("POST elsewhere: %d", r.status)
	}
	r := u.post("/-/user_settings/password", url.Values{"authenticity_token": {token}, "current_password": {printed},
		"new_password": {"root-chose-this"}, "password_confirmation": {"root-chose-this"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if r := u.get("/"); r.status != http.StatusOK {
		t.Fatalf("home after the change: %d", r.status)
	}
	if list := u.get(patsPage); strings.Contains(list.body, "early") {
		t.Fatal("the token form posted while the password had to change was acted on")
	}
}

func TestUserSettingsPaths(t *testing.T) {
	for p, want := range map[string]bool{
		"/-/user_settings/personal_access_tokens":            true,
		"/-/user_settings/personal_access_tokens/12/revoke":  true,
		"/-/user_settings/personal_access_tokens/12/rotate":  true,
		"/-/user_settings/password/edit":                     true,
		"/-/user_settings/password":                          true,
		"/-/user_settings/personal_access_tokens/012/revoke": false,
		"/-/user_settings/personal_access_tokens/1/usage":    false,
		"/-/user_settings/profile":                           false,
		"/-/user_settings":                                   false,
	} {
		if got := web.Handles(p); got != want {
			t.Errorf("Handles(%q) = %v, want %v", p, got, want)
		}
	}
}
