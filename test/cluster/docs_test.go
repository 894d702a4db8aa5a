package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackendInDocs: the HAProxy backend the cluster tests run behind is docs/operations.md's,
// but for its servers and check interval, so the documented one is the one shown to work.
func TestBackendInDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, backend, ok := strings.Cut(string(b), "\nbackend nodes\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "backend nodes" section`)
	}
	backend, _, _ = strings.Cut(backend, "```")
	var have []string
	for _, l := range strings.Split(backend, "\n") {
		have = append(have, strings.TrimSpace(l))
	}
	for _, want := range balancerLines {
		found := false
		for _, l := range have {
			found = found || l == want
		}
		if !found {
			t.Errorf("docs/operations.md's backend lacks %q", want)
		}
	}
	if !strings.Contains(backend, " backup\n") {
		t.Error("docs/operations.md's backend lacks the unchecked backup servers the tests fall back to")
	}
}
