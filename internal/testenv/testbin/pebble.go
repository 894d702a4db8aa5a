package testbin

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pebble is a running pebble, the ACME test server: DirectoryURL is its ACME directory, and
// Roots (RootPEM) the root that signs the certificates it issues.
type Pebble struct {
	DirectoryURL string
	Roots        *x509.CertPool
	RootPEM      []byte
}

// StartPebble runs bin (pebble, built by `go tool -n pebble`) on free loopback ports, serving
// its ACME API and management API over TLS with certFile and keyFile (which roots trusts),
// waits until the directory answers and stops it when the test ends. PEBBLE_VA_ALWAYS_VALID
// makes every challenge pass without pebble reaching the server, so no DNS is needed.
func StartPebble(tb testing.TB, bin, certFile, keyFile string, roots *x509.CertPool) *Pebble {
	tb.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding it
		p, err := startPebble(tb, bin, certFile, keyFile, client)
		if err == nil {
			return p
		}
		lastErr = err
	}
	tb.Fatalf("start pebble: %v", lastErr)
	return nil
}

func startPebble(tb testing.TB, bin, certFile, keyFile string, client *http.Client) (*Pebble, error) {
	tb.Helper()
	var addrs [4]string
	for i := range addrs {
		a, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	port := func(a string) int {
		var p int
		_, _ = fmt.Sscanf(a[strings.LastIndex(a, ":")+1:], "%d", &p)
		return p
	}
	conf, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": addrs[0], "managementListenAddress": addrs[1],
		"certificate": certFile, "privateKey": keyFile,
		"httpPort": port(addrs[2]), "tlsPort": port(addrs[3]),
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
	}})
	if err != nil {
		return nil, err
	}
	file := filepath.Join(tb.TempDir(), "pebble.json")
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", file)
	// No sleeps before validation, no nonces refused at random: fast and deterministic.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	dir := "https://" + addrs[0] + "/dir"
	if _, err := serve(tb, cmd, 30*time.Second, func() bool {
		resp, err := client.Get(dir)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return nil, err
	}
	resp, err := client.Get("https://" + addrs[1] + "/roots/0")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	pem, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("pebble /roots/0: no certificate in %q", pem)
	}
	return &Pebble{DirectoryURL: dir, Roots: roots, RootPEM: pem}, nil
}
