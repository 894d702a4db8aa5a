package errkind_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

func TestValidationErrorIsInvalid(t *testing.T) {
	err := fmt.Errorf("create: %w", &errkind.ValidationError{Field: "name", Reason: "is missing"})
	if !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if errors.Is(err, errkind.ErrNotFound) || errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("%v matches another kind", err)
	}
	var ve *errkind.ValidationError
	if !errors.As(err, &ve) || ve.Error() != "name is missing" {
		t.Fatalf("errors.As: %v, %v", ve, err)
	}
}

// TestKindsListsEveryKind reads errkind.go so that a new kind cannot be left out of Kinds, and so
// out of the wire writers' tests, which enumerate Kinds.
func TestKindsListsEveryKind(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errkind.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			for _, n := range spec.(*ast.ValueSpec).Names {
				if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
					declared = append(declared, n.Name)
				}
			}
		}
	}
	listed := errkind.Kinds()
	if len(declared) == 0 || len(listed) != len(declared) {
		t.Fatalf("errkind.go declares %d kinds %v; Kinds lists %d: %v", len(declared), declared, len(listed), listed)
	}
	for i, k := range listed {
		for _, other := range listed[i+1:] {
			if errors.Is(k, other) {
				t.Fatalf("Kinds lists %v twice", k)
			}
		}
	}
}
