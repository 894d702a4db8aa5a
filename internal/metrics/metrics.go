// Package metrics holds Gatehouse's Prometheus registry and collectors: requests by surface,
// authorization decisions, the failed-authentication ban, background jobs, S3 requests, the
// database pool and the Go runtime. It knows no Gatehouse package: the composition root tells
// it what happened, through the hooks the gate, httpx and the stores offer
// (docs/architecture.md §4.5).
package metrics

import (
	"database/sql"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prefix starts the name of every metric Gatehouse defines; the Go runtime's and the process's
// keep their standard go_ and process_ names, which dashboards expect.
const Prefix = "gatehouse_"

// Metrics is one process's registry and collectors. Create it with New.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec

	decisions  *prometheus.CounterVec
	decisionMu sync.RWMutex
	// decisionCache keeps each label set's counter, so the hot path looks it up without the
	// allocation of WithLabelValues.
	decisionCache map[decisionKey]prometheus.Counter

	authFailures prometheus.Counter
	banEvents    *prometheus.CounterVec

	jobRuns     *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	jobSuccess  *prometheus.GaugeVec

	s3Requests *prometheus.CounterVec
	s3Duration *prometheus.HistogramVec
}

// durationBuckets spans a 1 ms package GET to a 5-minute clone or push.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// New returns a registry with Gatehouse's collectors, the Go runtime's and the process's.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) prometheus.Collector { reg.MustRegister(c); return c }
	m := &Metrics{reg: reg, decisionCache: map[decisionKey]prometheus.Counter{}}
	m.requests = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "http_requests_total",
		Help: "HTTP requests answered, by surface and status class."}, []string{"surface", "status_class"})).(*prometheus.CounterVec)
	m.inFlight = f(prometheus.NewGauge(prometheus.GaugeOpts{Name: Prefix + "http_requests_in_flight",
		Help: "HTTP requests being served now; during a drain, those still to finish."})).(prometheus.Gauge)
	m.duration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: Prefix + "http_request_duration_seconds",
		Help: "Time to answer HTTP requests, by surface and status class.", Buckets: durationBuckets},
		[]string{"surface", "status_class"})).(*prometheus.HistogramVec)
	m.bytesIn = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "http_request_bytes_total",
		Help: "Request body bytes read, by surface."}, []string{"surface"})).(*prometheus.CounterVec)
	m.bytesOut = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "http_response_bytes_total",
		Help: "Response body bytes written, by surface."}, []string{"surface"})).(*prometheus.CounterVec)
	m.decisions = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "authz_decisions_total",
		Help: "Authorization decisions of requests at the gate, by principal kind, outcome and the rule that decided."},
		[]string{"principal", "outcome", "reason"})).(*prometheus.CounterVec)
	m.authFailures = f(prometheus.NewCounter(prometheus.CounterOpts{Name: Prefix + "auth_failures_total",
		Help: "Failed authentications counted by the failed-authentication ban."})).(prometheus.Counter)
	m.banEvents = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "auth_ban_events_total",
		Help: "Ban events: banned (a failure that bans its address or identity), refused (an attempt refused while banned)."},
		[]string{"event"})).(*prometheus.CounterVec)
	m.jobRuns = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "job_runs_total",
		Help: "Background job runs on this node, by job_name and outcome (ok, failed, skipped: another node holds the lease)."},
		[]string{"job_name", "outcome"})).(*prometheus.CounterVec)
	m.jobDuration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: Prefix + "job_duration_seconds",
		Help: "Duration of background job runs that did work (ok or failed), by job_name.", Buckets: durationBuckets},
		[]string{"job_name"})).(*prometheus.HistogramVec)
	m.jobSuccess = f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Prefix + "job_last_success_timestamp_seconds",
		Help: "When a job last finished successfully on this node (Unix time), by job_name."}, []string{"job_name"})).(*prometheus.GaugeVec)
	m.s3Requests = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "s3_requests_total",
		Help: "Requests to the S3 blob store, by operation and status class (error: no answer)."},
		[]string{"operation", "status_class"})).(*prometheus.CounterVec)
	m.s3Duration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: Prefix + "s3_request_duration_seconds",
		Help: "Time of requests to the S3 blob store, by operation.", Buckets: durationBuckets},
		[]string{"operation"})).(*prometheus.HistogramVec)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// InFlight counts the requests next is serving in gatehouse_http_requests_in_flight.
func (m *Metrics) InFlight(next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerInFlight(m.inFlight, next)
}

// Registry is the registry, for tests that gather it directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// BuildInfo exports gatehouse_build_info{version,revision} 1.
func (m *Metrics) BuildInfo(version, revision string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: Prefix + "build_info", Help: "The running build (always 1).",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision}})
	g.Set(1)
	m.reg.MustRegister(g)
}

// DB exports the connection pool statistics of db (gatehouse_go_sql_*{db_name="gatehouse"}).
func (m *Metrics) DB(db *sql.DB) {
	prometheus.WrapRegistererWithPrefix(Prefix, m.reg).MustRegister(collectors.NewDBStatsCollector(db, "gatehouse"))
}

// CacheBus exports gatehouse_cache_bus_up: 1 while up reports that the cache invalidation bus
// delivers, 0 while it is down and the caches are off (docs/architecture.md §4.5). up is read at
// each scrape.
func (m *Metrics) CacheBus(up func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: Prefix + "cache_bus_up",
		Help: "Whether this node's cache invalidation bus delivers (1) or is down, caches off (0)."}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}

// statusClasses are the status_class labels by status/100; 0 is anything outside 1xx–5xx.
var statusClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func classIndex(status int) int {
	if i := status / 100; i >= 1 && i <= 5 {
		return i
	}
	return 0
}

// Surface is one surface's request metrics, resolved once at start so that the hot path only
// indexes and adds. Create it with Metrics.Surface.
type Surface struct {
	name    string
	m       *Metrics
	in, out prometheus.Counter
	classes [len(statusClasses)]atomic.Pointer[classMetrics]
}

type classMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// Surface returns the metrics of the surface named name (git, registry, api, packages_npm…).
func (m *Metrics) Surface(name string) *Surface {
	return &Surface{name: name, m: m, in: m.bytesIn.WithLabelValues(name), out: m.bytesOut.WithLabelValues(name)}
}

// Name is the surface's label.
func (s *Surface) Name() string { return s.name }

// Observe counts one answered request: its status, the body bytes read and written, and how
// long it took.
func (s *Surface) Observe(status int, in, out int64, took time.Duration) {
	i := classIndex(status)
	c := s.classes[i].Load()
	if c == nil {
		// Two requests may both get here; WithLabelValues gives both the same child.
		c = &classMetrics{requests: s.m.requests.WithLabelValues(s.name, statusClasses[i]),
			duration: s.m.duration.WithLabelValues(s.name, statusClasses[i])}
		s.classes[i].Store(c)
	}
	c.requests.Inc()
	c.duration.Observe(took.Seconds())
	if in > 0 {
		s.in.Add(float64(in))
	}
	if out > 0 {
		s.out.Add(float64(out))
	}
}

type decisionKey struct{ principal, outcome, reason string }

// Decision counts one authorization decision: the principal's kind (anonymous, user,
// personal_token, deploy_token), the outcome (allowed, unauthenticated, not_found, forbidden)
// and the rule that decided.
func (m *Metrics) Decision(principal, outcome, reason string) {
	k := decisionKey{principal, outcome, reason}
	m.decisionMu.RLock()
	c, ok := m.decisionCache[k]
	m.decisionMu.RUnlock()
	if !ok {
		c = m.decisions.WithLabelValues(principal, outcome, reason)
		m.decisionMu.Lock()
		m.decisionCache[k] = c
		m.decisionMu.Unlock()
	}
	c.Inc()
}

// AuthFailure counts one failed authentication.
func (m *Metrics) AuthFailure() { m.authFailures.Inc() }

// Ban events.
const (
	BanBanned  = "banned"
	BanRefused = "refused"
)

// BanEvent counts one ban event (BanBanned, BanRefused).
func (m *Metrics) BanEvent(event string) { m.banEvents.WithLabelValues(event).Inc() }

// Job outcomes.
const (
	JobOK      = "ok"
	JobFailed  = "failed"
	JobSkipped = "skipped"
)

// JobOutcome is the outcome of a run that returned err, or that skipped (another node held
// the lease, or there was nothing to do).
func JobOutcome(err error, skipped bool) string {
	switch {
	case err != nil:
		return JobFailed
	case skipped:
		return JobSkipped
	}
	return JobOK
}

// Job records one run of a background job (gc, deploy_token_expiry, audit_retention,
// usage_flush) that took took: the one way every job reports.
func (m *Metrics) Job(job string, took time.Duration, outcome string) {
	m.jobRuns.WithLabelValues(job, outcome).Inc()
	if outcome == JobSkipped {
		return
	}
	m.jobDuration.WithLabelValues(job).Observe(took.Seconds())
	if outcome == JobOK {
		m.jobSuccess.WithLabelValues(job).SetToCurrentTime()
	}
}

// S3Transport wraps next to count the requests the S3 blob store sends, by operation.
func (m *Metrics) S3Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		op, start := S3Operation(r), time.Now()
		resp, err := next.RoundTrip(r)
		class := "error"
		if err == nil {
			class = statusClasses[classIndex(resp.StatusCode)]
		}
		m.s3Requests.WithLabelValues(op, class).Inc()
		m.s3Duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// S3Operation names the S3 API operation of a request by its method, query and path: a path
// of one segment (path style) or none (virtual-host style) is the bucket's.
func S3Operation(r *http.Request) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	bucket := isBucketPath(r.URL.Path)
	switch r.Method {
	case http.MethodGet:
		switch {
		case has("location"):
			return "get_bucket_location"
		case has("uploadId"):
			return "list_parts"
		case has("uploads"):
			return "list_multipart_uploads"
		case bucket:
			return "list_objects"
		}
		return "get_object"
	case http.MethodHead:
		if bucket {
			return "head_bucket"
		}
		return "head_object"
	case http.MethodPut:
		switch {
		case has("partNumber"):
			return "upload_part"
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "copy_object"
		case bucket:
			return "make_bucket"
		}
		return "put_object"
	case http.MethodPost:
		switch {
		case has("uploads"):
			return "create_multipart_upload"
		case has("uploadId"):
			return "complete_multipart_upload"
		case has("delete"):
			return "delete_objects"
		}
		return "post"
	case http.MethodDelete:
		switch {
		case has("uploadId"):
			return "abort_multipart_upload"
		case bucket:
			return "delete_bucket"
		}
		return "delete_object"
	}
	return "other"
}

func isBucketPath(p string) bool {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return false
		}
	}
	return true
}
