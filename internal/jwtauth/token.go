package jwtauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Errors of token verification. Their texts say what is wrong with the token, never show it.
var (
	// ErrInvalidToken: the token is malformed, badly signed, expired, or for another audience.
	ErrInvalidToken = errors.New("invalid token")
)

// ResourceActions is one entry of the "access" claim: what the bearer may do to one resource.
type ResourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Claims is the JWT claim set of a registry token (Docker token spec) plus Gatehouse's private
// claims naming the credential behind it, so that the registry can re-check at request time that
// it is still active (revocation takes effect on the next request, not at expiry).
type Claims struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  string            `json:"aud"`
	ExpiresAt int64             `json:"exp"`
	NotBefore int64             `json:"nbf"`
	IssuedAt  int64             `json:"iat"`
	ID        string            `json:"jti"`
	Access    []ResourceActions `json:"access"`

	DeployTokenID int64 `json:"deploy_token_id,omitempty"`
	// DeployTokenSecret is the token.SecretBinding of the deploy-token secret this token was
	// minted with: rotating that secret away ends the token (access.Recheck).
	DeployTokenSecret string `json:"deploy_token_secret,omitempty"`
	UserID            int64  `json:"user_id,omitempty"`
	PersonalTokenID   int64  `json:"personal_token_id,omitempty"`
}

// The jwt.Claims interface, with a plain-string audience (what every Docker registry accepts).
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt), nil }
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error)       { return numericDate(c.IssuedAt), nil }
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error)      { return numericDate(c.NotBefore), nil }
func (c *Claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *Claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings{c.Audience}, nil }

func numericDate(v int64) *jwt.NumericDate {
	if v == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(v, 0))
}

// Allows reports whether the access claim grants action on the resource (typ, name); "*" grants
// every action.
func (c *Claims) Allows(typ, name, action string) bool {
	for _, ra := range c.Access {
		if ra.Type != typ || ra.Name != name {
			continue
		}
		for _, a := range ra.Actions {
			if a == action || a == All {
				return true
			}
		}
	}
	return false
}

// Options configure an Issuer.
type Options struct {
	// Issuer is the "iss" claim; CNCF Distribution's token "issuer" option must equal it.
	Issuer string
	// TTL is the token lifetime (the Docker token spec's expires_in); 5 minutes by default.
	TTL time.Duration
	// Leeway tolerates clock skew between nodes when verifying; 30 seconds by default.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultIssuer is the "iss" of Gatehouse's registry tokens.
const DefaultIssuer = "gatehouse"

// Issuer signs and verifies registry tokens with one Key. It is safe for concurrent use.
type Issuer struct {
	key    *Key
	opts   Options
	method jwt.SigningMethod
	x5c    []string

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*cached

	// issued are this second's tokens (issuedAt, Unix seconds), by what they grant to whom; see
	// Issue.
	issuedMu sync.Mutex
	issuedAt int64
	issued   map[string]Issued
}

// maxIssued bounds the tokens remembered for reuse within one second.
const maxIssued = 4096

type cached struct {
	claims *Claims
	aud    string
}

// maxCached bounds the verified-token cache (a verification costs an ECDSA verify, ~80 µs).
const maxCached = 8192

// NewIssuer returns an Issuer signing with key.
func NewIssuer(key *Key, opts Options) *Issuer {
	if opts.Issuer == "" {
		opts.Issuer = DefaultIssuer
	}
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.Leeway <= 0 {
		opts.Leeway = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Issuer{key: key, opts: opts, method: jwt.SigningMethodES256,
		x5c: []string{base64.StdEncoding.EncodeToString(key.CertificateDER())}, cache: map[[sha256.Size]byte]*cached{},
		issued: map[string]Issued{}}
}

// Key returns the signing key.
func (i *Issuer) Key() *Key { return i.key }

// TTL is the lifetime of issued tokens.
func (i *Issuer) TTL() time.Duration { return i.opts.TTL }

// Issued is a signed token and when it was issued.
type Issued struct {
	Token    string
	IssuedAt time.Time
	TTL      time.Duration
	// answer is the token endpoint's body for it (tokenAnswer), rendered once, since a token is
	// answered again for the rest of its second; nil when it must go through encoding/json.
	answer []byte
}

// Issue signs a token for audience service granting exactly granted to p. granted may be empty
// (a plain "docker login" still gets a token).
//
// A token issued earlier in the same second for the same audience, credential (and deploy-token
// secret) and grant is answered again: its claims would differ only in "jti" ("iat", "nbf" and
// "exp" are whole seconds), and an ECDSA signature costs more than the rest of the request. The
// grant is still decided on every request, and the registry re-checks the credential on every
// use of the token, so reuse changes no answer.
func (i *Issuer) Issue(service string, p access.Principal, granted []ResourceActions) (Issued, error) {
	now := i.opts.Now().Truncate(time.Second)
	key := issuedKey(service, p, granted)
	if t, ok := i.reuse(now.Unix(), key); ok {
		return t, nil
	}
	t, err := i.issue(now, service, p, granted)
	if err == nil {
		i.remember(now.Unix(), key, t)
	}
	return t, err
}

// issuedKey names what a token grants to whom: the audience, the credential (ids and the deploy
// token's secret binding, the subject) and the access claim.
func issuedKey(service string, p access.Principal, granted []ResourceActions) string {
	var b strings.Builder
	b.WriteString(service)
	switch p.Kind {
	case access.DeployTokenPrincipal:
		b.WriteString("\x00d\x00" + strconv.FormatInt(p.DeployToken.ID, 10) + "\x00" + p.DeployToken.Binding())
	case access.UserPrincipal:
		b.WriteString("\x00u\x00" + strconv.FormatInt(p.User.ID, 10) + "\x00" + p.User.Username)
		if p.PersonalToken != nil {
			b.WriteString("\x00" + strconv.FormatInt(p.PersonalToken.ID, 10))
		}
	default:
		b.WriteString("\x00a")
	}
	for _, ra := range granted {
		b.WriteString("\x01" + ra.Type + "\x00" + ra.Name + "\x00" + strings.Join(ra.Actions, ","))
	}
	return b.String()
}

// reuse returns the token issued for key in second sec, if any.
func (i *Issuer) reuse(sec int64, key string) (Issued, bool) {
	i.issuedMu.Lock()
	defer i.issuedMu.Unlock()
	if i.issuedAt != sec {
		return Issued{}, false
	}
	t, ok := i.issued[key]
	return t, ok
}

// remember keeps t for reuse within second sec, forgetting earlier seconds' tokens.
func (i *Issuer) remember(sec int64, key string, t Issued) {
	i.issuedMu.Lock()
	defer i.issuedMu.Unlock()
	if i.issuedAt != sec {
		if sec < i.issuedAt {
			return // a request that read the clock before the second turned
		}
		i.issuedAt = sec
		clear(i.issued)
	}
	if len(i.issued) < maxIssued {
		i.issued[key] = t
	}
}

// issue signs a new token.
func (i *Issuer) issue(now time.Time, service string, p access.Principal, granted []ResourceActions) (Issued, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return Issued{}, err
	}
	if granted == nil {
		granted = []ResourceActions{}
	}
	c := &Claims{Issuer: i.opts.Issuer, Audience: service, IssuedAt: now.Unix(), NotBefore: now.Unix(),
		ExpiresAt: now.Add(i.opts.TTL).Unix(), ID: hex.EncodeToString(jti), Access: granted}
	switch p.Kind {
	case access.DeployTokenPrincipal:
		// The subject is the token's default username, never its custom one: that has a '+',
		// which no user's username can hold, so "sub" cannot name a user (a custom username
		// could equal one created later, or one created before usernames were checked).
		c.Subject, c.DeployTokenID = token.DefaultUsername(p.DeployToken.ID), p.DeployToken.ID
		c.DeployTokenSecret = p.DeployToken.Binding()
	case access.UserPrincipal:
		c.Subject, c.UserID = p.User.Username, p.User.ID
		if p.PersonalToken != nil {
			c.PersonalTokenID = p.PersonalToken.ID
		}
	}
	t := jwt.NewWithClaims(i.method, c)
	t.Header["kid"] = i.key.KeyID()
	t.Header["x5c"] = i.x5c
	s, err := t.SignedString(i.key.private)
	if err != nil {
		return Issued{}, fmt.Errorf("sign token: %w", err)
	}
	out := Issued{Token: s, IssuedAt: now, TTL: i.opts.TTL}
	out.answer = tokenAnswer(out.response())
	return out, nil
}

// Verify checks raw's signature, issuer, audience (service), not-before and expiry (with the
// leeway), and returns its claims. Any failure is ErrInvalidToken. The returned claims are shared:
// callers must not modify them.
func (i *Issuer) Verify(raw, service string) (*Claims, error) {
	now := i.opts.Now()
	sum := sha256.Sum256([]byte(raw))
	i.mu.Lock()
	hit := i.cache[sum]
	i.mu.Unlock()
	if hit != nil {
		if hit.aud != service || now.After(time.Unix(hit.claims.ExpiresAt, 0).Add(i.opts.Leeway)) {
			return nil, fmt.Errorf("%w: expired or for another service", ErrInvalidToken)
		}
		return hit.claims, nil
	}
	c := &Claims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{i.method.Alg()}), jwt.WithIssuer(i.opts.Issuer),
		jwt.WithAudience(service), jwt.WithLeeway(i.opts.Leeway), jwt.WithTimeFunc(i.opts.Now),
		jwt.WithExpirationRequired())
	_, err := p.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != i.key.KeyID() {
			return nil, errors.New("unknown key id")
		}
		return i.key.Public(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, reason(err))
	}
	i.mu.Lock()
	if len(i.cache) >= maxCached {
		for k, v := range i.cache {
			if now.After(time.Unix(v.claims.ExpiresAt, 0)) || len(i.cache) >= maxCached {
				delete(i.cache, k)
			}
		}
	}
	i.cache[sum] = &cached{claims: c, aud: service}
	i.mu.Unlock()
	return c, nil
}

// reason names the kind of verification failure without echoing token content.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "issued for another service"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "unknown issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "rejected"
}

// Now is the issuer's clock.
func (i *Issuer) Now() time.Time { return i.opts.Now() }
