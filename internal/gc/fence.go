package gc

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

// Fence is the writers' side of the sweep (see the package comment). A writer that made a
// blob reachable calls Survived after its reference is stored; the registry takes it as its
// registry.BlobFence, and the package registries and the proxy can do the same.
type Fence struct {
	Deletions interface {
		BlobDeletion(ctx context.Context, digest string) (began, ended time.Time, ok bool, err error)
	}
	Blobs blob.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Poll is how often a writer looks again while a deletion is in progress; 0 means 100ms.
	Poll time.Duration
}

// Survived reports whether d's bytes are still stored after a reference to d was written. With
// no deletion of d recorded it answers true at once (one indexed query); while a deletion is
// in progress it waits (up to FenceTimeout) for it to end; then it checks the bytes. When it
// answers false the writer must remove its reference and fail.
func (f *Fence) Survived(ctx context.Context, d blob.Digest) (bool, error) {
	now, poll := f.Now, f.Poll
	if now == nil {
		now = time.Now
	}
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	for {
		began, ended, ok, err := f.Deletions.BlobDeletion(ctx, string(d))
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil
		}
		if !ended.IsZero() || now().Sub(began) >= FenceTimeout {
			break
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
	_, err := f.Blobs.Stat(ctx, d)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, blob.ErrNotFound):
		return false, nil
	}
	return false, err
}
