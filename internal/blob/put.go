package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// cancelTimeout bounds CancelDetached.
const cancelTimeout = 30 * time.Second

// CancelDetached discards upload w on a context detached from ctx (bounded by a timeout), so an
// upload whose request went away is still cleaned up. After a successful Commit it does nothing.
func CancelDetached(ctx context.Context, w Writer) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	_ = w.Cancel(cctx)
}

// PutBytes commits body to s under d, once: bytes s already holds under d stay as they are.
// The registry keeps manifests so, byte for byte, and the dependency proxy the manifests it
// caches.
func PutBytes(ctx context.Context, s Store, d Digest, body []byte) error {
	if _, err := s.Stat(ctx, d); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	w, err := s.Create(ctx)
	if err != nil {
		return err
	}
	defer CancelDetached(ctx, w)
	if _, err := io.Copy(w, bytes.NewReader(body)); err != nil {
		return err
	}
	_, err = w.Commit(ctx, d)
	return err
}
