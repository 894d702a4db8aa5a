package maven_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// artifactMetadata is what a test reads back from an artifact's maven-metadata.xml.
type artifactMetadata struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Versioning struct {
		Latest      string   `xml:"latest"`
		Release     string   `xml:"release"`
		Versions    []string `xml:"versions>version"`
		LastUpdated string   `xml:"lastUpdated"`
	} `xml:"versioning"`
}

// TestDeletedVersionLeavesTheMetadata drives the real mvn: two releases deployed, a consumer
// with a version range resolves the newest; the newest is deleted through the REST API, and
// the artifact's maven-metadata.xml (and its checksum) no longer lists it, so a fresh consumer
// resolves the older one instead of failing on a missing jar. Deleting the last version
// removes the document.
func TestDeletedVersionLeavesTheMetadata(t *testing.T) {
	e := start(t)
	child := e.f.Projects["child"]
	writer := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_package_registry", "write_package_registry"}, nil)
	deployer := newMaven(t, deployHeader(writer.Token))
	repo := e.projectRepo("child")
	name := e.groupPath() + "/ranged"
	for _, v := range []string{"1.0", "1.1"} {
		deployer.mustRun(t, library(t, e.groupID, "ranged", v, "ranged "+v, repo), "deploy")
	}
	metadataURL := repo + "/" + name + "/maven-metadata.xml"
	read := func(t *testing.T) (artifactMetadata, int) {
		t.Helper()
		res := e.do(t, http.MethodGet, metadataURL, nil, "Deploy-Token", writer.Token)
		if res.status != http.StatusOK {
			return artifactMetadata{}, res.status
		}
		var md artifactMetadata
		if err := xml.Unmarshal(res.body, &md); err != nil {
			t.Fatalf("maven-metadata.xml: %v\n%s", err, res.body)
		}
		sum := e.do(t, http.MethodGet, metadataURL+".sha1", nil, "Deploy-Token", writer.Token)
		if h := sha1.Sum(res.body); string(sum.body) != hex.EncodeToString(h[:]) {
			t.Fatalf("maven-metadata.xml.sha1 %q does not match the document", sum.body)
		}
		return md, res.status
	}
	if md, _ := read(t); !slices.Equal(md.Versioning.Versions, []string{"1.0", "1.1"}) {
		t.Fatalf("deployed metadata lists %v", md.Versioning.Versions)
	}
	resolve := func(t *testing.T, want string) {
		t.Helper()
		m := newMaven(t, deployHeader(writer.Token))
		m.mustRun(t, consumer(t, e.groupID, "ranged", "[1.0,)", repo), "-U", "compile")
		if _, err := os.Stat(filepath.Join(m.repo, strings.ReplaceAll(e.groupID, ".", "/"), "ranged", want, "ranged-"+want+".jar")); err != nil {
			t.Fatalf("the version range did not resolve %s: %v", want, err)
		}
	}
	resolve(t, "1.1")

	del := func(t *testing.T, version string) {
		t.Helper()
		id := e.version(t, "child", name, version).ID
		if code := e.ts.API(t, http.MethodDelete, fmt.Sprintf("/projects/%d/packages/%d", child.ID, id), nil, nil); code != http.StatusNoContent {
			t.Fatalf("DELETE version %s: %d", version, code)
		}
	}
	t.Run("ok/deleting the newest release rewrites the listing", func(t *testing.T) {
		del(t, "1.1")
		md, _ := read(t)
		if !slices.Equal(md.Versioning.Versions, []string{"1.0"}) || md.Versioning.Latest != "1.0" || md.Versioning.Release != "1.0" ||
			md.GroupID != e.groupID || md.ArtifactID != "ranged" || len(md.Versioning.LastUpdated) != 14 {
			t.Fatalf("metadata after the delete: %+v", md)
		}
		resolve(t, "1.0")
	})
	t.Run("ok/deleting the last version removes the listing", func(t *testing.T) {
		del(t, "1.0")
		if _, status := read(t); status != http.StatusNotFound {
			t.Fatalf("maven-metadata.xml after the last version went: %d", status)
		}
	})
}
