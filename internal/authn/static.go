package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Static checks the request's bearer token against want, the one configured secret of an
// endpoint that serves no principal (the metrics, docs/design.md §9.5), in constant time. No
// bearer token is (false, nil): the caller decides by other means. A wrong one is a failed
// authentication like any other surface's (docs/design.md §7.1): audited and counted in the ban,
// answered ErrInvalidCredentials, or ErrBanned once the address or the token is banned; what
// names the secret in the audit event.
func (a *Authenticator) Static(ctx context.Context, r *http.Request, want token.Secret, what string) (bool, error) {
	ip := httpx.ClientIP(r)
	if a.banned(ctx, ip, "") {
		return false, ErrBanned
	}
	got, ok := Bearer(r)
	if !ok || got == "" {
		return false, nil
	}
	secret := token.NewSecret(got)
	id := SecretIdentity(secret)
	if a.banned(ctx, ip, id) {
		return false, ErrBanned
	}
	// Digests first, so the comparison takes as long whatever the lengths.
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want.Reveal()))
	if want.IsZero() || subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		return false, a.failed(ctx, r, "", id, "wrong "+what)
	}
	if a.Ban != nil {
		a.Ban.Succeed(ctx, ip, id)
	}
	return true, nil
}
