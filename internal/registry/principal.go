package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/registry/jwtauth"
)

// principalChecker re-reads the credential named by a token's private claims. It deliberately
// caches nothing: revocation must take effect on the very next request.
type principalChecker struct {
	store Principals
	now   func() time.Time
}

// principal returns the principal behind c, or errInactive when its credential is gone,
// revoked, expired or blocked.
func (pc *principalChecker) principal(ctx context.Context, c *jwtauth.Claims) (access.Principal, error) {
	now := pc.now()
	switch {
	case c.DeployTokenID != 0:
		t, err := pc.store.DeployToken(ctx, c.DeployTokenID)
		if errors.Is(err, errkind.ErrNotFound) {
			return access.AnonymousPrincipal, errInactive
		}
		if err != nil {
			return access.AnonymousPrincipal, fmt.Errorf("re-check deploy token: %w", err)
		}
		if !t.Active(now) {
			return access.AnonymousPrincipal, errInactive
		}
		return access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: t}, nil
	case c.UserID != 0:
		u, err := pc.store.User(ctx, c.UserID)
		if errors.Is(err, errkind.ErrNotFound) {
			return access.AnonymousPrincipal, errInactive
		}
		if err != nil {
			return access.AnonymousPrincipal, fmt.Errorf("re-check user: %w", err)
		}
		if u.Blocked {
			return access.AnonymousPrincipal, errInactive
		}
		p := access.Principal{Kind: access.UserPrincipal, User: u}
		if c.PersonalTokenID != 0 {
			pat, err := pc.store.PersonalToken(ctx, c.PersonalTokenID)
			if errors.Is(err, errkind.ErrNotFound) {
				return access.AnonymousPrincipal, errInactive
			}
			if err != nil {
				return access.AnonymousPrincipal, fmt.Errorf("re-check personal access token: %w", err)
			}
			if !pat.Active(now) || pat.UserID != u.ID {
				return access.AnonymousPrincipal, errInactive
			}
			p.PersonalToken = pat
		}
		return p, nil
	}
	return access.AnonymousPrincipal, nil
}
