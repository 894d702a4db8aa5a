package s3blob

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

// countingTransport records the method of every request it carries.
type countingTransport struct {
	next    http.RoundTripper
	mu      sync.Mutex
	methods []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.methods = append(c.methods, r.Method)
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// Every request the store sends, from the bucket check on, goes through WrapTransport's
// transport.
func TestWrapTransportCarriesEveryRequest(t *testing.T) {
	m := startServer(t)
	cfg := m.bucket(t)
	ct := &countingTransport{}
	cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper { ct.next = next; return ct }
	if err := EnsureBucket(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, cfg)
	content := []byte("wrapped transport")
	w, err := s.Create(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	d := blob.FromBytes(blob.SHA256, content)
	if _, err := w.Commit(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range ct.methods {
		seen[m] = true
	}
	if !seen[http.MethodHead] || !seen[http.MethodPut] || len(ct.methods) < 4 {
		t.Fatalf("the transport carried %v, want the bucket check, the upload and the stat", ct.methods)
	}
}
