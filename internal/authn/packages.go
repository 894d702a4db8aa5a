package authn

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// PackageAuth adjusts how a package format's requests present credentials. The zero value is
// GitLab's rule for most formats (docs/design.md §6.6): the basic-auth username is
// ignored for deploy tokens.
type PackageAuth struct {
	// CheckDeployUsername requires the basic-auth username to be the deploy token's username, as
	// GitLab does for NuGet and Debian.
	CheckDeployUsername bool
	// TokenHeaders are extra headers that carry a deploy token or a personal access token on
	// their own, tried after Deploy-Token and Private-Token (NuGet push: "X-NuGet-ApiKey").
	TokenHeaders []string
}

// Packages authenticates a package-registry request with PackageAuth{}; see PackagesWith.
func (a *Authenticator) Packages(ctx context.Context, r *http.Request) (access.Principal, error) {
	return a.PackagesWith(ctx, r, PackageAuth{})
}

// PackagesWith authenticates a package-registry request. It takes the first credential present,
// in this order:
//
//   - Deploy-Token: <deploy token>
//   - Private-Token: <personal access token> (any spelling of the header name)
//   - each of opts.TokenHeaders: <deploy token or personal access token>
//   - Authorization: Bearer <deploy token or personal access token> (npm's _authToken)
//   - Authorization: Basic <user>:<secret>, the secret a deploy token (username ignored unless
//     opts.CheckDeployUsername), a personal access token (username ignored) or the user's
//     password.
//
// No credentials give the anonymous principal. Wrong ones give ErrInvalidCredentials, an audit
// event and a failure in the ban that Git, /jwt/auth, the API and web sign-in share; a banned
// address (or identity) gets ErrBanned, whatever it presents. A revoked or expired deploy token
// is returned as its principal: access refuses it with the reason, and the gate audits that.
func (a *Authenticator) PackagesWith(ctx context.Context, r *http.Request, opts PackageAuth) (access.Principal, error) {
	if v := r.Header.Get("Deploy-Token"); v != "" {
		secret := token.NewSecret(v)
		if !secret.HasPrefix(token.DeployTokenPrefix) {
			return access.AnonymousPrincipal, a.failed(ctx, r, "", SecretIdentity(secret), "the Deploy-Token header does not hold a deploy token")
		}
		return a.packageCredential(ctx, r, "", secret, false)
	}
	if v := r.Header.Get("Private-Token"); v != "" {
		secret := token.NewSecret(v)
		if !secret.HasPrefix(token.PersonalTokenPrefix) {
			return access.AnonymousPrincipal, a.failed(ctx, r, "", SecretIdentity(secret), "the Private-Token header does not hold a personal access token")
		}
		return a.packageCredential(ctx, r, "", secret, false)
	}
	for _, h := range opts.TokenHeaders {
		if v := r.Header.Get(h); v != "" {
			return a.packageToken(ctx, r, token.NewSecret(v))
		}
	}
	header := r.Header.Get("Authorization")
	if b, ok := ParseBearer(header); ok {
		return a.packageToken(ctx, r, token.NewSecret(b))
	}
	user, pass, ok, err := ParseBasic(header)
	if err != nil {
		return access.AnonymousPrincipal, a.failed(ctx, r, "", "", "malformed basic auth")
	}
	if !ok {
		return a.anonymous(ctx, r, nil)
	}
	return a.packageCredential(ctx, r, user, token.NewSecret(pass), opts.CheckDeployUsername)
}

// packageToken resolves a secret presented without a username: a deploy token or a personal
// access token (a password needs its username).
func (a *Authenticator) packageToken(ctx context.Context, r *http.Request, secret token.Secret) (access.Principal, error) {
	if !secret.HasPrefix(token.DeployTokenPrefix) && !secret.HasPrefix(token.PersonalTokenPrefix) {
		return access.AnonymousPrincipal, a.failed(ctx, r, "", SecretIdentity(secret), "the token is neither a deploy token nor a personal access token")
	}
	return a.packageCredential(ctx, r, "", secret, false)
}

// packageCredential resolves through the same code as Git and the API, under the same ban.
func (a *Authenticator) packageCredential(ctx context.Context, r *http.Request, user string, secret token.Secret, checkDeployUsername bool) (access.Principal, error) {
	return a.attempt(ctx, r, user, secret, checkDeployUsername, "wrong username, password or token")
}
