package proxy

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// settingTTL is how long a group's setting is remembered: a second, so a change made on
// another node takes effect within one (the same node forgets it at once).
const settingTTL = time.Second

// settingTimeout bounds the store read behind Enabled, which has no context of its own.
const settingTimeout = 5 * time.Second

// Settings are the groups' dependency-proxy settings (enabled unless turned off), read through
// a one-second cache. It is safe for concurrent use.
type Settings struct {
	store SettingsStore
	now   func() time.Time
	log   *slog.Logger
	bus   cachebus.Bus
	cache *cachebus.Cache[int64, bool] // group id → enabled
}

// NewSettings returns the settings over store; now may be nil for time.Now.
func NewSettings(store SettingsStore, now func() time.Time, log *slog.Logger) *Settings {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Settings{store: store, now: now, log: log,
		cache: cachebus.NewCache[int64, bool](cachebus.CacheOptions{TTL: settingTTL, Now: now})}
}

// Follow makes the settings follow bus (topic cachebus.DependencyProxy): a change on any node
// is forgotten everywhere, and nothing is answered from memory while the bus is down. Call it
// before serving.
func (s *Settings) Follow(bus cachebus.Bus) {
	s.bus = bus
	s.cache.Follow(bus, cachebus.DependencyProxy, func(key string) (int64, bool) {
		id, err := strconv.ParseInt(key, 10, 64)
		return id, err == nil
	})
}

// Enabled reports whether g's proxy is on; it is access.Options.DependencyProxyEnabled. That
// hook cannot return an error, so a store failure is logged and answered "off": the proxy
// refuses rather than guesses.
func (s *Settings) Enabled(g *namespace.Group) bool {
	ctx, cancel := context.WithTimeout(context.Background(), settingTimeout)
	defer cancel()
	on, err := s.GroupEnabled(ctx, g.ID)
	if err != nil {
		s.log.Error("read dependency proxy setting; refusing", "group_id", g.ID, "err", err.Error())
		return false
	}
	return on
}

// GroupEnabled reports whether the proxy of group groupID is on.
func (s *Settings) GroupEnabled(ctx context.Context, groupID int64) (bool, error) {
	return s.cache.Load(ctx, groupID, func(ctx context.Context) (bool, error) {
		return s.store.DependencyProxyEnabled(ctx, groupID)
	})
}

// SetEnabled turns the proxy of group groupID on or off.
func (s *Settings) SetEnabled(ctx context.Context, groupID int64, enabled bool) error {
	err := s.store.SetDependencyProxyEnabled(ctx, groupID, enabled, s.now())
	s.cache.Forget(groupID)
	if err == nil && s.bus != nil {
		if perr := s.bus.Publish(ctx, cachebus.DependencyProxy, strconv.FormatInt(groupID, 10)); perr != nil {
			s.log.ErrorContext(ctx, "publish dependency proxy setting change", "group_id", groupID, "err", perr.Error())
		}
	}
	return err
}

// Purge removes everything the proxy of group groupID has cached (the bytes go with the next
// garbage collection).
func (s *Settings) Purge(ctx context.Context, groupID int64) error {
	return s.store.PurgeDependencyProxy(ctx, groupID)
}
