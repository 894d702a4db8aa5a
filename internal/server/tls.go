package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// tlsSetup is how the server ends TLS itself (docs/operations.md, "HTTPS"): the listener's
// tls.Config and the handler of the plain-HTTP redirect listener.
type tlsSetup struct {
	config   *tls.Config
	redirect http.Handler
}

// newTLS builds the TLS side from the configuration: the certificate from files, re-read on
// change, or from ACME; listenAddr is the TLS listener's, for the port of the redirect.
func (s *Server) newTLS(listenAddr string) (*tlsSetup, error) {
	_, port, _ := net.SplitHostPort(listenAddr)
	if u, err := url.Parse(s.Config.ExternalURL); err == nil && u.Scheme == "https" {
		port = u.Port()
	}
	redirect := httpx.RedirectToHTTPS(port)
	if len(s.Config.ACMEDomains) == 0 {
		certs, err := httpx.NewCertReloader(s.Config.TLSCert, s.Config.TLSKey, s.certCheckEvery, s.Log)
		if err != nil {
			return nil, err
		}
		return &tlsSetup{config: &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12},
			redirect: redirect}, nil
	}
	// autocert answers TLS-ALPN-01 on the listener (acme-tls/1) and HTTP-01 on the redirect
	// listener, renews 30 days before expiry, and keeps the account key and certificates in the
	// cache directory. Setting the directory URL accepts that CA's terms.
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(s.Config.ACMEDomains...),
		Cache:      autocert.DirCache(s.Config.ACMECacheDir()),
		Email:      s.Config.ACMEEmail,
		Client:     &acme.Client{DirectoryURL: s.Config.ACMEDirectoryURL, HTTPClient: s.acmeHTTPClient},
	}
	c := m.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return &tlsSetup{config: c, redirect: m.HTTPHandler(redirect)}, nil
}
