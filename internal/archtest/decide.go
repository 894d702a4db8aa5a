package archtest

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// rawDecision is the method only the gate may call: access's decision without the client
// address and the audit of refusals (docs/architecture.md §3.3).
const rawDecision = "(*" + Module + "/internal/access.Authorizer).Authorize"

// decidersAllowed are the packages that may call rawDecision: access itself and the gate.
var decidersAllowed = map[string]bool{"internal/access": true, "internal/gate": true}

// Source is what CheckDecisions needs of a package: its files, and where the compiler's export
// data of each dependency is (`go list -export`).
type Source struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	// Export is the file of the package's export data; ImportMap maps an import path as written
	// to the package it resolves to, when they differ (vendoring).
	Export    string
	ImportMap map[string]string
}

// CheckDecisions type-checks every package of the module (its non-test files) and reports each
// use of access.(*Authorizer).Authorize outside access and the gate: a protocol that decided on
// its own would skip the client address and the audit of refusals. Violations are sorted.
func CheckDecisions(pkgs []Source) ([]Violation, error) {
	byPath := make(map[string]*Source, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		p, ok := byPath[path]
		if !ok || p.Export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p.Export)
	})
	var out []Violation
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok || decidersAllowed[r] || len(p.GoFiles) == 0 {
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: importerFor(imp, p.ImportMap)}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			return nil, fmt.Errorf("type-check %s: %w", p.ImportPath, err)
		}
		var at []string
		for id, obj := range info.Uses {
			if fn, ok := obj.(*types.Func); ok && fn.FullName() == rawDecision {
				pos := fset.Position(id.Pos())
				at = append(at, fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line))
			}
		}
		sort.Strings(at)
		for _, a := range at {
			out = append(out, Violation{Rule: "only internal/gate calls access.(*Authorizer).Authorize (" + a + ")",
				From: p.ImportPath, To: Module + "/internal/access"})
		}
	}
	sortViolations(out)
	return out, nil
}

// mappedImporter resolves import paths through a package's ImportMap before importing.
type mappedImporter struct {
	imp types.Importer
	m   map[string]string
}

func (mi mappedImporter) Import(path string) (*types.Package, error) {
	if to, ok := mi.m[path]; ok {
		path = to
	}
	return mi.imp.Import(path)
}

func importerFor(imp types.Importer, m map[string]string) types.Importer {
	if len(m) == 0 {
		return imp
	}
	return mappedImporter{imp, m}
}
