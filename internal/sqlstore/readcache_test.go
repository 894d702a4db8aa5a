package sqlstore

import (
	"context"
	"database/sql"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
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

// cachePackageFixture records the file tool 1.0.0 app.bin (generic) in project projectID and
// returns the package's id.
func cachePackageFixture(t *testing.T, s *Stores, projectID int64) int64 {
	t.Helper()
	sums := packages.SumsOf([]byte("content"))
	rec, err := s.Packages.PutPackageFile(context.Background(), &packages.NewFile{ProjectID: projectID, Format: packages.Generic,
		Name: "tool", NormalizedName: "tool", Version: "1.0.0", Status: packages.StatusDefault, Duplicates: packages.RefuseFile,
		Filename: "app.bin", Size: 7, Checksums: sums, Blob: blob.Digest("sha256:" + sums.SHA256), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return rec.Package.ID
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

// TestReadCacheSharesReadOnly: callers share the cached value (no copy per read), and under go
// test a caller's change to it is caught on the next read of it, for every cached kind.
func TestReadCacheSharesReadOnly(t *testing.T) {
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		t.Skip("benchmark runs do not check shared values (checkShared)")
	}
	s, _ := openCacheTestStore(t)
	if !s.cache.check {
		t.Fatal("the read cache does not check shared values under go test")
	}
	ctx := context.Background()
	proj, tok := cacheFixture(t, s)
	pkgID := cachePackageFixture(t, s, proj.ID)
	// mustPanic reads twice, changes what the reads returned, reads again, and undoes the change
	// (the entry stays cached for the next case).
	mustPanic := func(t *testing.T, read func() any, change func(v any) (undo func())) {
		t.Helper()
		first, second := read(), read()
		if first != second {
			t.Fatalf("two reads between commits gave two values (%p, %p): the cache copies", first, second)
		}
		defer change(first)()
		defer func() {
			if recover() == nil {
				t.Fatal("a caller's change to a cached value went unnoticed")
			}
		}()
		read()
	}
	must := func(v any, err error) any {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("fail/deploy token scopes", func(t *testing.T) {
		mustPanic(t, func() any { return must(s.Tokens.DeployTokenByDigest(ctx, tok.Digest)) },
			func(v any) func() {
				tk := v.(*token.DeployToken)
				old := tk.Scopes[0]
				tk.Scopes[0] = token.WritePackageRegistry
				return func() { tk.Scopes[0] = old }
			})
	})
	t.Run("fail/deploy token digest bytes", func(t *testing.T) {
		mustPanic(t, func() any { return must(s.Tokens.DeployTokenByDigest(ctx, tok.Digest)) },
			func(v any) func() {
				tk := v.(*token.DeployToken)
				tk.Digest[0] ^= 0xff
				return func() { tk.Digest[0] ^= 0xff }
			})
	})
	t.Run("fail/project", func(t *testing.T) {
		mustPanic(t, func() any { return must(s.Namespaces.Project(ctx, proj.ID)) },
			func(v any) func() {
				p := v.(*namespace.Project)
				p.Visibility = namespace.Public
				return func() { p.Visibility = namespace.Private }
			})
	})
	t.Run("fail/project by path", func(t *testing.T) {
		mustPanic(t, func() any { return must(s.Namespaces.ProjectByPath(ctx, proj.FullPath)) },
			func(v any) func() {
				p := v.(*namespace.Project)
				old := p.FullPath
				p.FullPath = "elsewhere"
				return func() { p.FullPath = old }
			})
	})
	t.Run("fail/package", func(t *testing.T) {
		mustPanic(t, func() any { return must(s.Packages.Package(ctx, proj.ID, packages.Generic, "tool")) },
			func(v any) func() {
				p := v.(*packages.Package)
				p.Name = "other"
				return func() { p.Name = "tool" }
			})
	})
	t.Run("fail/version file", func(t *testing.T) {
		mustPanic(t, func() any { return must(s.Packages.PackageVersion(ctx, pkgID, "1.0.0")) },
			func(v any) func() {
				f := &v.(*packages.Version).Files[0]
				f.Size++
				return func() { f.Size-- }
			})
	})
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
