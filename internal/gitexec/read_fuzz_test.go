package gitexec_test

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// fuzzRepo makes a repository with one commit on main (README.md, dir/a.txt) and a tag v1.
func fuzzRepo(tb testing.TB) (gitexec.Repo, string) {
	tb.Helper()
	bin := testbin.Binary(tb, "git")
	work := tb.TempDir()
	git := gitexec.Git{Bin: bin, Dir: work, Env: []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}}
	ctx := context.Background()
	for name, content := range map[string]string{"README.md": "hi\n", "dir/a.txt": "a\n", "-dash.txt": "dash\n"} {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "one"}, {"tag", "v1"}} {
		if err := git.Run(ctx, args...); err != nil {
			tb.Fatal(err)
		}
	}
	repo := gitexec.Open(bin, filepath.Join(work, ".git"))
	commit, err := repo.ResolveCommit(ctx, "main")
	if err != nil {
		tb.Fatal(err)
	}
	return repo, commit
}

// FuzzRefAndPath checks that whatever a client sends as a ref or a path, ValidRef and CleanPath
// let through only names (never an option, a revision expression or a way out of the tree), and
// the reads answer a commit, a file or ErrNotFound: never another error (a 500).
func FuzzRefAndPath(f *testing.F) {
	for _, seed := range [][2]string{
		{"main", "README.md"}, {"v1", "dir/a.txt"}, {"refs/heads/main", "dir"}, {"-x", "-dash.txt"},
		{"--output=/tmp/x", "../../etc/passwd"}, {"main~1", "dir/../README.md"}, {"main^{tree}", "/README.md/"},
		{"@{-1}", "./README.md"}, {"HEAD:README.md", "dir//a.txt"}, {"main..v1", "a\x00b"}, {"ma in", "a\nb"},
		{":/one", "*"}, {"a.lock", ":(glob)*"}, {"0123abcd", "dir/"}, {".hidden", ""}, {"main.", "."},
	} {
		f.Add(seed[0], seed[1])
	}
	repo, head := fuzzRepo(f)
	f.Fuzz(func(t *testing.T, ref, p string) {
		ctx := context.Background()
		if gitexec.ValidRef(ref) {
			if strings.HasPrefix(ref, "-") || strings.Contains(ref, "..") || strings.Contains(ref, "@{") ||
				strings.ContainsAny(ref, " ~^:?*[\\\x00\n") || len(ref) > 1024 {
				t.Fatalf("ValidRef(%q) = true", ref)
			}
		}
		commit, err := repo.ResolveCommit(ctx, ref)
		switch {
		case err == nil && len(commit) != 40:
			t.Fatalf("ResolveCommit(%q) = %q", ref, commit)
		case err == nil && !gitexec.ValidRef(ref):
			t.Fatalf("ResolveCommit(%q) resolved a ref ValidRef refuses", ref)
		case err != nil && !errors.Is(err, gitexec.ErrNotFound):
			t.Fatalf("ResolveCommit(%q): %v", ref, err)
		}

		clean, ok := gitexec.CleanPath(p)
		if !ok {
			return
		}
		if clean != "" && (path.Clean(clean) != clean || strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "../") ||
			clean == ".." || strings.Contains(clean, "/../") || strings.HasSuffix(clean, "/..") || strings.ContainsAny(clean, "\x00\n")) {
			t.Fatalf("CleanPath(%q) = %q", p, clean)
		}
		if again, ok := gitexec.CleanPath(clean); !ok || again != clean {
			t.Fatalf("CleanPath is not idempotent on %q: %q %v", clean, again, ok)
		}
		if clean == "" {
			return
		}
		e, err := repo.Blob(ctx, head, clean)
		switch {
		case err == nil && e.Path != clean:
			t.Fatalf("Blob(%q) = %+v", clean, e)
		case err != nil && !errors.Is(err, gitexec.ErrNotFound):
			t.Fatalf("Blob(%q): %v", clean, err)
		}
		if _, err := repo.Tree(ctx, head, clean, false); err != nil && !errors.Is(err, gitexec.ErrNotFound) {
			t.Fatalf("Tree(%q): %v", clean, err)
		}
	})
}

func TestRepoRefsAndPaths(t *testing.T) {
	repo, head := fuzzRepo(t)
	ctx := context.Background()
	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"main", true}, {"v1", true}, {"refs/heads/main", true}, {head, true}, {head[:7], true},
		{"nope", false}, {"-x", false}, {"--output=/tmp/x", false}, {"main~0", false}, {"main^{tree}", false},
		{"HEAD:README.md", false}, {"@{0}", false}, {"main..v1", false}, {":/one", false}, {"", false},
	} {
		got, err := repo.ResolveCommit(ctx, tc.ref)
		if tc.ok && (err != nil || got != head) {
			t.Errorf("ResolveCommit(%q) = %q, %v; want %s", tc.ref, got, err, head)
		}
		if !tc.ok && !errors.Is(err, gitexec.ErrNotFound) {
			t.Errorf("ResolveCommit(%q) = %q, %v; want ErrNotFound", tc.ref, got, err)
		}
	}
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"README.md", true}, {"-dash.txt", true}, {"dir/a.txt", true}, {"dir", false}, {"dir/", false}, {"nope", false},
		{"../README.md", false}, {"dir/../README.md", false}, {"*", false}, {":(glob)*.md", false}, {"README.m?", false},
	} {
		clean, ok := gitexec.CleanPath(tc.path)
		var err error
		if ok {
			_, err = repo.Blob(ctx, head, clean)
		}
		if got := ok && err == nil; got != tc.ok {
			t.Errorf("Blob(%q): ok %v err %v, want found=%v", tc.path, ok, err, tc.ok)
		}
	}
}
