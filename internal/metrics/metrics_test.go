package metrics_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/metrics"
)

func TestS3Operation(t *testing.T) {
	for _, c := range []struct {
		method, url, copySource, want string
	}{
		{"HEAD", "http://s3:9000/bucket/", "", "head_bucket"},
		{"PUT", "http://s3:9000/bucket/", "", "make_bucket"},
		{"GET", "http://s3:9000/bucket/?location=", "", "get_bucket_location"},
		{"GET", "http://s3:9000/bucket/?list-type=2&prefix=blobs%2F", "", "list_objects"},
		{"GET", "http://s3:9000/bucket/blobs/sha256/ab/abcd", "", "get_object"},
		{"HEAD", "http://s3:9000/bucket/blobs/sha256/ab/abcd", "", "head_object"},
		{"PUT", "http://s3:9000/bucket/blobs/x", "", "put_object"},
		{"PUT", "http://s3:9000/bucket/blobs/x", "/bucket/uploads/y", "copy_object"},
		{"POST", "http://s3:9000/bucket/blobs/x?uploads=", "", "create_multipart_upload"},
		{"PUT", "http://s3:9000/bucket/blobs/x?partNumber=2&uploadId=u", "", "upload_part"},
		{"POST", "http://s3:9000/bucket/blobs/x?uploadId=u", "", "complete_multipart_upload"},
		{"DELETE", "http://s3:9000/bucket/blobs/x?uploadId=u", "", "abort_multipart_upload"},
		{"DELETE", "http://s3:9000/bucket/blobs/x", "", "delete_object"},
		{"POST", "http://s3:9000/bucket/?delete=", "", "delete_objects"},
		{"GET", "http://bucket.s3.example.com/", "", "list_objects"},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		if c.copySource != "" {
			r.Header.Set("X-Amz-Copy-Source", c.copySource)
		}
		if got := metrics.S3Operation(r); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.url, got, c.want)
		}
	}
}

func TestCounters(t *testing.T) {
	m := metrics.New()
	git := m.Surface("git")
	git.Observe(200, 10, 2000, 5*time.Millisecond)
	git.Observe(204, 0, 0, time.Millisecond)
	git.Observe(401, 0, 30, time.Millisecond)
	m.Decision("deploy_token", "allowed", "scope")
	m.Decision("deploy_token", "allowed", "scope")
	m.Job("gc", time.Second, metrics.JobOutcome(nil, false))
	m.Job("gc", time.Second, metrics.JobOutcome(nil, true))
	m.Job("gc", time.Second, metrics.JobOutcome(errors.New("x"), false))
	for name, c := range map[string]struct{ got, want float64 }{
		"2xx":          {(mustCounter(t, m, "gatehouse_http_requests_total", "2xx", "git")), 2},
		"decisions":    {(mustCounter(t, m, "gatehouse_authz_decisions_total", "allowed", "deploy_token", "scope")), 2},
		"gc ok":        {(mustCounter(t, m, "gatehouse_job_runs_total", "gc", "ok")), 1},
		"gc skipped":   {(mustCounter(t, m, "gatehouse_job_runs_total", "gc", "skipped")), 1},
		"gc failed":    {(mustCounter(t, m, "gatehouse_job_runs_total", "gc", "failed")), 1},
		"git bytes in": {(mustCounter(t, m, "gatehouse_http_request_bytes_total", "git")), 10},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", name, c.got, c.want)
		}
	}
}

// mustCounter finds the sample of family name with exactly the label values given, in the order of their label names (as gathered).
func mustCounter(t *testing.T, m *metrics.Metrics, name string, values ...string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, mt := range f.GetMetric() {
			if len(mt.GetLabel()) != len(values) {
				continue
			}
			for i, l := range mt.GetLabel() {
				if l.GetValue() != values[i] {
					continue next
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	t.Fatalf("no sample %s%v", name, values)
	return 0
}

// Counting a decision or a request allocates nothing once its labels were seen: both run on
// every request.
func TestHotPathAllocatesNothing(t *testing.T) {
	m := metrics.New()
	s := m.Surface("packages_generic")
	m.Decision("deploy_token", "allowed", "scope")
	s.Observe(200, 0, 4096, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() {
		m.Decision("deploy_token", "allowed", "scope")
		s.Observe(200, 0, 4096, time.Millisecond)
	}); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}
