package registry_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// distributionConfig is a CNCF Distribution configuration that stores blobs on disk and takes
// its tokens from Gatehouse (the README shows the same auth section).
const distributionConfig = `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
auth:
  token:
    realm: %s/jwt/auth
    service: container_registry
    issuer: %s
    rootcertbundle: %s
    jwks: %s
`

// TestDistribution runs the registry tier on CNCF Distribution (docs/design.md §6.3): Distribution
// verifies the tokens Gatehouse's /jwt/auth issues with the public key that `gatehouse
// registry key` exports (certificate bundle and JWKS), and crane pushes and pulls through it
// with deploy tokens; what a token may not do is refused.
func TestDistribution(t *testing.T) {
	bin := testenv.Binary(t, "registry")
	e := newClientEnv(t)
	crane := testenv.GoTool(t, "crane")
	dir := t.TempDir()

	// The public key, exported the way `gatehouse registry key [--jwks]` does.
	key, err := server.RegistrySigningKey(t.Context(), e.ts.Server.Config)
	if err != nil {
		t.Fatal(err)
	}
	if key.KeyID() != e.ts.Server.Tokens.Key().KeyID() {
		t.Fatalf("exported key %s is not the server's %s", key.KeyID(), e.ts.Server.Tokens.Key().KeyID())
	}
	jwks, err := key.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	certFile, jwksFile := filepath.Join(dir, "gatehouse.pem"), filepath.Join(dir, "gatehouse.jwks")
	must(t, os.WriteFile(certFile, key.CertificatePEM(), 0o600))
	must(t, os.WriteFile(jwksFile, jwks, 0o600))

	// The issuer Distribution must expect is the iss of the tokens Gatehouse issues.
	issuer := tokenIssuer(t, e.ts.URL, e.rw.Username, e.rw.Token)
	if issuer != jwtauth.DefaultIssuer {
		t.Fatalf("tokens carry iss %q, want %q", issuer, jwtauth.DefaultIssuer)
	}

	addr := startDistribution(t, bin, dir, e.ts.URL, issuer, certFile, jwksFile)
	host := strings.Replace(addr, "127.0.0.1:", "localhost:", 1)
	image := host + "/group/top/app:v1"

	rw := t.TempDir()
	testenv.MustRun(t, rw, crane, "auth", "login", host, "-u", e.rw.Username, "-p", e.rw.Token)
	testenv.MustRun(t, rw, crane, "append", "--new_layer", testenv.RandomFile(t, rw, "layer.bin", 200<<10), "-t", image)
	digest := strings.TrimSpace(testenv.MustRun(t, rw, crane, "digest", image))
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("crane digest: %q", digest)
	}
	// The image lives in Distribution's storage, not Gatehouse's.
	if _, err := os.Stat(filepath.Join(dir, "storage", "docker", "registry", "v2", "repositories", "group", "top", "app")); err != nil {
		t.Fatalf("the pushed repository is not in Distribution's storage: %v", err)
	}
	own := newOCIClient(e.ts.URL, "root", e.ts.RootToken).repo(t.Context(), "group/top/app")
	if _, _, err := own.get("/v2/group/top/app/manifests/v1", nil); statusOf(err) != http.StatusNotFound {
		t.Fatalf("Gatehouse's own registry has the image pushed to Distribution: %v", err)
	}

	t.Run("ok/read-only token pulls", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", host, "-u", e.ro.Username, "-p", e.ro.Token)
		testenv.MustRun(t, home, crane, "pull", image, filepath.Join(home, "app.tar"))
		if got := strings.TrimSpace(testenv.MustRun(t, home, crane, "digest", image)); got != digest {
			t.Fatalf("pulled digest %s, want %s", got, digest)
		}
	})
	t.Run("ok/group token pulls a project below the group", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", host, "-u", e.group.Username, "-p", e.group.Token)
		testenv.MustRun(t, home, crane, "pull", image, filepath.Join(home, "app.tar"))
	})
	t.Run("fail/read-only token cannot push", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", host, "-u", e.ro.Username, "-p", e.ro.Token)
		testenv.MustFail(t, home, []string{"UNAUTHORIZED", "DENIED", "401", "403"},
			crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 1000), "-t", host+"/group/top/app:ro")
	})
	t.Run("fail/token of another project cannot pull or push", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", host, "-u", e.other.Username, "-p", e.other.Token)
		testenv.MustFail(t, home, []string{"UNAUTHORIZED", "DENIED", "401", "403"}, crane, "pull", image, filepath.Join(home, "app.tar"))
		testenv.MustFail(t, home, []string{"UNAUTHORIZED", "DENIED", "401", "403"},
			crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 1000), "-t", host+"/group/top/app:other")
	})
	t.Run("fail/wrong password gets no token", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", host, "-u", e.rw.Username, "-p", "gldt-wrong")
		testenv.MustFail(t, home, []string{"UNAUTHORIZED", "401"}, crane, "pull", image, filepath.Join(home, "app.tar"))
	})
	t.Run("fail/anonymous", func(t *testing.T) {
		testenv.MustFail(t, t.TempDir(), []string{"UNAUTHORIZED", "401"}, crane, "manifest", image)
	})
	t.Run("fail/Distribution trusting another key refuses Gatehouse's tokens", func(t *testing.T) {
		other, err := jwtauth.GenerateKey(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		odir := t.TempDir()
		ojwks, err := other.JWKS()
		if err != nil {
			t.Fatal(err)
		}
		ocert, ojwksFile := filepath.Join(odir, "other.pem"), filepath.Join(odir, "other.jwks")
		must(t, os.WriteFile(ocert, other.CertificatePEM(), 0o600))
		must(t, os.WriteFile(ojwksFile, ojwks, 0o600))
		ohost := strings.Replace(startDistribution(t, bin, odir, e.ts.URL, issuer, ocert, ojwksFile), "127.0.0.1:", "localhost:", 1)
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", ohost, "-u", e.rw.Username, "-p", e.rw.Token)
		testenv.MustFail(t, home, []string{"UNAUTHORIZED", "401"},
			crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 1000), "-t", ohost+"/group/top/app:v1")
	})
	// Nothing was written by the refused pushes.
	if tags := strings.Fields(testenv.MustRun(t, rw, crane, "ls", host+"/group/top/app")); len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("tags after the refused pushes: %v", tags)
	}
}

// startDistribution writes a configuration into dir and runs `registry serve` on a free
// loopback port until the test ends; it returns host:port once the registry answers.
func startDistribution(t *testing.T, bin, dir, gatehouseURL, issuer, certFile, jwksFile string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := filepath.Join(dir, "config.yml")
	must(t, os.WriteFile(cfg, fmt.Appendf(nil, distributionConfig, filepath.Join(dir, "storage"), addr,
		base64.StdEncoding.EncodeToString(randomBytes(24)), gatehouseURL, issuer, certFile, jwksFile), 0o600))
	cmd := exec.Command(bin, "serve", cfg)
	var out lockedWriter
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("distribution output:\n%s", tail(out.String(), 4000))
		}
	})
	up := testenv.Eventually(30*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("registry exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), gatehouseURL+"/jwt/auth") {
			t.Fatalf("Distribution /v2/: %d %q, want 401 with Gatehouse's realm", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		return true
	})
	if !up {
		t.Fatalf("registry not up at %s:\n%s", addr, out.String())
	}
	return addr
}

// tokenIssuer returns the iss claim of a token /jwt/auth issues to user.
func tokenIssuer(t *testing.T, base, user, secret string) string {
	t.Helper()
	code, tok := tokenFor(t, base, user, secret, "repository:group/top/app:pull")
	parts := strings.Split(tok, ".")
	if code != http.StatusOK || len(parts) != 3 {
		t.Fatalf("token: %d %q", code, tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	must(t, json.Unmarshal(raw, &claims))
	return claims.Iss
}

// lockedWriter collects a child process's output.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
