package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// connectTimeout bounds opening one PostgreSQL connection, so a request during an outage
// answers 503 instead of hanging (docs/operations.md, "Readiness, shutdown and outages").
const connectTimeout = 5 * time.Second

// openPostgres opens a pool whose failed connection attempts are errkind.ErrUnavailable.
// Connections lost in an outage are replaced by new ones, so the pool recovers by itself.
func openPostgres(url string) (*sql.DB, error) {
	c, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(url)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(unavailableConnector{c}), nil
}

// unavailableConnector marks a connection PostgreSQL did not accept in time as unavailable.
type unavailableConnector struct{ driver.Connector }

func (c unavailableConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: database: %w", errkind.ErrUnavailable, err)
	}
	return conn, nil
}
