package server_test

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
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// surface is one credential-accepting endpoint, driven with real HTTP.
type surface struct {
	name string
	// wrong sends the i-th wrong credential; valid sends a right one. Both return the status.
	wrong, valid func(t *testing.T, i int) int
	// refused is how the surface answers a failure, and banned how it answers a banned address.
	refused, banned int
}

// get sends a GET to the server with the given headers (and basic auth when user or pass is set).
func get(t *testing.T, ts *testenv.TestServer, path string, headers map[string]string, user, pass string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

var signInCSRF = regexp.MustCompile(`name="authenticity_token" value="([^"]+)"`)

// webSignIn posts the sign-in form as a browser would and returns the status.
func webSignIn(t *testing.T, ts *testenv.TestServer, login, password string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ts.URL + "/users/sign_in")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := signInCSRF.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no authenticity_token on the sign-in page: %s", body)
	}
	resp, err = c.PostForm(ts.URL+"/users/sign_in", url.Values{"authenticity_token": {html.UnescapeString(m[1])},
		"login": {login}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEverySurfaceSharesTheBan drives each credential-accepting surface with wrong credentials
// until the ban, then checks that the surface refuses the right credentials and that Git (real
// git) refuses them too: one limiter, whichever surface the guesses came through (issue 11,
// item 3). Before, package endpoints and the REST API answered 401 forever.
func TestEverySurfaceSharesTheBan(t *testing.T) {
	const maxFailures = 3
	ts := testenv.StartServer(t, noLoopbackExemption, func(c *config.Config) { c.AuthBan.MaxFailures = maxFailures })
	f := ts.MakeFixture(t)
	p := f.Projects["grandchild"]
	pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository", "read_package_registry"}, nil)
	root := ts.RootToken
	bad := func(i int) string { return fmt.Sprintf("glpat-wrong-%02d-%s", i, strings.Repeat("x", 16)) }
	badDeploy := func(i int) string { return fmt.Sprintf("gldt-wrong-%02d-%s", i, strings.Repeat("x", 16)) }
	proj := fmt.Sprintf("/api/v4/projects/%d/packages", p.ID)
	// pkg is a package surface: the i-th wrong credential takes turns among the ways a package
	// client presents one (a password, Bearer, Private-Token, Deploy-Token).
	pkg := func(name, path string) surface {
		return surface{name: "package " + name, refused: http.StatusUnauthorized, banned: http.StatusForbidden,
			wrong: func(t *testing.T, i int) int {
				switch i % 4 {
				case 0:
					return get(t, ts, path, nil, "root", "not-the-password")
				case 1:
					return get(t, ts, path, map[string]string{"Authorization": "Bearer " + bad(i)}, "", "")
				case 2:
					return get(t, ts, path, map[string]string{"Private-Token": bad(i)}, "", "")
				}
				return get(t, ts, path, map[string]string{"Deploy-Token": badDeploy(i)}, "", "")
			},
			valid: func(t *testing.T, _ int) int {
				return get(t, ts, path, nil, tok.Username, tok.Token)
			}}
	}
	surfaces := []surface{
		{name: "git", refused: http.StatusUnauthorized, banned: http.StatusForbidden,
			wrong: func(t *testing.T, i int) int { return infoRefs(t, ts, p.FullPath, tok.Username, badDeploy(i)).status },
			valid: func(t *testing.T, _ int) int { return infoRefs(t, ts, p.FullPath, tok.Username, tok.Token).status }},
		{name: "/jwt/auth", refused: http.StatusUnauthorized, banned: http.StatusForbidden,
			wrong: func(t *testing.T, i int) int {
				return get(t, ts, "/jwt/auth?service=container_registry", nil, "root", bad(i))
			},
			valid: func(t *testing.T, _ int) int {
				return get(t, ts, "/jwt/auth?service=container_registry", nil, "root", root)
			}},
		pkg("generic", proj+"/generic/tool/1.0.0/tool.bin"),
		pkg("npm", proj+"/npm/left-pad"),
		pkg("maven", proj+"/maven/com/acme/core/1.0/core-1.0.pom"),
		pkg("pypi", proj+"/pypi/simple/requests/"),
		pkg("nuget", proj+"/nuget/query?q=acme"),
		pkg("goproxy", proj+"/go/example.com/mod/@v/list"),
		pkg("debian", proj+"/debian/dists/stable/Release"),
		pkg("helm", proj+"/helm/stable/index.yaml"),
		pkg("composer", proj+"/composer/archives/acme/tools.zip?sha="+strings.Repeat("a", 40)),
		pkg("terraform", "/api/v4/packages/terraform/modules/v1/group/vpc/aws/versions"),
		pkg("rubygems", proj+"/rubygems/specs.4.8.gz"),
		{name: "REST API", refused: http.StatusUnauthorized, banned: http.StatusForbidden,
			wrong: func(t *testing.T, i int) int {
				switch i % 3 {
				case 0:
					return get(t, ts, "/api/v4/user", map[string]string{"Private-Token": bad(i)}, "", "")
				case 1:
					return get(t, ts, "/api/v4/user", map[string]string{"Authorization": "Bearer " + bad(i)}, "", "")
				}
				// GitLab's private_token query parameter (issue 14, item 7).
				return get(t, ts, "/api/v4/user?private_token="+bad(i), nil, "", "")
			},
			valid: func(t *testing.T, _ int) int {
				return get(t, ts, "/api/v4/user", map[string]string{"Private-Token": root}, "", "")
			}},
		{name: "web sign-in", refused: http.StatusUnauthorized, banned: http.StatusTooManyRequests,
			wrong: func(t *testing.T, i int) int { return webSignIn(t, ts, fmt.Sprintf("nobody-%d", i), "wrong") },
			valid: func(t *testing.T, _ int) int { return webSignIn(t, ts, "root", ts.Server.Config.RootPassword.Reveal()) }},
	}
	// Archives and raw files take a package client's credentials (docs/design.md §6.2.1).
	archive, raw := pkg("", "/"+p.FullPath+"/-/archive/main/grandchild-main.tar.gz"), pkg("", "/"+p.FullPath+"/-/raw/main/README.md")
	archive.name, raw.name = "archive", "raw file"
	surfaces = append(surfaces, archive, raw)
	for _, s := range surfaces {
		t.Run("fail/"+s.name, func(t *testing.T) {
			ts.Clock.Advance(2 * time.Hour) // past the previous surface's ban
			if st := s.valid(t, 0); st == s.banned || st == s.refused {
				t.Fatalf("right credentials before any failure: status %d", st)
			}
			for i := 1; i <= maxFailures; i++ {
				want := s.refused
				if i == maxFailures {
					want = s.banned
				}
				if st := s.wrong(t, i); st != want {
					t.Fatalf("wrong credentials, attempt %d of %d: status %d, want %d", i, maxFailures, st, want)
				}
			}
			if st := s.valid(t, 0); st != s.banned {
				t.Fatalf("right credentials from the banned address: status %d, want %d", st, s.banned)
			}
			if r := infoRefs(t, ts, p.FullPath, tok.Username, tok.Token); r.status != http.StatusForbidden {
				t.Fatalf("git after a ban earned on %s: status %d, want 403", s.name, r.status)
			}
			if s.name == "git" {
				_, out, err := clone(t, ts.GitURL(p.FullPath, tok.Username, tok.Token))
				if err == nil || !strings.Contains(out, "403") {
					t.Fatalf("real git clone while banned: err %v\n%s", err, out)
				}
			}
		})
	}
	t.Run("ok/after the ban the right credentials work everywhere again", func(t *testing.T) {
		ts.Clock.Advance(2 * time.Hour)
		for _, s := range surfaces {
			if st := s.valid(t, 0); st == s.banned || st == s.refused {
				t.Errorf("%s: status %d after the ban ended", s.name, st)
			}
		}
		mustCloneReadme(t, ts, p.FullPath, tok.Username, tok.Token)
	})
}
