package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/git"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The metrics (docs/design.md §9.5): this file tells internal/metrics what happened, through
// the hooks the gate, httpx, the ban, the stores and the jobs offer, so that no other package
// knows Prometheus.

// Job names, the job label of gatehouse_job_runs_total.
const (
	jobGC             = "gc"
	jobExpiry         = "deploy_token_expiry"
	jobAuditRetention = "audit_retention"
	jobUsageFlush     = "usage_flush"
)

// surfaces labels requests with the surface that serves them, by path prefix as routes mounts
// them; each surface's metrics are resolved once, so labelling a request allocates nothing.
type surfaces struct {
	git, registry, proxy, jwtAuth, api, web, ops *metrics.Surface
	// packages by the format's path segment ("npm", "go"…), from the mounted patterns.
	packages map[string]*metrics.Surface
}

func newSurfaces(m *metrics.Metrics, packagePatterns []string) *surfaces {
	sf := &surfaces{git: m.Surface("git"), registry: m.Surface("registry"), proxy: m.Surface("dependency_proxy"),
		jwtAuth: m.Surface("jwt_auth"), api: m.Surface("api"), web: m.Surface("web"), ops: m.Surface("ops"),
		packages: map[string]*metrics.Surface{}}
	for _, p := range packagePatterns {
		if f, ok := packageFormat(p); ok && sf.packages[f] == nil {
			sf.packages[f] = m.Surface("packages_" + f)
		}
	}
	return sf
}

// packageFormat is the segment after a "/packages/" of path, if there is one.
func packageFormat(path string) (string, bool) {
	_, rest, ok := strings.Cut(path, "/packages/")
	if !ok {
		return "", false
	}
	f, _, _ := strings.Cut(rest, "/")
	return f, f != ""
}

// of is the surface of r.
func (sf *surfaces) of(r *http.Request) *metrics.Surface {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/v4/"):
		// The format follows a "/packages/"; a project path may hold one too, so try each.
		for rest := p; ; {
			i := strings.Index(rest, "/packages/")
			if i < 0 {
				return sf.api
			}
			rest = rest[i+len("/packages/"):]
			f, _, _ := strings.Cut(rest, "/")
			if s, ok := sf.packages[f]; ok {
				return s
			}
		}
	case strings.HasPrefix(p, "/v2/"):
		if strings.Contains(p, "/dependency_proxy/containers/") {
			return sf.proxy
		}
		return sf.registry
	case p == "/jwt/auth":
		return sf.jwtAuth
	case strings.HasPrefix(p, "/-/"):
		return sf.ops
	case git.Handles(r):
		return sf.git
	}
	return sf.web
}

// observe is httpx's Observer: it counts each request under its surface.
func (sf *surfaces) observe(r *http.Request, status int, in, out int64, took time.Duration) {
	sf.of(r).Observe(status, in, out, took)
}

// outcomes are the outcome labels of decisions, by access.Denial.
var outcomes = map[access.Denial]string{access.Allowed: "allowed", access.Unauthenticated: "unauthenticated",
	access.NotFound: "not_found", access.Forbidden: "forbidden"}

// principalKind is the principal label of a decision: a user with a personal access token is
// told apart from one signed in with a password or a session.
func principalKind(p access.Principal) string {
	switch p.Kind {
	case access.DeployTokenPrincipal:
		return "deploy_token"
	case access.UserPrincipal:
		if p.PersonalToken != nil {
			return "personal_token"
		}
		return "user"
	}
	return "anonymous"
}

// observeDecision is the gate's Observe: it counts each request's decision.
func observeDecision(m *metrics.Metrics) func(access.Principal, access.Decision) {
	return func(p access.Principal, d access.Decision) {
		reason := string(d.Cause)
		if reason == "" {
			reason = "other"
		}
		m.Decision(principalKind(p), outcomes[d.Denial], reason)
	}
}

// observedLimiter counts the ban's events: failures, bans and refusals.
type observedLimiter struct {
	ban.Limiter
	m *metrics.Metrics
}

func (l observedLimiter) Banned(ctx context.Context, ip netip.Addr, identity string) bool {
	banned := l.Limiter.Banned(ctx, ip, identity)
	if banned {
		l.m.BanEvent(metrics.BanRefused)
	}
	return banned
}

func (l observedLimiter) Fail(ctx context.Context, ip netip.Addr, identity string) bool {
	l.m.AuthFailure()
	banned := l.Limiter.Fail(ctx, ip, identity)
	if banned {
		l.m.BanEvent(metrics.BanBanned)
	}
	return banned
}

// observedUsage records each flush of the deploy-token usage counters as a run of the
// usage_flush job.
type observedUsage struct {
	token.UsageStore
	m *metrics.Metrics
}

func (u observedUsage) AddDeployTokenUsage(ctx context.Context, usage []token.DailyUsage) error {
	start := time.Now()
	err := u.UsageStore.AddDeployTokenUsage(ctx, usage)
	u.m.Job(jobUsageFlush, time.Since(start), metrics.JobOutcome(err, false))
	return err
}

// observeGC is the collector's Observe.
func observeGC(m *metrics.Metrics) func(gc.Report, error, time.Duration) {
	return func(rep gc.Report, err error, took time.Duration) {
		m.Job(jobGC, took, metrics.JobOutcome(err, rep.Skipped))
	}
}

// expiryJob is the deploy-token expiry job as the scheduler and the REST API run it: each run
// is recorded, a run another node holds being skipped.
type expiryJob struct{ s *Server }

func (j expiryJob) Run(ctx context.Context) (notify.Summary, error) {
	return j.record(func() (notify.Summary, error) { return j.s.Expiry.Run(ctx) })
}

// RunSlot is the scheduler's run of the daily slot at slot (notify.Job.RunSlot).
func (j expiryJob) RunSlot(ctx context.Context, slot time.Time) (notify.Summary, error) {
	return j.record(func() (notify.Summary, error) { return j.s.Expiry.RunSlot(ctx, slot) })
}

func (j expiryJob) record(run func() (notify.Summary, error)) (notify.Summary, error) {
	start := time.Now()
	sum, err := run()
	j.s.Metrics.Job(jobExpiry, time.Since(start), outcomeOf(err, notify.ErrBusy))
	return sum, err
}

// retention runs the audit retention job for the daily slot at slot, recorded like every job.
func (s *Server) retention(ctx context.Context, slot time.Time) (int64, error) {
	start := time.Now()
	n, err := s.AuditRetention.RunSlot(ctx, slot)
	s.Metrics.Job(jobAuditRetention, time.Since(start), outcomeOf(err, audit.ErrBusy))
	return n, err
}

// outcomeOf is the outcome of a job run that returned err; busy is the job's error for "another
// node holds the lease", a skipped run.
func outcomeOf(err, busy error) string {
	if errors.Is(err, busy) {
		return metrics.JobOutcome(nil, true)
	}
	return metrics.JobOutcome(err, false)
}

// metricsHandler serves /-/metrics to the addresses of metrics.allow and to the bearer of
// metrics.token (docs/design.md §9.5). A wrong token is a failed authentication: 401, counted
// in the one ban; a banned client gets 403, as does any other address.
func (s *Server) metricsHandler() http.Handler {
	want := token.NewSecret(s.Config.Metrics.Token.Reveal())
	h := s.Metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := s.Auth.Static(r.Context(), r, want, "metrics token")
		switch {
		case errors.Is(err, authn.ErrBanned):
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		case errors.Is(err, authn.ErrInvalidCredentials):
			w.Header().Set("WWW-Authenticate", `Bearer realm="Gatehouse metrics"`)
			http.Error(w, "invalid metrics token", http.StatusUnauthorized)
			return
		case err != nil:
			httpx.Internal(r.Context(), s.Log, err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		if ip := httpx.ClientIP(r); !ok && !slices.ContainsFunc(s.metricsAllow, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			http.Error(w, "metrics are served to allowed addresses or with the metrics token", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
