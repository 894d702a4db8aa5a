package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestRepositoriesDir: with repositories_dir set, the Git repositories live there (the shared
// filesystem of a cluster, docs/operations.md), not under the data directory.
func TestRepositoriesDir(t *testing.T) {
	repos := t.TempDir()
	ts := testenv.StartServer(t, func(c *config.Config) { c.RepositoriesDir = repos })
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	pushInitial(t, ts, p.FullPath, "root", ts.RootToken)

	bare := filepath.Join(repos, strconv.FormatInt(p.ID, 10)+".git")
	testenv.Git(t, bare, "rev-parse", "--verify", "refs/heads/main")
	if _, err := os.Stat(filepath.Join(ts.Server.Config.DataDir, "repositories", strconv.FormatInt(p.ID, 10)+".git")); !os.IsNotExist(err) {
		t.Fatalf("repositories under the data directory too: %v", err)
	}
}
