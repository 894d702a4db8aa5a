package token

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// PersonalToken is a user's personal access token (docs/design.md §1.3).
type PersonalToken struct {
	ID         int64
	UserID     int64
	Name       string
	Scopes     Scopes
	ExpiresAt  *time.Time
	Revoked    bool
	CreatedAt  time.Time
	LastUsedAt *time.Time
	Digest     []byte
	// Impersonation marks a token an administrator made to act as the user (GitLab's
	// impersonation tokens): it authenticates as the user, and only administrators see it.
	Impersonation bool
}

// Active reports whether the token may be used at now.
func (t *PersonalToken) Active(now time.Time) bool {
	return !t.Revoked && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// OwnedBy reports whether the token is userID's own: theirs and not an impersonation token, which
// only administrators see. A user lists, revokes and rotates only their own tokens (an
// administrator, through the API, anyone's).
func (t *PersonalToken) OwnedBy(userID int64) bool { return t.UserID == userID && !t.Impersonation }

// PersonalStore is the persistence the personal-token service needs.
type PersonalStore interface {
	// CreatePersonalToken inserts t and assigns its ID.
	CreatePersonalToken(ctx context.Context, t *PersonalToken) error
	// PersonalTokenByDigest returns the token with that digest, or errkind.ErrNotFound.
	PersonalTokenByDigest(ctx context.Context, digest []byte) (*PersonalToken, error)
	// PersonalToken returns the token with that id, or errkind.ErrNotFound.
	PersonalToken(ctx context.Context, id int64) (*PersonalToken, error)
	// ListPersonalTokens returns the tokens of userID (every user's when 0), by id.
	ListPersonalTokens(ctx context.Context, userID int64) ([]*PersonalToken, error)
	// RevokePersonalToken marks a token revoked; errkind.ErrNotFound when there is none.
	RevokePersonalToken(ctx context.Context, id int64) error
	// RotatePersonalToken revokes token oldID and inserts next (assigning its ID) in one
	// transaction; errkind.ErrConflict when oldID is already revoked, errkind.ErrNotFound when
	// there is none.
	RotatePersonalToken(ctx context.Context, oldID int64, next *PersonalToken) error
	// TouchPersonalToken sets a token's last use to at; errkind.ErrNotFound when there is none.
	TouchPersonalToken(ctx context.Context, id int64, at time.Time) error
}

// PersonalService issues and checks personal access tokens.
type PersonalService struct {
	store    PersonalStore
	digester *Digester
	now      func() time.Time
}

// NewPersonalService returns a service over store; now may be nil for time.Now.
func NewPersonalService(store PersonalStore, d *Digester, now func() time.Time) *PersonalService {
	if now == nil {
		now = time.Now
	}
	return &PersonalService{store: store, digester: d, now: now}
}

// CreatePersonalInput is what an admin supplies for a user's token.
type CreatePersonalInput struct {
	UserID    int64
	Name      string
	Scopes    []string
	ExpiresAt string
	// Secret, when set, is used instead of a generated one (bootstrap via GATEHOUSE_ROOT_TOKEN).
	Secret Secret
	// Impersonation makes an impersonation token (administrators' only, see PersonalToken).
	Impersonation bool
}

// Create validates in and stores a new token, returning its secret once.
func (s *PersonalService) Create(ctx context.Context, in CreatePersonalInput) (*PersonalToken, Secret, error) {
	now := s.now()
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, Secret{}, &errkind.ValidationError{Field: "name", Reason: "is missing"}
	}
	scopes, err := ParseScopes(in.Scopes, PersonalTokenScopes)
	if err != nil {
		return nil, Secret{}, err
	}
	exp, err := ParseExpiry(in.ExpiresAt, now)
	if err != nil {
		return nil, Secret{}, err
	}
	secret := in.Secret
	if secret.IsZero() {
		if secret, err = GenerateSecret(PersonalTokenPrefix); err != nil {
			return nil, Secret{}, err
		}
	}
	t := &PersonalToken{UserID: in.UserID, Name: name, Scopes: scopes, ExpiresAt: exp, CreatedAt: now,
		Digest: s.digester.Digest(secret), Impersonation: in.Impersonation}
	if err := s.store.CreatePersonalToken(ctx, t); err != nil {
		return nil, Secret{}, fmt.Errorf("create personal token: %w", err)
	}
	return t, secret, nil
}

// Authenticate returns the active token for secret, or errkind.ErrNotFound, and records its use
// (LastUsedInterval).
func (s *PersonalService) Authenticate(ctx context.Context, secret Secret) (*PersonalToken, error) {
	t, err := s.store.PersonalTokenByDigest(ctx, s.digester.Digest(secret))
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !s.digester.Matches(secret, t.Digest) || !t.Active(now) {
		return nil, errkind.ErrNotFound
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= LastUsedInterval {
		// Best effort: a failed write must not refuse a valid token, and the next use retries.
		if err := s.store.TouchPersonalToken(ctx, t.ID, now); err == nil {
			t.LastUsedAt = &now
		}
	}
	return t, nil
}

// LastUsedInterval is how stale a personal access token's last use may get before a use records
// it again, as GitLab updates last_used_at at most every 10 minutes: one write per token per
// interval, not one per request.
const LastUsedInterval = 10 * time.Minute

// Now is the service's clock.
func (s *PersonalService) Now() time.Time { return s.now() }

// Token returns the token with that id, or errkind.ErrNotFound.
func (s *PersonalService) Token(ctx context.Context, id int64) (*PersonalToken, error) {
	return s.store.PersonalToken(ctx, id)
}

// PersonalFilter narrows List, as GitLab's personal access token finder does. Zero fields do not
// filter.
type PersonalFilter struct {
	UserID int64
	// Impersonation, when set, keeps only impersonation tokens (true) or only the others (false).
	Impersonation *bool
	// State is "active", "inactive" or "" (all).
	State   string
	Revoked *bool
	// CreatedBefore … LastUsedAfter compare strictly, as GitLab's finder; a token never used
	// matches neither LastUsed bound.
	CreatedBefore, CreatedAfter   *time.Time
	LastUsedBefore, LastUsedAfter *time.Time
	// Search keeps tokens whose name contains it, case-insensitively.
	Search string
}

// keeps reports whether t passes f at now.
func (f PersonalFilter) keeps(t *PersonalToken, now time.Time) bool {
	before := func(at *time.Time, bound *time.Time) bool { return bound == nil || (at != nil && at.Before(*bound)) }
	after := func(at *time.Time, bound *time.Time) bool { return bound == nil || (at != nil && at.After(*bound)) }
	switch {
	case f.Impersonation != nil && t.Impersonation != *f.Impersonation,
		f.State == "active" && !t.Active(now), f.State == "inactive" && t.Active(now),
		f.Revoked != nil && t.Revoked != *f.Revoked,
		!before(&t.CreatedAt, f.CreatedBefore), !after(&t.CreatedAt, f.CreatedAfter),
		!before(t.LastUsedAt, f.LastUsedBefore), !after(t.LastUsedAt, f.LastUsedAfter),
		f.Search != "" && !strings.Contains(strings.ToLower(t.Name), strings.ToLower(f.Search)):
		return false
	}
	return true
}

// List returns the tokens f keeps, by id.
func (s *PersonalService) List(ctx context.Context, f PersonalFilter) ([]*PersonalToken, error) {
	all, err := s.store.ListPersonalTokens(ctx, f.UserID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []*PersonalToken{}
	for _, t := range all {
		if f.keeps(t, now) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Revoke revokes token id; errkind.ErrNotFound when there is none. Revoking a revoked token
// succeeds, as in GitLab.
func (s *PersonalService) Revoke(ctx context.Context, id int64) error {
	return s.store.RevokePersonalToken(ctx, id)
}

// ErrAlreadyRevoked: a revoked token cannot be rotated.
var ErrAlreadyRevoked = &errkind.ValidationError{Field: "token", Reason: "already revoked"}

// RotateDefaultLifetime is how long a rotated token lives without an expires_at, as in GitLab
// (one week).
const RotateDefaultLifetime = 7 * 24 * time.Hour

// Rotate revokes token id and issues its successor with the same user, name, scopes and kind,
// expiring at expiresAt (YYYY-MM-DD; empty: a week from now). It returns the new token and its
// secret, shown once; ErrAlreadyRevoked for a revoked token, errkind.ErrNotFound for none.
func (s *PersonalService) Rotate(ctx context.Context, id int64, expiresAt string) (*PersonalToken, Secret, error) {
	old, err := s.store.PersonalToken(ctx, id)
	if err != nil {
		return nil, Secret{}, err
	}
	if old.Revoked {
		return nil, Secret{}, ErrAlreadyRevoked
	}
	now := s.now()
	exp, err := ParseExpiry(expiresAt, now)
	if err != nil {
		return nil, Secret{}, err
	}
	if exp == nil {
		d := ExpiryDate(now.Add(RotateDefaultLifetime))
		exp = &d
	}
	secret, err := GenerateSecret(PersonalTokenPrefix)
	if err != nil {
		return nil, Secret{}, err
	}
	next := &PersonalToken{UserID: old.UserID, Name: old.Name, Scopes: old.Scopes, ExpiresAt: exp, CreatedAt: now,
		Digest: s.digester.Digest(secret), Impersonation: old.Impersonation}
	if err := s.store.RotatePersonalToken(ctx, old.ID, next); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return nil, Secret{}, ErrAlreadyRevoked // revoked meanwhile
		}
		return nil, Secret{}, fmt.Errorf("rotate personal token: %w", err)
	}
	return next, secret, nil
}
