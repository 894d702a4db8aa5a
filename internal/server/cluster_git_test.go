package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// startGitCluster boots n nodes on one PostgreSQL schema with one shared repositories directory
// (returned) and the same instance key, each with its own data directory, as
// docs/operations.md describes a cluster.
func startGitCluster(t *testing.T, n int) ([]*testenv.TestServer, string) {
	t.Helper()
	db, repos, key := testenv.PostgresURL(t), t.TempDir(), config.Secret("cluster-git-key-"+rand.Text())
	return startNodes(t, n, func(c *config.Config) { c.DatabaseURL, c.RepositoriesDir, c.SecretKey = db, repos, key }), repos
}

// commitFile commits a file of n random bytes named name in the work tree dir.
func commitFile(t *testing.T, dir, name string, n int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(rand.Text()+strings.Repeat(rand.Text(), n/26)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, dir, "add", name)
	testenv.Git(t, dir, "commit", "-q", "-m", name)
}

// fsckClean fails the test unless git fsck finds the bare repository sound (dangling objects,
// such as a losing push's, are allowed).
func fsckClean(t *testing.T, bare string) {
	t.Helper()
	out, err := testenv.RunGit(t, bare, "fsck", "--no-progress", "--no-dangling")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("git fsck %s: %v\n%s", filepath.Base(bare), err, out)
	}
}

// gitRejection is what git prints when a push lost a race for a ref: rejected before sending
// (fetch first, non-fast-forward) or after (the ref moved under receive-pack's lock).
var gitRejection = regexp.MustCompile(`fetch first|non-fast-forward|failed to update ref|cannot lock ref|remote rejected`)

// TestClusterGitPushRace: two clones of one repository commit different changes and push the
// same branch at the same moment, one through each node (the repositories on one shared
// directory). Every round exactly one push wins; the other gets git's ordinary rejection; the
// branch is the winner's commit and git fsck is clean. Gatehouse adds no state of its own around
// git (no hook, no ref cache, no database row), so git's ref locking in the shared directory
// decides.
func TestClusterGitPushRace(t *testing.T) {
	nodes, repos := startGitCluster(t, 2)
	a := nodes[0]
	f := a.MakeFixture(t)
	p := f.Projects["top"]
	pushInitial(t, a, p.FullPath, "root", a.RootToken)
	bare := filepath.Join(repos, strconv.FormatInt(p.ID, 10)+".git")
	kinds := map[string]int{}
	for round := range 6 {
		var work [2]string
		for i, n := range nodes {
			dst, out, err := clone(t, n.GitURL(p.FullPath, "root", a.RootToken))
			if err != nil {
				t.Fatalf("round %d: clone through node %d: %v\n%s", round, i, err, out)
			}
			work[i] = dst
			// 1 MiB each, so the two packs are in flight together.
			commitFile(t, dst, fmt.Sprintf("r%d-n%d.bin", round, i), 1<<20)
		}
		var wg sync.WaitGroup
		var outs [2]string
		var errs [2]error
		for i, n := range nodes {
			url := n.GitURL(p.FullPath, "root", a.RootToken)
			wg.Go(func() { outs[i], errs[i] = testenv.RunGit(t, work[i], "push", url, "main") })
		}
		wg.Wait()
		winner := -1
		for i := range 2 {
			if errs[i] == nil {
				if winner != -1 {
					t.Fatalf("round %d: both pushes of the same branch from the same base succeeded:\n%s\n%s", round, outs[0], outs[1])
				}
				winner = i
			}
		}
		if winner == -1 {
			t.Fatalf("round %d: no push won:\n%s\n%s", round, outs[0], outs[1])
		}
		loser := outs[1-winner]
		kind := gitRejection.FindString(loser)
		if kind == "" {
			t.Fatalf("round %d: the losing push failed without git's rejection:\n%s", round, loser)
		}
		kinds[kind]++
		want := strings.TrimSpace(testenv.Git(t, work[winner], "rev-parse", "HEAD"))
		if got := strings.TrimSpace(testenv.Git(t, bare, "rev-parse", "refs/heads/main")); got != want {
			t.Fatalf("round %d: main is %s, want the winner's %s", round, got, want)
		}
		fsckClean(t, bare)
	}
	t.Logf("losing pushes by git's message: %v", kinds)
}

// createProject asks node to create path in group and returns the status and the project; it
// never fails the test, so goroutines may call it.
func createProject(node *testenv.TestServer, groupID int64, path string) (int, testenv.Project, error) {
	body, _ := json.Marshal(map[string]any{"name": path, "path": path, "namespace_id": groupID})
	req, err := http.NewRequest(http.MethodPost, node.URL+"/api/v4/projects", bytes.NewReader(body))
	if err != nil {
		return 0, testenv.Project{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("PRIVATE-TOKEN", node.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, testenv.Project{}, err
	}
	defer resp.Body.Close()
	var p testenv.Project
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p, nil
}

// repoDirs lists the repositories directory; liveDirs is what it must hold: one <id>.git per
// project, nothing else (no half-made or half-deleted repository, no orphan).
func repoDirs(t *testing.T, repos string) []string {
	t.Helper()
	entries, err := os.ReadDir(repos)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func liveDirs(t *testing.T, node *testenv.TestServer) []string {
	t.Helper()
	ps, err := node.Server.Namespaces.ListProjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, strconv.FormatInt(p.ID, 10)+".git")
	}
	slices.Sort(names)
	return names
}

// TestClusterRepositoryLifecycle: the same project created through two nodes at once is created
// once, with one repository; deleted through B while A takes a push into it, it leaves no
// directory behind, whichever finishes first; created again under the same path it gets a
// fresh, empty repository that takes pushes and clones through both nodes.
func TestClusterRepositoryLifecycle(t *testing.T) {
	nodes, repos := startGitCluster(t, 2)
	a, b := nodes[0], nodes[1]
	f := a.MakeFixture(t)
	ctx := context.Background()
	for round := range 4 {
		path := fmt.Sprintf("life%d", round)
		var wg sync.WaitGroup
		var statuses [2]int
		var created [2]testenv.Project
		var errs [2]error
		for i, n := range nodes {
			wg.Go(func() { statuses[i], created[i], errs[i] = createProject(n, f.GroupID, path) })
		}
		wg.Wait()
		var p testenv.Project
		for i := range 2 {
			switch {
			case errs[i] != nil:
				t.Fatalf("round %d: create through node %d: %v", round, i, errs[i])
			case statuses[i] == http.StatusCreated && p.ID == 0:
				p = created[i]
			case statuses[i] != http.StatusBadRequest:
				t.Fatalf("round %d: creates answered %v, want one 201 and one 400", round, statuses)
			}
		}
		if p.ID == 0 {
			t.Fatalf("round %d: no create succeeded: %v", round, statuses)
		}
		if got, want := repoDirs(t, repos), liveDirs(t, a); !slices.Equal(got, want) {
			t.Fatalf("round %d: after the concurrent creates the repositories are %v, want %v", round, got, want)
		}
		pushInitial(t, b, p.FullPath, "root", a.RootToken)

		// A push through A while B deletes the project.
		work, out, err := clone(t, a.GitURL(p.FullPath, "root", a.RootToken))
		if err != nil {
			t.Fatalf("round %d: clone: %v\n%s", round, err, out)
		}
		commitFile(t, work, "big.bin", 16<<20)
		var pushOut string
		var pushErr error
		pushed := make(chan struct{})
		url := a.GitURL(p.FullPath, "root", a.RootToken)
		wg.Go(func() {
			defer close(pushed)
			pushOut, pushErr = testenv.RunGit(t, work, "push", url, "main")
		})
		// Odd rounds delete once receive-pack on A is receiving the pack (its quarantine
		// directory exists), even rounds at once.
		receiving := false
		if round%2 == 1 {
			objects := filepath.Join(repos, strconv.FormatInt(p.ID, 10)+".git", "objects")
			testenv.Eventually(30*time.Second, func() bool {
				select {
				case <-pushed:
					return true
				default:
				}
				entries, _ := os.ReadDir(objects)
				for _, e := range entries {
					receiving = receiving || strings.Contains(e.Name(), "incoming")
				}
				return receiving
			})
		}
		delErr := server.DeleteProject(b.Server, ctx, p.ID)
		wg.Wait()
		if delErr != nil {
			t.Fatalf("round %d: delete through B: %v", round, delErr)
		}
		t.Logf("round %d: deleted while A was receiving the push: %v; the push: err %v %s", round, receiving, pushErr,
			strings.Join(strings.Fields(pushOut), " "))
		if got, want := repoDirs(t, repos), liveDirs(t, a); !slices.Equal(got, want) {
			t.Fatalf("round %d: after the delete the repositories are %v, want %v", round, got, want)
		}
		if r := infoRefs(t, a, p.FullPath, "root", a.RootToken); r.status != http.StatusNotFound {
			t.Fatalf("round %d: the deleted project through A: %d, want 404", round, r.status)
		}

		// Created again under the same path: a new, empty repository.
		st, again, err := createProject(a, f.GroupID, path)
		if err != nil || st != http.StatusCreated || again.ID == p.ID {
			t.Fatalf("round %d: create again: %d %v (id %d, was %d)", round, st, err, again.ID, p.ID)
		}
		bare := filepath.Join(repos, strconv.FormatInt(again.ID, 10)+".git")
		if out, err := testenv.RunGit(t, bare, "rev-parse", "--verify", "-q", "refs/heads/main"); err == nil {
			t.Fatalf("round %d: the recreated repository already has main %s", round, out)
		}
		pushInitial(t, b, again.FullPath, "root", a.RootToken)
		mustCloneReadme(t, a, again.FullPath, "root", a.RootToken)
		fsckClean(t, bare)
		if got, want := repoDirs(t, repos), liveDirs(t, a); !slices.Equal(got, want) {
			t.Fatalf("round %d: at the end the repositories are %v, want %v", round, got, want)
		}
	}
}
