package httpx_test

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestRedirectToHTTPS: the same host name, path and query over https, on the TLS port unless it
// is 443, with 308 so a POST stays a POST.
func TestRedirectToHTTPS(t *testing.T) {
	cases := []struct{ port, host, target, want string }{
		{"8443", "git.example.com:8080", "/group/app.git/info/refs?service=git-upload-pack",
			"https://git.example.com:8443/group/app.git/info/refs?service=git-upload-pack"},
		{"443", "git.example.com", "/v2/", "https://git.example.com/v2/"},
		{"", "git.example.com:80", "/", "https://git.example.com/"},
		{"443", "[2001:db8::1]:80", "/a%20b?x=1", "https://[2001:db8::1]/a%20b?x=1"},
		{"8443", "[2001:db8::1]", "/", "https://[2001:db8::1]:8443/"},
	}
	for _, c := range cases {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := httptest.NewRequest(method, c.target, nil)
			r.Host = c.host
			w := httptest.NewRecorder()
			httpx.RedirectToHTTPS(c.port).ServeHTTP(w, r)
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != c.want {
				t.Errorf("%s %s%s (port %q): %d to %q, want 308 to %q", method, c.host, c.target, c.port, w.Code, w.Header().Get("Location"), c.want)
			}
		}
	}
}

// TestCertReloader: a pair that does not load at start is an error; later, a changed pair is
// served after the check interval, and a bad one leaves the last good pair in place, logged.
func TestCertReloader(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := httpx.NewCertReloader(certFile, keyFile, 0, slog.Default()); err == nil {
		t.Fatal("missing files: no error")
	}
	first := ca.Issue(t, certFile, keyFile, "localhost")
	var logs logBuffer
	r, err := httpx.NewCertReloader(certFile, keyFile, time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	if got := served(); got != first.SerialNumber.String() {
		t.Fatalf("serial %s, want %s", got, first.SerialNumber)
	}
	second := ca.Issue(t, certFile, keyFile, "localhost")
	touch(t, certFile, time.Second)
	time.Sleep(5 * time.Millisecond)
	if got := served(); got != second.SerialNumber.String() {
		t.Fatalf("after a renewal: serial %s, want %s", got, second.SerialNumber)
	}
	// A key that does not match the certificate: the renewed pair stays.
	ca.Issue(t, filepath.Join(dir, "other.pem"), keyFile, "localhost")
	touch(t, keyFile, 2*time.Second)
	time.Sleep(5 * time.Millisecond)
	if got := served(); got != second.SerialNumber.String() {
		t.Errorf("after a mismatched key: serial %s, want the last good %s", got, second.SerialNumber)
	}
	if !strings.Contains(logs.String(), "keeping the current certificate") {
		t.Errorf("the bad pair was not logged: %s", logs.String())
	}
}

// touch moves a file's modification time ahead by d, so a change is seen even where the
// filesystem's clock is coarse.
func touch(t *testing.T, file string, d time.Duration) {
	t.Helper()
	at := time.Now().Add(d)
	if err := os.Chtimes(file, at, at); err != nil {
		t.Fatal(err)
	}
}
