package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestClusterTokenCache: on PostgreSQL each node remembers the deploy tokens it authenticated
// (docs/architecture.md §4.5), and only the bus ends that. Both nodes' clocks go back an hour
// after reading a token, so no expiry can stand in for the bus. A revocation written behind the
// nodes' backs is not seen (the cache is really there) until the bus says so; a revocation and
// a rotation through the API are refused by the node that made them on its very next request
// and by the other within a second; a new secret works at once everywhere.
func TestClusterTokenCache(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	f := a.MakeFixture(t)
	p := f.Projects["top"]
	pushInitial(t, a, p.FullPath, "root", a.RootToken)
	owner := fmt.Sprintf("projects/%d", p.ID)
	warm := func(tok testenv.DeployToken) {
		t.Helper()
		for _, n := range nodes {
			if r := infoRefs(t, n, p.FullPath, tok.Username, tok.Token); r.status != http.StatusOK {
				t.Fatalf("%s: a new token answers %d", n.URL, r.status)
			}
			n.Clock.Advance(-time.Hour)
		}
	}

	t.Run("ok/the cache is there and only the bus ends it", func(t *testing.T) {
		tok := a.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		warm(tok)
		if _, err := a.Server.Store.SQL().ExecContext(ctx, `UPDATE deploy_tokens SET revoked = TRUE WHERE id = $1`, tok.ID); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if r := infoRefs(t, n, p.FullPath, tok.Username, tok.Token); r.status != http.StatusOK {
				t.Fatalf("%s refuses a token revoked behind its back (%d): no token cache on PostgreSQL", n.URL, r.status)
			}
		}
		if err := b.Server.Bus.Publish(ctx, cachebus.Tokens, strconv.FormatInt(tok.ID, 10)); err != nil {
			t.Fatal(err)
		}
		if r := infoRefs(t, b, p.FullPath, tok.Username, tok.Token); r.status != http.StatusUnauthorized {
			t.Fatalf("B after its own publish: %d, want 401", r.status)
		}
		refusedWithin(t, a, p.FullPath, tok, time.Now(), time.Second)
	})

	t.Run("ok/revoke through A", func(t *testing.T) {
		tok := a.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		warm(tok)
		a.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil)
		if r := infoRefs(t, a, p.FullPath, tok.Username, tok.Token); r.status != http.StatusUnauthorized {
			t.Fatalf("A after its own revoke: %d, want 401", r.status)
		}
		d := refusedWithin(t, b, p.FullPath, tok, time.Now(), time.Second)
		t.Logf("B refused the token revoked through A after %v", d)
	})

	t.Run("ok/a registry token ends with its deploy token on both nodes", func(t *testing.T) {
		tok := a.CreateDeployToken(t, owner, []string{"read_registry"}, nil)
		_, jwt, _ := testenv.RegistryToken(t, a.URL, "container_registry", tok.Username, tok.Token, "repository:"+p.FullPath+":pull")
		manifest := func(n *testenv.TestServer) int {
			req, _ := http.NewRequest(http.MethodGet, n.URL+"/v2/"+p.FullPath+"/manifests/none", nil)
			req.Header.Set("Authorization", "Bearer "+jwt)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for _, n := range nodes {
			if code := manifest(n); code != http.StatusNotFound {
				t.Fatalf("%s: a missing manifest with a good token answers %d, want 404", n.URL, code)
			}
			n.Clock.Advance(-time.Hour)
		}
		a.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil)
		if code := manifest(a); code != http.StatusUnauthorized {
			t.Fatalf("A after its own revoke: %d, want 401", code)
		}
		if !testenv.Eventually(time.Second, func() bool { return manifest(b) == http.StatusUnauthorized }) {
			t.Fatal("B still accepts the registry token a second after its deploy token was revoked through A")
		}
	})

	t.Run("ok/rotate through B", func(t *testing.T) {
		tok := a.CreateDeployToken(t, owner, []string{"read_repository"}, nil)
		warm(tok)
		var rotated struct{ Token string }
		b.MustAPI(t, http.StatusOK, "POST", fmt.Sprintf("/projects/%d/deploy_tokens/%d/rotate", p.ID, tok.ID), nil, &rotated)
		if r := infoRefs(t, b, p.FullPath, tok.Username, tok.Token); r.status != http.StatusUnauthorized {
			t.Fatalf("B after its own rotation: the old secret answers %d, want 401", r.status)
		}
		refusedWithin(t, a, p.FullPath, tok, time.Now(), time.Second)
		for _, n := range nodes {
			if r := infoRefs(t, n, p.FullPath, tok.Username, rotated.Token); r.status != http.StatusOK {
				t.Fatalf("%s: the new secret answers %d", n.URL, r.status)
			}
		}
	})
}
