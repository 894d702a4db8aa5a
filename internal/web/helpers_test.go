package web_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// uiClient is a cookie-keeping HTTP client that does not follow redirects, so tests see them.
type uiClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newUIClient(t *testing.T, ts *testenv.TestServer) *uiClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &uiClient{t: t, base: ts.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is a read response.
type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (u *uiClient) do(req *http.Request) response {
	u.t.Helper()
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (u *uiClient) get(path string) response {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.base+path, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	return u.do(req)
}

func (u *uiClient) post(path string, form url.Values) response {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

var csrfRE = regexp.MustCompile(`name="authenticity_token" value="([^"]+)"`)

// csrf returns the CSRF token in a page.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no authenticity_token in page:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// signIn signs in through the form and returns the client and a page's CSRF token.
func signIn(t *testing.T, ts *testenv.TestServer, login, password string) (*uiClient, string) {
	t.Helper()
	u := newUIClient(t, ts)
	form := u.get("/users/sign_in")
	if form.status != http.StatusOK {
		t.Fatalf("sign-in form: %d", form.status)
	}
	r := u.post("/users/sign_in", url.Values{"authenticity_token": {csrf(t, form.body)}, "login": {login}, "password": {password}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d %s", login, r.status, r.body)
	}
	home := u.get("/")
	if home.status != http.StatusOK {
		t.Fatalf("home after sign-in: %d", home.status)
	}
	return u, csrf(t, home.body)
}

func rootPassword(ts *testenv.TestServer) string { return ts.Server.Config.RootPassword.Reveal() }

// createUser makes a user through the API and returns its id.
func createUser(t *testing.T, ts *testenv.TestServer, username, password string) int64 {
	t.Helper()
	var u struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", "/users", map[string]any{"username": username, "email": username + "@example.com",
		"name": username, "password": password}, &u)
	return u.ID
}

// addMember gives a user a role (GitLab access level) on "groups/<id>" or "projects/<id>".
func addMember(t *testing.T, ts *testenv.TestServer, owner string, userID int64, level int) {
	t.Helper()
	ts.MustAPI(t, http.StatusCreated, "POST", "/"+owner+"/members", map[string]any{"user_id": userID, "access_level": level}, nil)
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

func settingsPath(fullPath string) string { return "/" + fullPath + "/-/settings/repository" }

func createPath(fullPath string) string { return settingsPath(fullPath) + "/deploy_token/create" }

func revokePath(base string, id int64) string {
	return fmt.Sprintf("%s/-/deploy_tokens/%d/revoke", base, id)
}

func rotatePath(base string, id int64) string {
	return fmt.Sprintf("%s/-/deploy_tokens/%d/rotate", base, id)
}

func usagePath(base string, id int64) string {
	return fmt.Sprintf("%s/-/deploy_tokens/%d/usage", base, id)
}

func auditPath(base string) string { return base + "/-/audit_events" }
