package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// errInactive: the credential behind a valid token is revoked, expired, deleted or blocked.
var errInactive = errors.New("the credential of this token is no longer active")

// principal re-reads the credential a token's claims name. It deliberately caches nothing:
// revocation must take effect on the very next request. It returns errInactive when the
// credential is gone, revoked, expired or blocked.
func principal(ctx context.Context, store Principals, now time.Time, c Claims) (access.Principal, error) {
	switch {
	case c.DeployTokenID != 0:
		t, err := store.DeployToken(ctx, c.DeployTokenID)
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
		u, err := store.User(ctx, c.UserID)
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
			pat, err := store.PersonalToken(ctx, c.PersonalTokenID)
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
