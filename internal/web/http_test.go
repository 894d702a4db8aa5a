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
	// A username another token has is accepted (custom usernames are not unique, as in GitLab),
	// and a past date refused by the form only (the API accepts it; docs/design.md §2.6).
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
		{"fail/username of a user in another case", url.Values{"name": {"n"}, "username": {"ROOT"}, "scopes": {"read_registry"}},
			[]string{"Username has already been taken.", `value="ROOT"`}},
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
		// The group's tokens: listed, but only owners manage them (docs/design.md §2.10).
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
		"/group/top/-/deploy_tokens/12/rotate":                    true,
		"/group/top/-/deploy_tokens/12/usage":                     true,
		"/group/top/-/audit_events":                               true,
		"/groups/group/-/audit_events":                            true,
		"/group/top/-/deploy_tokens/12/destroy":                   false,
		"/group/top/-/audit_events/x":                             false,
		"/group/top.git/info/refs":                                false,
		"/group/top.git/git-upload-pack":                          false,
		"/v2/":                                                    false,
		"/v2/group/top/manifests/latest":                          false,
		"/api/v4/projects":                                        false,
		"/jwt/auth":                                               false,
		"/-/health":                                               false,
		"/group":                                                  false,
		"/group/top/-/archive/main/top-main.tar.gz":               true, // the repository browser (project_pages.go)
		"/group/top/-/raw/main/README.md":                         true,
		"/group/top/-/raw":                                        false,
		"/group/top/-/archive/main":                               false,
		"/groups/group/-/tree/main":                               false,
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

// tokenIDs lists the ids of an owner's ("projects/<id>" or "groups/<id>") tokens by name, through the API.
func tokenIDs(t *testing.T, ts *testenv.TestServer, owner string) map[string]int64 {
	t.Helper()
	var list []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", "/"+owner+"/deploy_tokens", nil, &list)
	out := map[string]int64{}
	for _, tok := range list {
		out[tok.Name] = tok.ID
	}
	return out
}

func TestRotateOverHTTP(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := "/" + top.FullPath
	owner := fmt.Sprintf("projects/%d", top.ID)
	u, csrfToken := signIn(t, ts, "root", rootPassword(ts))

	t.Run("ok/rotate with a 1 hour grace period", func(t *testing.T) {
		old := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		settings := u.get(settingsPath(top.FullPath))
		mustContain(t, "settings", settings.body, `href="`+rotatePath(base, old.ID)+`"`, `aria-label="Rotate test-`)
		page := u.get(rotatePath(base, old.ID))
		if page.status != http.StatusOK {
			t.Fatalf("rotation page: %d", page.status)
		}
		mustContain(t, "rotation page", page.body, "<legend>Grace period for the current token</legend>",
			`<input type="radio" id="grace-0" name="grace_period" value="0" checked>`, `<label for="grace-0">None`,
			`value="3600"`, `<label for="grace-86400">1 day</label>`, `<label for="grace-604800">7 days</label>`,
			`action="`+rotatePath(base, old.ID)+`"`, `name="authenticity_token"`)
		if st := ts.InfoRefs(t, top.FullPath, old.Username, old.Token).Status; st != http.StatusOK {
			t.Fatalf("the GET rotated the token: old secret %d", st)
		}

		r := u.post(rotatePath(base, old.ID), url.Values{"authenticity_token": {csrf(t, page.body)}, "grace_period": {"3600"}})
		if r.status != http.StatusOK {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		user, secret := newUsernameRE.FindStringSubmatch(r.body), newTokenRE.FindStringSubmatch(r.body)
		if user == nil || secret == nil || html.UnescapeString(user[1]) != old.Username || !strings.HasPrefix(secret[1], "gldt-") || secret[1] == old.Token {
			t.Fatalf("new secret not shown: %v", user)
		}
		mustContain(t, "rotated", html.UnescapeString(r.body), "New token for test-", "You cannot see it again", "Copy token",
			"The previous token keeps working until")
		if r.header.Get("Cache-Control") != "no-store" {
			t.Error("the page with the secret may be cached")
		}
		if again := u.get(settingsPath(top.FullPath)); strings.Contains(again.body, secret[1]) {
			t.Fatal("the new secret is shown again")
		}

		for name, s := range map[string]string{"old": old.Token, "new": secret[1]} {
			if st := ts.InfoRefs(t, top.FullPath, old.Username, s).Status; st != http.StatusOK {
				t.Fatalf("%s secret within the grace period: %d", name, st)
			}
		}
		ts.Clock.Advance(time.Hour + time.Second)
		if st := ts.InfoRefs(t, top.FullPath, old.Username, old.Token).Status; st != http.StatusUnauthorized {
			t.Fatalf("fail/old secret after the grace period: %d, want 401", st)
		}
		if st := ts.InfoRefs(t, top.FullPath, old.Username, secret[1]).Status; st != http.StatusOK {
			t.Fatalf("new secret after the grace period: %d", st)
		}
		if logs := ts.Logs(); strings.Contains(logs, secret[1]) || strings.Contains(logs, old.Token) {
			t.Fatal("a secret reached the logs")
		}
	})
	t.Run("ok/rotate without a grace period", func(t *testing.T) {
		old := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		r := u.post(rotatePath(base, old.ID), url.Values{"authenticity_token": {csrfToken}, "grace_period": {"0"}})
		secret := newTokenRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || secret == nil {
			t.Fatalf("rotate: %d", r.status)
		}
		mustContain(t, "rotated", r.body, "The previous token no longer works.")
		if st := ts.InfoRefs(t, top.FullPath, old.Username, old.Token).Status; st != http.StatusUnauthorized {
			t.Fatalf("fail/old secret: %d, want 401", st)
		}
		if st := ts.InfoRefs(t, top.FullPath, old.Username, secret[1]).Status; st != http.StatusOK {
			t.Fatalf("new secret: %d", st)
		}
	})
	t.Run("fail/grace period out of range or not a number", func(t *testing.T) {
		old := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		for value, want := range map[string]string{"604801": "Grace period must be between 0 and 7 days.", "-1": "Grace period must be between 0 and 7 days.",
			"soon": "Grace period is invalid.", "": "Grace period is invalid.", "18446744074": "Grace period must be between 0 and 7 days."} {
			r := u.post(rotatePath(base, old.ID), url.Values{"authenticity_token": {csrfToken}, "grace_period": {value}})
			if r.status != http.StatusUnprocessableEntity || strings.Contains(r.body, "new-token-value") {
				t.Fatalf("grace %q: %d", value, r.status)
			}
			mustContain(t, "grace "+value, r.body, want, `role="alert"`, `<legend>Grace period`)
		}
		if st := ts.InfoRefs(t, top.FullPath, old.Username, old.Token).Status; st != http.StatusOK {
			t.Fatalf("a refused rotation changed the secret: %d", st)
		}
	})
	t.Run("fail/revoked token and another owner's token", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		if err := ts.Server.Deploy.Revoke(t.Context(), tok.ID); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"GET", "POST"} {
			var r response
			if m == "GET" {
				r = u.get(rotatePath(base, tok.ID))
			} else {
				r = u.post(rotatePath(base, tok.ID), url.Values{"authenticity_token": {csrfToken}, "grace_period": {"0"}})
			}
			if r.status != http.StatusSeeOther || r.location != settingsPath(top.FullPath) {
				t.Fatalf("%s revoked: %d %q", m, r.status, r.location)
			}
		}
		other := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", f.Projects["child"].ID), []string{"read_repository"}, nil)
		if r := u.post(rotatePath(base, other.ID), url.Values{"authenticity_token": {csrfToken}, "grace_period": {"0"}}); r.status != http.StatusNotFound {
			t.Fatalf("another project's token: %d", r.status)
		}
	})
	t.Run("ok/group token with a group owner; maintainers may not", func(t *testing.T) {
		const pw = "password-1234"
		maint := createUser(t, ts, "maint", pw)
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), maint, 40)
		tok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
		m, mToken := signIn(t, ts, "maint", pw)
		if r := m.get("/groups/group/-/settings/repository"); strings.Contains(r.body, "/rotate") {
			t.Fatal("a group maintainer is offered Rotate")
		}
		if r := m.get(rotatePath("/groups/group", tok.ID)); r.status != http.StatusForbidden {
			t.Fatalf("fail/maintainer rotation page: %d", r.status)
		}
		if r := m.post(rotatePath("/groups/group", tok.ID), url.Values{"authenticity_token": {mToken}, "grace_period": {"0"}}); r.status != http.StatusForbidden {
			t.Fatalf("fail/maintainer rotates: %d", r.status)
		}
		r := u.post(rotatePath("/groups/group", tok.ID), url.Values{"authenticity_token": {csrfToken}, "grace_period": {"86400"}})
		secret := newTokenRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || secret == nil {
			t.Fatalf("owner rotates: %d", r.status)
		}
		deep := f.Projects["grandchild"].FullPath
		if st := ts.InfoRefs(t, deep, tok.Username, secret[1]).Status; st != http.StatusOK {
			t.Fatalf("rotated group token on a project below: %d", st)
		}
	})
}

func TestAllowedIPsOverHTTP(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	owner := fmt.Sprintf("projects/%d", top.ID)
	u, token := signIn(t, ts, "root", rootPassword(ts))

	// The API's message for the same input, so both say the same thing.
	apiMessage := func(allowed []string) string {
		var msg struct {
			Message string `json:"message"`
		}
		if st := ts.API(t, "POST", "/"+owner+"/deploy_tokens", map[string]any{"name": "x", "scopes": []string{"read_repository"},
			"allowed_ips": allowed}, &msg); st != http.StatusBadRequest {
			t.Fatalf("API with allowed_ips %v: %d", allowed, st)
		}
		reason, ok := strings.CutPrefix(msg.Message, "allowed_ips ")
		if !ok {
			t.Fatalf("API message %q", msg.Message)
		}
		return reason
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("10.0.%d.1", i)
	}
	cases := []struct {
		name  string
		typed string
		api   []string
	}{
		{"fail/not an address", "10.0.0.1\nnot-an-ip", []string{"10.0.0.1", "not-an-ip"}},
		{"fail/bad prefix", "192.0.2.0/33", []string{"192.0.2.0/33"}},
		{"fail/more than 100 entries", strings.Join(many, ", "), many},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := "The allowed IP list " + apiMessage(c.api)
			r := u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"kept"}, "scopes": {"read_repository"},
				"allowed_ips": {c.typed}})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", r.status)
			}
			body := html.UnescapeString(r.body)
			mustContain(t, c.name, body, want, `id="deploy-token-allowed-ips-error"`, `aria-invalid="true"`, ">"+c.typed+"</textarea>",
				`value="kept"`, `role="alert"`)
		})
	}
	if ids := tokenIDs(t, ts, owner); len(ids) != 0 {
		t.Fatalf("bad allow-lists created %v", ids)
	}

	t.Run("ok/allowed from here, refused from elsewhere", func(t *testing.T) {
		r := u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"here"}, "scopes": {"read_repository"},
			"allowed_ips": {" 127.0.0.1\r\n10.0.0.0/8, 2001:db8::1 \n"}})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		user, secret := html.UnescapeString(newUsernameRE.FindStringSubmatch(r.body)[1]), newTokenRE.FindStringSubmatch(r.body)[1]
		var got struct {
			AllowedIPs []string `json:"allowed_ips"`
		}
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/%s/deploy_tokens/%d", owner, tokenIDs(t, ts, owner)["here"]), nil, &got)
		if strings.Join(got.AllowedIPs, " ") != "127.0.0.1/32 10.0.0.0/8 2001:db8::1/128" {
			t.Fatalf("allowed_ips = %v", got.AllowedIPs)
		}
		if st := ts.InfoRefs(t, top.FullPath, user, secret).Status; st != http.StatusOK {
			t.Fatalf("git from 127.0.0.1: %d", st)
		}
		page := u.get(settingsPath(top.FullPath))
		mustContain(t, "settings", page.body, "Only from <code>127.0.0.1/32</code>, <code>10.0.0.0/8</code>, <code>2001:db8::1/128</code>")

		r = u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"elsewhere"}, "scopes": {"read_repository"},
			"allowed_ips": {"192.0.2.0/24"}})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d", r.status)
		}
		if st := ts.InfoRefs(t, top.FullPath, html.UnescapeString(newUsernameRE.FindStringSubmatch(r.body)[1]), newTokenRE.FindStringSubmatch(r.body)[1]).Status; st != http.StatusForbidden {
			t.Fatalf("fail/git from outside the allow-list: %d, want 403", st)
		}
	})
}

func TestLastUsedAndUsageOverHTTP(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := "/" + top.FullPath
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
	u, _ := signIn(t, ts, "root", rootPassword(ts))

	page := u.get(settingsPath(top.FullPath))
	mustContain(t, "unused", page.body, `<td class="last-used">Never`, `href="`+usagePath(base, tok.ID)+`"`)
	for range 3 {
		if st := ts.InfoRefs(t, top.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
			t.Fatalf("git: %d", st)
		}
	}
	ts.Server.Usage.Flush()
	page = u.get(settingsPath(top.FullPath))
	mustContain(t, "used", page.body, "<br>from <code>127.0.0.1</code>")

	usage := u.get(usagePath(base, tok.ID))
	if usage.status != http.StatusOK {
		t.Fatalf("usage: %d", usage.status)
	}
	today := ts.Clock.Now().UTC().Format("2006-01-02")
	mustContain(t, "usage", usage.body, `<th scope="col">Date (UTC)</th>`, `<th scope="col" class="num">Requests</th>`, "<caption",
		`<tr><th scope="row"><time datetime="`+today+`">`+today+`</time></th><td class="num">3</td><td class="num">0</td></tr>`,
		"from <code>127.0.0.1</code>", "3 in all")
	if n := strings.Count(usage.body, `<tr><th scope="row"><time`); n != 30 {
		t.Fatalf("usage rows: %d, want 30", n)
	}
	if i := strings.Index(usage.body, today); i < 0 || i > strings.Index(usage.body, ts.Clock.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")) {
		t.Error("usage is not newest first")
	}
	if strings.Contains(usage.body, tok.Token) {
		t.Fatal("the usage view shows the secret")
	}

	t.Run("fail/not found under another project", func(t *testing.T) {
		if r := u.get(usagePath("/"+f.Projects["child"].FullPath, tok.ID)); r.status != http.StatusNotFound {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("fail/developer", func(t *testing.T) {
		dev := createUser(t, ts, "dev", "password-1234")
		addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), dev, 30)
		d, _ := signIn(t, ts, "dev", "password-1234")
		if r := d.get(usagePath(base, tok.ID)); r.status != http.StatusNotFound {
			t.Fatalf("%d", r.status)
		}
	})
}

func TestAuditEventsPage(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := "/" + top.FullPath
	owner := fmt.Sprintf("projects/%d", top.ID)
	u, token := signIn(t, ts, "root", rootPassword(ts))

	// Through the UI: a failed creation, a creation, a rotation and a revocation; then a refused use.
	if r := u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"broken"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("failed create: %d", r.status)
	}
	r := u.post(createPath(top.FullPath), url.Values{"authenticity_token": {token}, "name": {"audited"}, "username": {"audit-bot"},
		"scopes": {"read_repository"}, "allowed_ips": {"192.0.2.0/24"}})
	created := newTokenRE.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || created == nil {
		t.Fatalf("create: %d", r.status)
	}
	id := tokenIDs(t, ts, owner)["audited"]
	r = u.post(rotatePath(base, id), url.Values{"authenticity_token": {token}, "grace_period": {"3600"}})
	rotated := newTokenRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || rotated == nil {
		t.Fatalf("rotate: %d", r.status)
	}
	if st := ts.InfoRefs(t, top.FullPath, "audit-bot", rotated[1]).Status; st != http.StatusForbidden {
		t.Fatalf("git outside the allow-list: %d", st)
	}
	if r := u.post(revokePath(base, id), url.Values{"authenticity_token": {token}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}

	settings := u.get(settingsPath(top.FullPath))
	mustContain(t, "settings", settings.body, `<a href="`+auditPath(base)+`" id="audit-events-link">Audit events</a>`)
	page := u.get(auditPath(base))
	if page.status != http.StatusOK {
		t.Fatalf("audit page: %d", page.status)
	}
	body := html.UnescapeString(page.body)
	mustContain(t, "audit page", body, `<th scope="col">Time</th>`, `<th scope="col">Event</th>`, `<th scope="col">Actor</th>`,
		`<th scope="col">Deploy token</th>`, `<th scope="col">IP address</th>`, "<caption", "Showing events 1–5 of 5.",
		"Deploy token revoked", "Deploy token refused", "Deploy token rotated", "Deploy token created", "Deploy token creation failed",
		"audited<br><code>audit-bot</code>", "<code>127.0.0.1</code>", "username audit-bot, grace period 3600s", "<td>root</td>", "Select at least one scope.")
	// Newest first.
	order := []string{"deploy_token_revoked", "deploy_token_refused", "deploy_token_rotated", "deploy_token_created", "deploy_token_creation_failed"}
	last := -1
	for _, typ := range order {
		i := strings.Index(body, "<code class=\"muted\">"+typ+"</code>")
		if i < last {
			t.Fatalf("events are not newest first: %s at %d after %d", typ, i, last)
		}
		last = i
	}
	for _, s := range []string{created[1], rotated[1], "gldt-"} {
		if strings.Contains(page.body, s) {
			t.Fatal("the audit page shows a secret")
		}
	}

	t.Run("ok/paginated", func(t *testing.T) {
		for i := range 20 { // failed creations through the API are audited too
			ts.API(t, "POST", "/"+owner+"/deploy_tokens", map[string]any{"name": fmt.Sprintf("bad-%02d", i), "scopes": []string{"nope"}}, nil)
		}
		first := html.UnescapeString(u.get(auditPath(base)).body)
		mustContain(t, "page 1", first, "Showing events 1–20 of 25.", `aria-label="Pagination"`, `href="`+auditPath(base)+`?page=2" rel="next"`,
			"Page 1 of 2", "bad-19")
		if strings.Contains(first, "rel=\"prev\"") || strings.Contains(first, "deploy_token_revoked") {
			t.Error("page 1 has a previous page or the oldest events")
		}
		second := html.UnescapeString(u.get(auditPath(base) + "?page=2").body)
		mustContain(t, "page 2", second, "Showing events 21–25 of 25.", `rel="prev"`, "Page 2 of 2", "deploy_token_revoked", "deploy_token_creation_failed")
		if strings.Contains(second, "bad-19") {
			t.Error("page 2 repeats page 1")
		}
		if r := u.get(auditPath(base) + "?page=99"); r.status != http.StatusOK || !strings.Contains(r.body, "Page 2 of 2") {
			t.Errorf("page 99: %d", r.status)
		}
	})

	t.Run("permissions", func(t *testing.T) {
		const pw = "password-1234"
		dev := createUser(t, ts, "dev", pw)
		maint := createUser(t, ts, "maint", pw)
		gowner := createUser(t, ts, "gowner", pw)
		createUser(t, ts, "outsider", pw)
		addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), dev, 30)
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), maint, 40)
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), gowner, 50)
		ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, map[string]any{"name": "group-audited"})
		groupAudit := auditPath("/groups/group")
		cases := []struct {
			login            string
			project, group   int
			groupSettingLink bool
		}{
			{"dev", http.StatusNotFound, http.StatusNotFound, false},
			{"outsider", http.StatusNotFound, http.StatusNotFound, false},
			// ReadAuditEvents: project maintainers and up; on a group, owners only (as the API).
			{"maint", http.StatusOK, http.StatusNotFound, false},
			{"gowner", http.StatusOK, http.StatusOK, true},
		}
		for _, c := range cases {
			t.Run(c.login, func(t *testing.T) {
				v, _ := signIn(t, ts, c.login, pw)
				if r := v.get(auditPath(base)); r.status != c.project {
					t.Errorf("project audit events: %d, want %d", r.status, c.project)
				}
				r := v.get(groupAudit)
				if r.status != c.group {
					t.Errorf("group audit events: %d, want %d", r.status, c.group)
				}
				if c.group == http.StatusOK {
					mustContain(t, "group audit", r.body, "Group deploy token created", "group-audited", "<td>root</td>")
				}
				if s := v.get("/groups/group/-/settings/repository"); strings.Contains(s.body, "audit-events-link") != c.groupSettingLink {
					t.Errorf("group settings audit link shown: %v", !c.groupSettingLink)
				}
			})
		}
		anon := newUIClient(t, ts)
		if r := anon.get(auditPath(base)); r.status != http.StatusSeeOther || !strings.Contains(r.location, "/users/sign_in") {
			t.Errorf("anonymous: %d %q", r.status, r.location)
		}
	})
}

func TestCSRFOnTokenActions(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := "/" + top.FullPath
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
	u, good := signIn(t, ts, "root", rootPassword(ts))
	_, otherToken := signIn(t, ts, "root", rootPassword(ts))
	for name, token := range map[string]string{"fail/no token": "", "fail/wrong token": "x", "fail/another session's token": otherToken} {
		t.Run(name, func(t *testing.T) {
			v := url.Values{"grace_period": {"0"}}
			if token != "" {
				v.Set("authenticity_token", token)
			}
			if r := u.post(rotatePath(base, tok.ID), v); r.status != http.StatusForbidden || strings.Contains(r.body, "new-token-value") {
				t.Fatalf("rotate: %d", r.status)
			}
		})
	}
	if st := ts.InfoRefs(t, top.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
		t.Fatalf("a refused POST rotated the token: %d", st)
	}
	t.Run("fail/no session", func(t *testing.T) {
		anon := newUIClient(t, ts)
		if r := anon.post(rotatePath(base, tok.ID), url.Values{"authenticity_token": {good}, "grace_period": {"0"}}); r.status != http.StatusForbidden {
			t.Fatalf("rotate: %d", r.status)
		}
	})
	t.Run("fail/read-only pages refuse POST", func(t *testing.T) {
		for _, p := range []string{usagePath(base, tok.ID), auditPath(base)} {
			r := u.post(p, url.Values{"authenticity_token": {good}})
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("POST %s: %d %q", p, r.status, r.header.Get("Allow"))
			}
		}
	})
	var events []struct {
		EventName string `json:"event_name"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/audit_events", top.ID), nil, &events)
	if strings.Contains(fmt.Sprint(events), "rotated") {
		t.Fatal("a refused POST was audited as a rotation")
	}
}

// TestScopesInGitLabOrder (issue 14, item 5): the token list and the create form's checkboxes
// show the scopes in GitLab's order, however the token was created with them.
func TestScopesInGitLabOrder(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"write_virtual_registry", "read_package_registry", "read_repository"}, nil)
	u, _ := signIn(t, ts, "root", rootPassword(ts))
	r := u.get(settingsPath(top.FullPath))
	if r.status != http.StatusOK {
		t.Fatalf("settings page: %d", r.status)
	}
	mustContain(t, "token list", r.body, "<code>read_repository</code>, <code>read_package_registry</code>, <code>write_virtual_registry</code>")
	order := []string{"read_repository", "read_registry", "write_registry", "read_package_registry", "write_package_registry",
		"read_virtual_registry", "write_virtual_registry"}
	last := -1
	for _, s := range order {
		i := strings.Index(r.body, `id="deploy-token-scope-`+s+`"`)
		if i < 0 || i < last {
			t.Fatalf("checkbox %s missing or not in GitLab's order %v", s, order)
		}
		last = i
	}
}
