package server_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

const metricsToken = "metrics-scrape-token-0123456789"

func withMetricsToken(c *config.Config) { c.Metrics.Token = metricsToken }

// scrape is one parsed exposition of /-/metrics.
type scrape map[string]*dto.MetricFamily

// parseMetrics parses an answer of /-/metrics in the text format.
func parseMetrics(t *testing.T, body string) scrape {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /-/metrics: %v\n%s", err, body)
	}
	return fams
}

// value is the value of the sample of family name whose labels include want (a counter's
// value, a gauge's, or a histogram's count), summed over the samples that match; ok is false
// when none does.
func (s scrape) value(name string, want map[string]string) (v float64, ok bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, w := range want {
			if labels[k] != w {
				continue next
			}
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

// atLeast fails unless the sample of name with labels is at least min.
func (s scrape) atLeast(t *testing.T, min float64, name string, labels map[string]string) {
	t.Helper()
	if v, ok := s.value(name, labels); !ok || v < min {
		t.Errorf("%s%v = %v (present %v), want at least %v", name, labels, v, ok, min)
	}
}

// get scrapes over real HTTP from loopback, with the metrics token when bearer is set.
func getMetrics(t *testing.T, ts *testenv.TestServer, bearer string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/-/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, "GET /-/metrics", req)
}

// inProcess sends a request through the server's handler as if from addr.
func inProcess(ts *testenv.TestServer, method, path, addr string, header http.Header, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.RemoteAddr = addr
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	ts.Server.Handler().ServeHTTP(w, r)
	return w
}

// Real clients do real work, and /-/metrics counts it under the right labels: a git clone
// with a deploy token, a generic package upload and download, a refused download out of the
// token's reach, a ban, the background jobs, the database pool and the Go runtime.
func TestMetricsCountRealTraffic(t *testing.T) {
	ts := testenv.StartServer(t, withMetricsToken)
	f := ts.MakeFixture(t)
	p, other := f.Projects["grandchild"], f.Projects["sibling"]
	pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository", "read_package_registry"}, nil)

	// A real git clone with the deploy token.
	mustCloneReadme(t, ts, p.FullPath, tok.Username, tok.Token)

	// A generic package: root uploads, the deploy token downloads; out of its reach it is refused.
	content := bytes.Repeat([]byte("metrics!"), 512)
	file := func(id int64) string {
		return fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/tool/1.0.0/tool.bin", ts.URL, id)
	}
	for _, id := range []int64{p.ID, other.ID} {
		put, _ := http.NewRequest(http.MethodPut, file(id), bytes.NewReader(content))
		put.Header.Set("Private-Token", ts.RootToken)
		if r := do(t, "upload", put); r.status != http.StatusCreated {
			t.Fatalf("upload to %d: %d %s", id, r.status, r.body)
		}
	}
	get, _ := http.NewRequest(http.MethodGet, file(p.ID), nil)
	get.Header.Set("Deploy-Token", tok.Token)
	if r := do(t, "download", get); r.status != http.StatusOK || r.body != string(content) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	refused, _ := http.NewRequest(http.MethodGet, file(other.ID), nil)
	refused.Header.Set("Deploy-Token", tok.Token)
	if r := do(t, "refused download", refused); r.status != http.StatusNotFound {
		t.Fatalf("download out of reach: %d %s, want 404", r.status, r.body)
	}

	// A ban: loopback is exempt, so the guesses come from another address, in process.
	guesser := "198.51.100.9:4000"
	max := ts.Server.Config.AuthBan.MaxFailures
	for i := 0; i <= max; i++ {
		h := http.Header{}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(tok.Username+":"+fmt.Sprintf("gldt-wrong-guess-%02d-xxxxxxxxxxxx", i))))
		w := inProcess(ts, http.MethodGet, "/"+p.FullPath+".git/info/refs?service=git-upload-pack", guesser, h, nil)
		if want := map[bool]int{true: http.StatusForbidden, false: http.StatusUnauthorized}[i >= max-1]; w.Code != want {
			t.Fatalf("guess %d: %d, want %d", i+1, w.Code, want)
		}
	}

	// The jobs: the usage flush, garbage collection, and the daily expiry mail and audit retention.
	ts.Server.Usage.Flush()
	if _, err := ts.Server.GC.Run(t.Context(), gc.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	server.RunDaily(ts.Server, t.Context(), time.Now())

	r := getMetrics(t, ts, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /-/metrics from loopback: %d %s", r.status, r.body)
	}
	m := parseMetrics(t, r.body)
	// git: info/refs and upload-pack of the clone.
	m.atLeast(t, 2, "gatehouse_http_requests_total", map[string]string{"surface": "git", "status_class": "2xx"})
	m.atLeast(t, 2, "gatehouse_http_request_duration_seconds", map[string]string{"surface": "git", "status_class": "2xx"})
	m.atLeast(t, float64(max), "gatehouse_http_requests_total", map[string]string{"surface": "git", "status_class": "4xx"})
	m.atLeast(t, 1, "gatehouse_http_response_bytes_total", map[string]string{"surface": "git"})
	m.atLeast(t, 1, "gatehouse_http_request_bytes_total", map[string]string{"surface": "git"})
	// generic: two uploads, one download, one refusal.
	m.atLeast(t, 3, "gatehouse_http_requests_total", map[string]string{"surface": "packages_generic", "status_class": "2xx"})
	m.atLeast(t, 1, "gatehouse_http_requests_total", map[string]string{"surface": "packages_generic", "status_class": "4xx"})
	m.atLeast(t, float64(2*len(content)), "gatehouse_http_request_bytes_total", map[string]string{"surface": "packages_generic"})
	m.atLeast(t, float64(len(content)), "gatehouse_http_response_bytes_total", map[string]string{"surface": "packages_generic"})
	m.atLeast(t, 1, "gatehouse_http_requests_total", map[string]string{"surface": "api", "status_class": "2xx"})
	// Decisions: the clone and the download allowed by scope, the refusal out of reach.
	m.atLeast(t, 3, "gatehouse_authz_decisions_total", map[string]string{"principal": "deploy_token", "outcome": "allowed", "reason": "scope"})
	m.atLeast(t, 1, "gatehouse_authz_decisions_total", map[string]string{"principal": "deploy_token", "outcome": "not_found", "reason": "reach"})
	m.atLeast(t, 1, "gatehouse_authz_decisions_total", map[string]string{"principal": "personal_token", "outcome": "allowed", "reason": "admin"})
	// The ban.
	m.atLeast(t, float64(max), "gatehouse_auth_failures_total", nil)
	m.atLeast(t, 1, "gatehouse_auth_ban_events_total", map[string]string{"event": "banned"})
	m.atLeast(t, 1, "gatehouse_auth_ban_events_total", map[string]string{"event": "refused"})
	// The jobs.
	for _, job := range []string{"usage_flush", "gc", "deploy_token_expiry", "audit_retention"} {
		m.atLeast(t, 1, "gatehouse_job_runs_total", map[string]string{"job_name": job, "outcome": "ok"})
		m.atLeast(t, 1, "gatehouse_job_duration_seconds", map[string]string{"job_name": job})
		m.atLeast(t, 1, "gatehouse_job_last_success_timestamp_seconds", map[string]string{"job_name": job})
	}
	// The database pool, the build and the Go runtime.
	m.atLeast(t, 1, "gatehouse_go_sql_max_open_connections", map[string]string{"db_name": "gatehouse"})
	m.atLeast(t, 1, "gatehouse_build_info", map[string]string{"version": server.Version})
	m.atLeast(t, 1, "go_goroutines", nil)
	for name := range m {
		if !strings.HasPrefix(name, "gatehouse_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s is neither Gatehouse's (gatehouse_) nor the runtime's (go_, process_)", name)
		}
	}
	if strings.Contains(r.body, tok.Token) || strings.Contains(r.body, metricsToken) || strings.Contains(r.body, ts.RootToken) {
		t.Fatal("a secret is in the metrics")
	}
}

// The guard: loopback may scrape, another address may not, the token opens it from anywhere,
// and a wrong token is a failed authentication that the one ban counts.
func TestMetricsGuard(t *testing.T) {
	ts := testenv.StartServer(t, withMetricsToken, noLoopbackExemption)
	bearer := func(s string) http.Header { return http.Header{"Authorization": {"Bearer " + s}} }
	if r := getMetrics(t, ts, ""); r.status != http.StatusOK {
		t.Fatalf("loopback without the token: %d %s", r.status, r.body)
	}
	if r := getMetrics(t, ts, metricsToken); r.status != http.StatusOK {
		t.Fatalf("loopback with the token: %d %s", r.status, r.body)
	}
	outside := "203.0.113.5:5000"
	if w := inProcess(ts, http.MethodGet, "/-/metrics", outside, nil, nil); w.Code != http.StatusForbidden {
		t.Fatalf("another address without the token: %d, want 403", w.Code)
	}
	if w := inProcess(ts, http.MethodGet, "/-/metrics", outside, bearer(metricsToken), nil); w.Code != http.StatusOK ||
		!strings.Contains(w.Body.String(), "gatehouse_http_requests_total") {
		t.Fatalf("another address with the token: %d", w.Code)
	}
	// Wrong tokens from one address: 401 until the ban, then 403, even with the right token.
	guesser := "203.0.113.66:5000"
	max := ts.Server.Config.AuthBan.MaxFailures
	for i := 1; i <= max; i++ {
		w := inProcess(ts, http.MethodGet, "/-/metrics", guesser, bearer(fmt.Sprintf("wrong-%d", i)), nil)
		want := http.StatusUnauthorized
		if i == max {
			want = http.StatusForbidden
		}
		if w.Code != want || (want == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer")) {
			t.Fatalf("wrong token %d: %d (%q), want %d", i, w.Code, w.Header().Get("WWW-Authenticate"), want)
		}
		if strings.Contains(w.Body.String(), "wrong-") {
			t.Fatal("the refusal repeats the token")
		}
	}
	if w := inProcess(ts, http.MethodGet, "/-/metrics", guesser, bearer(metricsToken), nil); w.Code != http.StatusForbidden {
		t.Fatalf("banned address with the right token: %d, want 403", w.Code)
	}
	// Loopback is banned like any address here: a wrong token from it counts, the right one still works.
	if r := getMetrics(t, ts, "wrong-from-loopback"); r.status != http.StatusUnauthorized {
		t.Fatalf("loopback with a wrong token: %d, want 401", r.status)
	}
	w := inProcess(ts, http.MethodGet, "/-/metrics", outside, bearer(metricsToken), nil)
	m := parseMetrics(t, w.Body.String())
	m.atLeast(t, float64(max+1), "gatehouse_auth_failures_total", nil)
	m.atLeast(t, 1, "gatehouse_auth_ban_events_total", map[string]string{"event": "banned"})
	m.atLeast(t, 1, "gatehouse_http_requests_total", map[string]string{"surface": "ops", "status_class": "4xx"})
	audited := false
	for _, e := range eventsOf(t, ts, audit.AuthenticationFailed, "", 0) {
		audited = audited || (e.IP == "203.0.113.66" && e.Details == "wrong metrics token")
	}
	if !audited {
		t.Fatal("a wrong metrics token was not audited")
	}
}

// With blobs on S3 (MinIO), the requests to it are counted by operation: the bucket check at
// start, the upload of a package file and its download.
func TestMetricsCountS3Requests(t *testing.T) {
	endpoint, user, pass := testenv.StartMinio(t)
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.BlobStore = config.BlobStoreS3
		c.S3 = config.S3{Endpoint: endpoint, Bucket: "metrics", AccessKey: user, SecretKey: config.Secret(pass)}
	})
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	// Larger than the small-file cache, so the download reads S3.
	content := bytes.Repeat([]byte("s3-metrics"), 200<<10)
	url := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/big/1.0.0/big.bin", ts.URL, p.ID)
	put, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(content))
	put.Header.Set("Private-Token", ts.RootToken)
	if r := do(t, "upload", put); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	get, _ := http.NewRequest(http.MethodGet, url, nil)
	get.Header.Set("Private-Token", ts.RootToken)
	if r := do(t, "download", get); r.status != http.StatusOK || len(r.body) != len(content) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	r := getMetrics(t, ts, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /-/metrics: %d", r.status)
	}
	m := parseMetrics(t, r.body)
	m.atLeast(t, 1, "gatehouse_s3_requests_total", map[string]string{"operation": "head_bucket", "status_class": "2xx"})
	m.atLeast(t, 1, "gatehouse_s3_requests_total", map[string]string{"operation": "get_object", "status_class": "2xx"})
	m.atLeast(t, 1, "gatehouse_s3_request_duration_seconds", map[string]string{"operation": "get_object"})
	for _, mt := range m["gatehouse_s3_requests_total"].GetMetric() {
		t.Logf("s3: %v %v", mt.GetLabel(), mt.GetCounter().GetValue())
	}
	var writes float64
	for _, op := range []string{"put_object", "upload_part", "copy_object", "complete_multipart_upload"} {
		v, _ := m.value("gatehouse_s3_requests_total", map[string]string{"operation": op, "status_class": "2xx"})
		writes += v
	}
	if writes < 1 {
		t.Errorf("no S3 write counted for the upload: %v", m["gatehouse_s3_requests_total"])
	}
}
