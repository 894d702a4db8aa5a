package archtest

import (
	"slices"
	"strings"
	"testing"
)

// TestClassRules checks the real module against the deny-by-default class rules.
func TestClassRules(t *testing.T) {
	pkgs := listModule(t)

	// Every entry of the class table names a package that exists, so the table cannot rot into
	// rules about nothing.
	listed := importPaths(pkgs)
	for pattern := range classified {
		root, _ := strings.CutSuffix(pattern, "/...")
		if !listed[Module+"/"+root] {
			t.Errorf("class table entry %q matches no package of the module", pattern)
		}
	}
	for r := range domain {
		if !listed[Module+"/"+r] {
			t.Errorf("domain entry %q matches no package of the module", r)
		}
	}

	// Check's protocol rules and the classes name the same protocols, so a new protocol cannot be
	// one without the other (api/client belongs to api's tree there, and is a client here).
	for p := range listed {
		r, ok := rel(p)
		if !ok || r == "internal/api/client" {
			continue
		}
		name, _ := classOf(r)
		if isProtocol := name == "protocol" || name == "shared protocol" || name == "token service"; isProtocol != (protocolOf(r) != "") {
			t.Errorf("%s: class %q, but Check's protocolOf says %q: update protocolRoots or the class table", r, name, protocolOf(r))
		}
	}

	// The real listing with a forbidden edge, and with a package no entry covers, must fail.
	t.Run("fail/real listing with gc importing the proxy", func(t *testing.T) {
		mutated := withEdge(pkgs, Module+"/internal/gc", Module+"/internal/proxy")
		if !hasViolation(CheckClasses(mutated), `class "domain" may not import class "protocol"`, "internal/gc", "internal/proxy") {
			t.Fatal("adding internal/gc → internal/proxy to the real listing was not reported")
		}
	})
	t.Run("fail/real listing with an unclassified package", func(t *testing.T) {
		mutated := append(slices.Clone(pkgs), Package{ImportPath: Module + "/internal/newthing", Imports: []string{"fmt"}})
		if !hasViolation(CheckClasses(mutated), "unclassified package", "internal/newthing", "") {
			t.Fatal("a new package with no class was not reported")
		}
	})

	failOn(t, "class rules (archtest/classes.go)", CheckClasses(pkgs))
}

// hasViolation reports a violation whose rule contains rule, from from to to (module-relative;
// "" for none).
func hasViolation(vs []Violation, rule, from, to string) bool {
	for _, v := range vs {
		if strings.Contains(v.Rule, rule) && v.From == fullPath(from) && (v.To == fullPath(to) || to == "" && v.To == "") {
			return true
		}
	}
	return false
}

// everyClass is a listing with a package of every class, shaped like Gatehouse, breaking no rule.
func everyClass() map[string][]string {
	return map[string][]string{
		"internal/errkind":            {"errors"},
		"internal/token":              {"internal/errkind", "crypto/hmac"},
		"internal/namespace":          {"internal/errkind", "golang.org/x/crypto/bcrypt"},
		"internal/access":             {"internal/token", "internal/namespace"},
		"internal/blob":               {"io"},
		"internal/gc":                 {"internal/blob", "context"},
		"internal/notify":             {"internal/token", "internal/namespace"},
		"internal/packages":           {"internal/access", "internal/blob"},
		"internal/httpx":              {"net/http"},
		"internal/gitexec":            {"os/exec"},
		"internal/config":             {"github.com/spf13/pflag", "go.yaml.in/yaml/v3"},
		"internal/authn":              {"internal/access", "net/http"},
		"internal/sqlstore":           {"internal/packages", "database/sql", "modernc.org/sqlite", "github.com/jackc/pgx/v5/stdlib"},
		"internal/blob/fsblob":        {"internal/blob", "os"},
		"internal/blob/s3blob":        {"internal/blob", "github.com/minio/minio-go/v7"},
		"internal/notify/smtpmail":    {"internal/notify", "github.com/wneessen/go-mail"},
		"internal/extauthz":           {"internal/access", "net/http"},
		"internal/git":                {"internal/authn", "internal/httpx", "internal/gitexec"},
		"internal/api":                {"internal/authn", "internal/httpx", "internal/notify"},
		"internal/api/client":         {"net/http"},
		"internal/registry":           {"internal/ocihttp", "internal/jwtauth"},
		"internal/jwtauth":            {"internal/authn", "github.com/golang-jwt/jwt/v5"},
		"internal/proxy":              {"internal/ocihttp", "internal/jwtauth", "golang.org/x/sync/singleflight"},
		"internal/ocihttp":            {"internal/blob", "internal/jwtauth", "net/http"},
		"internal/web":                {"internal/authn", "internal/httpx"},
		"internal/packages/pkghttp":   {"internal/packages", "internal/authn", "internal/httpx"},
		"internal/packages/npm":       {"internal/packages/pkghttp"},
		"internal/packages/goproxy":   {"internal/packages/pkghttp", "internal/gitexec", "golang.org/x/mod/module"},
		"internal/server":             {"internal/config", "internal/sqlstore", "internal/blob/fsblob", "internal/extauthz", "internal/gc", "internal/git", "internal/api", "internal/registry", "internal/proxy", "internal/jwtauth", "internal/packages/npm", "internal/notify/smtpmail"},
		"cmd/gatehouse":               {"internal/config", "internal/server", "internal/api/client", "github.com/spf13/cobra"},
		"bench/benchserve":            {"internal/config", "internal/server"},
		"internal/blob/blobtest":      {"internal/blob", "testing"},
		"internal/sqlstore/storetest": {"internal/sqlstore", "testing"},
		"internal/testenv":            {"internal/server", "internal/config", "internal/testenv/testbin", "github.com/jackc/pgx/v5/stdlib"},
		"internal/testenv/testbin":    {"os/exec"},
		"internal/archtest":           {"encoding/json"},
		"net/http":                    {"net"},
		"database/sql":                {"database/sql/driver"},
	}
}

func TestCheckClasses(t *testing.T) {
	t.Run("ok/a package of every class, no violations", func(t *testing.T) {
		if vs := append(Check(graph(everyClass())), CheckClasses(graph(everyClass()))...); len(vs) != 0 {
			t.Fatalf("violations in a healthy listing: %v", vs)
		}
	})

	type want struct{ rule, from, to string }
	cases := []struct {
		name   string
		change func(g map[string][]string)
		want   []want
	}{
		{"fail/gc imports the proxy", func(g map[string][]string) {
			g["internal/gc"] = append(g["internal/gc"], "internal/proxy")
		}, []want{{`class "domain" may not import class "protocol"`, "internal/gc", "internal/proxy"}}},
		{"fail/an unclassified package", func(g map[string][]string) {
			g["internal/reports"] = []string{"internal/token"}
		}, []want{{"unclassified package", "internal/reports", ""}}},
		{"fail/an unclassified package below a classified one", func(g map[string][]string) {
			g["internal/git/lfs"] = []string{"internal/git"}
		}, []want{{"unclassified package", "internal/git/lfs", ""}}},
		{"fail/importing an unclassified package", func(g map[string][]string) {
			g["internal/server"] = append(g["internal/server"], "internal/reports")
			g["internal/reports"] = []string{"fmt"}
		}, []want{
			{"unclassified package", "internal/reports", ""},
			{"import of an unclassified package", "internal/server", "internal/reports"},
		}},
		{"fail/protocol imports configuration", func(g map[string][]string) {
			g["internal/api"] = append(g["internal/api"], "internal/config")
		}, []want{{`class "protocol" may not import class "config"`, "internal/api", "internal/config"}}},
		{"fail/protocol imports another protocol", func(g map[string][]string) {
			g["internal/git"] = append(g["internal/git"], "internal/web")
		}, []want{{`class "protocol" may not import class "protocol"`, "internal/git", "internal/web"}}},
		{"fail/protocol imports the typed client", func(g map[string][]string) {
			g["internal/api"] = append(g["internal/api"], "internal/api/client")
		}, []want{{`class "protocol" may not import class "client"`, "internal/api", "internal/api/client"}}},
		{"fail/shared protocol helper imports a protocol", func(g map[string][]string) {
			g["internal/ocihttp"] = append(g["internal/ocihttp"], "internal/registry")
		}, []want{{`class "shared protocol" may not import class "protocol"`, "internal/ocihttp", "internal/registry"}}},
		{"fail/token service imports the shared OCI helper", func(g map[string][]string) {
			g["internal/jwtauth"] = append(g["internal/jwtauth"], "internal/ocihttp")
		}, []want{{`class "token service" may not import class "shared protocol"`, "internal/jwtauth", "internal/ocihttp"}}},
		{"fail/token service imports a protocol", func(g map[string][]string) {
			g["internal/jwtauth"] = append(g["internal/jwtauth"], "internal/registry")
		}, []want{{`class "token service" may not import class "protocol"`, "internal/jwtauth", "internal/registry"}}},
		{"fail/a protocol uses the JWT library itself", func(g map[string][]string) {
			g["internal/registry"] = append(g["internal/registry"], "github.com/golang-jwt/jwt/v5")
		}, []want{{`third-party module outside the allow-list of class "protocol"`, "internal/registry", "github.com/golang-jwt/jwt/v5"}}},
		{"fail/plumbing imports the domain", func(g map[string][]string) {
			g["internal/httpx"] = append(g["internal/httpx"], "internal/access")
		}, []want{{`class "plumbing" may not import class "domain"`, "internal/httpx", "internal/access"}}},
		{"fail/gate imports a protocol", func(g map[string][]string) {
			g["internal/authn"] = append(g["internal/authn"], "internal/git")
		}, []want{{`class "gate" may not import class "protocol"`, "internal/authn", "internal/git"}}},
		{"fail/adapter imports plumbing", func(g map[string][]string) {
			g["internal/extauthz"] = append(g["internal/extauthz"], "internal/httpx")
		}, []want{{`class "adapter" may not import class "plumbing"`, "internal/extauthz", "internal/httpx"}}},
		{"fail/adapter imports the composition root", func(g map[string][]string) {
			g["internal/notify/smtpmail"] = append(g["internal/notify/smtpmail"], "internal/server")
		}, []want{{`class "adapter" may not import class "composition"`, "internal/notify/smtpmail", "internal/server"}}},
		{"fail/configuration imports the domain", func(g map[string][]string) {
			g["internal/config"] = append(g["internal/config"], "internal/token")
		}, []want{{`class "config" may not import class "domain"`, "internal/config", "internal/token"}}},
		{"fail/composition root imports test support", func(g map[string][]string) {
			g["internal/server"] = append(g["internal/server"], "internal/testenv/testbin")
		}, []want{{`class "composition" may not import class "test support"`, "internal/server", "internal/testenv/testbin"}}},
		{"fail/entry point imports sqlstore", func(g map[string][]string) {
			g["cmd/gatehouse"] = append(g["cmd/gatehouse"], "internal/sqlstore")
		}, []want{{`class "entry point" may not import class "adapter"`, "cmd/gatehouse", "internal/sqlstore"}}},
		{"fail/entry point imports a protocol", func(g map[string][]string) {
			g["bench/benchserve"] = append(g["bench/benchserve"], "internal/git")
		}, []want{{`class "entry point" may not import class "protocol"`, "bench/benchserve", "internal/git"}}},
		{"fail/protocol imports a database driver", func(g map[string][]string) {
			g["internal/git"] = append(g["internal/git"], "modernc.org/sqlite")
		}, []want{{`third-party module outside the allow-list of class "protocol"`, "internal/git", "modernc.org/sqlite"}}},
		{"fail/a protocol starts a process itself", func(g map[string][]string) {
			g["internal/packages/goproxy"] = append(g["internal/packages/goproxy"], "os/exec")
		}, []want{{"os/exec is imported only by internal/gitexec, test support", "internal/packages/goproxy", "os/exec"}}},
		{"fail/plumbing other than gitexec starts a process", func(g map[string][]string) {
			g["internal/httpx"] = append(g["internal/httpx"], "os/exec")
		}, []want{{"os/exec is imported only by", "internal/httpx", "os/exec"}}},
		{"fail/gate imports a third-party module", func(g map[string][]string) {
			g["internal/authn"] = append(g["internal/authn"], "github.com/golang-jwt/jwt/v5")
		}, []want{{`third-party module outside the allow-list of class "gate"`, "internal/authn", "github.com/golang-jwt/jwt/v5"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := everyClass()
			c.change(g)
			got := CheckClasses(graph(g))
			for _, w := range c.want {
				if !hasViolation(got, w.rule, w.from, w.to) {
					t.Errorf("missing violation %q: %s → %s\ngot: %v", w.rule, w.from, w.to, got)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("got %d violations, want %d: %v", len(got), len(c.want), got)
			}
		})
	}

	t.Run("ok/the class table is consistent", func(t *testing.T) {
		for pattern, name := range classified {
			if _, ok := classes[name]; !ok {
				t.Errorf("entry %q names class %q, which does not exist", pattern, name)
			}
		}
		for name, c := range classes {
			for _, m := range c.may {
				if _, ok := classes[m]; !ok {
					t.Errorf("class %q may import class %q, which does not exist", name, m)
				}
			}
		}
	})

	t.Run("ok/message names the unclassified package", func(t *testing.T) {
		g := everyClass()
		g["internal/reports"] = []string{"fmt"}
		vs := CheckClasses(graph(g))
		if len(vs) != 1 || vs[0].String() != "unclassified package (give it a class in archtest/classes.go): internal/reports" {
			t.Fatalf("violations %v", vs)
		}
	})
}
