package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The ban identities (docs/design.md §7.2): what a ban.Limiter counts failures under besides the
// address.

// UserIdentity is the ban identity of a password attempt for username (case-insensitive, as
// usernames are).
func UserIdentity(username string) string {
	if username == "" {
		return ""
	}
	return "user:" + strings.ToLower(username)
}

// SecretIdentity is the ban identity of a presented token secret: a prefix of its SHA-256, so
// one token's failures count together while the limiter never holds the secret. A token has
// one secret, so this is the token's identity whether or not it exists.
func SecretIdentity(s token.Secret) string {
	if s.IsZero() {
		return ""
	}
	// Copied to the stack first: []byte(s.Reveal()) would be a heap copy of the secret.
	var buf [smallAuthHeader]byte
	var sum [sha256.Size]byte
	if v := s.Reveal(); len(v) <= len(buf) {
		sum = sha256.Sum256(buf[:copy(buf[:], v)])
		clear(buf[:len(v)])
	} else {
		sum = sha256.Sum256([]byte(v))
	}
	// Built in one buffer: this runs on every authenticated request.
	var b [len("secret:") + 16]byte
	copy(b[:], "secret:")
	hex.Encode(b[len("secret:"):], sum[:8])
	return string(b[:])
}

// identity is the ban identity of basic-auth credentials: the token when the secret is one,
// otherwise the username the password is for.
func identity(username string, secret token.Secret) string {
	if secret.HasPrefix(token.DeployTokenPrefix) || secret.HasPrefix(token.PersonalTokenPrefix) {
		return SecretIdentity(secret)
	}
	return UserIdentity(username)
}
