// Package testenv gives tests real parts: a fresh PostgreSQL schema, real client binaries, and
// (in server.go) a booted Gatehouse. Under CI=true a missing part fails the test instead of
// skipping it, so CI can never pass by testing nothing.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver

	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// InCI reports whether the tests run in CI, where nothing may be skipped for want of a part.
func InCI() bool { return testbin.InCI() }

// Missing skips the test, or fails it under CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	testbin.Missing(tb, format, args...)
}

// PostgresBaseURL is the server the tests use: GATEHOUSE_TEST_POSTGRES or the machine's local one.
func PostgresBaseURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresURL creates an empty schema for this test, dropped when it ends, and returns a URL
// whose connections use it.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := PostgresBaseURL()
	db, err := sql.Open("pgx", base)
	if err != nil {
		Missing(tb, "postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		Missing(tb, "postgres at %s: %v", redactURL(base), err)
	}
	schema := "t_" + randomHex(8)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse postgres url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL is the Redis the tests use, GATEHOUSE_TEST_REDIS or the machine's local one, after
// checking that it accepts connections (skipping, or failing in CI, without it).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("GATEHOUSE_TEST_REDIS is not a URL")
	}
	c, err := net.DialTimeout("tcp", p.Host, 2*time.Second)
	if err != nil {
		Missing(tb, "redis at %s: %v", p.Host, err)
	}
	c.Close()
	return u
}

// Binary returns the path of a real client on PATH or in Go's bin directory (where .ci/run
// installs Go-built servers such as minio), skipping (or failing in CI) without it.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	return testbin.Binary(tb, name)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// Eventually calls done until it returns true or timeout has passed, and reports whether it did
// (testbin.Eventually): for waiting on something real, never on what a clock decides.
func Eventually(timeout time.Duration, done func() bool) bool {
	return testbin.Eventually(timeout, done)
}
