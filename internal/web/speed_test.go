package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Render speed (docs/design.md §6.9: a page renders in under 50 ms with 1,000 projects). The
// benchmarks sign in as a developer of a group holding 1,000 projects (seeded straight into the
// store: their Git repositories do not matter to a listing) and fetch the home page and the
// group's page over loopback, so ms/op is the server's time plus a local round trip:
//
//	go test ./internal/web/ -run '^$' -bench 'BenchmarkPage' -benchtime 20x
//
// cpu-ms/page is the process's CPU time per page, which a busy machine does not inflate.

// benchProjects is how many projects the benchmark user sees.
const benchProjects = 1000

// seedThousand boots a server with group "bench" of benchProjects projects (and 10 subgroups)
// and a developer "dev" of it, and returns the server and a client signed in as dev.
func seedThousand(b *testing.B) (*testenv.TestServer, *http.Client) {
	b.Helper()
	ts := testenv.StartServer(b)
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(b, http.StatusCreated, "POST", "/groups", map[string]any{"name": "bench", "path": "bench", "visibility": "private"}, &g)
	for i := range 10 {
		ts.MustAPI(b, http.StatusCreated, "POST", "/groups", map[string]any{"name": fmt.Sprintf("sub %d", i),
			"path": fmt.Sprintf("sub-%d", i), "parent_id": g.ID}, nil)
	}
	store := ts.Server.Store.Namespaces
	ctx := context.Background()
	for i := range benchProjects {
		p := &namespace.Project{Name: fmt.Sprintf("Project %04d", i), Path: fmt.Sprintf("project-%04d", i), GroupID: g.ID,
			Visibility: namespace.Private, CreatedAt: time.Now()}
		if err := store.CreateProject(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	dev := ts.CreateUser(b, "dev")
	ts.MustAPI(b, http.StatusCreated, "POST", fmt.Sprintf("/groups/%d/members", g.ID), map[string]any{"user_id": dev.ID, "access_level": 30}, nil)

	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	form := benchGet(b, c, ts.URL+"/users/sign_in")
	resp, err := c.PostForm(ts.URL+"/users/sign_in", url.Values{"authenticity_token": {csrfOf(b, form)},
		"login": {"dev"}, "password": {"password-dev"}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	return ts, c
}

func csrfOf(b *testing.B, body string) string {
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.Fatal("no CSRF token")
	}
	return m[1]
}

func benchGet(b *testing.B, c *http.Client, u string) string {
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(body)
}

func BenchmarkPageWithThousandProjects(b *testing.B) {
	ts, c := seedThousand(b)
	for _, page := range []struct{ name, path string }{{"home", "/"}, {"group", "/groups/bench"}} {
		b.Run(page.name, func(b *testing.B) {
			body := benchGet(b, c, ts.URL+page.path)
			if n := strings.Count(body, `href="/bench/project-`); n != benchProjects {
				b.Fatalf("%s lists %d projects, want %d", page.name, n, benchProjects)
			}
			b.ResetTimer()
			start, cpu := time.Now(), testenv.CPUTime()
			for b.Loop() {
				benchGet(b, c, ts.URL+page.path)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/page")
			// CPU time of the process (server and the in-process client) per page: what the page
			// costs, however busy the machine's other processes keep its cores.
			b.ReportMetric(float64((testenv.CPUTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/page")
		})
	}
}
