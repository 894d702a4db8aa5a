// Package gate is the one audited authorization gate (docs/architecture.md §3.3): every protocol
// asks it, and only it, whether a principal may do an action on a resource. It sets the client
// address (for deploy tokens' IP allow-lists), asks access for the decision and audits refusals
// of deploy tokens. Authentication is authn's; the rules are access's.
package gate

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// Config is what the gate needs from the composition root.
type Config struct {
	// Authorizer makes the decisions; the gate is the only caller of its Authorize
	// (internal/archtest checks).
	Authorizer *access.Authorizer
	// Audit records refusals of deploy tokens; nil records nothing.
	Audit *audit.Log
	Log   *slog.Logger
	// Observe, when set, is told each request's decision (Authorize's, not the filters of
	// Permits), for the metrics; it must be quick, as it runs on every request.
	Observe func(p access.Principal, d access.Decision)
}

// Gate decides requests. Create it with New.
type Gate struct {
	authz   *access.Authorizer
	audit   *audit.Log
	log     *slog.Logger
	observe func(access.Principal, access.Decision)
}

// New returns the gate for cfg.
func New(cfg Config) *Gate {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Gate{authz: cfg.Authorizer, audit: cfg.Audit, log: cfg.Log, observe: cfg.Observe}
}

// Authorize is the decision of request r: may p do act on res. It audits refusals of deploy
// tokens: with the token's metadata on its own project's or group's log, and only the fact on
// another's (audit.TokenRefused). Every protocol calls this once per request before its handler
// runs. The error is only for "could not decide"; a refusal is a Decision with Allow false.
func (g *Gate) Authorize(ctx context.Context, r *http.Request, p access.Principal, res access.Resource, act access.Action) (access.Decision, error) {
	p.ClientIP = httpx.ClientIP(r)
	d, err := g.authz.Authorize(ctx, p, res, act)
	record(ctx, Check{Action: act, Resource: res, Decision: d})
	if err == nil && g.observe != nil {
		g.observe(p, d)
	}
	if err != nil || d.Allow() || p.Kind != access.DeployTokenPrincipal || g.audit == nil {
		return d, err
	}
	entityType, entityID := "instance", int64(0)
	switch {
	case res.Project != nil:
		entityType, entityID = "project", res.Project.ID
	case res.Group != nil:
		entityType, entityID = "group", res.Group.ID
	}
	for _, e := range audit.TokenRefused(p.DeployToken, entityType, entityID, string(act)+": "+d.Reason, access.Reaches(p.DeployToken, res)) {
		e.IP = p.ClientIP.String()
		if err := g.audit.Record(ctx, e); err != nil {
			g.log.ErrorContext(ctx, "record audit event", "err", err)
		}
	}
	return d, nil
}

// Permits reports whether p may do act on res, to filter a listing or to choose among
// candidates (the groups shown, the projects holding a package). It is not the request's
// decision and audits nothing: a listing that leaves out what a token cannot reach is not a
// refusal. The request's own decision, when it has one, is Authorize's.
func (g *Gate) Permits(ctx context.Context, r *http.Request, p access.Principal, res access.Resource, act access.Action) (bool, error) {
	p.ClientIP = httpx.ClientIP(r)
	d, err := g.authz.Authorize(ctx, p, res, act)
	record(ctx, Check{Action: act, Resource: res, Decision: d, Filter: true})
	return err == nil && d.Allow(), err
}

// Check is one question the gate answered.
type Check struct {
	Action   access.Action
	Resource access.Resource
	Decision access.Decision
	// Filter marks a Permits check (a listing's filter), not a request's decision.
	Filter bool
}

// Recorder collects the checks the gate makes for the requests whose context carries it, so a
// test can prove that every route was decided at the gate.
type Recorder struct {
	mu     sync.Mutex
	checks []Check
}

// Checks returns the checks recorded so far, oldest first.
func (rec *Recorder) Checks() []Check {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Check(nil), rec.checks...)
}

// Reset forgets the checks recorded so far.
func (rec *Recorder) Reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.checks = nil
}

type recorderKey struct{}

// WithRecorder returns ctx with rec attached: the gate appends each check it makes under it.
func WithRecorder(ctx context.Context, rec *Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, rec)
}

func record(ctx context.Context, c Check) {
	if rec, ok := ctx.Value(recorderKey{}).(*Recorder); ok {
		rec.mu.Lock()
		rec.checks = append(rec.checks, c)
		rec.mu.Unlock()
	}
}

// Route is one route of a protocol's route table with how it is gated, so that the table says
// what each route decides and a test can walk every route (docs/architecture.md §3.3).
type Route struct {
	// Method and Pattern name the route ("GET", "/api/v4/projects/{id}").
	Method, Pattern string
	Rule
}

// Rule is how a route is gated: a decision at the gate (Action), or, for a route with nothing
// to decide on, a signed-in user (SignedIn) or nothing at all, with the reason in Why.
type Rule struct {
	// Action is decided at the gate (Authorize) before the route acts: on the project or group
	// its path names, or on the instance.
	Action access.Action
	// Also is a further action the route needs, decided after Action (an image push needs pull
	// and push) unless a refusal of Action ends the decisions. It is one action, not a list, so
	// that a Rule stays comparable.
	Also access.Action
	// Requested marks a route that decides each action its request asks for (the token
	// endpoint's scopes), which no table can name; Why says how.
	Requested bool
	// Filter is the action each item of a listing is checked with (Permits): it shows only what
	// the requester may see.
	Filter access.Action
	// SignedIn refuses requests without a signed-in user; nothing more is decided.
	SignedIn bool
	// Why says why a route without Action needs no decision.
	Why string
}

// Decide is the rule of a route decided with act.
func Decide(act access.Action) Rule { return Rule{Action: act} }

// Requested is the rule of a route that decides the actions its request asks for, and how.
func Requested(why string) Rule { return Rule{Requested: true, Why: why} }

// SignedIn is the rule of a route that needs a signed-in user and nothing more, and why.
func SignedIn(why string) Rule { return Rule{SignedIn: true, Why: why} }

// Public is the rule of a route anyone may use, and why.
func Public(why string) Rule { return Rule{Why: why} }

// Filtered is r whose listing shows only the items the requester may do act on.
func (r Rule) Filtered(act access.Action) Rule { r.Filter = act; return r }

// And is r that also decides act, after r's Action.
func (r Rule) And(act access.Action) Rule { r.Also = act; return r }
