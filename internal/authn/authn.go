package authn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Errors the protocols map to their wire formats. Their texts name the kind of problem only.
var (
	// ErrInvalidCredentials: credentials were presented but are wrong (401).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrDeployTokenNotAllowed: a deploy token was presented where none is accepted (401).
	ErrDeployTokenNotAllowed = errors.New("deploy tokens cannot be used here")
	// ErrBanned: the client IP is banned after too many failures (403).
	ErrBanned = errors.New("too many failed authentication attempts from this address; try again later")
)

// Authenticator resolves credentials into principals, under the failed-authentication ban and
// with an audit trail of failures. Deciding what a principal may do is the gate's (internal/gate).
type Authenticator struct {
	Deploy *token.DeployService
	// Usage records each request of an active deploy token.
	Usage    *token.UsageWriter
	Personal *token.PersonalService
	Users    *namespace.Service
	Audit    *audit.Log
	Ban      ban.Limiter
	Log      *slog.Logger
}

// Basic authenticates a request by HTTP basic auth, as Git and /jwt/auth do: a deploy token
// (whose username must match), a personal access token (any username) or a password. No
// credentials give the anonymous principal. Failures are counted in the ban and audited.
//
// Every answer is under the ban, checked once: a request that presents credentials is checked
// for its address and their identity together (attempt), any other for its address
// (anonymous, failed).
func (a *Authenticator) Basic(ctx context.Context, r *http.Request) (access.Principal, error) {
	user, pass, ok, err := ParseBasic(r.Header.Get("Authorization"))
	if err != nil {
		return access.AnonymousPrincipal, a.failed(ctx, r, "", "", "malformed basic auth")
	}
	if !ok {
		return a.anonymous(ctx, r, nil)
	}
	return a.attempt(ctx, r, user, token.NewSecret(pass), true, "wrong username or password")
}

// API authenticates a REST API request: PRIVATE-TOKEN, Authorization: Bearer or, as GitLab
// accepts, the private_token query parameter, with a personal access token. Deploy tokens are
// refused wherever they appear (docs/design.md §6.8: they never open the API). Wrong tokens count
// in the ban like every other surface's failures. The access log never records query strings.
func (a *Authenticator) API(ctx context.Context, r *http.Request) (access.Principal, error) {
	secret := r.Header.Get("Private-Token")
	if secret == "" {
		secret = r.URL.Query().Get("private_token")
	}
	if secret == "" {
		if b, ok := ParseBearer(r.Header.Get("Authorization")); ok {
			secret = b
		}
	}
	if secret == "" {
		if _, pass, ok, _ := ParseBasic(r.Header.Get("Authorization")); ok && strings.HasPrefix(pass, token.DeployTokenPrefix) {
			return a.anonymous(ctx, r, ErrDeployTokenNotAllowed)
		}
	}
	if r.Header.Get("Deploy-Token") != "" || strings.HasPrefix(secret, token.DeployTokenPrefix) {
		return a.anonymous(ctx, r, ErrDeployTokenNotAllowed)
	}
	if secret == "" {
		return a.anonymous(ctx, r, nil)
	}
	s := token.NewSecret(secret)
	if !s.HasPrefix(token.PersonalTokenPrefix) {
		return access.AnonymousPrincipal, a.failed(ctx, r, "", SecretIdentity(s), "invalid personal access token")
	}
	return a.attempt(ctx, r, "", s, false, "invalid personal access token")
}

// attempt resolves presented credentials under the ban: refused while their address or
// identity is banned, a failure counted (and audited, why saying what was wrong), a success
// forgiving only this identity's failures.
func (a *Authenticator) attempt(ctx context.Context, r *http.Request, user string, secret token.Secret, checkDeployUsername bool, why string) (access.Principal, error) {
	ip, id := httpx.ClientIP(r), identity(user, secret)
	if a.banned(ctx, ip, id) {
		return access.AnonymousPrincipal, ErrBanned
	}
	p, err := a.resolve(ctx, user, secret, checkDeployUsername)
	if errors.Is(err, ErrInvalidCredentials) {
		return access.AnonymousPrincipal, a.failed(ctx, r, user, id, why)
	}
	if err != nil {
		return access.AnonymousPrincipal, err
	}
	if p.Kind == access.DeployTokenPrincipal {
		if !p.DeployToken.Active(a.Deploy.Now()) {
			// A revoked or expired deploy token is a failed login for the ban, never a success
			// that forgives; access refuses it (and audits why) once the caller authorizes.
			if a.Ban != nil && a.Ban.Fail(ctx, ip, id) {
				return access.AnonymousPrincipal, ErrBanned
			}
			return p, nil
		}
		a.Usage.MarkUsed(p.DeployToken, ip)
	}
	if a.Ban != nil {
		a.Ban.Succeed(ctx, ip, id)
	}
	return p, nil
}

// anonymous answers a request that presents no credentials to check, or none accepted here
// (err): the anonymous principal with err, or ErrBanned while its address is banned.
func (a *Authenticator) anonymous(ctx context.Context, r *http.Request, err error) (access.Principal, error) {
	if a.banned(ctx, httpx.ClientIP(r), "") {
		return access.AnonymousPrincipal, ErrBanned
	}
	return access.AnonymousPrincipal, err
}

// banned reports whether the ban refuses an attempt from ip for identity.
func (a *Authenticator) banned(ctx context.Context, ip netip.Addr, identity string) bool {
	return a.Ban != nil && a.Ban.Banned(ctx, ip, identity)
}

// resolve maps (username, secret) to a principal. An active deploy token's use is recorded by
// the caller (attempt), which tells active from revoked or expired anyway.
func (a *Authenticator) resolve(ctx context.Context, username string, secret token.Secret, checkDeployUsername bool) (access.Principal, error) {
	switch {
	case secret.HasPrefix(token.DeployTokenPrefix):
		t, err := a.Deploy.Authenticate(ctx, username, secret, checkDeployUsername)
		if err != nil {
			if errors.Is(err, errkind.ErrNotFound) {
				return access.AnonymousPrincipal, ErrInvalidCredentials
			}
			return access.AnonymousPrincipal, err
		}
		// A revoked or expired token is still returned: access refuses it and says why.
		return access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: t}, nil
	case secret.HasPrefix(token.PersonalTokenPrefix):
		return a.personal(ctx, secret)
	}
	if username == "" || secret.IsZero() {
		return access.AnonymousPrincipal, ErrInvalidCredentials
	}
	u, err := a.Users.CheckPassword(ctx, username, secret.Reveal())
	if err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return access.AnonymousPrincipal, ErrInvalidCredentials
		}
		return access.AnonymousPrincipal, err
	}
	if u.Blocked {
		return access.AnonymousPrincipal, ErrInvalidCredentials
	}
	return access.Principal{Kind: access.UserPrincipal, User: u}, nil
}

func (a *Authenticator) personal(ctx context.Context, secret token.Secret) (access.Principal, error) {
	pat, err := a.Personal.Authenticate(ctx, secret)
	if err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return access.AnonymousPrincipal, ErrInvalidCredentials
		}
		return access.AnonymousPrincipal, err
	}
	u, err := a.Users.User(ctx, pat.UserID)
	if err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return access.AnonymousPrincipal, ErrInvalidCredentials
		}
		return access.AnonymousPrincipal, err
	}
	if u.Blocked {
		return access.AnonymousPrincipal, ErrInvalidCredentials
	}
	return access.Principal{Kind: access.UserPrincipal, User: u, PersonalToken: pat}, nil
}

// failed records a failed authentication of identity ("" when none could be told) in the
// audit log and the ban; it returns the error to answer with (ErrBanned once banned).
//
// An attempt while the address or identity is banned is refused without counting, as if
// it had not been made.
func (a *Authenticator) failed(ctx context.Context, r *http.Request, username, identity, why string) error {
	ip := httpx.ClientIP(r)
	if a.banned(ctx, ip, identity) {
		return ErrBanned
	}
	if a.Audit != nil {
		if err := a.Audit.Record(ctx, audit.Event{Type: audit.AuthenticationFailed, ActorKind: "anonymous",
			ActorName: safeUsername(username), EntityType: "instance", IP: ip.String(), Details: why}); err != nil && a.Log != nil {
			a.Log.ErrorContext(ctx, "record audit event", "err", err)
		}
	}
	if a.Ban != nil && a.Ban.Fail(ctx, ip, identity) {
		return ErrBanned
	}
	return ErrInvalidCredentials
}

// Bearer returns the token of the request's "Authorization: Bearer …" header, if it has one.
func Bearer(r *http.Request) (string, bool) {
	return ParseBearer(r.Header.Get("Authorization"))
}
