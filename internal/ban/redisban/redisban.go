// Package redisban keeps the failed-authentication ban's windows in Redis, shared by every node
// (docs/design.md §7.6), when GATEHOUSE_REDIS_URL is set. Each window is updated by one Lua
// script, atomic in Redis; a window's keys share a hash tag, so each script touches one slot.
// Times are Unix microseconds, which Lua's numbers hold exactly; the keys' TTLs only clean up,
// the stored times decide.
package redisban

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
)

// Store is a ban.Store over Redis.
type Store struct {
	c      *redis.Client
	prefix string
}

var _ ban.Store = (*Store)(nil)

// DefaultPrefix starts every key the ban writes.
const DefaultPrefix = "gatehouse:ban:"

// Open connects to the Redis at url (redis://[:password@]host:port/db) and checks it answers.
// prefix starts every key ("" means DefaultPrefix).
func Open(ctx context.Context, url, prefix string) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: the error names the setting, never the value.
		return nil, fmt.Errorf("redis_url: not a valid Redis URL")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{c: redis.NewClient(opts), prefix: prefix}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.c.Ping(pctx).Err(); err != nil {
		_ = s.c.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.c.Close() }

// keys are a window's failures (a sorted set scored by time) and its ban's end.
func (s *Store) keys(key string) (failures, banned string) {
	tag := s.prefix + "{" + key + "}"
	return tag + ":f", tag + ":b"
}

func addrKey(addr netip.Prefix) string { return "addr:" + addr.String() }
func identityKey(id string) string     { return "id:" + id }

// Banned reports whether addr, or identity when not "", is banned at now.
func (s *Store) Banned(ctx context.Context, addr netip.Prefix, identity string, now time.Time) (bool, error) {
	_, ab := s.keys(addrKey(addr))
	var ib string
	if identity != "" {
		_, ib = s.keys(identityKey(identity))
	}
	pipe := s.c.Pipeline()
	a := pipe.Get(ctx, ab)
	var i *redis.StringCmd
	if ib != "" {
		i = pipe.Get(ctx, ib)
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	at := now.UnixMicro()
	for _, c := range []*redis.StringCmd{a, i} {
		if c == nil {
			continue
		}
		until, err := c.Int64()
		switch {
		case err == redis.Nil: // no ban
		case err != nil:
			return false, fmt.Errorf("ban: %w", err)
		case at < until:
			return true, nil
		}
	}
	return false, nil
}

// failScript applies one failure to a window (docs/design.md §7.2). KEYS: failures, ban. ARGV:
// now, cut, until, max, window ms, duration ms, member. It returns 1 when banned afterwards.
var failScript = redis.NewScript(`
local at = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[7])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[6])
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
local u = tonumber(redis.call('GET', KEYS[2]) or '0')
if at < u then return 1 end
return 0
`)

// Fail records the failure in addr's window and identity's.
func (s *Store) Fail(ctx context.Context, addr netip.Prefix, identity string, now time.Time, r ban.Rule) (bool, error) {
	member := memberID() + identity
	args := []any{now.UnixMicro(), now.Add(-r.Window).UnixMicro(), now.Add(r.Duration).UnixMicro(), r.MaxFailures,
		max(r.Window.Milliseconds(), 1), max(r.Duration.Milliseconds(), 1), member}
	keys := []string{addrKey(addr)}
	if identity != "" {
		keys = append(keys, identityKey(identity))
	}
	banned := false
	for _, k := range keys {
		f, b := s.keys(k)
		n, err := failScript.Run(ctx, s.c, []string{f, b}, args...).Int()
		if err != nil {
			return false, fmt.Errorf("ban: %w", err)
		}
		banned = banned || n == 1
	}
	return banned, nil
}

// memberLen is the length of memberID's prefix of a failure's member; the identity follows it.
const memberLen = 16

// memberID makes a failure's member unique (two failures in one microsecond both count).
func memberID() string {
	b := make([]byte, memberLen/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// forgetTaggedScript removes a window's failures of one identity. KEYS: failures. ARGV:
// identity, the member prefix's length.
var forgetTaggedScript = redis.NewScript(`
local n = tonumber(ARGV[2]) + 1
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(m, n) == ARGV[1] then redis.call('ZREM', KEYS[1], m) end
end
return 0
`)

// forgetScript removes a window's failures unless it is banned. KEYS: failures, ban. ARGV: now.
var forgetScript = redis.NewScript(`
local u = tonumber(redis.call('GET', KEYS[2]) or '0')
if not (tonumber(ARGV[1]) < u) then redis.call('DEL', KEYS[1]) end
return 0
`)

// Forgive forgets identity's failures: its window unless it is banned, and those it made from
// addr.
func (s *Store) Forgive(ctx context.Context, addr netip.Prefix, identity string, now time.Time) error {
	af, _ := s.keys(addrKey(addr))
	if err := forgetTaggedScript.Run(ctx, s.c, []string{af}, identity, memberLen).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("ban: %w", err)
	}
	f, b := s.keys(identityKey(identity))
	if err := forgetScript.Run(ctx, s.c, []string{f, b}, now.UnixMicro()).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("ban: %w", err)
	}
	return nil
}
