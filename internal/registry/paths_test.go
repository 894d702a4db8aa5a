package registry_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// A member who may create in group could once add a subgroup at the path of a sibling project
// (group/top) and a project "app" in it, whose full path group/top/app is also the name of the
// old project's image: the new project's deploy token then pulled the old project's image, and
// the old project's own tokens lost it. Now the subgroup is refused ("has already been taken"),
// and should such a project exist anyway, repositories are found by project as well as name.
func TestSiblingPathTakeover(t *testing.T) {
	ts, f, host := startRegistry(t)
	crane := testenv.GoTool(t, "crane")
	top := f.Projects["top"]
	image := host + "/group/top/app:v1"

	victim := ts.CreateDeployToken(t, "projects/"+itoa(top.ID), []string{"read_registry", "write_registry"}, nil)
	vhome := t.TempDir()
	testenv.MustRun(t, vhome, crane, "auth", "login", host, "-u", victim.Username, "-p", victim.Token)
	testenv.MustRun(t, vhome, crane, "append", "--new_layer", testenv.RandomFile(t, vhome, "secret.bin", 4000), "-t", image)
	digest := strings.TrimSpace(testenv.MustRun(t, vhome, crane, "digest", image))

	// The attacker: a maintainer of group, with a personal access token.
	var attacker struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", "/users", map[string]any{"username": "mallory", "email": "mallory@example.com",
		"name": "Mallory", "password": "mallory-password"}, &attacker)
	var pat struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", attacker.ID),
		map[string]any{"name": "pat", "scopes": []string{"api"}}, &pat)
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/groups/%d/members", f.GroupID),
		map[string]any{"user_id": attacker.ID, "access_level": 40}, nil)

	var sub struct {
		ID int64 `json:"id"`
	}
	// GitLab's model validation: {"message":{"path":["has already been taken"]}}.
	var refusal struct {
		Message map[string][]string `json:"message"`
	}
	status := ts.APIAs(t, pat.Token, "POST", "/groups", map[string]any{"name": "top", "path": "top", "parent_id": f.GroupID}, &refusal)
	if status != http.StatusBadRequest || !slices.Contains(refusal.Message["path"], "has already been taken") {
		t.Errorf("subgroup group/top beside project group/top: status %d %v, want 400 path has already been taken", status, refusal.Message)
	}
	if status == http.StatusCreated {
		// The old code let it through: carry the attack on, to show what it reached.
		ts.MustAPI(t, http.StatusOK, "GET", "/groups/group%2Ftop", nil, &sub)
		var app testenv.Project
		if s := ts.APIAs(t, pat.Token, "POST", "/projects", map[string]any{"name": "app", "path": "app", "namespace_id": sub.ID}, &app); s != http.StatusCreated {
			t.Fatalf("project group/top/app: status %d", s)
		}
		ts.Clock.Advance(2 * time.Second) // past the registry's one-second image-name cache
		stolen := ts.CreateDeployToken(t, "projects/"+itoa(app.ID), []string{"read_registry"}, nil)
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", host, "-u", stolen.Username, "-p", stolen.Token)
		if out, err := testenv.Run(t, home, crane, "pull", image, filepath.Join(home, "stolen.tar")); err == nil {
			t.Errorf("the new project's token pulled the old project's image %s", image)
		} else {
			t.Logf("the new project's token: %s", tail(out, 200))
		}
	}
	// The old project's token still reaches its image, unchanged.
	if got := strings.TrimSpace(testenv.MustRun(t, vhome, crane, "digest", image)); got != digest {
		t.Fatalf("the old project's image is now %s, want %s", got, digest)
	}
	testenv.MustRun(t, vhome, crane, "pull", image, filepath.Join(vhome, "app.tar"))

	t.Run("fail/project at a sibling subgroup's path", func(t *testing.T) {
		refusal.Message = nil
		status := ts.APIAs(t, pat.Token, "POST", "/projects", map[string]any{"name": "sub", "path": "sub", "namespace_id": f.GroupID}, &refusal)
		if status != http.StatusBadRequest || !slices.Contains(refusal.Message["path"], "has already been taken") {
			t.Fatalf("project group/sub beside subgroup group/sub: status %d %v", status, refusal.Message)
		}
		// group/sub/child's images stay group/sub/child's.
		if s := ts.API(t, "GET", "/projects/group%2Fsub", nil, nil); s != http.StatusNotFound {
			t.Fatalf("project group/sub: status %d, want 404", s)
		}
	})
}
