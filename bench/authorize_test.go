package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// BenchmarkAuthorize measures the decision a Git request needs before git runs:
// DeployService.Authenticate (digest, lookup by digest, constant-time check), ProjectByPath and
// Authorizer.Authorize, one request at a time, cycling over every seeded token (each request
// a new token: SQLite's read cache mostly misses), or, in the "hot" runs, over hotTokens tokens
// (a few deploy pipelines pulling again and again: the cache hits until a commit). "pure" is
// access.Authorize alone, without a store.
func BenchmarkAuthorize(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchDecisionPath(b, openStore(b, filepath.Join(b.TempDir(), "bench.db")), 0)
	})
	b.Run("sqlite-hot", func(b *testing.B) {
		benchDecisionPath(b, openStore(b, filepath.Join(b.TempDir(), "bench.db")), hotTokens)
	})
	b.Run("postgres", func(b *testing.B) {
		benchDecisionPath(b, openStore(b, testenv.PostgresURL(b)), 0)
	})
	b.Run("postgres-hot", func(b *testing.B) {
		benchDecisionPath(b, openStore(b, testenv.PostgresURL(b)), hotTokens)
	})
	b.Run("pure", benchPureAuthorize)
}

// BenchmarkAuthorizeScale measures the same decision path on PostgreSQL at issue 13's scale,
// 1,000,000 deploy tokens and 100,000 projects, and at 1,000 tokens and 100 projects, each
// request with the next token of a random order (so the large run's rows are mostly not in
// PostgreSQL's buffers). bench/run prints the ratio of the two (goal <= 1.2).
func BenchmarkAuthorizeScale(b *testing.B) {
	for _, c := range []struct {
		name string
		sh   shape
	}{{"tokens=1000", small}, {"tokens=1000000", large}} {
		b.Run(c.name, func(b *testing.B) {
			st := openStore(b, testenv.PostgresURL(b))
			benchDecisions(b, st, seedShape(b, st.SQL(), true, c.sh), 0)
		})
	}
}

// hotTokens is how many tokens the "hot" runs cycle over.
const hotTokens = 64

// openStore opens and migrates a store that lives until the benchmark ends.
func openStore(b *testing.B, url string) *sqlstore.Stores {
	b.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	st := sqlstore.New(db)
	b.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return st
}

// benchDecisionPath seeds the standard dataset and cycles over the first n requests (every
// request when n is 0).
func benchDecisionPath(b *testing.B, st *sqlstore.Stores, n int) {
	benchDecisions(b, st, seedStore(b, st.SQL(), st.Dialect() == "postgres"), n)
}

// benchDecisions cycles over the first n requests of ds (every request when n is 0).
func benchDecisions(b *testing.B, st *sqlstore.Stores, ds *dataset, n int) {
	reqs := ds.requests(ds.projects)
	if n > 0 {
		reqs = reqs[:n]
	}
	deploy := token.NewDeployService(st.Tokens, token.NewDigester([]byte(benchKey)), nil)
	ns := namespace.NewService(st.Namespaces, nil)
	authz := access.New(ns, nil, access.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	c0 := testenv.CPUTime()
	i := 0
	for b.Loop() {
		r := reqs[i%len(reqs)]
		i++
		d, err := decide(ctx, deploy, ns, authz, r)
		if err != nil {
			b.Fatal(err)
		}
		if !d.Allow() {
			b.Fatalf("%s on %s refused: %s", r.username, r.project, d.Reason)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(i), "cpu-ns/op")
}

// decide is the Git handler's decision path for one deploy-token request.
func decide(ctx context.Context, deploy *token.DeployService, ns *namespace.Service, authz *access.Authorizer, r request) (access.Decision, error) {
	t, err := deploy.Authenticate(ctx, r.username, r.secret, true)
	if err != nil {
		return access.Decision{}, fmt.Errorf("authenticate %s: %w", r.username, err)
	}
	p, err := ns.ProjectByPath(ctx, r.project)
	if err != nil {
		return access.Decision{}, fmt.Errorf("project %s: %w", r.project, err)
	}
	return authz.Authorize(ctx, access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: t},
		access.Resource{Project: p}, access.ReadRepository)
}

func benchPureAuthorize(b *testing.B) {
	exp := token.ExpiryDate(time.Now().AddDate(1, 0, 0))
	t := &token.DeployToken{ID: 7, Username: "gitlab+deploy-token-7", Owner: token.Owner{GroupID: 2},
		Scopes: token.Scopes{token.ReadRepository, token.ReadRegistry}, ExpiresAt: &exp}
	p := &namespace.Project{ID: 42, FullPath: "team-01/service-02/env-03/repo-04", GroupID: 3,
		GroupAncestry: []int64{1, 2, 3}, Visibility: namespace.Private}
	authz := access.New(nil, nil, access.Options{})
	ctx := context.Background()
	principal := access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: t}
	b.ReportAllocs()
	for b.Loop() {
		d, err := authz.Authorize(ctx, principal, access.Resource{Project: p}, access.ReadRepository)
		if err != nil || !d.Allow() {
			b.Fatalf("refused: %v %s", err, d.Reason)
		}
	}
}
