package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/cachebus/redisbus"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// clusterIDSetting names the installation in the settings table; the Redis channel carries it,
// so installations (and tests) sharing one Redis do not hear each other.
const clusterIDSetting = "cluster_id"

// openBus opens the cache bus (docs/architecture.md §4.5): Redis when configured, PostgreSQL
// LISTEN/NOTIFY on PostgreSQL, the in-process bus on SQLite (one node).
func openBus(ctx context.Context, cfg config.Config, store *sqlstore.Stores, log *slog.Logger) (cachebus.Bus, error) {
	switch {
	case cfg.RedisURL != "":
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		id, err := store.Settings.SetSettingIfAbsent(ctx, clusterIDSetting, hex.EncodeToString(b))
		if err != nil {
			return nil, err
		}
		return redisbus.New(ctx, cfg.RedisURL, "gatehouse:cache:"+id, log)
	case cfg.IsPostgres():
		return sqlstore.NewBus(ctx, store.DB, log)
	default:
		return cachebus.NewLocal(), nil
	}
}
