package server_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// served is the leaf certificate and the ALPN protocol a handshake offering h2 gets.
func served(t *testing.T, ca *testenv.CA, addr string) (serial, proto string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].SerialNumber.String(), st.NegotiatedProtocol
}

// TestHTTPS: with tls_cert and tls_key the server speaks HTTPS and HTTP/2 to real clients that
// trust its CA (git, crane, curl), redirects plain HTTP from http_redirect_listen, and serves a
// replaced certificate without a restart, keeping the last good one when a file is bad
// (docs/operations.md, "HTTPS").
func TestHTTPS(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	redirect := testenv.FreeAddr(t)
	ts := testenv.StartServer(t, testenv.WithTLS(t, ca, dir), func(c *config.Config) { c.HTTPRedirectListen = redirect })
	ts.Client = ca.Client()
	addr := strings.TrimPrefix(ts.URL, "https://")

	t.Run("http2", func(t *testing.T) {
		if _, proto := served(t, ca, addr); proto != "h2" {
			t.Errorf("ALPN protocol %q, want h2", proto)
		}
		resp, err := ts.Client.Get(ts.URL + "/-/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("GET /-/health: %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
		}
		out, err := exec.Command(testenv.Binary(t, "curl"), "-sS", "--http2", "--cacert", ca.File, "-o", "/dev/null",
			"-w", "%{http_version} %{http_code}", ts.URL+"/-/health").CombinedOutput()
		if err != nil || string(out) != "2 200" {
			t.Errorf("curl --http2: %q, %v; want 2 200", out, err)
		}
		// Plain HTTP on the TLS port is refused, never answered in the clear.
		if resp, err := http.Get("http://" + addr + "/-/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP on the TLS port: 200")
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		_, port, _ := net.SplitHostPort(addr)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, "http://"+redirect+"/group/top.git/info/refs?service=git-upload-pack", nil)
			req.Host = "gatehouse.example:8080"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := "https://gatehouse.example:" + port + "/group/top.git/info/refs?service=git-upload-pack"
			if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
				t.Errorf("%s over http: %d to %q, want 308 to %q", method, resp.StatusCode, resp.Header.Get("Location"), want)
			}
		}
	})

	t.Run("git and crane", func(t *testing.T) {
		f := ts.MakeFixture(t)
		dt := ts.CreateDeployToken(t, "projects/"+itoa(f.Projects["top"].ID), []string{"read_repository", "read_registry", "write_registry"}, nil)
		work := t.TempDir()
		caInfo := "http.sslCAInfo=" + ca.File
		testenv.Git(t, work, "init", "-q", "-b", "main")
		if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("over https\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, work, "add", ".")
		testenv.Git(t, work, "commit", "-q", "-m", "initial")
		testenv.Git(t, work, "-c", caInfo, "push", "-q", ts.GitURL("group/top", "root", ts.RootToken), "main")
		dst := filepath.Join(t.TempDir(), "clone")
		testenv.Git(t, "", "-c", caInfo, "clone", "-q", ts.GitURL("group/top", dt.Username, dt.Token), dst)
		if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || string(b) != "over https\n" {
			t.Errorf("cloned README %q, %v", b, err)
		}
		// Without the CA, git refuses the server: the certificate is really checked.
		if out, err := testenv.RunGit(t, "", "ls-remote", ts.GitURL("group/top", dt.Username, dt.Token)); err == nil {
			t.Errorf("git without the CA: accepted\n%s", out)
		}

		t.Setenv("SSL_CERT_FILE", ca.File)
		crane := testenv.GoTool(t, "crane")
		home := t.TempDir()
		image := addr + "/group/top:v1"
		testenv.MustRun(t, home, crane, "auth", "login", addr, "-u", dt.Username, "-p", dt.Token)
		testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "layer.bin", 4000), "-t", image)
		digest := strings.TrimSpace(testenv.MustRun(t, home, crane, "digest", image))
		testenv.MustRun(t, home, crane, "pull", image, filepath.Join(home, "image.tar"))
		if !strings.HasPrefix(digest, "sha256:") {
			t.Errorf("crane digest %q", digest)
		}
	})

	t.Run("reload", func(t *testing.T) {
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		before, _ := served(t, ca, addr)
		next := ca.Issue(t, certFile, keyFile, "localhost", "127.0.0.1").SerialNumber.String()
		if got := waitServed(t, ca, addr, next); got != next {
			t.Fatalf("after replacing the files: serial %s (was %s), want %s", got, before, next)
		}
		// A half-written certificate: the last good pair stays, and the log says why.
		const kept = "keeping the current certificate"
		logged := strings.Count(ts.Logs(), kept)
		if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ntruncated"), 0o600); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Minute)
		if err := os.Chtimes(certFile, future, future); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(ts.Logs(), kept) == logged {
			if time.Now().After(deadline) {
				t.Fatal("a bad certificate file was not logged")
			}
			served(t, ca, addr)
			time.Sleep(20 * time.Millisecond)
		}
		if got, _ := served(t, ca, addr); got != next {
			t.Errorf("after a bad file: serial %s, want the last good %s", got, next)
		}
	})
}

// waitServed handshakes until the server presents serial or 10 s pass, and returns the last
// serial seen; the server checks the files every 50 ms in tests.
func waitServed(t *testing.T, ca *testenv.CA, addr, serial string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := served(t, ca, addr)
		if got == serial || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
