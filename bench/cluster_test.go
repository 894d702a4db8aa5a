package bench

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// benchRedis, when set (redis://…), carries the cluster benchmark's invalidations over Redis.
var benchRedis = flag.String("bench.redis", "", "Redis URL for BenchmarkClusterPropagation (default: PostgreSQL LISTEN/NOTIFY)")

// BenchmarkClusterPropagation measures how long a change made through one node takes to reach
// another (docs/architecture.md §4.5): two nodes share one PostgreSQL database; each iteration
// revokes a deploy token through A and polls B until it refuses the token, then turns external
// authorization (a cached setting that refuses deploy tokens) on through A and polls B the same
// way, and off again. It reports the p50 and p99 of both delays; -bench.redis=redis://… carries the
// invalidations over Redis instead of LISTEN/NOTIFY.
func BenchmarkClusterPropagation(b *testing.B) {
	db, dir := testenv.PostgresURL(b), b.TempDir()
	shared := func(c *config.Config) {
		c.DatabaseURL, c.DataDir = db, dir
		if *benchRedis != "" {
			c.RedisURL = *benchRedis
		}
	}
	a, other := testenv.StartServer(b, shared), testenv.StartServer(b, shared)
	var p testenv.Project
	a.MustAPI(b, http.StatusCreated, "POST", "/projects", map[string]any{"name": "app", "path": "app"}, &p)
	ctx := context.Background()
	var revokes, settings []time.Duration
	refused := func(tok testenv.DeployToken) time.Duration {
		start := time.Now()
		for {
			if r := other.InfoRefs(b, p.FullPath, tok.Username, tok.Token); r.Status != http.StatusOK {
				return time.Since(start)
			}
			if time.Since(start) > 5*time.Second {
				b.Fatal("B still accepts the token after 5 s")
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		tok := a.CreateDeployToken(b, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
		if r := other.InfoRefs(b, p.FullPath, tok.Username, tok.Token); r.Status != http.StatusOK {
			b.Fatalf("B refuses a new token: %d", r.Status)
		}
		a.MustAPI(b, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil)
		revokes = append(revokes, refused(tok))

		tok = a.CreateDeployToken(b, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
		set := access.ExternalSettings{Enabled: true, ServiceURL: "http://127.0.0.1:1/authorize", Timeout: access.DefaultExternalTimeout}
		if err := a.Server.ExternalAuthorization.SaveSettings(ctx, set); err != nil {
			b.Fatal(err)
		}
		settings = append(settings, refused(tok))
		set.Enabled = false
		if err := a.Server.ExternalAuthorization.SaveSettings(ctx, set); err != nil {
			b.Fatal(err)
		}
		// Turning it off propagates the same way; wait for it before the next iteration.
		if !testenv.Eventually(5*time.Second, func() bool {
			return other.InfoRefs(b, p.FullPath, tok.Username, tok.Token).Status == http.StatusOK
		}) {
			b.Fatal("B still refuses 5 s after external authorization was turned off")
		}
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"revoke", revokes}, {"setting", settings}} {
		slices.Sort(m.ds)
		b.ReportMetric(float64(m.ds[len(m.ds)/2].Microseconds())/1000, m.name+"-p50-ms")
		b.ReportMetric(float64(m.ds[min(len(m.ds)-1, len(m.ds)*99/100)].Microseconds())/1000, m.name+"-p99-ms")
	}
}
