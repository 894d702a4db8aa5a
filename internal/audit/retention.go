package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// RetentionJobName names the audit retention job's lease.
const RetentionJobName = "audit-retention"

// DefaultRetentionBatch is how many events one DELETE removes, so a year of backlog never holds
// one long transaction (or SQLite's write lock) for long.
const DefaultRetentionBatch = 1000

// ErrBusy is returned by Retention.Run when another node holds the job's lease, and by RunSlot
// also when another node already ran the slot.
var ErrBusy = errors.New("audit retention: another run holds the lease")

// Pruner deletes expired events (*sqlstore.AuditStore implements it).
type Pruner interface {
	// DeleteEventsBefore deletes up to limit events created before before, oldest first, and
	// returns how many it deleted.
	DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Leases let one node of a cluster run the job at a time (*sqlstore.LeaseStore implements them).
type Leases interface {
	// AcquireLease takes the lease name for holder until until, if it is free at now and the
	// last completed run ended at or before ranBefore.
	AcquireLease(ctx context.Context, name, holder string, now, until, ranBefore time.Time) (bool, error)
	// RenewLease extends holder's lease until until; false when holder no longer holds it.
	RenewLease(ctx context.Context, name, holder string, until time.Time) (bool, error)
	// ReleaseLease frees holder's lease; completed records now as the last completed run.
	ReleaseLease(ctx context.Context, name, holder string, now time.Time, completed bool) error
}

// Retention deletes the events older than Keep, in batches, under the jobs lease.
type Retention struct {
	Store  Pruner
	Leases Leases
	// Keep is how long events are kept; 0 keeps them forever (Run does nothing).
	Keep time.Duration
	// Node names this node in the lease; Batch defaults to DefaultRetentionBatch and LeaseTTL
	// to 10 minutes; Now to time.Now.
	Node     string
	Batch    int
	LeaseTTL time.Duration
	Now      func() time.Time
}

// Run deletes the expired events once and returns how many it deleted: ErrBusy when another node
// holds the lease, or the error that stopped it (the batches deleted before it stay deleted).
func (r *Retention) Run(ctx context.Context) (int64, error) { return r.run(ctx, time.Time{}) }

// RunSlot is Run for the daily slot at slot: ErrBusy also when a run (on any node) completed at
// or after slot, so the nodes of a cluster that all fire at once run it once.
func (r *Retention) RunSlot(ctx context.Context, slot time.Time) (int64, error) {
	return r.run(ctx, slot.Add(-time.Second))
}

// run is Run, refusing when the last completed run ended after ranBefore (zero: its start).
func (r *Retention) run(ctx context.Context, ranBefore time.Time) (int64, error) {
	if r.Keep <= 0 {
		return 0, nil
	}
	now, batch, ttl := time.Now, r.Batch, r.LeaseTTL
	if r.Now != nil {
		now = r.Now
	}
	if batch <= 0 {
		batch = DefaultRetentionBatch
	}
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	holder := r.Node + "/" + hex.EncodeToString(b)
	start := now()
	if ranBefore.IsZero() {
		ranBefore = start
	}
	ok, err := r.Leases.AcquireLease(ctx, RetentionJobName, holder, start, start.Add(ttl), ranBefore)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", RetentionJobName, err)
	}
	if !ok {
		return 0, ErrBusy
	}
	completed := false
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = r.Leases.ReleaseLease(rctx, RetentionJobName, holder, now(), completed)
	}()
	cutoff := start.Add(-r.Keep)
	var total int64
	for {
		n, err := r.Store.DeleteEventsBefore(ctx, cutoff, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("%s: %w", RetentionJobName, err)
		}
		if n < int64(batch) {
			completed = true
			return total, nil
		}
		if held, err := r.Leases.RenewLease(ctx, RetentionJobName, holder, now().Add(ttl)); err != nil || !held {
			return total, fmt.Errorf("%s: lost the lease: %w", RetentionJobName, errors.Join(err, ErrBusy))
		}
	}
}
