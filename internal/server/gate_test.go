package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/git"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/composer"
	"github.com/gatehouse-dev/gatehouse/internal/packages/debian"
	"github.com/gatehouse-dev/gatehouse/internal/packages/generic"
	"github.com/gatehouse-dev/gatehouse/internal/packages/goproxy"
	"github.com/gatehouse-dev/gatehouse/internal/packages/helm"
	"github.com/gatehouse-dev/gatehouse/internal/packages/maven"
	"github.com/gatehouse-dev/gatehouse/internal/packages/npm"
	"github.com/gatehouse-dev/gatehouse/internal/packages/nuget"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pypi"
	"github.com/gatehouse-dev/gatehouse/internal/packages/rubygems"
	"github.com/gatehouse-dev/gatehouse/internal/packages/terraform"
	"github.com/gatehouse-dev/gatehouse/internal/proxy"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/web"
)

// TestEveryRouteGoesThroughTheGate walks the route tables of the REST API, the web UI, Git,
// every package format, the token endpoint, the container registry and the dependency proxy,
// and sends each route as a signed-in user who is a member of nothing, through a front that records every check the gate makes (docs/architecture.md
// §3.3). A route that decides must have asked the gate for its declared action first; a listing
// must have filtered at the gate; a route for signed-in users only must refuse an anonymous
// request without asking anything; a public route asks nothing.
func TestEveryRouteGoesThroughTheGate(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	outsider := ts.CreateUser(t, "outsider")
	projectToken := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
	groupToken := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)

	rec := &gate.Recorder{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.Server.Handler().ServeHTTP(w, r.WithContext(gate.WithRecorder(r.Context(), rec)))
	}))
	t.Cleanup(front.Close)

	// send makes one request through the front with the recorder emptied first.
	send := func(t *testing.T, c *http.Client, method, path string, body url.Values, header map[string]string) (int, string) {
		t.Helper()
		rec.Reset()
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(body.Encode())
		}
		req, err := http.NewRequest(method, front.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	anonymous := &http.Client{CheckRedirect: noRedirect}

	// check asserts what the recorder saw for a route, given its rule.
	check := func(t *testing.T, rt gate.Route, status int) {
		t.Helper()
		checks := rec.Checks()
		var decided []gate.Check
		for _, c := range checks {
			if !c.Filter {
				decided = append(decided, c)
			}
		}
		switch {
		case rt.Action != "":
			if len(decided) == 0 {
				t.Fatalf("answered %d without a decision at the gate (checks: %+v)", status, checks)
			}
			if decided[0].Action != rt.Action {
				t.Fatalf("first decision is %s, the route table says %s", decided[0].Action, rt.Action)
			}
			// The further action follows, unless the refusal of the first ended the decisions.
			switch {
			case rt.Also == "":
			case len(decided) > 1 && decided[1].Action != rt.Also:
				t.Fatalf("second decision is %s, the route table says %s (checks: %+v)", decided[1].Action, rt.Also, checks)
			case len(decided) == 1 && decided[0].Decision.Allow():
				t.Fatalf("allowed %s and answered %d without deciding %s (checks: %+v)", rt.Action, status, rt.Also, checks)
			}
		case rt.Requested:
			if len(decided) == 0 {
				t.Fatalf("answered %d without deciding the requested actions at the gate (checks: %+v)", status, checks)
			}
		case rt.Filter != "":
			for _, c := range checks {
				if c.Filter && c.Action == rt.Filter {
					return
				}
			}
			t.Fatalf("a listing answered %d without filtering with %s at the gate (checks: %+v)", status, rt.Filter, checks)
		case rt.Why == "":
			t.Fatal("a route without an action must say why it needs none")
		case len(checks) > 0:
			t.Fatalf("a route that decides nothing asked the gate %+v", checks)
		}
	}

	t.Run("api", func(t *testing.T) {
		params := strings.NewReplacer("{user_id}", fmt.Sprint(outsider.ID), "{package_id}", "1", "{package_file_id}", "1",
			"{event_id}", "1", "{branch}", "main", "{tag_name}", "v1", "{file_path}", "README.md",
			"{group_id}", fmt.Sprint(f.OtherGroupID), "{project_id}", fmt.Sprint(top.ID))
		pathOf := func(pattern string) string {
			p := params.Replace(pattern)
			switch {
			case strings.HasPrefix(p, "/api/v4/projects/{id}"):
				p = strings.Replace(strings.Replace(p, "{id}", fmt.Sprint(top.ID), 1), "{token_id}", fmt.Sprint(projectToken.ID), 1)
			case strings.HasPrefix(p, "/api/v4/groups/{id}"):
				p = strings.Replace(strings.Replace(p, "{id}", fmt.Sprint(f.GroupID), 1), "{token_id}", fmt.Sprint(groupToken.ID), 1)
			case strings.HasPrefix(p, "/api/v4/users/{id}"):
				p = strings.Replace(p, "{id}", fmt.Sprint(outsider.ID), 1)
			case strings.HasPrefix(p, "/api/v4/namespaces/{id}"):
				p = strings.Replace(p, "{id}", fmt.Sprint(f.GroupID), 1)
			case p == "/api/v4/":
				p += "no/such/route"
			}
			p = strings.NewReplacer("{token_id}", "1", "{key}", "SOME_KEY").Replace(p)
			if strings.Contains(p, "{") {
				t.Fatalf("no value for a parameter of %s", pattern)
			}
			return p
		}
		for _, rt := range api.Routes() {
			t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
				method := rt.Method
				if method == "" {
					method = http.MethodGet
				}
				path := pathOf(rt.Pattern)
				if rt.SignedIn {
					if status, _ := send(t, anonymous, method, path, nil, nil); status != http.StatusUnauthorized || len(rec.Checks()) > 0 {
						t.Fatalf("anonymous: %d with checks %+v, want 401 and none", status, rec.Checks())
					}
				}
				var body url.Values
				if method != http.MethodGet {
					body = url.Values{}
				}
				pat := outsider.PAT
				if strings.HasPrefix(rt.Pattern, "/api/v4/personal_access_tokens/self") && method != http.MethodGet {
					// These revoke the token they are sent with: a throwaway one, not outsider.PAT.
					var tok struct {
						Token string `json:"token"`
					}
					ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", outsider.ID),
						map[string]any{"name": "throwaway", "scopes": []string{"api"}}, &tok)
					pat = tok.Token
				}
				status, _ := send(t, anonymous, method, path, body, map[string]string{"PRIVATE-TOKEN": pat})
				check(t, rt, status)
			})
		}
	})

	t.Run("web", func(t *testing.T) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		user := &http.Client{Jar: jar, CheckRedirect: noRedirect}
		token := regexp.MustCompile(`name="authenticity_token" value="([^"]+)"`)
		csrfOf := func(page string) string {
			m := token.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no CSRF token in %q", page)
			}
			return html.UnescapeString(m[1])
		}
		_, form := send(t, user, http.MethodGet, "/users/sign_in", nil, nil)
		if status, _ := send(t, user, http.MethodPost, "/users/sign_in", url.Values{"authenticity_token": {csrfOf(form)},
			"login": {outsider.Username}, "password": {"password-outsider"}}, nil); status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", status)
		}
		_, home := send(t, user, http.MethodGet, "/", nil, nil)
		csrf := csrfOf(home)
		for _, rt := range web.Routes() {
			t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
				p := strings.NewReplacer("{file}", "gatehouse.css").Replace(rt.Pattern)
				p = strings.ReplaceAll(p, "{username}", outsider.Username) // the Admin area's user pages
				if strings.HasPrefix(p, "/groups/") {
					p = strings.NewReplacer("{path}", "group", "{id}", fmt.Sprint(groupToken.ID)).Replace(p)
				} else {
					p = strings.NewReplacer("{path}", top.FullPath, "{id}", fmt.Sprint(projectToken.ID)).Replace(p)
				}
				c := user
				if rt.Action == "" && !rt.SignedIn {
					// Public routes (sign-in, sign-out) run without the session, which they could end.
					c = anonymous
				}
				if rt.SignedIn {
					// An anonymous POST carries no session's CSRF token: 403, not the redirect.
					want := http.StatusSeeOther
					if rt.Method == http.MethodPost {
						want = http.StatusForbidden
					}
					if status, _ := send(t, anonymous, rt.Method, p, nil, nil); status != want || len(rec.Checks()) > 0 {
						t.Fatalf("anonymous: %d with checks %+v, want %d and none", status, rec.Checks(), want)
					}
				}
				var body url.Values
				if rt.Method == http.MethodPost {
					body = url.Values{"authenticity_token": {csrf}}
				}
				status, _ := send(t, c, rt.Method, p, body, nil)
				check(t, rt, status)
			})
		}
	})

	t.Run("git", func(t *testing.T) {
		for _, rt := range git.Routes() {
			t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
				req, err := http.NewRequest(rt.Method, front.URL+strings.Replace(rt.Pattern, "{path}", top.FullPath, 1), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.SetBasicAuth(outsider.Username, outsider.PAT)
				rec.Reset()
				// Not following redirects: the advertisement without .git redirects to the .git
				// form, which is a route of its own.
				resp, err := anonymous.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				check(t, rt, resp.StatusCode)
			})
		}
	})

	// The package formats. Group- and instance-level routes decide on the one project of the
	// scope that holds the package, so top (in group) holds one of each format's; a name no
	// project holds is 404 with nothing to decide on.
	seed := func(t *testing.T, format packages.Format, name, version, file string) *packages.Recorded {
		t.Helper()
		rec, err := ts.Server.Packages.AddFile(context.Background(), packages.Upload{ProjectID: top.ID, Format: format,
			Name: name, Version: version, Filename: file, Size: -1, Body: strings.NewReader("content of " + file)})
		if err != nil {
			t.Fatalf("store %s %s: %v", format, name, err)
		}
		return rec
	}
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(outsider.Username+":"+outsider.PAT))}
	// walkPackages sends each route of a format's table with params filled in and {id} naming
	// top (project level) or group (group level), with header carrying the outsider's credential
	// as the format's clients send it. A project-level route decides on top; a route that decides
	// on a holder decides on a candidate it filtered at the gate first (pkghttp.Holder: top, or
	// for NuGet's group search any project of group). A pattern the format does not parse, or a
	// method it does not route there, decides nothing and fails.
	walkPackages := func(t *testing.T, routes []gate.Route, params *strings.Replacer, header map[string]string) {
		for _, rt := range routes {
			t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
				id := top.ID
				if strings.HasPrefix(rt.Pattern, "/api/v4/groups/") || strings.HasPrefix(rt.Pattern, "/api/v4/group/") {
					id = f.GroupID
				}
				p := strings.Replace(params.Replace(rt.Pattern), "{id}", fmt.Sprint(id), 1)
				if strings.Contains(p, "{") {
					t.Fatalf("no value for a parameter of %s", rt.Pattern)
				}
				status, _ := send(t, anonymous, rt.Method, p, nil, header)
				check(t, rt, status)
				if rt.Action == "" {
					return
				}
				cs := rec.Checks()
				candidates := map[int64]bool{top.ID: rt.Filter == ""}
				for _, c := range cs[:len(cs)-1] {
					if c.Filter && c.Action == rt.Filter && c.Resource.Project != nil {
						candidates[c.Resource.Project.ID] = true
					}
				}
				if d := cs[len(cs)-1]; d.Filter || d.Resource.Project == nil || !candidates[d.Resource.Project.ID] {
					t.Fatalf("the decision is not on the project the path names, nor on a candidate filtered with %q first (checks: %+v)", rt.Filter, cs)
				}
			})
		}
	}

	t.Run("generic packages", func(t *testing.T) {
		walkPackages(t, generic.Routes(), strings.NewReplacer("{name}", "app", "{version}", "1.0.0", "{file}", "app.txt"),
			map[string]string{"PRIVATE-TOKEN": outsider.PAT})
	})

	t.Run("npm packages", func(t *testing.T) {
		seed(t, packages.NPM, "@group/app", "1.0.0", "app-1.0.0.tgz")
		walkPackages(t, npm.Routes(), strings.NewReplacer("{name}", "@group%2fapp", "{file}", "app-1.0.0.tgz", "{tag}", "beta"),
			map[string]string{"Authorization": "Bearer " + outsider.PAT})
	})

	t.Run("pypi packages", func(t *testing.T) {
		file := seed(t, packages.PyPI, "app", "1.0.0", "app-1.0.0.tar.gz").File
		walkPackages(t, pypi.Routes(), strings.NewReplacer("{name}", "app", "{sha256}", file.SHA256, "{file}", file.Filename), basic)
	})

	t.Run("maven packages", func(t *testing.T) {
		// The instance level serves group/top/app from the project its path names, group/top.
		seed(t, packages.Maven, "group/top/app", "1.0", "app-1.0.jar")
		walkPackages(t, maven.Routes(), strings.NewReplacer("{groupPath}", "group/top", "{artifactId}", "app", "{version}", "1.0", "{file}", "app-1.0.jar"), basic)
	})

	t.Run("nuget packages", func(t *testing.T) {
		seed(t, packages.NuGet, "App", "1.0.0", "app.1.0.0.nupkg")
		walkPackages(t, nuget.Routes(), strings.NewReplacer("{package}", "app", "{version}", "1.0.0", "{file}", "app.1.0.0.nupkg"), basic)
	})

	t.Run("debian packages", func(t *testing.T) {
		seed(t, packages.Debian, "hello", "1.0", "hello_1.0_all.deb")
		walkPackages(t, debian.Routes(), strings.NewReplacer("{file}", "hello_1.0_all.deb", "{codename}", "stable", "{component}", "main",
			"{arch}", "amd64", "{letter}", "h", "{name}", "hello", "{version}", "1.0", "{project_id}", fmt.Sprint(top.ID)), basic)
	})

	t.Run("helm charts", func(t *testing.T) {
		seed(t, packages.Helm, "app", "1.0.0", "stable@app-1.0.0.tgz")
		walkPackages(t, helm.Routes(), strings.NewReplacer("{channel}", "stable", "{file}", "app-1.0.0.tgz"), basic)
	})

	t.Run("composer packages", func(t *testing.T) {
		// GitLab's Composer group prefix is /api/v4/group/ (singular).
		seed(t, packages.Composer, "acme/tools", "1.0.0", "tools-1.0.0.zip")
		walkPackages(t, composer.Routes(), strings.NewReplacer("{name}", "acme/tools"), basic)
	})

	t.Run("terraform modules", func(t *testing.T) {
		// The namespace is the top-level group; top (group/top) holds the module.
		seed(t, packages.Terraform, "app/aws", "1.0.0", "app-aws-1.0.0.tgz")
		walkPackages(t, terraform.Routes(), strings.NewReplacer("{namespace}", "group", "{name}", "app", "{system}", "aws", "{version}", "1.0.0"),
			map[string]string{"Authorization": "Bearer " + outsider.PAT})
	})

	t.Run("rubygems packages", func(t *testing.T) {
		seed(t, packages.RubyGems, "app", "1.0.0", "app-1.0.0.gem")
		walkPackages(t, rubygems.Routes(), strings.NewReplacer("{file}", "app-1.0.0"), basic)
	})

	t.Run("go proxy", func(t *testing.T) {
		walkPackages(t, goproxy.Routes(), strings.NewReplacer("{module}", "127.0.0.1/"+top.FullPath, "{version}", "v1.0.0"), basic)
	})

	// The token endpoint, the container registry and the dependency proxy (docs/architecture.md
	// §3.2). The outsider asks /jwt/auth for pull and push on an image of top: the grant is empty,
	// but each requested action must have been decided at the gate. Its token then reaches every
	// /v2/ route, which must decide again, on the project (registry) or group (proxy) it names.
	jwtQuery := "?service=" + jwtauth.ContainerRegistryService + "&scope=repository:" + top.FullPath + "/app:pull,push"
	t.Run("jwt_auth", func(t *testing.T) {
		for _, rt := range jwtauth.Routes() {
			t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
				status, _ := send(t, anonymous, rt.Method, rt.Pattern+jwtQuery, nil, basic)
				check(t, rt, status)
				cs := rec.Checks()
				if status != http.StatusOK || len(cs) != 2 || cs[0].Action != access.PullImage || cs[1].Action != access.PushImage {
					t.Fatalf("answered %d with checks %+v, want 200 after deciding pull_image and push_image", status, cs)
				}
				for _, c := range cs {
					if c.Filter || c.Decision.Allow() || c.Resource.Project == nil || c.Resource.Project.ID != top.ID {
						t.Fatalf("check %+v, want a refused decision on project %d", c, top.ID)
					}
				}
			})
		}
	})

	// bearer is the header of the outsider's token from /jwt/auth, which grants nothing.
	bearer := func(t *testing.T) map[string]string {
		t.Helper()
		status, body := send(t, anonymous, http.MethodGet, "/jwt/auth"+jwtQuery, nil, basic)
		var answer struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(body), &answer); status != http.StatusOK || err != nil {
			t.Fatalf("/jwt/auth: %d %q (%v)", status, body, err)
		}
		claims, err := ts.Server.Tokens.Verify(answer.Token, jwtauth.ContainerRegistryService)
		if err != nil || len(claims.Access) != 0 {
			t.Fatalf("token: %+v, %v, want one granting nothing", claims, err)
		}
		return map[string]string{"Authorization": "Bearer " + answer.Token}
	}

	// decidedOn fails unless every decision of the last request was on the resource want accepts.
	decidedOn := func(t *testing.T, what string, want func(access.Resource) bool) {
		t.Helper()
		for _, c := range rec.Checks() {
			if !c.Filter && !want(c.Resource) {
				t.Fatalf("decided %s on %+v, want on %s", c.Action, c.Resource, what)
			}
		}
	}
	digest := "sha256:" + strings.Repeat("0", 64)

	t.Run("registry", func(t *testing.T) {
		header := bearer(t)
		// top is private: the outsider's first refusal ends the decisions. pub is public: pull is
		// allowed, so every action a route needs is decided.
		var pub testenv.Project
		ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": "pub", "path": "pub",
			"namespace_id": f.GroupID, "visibility": "public"}, &pub)
		for _, p := range []testenv.Project{top, pub} {
			params := strings.NewReplacer("{name}", p.FullPath+"/app", "{reference}", "latest", "{digest}", digest, "{id}", "none")
			for _, rt := range registry.Routes() {
				t.Run(p.FullPath+" "+rt.Method+" "+rt.Pattern, func(t *testing.T) {
					status, _ := send(t, anonymous, rt.Method, params.Replace(rt.Pattern), nil, header)
					check(t, rt, status)
					if rt.Pattern == "/v2/_catalog" {
						decidedOn(t, "the instance", func(r access.Resource) bool { return r.Project == nil && r.Group == nil })
					} else {
						decidedOn(t, p.FullPath, func(r access.Resource) bool { return r.Project != nil && r.Project.ID == p.ID })
					}
				})
			}
		}
	})

	t.Run("proxy", func(t *testing.T) {
		header := bearer(t)
		params := strings.NewReplacer("{group}", "group", "{image}", "alpine", "{reference}", "latest", "{digest}", digest)
		for _, rt := range proxy.Routes() {
			t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
				status, _ := send(t, anonymous, rt.Method, params.Replace(rt.Pattern), nil, header)
				check(t, rt, status)
				decidedOn(t, "group", func(r access.Resource) bool { return r.Group != nil && r.Group.ID == f.GroupID })
			})
		}
	})

	// The walk must have decided something: a recorder that saw nothing would pass the public
	// routes and fail every other one, so check that refusals were recorded as refusals.
	rec.Reset()
	if status, _ := send(t, anonymous, http.MethodGet, fmt.Sprintf("/api/v4/projects/%d", top.ID), nil, map[string]string{"PRIVATE-TOKEN": outsider.PAT}); status != http.StatusNotFound {
		t.Fatalf("outsider reading a private project: %d, want 404", status)
	}
	if cs := rec.Checks(); len(cs) != 1 || cs[0].Action != access.ViewNamespace || cs[0].Decision.Allow() || cs[0].Resource.Project == nil || cs[0].Resource.Project.ID != top.ID {
		t.Fatalf("checks %+v, want one refused view of project %d", cs, top.ID)
	}
}
