package bench

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// deployByDigest is the query sqlstore.TokenStore.DeployTokenByDigest runs on every authenticated request
// (the column list copied from internal/sqlstore/token.go).
const deployByDigest = `SELECT id, name, username, scopes, expires_at, revoked, created_at, creator_id, last_used_at, project_id, group_id, digest, sealed_secret, previous_digest, previous_valid_until, allowed_ips, last_used_ip FROM deploy_tokens WHERE digest = ?`

// BenchmarkSQLiteStatement measures what a prepared statement saves on SQLite (modernc): the
// deploy-token lookup by digest on the seeded dataset, run as sqlstore runs it today
// (db.QueryRowContext with the SQL text, which SQLite parses and plans on every call) and
// through a *sql.Stmt prepared once (database/sql keeps one prepared handle per connection).
// The profiles of the wrk runs in bench/run show SQLite's parser as the largest single cost of
// authenticated HEAD, generic GET and /jwt/auth requests.
func BenchmarkSQLiteStatement(b *testing.B) {
	st := openStore(b, filepath.Join(b.TempDir(), "bench.db"))
	ds := seedStore(b, st.SQL(), false)
	digests := make([][]byte, 0, 4096)
	rows, err := st.SQL().Query(`SELECT digest FROM deploy_tokens LIMIT 4096`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var d []byte
		if err := rows.Scan(&d); err != nil {
			b.Fatal(err)
		}
		digests = append(digests, d)
	}
	rows.Close()
	if len(digests) == 0 || len(ds.tokens) == 0 {
		b.Fatal("no seeded tokens")
	}
	ctx := context.Background()
	lookup := func(b *testing.B, row func(d []byte) *sql.Row) {
		var id int64
		i := 0
		b.ReportAllocs()
		c0 := testenv.CPUTime()
		for b.Loop() {
			cols := make([]any, 17)
			for j := range cols {
				cols[j] = new(any)
			}
			cols[0] = &id
			if err := row(digests[i%len(digests)]).Scan(cols...); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(i), "cpu-ns/op")
	}
	b.Run("text", func(b *testing.B) {
		lookup(b, func(d []byte) *sql.Row { return st.SQL().QueryRowContext(ctx, deployByDigest, d) })
	})
	b.Run("prepared", func(b *testing.B) {
		stmt, err := st.SQL().PrepareContext(ctx, deployByDigest)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		lookup(b, func(d []byte) *sql.Row { return stmt.QueryRowContext(ctx, d) })
	})
}
