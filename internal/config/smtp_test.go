package config_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

const smtpSecret = "smtp-secret-Zp8kQ2"

func TestSMTP(t *testing.T) {
	file := writeFile(t, `
external_url: https://git.example.com
smtp:
  host: smtp.example.com
  port: 2525
  tls: tls
  username: mailer
  password: `+smtpSecret+`
  from: "Gatehouse <noreply@example.com>"
`)
	t.Run("ok/default is off", func(t *testing.T) {
		c := mustLoad(t, nil, env{})
		if c.SMTP.Enabled() || c.SMTP != (config.SMTP{}) {
			t.Fatalf("smtp by default = %+v, want disabled and empty", c.SMTP)
		}
	})
	t.Run("ok/file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		want := config.SMTP{Host: "smtp.example.com", Port: 2525, TLS: "tls", Username: "mailer",
			Password: smtpSecret, From: "Gatehouse <noreply@example.com>"}
		if c.SMTP != want || !c.SMTP.Enabled() {
			t.Fatalf("smtp %+v, want %+v", c.SMTP, want)
		}
	})
	t.Run("ok/env overrides file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file,
			"GATEHOUSE_SMTP_HOST": "127.0.0.1", "GATEHOUSE_SMTP_PORT": "1025", "GATEHOUSE_SMTP_TLS": "none",
			"GATEHOUSE_SMTP_USERNAME": "env-user", "GATEHOUSE_SMTP_PASSWORD": "env-pass",
			"GATEHOUSE_SMTP_FROM": "ops@example.com"})
		want := config.SMTP{Host: "127.0.0.1", Port: 1025, TLS: "none", Username: "env-user", Password: "env-pass",
			From: "ops@example.com"}
		if c.SMTP != want || c.SMTP.Password.Reveal() != "env-pass" {
			t.Fatalf("smtp %+v, want %+v", c.SMTP, want)
		}
	})
	t.Run("ok/derived defaults: starttls, from the external host", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_SMTP_HOST": "mail.internal", "GATEHOUSE_EXTERNAL_URL": "https://git.example.com:8443/"})
		want := config.SMTP{Host: "mail.internal", TLS: "starttls", From: "gatehouse@git.example.com"}
		if c.SMTP != want {
			t.Fatalf("smtp %+v, want %+v", c.SMTP, want)
		}
	})
	t.Run("ok/tls is case-insensitive", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_SMTP_HOST": "mail.internal", "GATEHOUSE_SMTP_TLS": "STARTTLS"})
		if c.SMTP.TLS != "starttls" {
			t.Fatalf("tls %q", c.SMTP.TLS)
		}
	})
	t.Run("ok/the password never prints", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		var logs strings.Builder
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "smtp", c.SMTP.Password, "config", c)
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]string{"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c),
			"%#v": fmt.Sprintf("%#v", c), "json": string(j), "slog": logs.String()} {
			if strings.Contains(s, smtpSecret) {
				t.Errorf("%s shows the SMTP password: %s", name, s)
			}
		}
	})
	for _, tc := range []struct {
		name string
		e    env
		want string
	}{
		{"fail/bad tls", env{"GATEHOUSE_SMTP_HOST": "h", "GATEHOUSE_SMTP_TLS": "ssl"}, "smtp.tls"},
		{"fail/bad tls without host", env{"GATEHOUSE_SMTP_TLS": "maybe"}, "smtp.tls"},
		{"fail/port not a number", env{"GATEHOUSE_SMTP_HOST": "h", "GATEHOUSE_SMTP_PORT": "smtp"}, "GATEHOUSE_SMTP_PORT"},
		{"fail/port out of range", env{"GATEHOUSE_SMTP_HOST": "h", "GATEHOUSE_SMTP_PORT": "70000"}, "smtp.port"},
		{"fail/host with scheme", env{"GATEHOUSE_SMTP_HOST": "smtp://h"}, "smtp.host"},
		{"fail/password without username", env{"GATEHOUSE_SMTP_HOST": "h", "GATEHOUSE_SMTP_PASSWORD": "p"}, "smtp.username"},
		{"fail/username without password", env{"GATEHOUSE_SMTP_HOST": "h", "GATEHOUSE_SMTP_USERNAME": "u"}, "smtp.password"},
		{"fail/bad from", env{"GATEHOUSE_SMTP_HOST": "h", "GATEHOUSE_SMTP_FROM": "not an address"}, "smtp.from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(nil, tc.e.get)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error %v, want one naming %s", err, tc.want)
			}
		})
	}
	t.Run("fail/unknown key in the smtp section", func(t *testing.T) {
		f := writeFile(t, "smtp:\n  hostname: h\n")
		if _, err := config.Load(nil, env{"GATEHOUSE_CONFIG": f}.get); err == nil {
			t.Fatal("an unknown smtp key was accepted")
		}
	})
}
