package namespace_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

func TestSplitRepoPath(t *testing.T) {
	cases := []struct {
		name, in      string
		project, rest string
		ok            bool
	}{
		{"ok/top level", "/acme/site.git/info/refs", "acme/site", "info/refs", true},
		{"ok/nested", "/platform/backend/payments/api.git/git-upload-pack", "platform/backend/payments/api", "git-upload-pack", true},
		{"ok/no leading slash", "acme/site.git/info/refs", "acme/site", "info/refs", true},
		{"ok/empty rest", "/acme/site.git/", "acme/site", "", true},
		{"ok/dots and dashes inside", "/a-b/c.d_e.git/HEAD", "a-b/c.d_e", "HEAD", true},
		{"ok/first .git/ wins", "/a/b.git/c.git/info/refs", "a/b", "c.git/info/refs", true},
		{"ok/single segment", "/solo.git/info/refs", "solo", "info/refs", true},
		{"fail/missing .git/", "/acme/site/info/refs", "", "", false},
		{"fail/.git without slash", "/acme/site.git", "", "", false},
		{"fail/empty", "", "", "", false},
		{"fail/only slash", "/", "", "", false},
		{"fail/only .git/", "/.git/info/refs", "", "", false},
		{"fail/traversal", "a/../b.git/info/refs", "", "", false},
		{"fail/traversal at start", "/../b.git/info/refs", "", "", false},
		{"fail/dot segment", "/a/./b.git/info/refs", "", "", false},
		{"fail/empty segment", "/a//b.git/info/refs", "", "", false},
		{"fail/double leading slash", "//a/b.git/info/refs", "", "", false},
		{"fail/trailing slash before .git", "/a/b/.git/info/refs", "", "", false},
		{"fail/leading dash", "/-a/b.git/info/refs", "", "", false},
		{"fail/leading dash in project", "/a/-b.git/info/refs", "", "", false},
		{"fail/space", "/a b/c.git/info/refs", "", "", false},
		{"fail/encoded slash left encoded", "/a%2Fb/c.git/info/refs", "", "", false},
		{"fail/backslash", `/a\b/c.git/info/refs`, "", "", false},
		{"fail/non-ascii", "/ä/c.git/info/refs", "", "", false},
		{"fail/segment ending in .git", "/a.git.git/info/refs", "", "", false},
		{"fail/segment ending in .atom", "/a.atom/c.git/info/refs", "", "", false},
		{"fail/segment too long", "/" + strings.Repeat("a", 256) + "/c.git/info/refs", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			project, rest, ok := namespace.SplitRepoPath(tc.in)
			if ok != tc.ok || project != tc.project || rest != tc.rest {
				t.Fatalf("SplitRepoPath(%q) = %q, %q, %v; want %q, %q, %v", tc.in, project, rest, ok, tc.project, tc.rest, tc.ok)
			}
		})
	}
}

func FuzzSplitRepoPath(f *testing.F) {
	for _, s := range []string{"/acme/site.git/info/refs", "/a/b/c/d.git/git-upload-pack", "a/../b.git/info/refs",
		"/a//b.git/x", "/-a/b.git/", "/.git/", "/a.git.git/x", "/a/b.git/c.git/d", "", "/", ".git/", "/a/b.gitx/.git/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		project, rest, ok := namespace.SplitRepoPath(in)
		if !ok {
			if project != "" || rest != "" {
				t.Fatalf("SplitRepoPath(%q) = %q, %q, false: values returned with ok false", in, project, rest)
			}
			return
		}
		if project == "" {
			t.Fatalf("SplitRepoPath(%q): ok with an empty project", in)
		}
		for _, seg := range strings.Split(project, "/") {
			if err := namespace.ValidatePath("path", seg); err != nil {
				t.Fatalf("SplitRepoPath(%q) = %q: segment %q invalid: %v", in, project, seg, err)
			}
		}
		if got := project + ".git/" + rest; got != strings.TrimPrefix(in, "/") {
			t.Fatalf("SplitRepoPath(%q) = %q + %q does not rebuild the input", in, project, rest)
		}
		if strings.Contains(project, ".git/") {
			t.Fatalf("SplitRepoPath(%q): project %q contains .git/", in, project)
		}
	})
}

// IsProjectPath says whether a clone URL without .git can name a project (internal/git routes by it).
func TestIsProjectPath(t *testing.T) {
	for in, want := range map[string]bool{
		"acme/site": true, "platform/backend/payments/api": true, "group/info/refs": true, "a-b/c.d_e": true,
		"solo": false, "": false, "/acme/site": false, "acme/site/": false, "acme//site": false, "acme/../site": false,
		"acme/site.git": false, "acme/-": false, "api/site": false, "users/alice": false, "-/site": false, "groups/acme/site": false,
		"a b/c": false, "acme/.": false,
	} {
		if got := namespace.IsProjectPath(in); got != want {
			t.Errorf("IsProjectPath(%q) = %v, want %v", in, got, want)
		}
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { namespace.IsProjectPath("platform/backend/payments/api") }); n != 0 {
		t.Errorf("%v allocations, want none", n)
	}
}

func TestValidatePath(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"acme", true}, {"a", true}, {"_x", true}, {"9lives", true}, {"a.b-c_d", true}, {"a.gitx", true},
		{strings.Repeat("a", 255), true},
		{"", false}, {"-a", false}, {".a", false}, {"..", false}, {"a..b", false}, {"a/b", false},
		{"a.git", false}, {"a.atom", false}, {"a b", false}, {"ä", false}, {strings.Repeat("a", 256), false},
	}
	for _, tc := range cases {
		name := "fail/"
		if tc.ok {
			name = "ok/"
		}
		t.Run(name+tc.in[:min(len(tc.in), 20)], func(t *testing.T) {
			err := namespace.ValidatePath("path", tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidatePath(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
			var ve *errkind.ValidationError
			if err != nil && (!errors.As(err, &ve) || ve.Field != "path" || !errors.Is(err, errkind.ErrInvalid)) {
				t.Fatalf("ValidatePath(%q) error %v is not a errkind.ValidationError on path", tc.in, err)
			}
		})
	}
}

func TestParseVisibility(t *testing.T) {
	for in, want := range map[string]namespace.Visibility{"": namespace.Private, "private": namespace.Private,
		"internal": namespace.Internal, "public": namespace.Public} {
		if got, err := namespace.ParseVisibility(in); err != nil || got != want {
			t.Errorf("ParseVisibility(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Public", "secret", " public"} {
		var ve *errkind.ValidationError
		if _, err := namespace.ParseVisibility(in); !errors.As(err, &ve) || ve.Field != "visibility" {
			t.Errorf("ParseVisibility(%q) = %v, want a errkind.ValidationError on visibility", in, err)
		}
	}
}

func TestRoleOrder(t *testing.T) {
	order := []namespace.Role{namespace.NoRole, namespace.Guest, namespace.Reporter, namespace.Developer, namespace.Maintainer, namespace.Owner}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("role %d not below %d", order[i-1], order[i])
		}
		if !order[i].Valid() {
			t.Errorf("role %d not valid", order[i])
		}
	}
	for _, r := range []namespace.Role{namespace.NoRole, 15, 60, -10} {
		if r.Valid() {
			t.Errorf("role %d valid", r)
		}
	}
}

func TestProjectHelpers(t *testing.T) {
	p := &namespace.Project{FullPath: "a/b/c/proj", GroupAncestry: []int64{1, 2, 3}}
	if p.NamespacePath() != "a/b/c" {
		t.Errorf("NamespacePath = %q", p.NamespacePath())
	}
	for id, want := range map[int64]bool{1: true, 2: true, 3: true, 4: false, 0: false} {
		if p.InGroup(id) != want {
			t.Errorf("InGroup(%d) = %v, want %v", id, !want, want)
		}
	}
	user := &namespace.Project{FullPath: "alice/dotfiles", OwnerUserID: 5}
	if user.InGroup(0) || user.NamespacePath() != "alice" {
		t.Errorf("user-namespace project: InGroup(0)=%v NamespacePath=%q", user.InGroup(0), user.NamespacePath())
	}
}
