// Package token holds Gatehouse's machine and personal credentials: deploy tokens and personal
// access tokens, their scopes, expiry, secrets and digests. It knows nothing of HTTP or SQL.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Scope is one deploy-token or personal-access-token permission.
type Scope string

// The seven deploy-token scopes (docs/design.md §2.3).
const (
	ReadRepository       Scope = "read_repository"
	ReadRegistry         Scope = "read_registry"
	WriteRegistry        Scope = "write_registry"
	ReadVirtualRegistry  Scope = "read_virtual_registry"
	WriteVirtualRegistry Scope = "write_virtual_registry"
	ReadPackageRegistry  Scope = "read_package_registry"
	WritePackageRegistry Scope = "write_package_registry"
)

// Personal-access-token-only scopes (docs/design.md §1.3).
const (
	API     Scope = "api"
	ReadAPI Scope = "read_api"
	// ReadUser reads the token owner's profile and users' public ones (GitLab's read_user):
	// GET /user and /users.
	ReadUser        Scope = "read_user"
	WriteRepository Scope = "write_repository"
)

// DeployScopes lists the scopes a deploy token may carry, in GitLab's order (its
// DeployToken::AVAILABLE_SCOPES), which is also the order every listing renders them in.
var DeployScopes = []Scope{ReadRepository, ReadRegistry, WriteRegistry, ReadPackageRegistry,
	WritePackageRegistry, ReadVirtualRegistry, WriteVirtualRegistry}

// scopeOrder ranks every scope for rendering: GitLab's order of personal-access-token scopes,
// which lists the deploy-token scopes in DeployScopes' order.
var scopeOrder = func() map[Scope]int {
	m := map[Scope]int{}
	for i, s := range []Scope{API, ReadAPI, ReadUser, ReadRepository, WriteRepository, ReadRegistry, WriteRegistry,
		ReadPackageRegistry, WritePackageRegistry, ReadVirtualRegistry, WriteVirtualRegistry} {
		m[s] = i
	}
	return m
}()

// rank is s's place in scopeOrder; unknown scopes come last.
func rank(s Scope) int {
	if i, ok := scopeOrder[s]; ok {
		return i
	}
	return len(scopeOrder)
}

// PersonalScopes lists the scopes a personal access token may carry.
var PersonalScopes = []Scope{API, ReadAPI, ReadUser, ReadRepository, WriteRepository, ReadRegistry,
	WriteRegistry, ReadPackageRegistry, WritePackageRegistry}

// Scopes is a set of scopes kept sorted and free of duplicates.
type Scopes []Scope

// Has reports whether s contains scope.
func (s Scopes) Has(scope Scope) bool {
	for _, x := range s {
		if x == scope {
			return true
		}
	}
	return false
}

// HasAny reports whether s contains any of the given scopes.
func (s Scopes) HasAny(scopes ...Scope) bool {
	for _, x := range scopes {
		if s.Has(x) {
			return true
		}
	}
	return false
}

// Strings returns the scopes as plain strings in GitLab's order, however they were stored (a
// token created before Gatehouse followed that order keeps its stored order).
func (s Scopes) Strings() []string {
	sorted := slices.Clone(s)
	slices.SortStableFunc(sorted, func(a, b Scope) int { return rank(a) - rank(b) })
	out := make([]string, len(sorted))
	for i, x := range sorted {
		out[i] = string(x)
	}
	return out
}

// ParseScopes validates names against allowed and returns them as a normalised set. It fails
// with a *errkind.ValidationError for an empty list or an unknown name.
func ParseScopes(names []string, allowed []Scope) (Scopes, error) {
	if len(names) == 0 {
		return nil, &errkind.ValidationError{Field: "scopes", Reason: "is empty"}
	}
	seen := map[Scope]bool{}
	var out Scopes
	for _, n := range names {
		sc := Scope(strings.TrimSpace(n))
		ok := false
		for _, a := range allowed {
			if a == sc {
				ok = true
				break
			}
		}
		if !ok {
			return nil, &errkind.ValidationError{Field: "scopes", Reason: fmt.Sprintf("does not have a valid value (unknown scope %q)", n)}
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	slices.SortStableFunc(out, func(a, b Scope) int { return rank(a) - rank(b) })
	return out, nil
}

// Secret is a credential value. It never prints itself: String, GoString, MarshalText, MarshalJSON
// and slog all show "[REDACTED]"; Reveal is the only way to read it. The value sits behind a
// pointer so that where fmt cannot call those methods (a Secret in an unexported struct field)
// it prints an address, not the value.
type Secret struct{ v *string }

// NewSecret wraps a raw credential value.
func NewSecret(v string) Secret { return Secret{v: &v} }

// Reveal returns the raw value, for the one response that must show it and for digesting.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

const redacted = "[REDACTED]"

func (Secret) String() string                 { return redacted }
func (Secret) GoString() string               { return redacted }
func (Secret) MarshalText() ([]byte, error)   { return []byte(redacted), nil }
func (Secret) MarshalJSON() ([]byte, error)   { return []byte(`"` + redacted + `"`), nil }
func (Secret) LogValue() slog.Value           { return slog.StringValue(redacted) }
func (s Secret) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (s Secret) HasPrefix(prefix string) bool { return strings.HasPrefix(s.Reveal(), prefix) }

// Secret prefixes recognised by secret scanners (docs/design.md §1.3, §2.5).
const (
	DeployTokenPrefix   = "gldt-"
	PersonalTokenPrefix = "glpat-"
)

// secretBytes is the random part of every generated secret: 24 bytes = 192 bits (≥ 160 required).
const secretBytes = 24

// GenerateSecret returns prefix followed by 192 bits from crypto/rand, base64url-encoded.
func GenerateSecret(prefix string) (Secret, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return Secret{}, fmt.Errorf("generate secret: %w", err)
	}
	return NewSecret(prefix + base64.RawURLEncoding.EncodeToString(b)), nil
}

// Digester computes the keyed digest under which secrets are stored and looked up.
type Digester struct {
	key []byte
	// macs pools keyed HMACs (*pooledMAC): keying one costs as much as digesting a short
	// secret, and every authenticated request digests one.
	macs sync.Pool
}

// pooledMAC is a keyed HMAC with a buffer the secret is copied into: writing the secret as
// []byte(string) would allocate a copy on every digest.
type pooledMAC struct {
	h   hash.Hash
	buf []byte
}

// NewDigester returns a Digester keyed with the instance secret.
func NewDigester(key []byte) *Digester {
	k := make([]byte, len(key))
	copy(k, key)
	d := &Digester{key: k}
	d.macs.New = func() any { return &pooledMAC{h: hmac.New(sha256.New, d.key)} }
	return d
}

// Digest returns HMAC-SHA-256(key, secret).
func (d *Digester) Digest(s Secret) []byte {
	m := d.macs.Get().(*pooledMAC)
	m.h.Reset()
	m.buf = append(m.buf[:0], s.Reveal()...)
	m.h.Write(m.buf)
	clear(m.buf) // the pool keeps no secret
	sum := m.h.Sum(make([]byte, 0, sha256.Size))
	d.macs.Put(m)
	return sum
}

// Matches reports in constant time whether s digests to digest.
func (d *Digester) Matches(s Secret, digest []byte) bool {
	return SameDigest(d.Digest(s), digest)
}

// SameDigest reports in constant time whether two digests are equal.
func SameDigest(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// ExpiryDate normalises an expiry to 00:00:00 UTC of its date in UTC (docs/design.md §2.6).
func ExpiryDate(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

// ParseExpiry parses "YYYY-MM-DD" or an RFC 3339 time into a normalised expiry date. An empty string
// means no expiry (nil). A date that is today or earlier (already expired at now) is rejected.
func ParseExpiry(s string, now time.Time) (*time.Time, error) {
	d, err := ParseExpiryDate(s)
	if err != nil || d == nil {
		return d, err
	}
	if !now.Before(*d) {
		return nil, &errkind.ValidationError{Field: "expires_at", Reason: "must be in the future"}
	}
	return d, nil
}

// ParseExpiryDate is ParseExpiry without the check against now: GitLab checks only the format
// of a deploy token's expires_at, so a past date creates a token that is already expired.
func ParseExpiryDate(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var t time.Time
	var err error
	if len(s) == len("2006-01-02") {
		t, err = time.Parse("2006-01-02", s)
	} else {
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// GitLab also accepts a date-time without zone, meaning UTC.
			t, err = time.Parse("2006-01-02T15:04:05", s)
		}
	}
	if err != nil {
		return nil, &errkind.ValidationError{Field: "expires_at", Reason: "is invalid (use YYYY-MM-DD or an RFC 3339 time)"}
	}
	d := ExpiryDate(t)
	return &d, nil
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,255}$`)

// DefaultUsernamePrefix is followed by the token's id to form the default deploy-token username.
const DefaultUsernamePrefix = "gitlab+deploy-token-"

// DefaultUsername is the username of deploy token id created without one, GitLab's
// gitlab+deploy-token-{id} (docs/design.md §2.4). The store assigns it once the id is known, and
// keeps it: a token created before keeps the name it was given.
func DefaultUsername(id int64) string { return DefaultUsernamePrefix + strconv.FormatInt(id, 10) }

// ValidateUsername checks a custom deploy-token username (docs/design.md §2.4). The default-name
// prefix is reserved so a custom name can never take the username a later token will be given.
func ValidateUsername(u string) error {
	if !usernameRE.MatchString(u) {
		return &errkind.ValidationError{Field: "username", Reason: "can contain only letters, digits, '_', '-', '+', and '.'"}
	}
	if strings.HasPrefix(u, DefaultUsernamePrefix) {
		return &errkind.ValidationError{Field: "username", Reason: "must not start with " + DefaultUsernamePrefix}
	}
	return nil
}
