package registry_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The OCI conformance module pinned in go.mod (see conformance_tools.go).
const conformancePkg = "github.com/opencontainers/distribution-spec/conformance"

var (
	conformanceOnce sync.Once
	conformanceBin  string
	conformanceErr  error
)

// buildConformance compiles the suite once per test binary.
func buildConformance(t *testing.T) string {
	t.Helper()
	conformanceOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-conformance-")
		if err != nil {
			conformanceErr = err
			return
		}
		conformanceBin = filepath.Join(dir, "conformance.test")
		cmd := exec.Command("go", "test", "-c", "-o", conformanceBin, conformancePkg)
		cmd.Dir = moduleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			conformanceErr = fmt.Errorf("go test -c %s: %v\n%s", conformancePkg, err, out)
		}
	})
	if conformanceErr != nil {
		t.Fatal(conformanceErr)
	}
	return conformanceBin
}

// junitSuites is the part of the suite's results/junit.xml the test reads.
type junitSuites struct {
	Suites []struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Disabled int `xml:"disabled,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Data    string `xml:",cdata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Data    string `xml:",cdata"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type conformanceResult struct {
	tests, passed, failed, skipped, disabled int
	failures                                 []string
}

// runConformance runs the suite with env against the server and reads results/junit.xml (the
// suite exits 0 when its configuration does not load, docs/architecture.md §6.4, so the exit code
// alone proves nothing).
func runConformance(t *testing.T, bin string, env map[string]string) conformanceResult {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, "-test.v", "-test.timeout", "15m")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OCI_RESULTS_DIR="+filepath.Join(dir, "results"), "OCI_LOG=error")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, runErr := cmd.CombinedOutput()
	if d := os.Getenv("GATEHOUSE_CONFORMANCE_KEEP"); d != "" {
		_ = os.MkdirAll(d, 0o755)
		_ = os.WriteFile(filepath.Join(d, "output.txt"), out, 0o644)
		_ = exec.Command("cp", "-r", filepath.Join(dir, "results"), d).Run()
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results", "junit.xml"))
	if err != nil {
		t.Fatalf("the suite wrote no junit.xml (exit: %v):\n%s", runErr, tail(string(out), 4000))
	}
	var js junitSuites
	if err := xml.Unmarshal(raw, &js); err != nil {
		t.Fatalf("parse junit.xml: %v", err)
	}
	var res conformanceResult
	for _, s := range js.Suites {
		res.tests += s.Tests
		res.failed += s.Failures + s.Errors
		res.skipped += s.Skipped
		res.disabled += s.Disabled
		res.passed += s.Tests - s.Failures - s.Errors - s.Skipped - s.Disabled
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				res.failures = append(res.failures, c.Classname+" "+c.Name+": "+c.Failure.Message+"\n"+tail(c.Failure.Data, 1500))
			case c.Error != nil:
				res.failures = append(res.failures, c.Classname+" "+c.Name+": "+c.Error.Message+"\n"+tail(c.Error.Data, 1500))
			}
		}
	}
	if runErr != nil && res.failed == 0 {
		t.Errorf("the suite exited with %v but reported no failure:\n%s", runErr, tail(string(out), 4000))
	}
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestConformance runs the OCI distribution-spec conformance suite against Gatehouse: with a
// deploy token (read_registry + write_registry) for pull, push and content discovery — deploy
// tokens may never delete — then with a maintainer's personal access token for everything
// including content management, once at the stable 1.1 settings and once with the suite's "dev"
// settings (tag parameters on push, upload cancel, required digest headers). The last run is
// repeated on PostgreSQL.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite takes a while")
	}
	bin := buildConformance(t)
	type run struct {
		name  string
		admin bool // maintainer's PAT instead of the deploy token
		extra map[string]string
	}
	sqliteRuns := []run{
		{"deploy-token/pull-push-discovery", false, map[string]string{"OCI_TEST_CONTENT_MANAGEMENT": "0"}},
		{"maintainer-pat/all", true, map[string]string{"OCI_TEST_CONTENT_MANAGEMENT": "1"}},
		{"maintainer-pat/all-dev", true, map[string]string{"OCI_TEST_CONTENT_MANAGEMENT": "1", "OCI_VERSION": "dev"}},
	}
	for _, backend := range []struct {
		name string
		runs []run
		opts func(t *testing.T) []testenv.ServerOption
	}{
		{"sqlite", sqliteRuns, func(*testing.T) []testenv.ServerOption { return nil }},
		{"postgres", sqliteRuns[2:], func(t *testing.T) []testenv.ServerOption { return []testenv.ServerOption{testenv.WithPostgres(t)} }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			ts, f, host := startRegistry(t, backend.opts(t)...)
			top := f.Projects["top"]
			dt := ts.CreateDeployToken(t, "projects/"+itoa(top.ID), []string{"read_registry", "write_registry"}, nil)
			maintainer, pat := makeMember(t, ts, "projects/"+itoa(top.ID), 40)
			for i, r := range backend.runs {
				t.Run(r.name, func(t *testing.T) {
					env := map[string]string{
						"OCI_ROOT_URL":               "http://" + host,
						"OCI_NAMESPACE":              top.FullPath + "/conformance" + itoa(int64(i)),
						"OCI_CROSSMOUNT_NAMESPACE":   top.FullPath + "/conformance" + itoa(int64(i)) + "-mount",
						"OCI_TEST_PULL":              "1",
						"OCI_TEST_PUSH":              "1",
						"OCI_TEST_CONTENT_DISCOVERY": "1",
						"OCI_HIDE_SKIPPED_WORKFLOWS": "0",
						"OCI_USERNAME":               dt.Username,
						"OCI_PASSWORD":               dt.Token,
					}
					if r.admin {
						env["OCI_USERNAME"], env["OCI_PASSWORD"] = maintainer, pat
						env["OCI_DELETE_MANIFEST_BEFORE_BLOBS"] = "1"
					}
					for k, v := range r.extra {
						env[k] = v
					}
					res := runConformance(t, bin, env)
					t.Logf("conformance %s/%s: %d tests, %d passed, %d failed, %d skipped, %d disabled",
						backend.name, r.name, res.tests, res.passed, res.failed, res.skipped, res.disabled)
					for _, f := range res.failures {
						t.Errorf("conformance failure: %s", f)
					}
					if res.failed > 0 {
						t.Fatalf("%d conformance test(s) failed", res.failed)
					}
					if res.skipped > 0 {
						t.Errorf("%d conformance test(s) skipped as unsupported by the registry", res.skipped)
					}
					if res.passed < 400 {
						t.Fatalf("only %d conformance tests passed: did the suite run at all?", res.passed)
					}
				})
			}
		})
	}
}

// makeMember creates a user with role level on owner ("projects/<id>" or "groups/<id>") and a
// personal access token with the api scope, returning the username and token.
func makeMember(t *testing.T, ts *testenv.TestServer, owner string, level int) (string, string) {
	t.Helper()
	name := "member" + strings.ReplaceAll(strings.TrimPrefix(owner, "projects/"), "/", "") + fmt.Sprint(level)
	var u struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, 201, "POST", "/users", map[string]any{"username": name, "email": name + "@example.com",
		"name": name, "password": "password-" + name}, &u)
	ts.MustAPI(t, 201, "POST", "/"+owner+"/members", map[string]any{"user_id": u.ID, "access_level": level}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, 201, "POST", "/users/"+itoa(u.ID)+"/personal_access_tokens", map[string]any{"name": "registry",
		"scopes": []string{"api"}}, &tok)
	return name, tok.Token
}
