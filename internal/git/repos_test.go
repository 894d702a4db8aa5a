package git_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/git"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestRepos: Create never replaces an existing repository and leaves nothing behind when it
// fails; Remove takes the repository away (a missing one is fine); Sweep removes only the
// leftovers of creations and deletions older than an hour.
func TestRepos(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	r := &git.Repos{Root: root, GitBin: testenv.Binary(t, "git")}
	list := func() []string {
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		return names
	}
	t.Run("ok/create", func(t *testing.T) {
		if err := r.Create(ctx, 1); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, r.Dir(1), "rev-parse", "--git-dir")
		if got := list(); !slices.Equal(got, []string{"1.git"}) {
			t.Fatalf("after Create: %v", got)
		}
	})
	t.Run("fail/create over an existing repository", func(t *testing.T) {
		marker := filepath.Join(r.Dir(1), "marker")
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Create(ctx, 1); err == nil {
			t.Fatal("Create over an existing repository succeeded")
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("the existing repository was touched: %v", err)
		}
		if got := list(); !slices.Equal(got, []string{"1.git"}) {
			t.Fatalf("after a failed Create: %v", got)
		}
	})
	t.Run("ok/remove", func(t *testing.T) {
		if err := r.Remove(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, 1); err != nil {
			t.Fatalf("removing a missing repository: %v", err)
		}
		if got := list(); len(got) != 0 {
			t.Fatalf("after Remove: %v", got)
		}
	})
	t.Run("ok/sweep removes old leftovers only", func(t *testing.T) {
		old := time.Now().Add(-2 * time.Hour)
		for _, name := range []string{".tmp-7-old", ".deleted-8-old", ".tmp-9-new", "10.git"} {
			if err := os.MkdirAll(filepath.Join(root, name, "objects"), 0o750); err != nil {
				t.Fatal(err)
			}
			if name != ".tmp-9-new" {
				if err := os.Chtimes(filepath.Join(root, name), old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := r.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if got := list(); !slices.Equal(got, []string{".tmp-9-new", "10.git"}) {
			t.Fatalf("after Sweep: %v", got)
		}
	})
}
