package goproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

const base = "example.test/group/proj"

// work is a work tree whose commits are pushed to a bare repository.
type work struct {
	t    *testing.T
	git  string
	dir  string
	bare string
}

func newWork(t *testing.T) *work {
	t.Helper()
	w := &work{t: t, git: testbin.Binary(t, "git"), dir: t.TempDir(), bare: filepath.Join(t.TempDir(), "repo.git")}
	w.run("init", "-q", "-b", "main", w.dir)
	w.run("init", "-q", "--bare", "-b", "main", w.bare)
	return w
}

func (w *work) run(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(w.git, args...)
	cmd.Dir = w.dir
	cmd.Env = append(gitEnv(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.test", "GIT_COMMITTER_DATE=2024-05-06T07:08:09Z", "GIT_AUTHOR_DATE=2024-05-06T07:08:09Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// write writes files (path → content; "->target" makes a symbolic link) and commits them.
func (w *work) commit(files map[string]string, remove ...string) {
	w.t.Helper()
	for p, c := range files {
		full := filepath.Join(w.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				w.t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, p := range remove {
		w.run("rm", "-q", "-r", p)
	}
	w.run("add", "-A")
	w.run("commit", "-q", "-m", "change")
}

func (w *work) tag(names ...string) {
	for _, n := range names {
		w.run("tag", "-a", "-m", n, n)
	}
}

func (w *work) push() *repo {
	w.t.Helper()
	w.run("push", "-q", "--follow-tags", "--tags", w.bare, "main")
	return &repo{bin: w.git, dir: w.bare}
}

func open(t *testing.T, r *repo, path string) *session {
	t.Helper()
	mod, ok := splitModule(path, base)
	if !ok {
		t.Fatalf("splitModule(%q) failed", path)
	}
	s, err := r.session(context.Background(), mod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func versions(t *testing.T, s *session) []string {
	t.Helper()
	vs, err := s.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

// fixtureRepo: a root module with v1 tags, a v2 major subdirectory, a v3 "major branch", a
// sub-module with its own tags, and a directory without go.mod.
func fixtureRepo(t *testing.T) *repo {
	w := newWork(t)
	w.commit(map[string]string{"go.mod": "module " + base + "\n\ngo 1.22\n", "a.go": "package a\n", "LICENSE": "root license\n",
		"pkg/p.go": "package pkg\n", "link.go": "->a.go", "vendor/x/x.go": "package x\n", "vendor/modules.txt": "# none\n",
		"sub/go.mod": "module " + base + "/sub\n", "sub/s.go": "package sub\n"})
	w.tag("v1.0.0", "sub/v0.1.0")
	w.commit(map[string]string{"a.go": "package a // 1.1\n", "v2/go.mod": "module " + base + "/v2\n", "v2/b.go": "package b\n"})
	w.tag("v1.1.0", "v1.2.0-rc.1", "v2.0.0", "v1.0", "not-a-version", "v1.3.0+build", "sub/v0.2.0")
	w.commit(map[string]string{"go.mod": "module " + base + "/v3\n"})
	w.tag("v3.0.0")
	return w.push()
}

func TestListVersions(t *testing.T) {
	r := fixtureRepo(t)
	cases := []struct {
		path string
		want []string
	}{
		// v2.0.0 has a go.mod at the root declaring the v1 path: not a +incompatible version.
		// v3.0.0's root go.mod declares /v3. Non-canonical tags and build metadata are skipped.
		{base, []string{"v1.0.0", "v1.1.0", "v1.2.0-rc.1"}},
		{base + "/v2", []string{"v2.0.0"}},
		{base + "/v3", []string{"v3.0.0"}},
		{base + "/sub", []string{"v0.1.0", "v0.2.0"}},
		{base + "/pkg", nil},
		{base + "/v4", nil},
	}
	for _, c := range cases {
		t.Run("ok/"+c.path, func(t *testing.T) {
			if got := versions(t, open(t, r, c.path)); !slices.Equal(got, c.want) {
				t.Fatalf("list = %q, want %q", got, c.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	r := fixtureRepo(t)
	ctx := context.Background()
	cases := []struct {
		name, path, version string
		dir                 string
		gomod               string
		err                 error
	}{
		{"ok/root", base, "v1.1.0", "", "module " + base + "\n\ngo 1.22\n", nil},
		{"ok/pre-release", base, "v1.2.0-rc.1", "", "", nil},
		{"ok/major subdirectory", base + "/v2", "v2.0.0", "v2", "module " + base + "/v2\n", nil},
		{"ok/major branch", base + "/v3", "v3.0.0", "", "module " + base + "/v3\n", nil},
		{"ok/sub-module", base + "/sub", "v0.1.0", "sub", "module " + base + "/sub\n", nil},
		{"fail/unknown tag", base, "v1.9.0", "", "", packages.ErrNotFound},
		{"fail/sub-module tag for root", base, "v0.1.0", "", "", packages.ErrNotFound},
		{"fail/directory without go.mod", base + "/pkg", "v1.0.0", "", "", packages.ErrNotFound},
		{"fail/incompatible with go.mod", base, "v2.0.0+incompatible", "", "", packages.ErrNotFound},
		{"fail/v3 under v2 path", base + "/v2", "v2.1.0", "", "", packages.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := open(t, r, c.path).resolve(ctx, c.version)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Version != c.version || v.Dir != c.dir || (c.gomod != "" && string(v.GoMod) != c.gomod) {
				t.Fatalf("resolved %+v (go.mod %q)", v, v.GoMod)
			}
			if want := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC); !v.Time.Equal(want) {
				t.Fatalf("time = %v, want %v", v.Time, want)
			}
		})
	}
}

func TestIncompatibleAndSynthesisedGoMod(t *testing.T) {
	w := newWork(t)
	w.commit(map[string]string{"a.go": "package a\n"})
	w.tag("v1.0.0", "v4.1.0")
	r := w.push()
	s := open(t, r, base)
	if got, want := versions(t, s), []string{"v1.0.0", "v4.1.0+incompatible"}; !slices.Equal(got, want) {
		t.Fatalf("list = %q, want %q", got, want)
	}
	v, err := s.resolve(context.Background(), "v4.1.0+incompatible")
	if err != nil {
		t.Fatal(err)
	}
	if string(v.GoMod) != "module "+base+"\n" {
		t.Fatalf("synthesised go.mod = %q", v.GoMod)
	}
	l, err := s.latest(context.Background())
	if err != nil || l.Version != "v4.1.0+incompatible" {
		t.Fatalf("latest = %+v, %v", l, err)
	}
	checkZip(t, s, v, []string{"a.go"})
}

func TestPseudoVersions(t *testing.T) {
	w := newWork(t)
	w.commit(map[string]string{"go.mod": "module " + base + "\n", "a.go": "package a\n"})
	r := w.push()
	s := open(t, r, base)
	ctx := context.Background()
	// No tag: @latest is a pseudo-version of HEAD, which resolves.
	l, err := s.latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head := w.run("rev-parse", "HEAD")
	want := "v0.0.0-20240506070809-" + head[:12]
	if l.Version != want {
		t.Fatalf("latest = %q, want %q", l.Version, want)
	}
	if v, err := s.resolve(ctx, want); err != nil || v.Commit != head {
		t.Fatalf("resolve %s = %+v, %v", want, v, err)
	}
	for name, v := range map[string]string{
		"fail/wrong time":      "v0.0.0-20240506070810-" + head[:12],
		"fail/unknown commit":  "v0.0.0-20240506070809-000000000000",
		"fail/base not a tag":  "v1.0.1-0.20240506070809-" + head[:12],
		"fail/upper-case hash": "v0.0.0-20240506070809-" + strings.ToUpper(head[:12]),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.resolve(ctx, v); !errors.Is(err, packages.ErrNotFound) {
				t.Fatalf("resolve %s: err = %v, want not found", v, err)
			}
		})
	}
	// After a tag, a pseudo-version based on it resolves for a later commit.
	w.tag("v1.0.0")
	w.commit(map[string]string{"b.go": "package a\n"})
	w.push()
	next := w.run("rev-parse", "HEAD")
	s2 := open(t, r, base)
	if _, err := s2.resolve(ctx, "v1.0.1-0.20240506070809-"+next[:12]); err != nil {
		t.Fatalf("pseudo-version on v1.0.0: %v", err)
	}
}

// checkZip builds the zip of v and checks it with the module zip rules and its file list.
func checkZip(t *testing.T, s *session, v *resolved, want []string) {
	t.Helper()
	var buf bytes.Buffer
	if err := s.writeZip(context.Background(), &buf, v, 1<<20); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cf, err := zip.CheckZip(module.Version{Path: s.mod.path, Version: v.Version}, p)
	if err != nil {
		t.Fatalf("CheckZip: %v", err)
	}
	var got []string
	for _, f := range cf.Valid {
		got = append(got, strings.TrimPrefix(f, s.mod.path+"@"+v.Version+"/"))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("zip holds %q, want %q", got, want)
	}
}

func TestZipContents(t *testing.T) {
	r := fixtureRepo(t)
	ctx := context.Background()
	for _, c := range []struct {
		path, version string
		want          []string
	}{
		// The sub-module, the v2 directory (a module of its own), the symbolic link and the
		// vendored package stay out; vendor/modules.txt stays in.
		{base, "v1.1.0", []string{"LICENSE", "a.go", "go.mod", "pkg/p.go", "vendor/modules.txt"}},
		// A sub-module without a LICENSE gets the root's.
		{base + "/sub", "v0.2.0", []string{"LICENSE", "go.mod", "s.go"}},
		{base + "/v2", "v2.0.0", []string{"LICENSE", "go.mod", "b.go"}},
	} {
		t.Run("ok/"+c.path, func(t *testing.T) {
			s := open(t, r, c.path)
			v, err := s.resolve(ctx, c.version)
			if err != nil {
				t.Fatal(err)
			}
			checkZip(t, s, v, c.want)
		})
	}
}

func TestZipLimits(t *testing.T) {
	w := newWork(t)
	// A blob of 2 MiB of zeros: a few kilobytes in Git, 2 MiB once unpacked.
	w.commit(map[string]string{"go.mod": "module " + base + "\n", "big.bin": strings.Repeat("\x00", 2<<20)})
	w.tag("v1.0.0")
	w.commit(map[string]string{"Go.mod": "module other\n"}, "big.bin")
	w.tag("v1.1.0")
	r := w.push()
	s := open(t, r, base)
	ctx := context.Background()
	v, err := s.resolve(ctx, "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeZip(ctx, &bytes.Buffer{}, v, 1<<20); !errors.Is(err, packages.ErrTooLarge) {
		t.Fatalf("2 MiB module under a 1 MiB limit: err = %v, want too large", err)
	}
	if err := s.writeZip(ctx, &bytes.Buffer{}, v, 4<<20); err != nil {
		t.Fatalf("2 MiB module under a 4 MiB limit: %v", err)
	}
	// The temporary zip writer stops at its own bound too.
	if _, err := tempZip(t.TempDir(), func(dst io.Writer) error {
		return s.writeZip(ctx, dst, v, 4<<20)
	}, 1<<10); !errors.Is(err, packages.ErrTooLarge) {
		t.Fatalf("zip over the writer's bound: err = %v", err)
	}
	v2, err := s.resolve(ctx, "v1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeZip(ctx, &bytes.Buffer{}, v2, 4<<20); !errors.Is(err, errBadModule) {
		t.Fatalf("Go.mod beside go.mod: err = %v, want a bad module", err)
	}
}

func TestSplitModule(t *testing.T) {
	cases := []struct {
		path            string
		ok              bool
		codeDir, suffix string
	}{
		{base, true, "", ""},
		{base + "/v2", true, "", "/v2"},
		{base + "/a/b", true, "a/b", ""},
		{base + "/a/v3", true, "a", "/v3"},
		{"example.test/group/projx", false, "", ""},
		{"example.test/group", false, "", ""},
		{"other.test/group/proj", false, "", ""},
		{base + "/v1", false, "", ""},
	}
	for _, c := range cases {
		m, ok := splitModule(c.path, base)
		if ok != c.ok || (ok && (m.codeDir != c.codeDir || m.pathMajor != c.suffix)) {
			t.Errorf("splitModule(%q) = %+v, %v", c.path, m, ok)
		}
	}
	// A project whose own path looks like a major version.
	if m, ok := splitModule("example.test/group/v2", "example.test/group/v2"); !ok || m.pathMajor != "" || m.codeDir != "" {
		t.Errorf("project named v2: %+v, %v", m, ok)
	}
}
