package httpx

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// CertReloader serves a certificate from a PEM chain and key file pair and picks up new files
// without a restart (docs/operations.md, "HTTPS"): a renewal tool replaces them, the next
// handshake after the check sees the new pair. A pair that does not load (half-written, key
// not matching) is logged and the last good one kept.
type CertReloader struct {
	certFile, keyFile string
	// every is how often, at most, the files' modification times are checked.
	every time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	mod     [2]time.Time // of certFile and keyFile when cert was loaded or last failed
	checked time.Time
}

// NewCertReloader loads the pair once; an error here is a configuration error. every <= 0
// means 5 seconds: a stat per handshake would be waste, a minute would surprise an operator.
func NewCertReloader(certFile, keyFile string, every time.Duration, log *slog.Logger) (*CertReloader, error) {
	if every <= 0 {
		every = 5 * time.Second
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, every: every, log: log}
	mod, err := r.modTimes()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls_cert, tls_key: %w", err)
	}
	r.cert, r.mod, r.checked = &cert, mod, time.Now()
	return r, nil
}

func (r *CertReloader) modTimes() ([2]time.Time, error) {
	var mod [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return mod, fmt.Errorf("tls: %w", err)
		}
		mod[i] = fi.ModTime()
	}
	return mod, nil
}

// GetCertificate is tls.Config's hook.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.every {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

// reload re-reads the pair when either file's modification time moved. A failed load records
// the times too, so a bad file is logged once, not at every check.
func (r *CertReloader) reload() {
	mod, err := r.modTimes()
	if err != nil {
		r.log.Error("tls: keeping the current certificate", "err", err)
		return
	}
	if mod == r.mod {
		return
	}
	r.mod = mod
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.log.Error("tls: keeping the current certificate", "cert", r.certFile, "key", r.keyFile, "err", err)
		return
	}
	r.cert = &cert
	r.log.Info("tls: certificate reloaded", "cert", r.certFile)
}

// RedirectToHTTPS answers every request with a 308 to the same host (without the port the
// request came to, plus httpsPort unless it is 443), path and query over https. 308 keeps the
// method and body, so a client's POST is repeated, not turned into a GET.
func RedirectToHTTPS(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // an IPv6 literal without port
		if httpsPort != "" && httpsPort != "443" {
			host = net.JoinHostPort(host, httpsPort)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		u := "https://" + host + r.URL.RequestURI()
		http.Redirect(w, r, u, http.StatusPermanentRedirect)
	})
}
