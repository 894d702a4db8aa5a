package smtpmail_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/smtpmail"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// selfSigned issues a certificate for 127.0.0.1 from a test CA and returns its files and a TLS
// configuration that trusts the CA.
func selfSigned(t *testing.T) (certFile, keyFile string, trust *tls.Config) {
	t.Helper()
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, certFile, keyFile, "127.0.0.1")
	return certFile, keyFile, &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func authFile(t *testing.T, user, password string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(p, []byte(user+":"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var msg = notify.Message{To: notify.Address{Name: "Alice Example", Email: "alice@example.com"},
	Subject: "Deploy token \"ci\" of acme/app expires in 5 days", Text: "plain body\n", HTML: "<p>html body</p>",
	Headers: map[string]string{notify.NoticeHeader: "deploy-token-expiry; token=1; interval=7"}}

func TestSend(t *testing.T) {
	cert, key, trust := selfSigned(t)
	auth := authFile(t, "mailer", "s3cret-pass")
	for _, tc := range []struct {
		name    string
		mailpit []string
		cfg     smtpmail.Config
	}{
		{"ok/plain", nil, smtpmail.Config{TLS: smtpmail.TLSNone}},
		{"ok/starttls required, with auth", []string{"--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls",
			"--smtp-auth-file", auth}, smtpmail.Config{TLS: smtpmail.TLSStartTLS, Username: "mailer", Password: "s3cret-pass", TLSConfig: trust}},
		{"ok/implicit tls, with auth", []string{"--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-tls",
			"--smtp-auth-file", auth}, smtpmail.Config{TLS: smtpmail.TLSImplicit, Username: "mailer", Password: "s3cret-pass", TLSConfig: trust}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := testbin.StartMailpit(t, testbin.MailpitOptions{Args: tc.mailpit})
			cfg := tc.cfg
			cfg.Host, cfg.Port, cfg.From = mp.SMTPHost, mp.SMTPPort, "Gatehouse <gatehouse@example.com>"
			m, err := smtpmail.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(context.Background(), msg); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := mp.Messages(t)
			if len(got) != 1 {
				t.Fatalf("%d messages, want 1", len(got))
			}
			g := got[0]
			if g.Subject != msg.Subject || g.From.Address != "gatehouse@example.com" || g.From.Name != "Gatehouse" ||
				len(g.To) != 1 || g.To[0].Address != "alice@example.com" || g.To[0].Name != "Alice Example" ||
				strings.TrimSpace(g.Text) != "plain body" || !strings.Contains(g.HTML, "<p>html body</p>") {
				t.Fatalf("received %+v", g)
			}
			if h := g.Headers[notify.NoticeHeader]; len(h) != 1 || h[0] != msg.Headers[notify.NoticeHeader] {
				t.Fatalf("notice header %q", h)
			}
			if ct := strings.Join(g.Headers["Content-Type"], ""); !strings.HasPrefix(ct, "multipart/alternative") {
				t.Fatalf("content type %q, want multipart/alternative", ct)
			}
		})
	}
}

func TestSendFails(t *testing.T) {
	cert, key, trust := selfSigned(t)
	auth := authFile(t, "mailer", "s3cret-pass")
	plain := testbin.StartMailpit(t)
	secured := testbin.StartMailpit(t, testbin.MailpitOptions{Args: []string{"--smtp-tls-cert", cert, "--smtp-tls-key", key,
		"--smtp-require-starttls", "--smtp-auth-file", auth}})
	for _, tc := range []struct {
		name string
		mp   *testbin.Mailpit
		cfg  smtpmail.Config
	}{
		{"fail/starttls required but not offered", plain, smtpmail.Config{TLS: smtpmail.TLSStartTLS, TLSConfig: trust}},
		{"fail/untrusted certificate", secured, smtpmail.Config{TLS: smtpmail.TLSStartTLS, Username: "mailer", Password: "s3cret-pass"}},
		{"fail/wrong password", secured, smtpmail.Config{TLS: smtpmail.TLSStartTLS, Username: "mailer", Password: "wrong", TLSConfig: trust}},
		{"fail/no auth where required", secured, smtpmail.Config{TLS: smtpmail.TLSStartTLS, TLSConfig: trust}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Host, cfg.Port, cfg.From, cfg.Timeout = tc.mp.SMTPHost, tc.mp.SMTPPort, "gatehouse@example.com", 5*time.Second
			m, err := smtpmail.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Send(context.Background(), msg)
			if err == nil {
				t.Fatal("send succeeded")
			}
			if strings.Contains(err.Error(), "s3cret-pass") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	if n := len(plain.Messages(t)) + len(secured.Messages(t)); n != 0 {
		t.Fatalf("%d messages delivered by failed sends", n)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  smtpmail.Config
		want string
	}{
		{"fail/no host", smtpmail.Config{From: "a@example.com"}, "host"},
		{"fail/bad tls", smtpmail.Config{Host: "h", TLS: "ssl", From: "a@example.com"}, "tls"},
		{"fail/bad port", smtpmail.Config{Host: "h", Port: 70000, From: "a@example.com"}, "port"},
		{"fail/bad from", smtpmail.Config{Host: "h", From: "nobody"}, "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := smtpmail.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error %v, want one about %s", err, tc.want)
			}
		})
	}
	if _, err := smtpmail.New(smtpmail.Config{Host: "h", From: "a@example.com"}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
