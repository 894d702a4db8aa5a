package registry_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// gcControlled disables the periodic job (the test runs the collector itself) and sets the
// grace period and the upload TTL to one hour.
func gcControlled(c *config.Config) {
	c.GC.Interval = 0
	c.GC.Grace = time.Hour
	c.GC.UploadTTL = time.Hour
}

// nextSecond waits for the next whole second and returns it: everything stored before is
// older, everything stored after is not (S3 times have second precision).
func nextSecond() time.Time {
	b := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(b) + 10*time.Millisecond)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGC runs garbage collection against the registry's real data on local disk and on S3:
// unreferenced old blobs go, referenced and fresh ones stay, abandoned uploads are purged, and
// images pushed while the collector runs — re-using old unreferenced blobs it is deleting —
// are complete afterwards.
func TestGC(t *testing.T) {
	t.Run("fs", func(t *testing.T) { testGC(t) })
	t.Run("s3", func(t *testing.T) {
		m := startMinio(t)
		testGC(t, m.withS3(randomBucket(), "gh", false))
	})
}

func testGC(t *testing.T, opts ...testenv.ServerOption) {
	ts, f, _ := startRegistry(t, append([]testenv.ServerOption{gcControlled}, opts...)...)
	ctx := t.Context()
	top := "projects/" + itoa(f.Projects["top"].ID)
	rw := ts.CreateDeployToken(t, top, []string{"read_registry", "write_registry"}, nil)
	app := newOCIClient(ts.URL, rw.Username, rw.Token).repo(ctx, "group/top/app")
	admin := newOCIClient(ts.URL, "root", ts.RootToken).repo(ctx, "group/top/app")

	kept := newTestImage(randomBytes(40000), randomBytes(3000))
	must(t, app.push(kept, "kept", 0))
	// A layer unlinked from the repository but still named by a manifest stays.
	partial := newTestImage(randomBytes(3000))
	must(t, app.push(partial, "partial", 0))
	must(t, admin.deleteBlob(digestOf(partial.layers[0])))
	gone := newTestImage(randomBytes(20000))
	must(t, app.push(gone, "gone", 16000))
	must(t, admin.deleteManifest(gone.digest))
	garbage := []string{gone.digest}
	for _, b := range append([][]byte{gone.config}, gone.layers...) {
		must(t, admin.deleteBlob(digestOf(b)))
		garbage = append(garbage, digestOf(b))
	}
	// Old unreferenced blobs that the concurrent pushes below re-use.
	var reused [][]byte
	for range 8 {
		b := randomBytes(30000)
		must(t, app.pushBlobMonolithic(b))
		must(t, admin.deleteBlob(digestOf(b)))
		reused = append(reused, b)
	}
	abandoned, err := app.startUpload()
	must(t, err)
	_, err = app.patchChunk(abandoned, 0, randomBytes(1000))
	must(t, err)

	cutoff := nextSecond()
	fresh := randomBytes(5000)
	must(t, app.pushBlobMonolithic(fresh))
	must(t, admin.deleteBlob(digestOf(fresh)))
	active, err := app.startUpload()
	must(t, err)
	_, err = app.patchChunk(active, 0, randomBytes(1000))
	must(t, err)

	// A collector with the server's referencers and a clock stopped one hour after the cutoff:
	// everything stored before the cutoff is older than the grace period and the upload TTL,
	// everything stored after it is not.
	collector, err := gc.New(gc.Config{Blobs: ts.Server.Blobs, Store: ts.Server.Store.GC, Referencers: ts.Server.Referencers(),
		Grace: time.Hour, UploadTTL: time.Hour, Now: func() time.Time { return cutoff.Add(time.Hour) }})
	must(t, err)
	stored := func(d string) bool {
		t.Helper()
		_, err := ts.Server.Blobs.Stat(ctx, blob.Digest(d))
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	dry, err := collector.Run(ctx, gc.RunOptions{DryRun: true})
	must(t, err)
	var wantDry []string
	wantDry = append(wantDry, garbage...)
	for _, b := range reused {
		wantDry = append(wantDry, digestOf(b))
	}
	if got := infoDigests(dry.Deleted); !sameSet(got, wantDry) {
		t.Fatalf("dry run would delete %v, want %v", got, wantDry)
	}
	if !stored(gone.digest) {
		t.Fatal("the dry run deleted a blob")
	}

	// Pushers re-use the old blobs while the collector runs again and again.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		pushed   = map[string]string{} // tag → manifest digest
		deleted  []string
		runs     atomic.Int32
		fenced   atomic.Int32
		pushDone = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			rep, err := collector.Run(ctx, gc.RunOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			runs.Add(1)
			mu.Lock()
			deleted = append(deleted, infoDigests(rep.Deleted)...)
			mu.Unlock()
			select {
			case <-pushDone:
				return
			default:
			}
		}
	}()
	var pushers sync.WaitGroup
	for p := range 4 {
		pushers.Add(1)
		go func() {
			defer pushers.Done()
			c := newOCIClient(ts.URL, rw.Username, rw.Token).repo(ctx, "group/top/app")
			for i := range 4 {
				img := newTestImage(reused[(p+i)%len(reused)], randomBytes(10000))
				tag := "p" + itoaInt(p) + "-" + itoaInt(i)
				var err error
				for range 5 {
					if err = c.push(img, tag, (p%2)*7000); statusOf(err) != http.StatusServiceUnavailable {
						break
					}
					fenced.Add(1) // the collector deleted a re-used blob under the push: push again
				}
				if err != nil {
					t.Errorf("push %s: %v", tag, err)
					return
				}
				mu.Lock()
				pushed[tag] = img.digest
				mu.Unlock()
			}
		}()
	}
	pushers.Wait()
	close(pushDone)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d collections ran during the pushes; %d pushes were fenced and repeated", runs.Load(), fenced.Load())

	// One more run after the pushes settled.
	final, err := collector.Run(ctx, gc.RunOptions{})
	must(t, err)
	deleted = append(deleted, infoDigests(final.Deleted)...)
	for _, d := range garbage {
		if !slices.Contains(deleted, d) || stored(d) {
			t.Errorf("fail/unreferenced old blob %s not deleted", d)
		}
	}
	for _, d := range []string{kept.digest, digestOf(kept.config), digestOf(kept.layers[0]), digestOf(kept.layers[1]),
		partial.digest, digestOf(partial.layers[0]), digestOf(fresh)} {
		if slices.Contains(deleted, d) || !stored(d) {
			t.Errorf("blob %s deleted; it is referenced or within the grace period", d)
		}
	}
	if final.UploadsPurged != 0 {
		t.Errorf("the final run purged %d uploads, want none left to purge", final.UploadsPurged)
	}
	if s, err := app.uploadStatus(abandoned); err != nil || s != http.StatusNotFound {
		t.Errorf("abandoned upload: status %d %v, want 404", s, err)
	}
	if s, err := app.uploadStatus(active); err != nil || s != http.StatusNoContent {
		t.Errorf("active upload: status %d %v, want 204", s, err)
	}
	// Every image is whole: the kept one and all the concurrent pushes.
	if d, err := app.verify("kept"); err != nil || d != kept.digest {
		t.Errorf("kept image: %s %v", d, err)
	}
	if len(pushed) != 16 {
		t.Fatalf("%d images pushed, want 16", len(pushed))
	}
	for tag, want := range pushed {
		if d, err := app.verify(tag); err != nil || d != want {
			t.Errorf("image %s after the collection: %s %v", tag, d, err)
		}
	}
	if _, _, err := app.get("/v2/group/top/app/manifests/gone", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("deleted manifest: %v", err)
	}
}

func infoDigests(infos []blob.Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, string(i.Digest))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TestGCPeriodic: the server collects on its own at the configured interval.
func TestGCPeriodic(t *testing.T) {
	ts, f, _ := startRegistry(t, func(c *config.Config) { c.GC.Interval = 100 * time.Millisecond })
	ctx := t.Context()
	rw := ts.CreateDeployToken(t, "projects/"+itoa(f.Projects["top"].ID), []string{"read_registry", "write_registry"}, nil)
	app := newOCIClient(ts.URL, rw.Username, rw.Token).repo(ctx, "group/top/app")
	admin := newOCIClient(ts.URL, "root", ts.RootToken).repo(ctx, "group/top/app")
	img := newTestImage(randomBytes(5000))
	must(t, app.push(img, "v1", 0))
	garbage := randomBytes(5000)
	must(t, app.pushBlobMonolithic(garbage))
	must(t, admin.deleteBlob(digestOf(garbage)))
	ts.Clock.Advance(2 * time.Hour) // past the default one-hour grace period
	var err error
	if !testenv.Eventually(20*time.Second, func() bool {
		_, err = ts.Server.Blobs.Stat(ctx, blob.Digest(digestOf(garbage)))
		return errors.Is(err, blob.ErrNotFound)
	}) {
		t.Fatalf("the periodic job did not delete the garbage blob (stat: %v)", err)
	}
	for _, b := range [][]byte{img.manifest, img.config, img.layers[0]} {
		if _, err := ts.Server.Blobs.Stat(ctx, blob.Digest(digestOf(b))); err != nil {
			t.Fatalf("referenced blob %s: %v", digestOf(b), err)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := newOCIClient(ts.URL, rw.Username, rw.Token).repo(ctx2, "group/top/app").verify("v1"); err != nil {
		t.Fatal(err)
	}
}

// TestGCFence plays the collector's side of the fence by hand against the real server: a push
// that links a blob (or records a manifest) whose deletion is in progress waits for it to end;
// when the bytes went, the push fails with 503 and leaves no reference behind, and pushing
// again works; when the collector kept them, the push succeeds.
func TestGCFence(t *testing.T) {
	ts, f, _ := startRegistry(t, gcControlled)
	ctx := t.Context()
	rw := ts.CreateDeployToken(t, "projects/"+itoa(f.Projects["top"].ID), []string{"read_registry", "write_registry"}, nil)
	app := newOCIClient(ts.URL, rw.Username, rw.Token).repo(ctx, "group/top/app")
	admin := newOCIClient(ts.URL, "root", ts.RootToken).repo(ctx, "group/top/app")
	store := ts.Server.Store

	// during runs push while the deletion of d is in progress; once the push has written its
	// reference (recorded reports it) and waited a little, it ends the deletion (deleting the
	// bytes unless keep) and returns the push's error.
	during := func(t *testing.T, d string, keep bool, recorded func() bool, push func() error) error {
		t.Helper()
		must(t, store.GC.BeginBlobDeletions(ctx, []string{d}, time.Now()))
		res := make(chan error, 1)
		go func() { res <- push() }()
		if !testenv.Eventually(20*time.Second, recorded) {
			t.Fatal("the push never wrote its reference")
		}
		select {
		case err := <-res:
			t.Fatalf("the push finished (%v) while the deletion of its blob was in progress", err)
		case <-time.After(300 * time.Millisecond):
		}
		if keep {
			must(t, store.GC.EndBlobDeletions(ctx, nil, []string{d}, time.Now()))
		} else {
			must(t, ts.Server.Blobs.Delete(ctx, blob.Digest(d)))
			must(t, store.GC.EndBlobDeletions(ctx, []string{d}, nil, time.Now()))
		}
		select {
		case err := <-res:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the push still waits after the deletion ended")
		}
		return nil
	}
	linked := func(repo, d string) func() bool {
		return func() bool {
			_, err := store.Registry.BlobLink(ctx, oci.Repository{ProjectID: f.Projects["top"].ID, Name: oci.Name(repo)}, d)
			return err == nil
		}
	}
	// orphan stores b as an unreferenced blob.
	orphan := func(t *testing.T, b []byte) {
		t.Helper()
		must(t, app.pushBlobMonolithic(b))
		must(t, admin.deleteBlob(digestOf(b)))
	}

	t.Run("fail/monolithic upload of a blob being deleted", func(t *testing.T) {
		b := randomBytes(4000)
		orphan(t, b)
		err := during(t, digestOf(b), false, linked("group/top/app", digestOf(b)), func() error { return app.pushBlobMonolithic(b) })
		if statusOf(err) != http.StatusServiceUnavailable {
			t.Fatalf("push: %v, want 503", err)
		}
		if err := app.blob(digestOf(b), -1); statusOf(err) != http.StatusNotFound {
			t.Fatalf("the blob is still linked after the failed push: %v", err)
		}
		must(t, app.pushBlobMonolithic(b))
		must(t, app.blob(digestOf(b), int64(len(b))))
	})
	t.Run("fail/chunked upload of a blob being deleted", func(t *testing.T) {
		b := randomBytes(9000)
		orphan(t, b)
		err := during(t, digestOf(b), false, linked("group/top/app", digestOf(b)), func() error { return app.pushBlobChunked(b, 4000) })
		if statusOf(err) != http.StatusServiceUnavailable {
			t.Fatalf("push: %v, want 503", err)
		}
		if err := app.blob(digestOf(b), -1); statusOf(err) != http.StatusNotFound {
			t.Fatalf("the blob is still linked after the failed push: %v", err)
		}
		must(t, app.pushBlobChunked(b, 4000))
		must(t, app.blob(digestOf(b), int64(len(b))))
	})
	t.Run("ok/the collector keeps the blob", func(t *testing.T) {
		b := randomBytes(4000)
		orphan(t, b)
		if err := during(t, digestOf(b), true, linked("group/top/app", digestOf(b)), func() error { return app.pushBlobMonolithic(b) }); err != nil {
			t.Fatal(err)
		}
		must(t, app.blob(digestOf(b), int64(len(b))))
	})
	t.Run("fail/manifest being deleted", func(t *testing.T) {
		img := newTestImage(randomBytes(3000))
		must(t, app.push(img, "m1", 0))
		must(t, admin.deleteManifest(img.digest))
		recorded := func() bool {
			_, err := store.Registry.Manifest(ctx, oci.Repository{ProjectID: f.Projects["top"].ID, Name: "group/top/app"}, img.digest)
			return err == nil
		}
		err := during(t, img.digest, false, recorded, func() error { return app.pushManifest("m1", img.manifest) })
		if statusOf(err) != http.StatusServiceUnavailable {
			t.Fatalf("manifest push: %v, want 503", err)
		}
		if _, _, err := app.get("/v2/group/top/app/manifests/m1", nil); statusOf(err) != http.StatusNotFound {
			t.Fatalf("the manifest is visible after the failed push: %v", err)
		}
		must(t, app.pushManifest("m1", img.manifest))
		if d, err := app.verify("m1"); err != nil || d != img.digest {
			t.Fatalf("re-pushed manifest: %s %v", d, err)
		}
	})
	t.Run("fail/mount of a blob being deleted", func(t *testing.T) {
		b := randomBytes(4000)
		must(t, app.pushBlobMonolithic(b))
		other := newOCIClient(ts.URL, rw.Username, rw.Token).repo(ctx, "group/top/other")
		// A mount needs pull on the source too: one token for both repositories.
		code, tok := tokenFor(t, ts.URL, rw.Username, rw.Token, "repository:group/top/other:pull,push", "repository:group/top/app:pull")
		if code != http.StatusOK {
			t.Fatalf("token: %d", code)
		}
		mount := func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost,
				ts.URL+"/v2/group/top/other/blobs/uploads/?mount="+digestOf(b)+"&from=group/top/app", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return &httpError{resp.StatusCode, ""}
			}
			return nil
		}
		// The collector deletes the bytes under the mount (as it could once the source's link
		// was deleted after the mount read it).
		err := during(t, digestOf(b), false, linked("group/top/other", digestOf(b)), mount)
		if statusOf(err) != http.StatusServiceUnavailable {
			t.Fatalf("mount: %v, want 503", err)
		}
		if err := other.blob(digestOf(b), -1); statusOf(err) != http.StatusNotFound {
			t.Fatalf("the mounted blob is linked after the failed mount: %v", err)
		}
	})
}
