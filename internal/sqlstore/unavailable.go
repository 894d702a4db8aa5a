package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
	return c.wrap(conn), nil
}

// wrap wraps the connection so that errors meaning PostgreSQL went away under it (the
// connection broke, the server is shutting down or starting up) are ErrUnavailable too: a
// request that was using a pooled connection when PostgreSQL stopped answers 503, not 500.
func (c unavailableConnector) wrap(conn driver.Conn) driver.Conn {
	if _, ok := conn.(pgxConn); ok {
		return unavailableConn{conn}
	}
	return conn // not pgx's: left as it is
}

// pgxConn is what pgx's connections implement and database/sql uses.
type pgxConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
}

// lost reports an error that means the database went away, as opposed to one about the
// statement (a constraint, a syntax error) or the caller giving up (a cancelled context).
func lost(err error) bool {
	if err == nil || errors.Is(err, errkind.ErrUnavailable) || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01–57P05: shutdown, crash, not accepting
		// connections yet, database dropped, idle session timeout.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// mark makes a lost-database error ErrUnavailable, keeping it (and driver.ErrBadConn, which
// database/sql retries on) in the chain.
func mark(err error) error {
	if lost(err) {
		return fmt.Errorf("%w: database: %w", errkind.ErrUnavailable, err)
	}
	return err
}

// unavailableConn is a pgx connection whose lost-database errors are ErrUnavailable.
type unavailableConn struct{ driver.Conn }

func (c unavailableConn) all() pgxConn { return c.Conn.(pgxConn) }

// Unwrap returns pgx's own connection, for code that needs pgx beyond database/sql (COPY).
func (c unavailableConn) Unwrap() driver.Conn { return c.Conn }

func (c unavailableConn) Prepare(query string) (driver.Stmt, error) {
	s, err := c.Conn.Prepare(query)
	return s, mark(err)
}

func (c unavailableConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.all().PrepareContext(ctx, query)
	return s, mark(err)
}

func (c unavailableConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.all().BeginTx(ctx, opts)
	if err != nil {
		return nil, mark(err)
	}
	return unavailableTx{tx}, nil
}

func (c unavailableConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.all().ExecContext(ctx, query, args)
	return r, mark(err)
}

func (c unavailableConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.all().QueryContext(ctx, query, args)
	if err != nil {
		return nil, mark(err)
	}
	return unavailableRows{r}, nil
}

func (c unavailableConn) Ping(ctx context.Context) error { return mark(c.all().Ping(ctx)) }

func (c unavailableConn) CheckNamedValue(v *driver.NamedValue) error {
	return c.all().CheckNamedValue(v)
}

func (c unavailableConn) ResetSession(ctx context.Context) error {
	return c.all().ResetSession(ctx)
}

type unavailableTx struct{ driver.Tx }

func (t unavailableTx) Commit() error   { return mark(t.Tx.Commit()) }
func (t unavailableTx) Rollback() error { return mark(t.Tx.Rollback()) }

// unavailableRows marks errors while reading rows; io.EOF, the end of the rows, stays as it is.
type unavailableRows struct{ driver.Rows }

func (r unavailableRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return mark(err)
}

// The column-type interfaces pgx's rows implement, passed through (database/sql finds them by
// type assertion).
func (r unavailableRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r unavailableRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r unavailableRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r unavailableRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
