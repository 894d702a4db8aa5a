package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// ErrInactive: the credential a bearer token names is revoked, expired, deleted or blocked.
var ErrInactive = errors.New("the credential of this token is no longer active")

// Credentials reads the credentials a bearer token names, by id.
type Credentials interface {
	DeployToken(ctx context.Context, id int64) (*token.DeployToken, error)
	User(ctx context.Context, id int64) (*namespace.User, error)
	PersonalToken(ctx context.Context, id int64) (*token.PersonalToken, error)
}

// CredentialIDs name the credential behind a bearer token: a deploy token, or a user and
// optionally the personal access token they signed in with. None is anonymous.
type CredentialIDs struct {
	DeployToken, User, PersonalToken int64
	// DeployTokenBinding is the token.SecretBinding of the deploy-token secret the bearer token
	// was minted with.
	DeployTokenBinding string
}

// Recheck returns the principal behind ids as the store has it now, or ErrInactive when the
// credential is gone, revoked, expired or blocked, or when a deploy token's secret it was minted
// with has been rotated away (after the rotation's grace period, if any). The registry and the dependency proxy call
// it for every bearer-token request, and it deliberately caches nothing: a revocation takes
// effect on the very next request, whatever the token's own lifetime.
func Recheck(ctx context.Context, store Credentials, now time.Time, ids CredentialIDs) (Principal, error) {
	switch {
	case ids.DeployToken != 0:
		t, err := store.DeployToken(ctx, ids.DeployToken)
		if errors.Is(err, errkind.ErrNotFound) {
			return AnonymousPrincipal, ErrInactive
		}
		if err != nil {
			return AnonymousPrincipal, fmt.Errorf("re-check deploy token: %w", err)
		}
		if !t.Active(now) || !t.BoundTo(ids.DeployTokenBinding, now) {
			return AnonymousPrincipal, ErrInactive
		}
		return Principal{Kind: DeployTokenPrincipal, DeployToken: t}, nil
	case ids.User != 0:
		u, err := store.User(ctx, ids.User)
		if errors.Is(err, errkind.ErrNotFound) {
			return AnonymousPrincipal, ErrInactive
		}
		if err != nil {
			return AnonymousPrincipal, fmt.Errorf("re-check user: %w", err)
		}
		if u.Blocked {
			return AnonymousPrincipal, ErrInactive
		}
		p := Principal{Kind: UserPrincipal, User: u}
		if ids.PersonalToken != 0 {
			pat, err := store.PersonalToken(ctx, ids.PersonalToken)
			if errors.Is(err, errkind.ErrNotFound) {
				return AnonymousPrincipal, ErrInactive
			}
			if err != nil {
				return AnonymousPrincipal, fmt.Errorf("re-check personal access token: %w", err)
			}
			if !pat.Active(now) || pat.UserID != u.ID {
				return AnonymousPrincipal, ErrInactive
			}
			p.PersonalToken = pat
		}
		return p, nil
	}
	return AnonymousPrincipal, nil
}
