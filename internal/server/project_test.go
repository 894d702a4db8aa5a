package server_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestProjectCreationAtomic: when the bare repository cannot be created, the project is not
// left behind (no row, no directory), and the same path can be created once the disk is fixed.
func TestProjectCreationAtomic(t *testing.T) {
	ts := testenv.StartServer(t)
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", "/groups", map[string]any{"name": "Atomic", "path": "atomic"}, &g)
	body := map[string]any{"name": "app", "path": "app", "namespace_id": g.ID}

	// The repositories root is a file: git init, and so the creation, must fail.
	root := ts.Server.Repos.Root
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := ts.API(t, "POST", "/projects", body, nil); st != http.StatusInternalServerError {
		t.Fatalf("create with a broken repository root = %d, want 500", st)
	}
	if st := ts.API(t, "GET", "/projects/atomic%2Fapp", nil, nil); st != http.StatusNotFound {
		t.Fatalf("project after a failed creation = %d, want 404", st)
	}

	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	var p testenv.Project
	ts.MustAPI(t, http.StatusCreated, "POST", "/projects", body, &p)
	if p.FullPath != "atomic/app" {
		t.Fatalf("created %+v", p)
	}
	if st := ts.InfoRefs(t, p.FullPath, "root", ts.RootToken).Status; st != http.StatusOK {
		t.Fatalf("info/refs of the new project = %d, want 200", st)
	}
}
