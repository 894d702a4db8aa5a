package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestGC: `gatehouse gc --dry-run` lists the unreferenced old blobs and deletes nothing;
// `gatehouse gc` deletes them, next to a running server, and keeps referenced and fresh blobs.
func TestGC(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	ctx := context.Background()
	dir := ts.Server.Config.DataDir
	put := func(content string) blob.Digest {
		t.Helper()
		d := blob.FromBytes(blob.SHA256, []byte(content))
		w, err := ts.Server.Blobs.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	age := func(d blob.Digest) {
		t.Helper()
		p := filepath.Join(dir, "blobs", "blobs", "sha256", d.Hex()[:2], d.Hex())
		old := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(d blob.Digest) bool {
		_, err := ts.Server.Blobs.Stat(ctx, d)
		return err == nil
	}
	referenced, garbage, fresh := put("referenced layer"), put("garbage layer"), put("fresh layer")
	repo := oci.Repository{ProjectID: f.Projects["top"].ID, Name: "group/top/app"}
	if err := ts.Server.Store.Registry.LinkBlob(ctx, repo, oci.BlobLink{Digest: string(referenced), Size: 16, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	age(referenced)
	age(garbage)

	out := mustGatehouse(t, "gc", "--dry-run", "--data-dir", dir)
	if !strings.Contains(out, "would delete "+string(garbage)+" (13 bytes)") || strings.Contains(out, string(referenced)) ||
		strings.Contains(out, string(fresh)) || !strings.Contains(out, "would delete 1 blob(s), 13 bytes") {
		t.Fatalf("dry run output:\n%s", out)
	}
	if !stored(garbage) {
		t.Fatal("the dry run deleted the blob")
	}

	out = mustGatehouse(t, "gc", "--data-dir", dir)
	if !strings.Contains(out, "deleted "+string(garbage)+" (13 bytes)") || strings.Contains(out, string(referenced)) ||
		!strings.Contains(out, "deleted 1 blob(s), 13 bytes; 1 referenced, 3 stored, 1 unreferenced kept") ||
		!strings.Contains(out, "purged 0 abandoned upload(s)") {
		t.Fatalf("gc output:\n%s", out)
	}
	if stored(garbage) || !stored(referenced) || !stored(fresh) {
		t.Fatalf("after gc: garbage %v referenced %v fresh %v stored", stored(garbage), stored(referenced), stored(fresh))
	}
	if out := mustGatehouse(t, "gc", "--data-dir", dir); !strings.Contains(out, "deleted 0 blob(s)") {
		t.Fatalf("second gc output:\n%s", out)
	}
	// An invalid configuration fails before anything runs.
	var errOut bytes.Buffer
	root := newRoot()
	root.SetOut(&errOut)
	root.SetErr(&errOut)
	root.SetArgs([]string{"gc", "--data-dir", dir})
	t.Setenv("GATEHOUSE_BLOB_STORE", "s3")
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "s3.endpoint") {
		t.Fatalf("gc with blob_store s3 and no endpoint: %v", err)
	}
}
