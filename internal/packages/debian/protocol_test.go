package debian_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/debian"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func (e *env) groupOwner(id int64) string { return fmt.Sprintf("groups/%d", id) }

// TestAptGroupDistribution: a group deploy token creates the group's distribution and its
// subgroups' projects' distributions, uploads to a subgroup project, and apt reads the group
// repository. A copy of a package planted in another project of the group (same name, higher
// version) takes the name out of the group index: apt finds neither copy there, never the
// planted one. A token of another group, and one of a sibling project, are refused as not found.
func TestAptGroupDistribution(t *testing.T) {
	e := start(t)
	group := e.token(t, e.groupOwner(e.f.GroupID), rw...)
	key := e.createDistribution(t, e.groupOwner(e.f.GroupID)+"/-", "gatehouse", group)
	for _, p := range []string{"child", "grandchild"} {
		e.createDistribution(t, e.projectOwner(p), "gatehouse", group)
	}
	hello := debian.BuildDeb(t, "hello-app", "1.0", "all", nil)
	greet := debian.BuildDeb(t, "greet", "1.0", "amd64", nil)
	planted := debian.BuildDeb(t, "hello-app", "99.0", "all", map[string]string{"@data": "planted\n"})
	for _, u := range []struct {
		project, file string
		deb           []byte
	}{{"child", "hello-app_1.0_all.deb", hello}, {"child", "greet_1.0_amd64.deb", greet}, {"grandchild", "hello-app_99.0_all.deb", planted}} {
		if status, body := e.upload(t, u.project, "gatehouse", "main", u.deb, u.file, group); status != http.StatusCreated {
			t.Fatalf("upload %s to %s: %d %s", u.file, u.project, status, body)
		}
	}

	a := newApt(t)
	a.source(e.groupRepo(e.f.GroupID), "gatehouse", key, group)
	if out, code := a.run("update"); code != 0 || strings.Contains(out, "W:") {
		t.Fatalf("apt-get update of the group: exit %d\n%s", code, out)
	}
	if out, code := a.run("download", "greet"); code != 0 {
		t.Fatalf("apt-get download greet: exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(a.root, "download", "greet_1.0_amd64.deb"))
	if err != nil || !bytes.Equal(b, greet) {
		t.Fatalf("downloaded greet: %v", err)
	}
	if out, code := a.run("download", "hello-app"); code == 0 || !strings.Contains(out, "Unable to locate package hello-app") {
		t.Fatalf("apt-get download of a name two projects of the group hold: exit %d\n%s", code, out)
	}
	status, index := do(t, http.MethodGet, e.groupRepo(e.f.GroupID)+"/dists/gatehouse/main/binary-amd64/Packages", group, nil)
	if status != 200 || strings.Contains(string(index), "hello-app") ||
		!strings.Contains(string(index), fmt.Sprintf("Filename: pool/gatehouse/%d/g/greet/1.0/greet_1.0_amd64.deb", e.f.Projects["child"].ID)) {
		t.Fatalf("group index: %d\n%s", status, index)
	}
	// The pool path names its project: the planted copy is reachable only by its own path.
	pool := fmt.Sprintf("%s/pool/gatehouse/%d/h/hello-app/1.0/hello-app_1.0_all.deb", e.groupRepo(e.f.GroupID), e.f.Projects["grandchild"].ID)
	if status, _ := do(t, http.MethodGet, pool, group, nil); status != http.StatusNotFound {
		t.Fatalf("child's file under grandchild's id: %d", status)
	}

	other := e.token(t, e.groupOwner(e.f.OtherGroupID), rw...)
	sibling := e.token(t, e.projectOwner("sibling"), rw...)
	for name, tok := range map[string]testenv.DeployToken{"other group": other, "sibling project": sibling} {
		for _, u := range []string{e.groupRepo(e.f.GroupID) + "/dists/gatehouse/InRelease", e.repo("child") + "/dists/gatehouse/InRelease"} {
			if status, body := do(t, http.MethodGet, u, tok, nil); status != http.StatusNotFound {
				t.Fatalf("%s token GET %s: %d %s", name, u, status, body)
			}
		}
		if status, _ := e.upload(t, "child", "gatehouse", "main", greet, "greet_1.0_amd64.deb", tok); status != http.StatusNotFound {
			t.Fatalf("%s token upload: %d", name, status)
		}
		b := newApt(t)
		b.source(e.groupRepo(e.f.GroupID), "gatehouse", key, tok)
		if out, code := b.run("update"); code == 0 || !strings.Contains(out, "404") {
			t.Fatalf("apt-get update with the %s token: exit %d\n%s", name, code, out)
		}
	}
	// A project token of child reads the group's index (child's packages only), but may not
	// change the group's distribution.
	child := e.token(t, e.projectOwner("child"), rw...)
	if status, _ := do(t, http.MethodGet, e.groupRepo(e.f.GroupID)+"/dists/gatehouse/main/binary-amd64/Packages", child, nil); status != 200 {
		t.Fatalf("child token, group index: %d", status)
	}
	status, body := do(t, http.MethodDelete, e.ts.URL+"/api/v4/groups/"+fmt.Sprint(e.f.GroupID)+"/-/debian_distributions/gatehouse", child, nil)
	if status != http.StatusForbidden || !strings.Contains(string(body), "every project") {
		t.Fatalf("child token deleting the group's distribution: %d %s", status, body)
	}
}

// TestDeployTokenRules: read-only tokens cannot upload (403 with the reason); revoked and expired
// tokens are 401 at once; no token reaches the logs.
func TestDeployTokenRules(t *testing.T) {
	e := start(t)
	writer := e.token(t, e.projectOwner("top"), rw...)
	e.createDistribution(t, e.projectOwner("top"), "stable", writer)
	reader := e.token(t, e.projectOwner("top"), "read_package_registry")
	deb := debian.BuildDeb(t, "hello", "1.0", "amd64", nil)
	status, body := e.upload(t, "top", "stable", "main", deb, "hello_1.0_amd64.deb", reader)
	if status != http.StatusForbidden || !strings.Contains(body, "write_package_registry") {
		t.Fatalf("read-only upload: %d %s", status, body)
	}
	if status, body := e.upload(t, "top", "stable", "main", deb, "hello_1.0_amd64.deb", writer); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	if status, body := e.upload(t, "top", "stable", "main", deb, "hello_1.0_amd64.deb", writer); status != http.StatusConflict {
		t.Fatalf("re-upload: %d %s", status, body)
	}
	// apt's auth.conf sends the token's own username: another one is refused (GitLab's rule).
	wrong := reader
	wrong.Username = "someone-else"
	if status, _ := do(t, http.MethodGet, e.repo("top")+"/dists/stable/Release", wrong, nil); status != http.StatusUnauthorized {
		t.Fatalf("another username: %d", status)
	}

	revoked := e.token(t, e.projectOwner("top"), "read_package_registry")
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, e.projectOwner("top"), []string{"read_package_registry"}, map[string]any{"expires_at": tomorrow})
	pool := e.repo("top") + "/pool/stable/h/hello/1.0/hello_1.0_amd64.deb"
	for _, tok := range []testenv.DeployToken{revoked, expiring} {
		if status, b := do(t, http.MethodGet, pool, tok, nil); status != 200 || !bytes.Equal(b, deb) {
			t.Fatalf("before: %d", status)
		}
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		if status, body := do(t, http.MethodGet, pool, tok, nil); status != http.StatusUnauthorized || !strings.Contains(string(body), name) {
			t.Fatalf("%s: %d %s", name, status, body)
		}
	}
	for _, tok := range []testenv.DeployToken{writer, reader, revoked, expiring} {
		if strings.Contains(e.ts.Logs(), tok.Token) {
			t.Fatal("a token is in the logs")
		}
	}
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.token(t, e.projectOwner("top"), rw...)
	status, body := do(t, http.MethodPost, e.ts.URL+"/api/v4/"+e.projectOwner("top")+"/debian_distributions?codename=stable", tok, nil)
	if status != http.StatusForbidden || !strings.Contains(string(body), "external authorization") {
		t.Fatalf("deploy token: %d %s", status, body)
	}
	root := testenv.DeployToken{Username: "root", Token: e.ts.RootToken}
	e.createDistribution(t, e.projectOwner("top"), "stable", root)
	if status, body := e.upload(t, "top", "stable", "main", debian.BuildDeb(t, "hello", "1.0", "amd64", nil), "hello_1.0_amd64.deb", root); status != http.StatusCreated {
		t.Fatalf("personal access token upload: %d %s", status, body)
	}
	if status, body := do(t, http.MethodGet, e.repo("top")+"/dists/stable/InRelease", tok, nil); status != http.StatusForbidden || !strings.Contains(string(body), "external authorization") {
		t.Fatalf("deploy token read: %d %s", status, body)
	}
}

// TestHostileUploads: traversal, oversize, malformed packages, a file name that is not the
// package's and a bad checksum get the format's error and leave nothing stored.
func TestHostileUploads(t *testing.T) {
	const limit = 64 << 10
	e := start(t, testenv.MaxFileSize(packages.Debian, limit))
	tok := e.token(t, e.projectOwner("top"), rw...)
	e.createDistribution(t, e.projectOwner("top"), "stable", tok)
	good := debian.BuildDeb(t, "hello", "1.0", "amd64", nil)
	noise := make([]byte, 2*limit)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, query string
		deb               []byte
		status            int
		why               string
	}{
		{"fail/not a deb", "hello_1.0_amd64.deb", "", []byte("#!/bin/sh\nrm -rf /\n"), 400, "ar archive"},
		{"fail/no control", "hello_1.0_amd64.deb", "", debian.BuildAr(t, [2]string{"debian-binary", "2.0\n"}), 400, "control"},
		{"fail/traversal in the control name", "hello_1.0_amd64.deb", "", debian.BuildDeb(t, "../../etc", "1.0", "amd64", nil), 400, "package name"},
		{"fail/file name is not the package's", "other_1.0_amd64.deb", "", good, 400, "does not match"},
		{"fail/architecture not in the distribution", "hello_1.0_s390x.deb", "", debian.BuildDeb(t, "hello", "1.0", "s390x", nil), 400, "architecture"},
		{"fail/component not in the distribution", "hello_1.0_amd64.deb", "?distribution=stable&component=non-free", good, 400, "component"},
		{"fail/no distribution", "hello_1.0_amd64.deb", "?distribution=nowhere&component=main", good, 400, "does not exist"},
		{"fail/control bomb", "hello_1.0_amd64.deb", "", debian.BuildDeb(t, "hello", "1.0", "amd64", map[string]string{"@pad": strings.Repeat("\x00", 40<<20)}), 413, "too large"},
		{"fail/oversized", "hello_1.0_amd64.deb", "", debian.BuildDeb(t, "hello", "1.0", "amd64", map[string]string{"@data": string(noise)}), 413, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := "?distribution=stable&component=main"
			if c.query != "" {
				q = c.query
			}
			status, body := do(t, http.MethodPut, e.repo("top")+"/"+c.file+q, tok, bytes.NewReader(c.deb))
			if status != c.status || !strings.Contains(string(body), c.why) {
				t.Fatalf("%d %s; want %d mentioning %q", status, body, c.status, c.why)
			}
			e.ts.AssertNoPackages(t, e.f, packages.Debian)
		})
	}
	t.Run("fail/bad checksum", func(t *testing.T) {
		status, body := do(t, http.MethodPut, e.repo("top")+"/hello_1.0_amd64.deb?distribution=stable&component=main", tok, bytes.NewReader(good),
			"X-Checksum-Sha256", strings.Repeat("0", 64))
		if status != 400 {
			t.Fatalf("%d %s", status, body)
		}
		e.ts.AssertNoPackages(t, e.f, packages.Debian)
	})
	for _, p := range []string{"/%2e%2e%2fhello_1.0_amd64.deb", "/..%2f..%2fhello_1.0_amd64.deb", "/hello%5c_1.0_amd64.deb", "/hello_1.0_amd64.deb%00",
		"/pool/stable/h/hello/..%2f..%2f/hello_1.0_amd64.deb", "/dists/%2e%2e/Release"} {
		t.Run("fail/raw "+p, func(t *testing.T) {
			path := fmt.Sprintf("/api/v4/projects/%d/packages/debian%s?distribution=stable&component=main", e.f.Projects["top"].ID, p)
			method := http.MethodPut
			if strings.HasPrefix(p, "/pool") || strings.HasPrefix(p, "/dists") {
				method = http.MethodGet
			}
			if status, body := testenv.RawRequest(t, e.ts.URL, method, path, tok.Token, good); status != 400 && status != 404 {
				t.Fatalf("%s: %d %s", p, status, body)
			}
			e.ts.AssertNoPackages(t, e.f, packages.Debian)
		})
	}
	if status, body := e.upload(t, "top", "stable", "main", good, "hello_1.0_amd64.deb", tok); status != http.StatusCreated {
		t.Fatalf("a good package after all that: %d %s", status, body)
	}
	if strings.Contains(e.ts.Logs(), tok.Token) {
		t.Fatal("the token is in the logs")
	}
}

// TestPackagesAPI: the Packages API lists a Debian package (package_type=debian) and deletes
// it, and the index then no longer lists it; on PostgreSQL.
func TestPackagesAPIOnPostgres(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	tok := e.token(t, e.groupOwner(e.f.GroupID), rw...)
	e.createDistribution(t, e.projectOwner("child"), "stable", tok)
	deb := debian.BuildDeb(t, "hello", "1.0", "amd64", nil)
	if status, body := e.upload(t, "child", "stable", "main", deb, "hello_1.0_amd64.deb", tok); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	arm := debian.BuildDeb(t, "hello", "1.0", "arm64", nil)
	if status, body := e.upload(t, "child", "stable", "main", arm, "hello_1.0_arm64.deb", tok); status != http.StatusCreated {
		t.Fatalf("upload arm64: %d %s", status, body)
	}
	for arch, want := range map[string]string{"amd64": "hello_1.0_amd64.deb", "arm64": "hello_1.0_arm64.deb"} {
		status, idx := do(t, http.MethodGet, e.repo("child")+"/dists/stable/main/binary-"+arch+"/Packages", tok, nil)
		if status != 200 || !strings.Contains(string(idx), "Filename: pool/stable/h/hello/1.0/"+want) || strings.Count(string(idx), "Package: hello") != 1 {
			t.Fatalf("%s index: %d\n%s", arch, status, idx)
		}
	}
	pat := []string{"PRIVATE-TOKEN", e.ts.RootToken}
	api := fmt.Sprintf("%s/api/v4/projects/%d/packages", e.ts.URL, e.f.Projects["child"].ID)
	status, body := do(t, http.MethodGet, api+"?package_type=debian", testenv.DeployToken{}, nil, pat...)
	var list []struct {
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		Version     string `json:"version"`
		PackageType string `json:"package_type"`
	}
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list) != 1 || list[0].Name != "hello" || list[0].PackageType != "debian" {
		t.Fatalf("list: %d %s", status, body)
	}
	if status, body := do(t, http.MethodDelete, fmt.Sprintf("%s/%d", api, list[0].ID), testenv.DeployToken{}, nil, pat...); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, idx := do(t, http.MethodGet, e.repo("child")+"/dists/stable/main/binary-amd64/Packages", tok, nil)
	if status != 200 || len(idx) != 0 {
		t.Fatalf("index after delete: %d %q", status, idx)
	}
}

// TestDistributionsAPI: GitLab's distributions API (list with filters, get, update, delete, a
// taken codename), on SQLite and PostgreSQL.
func TestDistributionsAPI(t *testing.T) {
	for name, opts := range map[string][]testenv.ServerOption{"sqlite": nil, "postgres": {testenv.WithPostgres(t)}} {
		t.Run(name, func(t *testing.T) {
			e := start(t, opts...)
			tok := e.token(t, e.projectOwner("top"), rw...)
			base := e.ts.URL + "/api/v4/" + e.projectOwner("top") + "/debian_distributions"
			e.createDistribution(t, e.projectOwner("top"), "bookworm", tok)
			e.createDistribution(t, e.projectOwner("top"), "trixie", tok)
			if status, body := do(t, http.MethodPost, base+"?codename=trixie", tok, nil); status != http.StatusConflict || !strings.Contains(string(body), "already exists") {
				t.Fatalf("taken codename: %d %s", status, body)
			}
			status, body := do(t, http.MethodPut, base+"/trixie", tok, strings.NewReader(`{"suite":"testing","components":["main","non-free"],"valid_time_duration_seconds":86400}`),
				"Content-Type", "application/json")
			if status != http.StatusOK || !strings.Contains(string(body), `"suite":"testing"`) || !strings.Contains(string(body), `"components":["main","non-free"]`) {
				t.Fatalf("update: %d %s", status, body)
			}
			if status, body := do(t, http.MethodGet, base+"?suite=testing", tok, nil); status != 200 || strings.Count(string(body), `"codename"`) != 1 || !strings.Contains(string(body), `"trixie"`) {
				t.Fatalf("list by suite: %d %s", status, body)
			}
			// The Release, by suite, carries the update.
			status, rel := do(t, http.MethodGet, e.repo("top")+"/dists/testing/Release", tok, nil)
			if status != 200 || !strings.Contains(string(rel), "Suite: testing\n") || !strings.Contains(string(rel), "Components: main non-free\n") ||
				!strings.Contains(string(rel), "Valid-Until: ") || !strings.Contains(string(rel), " non-free/binary-arm64/Packages\n") {
				t.Fatalf("Release: %d\n%s", status, rel)
			}
			if status, body := do(t, http.MethodDelete, base+"/trixie", tok, nil); status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", status, body)
			}
			if status, _ := do(t, http.MethodGet, base+"/trixie", tok, nil); status != http.StatusNotFound {
				t.Fatalf("deleted: %d", status)
			}
			if status, body := do(t, http.MethodGet, base, tok, nil); status != 200 || strings.Count(string(body), `"codename"`) != 1 {
				t.Fatalf("list: %d %s", status, body)
			}
		})
	}
}
