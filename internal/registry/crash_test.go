//go:build linux

package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// gatehouseProc is the real gatehouse binary running as a child process.
type gatehouseProc struct {
	cmd    *exec.Cmd
	exited chan error
	out    *lockedWriter
}

// buildGatehouse compiles cmd/gatehouse into a temporary directory.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Missing(t, "go not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startGatehouse runs `gatehouse serve` on addr with its data in dir and waits until it is
// ready. The child dies with the test process.
func startGatehouse(t *testing.T, bin, dir, addr, rootToken string) *gatehouseProc {
	t.Helper()
	external := "http://" + strings.Replace(addr, "127.0.0.1:", "localhost:", 1)
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", dir, "--external-url", external)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GATEHOUSE_ROOT_PASSWORD=root-password-crash", "GATEHOUSE_ROOT_TOKEN="+rootToken,
		"GATEHOUSE_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &gatehouseProc{cmd: cmd, exited: make(chan error, 1), out: &lockedWriter{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("gatehouse output:\n%s", tail(p.out.String(), 4000))
		}
	})
	ready := testenv.Eventually(60*time.Second, func() bool {
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("gatehouse exited: %v\n%s", err, p.out.String())
		default:
		}
		resp, err := http.Get(external + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ready {
		t.Fatalf("gatehouse not ready at %s:\n%s", addr, p.out.String())
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *gatehouseProc) kill() {
	select {
	case err := <-p.exited:
		p.exited <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.exited
	p.exited <- err
}

// TestCrashConsistency kills the real server with SIGKILL in the middle of 50 concurrent
// pushers (monolithic and chunked uploads, one layer shared by every image), restarts it on
// the same data directory and checks that what it serves is whole: every pushed image, every
// visible manifest and every blob linked into any repository, each against its digest; and
// that it takes new pushes.
func TestCrashConsistency(t *testing.T) {
	bin := buildGatehouse(t)
	addr := testenv.FreeAddr(t)
	dir := t.TempDir()
	rootToken := "glpat-crash-root-" + fmt.Sprint(time.Now().UnixNano())
	proc := startGatehouse(t, bin, dir, addr, rootToken)
	base := "http://" + strings.Replace(addr, "127.0.0.1:", "localhost:", 1)
	ts := &testenv.TestServer{URL: base, RootToken: rootToken}
	f := ts.MakeFixture(t)
	rw := ts.CreateDeployToken(t, "projects/"+itoa(f.Projects["top"].ID), []string{"read_registry", "write_registry"}, nil)

	const pushers = 50
	shared := randomBytes(300 << 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu        sync.Mutex
		completed = map[string]string{} // repo:tag → manifest digest
		inFlight  = map[string]testImage{}
		done      atomic.Int32
		active    atomic.Int32
		wg        sync.WaitGroup
	)
	for p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newOCIClient(base, rw.Username, rw.Token)
			repo := fmt.Sprintf("group/top/crash/r%d", p%10)
			for i := 0; ctx.Err() == nil; i++ {
				img := newTestImage(shared, randomBytes(64<<10+p*20<<10+i*7<<10), randomBytes(1000+p))
				tag := fmt.Sprintf("p%d-%d", p, i)
				chunk := 0
				if p%2 == 1 {
					chunk = 96 << 10
				}
				mu.Lock()
				inFlight[repo+":"+tag] = img
				mu.Unlock()
				active.Add(1)
				err := c.repo(ctx, repo).push(img, tag, chunk)
				active.Add(-1)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				delete(inFlight, repo+":"+tag)
				completed[repo+":"+tag] = img.digest
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	if !testenv.Eventually(2*time.Minute, func() bool { return done.Load() >= 60 }) {
		t.Fatalf("only %d pushes completed in two minutes", done.Load())
	}
	busy := active.Load()
	proc.kill()
	cancel()
	wg.Wait()
	if busy == 0 {
		t.Fatal("no push was in flight when the server was killed")
	}
	t.Logf("killed with %d pushes in flight, %d completed", busy, len(completed))

	startGatehouse(t, bin, dir, addr, rootToken) // stopped when the test ends
	vctx := t.Context()
	reader := newOCIClient(base, rw.Username, rw.Token)

	// Every push that was acknowledged survived, whole.
	for ref, want := range completed {
		repo, tag, _ := strings.Cut(ref, ":")
		if d, err := reader.repo(vctx, repo).verify(tag); err != nil || d != want {
			t.Errorf("acknowledged push %s: %s %v, want %s", ref, d, err, want)
		}
	}

	// Every visible manifest is complete.
	db, err := sqlstore.Open(vctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(db)
	defer store.Close()
	repos, err := store.Registry.Repositories(vctx, "", 1000)
	if err != nil || len(repos) != 10 {
		t.Fatalf("repositories %v %v, want 10", repos, err)
	}
	visible := 0
	for _, repo := range repos {
		tags, err := reader.repo(vctx, repo).tags()
		if err != nil {
			t.Fatalf("tags of %s: %v", repo, err)
		}
		for _, tag := range tags {
			visible++
			if _, err := reader.repo(vctx, repo).verify(tag); err != nil {
				t.Errorf("visible manifest %s:%s: %v", repo, tag, err)
			}
		}
	}
	if visible < len(completed) {
		t.Errorf("%d tags visible, fewer than the %d acknowledged pushes", visible, len(completed))
	}

	// Every blob linked into a repository, and every recorded manifest, is served whole.
	rows, err := store.SQL().QueryContext(vctx, `SELECT r.name, l.digest, l.size FROM registry_blob_links l
		JOIN registry_repositories r ON r.id = l.repository_id
		UNION ALL SELECT r.name, m.digest, m.size FROM registry_manifests m JOIN registry_repositories r ON r.id = m.repository_id`)
	if err != nil {
		t.Fatal(err)
	}
	type linked struct {
		repo, digest string
		size         int64
	}
	var links []linked
	for rows.Next() {
		var l linked
		if err := rows.Scan(&l.repo, &l.digest, &l.size); err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	rows.Close()
	if len(links) < 3*len(completed) {
		t.Fatalf("%d links and manifests, want at least %d", len(links), 3*len(completed))
	}
	for _, l := range links {
		path := "/v2/" + l.repo + "/blobs/" + l.digest
		b, _, err := reader.repo(vctx, l.repo).get(path, nil)
		if err != nil {
			// A manifest row: fetch it as a manifest.
			b, _, err = reader.repo(vctx, l.repo).get("/v2/"+l.repo+"/manifests/"+l.digest, http.Header{"Accept": {ociManifestType}})
		}
		if err != nil || digestOf(b) != l.digest || int64(len(b)) != l.size {
			t.Errorf("linked %s@%s: %d bytes with digest %s (%v), want %d bytes", l.repo, l.digest, len(b), digestOf(b), err, l.size)
		}
	}
	t.Logf("after the restart: %d tags and %d linked blobs and manifests verified", visible, len(links))

	// The store takes new pushes: a new image, and the images that were cut off, again.
	w := newOCIClient(base, rw.Username, rw.Token)
	fresh := newTestImage(shared, randomBytes(200<<10))
	if err := w.repo(vctx, "group/top/crash/after").push(fresh, "v1", 64<<10); err != nil {
		t.Fatal(err)
	}
	if d, err := reader.repo(vctx, "group/top/crash/after").verify("v1"); err != nil || d != fresh.digest {
		t.Fatalf("push after the restart: %s %v", d, err)
	}
	n := 0
	for ref, img := range inFlight {
		repo, tag, _ := strings.Cut(ref, ":")
		if err := w.repo(vctx, repo).push(img, tag, 50<<10); err != nil {
			t.Fatalf("re-push %s: %v", ref, err)
		}
		if d, err := reader.repo(vctx, repo).verify(tag); err != nil || d != img.digest {
			t.Fatalf("re-pushed %s: %s %v", ref, d, err)
		}
		if n++; n == 5 {
			break
		}
	}
	// Abandoned uploads are left for garbage collection; the catalog lists the new repository.
	raw, _, err := newOCIClient(base, "root", rootToken).repo(vctx, "").get("/v2/_catalog?n=100", nil)
	var cat struct {
		Repositories []string `json:"repositories"`
	}
	if err != nil || json.Unmarshal(raw, &cat) != nil || len(cat.Repositories) != 11 {
		t.Fatalf("catalog: %s %v", raw, err)
	}
}
