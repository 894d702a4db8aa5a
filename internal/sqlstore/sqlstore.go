// Package sqlstore implements every domain store over database/sql, for SQLite (modernc.org/sqlite,
// pure Go) and PostgreSQL (pgx). SQL stays dumb: rows in, rows out; the rules live in the domain.
// Dialect differences (placeholders, error codes, DDL) sit in the dialect struct and migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/gatehouse-dev/gatehouse/internal/access"
)

//go:embed migrations
var migrations embed.FS

// ErrNotFound, ErrConflict: the store's own error kinds; each domain store method translates them
// into the domain's kinds.
var (
	errNoRows    = sql.ErrNoRows
	errUnique    = errors.New("unique violation")
	errReference = errors.New("reference violation")
)

type dialect struct {
	name        string // "sqlite" or "postgres"
	positional  bool   // $1 placeholders
	migrations  string // folder in migrations/
	isUnique    func(error) bool
	isReference func(error) bool
	// nowMicros is the database's clock in Unix microseconds, for times several nodes compare
	// (LockStore), so the nodes' own clocks need not agree.
	nowMicros string
}

var sqliteDialect = dialect{
	name: "sqlite", migrations: "migrations/sqlite",
	isUnique:    func(err error) bool { return strings.Contains(err.Error(), "UNIQUE constraint failed") },
	isReference: func(err error) bool { return strings.Contains(err.Error(), "FOREIGN KEY constraint failed") },
	nowMicros:   `CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)`,
}

var postgresDialect = dialect{
	name: "postgres", positional: true, migrations: "migrations/postgres",
	isUnique:    func(err error) bool { return pgCode(err) == "23505" },
	isReference: func(err error) bool { return pgCode(err) == "23503" },
	nowMicros:   `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)`,
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// conn is what every store shares: one handle, its dialect and the SQLite read cache. DB and
// each domain store embed the same *conn, so the SQL helpers (q, tx, classify, insertID) exist
// once and every store's writes invalidate the one cache.
type conn struct {
	db      *stmtDB
	dialect dialect
	queries sync.Map   // query text → rebound text
	cache   *readCache // SQLite only; nil on PostgreSQL
	url     string     // PostgreSQL only: for the cache bus's own connection
}

// DB is the shared database handle: opening, migrating and closing it. The domain stores built
// over it by New hold the queries.
type DB struct{ *conn }

// Stores are the domain stores over one DB, one type per domain, each holding only its
// domain's methods and satisfying the interface its consumer declares. DB is embedded for
// Close, Migrate, Dialect and SQL.
type Stores struct {
	*DB
	Tokens     *TokenStore     // deploy and personal access tokens, their usage
	Audit      *AuditStore     // audit events
	Namespaces *NamespaceStore // users, groups, projects, members, routes
	Registry   *RegistryStore  // container registry metadata
	Proxy      *ProxyStore     // dependency-proxy cache index and per-group setting
	Packages   *PackageStore   // packages, versions, files, tags
	Settings   *SettingsStore  // instance settings, external authorization, classification labels
	Sessions   *SessionStore   // web sessions
	Expiry     *ExpiryStore    // deploy-token expiry notices
	Leases     *LeaseStore     // the daily jobs' leases
	GC         *GCStore        // garbage collection's deletion fence (and the leases)
	Ban        *BanStore       // the failed-authentication ban's windows, shared by the nodes
	Locks      *LockStore      // named locks shared by the nodes (upload sessions, proxy fetches)
	Variables  *VariableStore  // CI/CD variables of projects and groups (values sealed)
}

// Credentials re-reads the credential behind a bearer token (access.Credentials) for the
// registry's and the dependency proxy's recheck: deploy and personal tokens from the token store,
// users from the namespace store. It is the one reader that spans two domains.
type Credentials struct {
	*TokenStore
	*NamespaceStore
}

var _ access.Credentials = Credentials{}

// Credentials returns the recheck's reader over s's token and namespace stores.
func (s *Stores) Credentials() Credentials { return Credentials{s.Tokens, s.Namespaces} }

// New returns the domain stores over db.
func New(db *DB) *Stores {
	c := db.conn
	leases := &LeaseStore{c}
	return &Stores{DB: db,
		Tokens: &TokenStore{c}, Audit: &AuditStore{c}, Namespaces: &NamespaceStore{c},
		Registry: &RegistryStore{c}, Proxy: &ProxyStore{c}, Packages: &PackageStore{c},
		Settings: &SettingsStore{c}, Sessions: &SessionStore{c}, Expiry: &ExpiryStore{c},
		Leases: leases, GC: &GCStore{leases}, Ban: &BanStore{conn: c},
		Locks: &LockStore{c}, Variables: &VariableStore{c},
	}
}

// maxCachedStmts bounds stmtDB's cache; queries built with a variable number of placeholders
// beyond it run unprepared.
const maxCachedStmts = 512

// stmtDB is the store's handle: a *sql.DB whose QueryContext and QueryRowContext reuse one
// prepared statement per query text when prepare is set (SQLite). modernc's SQLite otherwise
// parses and plans the SQL text on every call, which bench/run's CPU profiles showed to be the
// largest single cost of authenticated registry and package requests. database/sql prepares a
// cached *sql.Stmt lazily on each pooled connection and never shares one between goroutines.
// Transactions and ExecContext are not affected. PostgreSQL is left alone: pgx caches
// statements per connection itself.
type stmtDB struct {
	*sql.DB
	prepare bool
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
}

// stmt returns the cached prepared statement for query, preparing it on first use, or nil when
// query should run unprepared (caching off, cache full, or the prepare failed: the unprepared
// call then reports the error).
func (d *stmtDB) stmt(ctx context.Context, query string) *sql.Stmt {
	if !d.prepare {
		return nil
	}
	d.mu.Lock()
	st, ok := d.stmts[query]
	full := len(d.stmts) >= maxCachedStmts
	d.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.stmts[query]; ok { // prepared concurrently
		st.Close()
		return prev
	}
	if len(d.stmts) >= maxCachedStmts {
		st.Close()
		return nil
	}
	d.stmts[query] = st
	return st
}

// QueryContext runs query through its cached prepared statement when there is one.
func (d *stmtDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := d.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query through its cached prepared statement when there is one.
func (d *stmtDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := d.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the cached statements, then the database.
func (d *stmtDB) Close() error {
	d.mu.Lock()
	for q, st := range d.stmts {
		st.Close()
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	return d.DB.Close()
}

// Open connects to url: "postgres://…" or "postgresql://…" selects PostgreSQL; anything else is
// a SQLite file path. It does not migrate; call Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	var (
		db  *sql.DB
		d   dialect
		dsn string
		err error
	)
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		d = postgresDialect
		db, err = openPostgres(url)
		if err == nil {
			db.SetMaxOpenConns(32)
			db.SetMaxIdleConns(32)
		}
	} else {
		d = sqliteDialect
		dsn = "file:" + strings.TrimPrefix(url, "sqlite://") +
			"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err = sql.Open("sqlite", dsn)
		if err == nil {
			db.SetMaxOpenConns(8)
			db.SetMaxIdleConns(8)
			db.SetConnMaxIdleTime(0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", d.name, err)
	}
	s := &DB{&conn{db: &stmtDB{DB: db, prepare: d.name == "sqlite", stmts: map[string]*sql.Stmt{}}, dialect: d}}
	if d.name == "postgres" {
		s.url = url
	}
	if d.name == "sqlite" {
		if s.cache, err = openReadCache(ctx, dsn, strings.TrimPrefix(url, "sqlite://")); err != nil {
			db.Close()
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error {
	err := s.db.Close()
	return errors.Join(err, s.cache.close())
}

// Dialect names the database in use ("sqlite" or "postgres").
func (s *DB) Dialect() string { return s.dialect.name }

// SQL exposes the handle for tests and benchmarks that need raw access.
func (s *DB) SQL() *sql.DB { return s.db.DB }

// Migrate applies the embedded migrations not yet applied, each in its own transaction, and
// returns how many it applied.
func (s *DB) Migrate(ctx context.Context) (int, error) {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	entries, err := fs.ReadDir(migrations, s.dialect.migrations)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	applied := 0
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return applied, fmt.Errorf("migrate: bad migration name %q", e.Name())
		}
		body, err := fs.ReadFile(migrations, s.dialect.migrations+"/"+e.Name())
		if err != nil {
			return applied, err
		}
		did := false
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if version == routesMigration {
				if err := s.checkRoutes(ctx, tx); err != nil {
					return fmt.Errorf("%s: %w", e.Name(), err)
				}
			}
			for _, stmt := range strings.Split(string(body), ";\n") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", e.Name(), err)
				}
			}
			did = true
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().Unix())
			return err
		})
		if err != nil {
			if s.dialect.isUnique(err) {
				continue // another node applied it concurrently
			}
			return applied, fmt.Errorf("migrate: %w", err)
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

// q rewrites ? placeholders to $n for PostgreSQL. Queries never contain a literal '?'.
func (s *conn) q(query string) string {
	if !s.dialect.positional {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	out := b.String()
	s.queries.Store(query, out)
	return out
}

// tx runs fn in a transaction, committing if fn returns nil.
func (s *conn) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// classify maps driver errors to the store's kinds.
func (s *conn) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return errNoRows
	case s.dialect.isUnique(err):
		return fmt.Errorf("%w: %v", errUnique, err)
	case s.dialect.isReference(err):
		return fmt.Errorf("%w: %v", errReference, err)
	}
	return err
}

// insertID runs an INSERT … RETURNING id (both dialects support RETURNING).
func (s *conn) insertID(ctx context.Context, ex execer, query string, args ...any) (int64, error) {
	var id int64
	err := ex.QueryRowContext(ctx, s.q(query+" RETURNING id"), args...).Scan(&id)
	return id, s.classify(err)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Time columns hold Unix microseconds so both dialects compare them as integers.
func unixTime(t time.Time) int64 { return t.UnixMicro() }

func fromUnix(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullTime(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: unixTime(*t), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUnix(v.Int64)
	return &t
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// scanner is a row to scan: a *sql.Row or the current row of *sql.Rows.
type scanner = interface{ Scan(...any) error }

// collect scans every row of a query with scan and closes the rows. It takes the query's two
// results, so a list is two lines: rows, err := s.db.QueryContext(…), then collect(rows, err,
// scanX). No rows give an empty, non-nil slice, which encodes as [] rather than null.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
