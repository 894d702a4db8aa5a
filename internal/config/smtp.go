package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// SMTP configures outgoing mail (deploy-token expiry notices, docs/design.md §4). Without a Host no
// mail is sent: notices are logged and recorded instead.
type SMTP struct {
	// Host is the SMTP server's host name or IP; empty disables mail.
	Host string `yaml:"host"`
	// Port 0 means the TLS mode's usual port: 25 (none), 587 (starttls), 465 (tls).
	Port int `yaml:"port"`
	// TLS is none, starttls (the default; STARTTLS is then required) or tls (implicit TLS).
	TLS string `yaml:"tls"`
	// Username and Password, when set, authenticate to the server.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// From is the sender, optionally with a name ("Gatehouse <gatehouse@example.com>"); empty
	// means gatehouse@<host of external_url>.
	From string `yaml:"from"`
}

// SMTP TLS modes.
const (
	SMTPTLSNone     = "none"
	SMTPTLSStartTLS = "starttls"
	SMTPTLSImplicit = "tls"
)

// Enabled reports whether mail is configured (a host is set).
func (s *SMTP) Enabled() bool { return s.Host != "" }

// fill sets the defaults that depend on other fields, when mail is enabled.
func (s *SMTP) fill(externalURL string) {
	s.TLS = strings.ToLower(strings.TrimSpace(s.TLS))
	if s.Host == "" {
		return
	}
	if s.TLS == "" {
		s.TLS = SMTPTLSStartTLS
	}
	if s.From == "" {
		host := "localhost"
		if u, err := url.Parse(externalURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		s.From = "gatehouse@" + host
	}
}

func (s *SMTP) validate() error {
	switch s.TLS {
	case "", SMTPTLSNone, SMTPTLSStartTLS, SMTPTLSImplicit: // "" is starttls (before fill)
	default:
		return fmt.Errorf("smtp.tls: %q is not none, starttls or tls", s.TLS)
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("smtp.port: %d is not a port number", s.Port)
	}
	if s.Host == "" {
		return nil
	}
	if strings.Contains(s.Host, "://") || strings.Contains(s.Host, "/") {
		return fmt.Errorf("smtp.host: %q must be a host name or IP, without a scheme (use smtp.tls)", s.Host)
	}
	switch {
	case s.Password != "" && s.Username == "":
		return errors.New("smtp.username: must be set with smtp.password")
	case s.Username != "" && s.Password == "":
		return errors.New("smtp.password: must be set with smtp.username")
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("smtp.from: %q is not a mail address", s.From)
	}
	return nil
}
