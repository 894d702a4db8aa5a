package pypi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestDependencyConfusion plants a newer copy of a package in another project of the group
// (someone who may upload only to group/top) and installs it with the real pip through the
// group index: two holders are a 409 naming them, never an index merged with the planted
// version; the subgroup that holds one copy still serves it.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	e.mustUpload(t, e.projectURL("child"), "root", e.ts.RootToken, wheel(t, "core", "1.0.0", "genuine", "").path)
	top := e.token(t, e.projectOwner("top"), rw...)
	planted := wheel(t, "core", "1.0.1", "planted", "")
	e.mustUpload(t, e.projectURL("top"), top.Username, top.Token, planted.path)
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")

	t.Run("fail/group level: two holders are a 409 naming them", func(t *testing.T) {
		out, code := newVenv(t).pip(t, withAuth(e.groupURL(e.f.GroupID)+"/simple", "x", reader.Token), "core")
		if code == 0 || !strings.Contains(out, "409") || strings.Contains(out, "Successfully installed") {
			t.Fatalf("pip install: exit %d (want a 409)\n%s", code, out)
		}
		resp, body := get(t, e.groupURL(e.f.GroupID)+"/simple/core/", basic("x", reader.Token))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "group/sub/child") || !strings.Contains(body, "group/top") {
			t.Fatalf("GET the group's simple page: %d %s", resp.StatusCode, body)
		}
		// A file URL names its bytes by digest, so the one project holding them serves it: the
		// client asked for exactly those bytes.
		if resp, _ := get(t, e.groupURL(e.f.GroupID)+"/files/"+planted.sha256()+"/"+planted.name, basic("x", reader.Token)); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET a file by digest: %d", resp.StatusCode)
		}
	})
	t.Run("ok/the subgroup that holds one copy serves it", func(t *testing.T) {
		if got := newVenv(t).install(t, withAuth(e.groupURL(e.f.SubID)+"/simple", "x", reader.Token), "core", "core"); got != "genuine" {
			t.Fatalf("installed module prints %q", got)
		}
	})
}
