package nuget_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestDependencyConfusion plants a newer copy of a package in another project of the group
// (someone who may push only to group/top) and restores it through the group's v3 feed as dotnet
// restore asks (flat container, registration, content; no v3 client runs here, see
// protocol_test.go): two holders are a 409 naming them, never versions merged with the planted
// one; the subgroup that holds one copy still serves it, and search still lists the id.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	if st, body := push(t, e.feed("child"), apiKey(e.ts.RootToken), nupkg(t, "Core.Pkg", "1.0.0", "genuine", nil)); st != 201 {
		t.Fatalf("push: %d %s", st, body)
	}
	top := e.token(t, e.projectOwner("top"), rw...)
	if st, body := push(t, e.feed("top"), apiKey(top.Token), nupkg(t, "Core.Pkg", "1.0.1", "planted", nil)); st != 201 {
		t.Fatalf("planted push: %d %s", st, body)
	}
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	c := basic(reader.Username, reader.Token)

	t.Run("fail/group feed: two holders are a 409 naming them", func(t *testing.T) {
		for _, p := range []string{"/download/core.pkg/index.json", "/metadata/core.pkg/index.json", "/metadata/core.pkg/1.0.1.json",
			"/download/core.pkg/1.0.1/core.pkg.1.0.1.nupkg", "/download/core.pkg/1.0.0/core.pkg.1.0.0.nupkg"} {
			st, _, body := do(t, http.MethodGet, e.groupFeed(e.f.GroupID)+p, c, "", nil)
			if st != http.StatusConflict || !strings.Contains(body, "group/sub/child") || !strings.Contains(body, "group/top") {
				t.Fatalf("GET %s: %d %s", p, st, body)
			}
		}
	})
	t.Run("ok/the subgroup that holds one copy serves it", func(t *testing.T) {
		var versions struct{ Versions []string }
		if st := getJSON(t, e.groupFeed(e.f.SubID)+"/download/core.pkg/index.json", c, &versions); st != 200 || strings.Join(versions.Versions, ",") != "1.0.0" {
			t.Fatalf("subgroup versions: %d %v", st, versions.Versions)
		}
	})
	t.Run("ok/search lists the id", func(t *testing.T) {
		var s searchDoc
		if st := getJSON(t, e.groupFeed(e.f.GroupID)+"/query?q=core", c, &s); st != 200 || s.TotalHits != 1 {
			t.Fatalf("group search: %d %+v", st, s)
		}
	})
}
