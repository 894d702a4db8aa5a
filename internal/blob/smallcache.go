package blob

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"
)

// SmallCache keeps the bytes of small blobs in memory, least recently used out first, so that
// the most requested small files (package metadata, small artifacts) are served without opening
// a file or an object. Blobs are content-addressed, so a cached blob never goes stale; its bytes
// are checked against the digest before they are kept.
type SmallCache struct {
	maxBlob, maxBytes int64

	mu    sync.Mutex
	order *list.List // of *smallEntry, most recently used first
	items map[Digest]*list.Element
	size  int64
}

type smallEntry struct {
	digest Digest
	data   []byte
}

// NewSmallCache returns a cache of blobs up to maxBlob bytes each, maxBytes in all.
func NewSmallCache(maxBlob, maxBytes int64) *SmallCache {
	return &SmallCache{maxBlob: maxBlob, maxBytes: maxBytes, order: list.New(), items: map[Digest]*list.Element{}}
}

// Open returns a reader of the blob d (size bytes) from offset: from memory when it is cached,
// otherwise from store. A blob small enough to cache is read whole, verified and kept; a blob
// whose bytes do not match d is reported as an error, never served.
func (c *SmallCache) Open(ctx context.Context, store Store, d Digest, size, offset int64) (io.ReadCloser, error) {
	if data, ok := c.get(d); ok && offset >= 0 && offset <= int64(len(data)) {
		return newMemReader(data[offset:]), nil
	}
	if size < 0 || size > c.maxBlob || offset < 0 || offset > size {
		return store.Open(ctx, d, offset)
	}
	rc, err := store.Open(ctx, d, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	if extra, _ := rc.Read(make([]byte, 1)); extra != 0 {
		return nil, fmt.Errorf("read blob %s: longer than its recorded %d bytes", d, size)
	}
	if FromBytes(d.Algorithm(), data) != d {
		return nil, fmt.Errorf("read blob %s: %w", d, ErrDigestMismatch)
	}
	c.add(d, data)
	return newMemReader(data[offset:]), nil
}

// memReader reads cached bytes: a bytes.Reader that closes, in one allocation where
// io.NopCloser(bytes.NewReader(b)) takes two (a cached download opens one per request). Its
// WriteTo hands the bytes to the response in one Write.
type memReader struct{ bytes.Reader }

func newMemReader(b []byte) *memReader {
	r := &memReader{}
	r.Reset(b)
	return r
}

func (*memReader) Close() error { return nil }

func (c *SmallCache) get(d Digest) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[d]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*smallEntry).data, true
}

func (c *SmallCache) add(d Digest, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[d]; ok {
		return
	}
	c.items[d] = c.order.PushFront(&smallEntry{digest: d, data: data})
	c.size += int64(len(data))
	for c.size > c.maxBytes {
		last := c.order.Back()
		old := last.Value.(*smallEntry)
		c.order.Remove(last)
		delete(c.items, old.digest)
		c.size -= int64(len(old.data))
	}
}
