// Package gc collects garbage in blob storage: blobs that nothing references any more, and
// uploads abandoned half-way. It runs while pushes are in flight, on one node at a time.
//
// Mark: every Referencer (the registry's blob links and manifests; the package registries'
// files and the dependency proxy's cache add theirs) reports the digests it references.
//
// Sweep: a stored blob is a candidate when it is not marked and older than the grace period,
// so a blob an in-flight push has committed but not yet recorded is left alone. Candidates are
// then deleted in batches, each under the fence:
//
//  1. the batch is recorded as being deleted (Deletions.BeginBlobDeletions);
//  2. the batch is re-checked against the referencers, and referenced digests are kept;
//  3. the others are deleted, and the records are marked as ended (and kept for a day).
//
// A writer that makes a blob reachable (a link, a manifest row, a package file) does so after
// committing its bytes, and then asks Fence.Survived. If its reference was written before step
// 2 read, the sweep keeps the blob; if after, the record from step 1 is visible to the writer,
// which waits for the deletion to end and then checks the bytes, undoing its reference and
// failing when they are gone. So no reference survives to a deleted blob, even when a push
// re-uses an old unreferenced blob (committing an existing digest does not rewrite it).
//
// Uploads last written longer ago than the upload TTL are purged (blob.Walker.PurgeUploads).
package gc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

const (
	// LeaseName names the lease that lets one node collect at a time.
	LeaseName = "gc"
	// leaseTTL is how long a lease lasts without renewal; it is renewed every leaseTTL/4.
	leaseTTL = 5 * time.Minute
	// FenceTimeout is how long a deletion in progress may last: writers wait at most this long
	// for it to end before they check the bytes, and the sweep deletes nothing from a batch once
	// half of it has passed since the batch was recorded (the other half is the margin for
	// clock skew between nodes).
	FenceTimeout = 2 * time.Minute
	// deletionRetention is how long ended deletion records are kept for writers to see.
	deletionRetention = 24 * time.Hour
	// batchSize is how many candidates one fenced batch holds.
	batchSize = 256
	// deleteTimeout bounds one blob deletion.
	deleteTimeout = 30 * time.Second
)

// Referencer is one owner of blob references. The registry's store is one; the package
// registries and the dependency proxy add theirs. Every component that keeps blobs in the
// shared blob store must be a Referencer, or garbage collection deletes its blobs.
type Referencer interface {
	// ReferencedBlobs calls fn for every blob digest it references ("sha256:…"; repeats are
	// fine), stopping at fn's first error and returning it.
	ReferencedBlobs(ctx context.Context, fn func(digest string) error) error
}

// Checker is an optional capability of a Referencer: which of a few digests it references, by
// index lookups. The sweep re-checks each batch with it; without it, with a full
// ReferencedBlobs scan per batch.
type Checker interface {
	ReferencedAmong(ctx context.Context, digests []string) (map[string]bool, error)
}

// Leases let one node collect at a time (*sqlstore.LeaseStore implements them).
type Leases interface {
	// AcquireLease takes the lease name for holder until until, if it is free at now and the
	// last completed run ended at or before ranBefore; it reports whether it did.
	AcquireLease(ctx context.Context, name, holder string, now, until, ranBefore time.Time) (bool, error)
	// RenewLease extends holder's lease; false when holder lost it.
	RenewLease(ctx context.Context, name, holder string, until time.Time) (bool, error)
	// ReleaseLease frees holder's lease; completed records now as the last completed run.
	ReleaseLease(ctx context.Context, name, holder string, now time.Time, completed bool) error
}

// Deletions record blob deletions in progress and recently ended: the fence between the sweep
// and writers (*sqlstore.GCStore implements them).
type Deletions interface {
	// BeginBlobDeletions records that digests are about to be deleted, as of now.
	BeginBlobDeletions(ctx context.Context, digests []string, now time.Time) error
	// EndBlobDeletions marks the records of deleted as ended at now, and removes those of kept.
	EndBlobDeletions(ctx context.Context, deleted, kept []string, now time.Time) error
	// BlobDeletion returns when the deletion of digest began and ended (zero while in
	// progress); ok is false when there is no record.
	BlobDeletion(ctx context.Context, digest string) (began, ended time.Time, ok bool, err error)
	// PruneBlobDeletions removes records that began before before.
	PruneBlobDeletions(ctx context.Context, before time.Time) (int64, error)
}

// Store is the metadata garbage collection keeps (*sqlstore.GCStore implements it).
type Store interface {
	Leases
	Deletions
}

// Config is what a Collector needs.
type Config struct {
	// Blobs is the shared blob store; it must implement blob.Walker.
	Blobs blob.Store
	Store Store
	// Referencers by name (for logs); at least one.
	Referencers map[string]Referencer
	// Grace is the minimum age of a blob before it may be deleted.
	Grace time.Duration
	// UploadTTL is how long an upload may sit untouched before it is purged.
	UploadTTL time.Duration
	// Holder names this node in the lease; empty means hostname plus random bits.
	Holder string
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observe, when set, is told the outcome of every run and how long it took (the metrics).
	Observe func(rep Report, err error, took time.Duration)
}

// Collector runs garbage collection. It is safe for concurrent use; runs are serialized by
// the lease.
type Collector struct {
	cfg    Config
	walker blob.Walker
	log    *slog.Logger
	now    func() time.Time

	// Test hooks, called (when set) after a batch is recorded and before each deletion.
	afterBegin   func(digests []string)
	beforeDelete func(d blob.Digest)
}

// New returns a Collector; it fails when the blob store cannot be walked or there is no
// referencer.
func New(cfg Config) (*Collector, error) {
	w, ok := cfg.Blobs.(blob.Walker)
	if !ok {
		return nil, fmt.Errorf("gc: the blob store %T cannot list its blobs", cfg.Blobs)
	}
	if len(cfg.Referencers) == 0 {
		return nil, errors.New("gc: no referencers: every blob would be garbage")
	}
	if cfg.Grace <= 0 || cfg.UploadTTL <= 0 {
		return nil, errors.New("gc: grace and upload TTL must be positive")
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		cfg.Holder = host + "/" + hex.EncodeToString(b)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Collector{cfg: cfg, walker: w, log: cfg.Log, now: cfg.Now}, nil
}

// RunOptions adjust one run.
type RunOptions struct {
	// DryRun reports what would be deleted without deleting anything (uploads are not
	// counted); it takes no lease.
	DryRun bool
	// MinInterval skips the run when the last completed run (on any node) ended less than this
	// long ago; 0 always runs.
	MinInterval time.Duration
}

// Report says what a run did (or, in a dry run, would do).
type Report struct {
	DryRun bool
	// Skipped: another node holds the lease, or the last run is more recent than MinInterval.
	Skipped           bool
	Started, Finished time.Time
	// Referenced is how many distinct digests the referencers named.
	Referenced int
	// Scanned is how many stored blobs were walked.
	Scanned int
	// Deleted are the blobs removed (in a dry run: that would be removed).
	Deleted      []blob.Info
	DeletedBytes int64
	// KeptFresh counts unreferenced blobs younger than the grace period.
	KeptFresh int
	// KeptReferenced counts candidates that became referenced during the sweep.
	KeptReferenced int
	// Deferred counts candidates left for the next run (the batch ran out of time).
	Deferred int
	// UploadsPurged counts abandoned uploads removed.
	UploadsPurged int
}

// Run collects once: it takes the lease (unless DryRun), purges abandoned uploads, marks,
// and sweeps. An error from any referencer aborts the run before anything is deleted.
func (c *Collector) Run(ctx context.Context, opts RunOptions) (Report, error) {
	start := time.Now()
	rep, err := c.runOnce(ctx, opts)
	if c.cfg.Observe != nil {
		c.cfg.Observe(rep, err, time.Since(start))
	}
	return rep, err
}

// runOnce is Run before it is observed.
func (c *Collector) runOnce(ctx context.Context, opts RunOptions) (Report, error) {
	rep := Report{DryRun: opts.DryRun, Started: c.now()}
	if !opts.DryRun {
		ranBefore := rep.Started
		if opts.MinInterval > 0 {
			ranBefore = rep.Started.Add(-opts.MinInterval)
		}
		ok, err := c.cfg.Store.AcquireLease(ctx, LeaseName, c.cfg.Holder, rep.Started, rep.Started.Add(leaseTTL), ranBefore)
		if err != nil {
			return rep, fmt.Errorf("gc: %w", err)
		}
		if !ok {
			rep.Skipped = true
			return rep, nil
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		stop := c.keepLease(ctx, cancel)
		completed := false
		defer func() {
			stop()
			cancel()
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer rcancel()
			if err := c.cfg.Store.ReleaseLease(rctx, LeaseName, c.cfg.Holder, c.now(), completed); err != nil {
				c.log.Warn("gc: release lease", "err", err.Error())
			}
		}()
		err = c.run(ctx, &rep)
		completed = err == nil
		rep.Finished = c.now()
		return rep, err
	}
	err := c.run(ctx, &rep)
	rep.Finished = c.now()
	return rep, err
}

// keepLease renews the lease until stopped, cancelling the run if the lease is lost.
func (c *Collector) keepLease(ctx context.Context, cancel context.CancelFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(leaseTTL / 4)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := c.cfg.Store.RenewLease(ctx, LeaseName, c.cfg.Holder, c.now().Add(leaseTTL))
				if err == nil && !ok {
					c.log.Error("gc: lost the lease; stopping")
					cancel()
					return
				}
				if err != nil {
					c.log.Warn("gc: renew lease", "err", err.Error())
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (c *Collector) run(ctx context.Context, rep *Report) error {
	start := rep.Started
	if !rep.DryRun {
		n, err := c.walker.PurgeUploads(ctx, start.Add(-c.cfg.UploadTTL))
		rep.UploadsPurged = n
		if err != nil {
			return fmt.Errorf("gc: purge uploads: %w", err)
		}
	}
	marked, err := c.mark(ctx)
	if err != nil {
		return err
	}
	rep.Referenced = len(marked)

	cutoff := start.Add(-c.cfg.Grace)
	var candidates []blob.Info
	err = c.walker.Walk(ctx, func(info blob.Info) error {
		rep.Scanned++
		switch {
		case marked[string(info.Digest)]:
		case !info.ModTime.Before(cutoff):
			rep.KeptFresh++
		default:
			candidates = append(candidates, info)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gc: walk blobs: %w", err)
	}
	for i := 0; i < len(candidates); i += batchSize {
		if err := c.sweep(ctx, candidates[i:min(i+batchSize, len(candidates))], rep); err != nil {
			return err
		}
	}
	if !rep.DryRun {
		if _, err := c.cfg.Store.PruneBlobDeletions(ctx, start.Add(-deletionRetention)); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
	}
	c.log.Info("gc: done", "dry_run", rep.DryRun, "referenced", rep.Referenced, "scanned", rep.Scanned,
		"deleted", len(rep.Deleted), "deleted_bytes", rep.DeletedBytes, "kept_fresh", rep.KeptFresh,
		"kept_referenced", rep.KeptReferenced, "deferred", rep.Deferred, "uploads_purged", rep.UploadsPurged)
	return nil
}

// mark collects the digests every referencer names.
func (c *Collector) mark(ctx context.Context) (map[string]bool, error) {
	marked := map[string]bool{}
	for name, r := range c.cfg.Referencers {
		if err := r.ReferencedBlobs(ctx, func(d string) error {
			marked[d] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("gc: mark %s: %w", name, err)
		}
	}
	return marked, nil
}

// referencedAmong re-checks digests against every referencer.
func (c *Collector) referencedAmong(ctx context.Context, digests []string) (map[string]bool, error) {
	want := make(map[string]bool, len(digests))
	for _, d := range digests {
		want[d] = true
	}
	found := map[string]bool{}
	for name, r := range c.cfg.Referencers {
		if ch, ok := r.(Checker); ok {
			m, err := ch.ReferencedAmong(ctx, digests)
			if err != nil {
				return nil, fmt.Errorf("gc: re-check %s: %w", name, err)
			}
			for d, ok := range m {
				if ok && want[d] {
					found[d] = true
				}
			}
			continue
		}
		if err := r.ReferencedBlobs(ctx, func(d string) error {
			if want[d] {
				found[d] = true
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("gc: re-check %s: %w", name, err)
		}
	}
	return found, nil
}

// sweep deletes one batch of candidates under the fence (see the package comment).
func (c *Collector) sweep(ctx context.Context, batch []blob.Info, rep *Report) error {
	digests := make([]string, len(batch))
	for i, b := range batch {
		digests[i] = string(b.Digest)
	}
	begun := c.now()
	if !rep.DryRun {
		if err := c.cfg.Store.BeginBlobDeletions(ctx, digests, begun); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		if c.afterBegin != nil {
			c.afterBegin(digests)
		}
	}
	var deleted, kept []string
	end := func() error {
		if rep.DryRun {
			return nil
		}
		// Recorded even when the run is being cancelled, so writers need not wait for the
		// records to time out.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.cfg.Store.EndBlobDeletions(ectx, deleted, kept, c.now()); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		return nil
	}
	referenced, err := c.referencedAmong(ctx, digests)
	if err != nil {
		kept = digests
		return errors.Join(err, end())
	}
	for i, info := range batch {
		d := string(info.Digest)
		switch {
		case referenced[d]:
			rep.KeptReferenced++
			kept = append(kept, d)
			continue
		case rep.DryRun:
			rep.Deleted = append(rep.Deleted, info)
			rep.DeletedBytes += info.Size
			continue
		}
		if err := ctx.Err(); err != nil {
			kept = append(kept, digests[i:]...)
			return errors.Join(err, end())
		}
		left := FenceTimeout/2 - c.now().Sub(begun)
		if left <= 0 {
			rep.Deferred += len(batch) - i
			kept = append(kept, digests[i:]...)
			break
		}
		if c.beforeDelete != nil {
			c.beforeDelete(info.Digest)
		}
		dctx, cancel := context.WithTimeout(ctx, min(left, deleteTimeout))
		err := c.cfg.Blobs.Delete(dctx, info.Digest)
		cancel()
		// Whatever happened, the bytes may be gone: the record must say the deletion ended.
		deleted = append(deleted, d)
		switch {
		case err == nil:
			rep.Deleted = append(rep.Deleted, info)
			rep.DeletedBytes += info.Size
		case errors.Is(err, blob.ErrNotFound):
		default:
			c.log.Warn("gc: delete blob", "digest", d, "err", err.Error())
		}
	}
	return end()
}

// Loop runs the collector every interval (across the cluster: a node runs only when no node
// completed a run within the interval) until ctx is done. It checks at most hourly, first
// after one check period.
func (c *Collector) Loop(ctx context.Context, interval time.Duration) {
	period := min(interval, time.Hour)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := c.Run(ctx, RunOptions{MinInterval: interval})
		switch {
		case err != nil && ctx.Err() == nil:
			c.log.Error("gc: run failed", "err", err.Error())
		case err == nil && rep.Skipped:
			c.log.Debug("gc: skipped; another node holds the lease or ran recently")
		}
	}
}
