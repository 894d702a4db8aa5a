package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestPostgresCoreFlow runs the core deploy-token flow on PostgreSQL. Without a reachable
// PostgreSQL it skips, or fails under CI=true.
func TestPostgresCoreFlow(t *testing.T) {
	ts := testenv.StartServer(t, testenv.WithPostgres(t))
	if !ts.Server.Config.IsPostgres() || ts.Server.Store.Dialect() != "postgres" {
		t.Fatalf("server is not on PostgreSQL: %q", ts.Server.Store.Dialect())
	}
	var schema string
	if err := ts.Server.Store.SQL().QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil || !strings.HasPrefix(schema, "t_") {
		t.Fatalf("not on the test's own schema: %q %v", schema, err)
	}

	f := ts.MakeFixture(t)
	grandchild, sibling := f.Projects["grandchild"], f.Projects["sibling"]
	for _, p := range []testenv.Project{grandchild, sibling} {
		pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	}
	tok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)

	t.Run("ok/group token clones a grandchild project", func(t *testing.T) {
		mustCloneReadme(t, ts, grandchild.FullPath, tok.Username, tok.Token)
	})
	t.Run("fail/group token is refused on a sibling group's project", func(t *testing.T) {
		_, out, err := clone(t, ts.GitURL(sibling.FullPath, tok.Username, tok.Token))
		if err == nil || !strings.Contains(out, "not found") {
			t.Fatalf("clone of the sibling: err=%v, want not found\n%s", err, out)
		}
	})
	t.Run("fail/revoked through the API is refused at once", func(t *testing.T) {
		other := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
		mustCloneReadme(t, ts, grandchild.FullPath, other.Username, other.Token)
		ts.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.GroupID, other.ID), nil, nil)
		if r := infoRefs(t, ts, grandchild.FullPath, other.Username, other.Token); r.status != http.StatusUnauthorized {
			t.Fatalf("deleted token: %d, want 401", r.status)
		}
	})
	t.Run("ok/audit events are stored", func(t *testing.T) {
		events, err := ts.Server.Audit.List(context.Background(), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, e := range events {
			kinds[e.Type] = true
		}
		for _, k := range []string{audit.GroupDeployTokenCreated, audit.GroupDeployTokenDestroyed, audit.DeployTokenRefused, audit.AuthenticationFailed} {
			if !kinds[k] {
				t.Errorf("no %s event on PostgreSQL (have %v)", k, kinds)
			}
		}
	})
}
