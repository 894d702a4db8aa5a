// Package smtpmail delivers notify.Message mails over SMTP with github.com/wneessen/go-mail:
// plain, STARTTLS (required, not opportunistic) or implicit TLS, with optional authentication
// (the strongest mechanism the server offers).
package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// TLS modes.
const (
	TLSNone     = "none"     // plain SMTP (a local relay)
	TLSStartTLS = "starttls" // STARTTLS required; the send fails when the server lacks it
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// Config is how to reach the SMTP server.
type Config struct {
	Host string
	// Port 0 means 25 (none), 587 (starttls) or 465 (tls).
	Port int
	// TLS is TLSNone, TLSStartTLS (the default when empty) or TLSImplicit.
	TLS string
	// Username and Password, when set, authenticate.
	Username string
	Password string
	// From is the sender address, optionally with a display name ("Gatehouse <noreply@example.com>").
	From string
	// Timeout bounds connecting and each SMTP command (default 30 s).
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests pass their own root CAs); nil verifies the
	// server's certificate for Host against the system roots.
	TLSConfig *tls.Config
}

// Mailer sends over SMTP; it dials one connection per message.
type Mailer struct {
	cfg  Config
	from *mail.Address
}

var _ notify.Mailer = (*Mailer)(nil)

// New validates cfg and returns a Mailer; it does not connect.
func New(cfg Config) (*Mailer, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: host is required")
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	switch cfg.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("smtp: tls %q is not none, starttls or tls", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d is out of range", cfg.Port)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from %q is not a mail address", cfg.From)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Mailer{cfg: cfg, from: from}, nil
}

func (m *Mailer) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(m.cfg.Port), gomail.WithTimeout(m.cfg.Timeout)}
	tlsConfig := m.cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: m.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	switch m.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if m.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.cfg.Username), gomail.WithPassword(m.cfg.Password))
	}
	return gomail.NewClient(m.cfg.Host, opts...)
}

// Send delivers msg: a multipart/alternative mail with the plain text first and the HTML
// alternative second.
func (m *Mailer) Send(ctx context.Context, msg notify.Message) error {
	gm := gomail.NewMsg()
	gm.FromMailAddress(m.from)
	if err := gm.AddToFormat(msg.To.Name, msg.To.Email); err != nil {
		return fmt.Errorf("smtp: recipient: %w", err)
	}
	gm.Subject(msg.Subject)
	gm.SetDate()
	gm.SetMessageID()
	gm.SetUserAgent("Gatehouse")
	for k, v := range msg.Headers {
		gm.SetGenHeader(gomail.Header(k), v)
	}
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	c, err := m.client()
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, gm); err != nil {
		return fmt.Errorf("smtp: send to %s:%d: %w", m.cfg.Host, m.cfg.Port, err)
	}
	return nil
}
