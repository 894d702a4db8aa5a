package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// acmeDomain is the public name the ACME tests get a certificate for; clients reach it on
// loopback (autocert wants a dotted name, and pebble validates nothing here).
const acmeDomain = "gatehouse.test"

// startACME boots a server getting its certificate for acmeDomain from directory, on a
// loopback port with a redirect listener, and returns both addresses and a stop function.
func startACME(t *testing.T, dataDir, directory string, acmeClient *http.Client) (addr, redirect string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirect = testenv.FreeAddr(t)
	cfg := config.Default()
	cfg.Listen, cfg.DataDir, cfg.DatabaseURL = l.Addr().String(), dataDir, filepath.Join(dataDir, "gatehouse.db")
	cfg.ACMEDomains, cfg.ACMEDirectoryURL, cfg.ACMEEmail = []string{acmeDomain}, directory, "ops@gatehouse.test"
	cfg.HTTPRedirectListen = redirect
	_, port, _ := net.SplitHostPort(l.Addr().String())
	cfg.ExternalURL = "https://" + net.JoinHostPort(acmeDomain, port)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Log: server.NewLogger(io.Discard, "info"), Stdout: io.Discard,
		ACMEHTTPClient: acmeClient})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			srv.Close()
		}
	}
	t.Cleanup(stop)
	return l.Addr().String(), redirect, stop
}

// acmeClientFor reaches acmeDomain at addr with the trust of roots, over HTTP/2.
func acmeClientFor(addr string, roots *tls.Config) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{TLSClientConfig: roots, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}}
}

// TestACME: with acme_domains the server gets its certificate from an ACME CA (pebble) on the
// first handshake, serves it over HTTP/2 to clients trusting that CA, refuses other names,
// answers HTTP-01 paths and redirects the rest on the plain-HTTP listener, and after a restart
// serves the cached certificate without the CA (docs/operations.md, "HTTPS").
func TestACME(t *testing.T) {
	ca := testenv.NewCA(t)
	pebble := testenv.StartPebble(t, ca)
	dataDir := t.TempDir()
	addr, redirect, stop := startACME(t, dataDir, pebble.DirectoryURL, ca.Client())
	_, port, _ := net.SplitHostPort(addr)
	base := "https://" + net.JoinHostPort(acmeDomain, port)
	trust := &tls.Config{RootCAs: pebble.Roots}

	resp, err := acmeClientFor(addr, trust).Get(base + "/-/health")
	if err != nil {
		t.Fatalf("GET /-/health over ACME TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("GET /-/health: %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	serial := resp.TLS.PeerCertificates[0].SerialNumber.String()
	if got := resp.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != acmeDomain {
		t.Errorf("certificate names %v, want [%s]", got, acmeDomain)
	}

	rootFile := filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(rootFile, pebble.RootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Binary(t, "curl"), "-sS", "--http2", "--cacert", rootFile,
		"--resolve", acmeDomain+":"+port+":127.0.0.1", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
		base+"/-/health").CombinedOutput()
	if err != nil || string(out) != "2 200" {
		t.Errorf("curl --http2: %q, %v; want 2 200", out, err)
	}

	// A name outside acme_domains gets no certificate (and no order at the CA).
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pebble.Roots, ServerName: "other.test"}); err == nil {
		c.Close()
		t.Error("handshake for other.test: succeeded")
	}

	// The plain-HTTP listener: HTTP-01 challenge paths are autocert's, the rest redirects.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{"/.well-known/acme-challenge/unknown": http.StatusNotFound, "/-/health?x=1": http.StatusPermanentRedirect} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+redirect+path, nil)
		req.Host = acmeDomain
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("http %s: %d, want %d", path, resp.StatusCode, want)
		}
		if want == http.StatusPermanentRedirect && resp.Header.Get("Location") != base+path {
			t.Errorf("http %s: Location %q, want %q", path, resp.Header.Get("Location"), base+path)
		}
	}

	// Restart on the same data directory with the CA gone: the cached certificate is served.
	stop()
	if _, err := os.Stat(filepath.Join(dataDir, "acme", acmeDomain)); err != nil {
		t.Errorf("certificate not cached in <data-dir>/acme: %v", err)
	}
	addr, _, _ = startACME(t, dataDir, "https://127.0.0.1:1/dir", ca.Client())
	resp, err = acmeClientFor(addr, trust).Get(base + "/-/health")
	if err != nil {
		t.Fatalf("after a restart without the CA: %v", err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber.String(); got != serial {
		t.Errorf("after a restart: serial %s, want the cached %s", got, serial)
	}
}
