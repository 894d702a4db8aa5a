package token

import (
	"context"
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
}

// Active reports whether the token may be used at now.
func (t *PersonalToken) Active(now time.Time) bool {
	return !t.Revoked && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// PersonalStore is the persistence the personal-token service needs.
type PersonalStore interface {
	// CreatePersonalToken inserts t and assigns its ID.
	CreatePersonalToken(ctx context.Context, t *PersonalToken) error
	// PersonalTokenByDigest returns the token with that digest, or errkind.ErrNotFound.
	PersonalTokenByDigest(ctx context.Context, digest []byte) (*PersonalToken, error)
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
		Digest: s.digester.Digest(secret)}
	if err := s.store.CreatePersonalToken(ctx, t); err != nil {
		return nil, Secret{}, fmt.Errorf("create personal token: %w", err)
	}
	return t, secret, nil
}

// Authenticate returns the active token for secret, or errkind.ErrNotFound.
func (s *PersonalService) Authenticate(ctx context.Context, secret Secret) (*PersonalToken, error) {
	t, err := s.store.PersonalTokenByDigest(ctx, s.digester.Digest(secret))
	if err != nil {
		return nil, err
	}
	if !s.digester.Matches(secret, t.Digest) || !t.Active(s.now()) {
		return nil, errkind.ErrNotFound
	}
	return t, nil
}
