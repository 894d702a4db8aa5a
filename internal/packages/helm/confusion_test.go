package helm_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDependencyConfusion: a copy of a chart (same name, higher version) planted in another
// project of the group never reaches a client of the project it chose, even with a group token
// that may read both: Helm has only project-level repositories (as GitLab), and the index is
// the project's channel alone.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	c := e.newClient(t)
	mustUpload(t, e.uploadURL("grandchild", "stable"), "root", e.ts.RootToken, c.pack(t, "deep", "1.0.0", "genuine"))
	mustUpload(t, e.uploadURL("child", "stable"), "root", e.ts.RootToken, c.pack(t, "deep", "9.9.9", "planted"))
	groupTok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")

	c.must(t, "repo", "add", "--username", groupTok.Username, "--password", groupTok.Token, "gh", e.repo("grandchild", "stable"))
	dest := t.TempDir()
	c.must(t, "pull", "gh/deep", "--destination", dest) // the newest version the repository offers
	entries, err := os.ReadDir(dest)
	if err != nil || len(entries) != 1 || entries[0].Name() != "deep-1.0.0.tgz" {
		t.Fatalf("helm pull of the newest deep fetched %v (%v), want deep-1.0.0.tgz only", entries, err)
	}
	if out := c.must(t, "template", "rel", filepath.Join(dest, "deep-1.0.0.tgz")); !strings.Contains(out, "genuine") {
		t.Fatalf("rendered:\n%s", out)
	}
	status, body := get(t, e.repo("grandchild", "stable")+"/index.yaml", groupTok.Username, groupTok.Token)
	if status != http.StatusOK || strings.Contains(body, "9.9.9") {
		t.Fatalf("the chosen project's index: %d\n%s", status, body)
	}
	if status, _ := get(t, e.repo("grandchild", "stable")+"/charts/deep-9.9.9.tgz", groupTok.Username, groupTok.Token); status != http.StatusNotFound {
		t.Fatalf("the planted version through the chosen project: %d", status)
	}
}
