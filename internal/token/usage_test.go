package token_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// batchStore is the real store, counting usage batches.
type batchStore struct {
	*countingStore
	mu      sync.Mutex
	batches int
}

func (b *batchStore) AddDeployTokenUsage(ctx context.Context, u []token.DailyUsage) error {
	b.mu.Lock()
	b.batches++
	b.mu.Unlock()
	return b.countingStore.AddDeployTokenUsage(ctx, u)
}

// TestUsageCounters: every use is counted per UTC day, in batches (one store write per flush,
// not per request), and Usage fills days without requests with zero.
func TestUsageCounters(t *testing.T) {
	e := newEnv(t)
	bs := &batchStore{countingStore: &countingStore{TokenStore: e.store.Tokens}}
	svc := token.NewDeployService(bs, e.digest, e.clock.Now)
	usage := token.NewUsageWriter(bs, e.clock.Now)
	t.Cleanup(usage.Close)
	ctx := context.Background()
	a, _, err := svc.Create(ctx, e.input("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := svc.Create(ctx, e.input("b"))
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("198.51.100.4")
	// Yesterday just before midnight, then today.
	e.clock.Set(noon.Add(-12*time.Hour - time.Second))
	for range 3 {
		usage.MarkUsed(a, ip)
	}
	e.clock.Set(noon)
	for range 10 {
		usage.MarkUsed(a, ip)
	}
	usage.MarkUsed(b, netip.Addr{})
	usage.Flush()
	bs.mu.Lock()
	if bs.batches != 1 {
		t.Fatalf("%d usage writes for 14 requests, want 1 batch", bs.batches)
	}
	bs.mu.Unlock()
	bs.countingStore.mu.Lock()
	if n := len(bs.countingStore.touches); n != 3 {
		t.Fatalf("%d last-used writes, want 3 (a yesterday, a today, b)", n)
	}
	bs.countingStore.mu.Unlock()

	got, err := svc.Usage(ctx, a.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(2030, 6, 15, 0, 0, 0, 0, time.UTC)
	want := []int64{0, 3, 10}
	for i, u := range got {
		if day := today.AddDate(0, 0, i-2); !u.Day.Equal(day) || u.Requests != want[i] {
			t.Fatalf("usage[%d] = %+v, want %d on %s", i, u, want[i], day.Format(time.DateOnly))
		}
	}
	if len(got) != 3 {
		t.Fatalf("usage = %+v, want 3 days", got)
	}
	stored, err := e.store.Tokens.DeployToken(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.LastUsedIP != ip || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(noon) {
		t.Fatalf("last used %v from %v, want %v from %v", stored.LastUsedAt, stored.LastUsedIP, noon, ip)
	}
	// Nothing new: a flush writes nothing.
	usage.Flush()
	bs.mu.Lock()
	if bs.batches != 1 {
		t.Fatalf("an empty flush wrote a batch")
	}
	bs.mu.Unlock()
	for _, days := range []int{0, -1, token.MaxUsageDays + 1} {
		if _, err := svc.Usage(ctx, a.ID, days); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("Usage(%d days) = %v, want errkind.ErrInvalid", days, err)
		}
	}
	// Close flushes what is left.
	usage.MarkUsed(b, netip.Addr{})
	usage.Close()
	usage.Flush() // after Close: returns at once
	u, err := e.store.Tokens.DeployTokenUsage(ctx, b.ID, today, today)
	if err != nil || len(u) != 1 || u[0].Requests != 2 {
		t.Fatalf("b's usage after Close = %+v, %v; want 2 requests", u, err)
	}
}
