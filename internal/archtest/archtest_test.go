package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportRules checks the real module: `go list -deps -json ./...` from the module root.
func TestImportRules(t *testing.T) {
	pkgs := listModule(t)

	// The rules must have something to check: if a package they name is renamed or moved, fail
	// here rather than pass by checking nothing.
	listed := importPaths(pkgs)
	for _, r := range []string{"internal/token", "internal/namespace", "internal/access", "internal/audit",
		"internal/sqlstore", "internal/server", "internal/git", "internal/api", "internal/authn", "internal/testenv"} {
		if !listed[Module+"/"+r] {
			t.Errorf("go list output lacks %s: update the rules in archtest.go", r)
		}
	}
	if !listed["net/http"] || !listed["database/sql"] {
		t.Errorf("go list -deps output lacks the standard library; the listing is incomplete")
	}

	// The same listing with one forbidden edge added must fail, so the real listing is wired to the
	// rules (module prefix, field names) and this test cannot pass by matching nothing.
	t.Run("fail/real listing with token importing net/http", func(t *testing.T) {
		mutated := withEdge(pkgs, Module+"/internal/token", "net/http")
		found := false
		for _, v := range Check(mutated) {
			found = found || (v.From == Module+"/internal/token" && v.To == "net/http")
		}
		if !found {
			t.Fatal("adding internal/token → net/http to the real listing was not reported")
		}
	})

	failOn(t, "import rules (docs/architecture.md §2)", Check(pkgs))
}

// withEdge is a copy of the listing in which from also imports to (directly).
func withEdge(pkgs []Package, from, to string) []Package {
	mutated := slices.Clone(pkgs)
	for i, p := range mutated {
		if p.ImportPath == from {
			mutated[i].Imports = append(slices.Clone(p.Imports), to)
			mutated[i].Deps = append(slices.Clone(p.Deps), to)
		}
	}
	return mutated
}

// importPaths is the set of the listing's import paths.
func importPaths(pkgs []Package) map[string]bool {
	listed := make(map[string]bool, len(pkgs))
	for _, p := range pkgs {
		listed[p.ImportPath] = true
	}
	return listed
}

// failOn fails the test listing the violations, if there are any.
func failOn(t *testing.T, rules string, vs []Violation) {
	t.Helper()
	if len(vs) == 0 {
		return
	}
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\n  " + v.String())
	}
	t.Fatalf("%s violated by %d edge(s):%s", rules, len(vs), b.String())
}

// listModule runs go list over the whole module.
func listModule(t *testing.T) []Package {
	t.Helper()
	return goList[Package](t, "-json=ImportPath,Standard,Imports,Deps,Error")
}

// goList runs `go list -e -deps <flags> ./...` from the module root and decodes each package
// into a T (whose fields name what the flags ask for).
func goList[T any](t *testing.T, flags ...string) []T {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	cmd := exec.Command(goBin, append(append([]string{"list", "-e", "-deps"}, flags...), "./...")...)
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []T
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		var p T
		var e struct {
			ImportPath string
			Error      *struct{ Err string }
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if e.Error != nil {
			// A package that does not load has an incomplete import list: the rules cannot vouch for it.
			t.Errorf("go list: %s: %s", e.ImportPath, e.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// moduleRoot is the directory of the go.mod above the test's working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// graph builds a synthetic listing from direct imports, computing Deps as go list does.
// Paths starting with "internal/", "cmd/" or "bench/" are put in the module; a path with a dot in its first
// element is third-party; anything else is standard.
func graph(edges map[string][]string) []Package {
	full := func(p string) string {
		if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "bench/") {
			return Module + "/" + p
		}
		return p
	}
	nodes := map[string]bool{}
	for from, tos := range edges {
		nodes[from] = true
		for _, to := range tos {
			nodes[to] = true
		}
	}
	var deps func(p string, seen map[string]bool)
	deps = func(p string, seen map[string]bool) {
		for _, d := range edges[p] {
			if !seen[d] {
				seen[d] = true
				deps(d, seen)
			}
		}
	}
	var out []Package
	for n := range nodes {
		seen := map[string]bool{}
		deps(n, seen)
		pkg := Package{ImportPath: full(n)}
		first, _, _ := strings.Cut(n, "/")
		pkg.Standard = !strings.Contains(first, ".") && full(n) == n
		for _, d := range edges[n] {
			pkg.Imports = append(pkg.Imports, full(d))
		}
		for d := range seen {
			pkg.Deps = append(pkg.Deps, full(d))
		}
		slices.Sort(pkg.Deps)
		out = append(out, pkg)
	}
	slices.SortFunc(out, func(a, b Package) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return out
}

// healthy is a listing shaped like Gatehouse's, breaking no rule.
func healthy() map[string][]string {
	return map[string][]string{
		"internal/token":     {"crypto/hmac", "log/slog"},
		"internal/namespace": {"golang.org/x/crypto/bcrypt", "net/mail"},
		"golang.org/x/crypto/bcrypt": {
			"golang.org/x/crypto/blowfish"},
		"internal/audit":              {"context"},
		"internal/access":             {"internal/token", "internal/namespace"},
		"internal/httpx":              {"net/http"},
		"internal/authn":              {"internal/access", "internal/audit", "net/http"},
		"internal/git":                {"internal/authn", "internal/httpx", "internal/namespace"},
		"internal/api":                {"internal/authn", "internal/httpx", "internal/api/client"},
		"internal/api/client":         {"net/http"},
		"internal/registry":           {"internal/authn", "internal/blob", "internal/ocihttp", "internal/jwtauth"},
		"internal/proxy":              {"internal/blob", "internal/ocihttp", "internal/jwtauth"},
		"internal/ocihttp":            {"internal/blob", "internal/jwtauth", "net/http"},
		"internal/jwtauth":            {"internal/authn", "internal/token"},
		"internal/packages/npm":       {"internal/packages", "internal/blob", "internal/packages/pkghttp"},
		"internal/packages/pkghttp":   {"internal/packages", "internal/httpx"},
		"internal/packages":           {"internal/token"},
		"internal/blob":               {"io"},
		"internal/blob/fsblob":        {"internal/blob", "os"},
		"internal/sqlstore":           {"database/sql", "internal/token", "internal/namespace", "internal/audit"},
		"internal/sqlstore/storetest": {"internal/sqlstore", "testing"},
		"internal/server": {"internal/sqlstore", "internal/git", "internal/api", "internal/registry",
			"internal/packages/npm", "internal/blob/fsblob"},
		"internal/testenv": {"internal/server", "internal/sqlstore", "database/sql"},
		"cmd/gatehouse":    {"internal/server", "internal/sqlstore", "internal/api/client"},
		"net/http":         {"net", "crypto/tls"},
		"database/sql":     {"database/sql/driver"},
		"net/mail":         {"net/textproto"},
		"net/textproto":    {"net"},
	}
}

func TestCheck(t *testing.T) {
	t.Run("ok/healthy listing has no violations", func(t *testing.T) {
		if vs := Check(graph(healthy())); len(vs) != 0 {
			t.Fatalf("violations in a healthy listing: %v", vs)
		}
	})

	type want struct{ rule, from, to string }
	cases := []struct {
		name   string
		change func(g map[string][]string)
		want   []want
	}{
		{"fail/domain imports net/http directly", func(g map[string][]string) {
			g["internal/token"] = append(g["internal/token"], "net/http")
		}, []want{
			{"reaches net/http or database/sql", "internal/token", "net/http"},
			// access and the packages core reach it through token.
			{"reaches net/http or database/sql", "internal/access", "net/http"},
			{"reaches net/http or database/sql", "internal/packages", "net/http"},
		}},
		{"fail/packages core imports net/http", func(g map[string][]string) {
			g["internal/packages"] = append(g["internal/packages"], "net/http")
		}, []want{{"reaches net/http or database/sql", "internal/packages", "net/http"}}},
		{"fail/domain reaches database/sql through a standard package", func(g map[string][]string) {
			g["internal/audit"] = []string{"expvar"}
			g["expvar"] = []string{"database/sql"}
		}, []want{
			{"reaches net/http or database/sql", "internal/audit", "database/sql"},
			{"reaches net/http or database/sql", "internal/audit", "database/sql/driver"},
		}},
		{"fail/domain imports a protocol helper", func(g map[string][]string) {
			g["internal/namespace"] = append(g["internal/namespace"], "internal/httpx")
		}, []want{
			{"non-domain Gatehouse package", "internal/namespace", "internal/httpx"},
			{"reaches net/http", "internal/namespace", "net/http"},
			{"non-domain Gatehouse package", "internal/access", "internal/httpx"},
			{"reaches net/http", "internal/access", "net/http"},
			// sqlstore reaches it through namespace.
			{"storage adapter reaches a non-domain", "internal/sqlstore", "internal/httpx"},
			{"storage adapter reaches a non-domain", "internal/sqlstore/storetest", "internal/httpx"},
		}},
		{"fail/domain edge outside the DAG", func(g map[string][]string) {
			g["internal/token"] = append(g["internal/token"], "internal/audit")
		}, []want{
			{"outside the allowed DAG", "internal/token", "internal/audit"},
			{"outside the allowed DAG", "internal/access", "internal/audit"},
			{"outside the allowed DAG", "internal/packages", "internal/audit"},
		}},
		{"fail/domain imports a third-party module", func(g map[string][]string) {
			g["internal/token"] = append(g["internal/token"], "github.com/google/uuid")
		}, []want{{"third-party module other than golang.org/x/crypto", "internal/token", "github.com/google/uuid"}}},
		{"fail/protocol imports sqlstore", func(g map[string][]string) {
			g["internal/git"] = append(g["internal/git"], "internal/sqlstore")
		}, []want{
			{"protocol package reaches sqlstore", "internal/git", "internal/sqlstore"},
			{"only server, testenv and cmd may import sqlstore", "internal/git", "internal/sqlstore"},
		}},
		{"fail/protocol reaches sqlstore transitively", func(g map[string][]string) {
			g["internal/authn"] = append(g["internal/authn"], "internal/sqlstore")
		}, []want{
			{"protocol package reaches sqlstore", "internal/api", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/git", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/registry", "internal/sqlstore"},
			// the token service reaches it through authn, and the OCI protocols through it.
			{"protocol package reaches sqlstore", "internal/jwtauth", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/ocihttp", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/proxy", "internal/sqlstore"},
			{"only server, testenv and cmd may import sqlstore", "internal/authn", "internal/sqlstore"},
		}},
		{"fail/protocol imports another protocol", func(g map[string][]string) {
			g["internal/git"] = append(g["internal/git"], "internal/api")
		}, []want{
			{"reaches another protocol", "internal/git", "internal/api"},
			{"reaches another protocol", "internal/git", "internal/api/client"},
		}},
		{"fail/package format imports another format", func(g map[string][]string) {
			g["internal/packages/maven"] = []string{"internal/packages/npm"}
		}, []want{{"reaches another protocol", "internal/packages/maven", "internal/packages/npm"}}},
		{"fail/shared package helper imports a format", func(g map[string][]string) {
			g["internal/packages/pkghttp"] = append(g["internal/packages/pkghttp"], "internal/packages/maven")
			g["internal/packages/maven"] = []string{"internal/packages"}
		}, []want{
			{"reaches another protocol", "internal/packages/pkghttp", "internal/packages/maven"},
			// npm reaches maven through the shared helper.
			{"reaches another protocol", "internal/packages/npm", "internal/packages/maven"},
		}},
		{"fail/shared package helper imports sqlstore", func(g map[string][]string) {
			g["internal/packages/pkghttp"] = append(g["internal/packages/pkghttp"], "internal/sqlstore")
		}, []want{
			{"protocol package reaches sqlstore", "internal/packages/pkghttp", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/packages/npm", "internal/sqlstore"},
			{"only server, testenv and cmd may import sqlstore", "internal/packages/pkghttp", "internal/sqlstore"},
		}},
		{"fail/shared OCI helper imports a protocol", func(g map[string][]string) {
			g["internal/ocihttp"] = append(g["internal/ocihttp"], "internal/git")
		}, []want{
			{"reaches another protocol", "internal/ocihttp", "internal/git"},
			// the registry and the proxy reach git through the shared helper.
			{"reaches another protocol", "internal/registry", "internal/git"},
			{"reaches another protocol", "internal/proxy", "internal/git"},
		}},
		{"fail/shared OCI helper imports sqlstore", func(g map[string][]string) {
			g["internal/ocihttp"] = append(g["internal/ocihttp"], "internal/sqlstore")
		}, []want{
			{"protocol package reaches sqlstore", "internal/ocihttp", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/registry", "internal/sqlstore"},
			{"protocol package reaches sqlstore", "internal/proxy", "internal/sqlstore"},
			{"only server, testenv and cmd may import sqlstore", "internal/ocihttp", "internal/sqlstore"},
		}},
		{"fail/registry imports the proxy", func(g map[string][]string) {
			g["internal/registry"] = append(g["internal/registry"], "internal/proxy")
		}, []want{
			{"reaches another protocol", "internal/registry", "internal/proxy"},
		}},
		{"fail/token service imports a protocol", func(g map[string][]string) {
			g["internal/jwtauth"] = append(g["internal/jwtauth"], "internal/proxy")
		}, []want{
			{"reaches another protocol", "internal/jwtauth", "internal/proxy"},
			// the registry and the shared OCI helper reach the proxy through the token service.
			{"reaches another protocol", "internal/ocihttp", "internal/proxy"},
			{"reaches another protocol", "internal/registry", "internal/proxy"},
		}},
		{"fail/protocol imports a blob implementation", func(g map[string][]string) {
			g["internal/registry"] = append(g["internal/registry"], "internal/blob/fsblob")
		}, []want{
			{"reaches a blob implementation", "internal/registry", "internal/blob/fsblob"},
		}},
		{"fail/sqlstore imports a protocol", func(g map[string][]string) {
			g["internal/sqlstore"] = append(g["internal/sqlstore"], "internal/git")
		}, []want{
			{"storage adapter reaches a protocol package", "internal/sqlstore", "internal/git"},
			{"storage adapter reaches a protocol package", "internal/sqlstore/storetest", "internal/git"},
			{"storage adapter reaches a non-domain", "internal/sqlstore", "internal/authn"},
			{"storage adapter reaches a non-domain", "internal/sqlstore", "internal/httpx"},
			{"storage adapter reaches a non-domain", "internal/sqlstore/storetest", "internal/authn"},
			{"storage adapter reaches a non-domain", "internal/sqlstore/storetest", "internal/httpx"},
		}},
		{"fail/a non-composition package imports sqlstore", func(g map[string][]string) {
			g["internal/reports"] = []string{"internal/sqlstore"}
		}, []want{{"only server, testenv and cmd may import sqlstore", "internal/reports", "internal/sqlstore"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := healthy()
			c.change(g)
			got := Check(graph(g))
			var unmatched []Violation
			matched := make([]bool, len(c.want))
			for _, v := range got {
				found := false
				for i, w := range c.want {
					if !matched[i] && strings.Contains(v.Rule, w.rule) && v.From == Module+"/"+w.from && v.To == fullPath(w.to) {
						matched[i], found = true, true
						break
					}
				}
				if !found {
					unmatched = append(unmatched, v)
				}
			}
			for i, w := range c.want {
				if !matched[i] {
					t.Errorf("missing violation %q: %s → %s\ngot: %v", w.rule, w.from, w.to, got)
				}
			}
			if len(unmatched) > 0 {
				t.Errorf("unexpected violations: %v", unmatched)
			}
		})
	}

	t.Run("ok/message names the rule and the chain", func(t *testing.T) {
		g := healthy()
		g["internal/audit"] = []string{"expvar"}
		g["expvar"] = []string{"database/sql"}
		var msg string
		for _, v := range Check(graph(g)) {
			if v.To == "database/sql" {
				msg = v.String()
			}
		}
		want := "domain package reaches net/http or database/sql: internal/audit imports database/sql (via internal/audit → expvar → database/sql)"
		if msg != want {
			t.Fatalf("message %q, want %q", msg, want)
		}
	})
}

func fullPath(p string) string {
	if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "bench/") {
		return Module + "/" + p
	}
	return p
}
