package web_test

import (
	"fmt"
	"html"
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

// These tests drive the UI over plain HTTP against a real server; browser_test.go drives it with
// Chromium.

func TestSignInAndOut(t *testing.T) {
	ts := testenv.StartServer(t)
	u := newUIClient(t, ts)

	r := u.get("/")
	if r.status != http.StatusSeeOther || r.location != "/users/sign_in?redirect_to=%2F" {
		t.Fatalf("fail/anonymous home: %d %q", r.status, r.location)
	}
	r = u.get("/group/top/-/settings/repository")
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "redirect_to=%2Fgroup%2Ftop%2F-%2Fsettings%2Frepository") {
		t.Fatalf("fail/anonymous settings: %d %q", r.status, r.location)
	}

	form := u.get("/users/sign_in?redirect_to=/groups/nowhere")
	mustContain(t, "sign-in form", form.body, `<label for="login">Username or email</label>`, `<label for="password">Password</label>`,
		`name="redirect_to" value="/groups/nowhere"`, `<meta name="viewport"`)
	token := csrf(t, form.body)

	r = u.post("/users/sign_in", url.Values{"authenticity_token": {token}, "login": {"root"}, "password": {"wrong-password"}})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("fail/wrong password: %d", r.status)
	}
	mustContain(t, "wrong password", r.body, "Invalid login or password.", `value="root"`)
	if strings.Contains(r.body, "wrong-password") {
		t.Error("fail/wrong password: the password was echoed")
	}

	// Sign in by email; the form's redirect target is kept.
	r = u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, r.body)}, "login": {"ROOT@localhost.localdomain"},
		"password": {rootPassword(ts)}, "redirect_to": {"/groups/nowhere"}})
	if r.status != http.StatusSeeOther || r.location != "/groups/nowhere" {
		t.Fatalf("ok/sign in by email: %d %q %s", r.status, r.location, r.body)
	}
	var cookie string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "gatehouse_session=") {
			cookie = c
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie lacks %s: %q", attr, cookie)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie is Secure on an http external URL: %q", cookie)
	}
	home := u.get("/")
	if home.status != http.StatusOK {
		t.Fatalf("ok/home: %d", home.status)
	}
	mustContain(t, "home", home.body, "Signed in as <strong>root</strong>", "Your groups and projects")
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if home.header.Get(h) == "" {
			t.Errorf("home lacks %s", h)
		}
	}
	if cc := home.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("home Cache-Control = %q", cc)
	}

	// Already signed in: the form sends home. Open redirects are refused.
	if r := u.get("/users/sign_in?redirect_to=//evil.example/x"); r.status != http.StatusSeeOther || r.location != "/" {
		t.Errorf("fail/open redirect: %d %q", r.status, r.location)
	}

	r = u.post("/users/sign_out", url.Values{"authenticity_token": {csrf(t, home.body)}})
	if r.status != http.StatusSeeOther || r.location != "/users/sign_in" {
		t.Fatalf("ok/sign out: %d %q", r.status, r.location)
	}
	if r := u.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("fail/after sign-out: %d", r.status)
	}
}

func TestSessionExpires(t *testing.T) {
	ts := testenv.StartServer(t)
	u, _ := signIn(t, ts, "root", rootPassword(ts))
	ts.Clock.Advance(web.DefaultSessionTTL - time.Minute)
	if r := u.get("/"); r.status != http.StatusOK {
		t.Fatalf("ok/before expiry: %d", r.status)
	}
	ts.Clock.Advance(2 * time.Minute)
	if r := u.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("fail/after expiry: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"].FullPath
	u, good := signIn(t, ts, "root", rootPassword(ts))
	other, otherToken := signIn(t, ts, "root", rootPassword(ts))
	_ = other
	form := func(token string) url.Values {
		v := url.Values{"name": {"ci"}, "scopes": {"read_repository"}}
		if token != "" {
			v.Set("authenticity_token", token)
		}
		return v
	}
	for name, token := range map[string]string{
		"fail/no token":                   "",
		"fail/wrong token":                "not-the-token",
		"fail/another session's token":    otherToken,
		"fail/token with a trailing byte": good + "x",
	} {
		t.Run(name, func(t *testing.T) {
			if r := u.post(createPath(top), form(token)); r.status != http.StatusForbidden {
				t.Fatalf("create: %d", r.status)
			}
			if r := u.post("/users/sign_out", form(token)); r.status != http.StatusForbidden {
				t.Fatalf("sign out: %d", r.status)
			}
		})
	}
	var list []any
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID), nil, &list)
	if len(list) != 0 {
		t.Fatalf("a refused POST created %d tokens", len(list))
	}
	t.Run("fail/no session", func(t *testing.T) {
		anon := newUIClient(t, ts)
		if r := anon.post(createPath(top), form(good)); r.status != http.StatusForbidden {
			t.Fatalf("create: %d", r.status)
		}
	})
	t.Run("fail/sign in without the form's token", func(t *testing.T) {
		anon := newUIClient(t, ts)
		r := anon.post("/users/sign_in", url.Values{"login": {"root"}, "password": {rootPassword(ts)}})
		if r.status != http.StatusForbidden {
			t.Fatalf("sign in: %d", r.status)
		}
		page := anon.get("/users/sign_in")
		r = anon.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, page.body) + "x"}, "login": {"root"}, "password": {rootPassword(ts)}})
		if r.status != http.StatusForbidden {
			t.Fatalf("sign in with a wrong token: %d", r.status)
		}
	})
	t.Run("ok/right token", func(t *testing.T) {
		if r := u.post(createPath(top), form(good)); r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	})
}

var (
	newUsernameRE = regexp.MustCompile(`id="new-token-username" type="text" readonly value="([^"]+)"`)
	newTokenRE    = regexp.MustCompile(`id="new-token-value" type="text" readonly value="([^"]+)"`)
)

func TestCreateAndRevokeOverHTTP(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	u, token := signIn(t, ts, "root", rootPassword(ts))

	r := u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"deploy <b>bold</b>"},
		"username": {"ci-bot"}, "expires_at": {time.Now().AddDate(1, 0, 0).Format("2006-01-02")},
		"scopes": {"read_repository", "read_registry"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	user, secret := newUsernameRE.FindStringSubmatch(r.body), newTokenRE.FindStringSubmatch(r.body)
	if user == nil || secret == nil || user[1] != "ci-bot" || !strings.HasPrefix(secret[1], "gldt-") {
		t.Fatalf("new token not shown: %v %v", user, secret)
	}
	mustContain(t, "created", r.body, "You cannot see it again", "Copy token", "deploy &lt;b&gt;bold&lt;/b&gt;")
	if strings.Contains(r.body, "<b>bold</b>") {
		t.Error("token name rendered unescaped")
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("the page with the secret may be cached")
	}
	// The secret is shown once: the settings page does not carry it.
	page := u.get(settingsPath(top.FullPath))
	if strings.Contains(page.body, secret[1]) || strings.Contains(page.body, "new-token-value") {
		t.Fatal("the secret is shown again")
	}
	mustContain(t, "settings", page.body, "Active Deploy Tokens (1)", "<code>ci-bot</code>", "<code>read_repository</code>, <code>read_registry</code>")

	var list []struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/deploy_tokens", top.ID), nil, &list)
	if len(list) != 1 {
		t.Fatalf("tokens: %d", len(list))
	}
	id := list[0].ID
	revoke := revokePath("/"+top.FullPath, id)

	confirm := u.get(revoke)
	if confirm.status != http.StatusOK {
		t.Fatalf("confirmation page: %d", confirm.status)
	}
	mustContain(t, "confirmation", confirm.body, "This action cannot be undone", `action="`+revoke+`"`, "Cancel")
	// The token still works: only the POST revokes.
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, id), nil, nil)

	// A token is only reachable under its owner.
	if r := u.get(revokePath("/"+f.Projects["child"].FullPath, id)); r.status != http.StatusNotFound {
		t.Fatalf("fail/revoke under another project: %d", r.status)
	}
	r = u.post(revoke, url.Values{"authenticity_token": {csrf(t, confirm.body)}})
	if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, fmt.Sprintf("?revoked=%d", id)) {
		t.Fatalf("revoke: %d %q", r.status, r.location)
	}
	page = u.get(r.location)
	mustContain(t, "after revoke", page.body, "Active Deploy Tokens (0)", "Revoked and expired deploy tokens (1)", ">Revoked<", "no longer works")
	var got struct {
		Revoked bool `json:"revoked"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, id), nil, &got)
	if !got.Revoked {
		t.Fatal("token not revoked")
	}
	if logs := ts.Logs(); strings.Contains(logs, secret[1]) || strings.Contains(logs, rootPassword(ts)) {
		t.Fatal("a secret reached the logs")
	}
	var events []struct {
		EventName string `json:"event_name"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/audit_events", top.ID), nil, &events)
	names := fmt.Sprint(events)
	for _, want := range []string{"deploy_token_created", "deploy_token_revoked"} {
		if !strings.Contains(names, want) {
			t.Errorf("audit events %s lack %s", names, want)
		}
	}
}

func TestBadInputKeepsValues(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"].FullPath
	u, token := signIn(t, ts, "root", rootPassword(ts))
	ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", f.Projects["child"].ID), []string{"read_repository"}, map[string]any{"username": "taken-name"})
	yesterday := time.Now().AddDate(0, 0, -1).Format("2006-01-02")
	cases := []struct {
		name  string
		form  url.Values
		wants []string
	}{
		{"fail/missing name", url.Values{"scopes": {"read_repository"}, "username": {"kept-user"}},
			[]string{"Name is missing.", `value="kept-user"`, `id="deploy-token-scope-read_repository" name="scopes" value="read_repository" checked`}},
		{"fail/no scope", url.Values{"name": {"kept-name"}},
			[]string{"Select at least one scope.", `value="kept-name"`, `id="scopes-error"`}},
		{"fail/past date", url.Values{"name": {"n"}, "expires_at": {yesterday}, "scopes": {"read_registry"}},
			[]string{"Expiration date must be in the future.", `value="` + yesterday + `"`, `aria-invalid="true"`}},
		{"fail/taken username", url.Values{"name": {"n"}, "username": {"taken-name"}, "scopes": {"read_repository"}},
			[]string{"Username has already been taken.", `value="taken-name"`}},
		{"fail/everything", url.Values{"username": {"bad name!"}, "expires_at": {"not-a-date"}},
			[]string{"Name is missing.", "Select at least one scope.", "Expiration date is invalid", "Username can contain only"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.form.Set("authenticity_token", token)
			r := u.post(createPath(top), c.form)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", r.status)
			}
			mustContain(t, c.name, r.body, append(c.wants, `role="alert"`, "<details class=\"add-token\" id=\"add-token\" open>")...)
			if strings.Contains(r.body, "new-token-value") {
				t.Fatal("a token was shown")
			}
		})
	}
	var list []any
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID), nil, &list)
	if len(list) != 0 {
		t.Fatalf("bad input created %d tokens", len(list))
	}
}

func TestWhoMaySeeTokenSettings(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top, child := f.Projects["top"], f.Projects["child"]
	const pw = "password-1234"
	dev := createUser(t, ts, "dev", pw)
	maint := createUser(t, ts, "maint", pw)
	createUser(t, ts, "outsider", pw)
	addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), dev, 30)
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), maint, 40)
	groupToken := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)

	t.Run("developer", func(t *testing.T) {
		u, token := signIn(t, ts, "dev", pw)
		if r := u.get("/" + top.FullPath); r.status != http.StatusOK || strings.Contains(r.body, "/-/settings/repository") {
			t.Fatalf("ok/project page without a settings link: %d", r.status)
		}
		if r := u.get(settingsPath(top.FullPath)); r.status != http.StatusNotFound {
			t.Fatalf("fail/settings: %d", r.status)
		}
		if r := u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"x"}, "scopes": {"read_repository"}}); r.status != http.StatusNotFound {
			t.Fatalf("fail/create: %d", r.status)
		}
		if r := u.get("/" + child.FullPath); r.status != http.StatusNotFound {
			t.Fatalf("fail/other project: %d", r.status)
		}
	})
	t.Run("outsider", func(t *testing.T) {
		u, _ := signIn(t, ts, "outsider@example.com", pw)
		for _, p := range []string{"/" + top.FullPath, settingsPath(top.FullPath), "/groups/group", "/groups/group/-/settings/repository",
			revokePath("/groups/group", groupToken.ID)} {
			if r := u.get(p); r.status != http.StatusNotFound {
				t.Errorf("fail/%s: %d", p, r.status)
			}
		}
		home := u.get("/")
		if strings.Contains(home.body, top.FullPath) {
			t.Error("home lists a project the outsider cannot see")
		}
	})
	t.Run("group maintainer", func(t *testing.T) {
		u, token := signIn(t, ts, "maint", pw)
		// Inherited maintainer: manages the project's tokens.
		r := u.post(createPath(child.FullPath), url.Values{"authenticity_token": {token}, "name": {"m"}, "scopes": {"read_repository"}})
		if r.status != http.StatusCreated {
			t.Fatalf("ok/create on a project below: %d", r.status)
		}
		// The group's tokens: listed, but only owners manage them (SPEC §2).
		r = u.get("/groups/group/-/settings/repository")
		if r.status != http.StatusOK || strings.Contains(r.body, "Create deploy token") || strings.Contains(r.body, "/revoke") {
			t.Fatalf("ok/group list without management: %d", r.status)
		}
		mustContain(t, "group list", html.UnescapeString(r.body), groupToken.Username, "Only group owners")
		if r := u.post("/groups/group/-/settings/repository/deploy_token/create", url.Values{"authenticity_token": {token},
			"name": {"x"}, "scopes": {"read_repository"}}); r.status != http.StatusForbidden {
			t.Fatalf("fail/group create: %d", r.status)
		}
		if r := u.post(revokePath("/groups/group", groupToken.ID), url.Values{"authenticity_token": {token}}); r.status != http.StatusForbidden {
			t.Fatalf("fail/group revoke: %d", r.status)
		}
	})
}

func TestRoutesLeaveOtherProtocolsAlone(t *testing.T) {
	cases := map[string]bool{
		"/":                                      true,
		"/users/sign_in":                         true,
		"/assets/gatehouse.css":                  true,
		"/group/top":                             true,
		"/group/sub/child/-/settings/repository": true,
		"/groups/group":                          true,
		"/groups/group/sub/-/settings/repository":                 true,
		"/groups/group/-/settings/repository/deploy_token/create": true,
		"/group/top/-/deploy_tokens/12/revoke":                    true,
		"/group/top.git/info/refs":                                false,
		"/group/top.git/git-upload-pack":                          false,
		"/v2/":                                                    false,
		"/v2/group/top/manifests/latest":                          false,
		"/api/v4/projects":                                        false,
		"/jwt/auth":                                               false,
		"/-/health":                                               false,
		"/group":                                                  false,
		"/group/top/-/archive/main/top-main.tar.gz":               false,
		"/group/top/-/raw/main/README.md":                         false,
		"/group/top/-/deploy_tokens/012/revoke":                   false,
		"/group/top/-/deploy_tokens/x/revoke":                     false,
		"/group/../top":                                           false,
	}
	for p, want := range cases {
		if got := web.Handles(p); got != want {
			t.Errorf("Handles(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestSignInRateLimit(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.AuthBan.ExemptLoopback = false
		c.AuthBan.MaxFailures = 3
	})
	u := newUIClient(t, ts)
	page := u.get("/users/sign_in")
	for i := 1; i <= 3; i++ {
		r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, page.body)}, "login": {"root"}, "password": {"wrong"}})
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("attempt %d: %d, want %d", i, r.status, want)
		}
		page = r
	}
	r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, page.body)}, "login": {"root"}, "password": {rootPassword(ts)}})
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed sign-in attempts") {
		t.Fatalf("fail/right password while banned: %d", r.status)
	}
	ts.Clock.Advance(2 * time.Hour)
	page = u.get("/users/sign_in")
	r = u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, page.body)}, "login": {"root"}, "password": {rootPassword(ts)}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("ok/after the ban: %d", r.status)
	}
}

func TestSecureCookiesWithHTTPS(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) { c.ExternalURL = "https://gatehouse.example" })
	u := newUIClient(t, ts)
	u.base = "http://" + ts.Server.Config.Listen
	page := u.get("/users/sign_in")
	if c := page.header.Get("Set-Cookie"); !strings.HasPrefix(c, "__Host-gatehouse_sign_in=") || !strings.Contains(c, "Secure") {
		t.Fatalf("sign-in cookie: %q", c)
	}
	// The jar keeps Secure cookies off plain http, so send the pair by hand.
	cookie := strings.SplitN(page.header.Get("Set-Cookie"), ";", 2)[0]
	req, err := http.NewRequest(http.MethodPost, u.base+"/users/sign_in", strings.NewReader(url.Values{
		"authenticity_token": {csrf(t, page.body)}, "login": {"root"}, "password": {rootPassword(ts)}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie)
	r := u.do(req)
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	var session string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-gatehouse_session=") {
			session = c
		}
	}
	for _, attr := range []string{"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(session, attr) {
			t.Errorf("session cookie lacks %s: %q", attr, session)
		}
	}
	if strings.Contains(session, "Domain=") {
		t.Errorf("__Host- cookie with a Domain: %q", session)
	}
}
