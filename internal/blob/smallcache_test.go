package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/fsblob"
)

func putBlob(t *testing.T, s blob.Store, data []byte) blob.Digest {
	t.Helper()
	ctx := context.Background()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	d := blob.FromBytes(blob.SHA256, data)
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func readAll(t *testing.T, c *blob.SmallCache, s blob.Store, d blob.Digest, size, offset int64) []byte {
	t.Helper()
	rc, err := c.Open(context.Background(), s, d, size, offset)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSmallCache: a small blob is read from the store once, then from memory (even with the
// store's copy gone); offsets work on cached bytes; big blobs and evicted ones come from the
// store.
func TestSmallCache(t *testing.T) {
	ctx := context.Background()
	store, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := blob.NewSmallCache(16, 40)
	small := []byte("sixteen bytes!!!")
	d := putBlob(t, store, small)
	if got := readAll(t, c, store, d, int64(len(small)), 0); !bytes.Equal(got, small) {
		t.Fatalf("first read = %q", got)
	}
	if err := store.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, store, d, int64(len(small)), 0); !bytes.Equal(got, small) {
		t.Fatalf("cached read = %q", got)
	}
	if got := readAll(t, c, store, d, int64(len(small)), 8); !bytes.Equal(got, small[8:]) {
		t.Fatalf("cached read at 8 = %q", got)
	}

	big := []byte(strings.Repeat("b", 17))
	bd := putBlob(t, store, big)
	if got := readAll(t, c, store, bd, int64(len(big)), 0); !bytes.Equal(got, big) {
		t.Fatalf("big read = %q", got)
	}
	if err := store.Delete(ctx, bd); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, store, bd, int64(len(big)), 0); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a big blob was cached: err = %v", err)
	}

	// 40 bytes in all: two more 16-byte blobs push the first one out.
	for _, s := range []string{"another 16 bytes", "a third 16 bytes"} {
		readAll(t, c, store, putBlob(t, store, []byte(s)), 16, 0)
	}
	if _, err := c.Open(ctx, store, d, int64(len(small)), 0); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the least recently used blob was not evicted: err = %v", err)
	}
}

// wrongBytes is a store whose copy of every blob has been altered on disk.
type wrongBytes struct{ blob.Store }

func (wrongBytes) Open(context.Context, blob.Digest, int64) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("tampered bytes!!")), nil
}

// TestSmallCacheRefusesWrongBytes: bytes that do not match the digest are an error and are not
// cached; a blob longer or shorter than its recorded size is an error too.
func TestSmallCacheRefusesWrongBytes(t *testing.T) {
	ctx := context.Background()
	c := blob.NewSmallCache(64, 1024)
	d := blob.FromBytes(blob.SHA256, []byte("the original 16b"))
	for range 2 {
		if _, err := c.Open(ctx, wrongBytes{}, d, 16, 0); !errors.Is(err, blob.ErrDigestMismatch) {
			t.Fatalf("tampered blob: err = %v, want ErrDigestMismatch", err)
		}
	}
	for _, size := range []int64{15, 17} {
		if _, err := c.Open(ctx, wrongBytes{}, d, size, 0); err == nil {
			t.Fatalf("a %d-byte record of a 16-byte blob opened without error", size)
		}
	}
}
