package archtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOnlyTheGateDecides type-checks the real module: no package but access and the gate calls
// access.(*Authorizer).Authorize (docs/architecture.md §3.3), so every decision sets the client
// address and audits refusals.
func TestOnlyTheGateDecides(t *testing.T) {
	pkgs := goList[Source](t, "-export", "-json=ImportPath,Dir,GoFiles,Export,ImportMap,Error")
	if !importPathsOf(pkgs)[Module+"/internal/gate"] {
		t.Fatal("go list output lacks internal/gate: update decidersAllowed")
	}

	// A protocol that decides on its own must be reported, so the check cannot pass by
	// type-checking nothing.
	t.Run("fail/a protocol calls access directly", func(t *testing.T) {
		dir := t.TempDir()
		src := `package api

import (
	"context"

	"` + Module + `/internal/access"
)

func decide(a *access.Authorizer) (access.Decision, error) {
	return a.Authorize(context.Background(), access.AnonymousPrincipal, access.Resource{}, access.ViewNamespace)
}
`
		if err := os.WriteFile(filepath.Join(dir, "decide.go"), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		// internal/api's files replaced by one that decides on its own (its export data stays, for
		// the packages that import it).
		mutated := slices.Clone(pkgs)
		for i, p := range mutated {
			if p.ImportPath == Module+"/internal/api" {
				mutated[i].Dir, mutated[i].GoFiles = dir, []string{"decide.go"}
			}
		}
		vs, err := CheckDecisions(mutated)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0].From != Module+"/internal/api" || !strings.Contains(vs[0].Rule, "decide.go:10") {
			t.Fatalf("a direct call of access.(*Authorizer).Authorize in internal/api: got %v", vs)
		}
	})

	vs, err := CheckDecisions(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	failOn(t, "the one gate (docs/architecture.md §3.3)", vs)
}

func importPathsOf(pkgs []Source) map[string]bool {
	out := make(map[string]bool, len(pkgs))
	for _, p := range pkgs {
		out[p.ImportPath] = true
	}
	return out
}
