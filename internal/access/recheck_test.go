package access_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// fakeCredentials is an in-memory access.Credentials; ids it does not hold are not found, and
// err (when set) is every read's answer.
type fakeCredentials struct {
	deploy map[int64]*token.DeployToken
	users  map[int64]*namespace.User
	pats   map[int64]*token.PersonalToken
	err    error
}

func lookup[T any](m map[int64]*T, id int64, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	if v, ok := m[id]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("id %d: %w", id, errkind.ErrNotFound)
}

func (f *fakeCredentials) DeployToken(_ context.Context, id int64) (*token.DeployToken, error) {
	return lookup(f.deploy, id, f.err)
}
func (f *fakeCredentials) User(_ context.Context, id int64) (*namespace.User, error) {
	return lookup(f.users, id, f.err)
}
func (f *fakeCredentials) PersonalToken(_ context.Context, id int64) (*token.PersonalToken, error) {
	return lookup(f.pats, id, f.err)
}

func TestRecheck(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	yesterday, tomorrow := now.AddDate(0, 0, -1), now.AddDate(0, 0, 1)
	cur, old := []byte("current secret digest"), []byte("replaced secret digest")
	bound, stale := token.SecretBinding(cur), token.SecretBinding(old)
	store := &fakeCredentials{
		deploy: map[int64]*token.DeployToken{
			1: {ID: 1, Name: "active", Digest: cur},
			2: {ID: 2, Name: "revoked", Revoked: true, Digest: cur},
			3: {ID: 3, Name: "expired", ExpiresAt: &yesterday, Digest: cur},
			4: {ID: 4, Name: "expires tomorrow", ExpiresAt: &tomorrow, Digest: cur},
			5: {ID: 5, Name: "rotated in grace", Digest: cur, PreviousDigest: old, PreviousValidUntil: &tomorrow},
			6: {ID: 6, Name: "rotated, grace over", Digest: cur, PreviousDigest: old, PreviousValidUntil: &yesterday},
		},
		users: map[int64]*namespace.User{10: {ID: 10, Username: "alice"}, 11: {ID: 11, Username: "bob", Blocked: true}},
		pats: map[int64]*token.PersonalToken{
			20: {ID: 20, UserID: 10},
			21: {ID: 21, UserID: 10, Revoked: true},
			22: {ID: 22, UserID: 10, ExpiresAt: &yesterday},
			23: {ID: 23, UserID: 12}, // someone else's
		},
	}
	for _, c := range []struct {
		name string
		ids  access.CredentialIDs
		want access.PrincipalKind
		err  error
	}{
		{"ok/anonymous", access.CredentialIDs{}, access.Anonymous, nil},
		{"ok/deploy token", access.CredentialIDs{DeployToken: 1, DeployTokenBinding: bound}, access.DeployTokenPrincipal, nil},
		{"ok/deploy token expiring tomorrow", access.CredentialIDs{DeployToken: 4, DeployTokenBinding: bound}, access.DeployTokenPrincipal, nil},
		{"ok/rotated deploy token, new secret", access.CredentialIDs{DeployToken: 5, DeployTokenBinding: bound}, access.DeployTokenPrincipal, nil},
		{"ok/rotated deploy token, old secret in grace", access.CredentialIDs{DeployToken: 5, DeployTokenBinding: stale}, access.DeployTokenPrincipal, nil},
		{"fail/rotated deploy token, old secret after grace", access.CredentialIDs{DeployToken: 6, DeployTokenBinding: stale}, access.Anonymous, access.ErrInactive},
		{"fail/rotated deploy token, old secret without grace", access.CredentialIDs{DeployToken: 1, DeployTokenBinding: stale}, access.Anonymous, access.ErrInactive},
		{"fail/deploy token without a secret binding", access.CredentialIDs{DeployToken: 1}, access.Anonymous, access.ErrInactive},
		{"ok/user", access.CredentialIDs{User: 10}, access.UserPrincipal, nil},
		{"ok/user with personal token", access.CredentialIDs{User: 10, PersonalToken: 20}, access.UserPrincipal, nil},
		{"fail/revoked deploy token", access.CredentialIDs{DeployToken: 2, DeployTokenBinding: bound}, access.Anonymous, access.ErrInactive},
		{"fail/expired deploy token", access.CredentialIDs{DeployToken: 3, DeployTokenBinding: bound}, access.Anonymous, access.ErrInactive},
		{"fail/deleted deploy token", access.CredentialIDs{DeployToken: 9}, access.Anonymous, access.ErrInactive},
		{"fail/blocked user", access.CredentialIDs{User: 11}, access.Anonymous, access.ErrInactive},
		{"fail/deleted user", access.CredentialIDs{User: 19}, access.Anonymous, access.ErrInactive},
		{"fail/revoked personal token", access.CredentialIDs{User: 10, PersonalToken: 21}, access.Anonymous, access.ErrInactive},
		{"fail/expired personal token", access.CredentialIDs{User: 10, PersonalToken: 22}, access.Anonymous, access.ErrInactive},
		{"fail/another user's personal token", access.CredentialIDs{User: 10, PersonalToken: 23}, access.Anonymous, access.ErrInactive},
		{"fail/deleted personal token", access.CredentialIDs{User: 10, PersonalToken: 29}, access.Anonymous, access.ErrInactive},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := access.Recheck(context.Background(), store, now, c.ids)
			if !errors.Is(err, c.err) || c.err == nil && err != nil || p.Kind != c.want {
				t.Fatalf("Recheck(%+v) = %v, %v; want kind %v, error %v", c.ids, p.Kind, err, c.want, c.err)
			}
			if c.ids.PersonalToken != 0 && err == nil && (p.PersonalToken == nil || p.PersonalToken.ID != c.ids.PersonalToken) {
				t.Fatalf("the principal does not carry personal token %d: %+v", c.ids.PersonalToken, p.PersonalToken)
			}
		})
	}

	t.Run("fail/store error is not inactive", func(t *testing.T) {
		broken := &fakeCredentials{err: errors.New("database is down")}
		for _, ids := range []access.CredentialIDs{{DeployToken: 1}, {User: 10}} {
			_, err := access.Recheck(context.Background(), broken, now, ids)
			if err == nil || errors.Is(err, access.ErrInactive) {
				t.Fatalf("Recheck(%+v) with a failing store = %v; want the store's error, not ErrInactive", ids, err)
			}
		}
	})
}
