package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// tokenTTL bounds how long a deploy token is answered from memory should a notification be
// lost while the bus reports itself healthy.
const tokenTTL = time.Second

// deployTokens is the deploy-token store on PostgreSQL (docs/architecture.md §4.5): the token
// store, with the rows every authenticated request reads (by secret digest, and by id for the
// registry's recheck through credentials) remembered in cachebus caches that follow the topic cachebus.Tokens. Each
// revocation, rotation or deletion forgets here at once and publishes the token's id after it
// committed, so this node refuses the very next request and every other node as soon as the
// notification arrives; while the bus is down nothing is answered from memory. Misses are not
// remembered, so a new token works at once. Keys are keyed digests, never secrets. (SQLite
// has its own commit-aware read cache, §4.4.)
type deployTokens struct {
	*sqlstore.TokenStore
	bus      cachebus.Bus
	log      *slog.Logger
	byDigest *cachebus.Cache[string, *token.DeployToken]
	byID     *cachebus.Cache[int64, *token.DeployToken]
}

var _ token.DeployStore = (*deployTokens)(nil)

func newDeployTokens(store *sqlstore.TokenStore, bus cachebus.Bus, log *slog.Logger, now func() time.Time) *deployTokens {
	opts := cachebus.CacheOptions{TTL: tokenTTL, Max: 16384, Now: now}
	d := &deployTokens{TokenStore: store, bus: bus, log: log,
		byDigest: cachebus.NewCache[string, *token.DeployToken](opts),
		byID:     cachebus.NewCache[int64, *token.DeployToken](opts)}
	// A token id does not say which digest it had: any change forgets every digest.
	d.byDigest.Follow(bus, cachebus.Tokens, nil)
	d.byID.Follow(bus, cachebus.Tokens, func(key string) (int64, bool) {
		id, err := strconv.ParseInt(key, 10, 64)
		return id, err == nil
	})
	return d
}

// DeployTokenByDigest implements token.DeployStore.
func (d *deployTokens) DeployTokenByDigest(ctx context.Context, digest []byte) (*token.DeployToken, error) {
	// Shared, not copied: the interface's callers do not change it (Authenticate copies when it
	// sets AuthDigest).
	return d.byDigest.Load(ctx, string(digest), func(ctx context.Context) (*token.DeployToken, error) {
		return d.TokenStore.DeployTokenByDigest(ctx, digest)
	})
}

// recheck reads token id for the registry's recheck (credentials). The API and the web UI read
// tokens through DeployToken, uncached, since they show the last use, which the cache does not
// follow.
func (d *deployTokens) recheck(ctx context.Context, id int64) (*token.DeployToken, error) {
	t, err := d.byID.Load(ctx, id, func(ctx context.Context) (*token.DeployToken, error) {
		return d.TokenStore.DeployToken(ctx, id)
	})
	return copyToken(t), err
}

// RevokeDeployToken implements token.DeployStore.
func (d *deployTokens) RevokeDeployToken(ctx context.Context, id int64) error {
	defer d.changed(ctx, id)
	return d.TokenStore.RevokeDeployToken(ctx, id)
}

// DeleteDeployToken implements token.DeployStore.
func (d *deployTokens) DeleteDeployToken(ctx context.Context, id int64) error {
	defer d.changed(ctx, id)
	return d.TokenStore.DeleteDeployToken(ctx, id)
}

// RotateDeployToken implements token.DeployStore.
func (d *deployTokens) RotateDeployToken(ctx context.Context, t *token.DeployToken) error {
	defer d.changed(ctx, t.ID)
	return d.TokenStore.RotateDeployToken(ctx, t)
}

// changed forgets token id on every node (this one before Publish returns), whether or not the
// write succeeded: forgetting too much costs a query. A failed notification is logged; the
// other nodes then go by the TTL.
func (d *deployTokens) changed(ctx context.Context, id int64) {
	key := strconv.FormatInt(id, 10)
	d.byDigest.Clear()
	d.byID.Forget(id)
	if err := d.bus.Publish(context.WithoutCancel(ctx), cachebus.Tokens, key); err != nil {
		d.log.ErrorContext(ctx, "publish deploy token change", "token_id", id, "err", err.Error())
	}
}

// copyToken returns a copy callers may change; the cached token stays as read. Its slices are
// shared and never written.
func copyToken(t *token.DeployToken) *token.DeployToken {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// credentials is access.Credentials with deploy tokens read through the cache.
type credentials struct {
	sqlstore.Credentials
	tokens *deployTokens
}

// DeployToken implements access.Credentials.
func (c credentials) DeployToken(ctx context.Context, id int64) (*token.DeployToken, error) {
	return c.tokens.recheck(ctx, id)
}

var _ access.Credentials = credentials{}
