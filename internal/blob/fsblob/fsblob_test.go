package fsblob

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/blobtest"
)

func mustNew(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := New(dir)
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return mustNew(t, t.TempDir()) })
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := mustNew(t, dir)
	ctx := t.Context()
	data := []byte("layout")
	for _, alg := range []blob.Algorithm{blob.SHA256, blob.SHA512} {
		d := blob.FromBytes(alg, data)
		w, err := s.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "uploads", w.ID(), "data")); err != nil {
			t.Fatalf("upload data file: %v", err)
		}
		w.Write(data)
		if _, err := w.Commit(ctx, d); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "blobs", string(alg), d.Hex()[:2], d.Hex())
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("blob file %s: %q, %v", p, got, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != filePerm {
			t.Errorf("blob file mode %v, want %v", fi.Mode().Perm(), os.FileMode(filePerm))
		}
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(left) != 0 {
		t.Fatalf("uploads left after commit: %v", left)
	}
}

// TestCrashRecovery simulates a process that died mid-upload and a new one opening the root.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	d := blob.FromBytes(blob.SHA256, data)

	s1 := mustNew(t, dir)
	w, err := s1.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:400_000])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = s1.Resume(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[400_000:700_000]) // written but never closed: the process dies
	// Leftovers of a crash in the middle of saving the state.
	os.WriteFile(filepath.Join(dir, "uploads", w.ID(), "state-123.tmp"), []byte("{garbage"), 0o600)
	// A stray file among the blobs.
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256", d.Hex()[:2]), 0o700)
	os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Hex()[:2], ".tmp-"+d.Hex()), data, 0o600)

	s2 := mustNew(t, dir)
	if _, err := s2.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after crash: %v", err)
	}
	n := 0
	if err := s2.Walk(ctx, func(blob.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("Walk after crash: %d blobs, %v", n, err)
	}
	w2, err := s2.Resume(ctx, w.ID())
	if err != nil {
		t.Fatalf("Resume after crash: %v", err)
	}
	if w2.Size() != 400_000 {
		t.Fatalf("Size after crash %d, want the last closed 400000", w2.Size())
	}
	w2.Write(data[400_000:])
	if _, err := w2.Commit(ctx, d); err != nil {
		t.Fatalf("Commit after crash: %v", err)
	}
	rc, err := s2.Open(ctx, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("blob after crash recovery differs")
	}
}

func TestDamagedUpload(t *testing.T) {
	dir := t.TempDir()
	s := mustNew(t, dir)
	ctx := t.Context()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 1000))
	w.Close()
	if err := os.Truncate(filepath.Join(dir, "uploads", w.ID(), "data"), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, w.ID()); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Resume of a damaged upload: %v; want ErrNotFound", err)
	}
}

// TestSharedRoot runs uploads through two Stores on one directory, as two processes would.
func TestSharedRoot(t *testing.T) {
	dir := t.TempDir()
	stores := []*Store{mustNew(t, dir), mustNew(t, dir)}
	ctx := t.Context()
	data := bytes.Repeat([]byte("shared"), 200_000)
	d := blob.FromBytes(blob.SHA256, data)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			s := stores[i%2]
			w, err := s.Create(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Cancel(ctx)
			w.Write(data[:1000])
			w.Close()
			// The other process continues the upload.
			w, err = stores[(i+1)%2].Resume(ctx, w.ID())
			if err != nil {
				errs[i] = err
				return
			}
			w.Write(data[1000:])
			_, errs[i] = w.Commit(ctx, d)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("upload %d: %v", i, err)
		}
	}
	for _, s := range stores {
		info, err := s.Stat(ctx, d)
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Stat: %+v, %v", info, err)
		}
	}
}

func BenchmarkWrite256MiB(b *testing.B) {
	blobtest.BenchmarkWrite(b, mustNew(b, b.TempDir()), 256<<20)
}

func BenchmarkRead(b *testing.B) {
	blobtest.BenchmarkRead(b, mustNew(b, b.TempDir()), 256<<20)
}
