package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// call is one raw HTTP request against the API, with full control over headers and body.
type call struct {
	method  string
	path    string // below /api/v4
	headers map[string]string
	body    string // raw body
	ctype   string // Content-Type of body
}

// result is a raw answer.
type result struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer into v, failing the test on bad JSON.
func (r result) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %q: %v", r.body, err)
	}
}

// message returns the text of an error answer, in whichever of GitLab's shapes it came: a
// {"message": "…"} string, a model's {"message": {"field": ["reason", …]}} as "field reason", or
// Grape's {"error": "…"}.
func (r result) message(tb testing.TB) string {
	tb.Helper()
	var m struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	r.json(tb, &m)
	var s string
	if json.Unmarshal(m.Message, &s) == nil {
		return s
	}
	var fields map[string][]string
	if json.Unmarshal(m.Message, &fields) == nil && len(fields) > 0 {
		var parts []string
		for f, reasons := range fields {
			for _, why := range reasons {
				parts = append(parts, f+" "+why)
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, "; ")
	}
	return m.Error
}

func do(tb testing.TB, ts *testenv.TestServer, c call) result {
	tb.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, ts.URL+"/api/v4"+c.path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: raw}
}

// asPAT sends a JSON body (nil for none) with PRIVATE-TOKEN pat.
func asPAT(tb testing.TB, ts *testenv.TestServer, pat, method, path string, body any) result {
	tb.Helper()
	c := call{method: method, path: path, headers: map[string]string{}}
	if pat != "" {
		c.headers["PRIVATE-TOKEN"] = pat
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		c.body, c.ctype = string(b), "application/json"
	}
	return do(tb, ts, c)
}

// mustStatus fails the test unless r has status want.
func mustStatus(tb testing.TB, r result, want int, what string) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.body)
	}
}

// user is a non-admin account with a personal access token.
type user = testenv.User

// newUser creates a user as root and gives it a personal access token with scopes (default api).
func newUser(tb testing.TB, ts *testenv.TestServer, username string, scopes ...string) user {
	tb.Helper()
	return ts.CreateUser(tb, username, scopes...)
}

// addMember gives u the access level on "groups/<id>" or "projects/<id>".
func addMember(tb testing.TB, ts *testenv.TestServer, on string, u user, level int) {
	tb.Helper()
	ts.MustAPI(tb, http.StatusCreated, "POST", "/"+on+"/members", map[string]any{"user_id": u.ID, "access_level": level}, nil)
}

// deployTokenView is the API's deploy-token shape, with Token a pointer so "absent" is visible.
type deployTokenView struct {
	ID        int64    `json:"id"`
	Name      string   `json:"name"`
	Username  string   `json:"username"`
	ExpiresAt *string  `json:"expires_at"`
	Scopes    []string `json:"scopes"`
	Revoked   bool     `json:"revoked"`
	Expired   bool     `json:"expired"`
	Token     *string  `json:"token"`
}

// ids returns the ids of a token list.
func ids(list []deployTokenView) []int64 {
	out := make([]int64, 0, len(list))
	for _, t := range list {
		out = append(out, t.ID)
	}
	return out
}

func containsID(list []deployTokenView, id int64) bool {
	for _, t := range list {
		if t.ID == id {
			return true
		}
	}
	return false
}

// hasKey reports whether the raw JSON object has the key.
func hasKey(tb testing.TB, raw []byte, key string) bool {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(raw), &m); err != nil {
		tb.Fatalf("decode %q: %v", raw, err)
	}
	_, ok := m[key]
	return ok
}
