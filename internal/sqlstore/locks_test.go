package sqlstore_test

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkClusterLock is what a registry upload request or a proxy blob fetch pays for its
// cluster lock on PostgreSQL when nobody else holds it: one upsert to take, one delete to release.
func BenchmarkClusterLock(b *testing.B) {
	db, err := sqlstore.Open(context.Background(), testenv.PostgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	s := sqlstore.New(db)
	b.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	l := &sqlstore.Locker{Store: s.Locks}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		unlock, err := l.Lock(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
