package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// commitFromOtherProcessEnv names the database TestMain's child process writes to: the
// child stands for `gatehouse token revoke` or a hand-run sqlite3 next to a running server.
const commitFromOtherProcessEnv = "GATEHOUSE_TEST_OTHER_PROCESS_SQL"

func TestMain(m *testing.M) {
	if stmt := os.Getenv(commitFromOtherProcessEnv); stmt != "" {
		db, err := sql.Open("sqlite", "file:"+os.Getenv(commitFromOtherProcessEnv+"_DB")+"?_pragma=busy_timeout(10000)")
		if err == nil {
			_, err = db.Exec(stmt)
			db.Close()
		}
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// execInOtherProcess runs stmt on the database at path from a separate process.
func execInOtherProcess(t *testing.T, path, stmt string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), commitFromOtherProcessEnv+"="+stmt, commitFromOtherProcessEnv+"_DB="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("other process: %v\n%s", err, out)
	}
}

func openCacheTestStore(t *testing.T) (*Stores, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s := New(db)
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.cache == nil || s.cache.off {
		t.Fatal("the read cache is off on a SQLite file database")
	}
	return s, path
}

// TestReadCacheThroughSymlink: a database opened through a symbolic link, with a stray -shm
// file beside the link, still gets the wal-index SQLite updates; a wal-index that no commit
// moves turns the cache off.
func TestReadCacheThroughSymlink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "data", "gatehouse.db")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "gatehouse.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link+"-shm", make([]byte, 32<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	s := New(db)
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if s.cache == nil || s.cache.off {
		t.Fatal("the read cache is off for a database opened through a symbolic link")
	}
	_, tok := cacheFixture(t, s)
	if got, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest); err != nil || got.Revoked {
		t.Fatalf("before revocation: %+v, %v", got, err)
	}
	execInOtherProcess(t, real, `UPDATE deploy_tokens SET revoked = 1`)
	if got, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest); err != nil || !got.Revoked {
		t.Fatalf("after revocation by another process: %+v, %v", got, err)
	}

	decoy, err := mapWALIndex(link + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	c := &readCache{hold: s.cache.hold, shm: decoy}
	defer decoy.close()
	if c.verify(ctx) {
		t.Fatal("verify accepted a wal-index that no commit changes")
	}
}

// TestReadCacheLoadsOncePerCommit: a cached read loads once, and again after every commit,
// whoever makes it: the store, a raw statement on its pool, another connection pool, or
// another process.
func TestReadCacheLoadsOncePerCommit(t *testing.T) {
	s, path := openCacheTestStore(t)
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE cache_probe (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	loads := 0
	read := func() int {
		v, err := cached(s.cache, cacheKey{kind: "probe"}, func(n *int) *int { c := *n; return &c }, func() (*int, error) {
			loads++
			n := loads
			return &n, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return *v
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	other := New(db)
	defer other.Close()

	steps := []struct {
		name   string
		commit func()
	}{
		{"no commit", func() {}},
		{"a statement on the store's pool", func() {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO cache_probe VALUES (1)`); err != nil {
				t.Fatal(err)
			}
		}},
		{"a transaction on the store's pool", func() {
			if err := s.tx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE cache_probe SET n = n + 1`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}},
		{"another pool of the same process", func() {
			if _, err := other.db.ExecContext(ctx, `INSERT INTO cache_probe VALUES (2)`); err != nil {
				t.Fatal(err)
			}
		}},
		{"another process", func() { execInOtherProcess(t, path, `INSERT INTO cache_probe VALUES (3)`) }},
		{"a checkpoint that restarts the WAL, then a commit", func() {
			if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.ExecContext(ctx, `DELETE FROM cache_probe`); err != nil {
				t.Fatal(err)
			}
		}},
	}
	want := 1
	if got := read(); got != want {
		t.Fatalf("first read = load %d, want %d", got, want)
	}
	for _, st := range steps {
		st.commit()
		if st.name != "no commit" {
			want++
		}
		for range 3 {
			if got := read(); got != want {
				t.Fatalf("after %s: read = load %d, want %d", st.name, got, want)
			}
		}
	}
}

func cacheFixture(t *testing.T, s *Stores) (*namespace.Project, *token.DeployToken) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := &namespace.User{Username: "owner", Email: "owner@example.com", Name: "Owner", PasswordHash: "x", CreatedAt: t0}
	if err := s.Namespaces.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	p := &namespace.Project{Name: "App", Path: "app", OwnerUserID: u.ID, Visibility: namespace.Private, CreatedAt: t0}
	if err := s.Namespaces.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	tok := &token.DeployToken{Name: "deploy", Username: "gitlab+deploy-token-1", Scopes: token.Scopes{token.ReadPackageRegistry},
		CreatedAt: t0, CreatorID: u.ID, Owner: token.Owner{ProjectID: p.ID}, Digest: []byte("digest-of-the-secret-0123456789ab")}
	if err := s.Tokens.CreateDeployToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	return p, tok
}

// TestReadCacheRevocation: a token revoked by the server, by another store on the same file or
// by another process is seen revoked on the very next read, and a project's visibility change
// likewise.
func TestReadCacheRevocation(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"store", "other store", "other process"} {
		t.Run(how, func(t *testing.T) {
			s, path := openCacheTestStore(t)
			p, tok := cacheFixture(t, s)
			for range 2 {
				got, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest)
				if err != nil || got.Revoked {
					t.Fatalf("before revocation: %+v, %v", got, err)
				}
				if got, err := s.Namespaces.ProjectByPath(ctx, p.FullPath); err != nil || got.Visibility != namespace.Private {
					t.Fatalf("before the visibility change: %+v, %v", got, err)
				}
			}
			switch how {
			case "store":
				if err := s.Tokens.RevokeDeployToken(ctx, tok.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := s.db.ExecContext(ctx, `UPDATE projects SET visibility = 'public'`); err != nil {
					t.Fatal(err)
				}
			case "other store":
				db, err := Open(ctx, path)
				if err != nil {
					t.Fatal(err)
				}
				other := New(db)
				if err := other.Tokens.RevokeDeployToken(ctx, tok.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := other.db.ExecContext(ctx, `UPDATE projects SET visibility = 'public'`); err != nil {
					t.Fatal(err)
				}
				other.Close()
			case "other process":
				execInOtherProcess(t, path, `UPDATE deploy_tokens SET revoked = 1; UPDATE projects SET visibility = 'public'`)
			}
			got, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest)
			if err != nil || !got.Revoked {
				t.Fatalf("after revocation by %s: %+v, %v", how, got, err)
			}
			if got, err := s.Namespaces.ProjectByPath(ctx, p.FullPath); err != nil || got.Visibility != namespace.Public {
				t.Fatalf("after the visibility change by %s: %+v, %v", how, got, err)
			}
		})
	}
}

// TestReadCacheCopies: callers get their own copy; changing it changes nothing cached.
func TestReadCacheCopies(t *testing.T) {
	s, _ := openCacheTestStore(t)
	ctx := context.Background()
	_, tok := cacheFixture(t, s)
	first, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest)
	if err != nil {
		t.Fatal(err)
	}
	first.Scopes[0] = token.WritePackageRegistry
	first.Revoked = true
	first.Digest[0] ^= 0xff
	second, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if second.Revoked || second.Scopes[0] != token.ReadPackageRegistry || second.Digest[0] != tok.Digest[0] {
		t.Fatalf("a caller's change reached the cache: %+v", second)
	}
}

// TestReadCacheConcurrentReadsAndWrites runs cached reads against commits (go test -race): every
// read after a revocation committed sees it.
func TestReadCacheConcurrentReadsAndWrites(t *testing.T) {
	s, _ := openCacheTestStore(t)
	ctx := context.Background()
	_, tok := cacheFixture(t, s)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Tokens.RevokeDeployToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tokens.DeployTokenByDigest(ctx, tok.Digest)
	close(stop)
	wg.Wait()
	if err != nil || !got.Revoked {
		t.Fatalf("read after the revocation committed: %+v, %v", got, err)
	}
}
