package token

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Owner says whether a deploy token belongs to a project or a group; exactly one ID is set.
type Owner struct {
	ProjectID int64
	GroupID   int64
}

// IsGroup reports whether the owner is a group.
func (o Owner) IsGroup() bool { return o.GroupID != 0 }

// DeployToken is a (username, secret) pair with scopes, owned by one project or group
// (docs/design.md §2.1).
type DeployToken struct {
	ID         int64
	Name       string
	Username   string
	Scopes     Scopes
	ExpiresAt  *time.Time // 00:00 UTC of the expiry date; nil never expires
	Revoked    bool
	CreatedAt  time.Time
	CreatorID  int64
	LastUsedAt *time.Time
	// LastUsedIP is the address of that use; the zero Addr when unknown.
	LastUsedIP netip.Addr
	Owner      Owner
	Digest     []byte
	// SealedSecret is the secret sealed for CI jobs; set only for a token named CITokenName.
	SealedSecret []byte
	// PreviousDigest is the digest of the secret a rotation replaced; it keeps working until
	// PreviousValidUntil (the grace period).
	PreviousDigest     []byte
	PreviousValidUntil *time.Time
	// AuthDigest is the digest of the secret Authenticate matched when that was PreviousDigest,
	// during a rotation's grace period; nil when it matched Digest (Binding then uses Digest).
	// It is not stored; a token read by id has none.
	AuthDigest []byte
	// AllowedIPs, when not empty, are the only networks the token may be used from.
	AllowedIPs []netip.Prefix
}

// SecretBinding names the secret whose digest is digest without revealing either: the first
// 64 bits of the digest's SHA-256, in hex. A registry token carries the binding of the secret it
// was minted with, so a rotation can end it (see BoundTo).
func SecretBinding(digest []byte) string {
	sum := sha256.Sum256(digest)
	return hex.EncodeToString(sum[:8])
}

// Binding is the SecretBinding of the secret t was authenticated with (AuthDigest), or of its
// current secret when t was not read through Authenticate.
func (t *DeployToken) Binding() string {
	if len(t.AuthDigest) > 0 {
		return SecretBinding(t.AuthDigest)
	}
	return SecretBinding(t.Digest)
}

// BoundTo reports whether binding names t's current secret, or the secret a rotation replaced
// while its grace period lasts at now: a credential minted from a secret lives no longer than
// the secret. An empty binding names no secret.
func (t *DeployToken) BoundTo(binding string, now time.Time) bool {
	if binding == "" {
		return false
	}
	if SameDigest([]byte(binding), []byte(SecretBinding(t.Digest))) {
		return true
	}
	return len(t.PreviousDigest) > 0 && t.PreviousValidUntil != nil && now.Before(*t.PreviousValidUntil) &&
		SameDigest([]byte(binding), []byte(SecretBinding(t.PreviousDigest)))
}

// AllowsIP reports whether the token may be used from ip (always, without an allow-list).
func (t *DeployToken) AllowsIP(ip netip.Addr) bool {
	if len(t.AllowedIPs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range t.AllowedIPs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseAllowedIPs parses an IP allow-list: IP addresses or CIDR prefixes, as a list whose items
// may themselves be comma-separated. It fails with a *errkind.ValidationError naming allowed_ips.
func ParseAllowedIPs(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			p, err := netip.ParsePrefix(item)
			if err != nil {
				ip, ierr := netip.ParseAddr(item)
				if ierr != nil {
					return nil, &errkind.ValidationError{Field: "allowed_ips", Reason: fmt.Sprintf("has an entry that is not an IP address or CIDR (%q)", truncateValue(item))}
				}
				p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
			}
			out = append(out, p.Masked())
		}
	}
	if len(out) > 100 {
		return nil, &errkind.ValidationError{Field: "allowed_ips", Reason: "has more than 100 entries"}
	}
	return out, nil
}

func truncateValue(s string) string {
	if len(s) > 50 {
		return s[:50] + "…"
	}
	return s
}

// Expired reports whether the token has reached its expiry instant at now.
func (t *DeployToken) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// Active reports whether the token may be used at now.
func (t *DeployToken) Active(now time.Time) bool { return !t.Revoked && !t.Expired(now) }

// DeployFilter selects deploy tokens for listing. Zero fields select all.
type DeployFilter struct {
	ProjectID int64
	GroupID   int64
	// ActiveAt, when non-zero, keeps only tokens neither revoked nor expired at that instant.
	ActiveAt time.Time
}

// DeployStore is the persistence the deploy-token service needs.
type DeployStore interface {
	// CreateDeployToken inserts t, assigning ID and, when Username is empty, DefaultUsername(ID);
	// returns errkind.ErrConflict for a custom username that is, case-insensitively, a user's.
	// Custom usernames are not unique among tokens (as in GitLab): the secret finds the token.
	CreateDeployToken(ctx context.Context, t *DeployToken) error
	// DeployToken returns the token with id, or errkind.ErrNotFound.
	DeployToken(ctx context.Context, id int64) (*DeployToken, error)
	// DeployTokenByDigest returns the token whose secret digests to digest, or errkind.ErrNotFound.
	// The token may be shared with other callers (a read cache): callers must not change it.
	DeployTokenByDigest(ctx context.Context, digest []byte) (*DeployToken, error)
	// ListDeployTokens returns the tokens matching f, by id.
	ListDeployTokens(ctx context.Context, f DeployFilter) ([]*DeployToken, error)
	// RevokeDeployToken marks the token revoked; errkind.ErrNotFound if absent.
	RevokeDeployToken(ctx context.Context, id int64) error
	// DeleteDeployToken removes the token; errkind.ErrNotFound if absent.
	DeleteDeployToken(ctx context.Context, id int64) error
	// DeployTokenUsage returns token id's counters for the days from..to (both included, UTC
	// dates), oldest first; days without requests are absent.
	DeployTokenUsage(ctx context.Context, id int64, from, to time.Time) ([]DailyUsage, error)
	// RotateDeployToken stores t's new Digest, SealedSecret, PreviousDigest and
	// PreviousValidUntil; errkind.ErrNotFound if the token is absent or revoked.
	RotateDeployToken(ctx context.Context, t *DeployToken) error
}

// CreateDeployInput is what a creator supplies.
type CreateDeployInput struct {
	Name      string
	Username  string
	Scopes    []string
	ExpiresAt string // "", YYYY-MM-DD or RFC 3339
	Owner     Owner
	CreatorID int64
	// AllowedIPs is the optional IP allow-list (IPs or CIDRs).
	AllowedIPs []string
}

// DeployService creates, checks and revokes deploy tokens.
type DeployService struct {
	store    DeployStore
	digester *Digester
	now      func() time.Time
	// sealer keeps the CI token's secret readable (docs/design.md §3.3); nil disables that.
	sealer *Sealer
}

// DailyUsage is how many requests one deploy token authenticated on one UTC day.
type DailyUsage struct {
	TokenID  int64
	Day      time.Time // 00:00 UTC
	Requests int64
}

// NewDeployService returns a service over store; now may be nil for time.Now. Uses are recorded
// by a UsageWriter.
func NewDeployService(store DeployStore, d *Digester, now func() time.Time) *DeployService {
	if now == nil {
		now = time.Now
	}
	return &DeployService{store: store, digester: d, now: now}
}

// Create validates in and stores a new token, returning it with its secret. The secret is
// never stored or returned again.
func (s *DeployService) Create(ctx context.Context, in CreateDeployInput) (*DeployToken, Secret, error) {
	now := s.now()
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, Secret{}, &errkind.ValidationError{Field: "name", Reason: "is missing"}
	}
	if len(name) > 255 {
		return nil, Secret{}, &errkind.ValidationError{Field: "name", Reason: "is too long (maximum is 255 characters)"}
	}
	scopes, err := ParseScopes(in.Scopes, DeployScopes)
	if err != nil {
		return nil, Secret{}, err
	}
	exp, err := ParseExpiryDate(in.ExpiresAt)
	if err != nil {
		return nil, Secret{}, err
	}
	username := strings.TrimSpace(in.Username)
	if username != "" {
		if err := ValidateUsername(username); err != nil {
			return nil, Secret{}, err
		}
	}
	allowed, err := ParseAllowedIPs(in.AllowedIPs)
	if err != nil {
		return nil, Secret{}, err
	}
	if (in.Owner.ProjectID == 0) == (in.Owner.GroupID == 0) {
		return nil, Secret{}, fmt.Errorf("create deploy token: exactly one owner required: %w", errkind.ErrInvalid)
	}
	secret, err := GenerateSecret(DeployTokenPrefix)
	if err != nil {
		return nil, Secret{}, err
	}
	t := &DeployToken{Name: name, Username: username, Scopes: scopes, ExpiresAt: exp,
		CreatedAt: now, CreatorID: in.CreatorID, Owner: in.Owner, Digest: s.digester.Digest(secret), AllowedIPs: allowed}
	if name == CITokenName && s.sealer != nil {
		// Bound to the digest, so a sealed secret copied onto another row does not open.
		if t.SealedSecret, err = s.sealer.Seal([]byte(secret.Reveal()), t.Digest); err != nil {
			return nil, Secret{}, err
		}
	}
	if err := s.store.CreateDeployToken(ctx, t); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return nil, Secret{}, &errkind.ValidationError{Field: "username", Reason: "has already been taken"}
		}
		return nil, Secret{}, fmt.Errorf("create deploy token: %w", err)
	}
	return t, secret, nil
}

// Authenticate returns the token whose secret is secret and, when checkUsername is set, whose
// username is username. It returns errkind.ErrNotFound for an unknown secret or a wrong username, and the
// token itself (with a nil error) when it is revoked or expired, so the caller can say which.
// The token may be shared with other callers, as DeployStore.DeployTokenByDigest's: read-only.
func (s *DeployService) Authenticate(ctx context.Context, username string, secret Secret, checkUsername bool) (*DeployToken, error) {
	if !secret.HasPrefix(DeployTokenPrefix) {
		return nil, errkind.ErrNotFound
	}
	digest := s.digester.Digest(secret)
	t, err := s.store.DeployTokenByDigest(ctx, digest)
	if err != nil {
		return nil, err
	}
	// The lookup is by keyed digest; compare again in constant time so a store that matched
	// loosely can never admit a wrong secret. A secret replaced by a rotation works until the
	// end of its grace period.
	current := SameDigest(digest, t.Digest)
	if !current {
		if len(t.PreviousDigest) == 0 || !SameDigest(digest, t.PreviousDigest) ||
			t.PreviousValidUntil == nil || !s.now().Before(*t.PreviousValidUntil) {
			return nil, errkind.ErrNotFound
		}
	}
	if checkUsername && t.Username != username {
		return nil, errkind.ErrNotFound
	}
	if current {
		// The stored token as is, shared: no copy (its 300 bytes were a tenth of what an
		// authenticated download allocated), and Binding names its current secret.
		return t, nil
	}
	// The stored token may be shared (DeployTokenByDigest): AuthDigest goes on a copy, which
	// shares the rest, never written either.
	c := *t
	c.AuthDigest = digest
	return &c, nil
}

// MaxUsageDays bounds the range Usage returns.
const MaxUsageDays = 366

// DefaultUsageDays is the range shown when a caller asks for none: the API without ?days= and
// the web UI's usage view.
const DefaultUsageDays = 30

// Usage returns token id's requests per UTC day for the days days ending today, oldest first,
// with a zero entry for each day without requests. Counts reach the store in batches, so the
// last few seconds of use may be missing. days outside 1..MaxUsageDays is a *errkind.ValidationError.
func (s *DeployService) Usage(ctx context.Context, id int64, days int) ([]DailyUsage, error) {
	if days < 1 || days > MaxUsageDays {
		return nil, &errkind.ValidationError{Field: "days", Reason: fmt.Sprintf("must be between 1 and %d", MaxUsageDays)}
	}
	to := ExpiryDate(s.now())
	from := to.AddDate(0, 0, 1-days)
	stored, err := s.store.DeployTokenUsage(ctx, id, from, to)
	if err != nil {
		return nil, err
	}
	byDay := make(map[time.Time]int64, len(stored))
	for _, u := range stored {
		byDay[ExpiryDate(u.Day)] += u.Requests
	}
	out := make([]DailyUsage, 0, days)
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		out = append(out, DailyUsage{TokenID: id, Day: d, Requests: byDay[d]})
	}
	return out, nil
}

// Get returns a token by id.
func (s *DeployService) Get(ctx context.Context, id int64) (*DeployToken, error) {
	return s.store.DeployToken(ctx, id)
}

// List returns tokens matching f.
func (s *DeployService) List(ctx context.Context, f DeployFilter) ([]*DeployToken, error) {
	return s.store.ListDeployTokens(ctx, f)
}

// Revoke marks a token revoked; it stops working at once.
func (s *DeployService) Revoke(ctx context.Context, id int64) error {
	return s.store.RevokeDeployToken(ctx, id)
}

// Delete destroys a token (the API's DELETE, docs/design.md §2.7).
func (s *DeployService) Delete(ctx context.Context, id int64) error {
	return s.store.DeleteDeployToken(ctx, id)
}

// MaxRotationGrace bounds how long a replaced secret may keep working.
const MaxRotationGrace = 7 * 24 * time.Hour

// RotationGrace turns a grace period in whole seconds (the API's grace_period, the web UI's
// choice) into a duration for Rotate. Outside 0..MaxRotationGrace, including values whose
// duration would overflow, it fails with a *errkind.ValidationError naming grace_period.
func RotationGrace(seconds int64) (time.Duration, error) {
	if seconds < 0 || seconds > int64(MaxRotationGrace/time.Second) {
		return 0, &errkind.ValidationError{Field: "grace_period", Reason: "must be between 0 and 7 days"}
	}
	return time.Duration(seconds) * time.Second, nil
}

// Rotate gives token id a new secret, keeping its id, username, scopes and expiry. The old
// secret keeps working for grace (0: it stops at once). A revoked or expired token cannot be
// rotated (*errkind.ValidationError); errkind.ErrNotFound if absent.
func (s *DeployService) Rotate(ctx context.Context, id int64, grace time.Duration) (*DeployToken, Secret, error) {
	if grace < 0 || grace > MaxRotationGrace {
		return nil, Secret{}, &errkind.ValidationError{Field: "grace_period", Reason: "must be between 0 and 7 days"}
	}
	t, err := s.store.DeployToken(ctx, id)
	if err != nil {
		return nil, Secret{}, err
	}
	now := s.now()
	if !t.Active(now) {
		return nil, Secret{}, &errkind.ValidationError{Field: "token", Reason: "is revoked or expired and cannot be rotated"}
	}
	secret, err := GenerateSecret(DeployTokenPrefix)
	if err != nil {
		return nil, Secret{}, err
	}
	old := t.Digest
	t.Digest, t.SealedSecret, t.PreviousDigest, t.PreviousValidUntil = s.digester.Digest(secret), nil, nil, nil
	if grace > 0 {
		until := now.Add(grace)
		t.PreviousDigest, t.PreviousValidUntil = old, &until
	}
	if t.Name == CITokenName && s.sealer != nil {
		if t.SealedSecret, err = s.sealer.Seal([]byte(secret.Reveal()), t.Digest); err != nil {
			return nil, Secret{}, err
		}
	}
	if err := s.store.RotateDeployToken(ctx, t); err != nil {
		return nil, Secret{}, err
	}
	return t, secret, nil
}

// CITokenName is the name of the deploy token handed to CI jobs as CI_DEPLOY_USER and
// CI_DEPLOY_PASSWORD (docs/design.md §3).
const CITokenName = "gitlab-deploy-token"

// SealCITokens makes the service keep the secret of every new CITokenName token sealed with
// sealer, so CITokenFor can hand it to CI jobs. Every other token stays digest-only.
func (s *DeployService) SealCITokens(sealer *Sealer) { s.sealer = sealer }

// CITokenFor returns the CI token a project's jobs get, with its secret: the project's own
// active gitlab-deploy-token if it has one, else one of the group the project is directly in
// (never one of a group further up, docs/design.md §3.1). errkind.ErrNotFound when there is none.
func (s *DeployService) CITokenFor(ctx context.Context, projectID, parentGroupID int64) (*DeployToken, Secret, error) {
	if s.sealer == nil {
		return nil, Secret{}, errkind.ErrNotFound
	}
	now := s.now()
	owners := []DeployFilter{{ProjectID: projectID, ActiveAt: now}}
	if parentGroupID != 0 {
		owners = append(owners, DeployFilter{GroupID: parentGroupID, ActiveAt: now})
	}
	for _, f := range owners {
		list, err := s.store.ListDeployTokens(ctx, f)
		if err != nil {
			return nil, Secret{}, err
		}
		// The newest active one wins when there are several.
		for i := len(list) - 1; i >= 0; i-- {
			t := list[i]
			if t.Name != CITokenName || len(t.SealedSecret) == 0 || !t.Active(now) {
				continue
			}
			raw, err := s.sealer.Open(t.SealedSecret, t.Digest)
			if err != nil {
				return nil, Secret{}, fmt.Errorf("CI token %d: %w", t.ID, err)
			}
			return t, NewSecret(string(raw)), nil
		}
	}
	return nil, Secret{}, errkind.ErrNotFound
}

// Now returns the service clock's current time.
func (s *DeployService) Now() time.Time { return s.now() }
