// Package blobtest is the behavioural conformance suite for blob.Store implementations. Every
// implementation (fsblob, s3blob) runs the same Run from its own tests, so they cannot drift
// apart (docs/architecture.md §7.3).
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

// NewStore returns an empty store for one subtest. Each call must return a store that shares
// nothing with earlier ones (a fresh directory, bucket or prefix), because the Walker checks
// expect to see exactly the blobs that subtest committed.
type NewStore func(t *testing.T) blob.Store

// LargeSize is the size of the streamed large-blob check.
const LargeSize = 64 << 20

// Run runs the conformance suite against the stores newStore returns. Optional capabilities
// (blob.Walker, blob.Redirector) are checked when the store implements them.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"ok/commit then stat and open at offsets", testCommitStatOpen},
		{"ok/sha512", testSHA512},
		{"ok/empty blob", testEmpty},
		{"ok/upload ids are distinct", testDistinctIDs},
		{"fail/digest mismatch makes nothing visible", testDigestMismatch},
		{"fail/invalid digest on commit", testInvalidDigest},
		{"ok/invisible before commit", testInvisibleBeforeCommit},
		{"ok/close and resume across requests", testResumeChunks},
		{"ok/resume sha512 across requests", testResumeSHA512},
		{"ok/resume after an abandoned writer continues from Size", testResumeAfterAbandon},
		{"fail/resume unknown upload", testResumeUnknown},
		{"ok/cancel discards", testCancel},
		{"ok/finished writer", testFinishedWriter},
		{"ok/delete", testDelete},
		{"fail/missing blob", testMissing},
		{"ok/commit of an existing digest is idempotent", testIdempotentCommit},
		{"ok/concurrent uploads of the same content", testConcurrentSame},
		{"ok/concurrent uploads of different content", testConcurrentDifferent},
		{"ok/large blob streamed", testLarge},
		{"ok/abandoned upload never becomes visible", testAbandoned},
		{"ok/walker", testWalker},
		{"ok/walker purges old uploads", testPurgeUploads},
		{"ok/redirector", testRedirector},
		{"ok/pinger", testPinger},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// --- helpers ---------------------------------------------------------------------------------

// payload returns n deterministic pseudo-random bytes for seed.
func payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = newGen(seed).Read(b)
	return b
}

// newGen is a deterministic byte stream (ChaCha8), so large blobs can be generated twice
// instead of being held in memory.
func newGen(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return mrand.NewChaCha8(s)
}

// put uploads data in one go and commits it under its digest.
func put(t *testing.T, s blob.Store, alg blob.Algorithm, data []byte) blob.Info {
	t.Helper()
	ctx := t.Context()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Cancel(ctx)
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write: n=%d err=%v, want n=%d", n, err, len(data))
	}
	d := blob.FromBytes(alg, data)
	info, err := w.Commit(ctx, d)
	if err != nil {
		t.Fatalf("Commit(%s): %v", d, err)
	}
	if info.Digest != d || info.Size != int64(len(data)) {
		t.Fatalf("Commit returned %+v, want digest %s size %d", info, d, len(data))
	}
	return info
}

// readAll opens d at offset and reads it to the end.
func readAll(t *testing.T, s blob.Store, d blob.Digest, offset int64) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), d, offset)
	if err != nil {
		t.Fatalf("Open(%s, %d): %v", d, offset, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s from %d: %v", d, offset, err)
	}
	return b
}

// checkBlob asserts that d is stored with exactly data, via Stat and Open.
func checkBlob(t *testing.T, s blob.Store, d blob.Digest, data []byte) {
	t.Helper()
	info, err := s.Stat(t.Context(), d)
	if err != nil {
		t.Fatalf("Stat(%s): %v", d, err)
	}
	if info.Digest != d || info.Size != int64(len(data)) {
		t.Fatalf("Stat(%s) = %+v, want size %d", d, info, len(data))
	}
	if got := readAll(t, s, d, 0); !bytes.Equal(got, data) {
		t.Fatalf("Open(%s) returned %d bytes that differ from the %d written", d, len(got), len(data))
	}
}

// checkAbsent asserts that nothing is stored under d.
func checkAbsent(t *testing.T, s blob.Store, d blob.Digest) {
	t.Helper()
	ctx := t.Context()
	if info, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat(%s) = %+v, %v; want ErrNotFound", d, info, err)
	}
	rc, err := s.Open(ctx, d, 0)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open(%s): %v; want ErrNotFound", d, err)
	}
}

// walk returns every blob a Walker lists, or nil and false when s is not a Walker.
func walk(t *testing.T, s blob.Store) (map[blob.Digest]blob.Info, bool) {
	t.Helper()
	wk, ok := s.(blob.Walker)
	if !ok {
		return nil, false
	}
	got := map[blob.Digest]blob.Info{}
	err := wk.Walk(t.Context(), func(i blob.Info) error {
		if _, dup := got[i.Digest]; dup {
			t.Errorf("Walk listed %s twice", i.Digest)
		}
		got[i.Digest] = i
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got, true
}

// writeAll writes b, failing the test on a short write.
func writeAll(t *testing.T, w blob.Writer, b []byte) {
	t.Helper()
	if n, err := w.Write(b); err != nil || n != len(b) {
		t.Fatalf("Write(%d bytes): n=%d err=%v", len(b), n, err)
	}
}

// --- core ------------------------------------------------------------------------------------

func testCommitStatOpen(t *testing.T, s blob.Store) {
	data := payload(1, 300_001)
	info := put(t, s, blob.SHA256, data)
	checkBlob(t, s, info.Digest, data)
	if info.ModTime.IsZero() {
		t.Errorf("Commit returned a zero ModTime")
	}
	st, err := s.Stat(t.Context(), info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(st.ModTime); d > time.Hour || d < -time.Hour {
		t.Errorf("Stat ModTime %v is not near now", st.ModTime)
	}
	for _, off := range []int64{0, 1, 4095, 4096, 150_000, int64(len(data)) - 1, int64(len(data))} {
		got := readAll(t, s, info.Digest, off)
		if !bytes.Equal(got, data[off:]) {
			t.Errorf("Open at offset %d: got %d bytes, want the %d bytes from there", off, len(got), len(data)-int(off))
		}
	}
	// A reader may be closed before it is drained.
	rc, err := s.Open(t.Context(), info.Digest, 10)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rc, buf); err != nil || !bytes.Equal(buf, data[10:15]) {
		t.Errorf("partial read at 10: %q, %v", buf, err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close of a partly read blob: %v", err)
	}
}

func testSHA512(t *testing.T, s blob.Store) {
	data := payload(2, 70_000)
	info := put(t, s, blob.SHA512, data)
	if info.Digest.Algorithm() != blob.SHA512 {
		t.Fatalf("digest %s is not sha512", info.Digest)
	}
	checkBlob(t, s, info.Digest, data)
	if got := readAll(t, s, info.Digest, 69_999); !bytes.Equal(got, data[69_999:]) {
		t.Errorf("Open sha512 blob at 69999: %q", got)
	}
	// The same bytes under sha256 are a different blob, absent until committed.
	checkAbsent(t, s, blob.FromBytes(blob.SHA256, data))
	put(t, s, blob.SHA256, data)
	checkBlob(t, s, blob.FromBytes(blob.SHA256, data), data)
	checkBlob(t, s, info.Digest, data)
}

func testEmpty(t *testing.T, s blob.Store) {
	for _, alg := range []blob.Algorithm{blob.SHA256, blob.SHA512} {
		info := put(t, s, alg, nil)
		if info.Size != 0 {
			t.Fatalf("empty blob size %d", info.Size)
		}
		checkBlob(t, s, info.Digest, nil)
		if got := readAll(t, s, info.Digest, 0); len(got) != 0 {
			t.Fatalf("empty blob read %d bytes", len(got))
		}
	}
}

func testDistinctIDs(t *testing.T, s blob.Store) {
	ctx := t.Context()
	seen := map[string]bool{}
	for range 5 {
		w, err := s.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w.ID() == "" || seen[w.ID()] {
			t.Fatalf("Create gave id %q (seen: %v)", w.ID(), seen)
		}
		if w.Size() != 0 {
			t.Fatalf("a new upload has Size %d", w.Size())
		}
		seen[w.ID()] = true
		if err := w.Cancel(ctx); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
	}
}

func testDigestMismatch(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(3, 10_000)
	other := payload(4, 10_000)
	for _, alg := range []blob.Algorithm{blob.SHA256, blob.SHA512} {
		w, err := s.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, data)
		wrong := blob.FromBytes(alg, other)
		if _, err := w.Commit(ctx, wrong); !errors.Is(err, blob.ErrDigestMismatch) {
			t.Fatalf("Commit with the wrong %s digest: %v; want ErrDigestMismatch", alg, err)
		}
		checkAbsent(t, s, wrong)
		checkAbsent(t, s, blob.FromBytes(alg, data))
		// A failed Commit leaves the upload for the caller to cancel.
		id := w.ID()
		if err := w.Cancel(ctx); err != nil {
			t.Fatalf("Cancel after a failed Commit: %v", err)
		}
		if _, err := s.Resume(ctx, id); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Resume after Cancel: %v; want ErrNotFound", err)
		}
	}
	if got, ok := walk(t, s); ok && len(got) != 0 {
		t.Fatalf("Walk after failed commits lists %v", got)
	}
}

func testInvalidDigest(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(5, 100)
	good := blob.FromBytes(blob.SHA256, data)
	for _, d := range []blob.Digest{"", "sha256:abc", "md5:" + blob.Digest(strings.Repeat("0", 32)),
		blob.Digest(strings.ToUpper(string(good))), "sha256:../../" + blob.Digest(good.Hex()[6:])} {
		w, err := s.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, data)
		if _, err := w.Commit(ctx, d); !errors.Is(err, blob.ErrInvalidDigest) {
			t.Errorf("Commit(%q): %v; want ErrInvalidDigest", d, err)
		}
		if err := w.Cancel(ctx); err != nil {
			t.Errorf("Cancel: %v", err)
		}
		if _, err := s.Stat(ctx, d); err == nil {
			t.Errorf("Stat(%q) succeeded", d)
		}
	}
	checkAbsent(t, s, good)
}

func testInvisibleBeforeCommit(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(6, 50_000)
	d := blob.FromBytes(blob.SHA256, data)
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	writeAll(t, w, data)
	checkAbsent(t, s, d)
	if got, ok := walk(t, s); ok && len(got) != 0 {
		t.Fatalf("Walk lists an uncommitted upload: %v", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAbsent(t, s, d)
	w2, err := s.Resume(ctx, w.ID())
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	defer w2.Cancel(ctx)
	checkAbsent(t, s, d)
	if _, err := w2.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, d, data)
}

// chunkSizes straddle the 5 MiB S3 part minimum and common part sizes (5 and 8 MiB), with tiny
// and empty chunks between them, as a chunked OCI upload spanning many requests would.
var chunkSizes = []int{1, 100 << 10, 6 << 20, 3, (5 << 20) - 3, 0, 4<<20 + 5, 17, 2 << 20, 1}

func testResumeChunks(t *testing.T, s blob.Store) {
	resumeChunks(t, s, blob.SHA256, 7)
}

func testResumeSHA512(t *testing.T, s blob.Store) {
	resumeChunks(t, s, blob.SHA512, 8)
}

func resumeChunks(t *testing.T, s blob.Store, alg blob.Algorithm, seed uint64) {
	ctx := t.Context()
	total := 0
	for _, n := range chunkSizes {
		total += n
	}
	data := payload(seed, total)
	d := blob.FromBytes(alg, data)

	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := w.ID()
	off := 0
	for i, n := range chunkSizes {
		if i > 0 {
			if w, err = s.Resume(ctx, id); err != nil {
				t.Fatalf("Resume before chunk %d: %v", i, err)
			}
			if w.ID() != id {
				t.Fatalf("resumed writer has id %q, want %q", w.ID(), id)
			}
		}
		if w.Size() != int64(off) {
			t.Fatalf("before chunk %d: Size %d, want %d", i, w.Size(), off)
		}
		// Each request writes its chunk in a few pieces.
		chunk := data[off : off+n]
		for len(chunk) > 0 {
			k := min(len(chunk), 1<<20+7)
			writeAll(t, w, chunk[:k])
			chunk = chunk[k:]
		}
		off += n
		if w.Size() != int64(off) {
			t.Fatalf("after chunk %d: Size %d, want %d", i, w.Size(), off)
		}
		checkAbsent(t, s, d)
		if i < len(chunkSizes)-1 {
			if err := w.Close(); err != nil {
				t.Fatalf("Close after chunk %d: %v", i, err)
			}
		}
	}
	info, err := w.Commit(ctx, d)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if info.Size != int64(total) {
		t.Fatalf("committed size %d, want %d", info.Size, total)
	}
	checkBlob(t, s, d, data)
	for _, off := range []int64{5<<20 - 1, 5 << 20, 8 << 20, 16 << 20, int64(total) - 1} {
		if got := readAll(t, s, d, off); !bytes.Equal(got, data[off:]) {
			t.Errorf("Open at %d: %d bytes differ", off, len(got))
		}
	}
	if _, err := s.Resume(ctx, id); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Resume after Commit: %v; want ErrNotFound", err)
	}
}

func testResumeAfterAbandon(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(9, 7<<20)
	d := blob.FromBytes(blob.SHA256, data)
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := w.ID()
	writeAll(t, w, data[:3<<20])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A request that dies mid-way: the writer is never closed.
	w, err = s.Resume(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data[3<<20:6<<20])

	// The client asks where to go on (OCI: GET the upload's Range) and continues from there.
	w, err = s.Resume(ctx, id)
	if err != nil {
		t.Fatalf("Resume after an abandoned writer: %v", err)
	}
	defer w.Cancel(ctx)
	n := w.Size()
	if n != 3<<20 && n != 6<<20 {
		t.Fatalf("Size after an abandoned writer is %d; want the last closed size %d or all written %d", n, 3<<20, 6<<20)
	}
	writeAll(t, w, data[n:])
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, d, data)
}

func testResumeUnknown(t *testing.T, s blob.Store) {
	ctx := t.Context()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	known := w.ID()
	unknown := []string{"", "x", "../" + known, known + "/../" + known, "/etc/passwd", "..", ".",
		strings.Repeat("0", len(known)), strings.Repeat("f", 32), "ABC\x00"}
	for _, id := range unknown {
		if id == known {
			continue
		}
		if w, err := s.Resume(ctx, id); !errors.Is(err, blob.ErrNotFound) {
			if err == nil {
				w.Close()
			}
			t.Errorf("Resume(%q): %v; want ErrNotFound", id, err)
		}
	}
}

func testCancel(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(10, 6<<20+1)
	d := blob.FromBytes(blob.SHA256, data)

	// Cancel of a live writer.
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if _, err := s.Resume(ctx, w.ID()); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Resume after Cancel: %v; want ErrNotFound", err)
	}
	checkAbsent(t, s, d)

	// Cancel of a resumed writer after Close.
	w, err = s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = s.Resume(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel of a resumed upload: %v", err)
	}
	if _, err := s.Resume(ctx, w.ID()); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Resume after Cancel: %v; want ErrNotFound", err)
	}
	checkAbsent(t, s, d)
}

// testFinishedWriter pins the contract that makes `defer w.Cancel(ctx)` safe: after Commit,
// Close or Cancel, Close and Cancel do nothing and Write and Commit fail.
func testFinishedWriter(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(11, 1000)
	d := blob.FromBytes(blob.SHA256, data)

	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Errorf("Cancel after Commit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Errorf("Write after Commit succeeded")
	}
	if _, err := w.Commit(ctx, d); err == nil {
		t.Errorf("second Commit succeeded")
	}
	checkBlob(t, s, d, data)

	// Cancel after Close must not discard the suspended upload.
	w, err = s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Errorf("Cancel after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Errorf("Write after Close succeeded")
	}
	w2, err := s.Resume(ctx, w.ID())
	if err != nil {
		t.Fatalf("Resume after Close then Cancel on the closed writer: %v", err)
	}
	if w2.Size() != int64(len(data)) {
		t.Fatalf("resumed Size %d, want %d", w2.Size(), len(data))
	}
	if err := w2.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w2.Cancel(ctx); err != nil {
		t.Errorf("second Cancel: %v", err)
	}
	if _, err := w2.Write([]byte("x")); err == nil {
		t.Errorf("Write after Cancel succeeded")
	}
	if _, err := w2.Commit(ctx, d); err == nil {
		t.Errorf("Commit after Cancel succeeded")
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	a, b := payload(12, 5000), payload(13, 5000)
	ia, ib := put(t, s, blob.SHA256, a), put(t, s, blob.SHA512, b)
	if err := s.Delete(ctx, ia.Digest); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, s, ia.Digest)
	checkBlob(t, s, ib.Digest, b)
	if err := s.Delete(ctx, ia.Digest); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("second Delete: %v; want ErrNotFound", err)
	}
	if err := s.Delete(ctx, ib.Digest); err != nil {
		t.Fatalf("Delete sha512: %v", err)
	}
	checkAbsent(t, s, ib.Digest)
	// A deleted blob can be uploaded again.
	put(t, s, blob.SHA256, a)
	checkBlob(t, s, ia.Digest, a)
	if got, ok := walk(t, s); ok && (len(got) != 1 || got[ia.Digest].Size != int64(len(a))) {
		t.Fatalf("Walk after delete and re-upload: %v", got)
	}
}

func testMissing(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, d := range []blob.Digest{blob.FromBytes(blob.SHA256, []byte("nope")), blob.FromBytes(blob.SHA512, []byte("nope"))} {
		checkAbsent(t, s, d)
		if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Delete(%s): %v; want ErrNotFound", d, err)
		}
		if rs, ok := s.(blob.Redirector); ok {
			// A URL for a missing blob may be issued, but must not serve content.
			if u, err := rs.RedirectURL(ctx, d, time.Minute); err == nil {
				if status, _ := httpGet(t, u); status == http.StatusOK {
					t.Errorf("redirect URL for a missing blob answered 200")
				}
			}
		}
	}
}

func testIdempotentCommit(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(14, 9<<20)
	first := put(t, s, blob.SHA256, data)
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data[:100])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w, err = s.Resume(ctx, w.ID()); err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data[100:])
	second, err := w.Commit(ctx, first.Digest)
	if err != nil {
		t.Fatalf("Commit of an existing digest: %v", err)
	}
	if second.Digest != first.Digest || second.Size != first.Size {
		t.Fatalf("second Commit returned %+v, first %+v", second, first)
	}
	if _, err := s.Resume(ctx, w.ID()); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the second upload is still resumable: %v", err)
	}
	checkBlob(t, s, first.Digest, data)
	// A wrong upload of an existing digest must still fail.
	w, err = s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	writeAll(t, w, data[1:])
	if _, err := w.Commit(ctx, first.Digest); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Commit of other bytes under an existing digest: %v; want ErrDigestMismatch", err)
	}
	checkBlob(t, s, first.Digest, data)
}

const writers = 8

func testConcurrentSame(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(15, 6<<20+123)
	d := blob.FromBytes(blob.SHA256, data)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			errs[g] = func() error {
				w, err := s.Create(ctx)
				if err != nil {
					return err
				}
				defer w.Cancel(ctx)
				for off := 0; off < len(data); off += 256 << 10 {
					if _, err := w.Write(data[off:min(off+256<<10, len(data))]); err != nil {
						return err
					}
				}
				info, err := w.Commit(ctx, d)
				if err != nil {
					return err
				}
				if info.Digest != d || info.Size != int64(len(data)) {
					return fmt.Errorf("commit returned %+v", info)
				}
				// Readers during the other commits see the whole blob.
				rc, err := s.Open(ctx, d, 0)
				if err != nil {
					return err
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err != nil {
					return err
				}
				if !bytes.Equal(got, data) {
					return fmt.Errorf("read %d bytes that differ from the blob", len(got))
				}
				return nil
			}()
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", g, err)
		}
	}
	checkBlob(t, s, d, data)
	if got, ok := walk(t, s); ok && len(got) != 1 {
		t.Fatalf("Walk lists %d blobs, want 1", len(got))
	}
}

func testConcurrentDifferent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	blobs := make([][]byte, writers)
	for i := range blobs {
		blobs[i] = payload(100+uint64(i), 1<<20+i)
	}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			errs[g] = func() error {
				w, err := s.Create(ctx)
				if err != nil {
					return err
				}
				defer w.Cancel(ctx)
				if _, err := w.Write(blobs[g]); err != nil {
					return err
				}
				_, err = w.Commit(ctx, blob.FromBytes(blob.SHA256, blobs[g]))
				return err
			}()
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", g, err)
		}
		checkBlob(t, s, blob.FromBytes(blob.SHA256, blobs[g]), blobs[g])
	}
}

// testLarge streams LargeSize bytes through the store without the test holding them.
func testLarge(t *testing.T, s blob.Store) {
	ctx := t.Context()
	h := blob.SHA256.New()
	if _, err := io.Copy(h, io.LimitReader(newGen(16), LargeSize)); err != nil {
		t.Fatal(err)
	}
	d := blob.FromHash(blob.SHA256, h)

	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(newGen(16), LargeSize), make([]byte, 1<<20))
	if err != nil || n != LargeSize {
		t.Fatalf("streaming %d bytes: n=%d err=%v", LargeSize, n, err)
	}
	info, err := w.Commit(ctx, d)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if info.Size != LargeSize {
		t.Fatalf("size %d", info.Size)
	}

	// Read it all back through a hash.
	rc, err := s.Open(ctx, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err = io.Copy(h, rc)
	rc.Close()
	if err != nil || n != LargeSize || blob.FromHash(blob.SHA256, h) != d {
		t.Fatalf("read back %d bytes (err %v) with digest %s, want %s", n, err, blob.FromHash(blob.SHA256, h), d)
	}

	// A range read near the end matches the generator there.
	const off = LargeSize - 3<<20 - 17
	gen := newGen(16)
	if _, err := io.CopyN(io.Discard, gen, off); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, LargeSize-off)
	_, _ = gen.Read(want)
	if got := readAll(t, s, d, off); !bytes.Equal(got, want) {
		t.Fatalf("range read at %d: %d bytes differ", off, len(got))
	}
}

// testAbandoned is the crash-consistency check: an upload dropped without Close or Commit, or
// closed but never committed, is never visible under any digest of its bytes.
func testAbandoned(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := payload(17, 6<<20+1)
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	// Dropped without Close: as if the process died here.

	w2, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w2, data[:1000])
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}

	for _, d := range []blob.Digest{
		blob.FromBytes(blob.SHA256, data), blob.FromBytes(blob.SHA512, data),
		blob.FromBytes(blob.SHA256, data[:1000]), blob.FromBytes(blob.SHA512, data[:1000]),
		blob.FromBytes(blob.SHA256, nil),
	} {
		checkAbsent(t, s, d)
	}
	if got, ok := walk(t, s); ok && len(got) != 0 {
		t.Fatalf("Walk lists abandoned uploads: %v", got)
	}
}

// --- optional capabilities ---------------------------------------------------------------------

func testPinger(t *testing.T, s blob.Store) {
	p, ok := s.(blob.Pinger)
	if !ok {
		t.Skipf("%T does not implement blob.Pinger", s)
	}
	if err := p.Ping(t.Context()); err != nil {
		t.Fatalf("Ping of a working store: %v", err)
	}
}

func testWalker(t *testing.T, s blob.Store) {
	wk, ok := s.(blob.Walker)
	if !ok {
		t.Skipf("%T does not implement blob.Walker", s)
	}
	ctx := t.Context()
	got, _ := walk(t, s)
	if len(got) != 0 {
		t.Fatalf("Walk of an empty store lists %v", got)
	}
	want := map[blob.Digest]int64{}
	for i, n := range []int{0, 1, 5000, 6 << 20} {
		alg := blob.SHA256
		if i%2 == 1 {
			alg = blob.SHA512
		}
		info := put(t, s, alg, payload(200+uint64(i), n))
		want[info.Digest] = int64(n)
	}
	// An upload in progress is not a blob.
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	writeAll(t, w, []byte("in progress"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got, _ = walk(t, s)
	if len(got) != len(want) {
		t.Fatalf("Walk listed %d blobs, want %d: %v", len(got), len(want), got)
	}
	for d, n := range want {
		info, ok := got[d]
		if !ok || info.Size != n || info.ModTime.IsZero() {
			t.Errorf("Walk entry for %s = %+v (listed %v); want size %d and a ModTime", d, info, ok, n)
		}
	}

	// fn's error stops the walk and is returned.
	stop := errors.New("stop here")
	calls := 0
	err = wk.Walk(ctx, func(blob.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk with a failing fn: err %v after %d calls; want the fn's error after 1", err, calls)
	}

	// A cancelled context stops it too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := wk.Walk(cctx, func(blob.Info) error { return nil }); err == nil {
		t.Fatalf("Walk with a cancelled context succeeded")
	}
	// Deleted blobs drop out.
	for d := range want {
		if err := s.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
		delete(want, d)
		break
	}
	got, _ = walk(t, s)
	if len(got) != len(want) {
		t.Fatalf("Walk after a delete listed %d blobs, want %d", len(got), len(want))
	}
	for d := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("Walk lists deleted %s", d)
		}
	}
}

func testPurgeUploads(t *testing.T, s blob.Store) {
	wk, ok := s.(blob.Walker)
	if !ok {
		t.Skipf("%T does not implement blob.Walker", s)
	}
	ctx := t.Context()
	keep := put(t, s, blob.SHA256, payload(300, 4000))

	var ids []string
	for i, n := range []int{0, 10, 6<<20 + 3} {
		w, err := s.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, payload(301+uint64(i), n))
		if i != 1 { // one is left unclosed, as after a crash
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, w.ID())
	}

	// Nothing is older than an hour ago.
	n, err := wk.PurgeUploads(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("PurgeUploads(an hour ago) = %d, %v; want 0", n, err)
	}
	for _, id := range ids {
		w, err := s.Resume(ctx, id)
		if err != nil {
			t.Fatalf("Resume(%s) after a purge of older uploads: %v", id, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	n, err = wk.PurgeUploads(ctx, time.Now().Add(time.Hour))
	if err != nil || n != len(ids) {
		t.Fatalf("PurgeUploads(in an hour) = %d, %v; want %d", n, err, len(ids))
	}
	for _, id := range ids {
		if _, err := s.Resume(ctx, id); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Resume(%s) after purge: %v; want ErrNotFound", id, err)
		}
	}
	checkBlob(t, s, keep.Digest, payload(300, 4000))
	if n, err := wk.PurgeUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("second PurgeUploads = %d, %v; want 0", n, err)
	}
}

func testRedirector(t *testing.T, s blob.Store) {
	rs, ok := s.(blob.Redirector)
	if !ok {
		t.Skipf("%T does not implement blob.Redirector", s)
	}
	data := payload(400, 2<<20+9)
	info := put(t, s, blob.SHA256, data)
	u, err := rs.RedirectURL(t.Context(), info.Digest, time.Minute)
	if err != nil {
		t.Fatalf("RedirectURL: %v", err)
	}
	status, body := httpGet(t, u)
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET redirect URL: status %d, %d bytes (equal: %v)", status, len(body), bytes.Equal(body, data))
	}
	empty := put(t, s, blob.SHA512, nil)
	if u, err = rs.RedirectURL(t.Context(), empty.Digest, time.Minute); err != nil {
		t.Fatalf("RedirectURL(empty): %v", err)
	}
	if status, body := httpGet(t, u); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("GET redirect URL of the empty blob: status %d, %d bytes", status, len(body))
	}
}

func httpGet(t *testing.T, u string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("redirect URL does not parse: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET redirect URL: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read redirect URL body: %v", err)
	}
	return resp.StatusCode, body
}
