package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/s3blob"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The backup and restore procedure of docs/operations.md ("Backup and restore"), run with the
// real tools: data is created through a real server, backed up while it runs, restored into a
// new database, bucket and directory, and served by a new server that must answer the same
// deploy token for a clone, an image pull and a package download.

// seeded is what a backup must carry over: a repository, an image and a package, and a deploy
// token that reads all three.
type seeded struct {
	project  string // full path
	id       int64
	group    int64
	readme   string
	image    string // path:tag, without the host
	digest   string
	pkgPath  string // /api/v4/projects/…/packages/generic/…
	pkgBytes []byte
	tok      testenv.DeployToken
}

// seed pushes a commit with git, an image with crane and a generic package, as root, and
// creates the deploy token.
func seed(t *testing.T, ts *testenv.TestServer) seeded {
	t.Helper()
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	s := seeded{project: p.FullPath, id: p.ID, group: f.GroupID, readme: "backed up " + p.FullPath + "\n", image: p.FullPath + "/app:v1"}
	pushReadme(t, ts, s.project, s.readme)

	home, host := t.TempDir(), hostOf(t, ts)
	crane := testenv.GoTool(t, "crane")
	testenv.MustRun(t, home, crane, "auth", "login", host, "-u", "root", "-p", ts.RootToken)
	testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "layer.bin", 300<<10), "-t", host+"/"+s.image)
	s.digest = strings.TrimSpace(testenv.MustRun(t, home, crane, "digest", host+"/"+s.image))

	// Larger than the small-file cache, so the restored server reads it from the blob store.
	s.pkgBytes = make([]byte, 2<<20)
	_, _ = rand.Read(s.pkgBytes)
	s.pkgPath = fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0.0/tool.bin", p.ID)
	req, _ := http.NewRequest(http.MethodPut, ts.URL+s.pkgPath, bytes.NewReader(s.pkgBytes))
	req.Header.Set("Private-Token", ts.RootToken)
	if status, _ := send(t, req); status != http.StatusCreated {
		t.Fatalf("upload package: %d", status)
	}
	s.tok = ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository", "read_registry", "read_package_registry"}, nil)
	return s
}

// verify clones, pulls and downloads what seed created from ts, with the deploy token seed
// created on the server that was backed up.
func verify(t *testing.T, ts *testenv.TestServer, s seeded) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "clone")
	testenv.Git(t, "", "clone", "-q", ts.GitURL(s.project, s.tok.Username, s.tok.Token), dst)
	if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || string(b) != s.readme {
		t.Errorf("restored clone: README %q, %v", b, err)
	}

	home, host := t.TempDir(), hostOf(t, ts)
	crane := testenv.GoTool(t, "crane")
	testenv.MustRun(t, home, crane, "auth", "login", host, "-u", s.tok.Username, "-p", s.tok.Token)
	if d := strings.TrimSpace(testenv.MustRun(t, home, crane, "digest", host+"/"+s.image)); d != s.digest {
		t.Errorf("restored image digest %s, want %s", d, s.digest)
	}
	testenv.MustRun(t, home, crane, "pull", host+"/"+s.image, filepath.Join(home, "image.tar"))

	req, _ := http.NewRequest(http.MethodGet, ts.URL+s.pkgPath, nil)
	req.Header.Set("Deploy-Token", s.tok.Token)
	if status, body := send(t, req); status != http.StatusOK || !bytes.Equal(body, s.pkgBytes) {
		t.Errorf("restored package: %d, %d bytes (want %d)", status, len(body), len(s.pkgBytes))
	}
}

// pushReadme pushes a commit holding README.md with text to the project's main, as root.
func pushReadme(t *testing.T, ts *testenv.TestServer, project, text string) {
	t.Helper()
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "initial")
	testenv.Git(t, work, "push", "-q", ts.GitURL(project, "root", ts.RootToken), "main")
}

// createProject creates a project in group as root and returns its id and full path.
func createProject(t *testing.T, ts *testenv.TestServer, group int64, name string) testenv.Project {
	t.Helper()
	var p testenv.Project
	ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": name, "path": name, "namespace_id": group}, &p)
	return p
}

func hostOf(t *testing.T, ts *testenv.TestServer) string {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, body
}

// run runs a real tool with extra environment and fails the test when it fails; it returns the
// tool's standard output.
func run(t *testing.T, env []string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestBackupRestorePostgres backs up a cluster-shaped installation (PostgreSQL, blobs in S3 on
// MinIO, repositories in their own directory, the instance key in the environment) as
// docs/operations.md says: hold the garbage-collection lease, pg_dump, copy the bucket, tar the
// repositories, release the lease. It restores into a new database, bucket and directory and
// serves them with a new server.
func TestBackupRestorePostgres(t *testing.T) {
	endpoint, access, secret := testenv.StartMinio(t)
	srcURL := testenv.PostgresURL(t)
	key := config.Secret("backup-test-instance-key-" + hexRand(8))
	srcBucket, srcRepos := "src-"+hexRand(4), filepath.Join(t.TempDir(), "repositories")
	node := func(dbURL, bucket, repos string) testenv.ServerOption {
		return func(c *config.Config) {
			c.DatabaseURL, c.RepositoriesDir, c.SecretKey = dbURL, repos, key
			c.BlobStore = config.BlobStoreS3
			c.S3 = config.S3{Endpoint: endpoint, Bucket: bucket, AccessKey: access, SecretKey: config.Secret(secret)}
			testenv.Localhost(c)
		}
	}
	src := testenv.StartServer(t, node(srcURL, srcBucket, srcRepos))
	s := seed(t, src)

	// libpq's tools take the schema the test database lives in from PGOPTIONS; a deployment
	// has its own database and needs neither.
	base, schema := splitSearchPath(t, srcURL)
	pgEnv := []string{"PGOPTIONS=-c search_path=" + schema, "PGCONNECT_TIMEOUT=10"}
	psql := testenv.Binary(t, "psql")
	sqlCmd := func(q string) string {
		return strings.TrimSpace(run(t, pgEnv, psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", base, "-c", q))
	}
	gatehouseEnv := func(dbURL, bucket string) {
		t.Setenv("GATEHOUSE_DATABASE_URL", dbURL)
		t.Setenv("GATEHOUSE_SECRET_KEY", key.Reveal())
		t.Setenv("GATEHOUSE_BLOB_STORE", "s3")
		t.Setenv("GATEHOUSE_S3_ENDPOINT", endpoint)
		t.Setenv("GATEHOUSE_S3_BUCKET", bucket)
		t.Setenv("GATEHOUSE_S3_ACCESS_KEY", access)
		t.Setenv("GATEHOUSE_S3_SECRET_KEY", secret)
		t.Setenv("GATEHOUSE_S3_USE_TLS", "false")
	}

	// 1. Pause garbage collection: take its lease (the SQL of docs/operations.md). A collection
	// that is running holds it; then the statement takes nothing and is retried.
	var took string
	if !testenv.Eventually(2*time.Minute, func() bool {
		took = sqlCmd(holdGCLease)
		return took == "backup"
	}) {
		t.Fatalf("could not take the gc lease: %q", took)
	}
	gatehouseEnv(srcURL, srcBucket)
	if out := string(runGatehouse(t, "gc", "--data-dir", t.TempDir())); !strings.Contains(out, "another garbage collection is running") {
		t.Fatalf("gatehouse gc while the backup holds the lease:\n%s", out)
	}

	// 2. The database, 3. the bucket, 4. the repositories, in that order.
	backup := t.TempDir()
	dump := filepath.Join(backup, "gatehouse.dump")
	run(t, pgEnv, testenv.Binary(t, "pg_dump"), "--format=custom", "--schema="+schema, "--file="+dump, "--dbname="+base)
	// Work goes on during the backup: a project created after the dump gets a repository the
	// restored database does not know, under an id the restored database will hand out again.
	late := createProject(t, src, s.group, "late")
	pushReadme(t, src, late.FullPath, "created after the dump\n")
	dstBucket := "restored-" + hexRand(4)
	how := copyBucket(t, endpoint, access, secret, srcBucket, dstBucket)
	t.Logf("bucket copied with %s", how)
	reposTar := filepath.Join(backup, "repositories.tar")
	run(t, nil, testenv.Binary(t, "tar"), "-C", srcRepos, "-cf", reposTar, ".")

	// 5. Release the lease; the next collection runs.
	if got := sqlCmd(releaseGCLease); got != "released" {
		t.Fatalf("release the gc lease: %q", got)
	}
	if out := string(runGatehouse(t, "gc", "--data-dir", t.TempDir())); strings.Contains(out, "another garbage collection is running") {
		t.Fatalf("gatehouse gc after the backup released the lease:\n%s", out)
	}

	// Restore into a new database, the copied bucket and a new directory.
	dstDB := "gatehouse_restore_" + hexRand(4)
	sqlCmd("CREATE DATABASE " + dstDB)
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + dstDB + " WITH (FORCE)")
			db.Close()
		}
	})
	dstBase := withDatabase(t, base, dstDB)
	run(t, pgEnv, testenv.Binary(t, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+dstBase, dump)
	dstRepos := filepath.Join(t.TempDir(), "repositories")
	if err := os.MkdirAll(dstRepos, 0o750); err != nil {
		t.Fatal(err)
	}
	run(t, nil, testenv.Binary(t, "tar"), "-C", dstRepos, "-xf", reposTar)
	dstURL := withSearchPath(t, dstBase, schema)
	// The dump was taken while the backup held the gc lease: the restored database gives it back.
	if got := strings.TrimSpace(run(t, pgEnv, psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dstBase, "-c", releaseGCLease)); got != "released" {
		t.Fatalf("release the gc lease in the restored database: %q", got)
	}

	// Set aside the repositories the restored database does not know, and check the others
	// (the script of docs/operations.md).
	orphans := filepath.Join(t.TempDir(), "orphaned")
	out := run(t, append(pgEnv, "DATABASE_URL="+dstBase, "REPOS="+dstRepos, "ORPHANS="+orphans),
		testenv.Binary(t, "bash"), "-euo", "pipefail", "-c", pruneRepositories)
	if _, err := os.Stat(filepath.Join(orphans, fmt.Sprintf("%d.git", late.ID))); err != nil {
		t.Fatalf("the repository of a project created after the dump was not set aside: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dstRepos, fmt.Sprintf("%d.git", s.id))); err != nil || strings.Contains(out, "BROKEN") {
		t.Fatalf("the restored project's repository was set aside or is broken: %v\n%s", err, out)
	}

	// The restored database is at the schema version of the release that dumped it.
	gatehouseEnv(dstURL, dstBucket)
	if out := string(runGatehouse(t, "migrate", "--data-dir", t.TempDir())); out != "applied 0 migration(s) to the postgres database\n" {
		t.Fatalf("gatehouse migrate on the restored database: %q", out)
	}
	restored := testenv.StartServer(t, node(dstURL, dstBucket, dstRepos))
	verify(t, restored, s)

	// The restored database hands out the late project's id again: its repository is new.
	fresh := createProject(t, restored, s.group, "fresh")
	if fresh.ID != late.ID {
		t.Fatalf("the fresh project got id %d, the late one had %d: the check below would prove nothing", fresh.ID, late.ID)
	}
	if refs := testenv.Git(t, "", "ls-remote", restored.GitURL(fresh.FullPath, "root", restored.RootToken)); strings.TrimSpace(refs) != "" {
		t.Fatalf("a project created after the restore has refs:\n%s", refs)
	}
}

// TestBackupRestoreSQLite backs up a single node on SQLite and local disk: sqlite3's .backup
// of the live database, then a tar of the rest of the data directory (blobs, repositories,
// secret.key), restored into a new data directory.
func TestBackupRestoreSQLite(t *testing.T) {
	srcDir := t.TempDir()
	src := testenv.StartServer(t, func(c *config.Config) { c.DataDir = srcDir; testenv.Localhost(c) })
	s := seed(t, src)

	sqlite3 := testenv.Binary(t, "sqlite3")
	live := filepath.Join(srcDir, "gatehouse.db")
	var took string
	if !testenv.Eventually(2*time.Minute, func() bool {
		took = strings.TrimSpace(run(t, nil, sqlite3, live, holdGCLeaseSQLite))
		return took == "backup"
	}) {
		t.Fatalf("could not take the gc lease: %q", took)
	}
	t.Setenv("GATEHOUSE_SECRET_KEY", "")
	if out := string(runGatehouse(t, "gc", "--data-dir", srcDir)); !strings.Contains(out, "another garbage collection is running") {
		t.Fatalf("gatehouse gc while the backup holds the lease:\n%s", out)
	}
	backup := t.TempDir()
	db := filepath.Join(backup, "gatehouse.db")
	run(t, nil, sqlite3, live, ".backup '"+db+"'")
	dataTar := filepath.Join(backup, "data.tar")
	run(t, nil, testenv.Binary(t, "tar"), "-C", srcDir, "--exclude=./gatehouse.db*", "-cf", dataTar, ".")
	if got := strings.TrimSpace(run(t, nil, sqlite3, live, releaseGCLease)); got != "released" {
		t.Fatalf("release the gc lease: %q", got)
	}

	dstDir := t.TempDir()
	run(t, nil, testenv.Binary(t, "tar"), "-C", dstDir, "-xf", dataTar)
	if _, err := os.Stat(filepath.Join(dstDir, "gatehouse.db-wal")); err == nil {
		t.Fatal("the tar carried the live database's WAL")
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dstDir, "gatehouse.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(run(t, nil, sqlite3, filepath.Join(dstDir, "gatehouse.db"), releaseGCLease)); got != "released" {
		t.Fatalf("release the gc lease in the restored database: %q", got)
	}
	restored := testenv.StartServer(t, func(c *config.Config) { c.DataDir = dstDir; testenv.Localhost(c) })
	verify(t, restored, s)
}

// holdGCLease takes the garbage-collection lease for "backup" for 6 hours, unless a collection
// holds it; it prints "backup" when it took it (docs/operations.md, "Backup and restore").
const holdGCLease = `INSERT INTO leases (name, holder, expires_at, last_run_at)
VALUES ('gc', 'backup', (extract(epoch FROM now() + interval '6 hours') * 1000000)::bigint, 0)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.expires_at <= (extract(epoch FROM now()) * 1000000)::bigint
RETURNING holder`

// pruneRepositories moves the repositories whose project the restored database does not hold
// from $REPOS to $ORPHANS, then checks each one kept with git fsck (docs/operations.md, "Backup
// and restore").
const pruneRepositories = `mkdir -p "$ORPHANS"
psql -X -At -d "$DATABASE_URL" -c 'SELECT id FROM projects' | sed 's/$/.git/' | sort > "$ORPHANS/keep"
(cd "$REPOS" && ls -1 | sort | comm -23 - "$ORPHANS/keep" | while read -r r; do mv "$r" "$ORPHANS/"; echo "set aside $r"; done)
for r in "$REPOS"/*.git; do git -C "$r" fsck --connectivity-only --no-progress || echo "BROKEN $r"; done`

// holdGCLeaseSQLite is holdGCLease in SQLite's words.
const holdGCLeaseSQLite = `INSERT INTO leases (name, holder, expires_at, last_run_at)
VALUES ('gc', 'backup', unixepoch('now', '+6 hours') * 1000000, 0)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.expires_at <= unixepoch('now') * 1000000
RETURNING holder;`

// releaseGCLease gives the lease back (PostgreSQL and SQLite); it prints "released".
const releaseGCLease = `UPDATE leases SET expires_at = 0 WHERE name = 'gc' AND holder = 'backup' RETURNING 'released';`

// copyBucket copies every object of bucket src into a new bucket dst: with the AWS CLI (`aws s3
// sync`, as an operator would) when it is installed, else blob by blob through the s3blob
// store. It returns which it used.
func copyBucket(t *testing.T, endpoint, access, secret, src, dst string) string {
	t.Helper()
	if aws, err := exec.LookPath("aws"); err == nil {
		cfg := t.TempDir()
		env := []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=" + filepath.Join(cfg, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(cfg, "credentials")}
		ep := "--endpoint-url=http://" + endpoint
		run(t, env, aws, ep, "s3", "mb", "s3://"+dst)
		run(t, env, aws, ep, "s3", "sync", "--only-show-errors", "s3://"+src, "s3://"+dst)
		return "aws s3 sync"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	open := func(bucket string) blob.Store {
		cfg := s3blob.Config{Endpoint: endpoint, Bucket: bucket, AccessKey: access, SecretKey: secret}
		if err := s3blob.EnsureBucket(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		st, err := s3blob.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	from, to := open(src), open(dst)
	err := from.(blob.Walker).Walk(ctx, func(info blob.Info) error {
		r, err := from.Open(ctx, info.Digest, 0)
		if err != nil {
			return err
		}
		defer r.Close()
		w, err := to.Create(ctx)
		if err != nil {
			return err
		}
		defer blob.CancelDetached(ctx, w)
		if _, err := io.Copy(w, r); err != nil {
			return err
		}
		_, err = w.Commit(ctx, info.Digest)
		return err
	})
	if err != nil {
		t.Fatalf("copy bucket: %v", err)
	}
	return "the s3blob store (no aws CLI)"
}

// splitSearchPath splits a testenv PostgreSQL URL into the URL libpq accepts and the schema
// its search_path names.
func splitSearchPath(t *testing.T, raw string) (base, schema string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema = q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String(), schema
}

func withDatabase(t *testing.T, raw, db string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

func withSearchPath(t *testing.T, raw, schema string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func hexRand(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestBackupCommandsInDocs: the SQL and the script the backup tests run are the ones
// docs/operations.md gives operators, word for word (whitespace aside).
func TestBackupCommandsInDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	doc := words(string(b))
	for name, snippet := range map[string]string{"holdGCLease": holdGCLease, "holdGCLeaseSQLite": holdGCLeaseSQLite,
		"releaseGCLease": strings.TrimSuffix(releaseGCLease, ";"), "pruneRepositories": pruneRepositories} {
		if !strings.Contains(doc, words(snippet)) {
			t.Errorf("docs/operations.md does not hold %s as the test runs it:\n%s", name, snippet)
		}
	}
}
