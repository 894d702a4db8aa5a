package pkghttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/fsblob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
)

// TestSendFile serves a file stored through the real service (SQLite, disk blobs): GET streams
// it with the length, ETag and the caller's headers; HEAD sends the headers only; a file whose
// blob is gone returns the error before any header is set.
func TestSendFile(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace.NewService(s.Namespaces, nil)
	g, err := ns.CreateGroup(ctx, namespace.CreateGroupInput{Name: "G", Path: "g"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ns.CreateProject(ctx, namespace.CreateProjectInput{Name: "p", Path: "p", GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := packages.NewService(s.Packages, blobs, ns, packages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Larger than the service's small-file memory cache, so Open reads the blob store.
	body := strings.Repeat("gatehouse ", 10_000)
	rec, err := svc.AddFile(ctx, packages.Upload{ProjectID: p.ID, Format: packages.Generic, Name: "tool",
		Version: "1.0.0", Filename: "tool.bin", Size: -1, Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	f := &rec.File
	setType := func(h http.Header) { h.Set("Content-Type", "application/x-test") }

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := httptest.NewRecorder()
		if err := pkghttp.SendFile(w, httptest.NewRequest(method, "/f", nil), svc, nil, f, "test download", setType); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		h := w.Result().Header
		if w.Code != http.StatusOK || h.Get("Content-Length") != strconv.Itoa(len(body)) ||
			h.Get("ETag") != `"`+f.SHA256+`"` || h.Get("Content-Type") != "application/x-test" {
			t.Fatalf("%s: %d %v", method, w.Code, h)
		}
		want := body
		if method == http.MethodHead {
			want = ""
		}
		if w.Body.String() != want {
			t.Fatalf("%s: body of %d bytes, want %d", method, w.Body.Len(), len(want))
		}
	}

	if err := blobs.Delete(ctx, blob.Digest("sha256:"+f.SHA256)); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	err = pkghttp.SendFile(w, httptest.NewRequest(http.MethodGet, "/f", nil), svc, nil, f, "test download", setType)
	if err == nil || !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("GET of a file whose blob is gone: %v", err)
	}
	if len(w.Header()) != 0 || w.Body.Len() != 0 {
		t.Fatalf("a failed SendFile wrote headers %v and %d body bytes", w.Header(), w.Body.Len())
	}
}
