package blobtest

import (
	"io"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

// benchChunk is the write size of the benchmarks: what one io.Copy step from a request body
// would hand over, rounded up.
const benchChunk = 1 << 20

// benchData returns a chunk of pseudo-random bytes and the digest of size bytes made of it
// repeated (the last repetition cut short).
func benchData(size int64) ([]byte, blob.Digest) {
	chunk := payload(500, benchChunk)
	h := blob.SHA256.New()
	for left := size; left > 0; left -= benchChunk {
		h.Write(chunk[:min(left, benchChunk)])
	}
	return chunk, blob.FromHash(blob.SHA256, h)
}

func writeRepeated(w io.Writer, chunk []byte, size int64) error {
	for left := size; left > 0; left -= benchChunk {
		if _, err := w.Write(chunk[:min(left, benchChunk)]); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkWrite measures one monolithic upload of size bytes: Create, Write in 1 MiB chunks,
// Commit (SHA-256). The blob is deleted between iterations, outside the timer.
func BenchmarkWrite(b *testing.B, s blob.Store, size int64) {
	ctx := b.Context()
	chunk, d := benchData(size)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w, err := s.Create(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := writeRepeated(w, chunk, size); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Commit(ctx, d); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(ctx, d); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRead measures reading a stored blob of size bytes from offset 0 to the end.
func BenchmarkRead(b *testing.B, s blob.Store, size int64) {
	ctx := b.Context()
	chunk, d := benchData(size)
	w, err := s.Create(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeRepeated(w, chunk, size); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Commit(ctx, d); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		rc, err := s.Open(ctx, d, 0)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes, err %v; want %d", n, err, size)
		}
	}
}
