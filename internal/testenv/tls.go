package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// CA is a certificate authority made for one test: real clients trust it through File (curl
// --cacert, GIT_SSL_CAINFO / http.sslCAInfo, SSL_CERT_FILE for Go clients such as crane).
type CA struct {
	File string
	Pool *x509.CertPool
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA and writes its certificate to a PEM file in a temporary directory.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{SerialNumber: serial(tb), Subject: pkix.Name{CommonName: "gatehouse test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{File: filepath.Join(tb.TempDir(), "ca.pem"), Pool: x509.NewCertPool(), cert: cert, key: key}
	ca.Pool.AddCert(cert)
	writePEM(tb, ca.File, "CERTIFICATE", der)
	return ca
}

// Issue writes a server certificate for hosts (DNS names or IPs), signed by the CA, to certFile
// and its key to keyFile, replacing them as a renewal tool would, and returns the certificate.
func (ca *CA) Issue(tb testing.TB, certFile, keyFile string, hosts ...string) *x509.Certificate {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{SerialNumber: serial(tb), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, keyFile, "EC PRIVATE KEY", kder)
	writePEM(tb, certFile, "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// Client is an HTTP client (HTTP/2 when offered) that trusts the CA.
func (ca *CA) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}}
}

// WithTLS serves HTTPS with a certificate from ca for localhost and 127.0.0.1, written to
// dir/cert.pem and dir/key.pem, at https://localhost:<port> (the name crane and oras accept for
// a loopback token realm, see Localhost). Set ts.Client = ca.Client() for the API helpers.
func WithTLS(tb testing.TB, ca *CA, dir string) ServerOption {
	return func(c *config.Config) {
		c.TLSCert, c.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		ca.Issue(tb, c.TLSCert, c.TLSKey, "localhost", "127.0.0.1")
		c.ExternalURL = "https://" + strings.Replace(c.Listen, "127.0.0.1:", "localhost:", 1)
	}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func writePEM(tb testing.TB, file, typ string, der []byte) {
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// StartPebble runs pebble, the ACME test server (a Go tool pinned in go.mod), with an HTTPS
// certificate from ca, so a client trusting ca.Pool can use its directory.
func StartPebble(tb testing.TB, ca *CA) *testbin.Pebble {
	tb.Helper()
	dir := tb.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(tb, cert, key, "localhost", "127.0.0.1")
	return testbin.StartPebble(tb, GoTool(tb, "pebble"), cert, key, ca.Pool)
}

// FreeAddr is a loopback address nothing listened on a moment ago, for a second listener the
// server opens itself (http_redirect_listen).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	a, err := testbin.FreeLoopbackAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
