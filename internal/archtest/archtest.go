// Package archtest enforces Gatehouse's import rules (docs/architecture.md §2) so the layering
// cannot rot. The rules are a pure function over a package listing (Check); the test in this
// package feeds it the output of `go list -deps -json ./...`, and also feeds it synthetic listings
// to prove that every rule can fail.
//
// The rules:
//  0. Deny by default (classes.go, CheckClasses): every package of the module belongs to a class
//     (domain, plumbing, config, gate, adapter, protocol, shared protocol, token service, client,
//     metrics, composition, entry point, suite, test support), and imports directly only what its
//     class allows; an unclassified package is a violation; only gitexec and test support import
//     os/exec. The rules below refine it (transitive reach, the domain DAG, the standard library).
//  1. Domain packages (errkind, token, namespace, access, audit, oci, blob, packages, notify, gc,
//     ban) import only the standard library, each other along the allowed edges (every package →
//     errkind; access → token, namespace; audit → token; packages → access, blob, namespace,
//     token; gc → blob; ban → audit) and golang.org/x/crypto. They never reach net/http or database/sql, not even transitively.
//  2. Protocol packages (git, api, registry, proxy, web, packages/<format>) never reach sqlstore,
//     a blob implementation, or another protocol. A protocol's own subpackages (api/client)
//     belong to it. packages/pkghttp, the HTTP side the package formats share, is a protocol
//     package too (so it can reach no format), but every format may use it; likewise ocihttp,
//     the HTTP side the OCI protocols (registry, proxy) share, and jwtauth, the token service
//     both of them and ocihttp use.
//  3. Storage adapters (sqlstore, blob/<impl>) reach only the domain (and their own tree); never a
//     protocol.
//  4. Only server, testenv and cmd import sqlstore directly (and the class rules keep cmd off it:
//     docs/architecture.md §2.3 gives cmd/gatehouse config, server and api/client).
//  5. Only internal/gate (and access itself) calls access.(*Authorizer).Authorize, so every
//     decision sets the client address and audits refusals (decide.go, CheckDecisions, which
//     type-checks the module: docs/architecture.md §3.3).
package archtest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Module is the module path whose packages the rules govern.
const Module = "github.com/gatehouse-dev/gatehouse"

// Package is the part of `go list -json` output the rules read.
type Package struct {
	ImportPath string
	Standard   bool
	// Imports are the direct imports; Deps the transitive closure (as go list reports them).
	Imports []string
	Deps    []string
}

// Violation is one forbidden import edge. Via is the import chain from From to To when To is
// reached transitively.
type Violation struct {
	Rule string
	From string
	To   string
	Via  []string
}

func (v Violation) String() string {
	if v.To == "" {
		return v.Rule + ": " + short(v.From)
	}
	s := fmt.Sprintf("%s: %s imports %s", v.Rule, short(v.From), short(v.To))
	if len(v.Via) > 2 {
		parts := make([]string, len(v.Via))
		for i, p := range v.Via {
			parts[i] = short(p)
		}
		s += " (via " + strings.Join(parts, " → ") + ")"
	}
	return s
}

// short drops the module prefix for readable messages.
func short(p string) string { return strings.TrimPrefix(p, Module+"/") }

// domain lists the domain packages and, for each, the other domain packages it may import.
var domain = map[string][]string{
	// errkind is the one family of error kinds (ErrNotFound, ErrConflict, ErrInvalid,
	// ValidationError …) every domain package shares.
	"internal/errkind": nil,
	"internal/token":   {"internal/errkind"},
	// cachebus carries cache invalidations between the nodes (docs/architecture.md §4.5).
	"internal/cachebus":  nil,
	"internal/namespace": {"internal/errkind"},
	"internal/audit":     {"internal/errkind", "internal/token"},
	"internal/access":    {"internal/errkind", "internal/token", "internal/namespace"},
	"internal/oci":       {"internal/errkind"},
	// blob is the storage interface (types, digests and errkind's kinds); packages is the
	// package registries' shared model, which reads access decisions and stores blobs.
	"internal/blob":     {"internal/errkind"},
	"internal/packages": {"internal/access", "internal/blob", "internal/errkind", "internal/namespace", "internal/token"},
	// notify is the deploy-token expiry job: which tokens, which people, which mails.
	"internal/notify": {"internal/errkind", "internal/namespace", "internal/token"},
	// gc is the blob garbage collector: mark through referencers, sweep under a fence.
	"internal/gc": {"internal/blob", "internal/errkind"},
	// ban is the failed-authentication ban: its policy over a store of failure windows; it counts
	// addresses in audit's address groups (audit → token).
	"internal/ban": {"internal/audit", "internal/errkind", "internal/token"},
	// secretscan finds credentials in a push's patch text (docs/design.md §6.2.2).
	"internal/secretscan": {"internal/errkind", "internal/token"},
}

// domainThirdParty are the only non-standard modules domain packages may import directly.
var domainThirdParty = []string{"golang.org/x/crypto"}

// forbiddenInDomain are standard packages (and their subpackages) the domain must never reach.
var forbiddenInDomain = []string{"net/http", "database/sql"}

// protocolRoots are the protocol packages; each root with its subpackages is one protocol.
// internal/packages/<format> is handled by protocolOf.
var protocolRoots = []string{"internal/git", "internal/api", "internal/registry", "internal/proxy", "internal/web", "internal/ocihttp",
	"internal/jwtauth"}

// sharedProtocols are protocol packages that several protocols share (pkghttp the package
// formats, ocihttp and the token service jwtauth the registry and the dependency proxy): each is
// checked as a protocol of its own, and reaching one is not reaching "another protocol".
var sharedProtocols = []string{"internal/packages/pkghttp", "internal/ocihttp", "internal/jwtauth"}

// sqlstoreImporters may import sqlstore directly (besides sqlstore's own subpackages).
var sqlstoreImporters = []string{"internal/server", "internal/testenv", "cmd"}

// rel returns p relative to the module, and whether p is in the module.
func rel(p string) (string, bool) {
	if strings.HasPrefix(p, Module+"/") {
		return p[len(Module)+1:], true
	}
	return "", false
}

// under reports whether p is root or below it ("a/b" is under "a", "ab" is not).
func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

// protocolOf names the protocol p belongs to, or "".
func protocolOf(r string) string {
	for _, root := range protocolRoots {
		if under(r, root) {
			return root
		}
	}
	if rest, ok := strings.CutPrefix(r, "internal/packages/"); ok && rest != "" {
		format, _, _ := strings.Cut(rest, "/")
		return "internal/packages/" + format
	}
	return ""
}

func isSQLStore(r string) bool { return under(r, "internal/sqlstore") }

// isBlobImpl reports a blob implementation (a subpackage of the blob interface package).
func isBlobImpl(r string) bool { return strings.HasPrefix(r, "internal/blob/") }

// Check applies the import rules to a listing and returns the violations, sorted.
func Check(pkgs []Package) []Violation {
	byPath := make(map[string]*Package, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}
	var out []Violation
	add := func(rule, from, to string) {
		out = append(out, Violation{Rule: rule, From: from, To: to, Via: chain(byPath, from, to)})
	}
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		if allowed, isDomain := domain[r]; isDomain {
			for _, d := range p.Deps {
				dr, inModule := rel(d)
				switch {
				case inModule:
					if _, depIsDomain := domain[dr]; !depIsDomain {
						add("domain package imports a non-domain Gatehouse package", p.ImportPath, d)
					} else if !slices.Contains(allowed, dr) {
						add("domain import outside the allowed DAG (access → token, namespace)", p.ImportPath, d)
					}
				case anyUnder(d, forbiddenInDomain):
					add("domain package reaches net/http or database/sql", p.ImportPath, d)
				}
			}
			for _, d := range p.Imports {
				if _, inModule := rel(d); inModule {
					continue
				}
				if !isStandard(byPath, d) && !anyUnder(d, domainThirdParty) {
					add("domain package imports a third-party module other than golang.org/x/crypto", p.ImportPath, d)
				}
			}
		}
		if proto := protocolOf(r); proto != "" {
			for _, d := range p.Deps {
				dr, inModule := rel(d)
				if !inModule {
					continue
				}
				switch {
				case isSQLStore(dr):
					add("protocol package reaches sqlstore", p.ImportPath, d)
				case isBlobImpl(dr):
					add("protocol package reaches a blob implementation", p.ImportPath, d)
				case protocolOf(dr) != "" && protocolOf(dr) != proto && !slices.Contains(sharedProtocols, protocolOf(dr)):
					add("protocol package reaches another protocol", p.ImportPath, d)
				}
			}
		}
		if isSQLStore(r) || isBlobImpl(r) {
			for _, d := range p.Deps {
				dr, inModule := rel(d)
				if !inModule {
					continue
				}
				if _, depIsDomain := domain[dr]; depIsDomain {
					continue
				}
				if (isSQLStore(r) && isSQLStore(dr)) || (isBlobImpl(r) && under(dr, "internal/blob")) {
					continue
				}
				if protocolOf(dr) != "" {
					add("storage adapter reaches a protocol package", p.ImportPath, d)
				} else {
					add("storage adapter reaches a non-domain Gatehouse package", p.ImportPath, d)
				}
			}
		}
		if !isSQLStore(r) && !anyUnder(r, sqlstoreImporters) {
			for _, d := range p.Imports {
				if dr, inModule := rel(d); inModule && isSQLStore(dr) {
					add("only server, testenv and cmd may import sqlstore", p.ImportPath, d)
				}
			}
		}
	}
	sortViolations(out)
	return out
}

// sortViolations orders violations by importer, imported package, then rule.
func sortViolations(vs []Violation) {
	sort.Slice(vs, func(i, j int) bool {
		if vs[i].From != vs[j].From {
			return vs[i].From < vs[j].From
		}
		if vs[i].To != vs[j].To {
			return vs[i].To < vs[j].To
		}
		return vs[i].Rule < vs[j].Rule
	})
}

// chain finds an import path from → … → to along direct imports (breadth first), for messages.
func chain(byPath map[string]*Package, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append([]string{p}, path...)
			}
			return path
		}
		pkg := byPath[cur]
		if pkg == nil {
			continue
		}
		for _, next := range pkg.Imports {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// isStandard reports a standard-library package: marked so by go list, or, when absent from the
// listing, shaped like one (no dot in the first path element).
func isStandard(byPath map[string]*Package, p string) bool {
	if pkg := byPath[p]; pkg != nil {
		return pkg.Standard
	}
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

func anyUnder(p string, roots []string) bool {
	for _, root := range roots {
		if under(p, root) {
			return true
		}
	}
	return false
}
