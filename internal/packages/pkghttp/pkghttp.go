// Package pkghttp is the HTTP side that every package format shares: the one authorization
// decision of a request (Authorize, with Grant as its proof), the choice of the one project that
// serves a group- or instance-level request (Holder), and the mapping of the core's error kinds to HTTP
// statuses (Classify). Each format keeps its own parser, route table, dispatcher and error
// writer; the error writer starts from Classify and only words the answer the way its client
// expects, and the format lists its route table as gate routes with Level.Pattern and
// Level.Decide.
//
// It is a protocol-side package: it may import net/http, authn, gate, httpx, access, namespace,
// errkind and the packages core, never a format (internal/archtest checks).
package pkghttp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Level is where a request is addressed: a project, a group (and its subgroups) or the instance.
type Level int

// The levels of a package endpoint.
const (
	ProjectLevel Level = iota
	GroupLevel
	InstanceLevel
)

// Pattern is the route pattern of a format's path at level l: the level's prefix for the
// format's URL segment ("npm"), then path ("/{name}"), as gate.Route names it.
func (l Level) Pattern(format, path string) string {
	switch l {
	case GroupLevel:
		return "/api/v4/groups/{id}/-/packages/" + format + path
	case InstanceLevel:
		return "/api/v4/packages/" + format + path
	}
	return "/api/v4/projects/{id}/packages/" + format + path
}

// Decide is how a route at level l that needs act is gated (docs/architecture.md §3.3): decided
// at the gate by Authorize, on the project the path names or, at the group and instance levels,
// on the holder that Holder chose after filtering the candidates with act (Permits).
func (l Level) Decide(act access.Action) gate.Rule {
	if l == ProjectLevel {
		return gate.Decide(act)
	}
	return gate.Decide(act).Filtered(act)
}

// Routes lists a route table of level → kind → method → endpoint as gate routes, sorted, so
// that what a format lists is the table its dispatcher looks up: at is the Level of a level of
// the table, paths are the kinds' patterns after the level's prefix, and rule is how an
// endpoint is gated at its level (Level.Decide of its action, or gate.Public with the reason).
func Routes[L, K comparable, E any](format string, table map[L]map[K]map[string]E, at func(L) Level, paths map[K]string, rule func(Level, E) gate.Rule) []gate.Route {
	var out []gate.Route
	for l, kinds := range table {
		for k, methods := range kinds {
			for m, ep := range methods {
				out = append(out, gate.Route{Method: m, Pattern: at(l).Pattern(format, paths[k]), Rule: rule(at(l), ep)})
			}
		}
	}
	SortRoutes(out)
	return out
}

// SortRoutes orders a format's routes by pattern, then method: a list built from a map reads
// the same each time.
func SortRoutes(rs []gate.Route) {
	slices.SortFunc(rs, func(a, b gate.Route) int {
		return cmp.Or(strings.Compare(a.Pattern, b.Pattern), strings.Compare(a.Method, b.Method))
	})
}

// Target is what a request acts on, as Authorize needs it.
type Target struct {
	Level Level
	// Ref is the :id (numeric or full path) of the project at ProjectLevel, or of the group at
	// GroupLevel. At InstanceLevel it is used only when Scoped.
	Ref string
	// Scoped confines an instance-level request to the top-level group that Ref names (npm's
	// @scope, as GitLab does). A Ref that names no group, or a subgroup, is ErrNotFound.
	Scoped bool
	// Format and Name are the package that group- and instance-level requests look for.
	Format packages.Format
	Name   string
	// Holders, when set, replaces the lookup of the projects in g holding Name: it lists the
	// projects in g (nil at an unscoped instance level, where it is required) that hold what
	// the request names, most recently updated first.
	Holders func(ctx context.Context, g *namespace.Group) ([]*namespace.Project, error)
	// All marks a listing that names no package (NuGet's search): every candidate the
	// principal may act on is granted (Grant.Projects). Without it the request names a package,
	// and Holder serves it only from a single holder.
	All bool
	// Credentials is how the format's clients present credentials (the zero value for most).
	Credentials authn.PackageAuth
}

// Grant is what Authorize hands a handler once the request is authorized. Its fields are
// unexported: only Authorize builds a non-empty Grant, so no handler can be reached without the
// one decision. The zero Grant (for public documents that hold no data) has no project.
type Grant struct {
	principal access.Principal
	// project is the decision's; projects, when set, every candidate of a listing (project
	// first). A project-level request, every download, has project alone: no slice to allocate.
	project  *namespace.Project
	projects []*namespace.Project
}

// Principal is who the request was authorized for.
func (g Grant) Principal() access.Principal { return g.principal }

// Project is the project the decision was taken on: the project of a project-level request, or
// the one holder of a group- or instance-level one. Nil in the zero Grant.
func (g Grant) Project() *namespace.Project { return g.project }

// Projects are the projects the request may act on: Project alone, or (Target.All, a listing)
// every candidate the principal may act on, most recently updated first.
func (g Grant) Projects() []*namespace.Project {
	if g.projects == nil && g.project != nil {
		return []*namespace.Project{g.project}
	}
	return g.projects
}

// Authorize authenticates r with auth and decides it once, at the gate (which audits refusals of
// deploy tokens), on the project of a project-level request, or on the holder Holder finds for a
// group- or instance-level one. A refusal is a *DeniedError. When the project or package is not
// found and the request has no credentials, it is errkind.ErrUnauthorized ("authentication
// required"): clients such as npm, pip and curl send credentials only after a 401. When several
// projects hold the package, the decision is still taken (and audited) on one the principal may
// act on, and then the request is refused with an *AmbiguousError (ErrConflict). Other errors
// are authn's (ErrInvalidCredentials, ErrBanned), ErrNotFound, or ones that could not decide.
func Authorize(r *http.Request, auth *authn.Authenticator, g *gate.Gate, svc *packages.Service, t Target, act access.Action) (Grant, error) {
	ctx := r.Context()
	p, err := auth.PackagesWith(ctx, r, t.Credentials)
	if err != nil {
		return Grant{}, err
	}
	var decideOn *namespace.Project
	var allowed []*namespace.Project
	var ambiguous error
	if t.Level == ProjectLevel {
		decideOn, err = svc.Project(ctx, t.Ref)
	} else {
		decideOn, allowed, err = Holder(r, g, svc, t, p, act)
		// Asked here only: errors.As's target escapes, a heap variable on every request.
		if amb := (*AmbiguousError)(nil); errors.As(err, &amb) {
			ambiguous, err = amb, nil
		}
	}
	if errors.Is(err, packages.ErrNotFound) && p.Kind == access.Anonymous {
		return Grant{}, Denied(access.Decision{Denial: access.Unauthenticated, Reason: "authentication required"}, p)
	}
	if err != nil {
		return Grant{}, err
	}
	d, err := g.Authorize(ctx, r, p, access.Resource{Project: decideOn}, act)
	if err != nil {
		return Grant{}, err
	}
	if !d.Allow() {
		return Grant{}, Denied(d, p)
	}
	if ambiguous != nil {
		return Grant{}, ambiguous
	}
	if len(allowed) == 0 {
		return Grant{principal: p, project: decideOn}, nil
	}
	return Grant{principal: p, project: allowed[0], projects: allowed}, nil
}

// Holder finds, for a group- or instance-level request, the project to decide it on. A request
// that names a package is served only from the one project of the scope (the group and its
// subgroups, the top-level group of a Scoped request, or what t.Holders names) that holds it:
// when several do (whether or not the principal may read them all), Holder returns one it may
// act on together with an *AmbiguousError, and never picks the newest. A copy planted in
// another project the client did not choose can then make the name unusable at this level, but
// can never be served in place of the one the client meant. A listing (t.All) returns every
// candidate the principal may act on, first one first. When p may act on none, Holder returns
// the newest holder and no allowed project, so that the one audited decision explains the
// refusal. ErrNotFound when no project holds it.
//
// The per-holder checks here are a filter (the gate's Permits), not the decision: Authorize
// decides (and audits) once on the result.
func Holder(r *http.Request, gt *gate.Gate, svc *packages.Service, t Target, p access.Principal, act access.Action) (*namespace.Project, []*namespace.Project, error) {
	ctx := r.Context()
	var g *namespace.Group
	var err error
	switch {
	case t.Level == GroupLevel:
		g, err = svc.Group(ctx, t.Ref)
	case t.Scoped:
		g, err = svc.Group(ctx, t.Ref)
		if err == nil && g.ParentID != 0 {
			err = packages.ErrNotFound
		}
	case t.Holders == nil:
		// An unscoped instance-level request names its project through Holders.
		err = packages.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	var holders []*namespace.Project
	if t.Holders != nil {
		holders, err = t.Holders(ctx, g)
	} else {
		holders, err = svc.ProjectsHolding(ctx, t.Format, t.Name, g)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(holders) == 0 {
		return nil, nil, packages.ErrNotFound
	}
	var allowed []*namespace.Project
	for _, proj := range holders {
		ok, err := gt.Permits(ctx, r, p, access.Resource{Project: proj}, act)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			allowed = append(allowed, proj)
		}
	}
	switch {
	case len(allowed) == 0:
		return holders[0], nil, nil
	case t.All || len(holders) == 1:
		return allowed[0], allowed, nil
	}
	amb := &AmbiguousError{Name: t.Name, Hidden: len(holders) - len(allowed)}
	for _, proj := range allowed {
		amb.Projects = append(amb.Projects, proj.FullPath)
	}
	return allowed[0], nil, amb
}

// AmbiguousError refuses a group- or instance-level request for a package that more than one
// project in the scope holds (ErrConflict, 409): Gatehouse does not choose between them.
type AmbiguousError struct {
	// Name is the package, as the request named it ("" when it named a file).
	Name string
	// Projects are the full paths of the holders the principal may read; Hidden counts the
	// others, which are not named.
	Projects []string
	Hidden   int
}

func (e *AmbiguousError) Error() string {
	what := "this package"
	if e.Name != "" {
		what = e.Name
	}
	list := strings.Join(e.Projects, ", ")
	if e.Hidden > 0 {
		list += fmt.Sprintf(" and %d you cannot read", e.Hidden)
	}
	return fmt.Sprintf("%s is held by %d projects here (%s); this endpoint does not choose between them: use the project-level endpoint of the one you mean",
		what, len(e.Projects)+e.Hidden, list)
}

func (e *AmbiguousError) Unwrap() error { return packages.ErrConflict }

// DeniedError is a refusal by access, as an error kind (errkind.ErrUnauthorized, ErrForbidden
// or ErrNotFound) that each format writes in its own shape. Reason is access's explanation, safe
// to show the requester; formats show it for 401 and 403 only, since a 404 must not say why.
type DeniedError struct {
	Kind   error
	Reason string
}

func (e *DeniedError) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap returns the kind.
func (e *DeniedError) Unwrap() error { return e.Kind }

// Denied turns a refusal into a DeniedError. An anonymous requester is told to authenticate
// (ErrUnauthorized) even where a known one would get 404, so clients retry with credentials
// (npm and curl send them only after a 401).
func Denied(d access.Decision, p access.Principal) error {
	kind := errkind.ErrForbidden
	switch {
	case d.Denial == access.Unauthenticated, p.Kind == access.Anonymous:
		kind = errkind.ErrUnauthorized
	case d.Denial == access.NotFound:
		kind = errkind.ErrNotFound
	}
	return &DeniedError{Kind: kind, Reason: d.Reason}
}

// ErrMethod is a method the route table has no endpoint for (405).
var ErrMethod = errors.New("method not allowed")

// Problem is an error as a package endpoint answers it. Classify fills it from the error's
// kind; a format's error writer may adjust it (its own wording, a status its client expects)
// before writing it.
type Problem struct {
	Err    error
	Status int
	// Title is the status text ("Not Found"); Detail is what may be shown after it: access's
	// reason for a refusal, a *ValidationError's text, ErrTooLarge's text (it names the limit,
	// never the content), or "".
	Title, Detail string
}

// Classify maps an error kind (errkind's, or authn's) to its HTTP status:
//
//	authn.ErrInvalidCredentials, ErrUnauthorized   401 (Detail: the refusal's reason)
//	authn.ErrBanned                                 403 (Detail: the ban's text)
//	ErrForbidden                                    403 (Detail: the refusal's reason)
//	ErrNotFound                                     404 (never says why)
//	ErrInvalid                                      400 (Detail: a *ValidationError's text)
//	ErrTooLarge                                     413 (Detail: the error's text)
//	ErrConflict                                     409 (Detail: an *AmbiguousError's text)
//	ErrMethod                                       405
//	ErrUnavailable                                  503 (Detail: try again)
//	anything else                                   500 (to be logged, never shown)
func Classify(err error) Problem {
	p := Problem{Err: err, Status: http.StatusInternalServerError}
	var de *DeniedError
	var ve *errkind.ValidationError
	var ae *AmbiguousError
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, errkind.ErrUnauthorized):
		p.Status = http.StatusUnauthorized
		if errors.As(err, &de) {
			p.Detail = de.Reason
		}
	case errors.Is(err, authn.ErrBanned):
		p.Status = http.StatusForbidden
		p.Detail = authn.ErrBanned.Error()
	case errors.Is(err, errkind.ErrForbidden):
		p.Status = http.StatusForbidden
		if errors.As(err, &de) {
			p.Detail = de.Reason
		}
	case errors.Is(err, errkind.ErrNotFound):
		p.Status = http.StatusNotFound
	case errors.Is(err, errkind.ErrInvalid):
		p.Status = http.StatusBadRequest
		if errors.As(err, &ve) {
			p.Detail = ve.Error()
		}
	case errors.Is(err, errkind.ErrTooLarge):
		p.Status = http.StatusRequestEntityTooLarge
		p.Detail = err.Error()
	case errors.Is(err, errkind.ErrConflict):
		p.Status = http.StatusConflict
		if errors.As(err, &ae) {
			p.Detail = ae.Error()
		}
	case errors.Is(err, ErrMethod):
		p.Status = http.StatusMethodNotAllowed
	case errors.Is(err, errkind.ErrUnavailable):
		p.Status = http.StatusServiceUnavailable
		p.Detail = "storage does not answer, try again"
	}
	p.Title = http.StatusText(p.Status)
	return p
}

// Line is the problem as one line: "<status> <title>", then " - <detail>" when there is one.
func (p Problem) Line() string {
	s := strconv.Itoa(p.Status) + " " + p.Title
	if p.Detail != "" {
		s += " - " + p.Detail
	}
	return s
}

// Prepare does what every error answer needs before its body: a 401 carries
// `WWW-Authenticate: Basic realm="Gatehouse"` (so clients retry with their credentials), and a
// 500 logs the error with the request ID (when log is set).
func (p Problem) Prepare(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	switch p.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
	case http.StatusInternalServerError:
		if log != nil {
			httpx.Internal(r.Context(), log, p.Err)
		}
	}
}

// WriteText answers the problem as its Line in plain text, after Prepare.
func (p Problem) WriteText(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	p.Prepare(w, r, log)
	WriteText(w, p.Status, p.Line())
}

// WriteText answers status with msg and a newline, as text/plain.
func WriteText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// ExpectedChecksums reads the optional X-Checksum-Md5/Sha1/Sha256/Sha512 request headers
// (Artifactory's convention, which Maven transports and many scripts send), for
// packages.Upload.Expected.
func ExpectedChecksums(r *http.Request) packages.Checksums {
	return packages.Checksums{MD5: r.Header.Get("X-Checksum-Md5"), SHA1: r.Header.Get("X-Checksum-Sha1"),
		SHA256: r.Header.Get("X-Checksum-Sha256"), SHA512: r.Header.Get("X-Checksum-Sha512")}
}

// SendFile answers with the stored file f, the one way every format serves a package file. It
// opens the blob first (unless the request is HEAD) and returns that error, for the format's
// error writer, before any header is set, so an error answer carries no file headers. Then it
// sets Content-Length and an ETag of the file's SHA-256, lets setHeaders add the format's
// headers (Content-Type and the like), and streams the body; an interrupted copy is logged as
// what ("npm tarball download").
func SendFile(w http.ResponseWriter, r *http.Request, svc *packages.Service, log *slog.Logger, f *packages.File, what string, setHeaders func(http.Header)) error {
	var rc io.ReadCloser
	if r.Method != http.MethodHead {
		var err error
		if rc, err = svc.Open(r.Context(), f, 0); err != nil {
			return err
		}
		defer rc.Close()
	}
	// Canonical keys set directly, their values in one backing array: downloads are the hot path.
	v := [...]string{strconv.FormatInt(f.Size, 10), `"` + f.SHA256 + `"`}
	hdr := w.Header()
	hdr["Content-Length"], hdr["Etag"] = v[0:1:1], v[1:2:2]
	setHeaders(hdr)
	if rc == nil {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if _, err := io.Copy(w, rc); err != nil && log != nil {
		ctx := r.Context()
		log.WarnContext(ctx, what+" interrupted", "request_id", httpx.RequestID(ctx), "err", err.Error())
	}
	return nil
}
