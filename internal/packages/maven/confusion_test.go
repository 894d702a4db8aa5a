package maven_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// newProject creates a project in group ns as root and adds it to the fixture under name.
func (e *env) newProject(t *testing.T, name string, ns int64, visibility string) testenv.Project {
	t.Helper()
	var p testenv.Project
	e.ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": name, "path": name,
		"namespace_id": ns, "visibility": visibility}, &p)
	e.f.Projects[name] = p
	return p
}

// storedJar is the jar of name at version that project holds.
func (e *env) storedJar(t *testing.T, project, name, version string) *packages.File {
	t.Helper()
	v := e.version(t, project, name, version)
	for i := range v.Files {
		if strings.HasSuffix(v.Files[i].Filename, ".jar") {
			return &v.Files[i]
		}
	}
	t.Fatalf("%s holds no jar of %s %s: %+v", project, name, version, v.Files)
	return nil
}

// TestDependencyConfusion plants copies of a private project's artifact, newer and with a newer
// maven-metadata.xml, in projects the client did not choose, and resolves with the real mvn and
// a version range: at the instance level only the project the package path names serves (never
// a public project elsewhere that is newer), and at the group level two holders are a 409 that
// names them, never the newer one.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	e.nameAfter("child") // group.sub.child:core, in the private project group/sub/child
	child := e.f.Projects["child"]
	name := e.groupPath() + "/core"
	victim := newMaven(t, deployHeader(e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID),
		[]string{"read_package_registry", "write_package_registry"}, nil).Token))
	victim.mustRun(t, library(t, e.groupID, "core", "1.0", "genuine", e.projectRepo("child")), "deploy")
	genuine := e.storedJar(t, "child", name, "1.0")

	// Any user: a public project of their own, with the victim's coordinates, later.
	e.newProject(t, "evil", e.f.OtherGroupID, "public")
	attacker := newMaven(t, deployHeader(e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["evil"].ID),
		[]string{"read_package_registry", "write_package_registry"}, nil).Token))
	attacker.mustRun(t, library(t, e.groupID, "core", "1.0", "planted", e.projectRepo("evil")), "deploy")
	attacker.mustRun(t, library(t, e.groupID, "core", "2.0", "planted", e.projectRepo("evil")), "deploy")
	planted := e.storedJar(t, "evil", name, "1.0")
	if planted.SHA256 == genuine.SHA256 {
		t.Fatal("the planted jar is the genuine one: the test proves nothing")
	}

	// resolve compiles a consumer of core [1.0,) from repo and returns mvn's output, its exit
	// code and the jars it resolved by version.
	resolve := func(t *testing.T, m *maven, repo string) (string, int, map[string][]byte) {
		t.Helper()
		out, code := m.run(t, consumer(t, e.groupID, "core", "[1.0,)", repo), "-U", "compile")
		jars := map[string][]byte{}
		for _, v := range []string{"1.0", "2.0"} {
			if b, err := os.ReadFile(filepath.Join(m.repo, e.groupPath(), "core", v, "core-"+v+".jar")); err == nil {
				jars[v] = b
			}
		}
		return out, code, jars
	}

	t.Run("ok/instance level: a project reader gets the genuine jar through the range", func(t *testing.T) {
		reader := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_package_registry"}, nil)
		out, code, jars := resolve(t, newMaven(t, basic(reader.Username, reader.Token)), e.instanceRepo())
		if code != 0 || len(jars) != 1 || packages.SumsOf(jars["1.0"]).SHA256 != genuine.SHA256 {
			t.Fatalf("mvn exit %d, resolved versions %v (want only the genuine 1.0)\n%s", code, keys(jars), out)
		}
	})
	t.Run("ok/instance level: an administrator gets the genuine jar and metadata", func(t *testing.T) {
		base := e.instanceRepo() + "/" + name
		r := e.do(t, http.MethodGet, base+"/1.0/core-1.0.jar", nil, "Private-Token", e.ts.RootToken)
		if r.status != http.StatusOK || packages.SumsOf(r.body).SHA256 != genuine.SHA256 {
			t.Fatalf("GET jar: %d, genuine %v", r.status, packages.SumsOf(r.body).SHA256 == genuine.SHA256)
		}
		r = e.do(t, http.MethodGet, base+"/maven-metadata.xml", nil, "Private-Token", e.ts.RootToken)
		if r.status != http.StatusOK || bytes.Contains(r.body, []byte("<version>2.0</version>")) {
			t.Fatalf("GET maven-metadata.xml: %d\n%s", r.status, r.body)
		}
		if r := e.do(t, http.MethodGet, base+"/2.0/core-2.0.jar", nil, "Private-Token", e.ts.RootToken); r.status != http.StatusNotFound {
			t.Fatalf("GET the planted 2.0: %d", r.status)
		}
	})
	t.Run("fail/instance level: an anonymous client is asked for credentials, not served the public copy", func(t *testing.T) {
		for _, p := range []string{"/1.0/core-1.0.jar", "/2.0/core-2.0.jar", "/maven-metadata.xml"} {
			r := e.do(t, http.MethodGet, e.instanceRepo()+"/"+name+p, nil)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("anonymous GET %s: %d", p, r.status)
			}
		}
	})
	t.Run("fail/instance level: a copy whose path names no project is not served", func(t *testing.T) {
		// The attacker's own coordinates elsewhere stay reachable only through its project.
		own := "org/example/" + randomHex(t, 4) + "/lib"
		e.deploySequence(t, e.projectRepo("evil"), own+"/1.0/lib-1.0.jar", []byte("jar"), "Private-Token", e.ts.RootToken)
		if r := e.do(t, http.MethodGet, e.instanceRepo()+"/"+own+"/1.0/lib-1.0.jar", nil, "Private-Token", e.ts.RootToken); r.status != http.StatusNotFound {
			t.Fatalf("GET at the instance level: %d", r.status)
		}
	})

	// Someone who may publish only to group/top plants the same artifact in the victim's group.
	top := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID),
		[]string{"read_package_registry", "write_package_registry"}, nil)
	newMaven(t, deployHeader(top.Token)).mustRun(t, library(t, e.groupID, "core", "2.0", "planted", e.projectRepo("top")), "deploy")
	groupReader := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.GroupID), []string{"read_package_registry"}, nil)

	t.Run("fail/group level: two holders are a 409 naming them, never the newer copy", func(t *testing.T) {
		out, code, jars := resolve(t, newMaven(t, deployHeader(groupReader.Token)), e.groupRepo(e.f.GroupID))
		if code == 0 || len(jars) != 0 || !strings.Contains(out, "409") {
			t.Fatalf("mvn exit %d, resolved versions %v (want none, and a 409)\n%s", code, keys(jars), out)
		}
		for _, p := range []string{"/maven-metadata.xml", "/1.0/core-1.0.jar", "/2.0/core-2.0.jar"} {
			r := e.do(t, http.MethodGet, e.groupRepo(e.f.GroupID)+"/"+name+p, nil, "Deploy-Token", groupReader.Token)
			if r.status != http.StatusConflict || !strings.Contains(string(r.body), "group/sub/child") || !strings.Contains(string(r.body), "group/top") {
				t.Fatalf("GET %s: %d %s", p, r.status, r.body)
			}
		}
		// A credential that reads only one of them is told about the other without its name.
		r := e.do(t, http.MethodGet, e.groupRepo(e.f.GroupID)+"/"+name+"/2.0/core-2.0.jar", nil, "Deploy-Token", top.Token)
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "2 projects here (group/top and 1 you cannot read)") {
			t.Fatalf("GET with top's token: %d %s", r.status, r.body)
		}
	})
	t.Run("ok/group level: the subgroup that holds one copy serves it", func(t *testing.T) {
		out, code, jars := resolve(t, newMaven(t, deployHeader(groupReader.Token)), e.groupRepo(e.f.SubID))
		if code != 0 || len(jars) != 1 || packages.SumsOf(jars["1.0"]).SHA256 != genuine.SHA256 {
			t.Fatalf("mvn exit %d, resolved versions %v (want only the genuine 1.0)\n%s", code, keys(jars), out)
		}
	})
	t.Run("fail/group level: a token that reads neither holder is refused as not found", func(t *testing.T) {
		// The one audited decision comes first: the 409 is only for a credential that may read
		// one of the holders.
		other := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), []string{"read_package_registry"}, nil)
		r := e.do(t, http.MethodGet, e.groupRepo(e.f.GroupID)+"/"+name+"/1.0/core-1.0.jar", nil, "Deploy-Token", other.Token)
		if r.status != http.StatusNotFound {
			t.Fatalf("GET with another group's token: %d %s", r.status, r.body)
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
