package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/fsblob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/s3blob"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// openBlobs opens the configured blob store: local disk under DataDir/blobs, or an S3 bucket
// (created when missing, then checked) whose requests go through wrap when it is set.
func openBlobs(ctx context.Context, cfg config.Config, log *slog.Logger, wrap func(http.RoundTripper) http.RoundTripper) (blob.Store, error) {
	if cfg.BlobStore != config.BlobStoreS3 {
		return fsblob.New(filepath.Join(cfg.DataDir, "blobs"))
	}
	s3 := s3blob.Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, AccessKey: cfg.S3.AccessKey,
		SecretKey: cfg.S3.SecretKey.Reveal(), Region: cfg.S3.Region, UseTLS: cfg.S3.UseTLS, Prefix: cfg.S3.Prefix,
		Redirect: cfg.S3.Redirect, WrapTransport: wrap}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s3blob.EnsureBucket(ctx, s3); err != nil {
		return nil, err
	}
	store, err := s3blob.New(ctx, s3)
	if err != nil {
		return nil, err
	}
	log.Info("blob store: S3", "s3", s3)
	return store, nil
}

// referencers are every owner of references into the shared blob store. Each component that
// keeps blobs there must be listed, or garbage collection deletes its blobs.
func referencers(store *sqlstore.Stores) map[string]gc.Referencer {
	return map[string]gc.Referencer{
		"registry":         store.Registry.References(),
		"dependency_proxy": store.Proxy.References(),
		"packages":         store.Packages.References(),
	}
}

// Referencers returns every owner of references into the blob store, for building a
// collector with another clock (tests).
func (s *Server) Referencers() map[string]gc.Referencer { return referencers(s.Store) }

// newCollector builds the garbage collector over store and blobs; observe, when set, hears
// every run.
func newCollector(cfg config.Config, store *sqlstore.Stores, blobs blob.Store, log *slog.Logger, now func() time.Time,
	observe func(gc.Report, error, time.Duration)) (*gc.Collector, error) {
	return gc.New(gc.Config{Blobs: blobs, Store: store.GC, Referencers: referencers(store), Grace: cfg.GC.Grace,
		UploadTTL: cfg.GC.UploadTTL, Log: log, Now: now, Observe: observe})
}

// startGC runs the periodic garbage collection (when its interval is set) until ctx is done;
// wait blocks until it has stopped.
func (s *Server) startGC(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	if s.GC != nil && s.Config.GC.Interval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.GC.Loop(ctx, s.Config.GC.Interval)
		}()
	}
	return wg.Wait
}

// CollectGarbage runs garbage collection once for the instance cfg describes (the `gatehouse
// gc` command), alongside any running servers: the lease keeps it from overlapping theirs.
func CollectGarbage(ctx context.Context, cfg config.Config, log *slog.Logger, dryRun bool) (gc.Report, error) {
	if !cfg.IsPostgres() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return gc.Report{}, fmt.Errorf("data dir: %w", err)
		}
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return gc.Report{}, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return gc.Report{}, err
	}
	blobs, err := openBlobs(ctx, cfg, log, nil)
	if err != nil {
		return gc.Report{}, err
	}
	c, err := newCollector(cfg, sqlstore.New(db), blobs, log, nil, nil)
	if err != nil {
		return gc.Report{}, err
	}
	return c.Run(ctx, gc.RunOptions{DryRun: dryRun})
}
