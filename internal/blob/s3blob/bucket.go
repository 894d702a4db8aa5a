package s3blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
)

// EnsureBucket creates cfg.Bucket (in cfg.Region) unless it exists. Credentials that may not
// create buckets are fine when the bucket is already there.
func EnsureBucket(ctx context.Context, cfg Config) error {
	client, err := newClient(cfg)
	if err != nil {
		return err
	}
	var ok bool
	for {
		ok, err = client.BucketExists(ctx, cfg.Bucket)
		if err == nil || !starting(err) {
			break
		}
		// The server is still starting (MinIO started alongside Gatehouse): wait for it.
		select {
		case <-ctx.Done():
			return fmt.Errorf("s3blob: bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("s3blob: bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if ok {
		return nil
	}
	if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		// Another node may have created it meanwhile.
		if ok, err2 := client.BucketExists(ctx, cfg.Bucket); err2 == nil && ok {
			return nil
		}
		return fmt.Errorf("s3blob: create bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	return nil
}

// starting reports an answer of a server that is up but not ready yet (503; MinIO's
// XMinioServerNotInitialized).
func starting(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.StatusCode == http.StatusServiceUnavailable || er.Code == "XMinioServerNotInitialized")
}
