package access

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"testing"
)

// TestActionsListsEveryConstant reads the package's source for the constants of type Action, so
// a new action that Actions does not return fails here instead of escaping the matrix tests.
func TestActionsListsEveryConstant(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []Action
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				v := spec.(*ast.ValueSpec)
				if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Action" {
					continue
				}
				for _, name := range v.Names {
					declared = append(declared, Action(constValue(t, v, name)))
				}
			}
		}
	}
	got := Actions()
	slices.Sort(declared)
	slices.Sort(got)
	if len(declared) < 20 || !slices.Equal(got, declared) {
		t.Fatalf("Actions() = %v\nthe constants of type Action are %v", got, declared)
	}
}

// constValue is the string literal name is declared with.
func constValue(t *testing.T, v *ast.ValueSpec, name *ast.Ident) string {
	t.Helper()
	for i, n := range v.Names {
		if n == name {
			lit, ok := v.Values[i].(*ast.BasicLit)
			if !ok {
				t.Fatalf("action %s is not declared with a string literal", name.Name)
			}
			return lit.Value[1 : len(lit.Value)-1]
		}
	}
	t.Fatalf("no value for %s", name.Name)
	return ""
}
