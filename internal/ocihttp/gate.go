package ocihttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
)

// Gate is the bearer-token gate of the registry and the dependency proxy (docs/architecture.md
// §3.2): it verifies the JWT /jwt/auth issued, re-reads the credential the token names, asks
// the audited gate (gate.Gate.Authorize) for every action a route needs, and writes
// the Bearer challenge that sends clients to /jwt/auth. The grant is requested ∩ allowed-now: the
// token must carry the action, and the credential behind it must still be allowed to do it.
type Gate struct {
	Tokens *jwtauth.Issuer
	// Services are the token audiences accepted, in the order tried; challenges name the first.
	Services   []string
	Principals access.Credentials
	Gate       *gate.Gate
	// Realm is the token endpoint clients are sent to (<external URL>/jwt/auth).
	Realm string
	Now   func() time.Time
}

// Caller is who sent a request: the principal, and the claims of its bearer token (nil when
// it presented none, and is anonymous).
type Caller struct {
	Principal access.Principal
	Claims    *jwtauth.Claims
}

// Has reports whether the caller's token carries action on the resource (typ, name). An
// anonymous caller has no token to narrow what access allows: Has is true.
func (c Caller) Has(typ, name, action string) bool {
	return c.Claims == nil || c.Claims.Allows(typ, name, action)
}

// ChallengeError is the error= of a challenge to the caller: insufficient_scope when it
// presented a token, none when it did not.
func (c Caller) ChallengeError() string {
	if c.Claims != nil {
		return "insufficient_scope"
	}
	return ""
}

// Authenticate verifies the request's bearer token, when it has one, and re-reads the
// credential the token names (access.Recheck), so a revoked or rotated credential stops on its
// next request. An invalid token, or one whose credential is no longer active, is answered with
// the challenge for scopes (error="invalid_token"). Without a token the caller is anonymous.
func (g *Gate) Authenticate(w http.ResponseWriter, r *http.Request, scopes []string) (Caller, error) {
	raw, bearer := authn.Bearer(r)
	if !bearer {
		return Caller{Principal: access.AnonymousPrincipal}, nil
	}
	c, err := g.verify(raw)
	if err != nil {
		return Caller{}, g.Challenge(w, scopes, "invalid_token", "the bearer token is invalid or expired")
	}
	p, err := access.Recheck(r.Context(), g.Principals, g.Now(), access.CredentialIDs{
		DeployToken: c.DeployTokenID, User: c.UserID, PersonalToken: c.PersonalTokenID,
		DeployTokenBinding: c.DeployTokenSecret})
	if errors.Is(err, access.ErrInactive) {
		return Caller{}, g.Challenge(w, scopes, "invalid_token", access.ErrInactive.Error())
	}
	if err != nil {
		return Caller{}, err
	}
	return Caller{Principal: p, Claims: c}, nil
}

// verify checks raw for each accepted audience in turn.
func (g *Gate) verify(raw string) (*jwtauth.Claims, error) {
	err := jwtauth.ErrInvalidToken
	for _, service := range g.Services {
		var c *jwtauth.Claims
		if c, err = g.Tokens.Verify(raw, service); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// Target is the repository a route acts on: its name as token scopes spell it, and the
// project or group that owns it (nil when none does).
type Target struct {
	Name     string
	Resource *access.Resource
	// Unknown is the detail of the NAME_UNKNOWN an administrator gets when nothing owns Name.
	Unknown string
}

// Authorize asks the audited gate for each token action in need (mapped to an access action by
// action) on t, for the caller. A refusal the caller could fix by authenticating, or a token
// lacking an action access allows, is answered with the challenge (its scope: need on t); a
// repository the caller may not know exists is DENIED, as if it were refused, except to an
// administrator (NAME_UNKNOWN); any other refusal is DENIED with its reason.
func (g *Gate) Authorize(w http.ResponseWriter, r *http.Request, c Caller, t Target, need []string,
	action func(string) (access.Action, bool)) error {
	scopes := []string{RepositoryScope(t.Name, need)}
	var missing, forbidden bool
	var reason string
	for i, act := range actions(need, action) {
		a := need[i]
		d := access.Decision{Denial: access.NotFound}
		if t.Resource != nil {
			var err error
			if d, err = g.Gate.Authorize(r.Context(), r, c.Principal, *t.Resource, act); err != nil {
				return err
			}
		}
		switch {
		case d.Allow():
			missing = missing || !c.Has(jwtauth.RepositoryType, t.Name, a)
		case d.Denial == access.Unauthenticated || (d.Denial == access.NotFound && c.Principal.Kind == access.Anonymous):
			return g.Challenge(w, scopes, c.ChallengeError(), "")
		case d.Denial == access.NotFound:
			if t.Resource == nil && c.Principal.Kind == access.UserPrincipal && c.Principal.User.Admin {
				return Fail(CodeNameUnknown, "%s", t.Unknown)
			}
			// Whether the repository exists is not for this credential to learn.
			return Fail(CodeDenied, "")
		default:
			forbidden, reason = true, d.Reason
		}
	}
	if forbidden {
		return Fail(CodeDenied, "%s", reason)
	}
	if missing {
		return g.Challenge(w, scopes, "insufficient_scope", "")
	}
	return nil
}

// Decide is the rule of a route whose token actions need Authorize decides: the access actions
// they map to with action, in order. A route needs one or two (pull, push).
func Decide(need []string, action func(string) (access.Action, bool)) gate.Rule {
	switch acts := actions(need, action); len(acts) {
	case 1:
		return gate.Decide(acts[0])
	case 2:
		return gate.Decide(acts[0]).And(acts[1])
	}
	panic(fmt.Sprintf("ocihttp: a route table entry needs %v: a gate.Rule names one or two actions", need))
}

// actions maps the token actions need to access actions with action, one for one.
func actions(need []string, action func(string) (access.Action, bool)) []access.Action {
	out := make([]access.Action, len(need))
	for i, a := range need {
		out[i], _ = action(a)
	}
	return out
}

// RepositoryScope is the token scope of actions on repository name ("repository:<name>:<actions>").
func RepositoryScope(name string, actions []string) string {
	return jwtauth.RepositoryType + ":" + name + ":" + strings.Join(actions, ",")
}

// Challenge writes the Bearer challenge header (realm, service, the scopes asked for, and
// error= when errParam is set) and returns the 401 error to answer with.
func (g *Gate) Challenge(w http.ResponseWriter, scopes []string, errParam, detail string) error {
	v := fmt.Sprintf(`Bearer realm=%q,service=%q`, g.Realm, g.Services[0])
	if len(scopes) > 0 {
		v += fmt.Sprintf(`,scope=%q`, strings.Join(scopes, " "))
	}
	if errParam != "" {
		v += fmt.Sprintf(`,error=%q`, errParam)
	}
	w.Header().Set("WWW-Authenticate", v)
	return Fail(CodeUnauthorized, "%s", detail)
}
