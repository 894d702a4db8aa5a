package npm_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDependencyConfusion plants a newer copy of @group/core in another project of the @group
// root namespace (someone who may publish only to group/top) and installs ^1.0.0 with the real
// npm: the instance and group levels answer 409 naming both holders, never the planted
// version; a group that holds one copy still serves it.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	e.newClient(t, e.projectRegistry("child"), e.ts.RootToken).mustNPM(t, pkgDir(t, "@group/core", "1.0.0", "genuine"), "publish")
	top := e.token(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw...)
	e.newClient(t, e.projectRegistry("top"), top.Token).mustNPM(t, pkgDir(t, "@group/core", "1.0.1", "planted"), "publish")
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")

	for name, registry := range map[string]string{"instance": e.instanceRegistry(), "group": e.groupRegistry(e.f.GroupID)} {
		t.Run("fail/"+name+" level: two holders are a 409 naming them", func(t *testing.T) {
			c := e.newClient(t, registry, reader.Token)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o600); err != nil {
				t.Fatal(err)
			}
			out, code := c.npm(t, dir, "install", "@group/core@^1.0.0")
			if code == 0 || !strings.Contains(out, "409") {
				t.Fatalf("npm install: exit %d (want a 409)\n%s", code, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "node_modules/@group/core")); err == nil {
				t.Fatal("npm installed a copy")
			}
			for _, u := range []string{registry + "@group%2fcore", registry + "@group/core/-/core-1.0.1.tgz", registry + "-/package/@group%2fcore/dist-tags"} {
				st, body := e.do(t, http.MethodGet, u, reader.Token, nil)
				if st != http.StatusConflict || !strings.Contains(body, "group/sub/child") || !strings.Contains(body, "group/top") {
					t.Fatalf("GET %s: %d %s", u, st, body)
				}
			}
		})
	}
	t.Run("fail/instance level: the planter cannot move a dist-tag through the scope", func(t *testing.T) {
		if st, body := e.do(t, http.MethodPut, e.instanceRegistry()+"-/package/@group%2fcore/dist-tags/latest", top.Token, []byte(`"1.0.1"`)); st != http.StatusConflict {
			t.Fatalf("PUT dist-tag: %d %s", st, body)
		}
	})
	t.Run("ok/a subgroup that holds one copy serves it", func(t *testing.T) {
		c := e.newClient(t, e.groupRegistry(e.f.SubID), reader.Token)
		if got := c.install(t, "@group/core@^1.0.0", "@group/core"); got != "genuine" {
			t.Fatalf("installed module prints %q", got)
		}
	})
}
