package ban_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/ban/bantest"
)

func TestMemory(t *testing.T) {
	bantest.Run(t, func(t *testing.T) ban.Store { return ban.NewMemory() })
}

// down is a shared store that is unreachable.
type down struct{}

var errDown = errors.New("connection refused")

func (down) Banned(context.Context, netip.Prefix, string, time.Time) (bool, error) {
	return false, errDown
}
func (down) Fail(context.Context, netip.Prefix, string, time.Time, ban.Rule) (bool, error) {
	return false, errDown
}
func (down) Forgive(context.Context, netip.Prefix, string, time.Time) error { return errDown }

// TestSharedStoreDown checks that an unreachable shared store does not open the door: the
// node counts in its own memory meanwhile.
func TestSharedStoreDown(t *testing.T) {
	l := ban.New(down{}, ban.Options{MaxFailures: 3, Window: time.Minute, Duration: time.Hour}, nil, nil)
	ip := netip.MustParseAddr("203.0.113.9")
	for i := 1; i <= 2; i++ {
		if l.Fail(context.Background(), ip, "user:root") {
			t.Fatalf("banned after %d failures", i)
		}
	}
	if !l.Fail(context.Background(), ip, "user:root") || !l.Banned(context.Background(), ip, "") {
		t.Fatal("3 failures with the shared store down did not ban")
	}
}
