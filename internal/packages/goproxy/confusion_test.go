package goproxy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestDependencyConfusion pushes, to another group's project, a module that declares the
// victim's module path with a higher tag, and lists that project's proxy first in GOPROXY: the
// real go command still gets the victim's module, because a project's proxy serves only module
// paths under its own project path (the module path names the project), and answers 404 for
// the rest, so go falls through to the proxy the path names. There is no group- or
// instance-level Go proxy to choose among projects.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	victim := e.pushModule(t, "child")
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	writeFiles(t, work, map[string]string{"go.mod": "module " + victim + "\n\ngo 1.22\n", "LICENSE": "MIT\n",
		"hello.go": "package child\n\nfunc Hello() string { return \"planted\" }\n"})
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "planted")
	testenv.Git(t, work, "tag", "v1.9.0")
	testenv.Git(t, work, "push", "-q", e.ts.GitURL(e.f.Projects["sibling"].FullPath, "root", e.ts.RootToken), "main", "--tags")

	// One credential that reads both projects (an administrator's token), the planted proxy first.
	c := e.newClient(t, e.proxyURL("sibling", "", "")+","+e.proxyURL("child", "", ""), e.ts.RootToken)
	out := c.mustRun(t, "", "mod", "download", "-json", victim+"@latest")
	var d downloaded
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("go mod download output %q: %v", out, err)
	}
	if d.Version != "v1.1.0" || d.Error != "" {
		t.Fatalf("go resolved %s@%s (%s), want the victim's v1.1.0", d.Path, d.Version, d.Error)
	}
	c.fails(t, []string{"404 Not Found"}, "mod", "download", "-json", victim+"@v1.9.0")
	if strings.Contains(out, "planted") {
		t.Fatal("the planted module was downloaded")
	}
}
