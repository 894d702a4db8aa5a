package archtest

import (
	"fmt"
	"slices"
	"strings"
)

// The classes make the import rules deny by default: every package of the module belongs to a
// class (an unclassified package is a violation), and a class names what its packages may import
// directly; anything else is a violation. Check's rules (domain purity, the domain DAG, no
// protocol reaching sqlstore or another protocol, even transitively) still apply on top.

// class is a kind of package and its allow-list.
type class struct {
	// may are the classes whose packages this class's packages may import. A package may
	// always import its own tree (the packages its classifying entry covers, see classified).
	may []string
	// modules are the third-party module paths (and their subpackages) its packages may import
	// directly; the standard library is always allowed (Check keeps net/http and database/sql
	// out of the domain).
	modules []string
}

// classes by name; each comment says what the class is (docs/architecture.md §1).
var classes = map[string]class{
	// The domain (the keys of domain in archtest.go): plain Go types and rules; the DAG between
	// them is Check's.
	"domain": {may: []string{"domain"}, modules: domainThirdParty},
	// Plumbing: mechanics with no business logic that any protocol may use (httpx: request IDs,
	// access log, limits; gitexec: the one way to run git). It imports no Gatehouse package.
	"plumbing": {},
	// Configuration: the typed Config, read only by the composition root and the entry points
	// (components take values through their constructors).
	"config": {modules: []string{"github.com/spf13/pflag", "go.yaml.in/yaml/v3"}},
	// The gate: request → principal (authn), and the one audited decision (gate).
	"gate": {may: []string{"domain", "plumbing"}},
	// Adapters implement the domain's interfaces over a technology (SQL, disk, S3, SMTP, Redis, the
	// external authorization service); they see the domain only.
	"adapter": {may: []string{"domain"}, modules: []string{"github.com/jackc/pgx/v5", "modernc.org/sqlite",
		"github.com/minio/minio-go/v7", "github.com/wneessen/go-mail", "github.com/redis/go-redis/v9"}},
	// Protocols serve one surface over HTTP: the domain, the gate, plumbing, the shared
	// protocol helpers and the token service, never another protocol (only their own tree).
	// chroma highlights the web UI's file view (docs/design.md §6.9.1); yaml reads and writes
	// Helm's Chart.yaml and index.yaml (docs/helm.md) and reads RubyGems' gemspecs; go-crypto signs
	// Debian's Release files, xz and compress read .deb control archives (docs/debian.md).
	"protocol": {may: []string{"domain", "gate", "plumbing", "shared protocol", "token service"},
		modules: []string{"golang.org/x/mod", "golang.org/x/sync",
			"github.com/alecthomas/chroma/v2",
			"github.com/ProtonMail/go-crypto", "github.com/ulikunitz/xz", "github.com/klauspost/compress",
			"go.yaml.in/yaml/v3"}},
	// Shared protocol helpers (pkghttp for the package formats, ocihttp for the registry and the
	// dependency proxy): what a protocol may use, minus any protocol. ocihttp verifies the
	// registry's bearer tokens through the token service.
	"shared protocol": {may: []string{"domain", "gate", "plumbing", "token service"}},
	// The token service (jwtauth): it issues the registry's bearer JWTs at /jwt/auth, keeps the
	// signing key and verifies the tokens for the registry and the dependency proxy, which both
	// use it. It sees what a shared protocol sees, and it alone may use the JWT library
	// (docs/architecture.md §1).
	"token service": {may: []string{"domain", "gate", "plumbing"}, modules: []string{"github.com/golang-jwt/jwt/v5"}},
	// The typed REST client, for the CLI: it speaks HTTP to the server and shares no code with it.
	"client": {},
	// Metrics: the Prometheus registry and collectors. It knows no Gatehouse package; the
	// composition root tells it what happened through the hooks of the gate, httpx and the stores.
	"metrics": {modules: []string{"github.com/prometheus/client_golang"}},
	// The composition root: it alone wires everything (but no test support or entry point).
	// ACME (golang.org/x/crypto/acme) gets the TLS certificate when the server ends TLS itself.
	"composition": {may: []string{"domain", "plumbing", "config", "gate", "adapter", "protocol", "shared protocol",
		"token service", "metrics"}, modules: []string{"golang.org/x/crypto/acme"}},
	// Entry points: cmd/gatehouse (docs/architecture.md §2.3: config, server, api/client) and the
	// benchmark.
	"entry point": {may: []string{"config", "composition", "client"}, modules: []string{"github.com/spf13/cobra"}},
	// Conformance suites, run against every implementation of an interface.
	"suite": {may: []string{"domain", "adapter"}},
	// Test support: booting the whole server, locating real clients, this package.
	"test support": {may: []string{"domain", "config", "composition", "test support"},
		modules: []string{"github.com/jackc/pgx/v5"}},
}

// restrictedStd are standard packages only the named packages or classes may import: the server
// starts no process but git, and git only through gitexec (its environment, bounds and kill).
var restrictedStd = map[string][]string{
	"os/exec": {"internal/gitexec", "test support"},
}

// classified assigns each package of the module its class: an entry names a package, or with
// "/..." a package and everything below it (its tree). The most specific entry wins. The domain
// is added from the domain map. A new package needs an entry here: until then it fails the test.
var classified = map[string]string{
	"internal/httpx":   "plumbing",
	"internal/gitexec": "plumbing",

	"internal/config": "config",

	"internal/authn": "gate",
	"internal/gate":  "gate",

	"internal/sqlstore":          "adapter",
	"internal/blob/fsblob":       "adapter",
	"internal/blob/s3blob":       "adapter",
	"internal/notify/smtpmail":   "adapter",
	"internal/extauthz":          "adapter",
	"internal/ban/redisban":      "adapter",
	"internal/cachebus/redisbus": "adapter",

	"internal/git":              "protocol",
	"internal/api":              "protocol",
	"internal/registry/...":     "protocol",
	"internal/proxy":            "protocol",
	"internal/web":              "protocol",
	"internal/packages/generic": "protocol",
	"internal/packages/goproxy": "protocol",
	"internal/packages/maven":   "protocol",
	"internal/packages/npm":     "protocol",
	"internal/packages/nuget":   "protocol",
	"internal/packages/pypi":    "protocol",
	"internal/packages/debian":  "protocol",
	"internal/packages/helm":    "protocol",

	"internal/packages/composer": "protocol",

	"internal/packages/terraform": "protocol",

	"internal/packages/rubygems": "protocol",

	"internal/packages/pkghttp": "shared protocol",
	"internal/ocihttp":          "shared protocol",

	"internal/jwtauth": "token service",

	"internal/api/client": "client",

	"internal/metrics": "metrics",

	"internal/server": "composition",

	"cmd/gatehouse": "entry point",
	"bench/...":     "entry point",

	"internal/blob/blobtest":      "suite",
	"internal/ban/bantest":        "suite",
	"internal/sqlstore/storetest": "suite",

	"internal/testenv/...": "test support",
	"internal/archtest":    "test support",
	// Tests of the whole system with real processes (test files only).
	"test/cluster":  "test support",
	"test/pygitlab": "test support",
}

// classOf returns the class of r (relative to the module), or "" when no entry covers it, and
// whether d is in r's own tree: below the "/..." entry that classified r, or r itself.
func classOf(r string) (name string, own func(d string) bool) {
	own = func(d string) bool { return d == r }
	if _, ok := domain[r]; ok {
		return "domain", own
	}
	best := ""
	for pattern, c := range classified {
		root, isTree := strings.CutSuffix(pattern, "/...")
		if (r == root || (isTree && under(r, root))) && len(root) > len(best) {
			best, name = root, c
			own = func(d string) bool { return d == r }
			if isTree {
				own = func(d string) bool { return under(d, root) }
			}
		}
	}
	return name, own
}

// CheckClasses applies the deny-by-default rules to a listing: every package of the module has
// a class, and imports directly only what its class allows. Violations are sorted.
func CheckClasses(pkgs []Package) []Violation {
	byPath := make(map[string]*Package, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}
	var out []Violation
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		name, own := classOf(r)
		if name == "" {
			out = append(out, Violation{Rule: "unclassified package (give it a class in archtest/classes.go)", From: p.ImportPath})
			continue
		}
		c := classes[name]
		for _, d := range p.Imports {
			dr, inModule := rel(d)
			if !inModule {
				std := isStandard(byPath, d)
				if allowed, restricted := restrictedStd[d]; std && restricted && !slices.Contains(allowed, r) && !slices.Contains(allowed, name) {
					out = append(out, Violation{Rule: fmt.Sprintf("%s is imported only by %s", d, strings.Join(allowed, ", ")),
						From: p.ImportPath, To: d})
				}
				if !std && !anyUnder(d, c.modules) {
					out = append(out, Violation{Rule: fmt.Sprintf("third-party module outside the allow-list of class %q", name),
						From: p.ImportPath, To: d})
				}
				continue
			}
			dname, _ := classOf(dr)
			switch {
			case own(dr), slices.Contains(c.may, dname):
			case dname == "":
				out = append(out, Violation{Rule: "import of an unclassified package", From: p.ImportPath, To: d})
			default:
				out = append(out, Violation{Rule: fmt.Sprintf("class %q may not import class %q", name, dname),
					From: p.ImportPath, To: d})
			}
		}
	}
	sortViolations(out)
	return out
}
