package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func TestRotateDeployToken(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	p := f.Projects["grandchild"]
	pushREADME(t, ts, p.FullPath)

	rotate := func(t *testing.T, owner string, id int64, body map[string]any) deployTokenView {
		t.Helper()
		var v deployTokenView
		ts.MustAPI(t, http.StatusOK, "POST", fmt.Sprintf("/%s/deploy_tokens/%d/rotate", owner, id), body, &v)
		if v.Token == nil || !strings.HasPrefix(*v.Token, "gldt-") {
			t.Fatalf("rotate answered no new secret")
		}
		return v
	}

	t.Run("ok/with a grace period the old secret works until it ends", func(t *testing.T) {
		owner := fmt.Sprintf("groups/%d", f.GroupID)
		old := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		v := rotate(t, owner, old.ID, map[string]any{"grace_period": 3600})
		if v.ID != old.ID || v.Username != old.Username || strings.Join(v.Scopes, ",") != "read_repository" {
			t.Fatalf("rotation changed the token: %+v", v)
		}
		if *v.Token == old.Token {
			t.Fatal("rotation kept the same secret")
		}
		if st := ts.InfoRefs(t, p.FullPath, old.Username, *v.Token).Status; st != http.StatusOK {
			t.Fatalf("new secret: %d", st)
		}
		if st := ts.InfoRefs(t, p.FullPath, old.Username, old.Token).Status; st != http.StatusOK {
			t.Fatalf("old secret within the grace period: %d", st)
		}
		now := ts.Clock.Now()
		ts.Clock.Advance(time.Hour + time.Second)
		defer ts.Clock.SetTo(now)
		if st := ts.InfoRefs(t, p.FullPath, old.Username, old.Token).Status; st != http.StatusUnauthorized {
			t.Fatalf("old secret after the grace period: %d, want 401", st)
		}
		if st := ts.InfoRefs(t, p.FullPath, old.Username, *v.Token).Status; st != http.StatusOK {
			t.Fatalf("new secret after the grace period: %d", st)
		}
	})
	t.Run("ok/without a grace period the old secret stops at once", func(t *testing.T) {
		owner := fmt.Sprintf("projects/%d", p.ID)
		old := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		v := rotate(t, owner, old.ID, nil)
		if st := ts.InfoRefs(t, p.FullPath, old.Username, old.Token).Status; st != http.StatusUnauthorized {
			t.Fatalf("old secret: %d, want 401", st)
		}
		if st := ts.InfoRefs(t, p.FullPath, old.Username, *v.Token).Status; st != http.StatusOK {
			t.Fatalf("new secret: %d", st)
		}
		events, err := ts.Server.Audit.List(context.Background(), "project", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			if e.Type == audit.DeployTokenRotated && e.TargetID == old.ID {
				found = true
				if strings.Contains(fmt.Sprintf("%+v", *e), "gldt-") {
					t.Fatal("the rotation audit event holds a secret")
				}
			}
		}
		if !found {
			t.Fatal("no deploy_token_rotated audit event")
		}
	})
	t.Run("fail/revoked, out-of-range grace, other project's token", func(t *testing.T) {
		owner := fmt.Sprintf("projects/%d", p.ID)
		tok := ts.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		if st := ts.API(t, "POST", fmt.Sprintf("/%s/deploy_tokens/%d/rotate", owner, tok.ID), map[string]any{"grace_period": 8 * 24 * 3600}, nil); st != http.StatusBadRequest {
			t.Fatalf("grace of 8 days: %d, want 400", st)
		}
		// Seconds whose Duration overflows (to about 0.29 s) are out of range too.
		if st := ts.API(t, "POST", fmt.Sprintf("/%s/deploy_tokens/%d/rotate", owner, tok.ID), map[string]any{"grace_period": 18446744074}, nil); st != http.StatusBadRequest {
			t.Fatalf("overflowing grace: %d, want 400", st)
		}
		if st := ts.InfoRefs(t, p.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
			t.Fatalf("a refused rotation changed the secret: %d", st)
		}
		other := f.Projects["sibling"]
		if st := ts.API(t, "POST", fmt.Sprintf("/projects/%d/deploy_tokens/%d/rotate", other.ID, tok.ID), nil, nil); st != http.StatusNotFound {
			t.Fatalf("rotate through another project: %d, want 404", st)
		}
		if err := ts.Server.Deploy.Revoke(context.Background(), tok.ID); err != nil {
			t.Fatal(err)
		}
		if st := ts.API(t, "POST", fmt.Sprintf("/%s/deploy_tokens/%d/rotate", owner, tok.ID), nil, nil); st != http.StatusBadRequest {
			t.Fatalf("rotate a revoked token: %d, want 400", st)
		}
		if st := ts.InfoRefs(t, p.FullPath, tok.Username, tok.Token).Status; st != http.StatusUnauthorized {
			t.Fatalf("revoked token after a refused rotation: %d", st)
		}
	})
	t.Run("ok/a rotated CI token is exposed with its new secret", func(t *testing.T) {
		top := f.Projects["top"]
		tok := createCIToken(t, ts, fmt.Sprintf("projects/%d", top.ID), nil)
		v := rotate(t, fmt.Sprintf("projects/%d", top.ID), tok.ID, nil)
		if got := ciVars(t, ts, top.ID)["CI_DEPLOY_PASSWORD"].Value; got != *v.Token {
			t.Fatal("CI_DEPLOY_PASSWORD is not the rotated secret")
		}
	})
}
