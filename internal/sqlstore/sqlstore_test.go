package sqlstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/ban/bantest"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func openSQLite(t *testing.T, path string) *sqlstore.Stores {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	return sqlstore.New(db)
}

func openPostgres(t *testing.T) *sqlstore.Stores {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), testenv.PostgresURL(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	return sqlstore.New(db)
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.Stores {
		s := openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db"))
		t.Cleanup(func() { _ = s.Close() })
		if s.Dialect() != "sqlite" {
			t.Fatalf("dialect = %q, want sqlite", s.Dialect())
		}
		return s
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.Stores {
		s := openPostgres(t)
		t.Cleanup(func() { _ = s.Close() })
		if s.Dialect() != "postgres" {
			t.Fatalf("dialect = %q, want postgres", s.Dialect())
		}
		return s
	})
}

// TestBanStore runs the ban's suite against both dialects: SQLite's passes too, though only
// PostgreSQL's is used (one SQLite node counts in memory).
func TestBanStore(t *testing.T) {
	for _, d := range []struct {
		name string
		open func(t *testing.T) *sqlstore.Stores
	}{
		{"sqlite", func(t *testing.T) *sqlstore.Stores { return openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db")) }},
		{"postgres", openPostgres},
	} {
		t.Run(d.name, func(t *testing.T) {
			bantest.Run(t, func(t *testing.T) ban.Store {
				s := d.open(t)
				t.Cleanup(func() { _ = s.Close() })
				if _, err := s.Migrate(context.Background()); err != nil {
					t.Fatalf("migrate: %v", err)
				}
				return s.Ban
			})
		})
	}
}

// TestSQLiteURLForms checks that both a bare path and a sqlite:// URL open the same file.
func TestSQLiteURLForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "forms.db")
	s := openSQLite(t, path)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settings.SetSettingIfAbsent(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openSQLite(t, "sqlite://"+path)
	defer s2.Close()
	v, ok, err := s2.Settings.Setting(context.Background(), "k")
	if err != nil || !ok || v != "v" {
		t.Fatalf("reopened via sqlite:// URL: %q %v %v", v, ok, err)
	}
}

// issued is what a real token creation returned: the secret (shown once) and its stored digest.
type issued struct {
	secret token.Secret
	digest []byte
}

// issueTokens creates project, group and personal tokens through the real services, so the
// test sees exactly what production writes.
func issueTokens(t *testing.T, s *sqlstore.Stores) []issued {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := &namespace.User{Username: "owner", Email: "owner@example.com", Name: "Owner", PasswordHash: "x", CreatedAt: time.Now()}
	g := &namespace.Group{Name: "G", Path: "g", CreatedAt: time.Now()}
	if err := s.Namespaces.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Namespaces.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	p := &namespace.Project{Name: "P", Path: "p", GroupID: g.ID, Visibility: namespace.Private, CreatedAt: time.Now()}
	if err := s.Namespaces.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := token.NewDigester([]byte("instance-secret-for-leak-test"))
	deploy := token.NewDeployService(s.Tokens, d, nil)
	usage := token.NewUsageWriter(s.Tokens, nil)
	defer usage.Close()
	var out []issued
	for i, owner := range []token.Owner{{ProjectID: p.ID}, {GroupID: g.ID}, {ProjectID: p.ID}} {
		username := ""
		if i == 2 {
			username = "custom-user"
		}
		tok, sec, err := deploy.Create(ctx, token.CreateDeployInput{Name: fmt.Sprintf("leak-%d", i), Username: username,
			Scopes: []string{"read_repository", "write_package_registry"}, ExpiresAt: "2099-01-01", Owner: owner, CreatorID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		// A use must not write the secret either.
		got, err := deploy.Authenticate(ctx, tok.Username, sec, true)
		if err != nil {
			t.Fatal(err)
		}
		usage.MarkUsed(got, netip.MustParseAddr("203.0.113.9"))
		out = append(out, issued{sec, tok.Digest})
	}
	pats := token.NewPersonalService(s.Tokens, d, nil)
	pt, sec, err := pats.Create(ctx, token.CreatePersonalInput{UserID: u.ID, Name: "pat", Scopes: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, issued{sec, pt.Digest})
	// A CI/CD variable's value is sealed: its ciphertext is stored, never the value.
	vars := token.NewVariableService(s.Variables, token.NewSealer([]byte("instance-secret-for-leak-test"), "gatehouse/ci-variable/v1"), nil)
	for _, owner := range []token.Owner{{ProjectID: p.ID}, {GroupID: g.ID}} {
		v := &token.Variable{Owner: owner, Key: "DEPLOY_PASSWORD", Value: token.NewSecret("var-Zq8xW3rT6yU1iO4p"), Masked: true}
		if err := vars.Create(ctx, v); err != nil {
			t.Fatal(err)
		}
		out = append(out, issued{v.Value, v.SealedValue})
	}
	return out
}

// checkDump fails if a secret (or its random part) appears in dump, or a digest does not.
func checkDump(t *testing.T, dump []byte, toks []issued, encodeDigest func([]byte) []byte) {
	t.Helper()
	if len(dump) == 0 {
		t.Fatal("empty dump")
	}
	for i, tok := range toks {
		raw := tok.secret.Reveal()
		_, random, _ := strings.Cut(raw, "-")
		for _, needle := range []string{raw, random} {
			if bytes.Contains(dump, []byte(needle)) {
				t.Errorf("token %d: secret found in the database", i)
			}
		}
		if !bytes.Contains(dump, encodeDigest(tok.digest)) {
			t.Errorf("token %d: digest %x not found in the database (is the dump complete?)", i, tok.digest)
		}
	}
}

func TestSecretsNeverStoredSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leak.db")
	s := openSQLite(t, path)
	toks := issueTokens(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var dump []byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		dump = append(dump, b...)
	}
	checkDump(t, dump, toks, func(d []byte) []byte { return d })
}

func TestSecretsNeverStoredPostgres(t *testing.T) {
	s := openPostgres(t)
	defer s.Close()
	toks := issueTokens(t, s)
	ctx := context.Background()
	rows, err := s.SQL().QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(tables) < 5 {
		t.Fatalf("only %d tables found in the test schema: %v", len(tables), tables)
	}
	var dump bytes.Buffer
	for _, table := range tables {
		// A whole row cast to text shows every column, bytea as \x<hex>.
		rs, err := s.SQL().QueryContext(ctx, fmt.Sprintf(`SELECT t::text FROM %q t`, table))
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for rs.Next() {
			var line string
			if err := rs.Scan(&line); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&dump, "%s: %s\n", table, line)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		rs.Close()
	}
	checkDump(t, dump.Bytes(), toks, func(d []byte) []byte { return []byte(`\\x` + hex.EncodeToString(d)) })
}

// TestRevocationSeenByOtherStores: two stores on one database, as two Gatehouse processes (or
// the server and `gatehouse token revoke`) are: a revocation through one is seen by the other's
// next read, on SQLite (whose reads may be cached) and PostgreSQL (never cached).
func TestRevocationSeenByOtherStores(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			url := filepath.Join(t.TempDir(), "gatehouse.db")
			if dialect == "postgres" {
				url = testenv.PostgresURL(t)
			}
			server, revoker := openURL(t, url), openURL(t, url)
			if _, err := server.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			u := &namespace.User{Username: "owner", Email: "owner@example.com", Name: "Owner", PasswordHash: "x", CreatedAt: time.Unix(0, 0)}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(server.Namespaces.CreateUser(ctx, u))
			p := &namespace.Project{Name: "App", Path: "app", OwnerUserID: u.ID, Visibility: namespace.Private, CreatedAt: time.Unix(0, 0)}
			must(server.Namespaces.CreateProject(ctx, p))
			tok := &token.DeployToken{Name: "deploy", Username: "gitlab+deploy-token-1", Scopes: token.Scopes{token.ReadPackageRegistry},
				CreatedAt: time.Unix(0, 0), CreatorID: u.ID, Owner: token.Owner{ProjectID: p.ID}, Digest: bytes.Repeat([]byte{7}, 32)}
			must(server.Tokens.CreateDeployToken(ctx, tok))
			for range 3 {
				got, err := server.Tokens.DeployTokenByDigest(ctx, tok.Digest)
				if err != nil || got.Revoked {
					t.Fatalf("before revocation: %+v, %v", got, err)
				}
			}
			must(revoker.Tokens.RevokeDeployToken(ctx, tok.ID))
			got, err := server.Tokens.DeployTokenByDigest(ctx, tok.Digest)
			if err != nil || !got.Revoked {
				t.Fatalf("after revocation by the other store: %+v, %v", got, err)
			}
		})
	}
}

func openURL(t *testing.T, url string) *sqlstore.Stores {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	t.Cleanup(func() { _ = s.Close() })
	return s
}
