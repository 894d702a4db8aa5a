package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// flags returns a FlagSet with config.Flags registered and args parsed.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("gatehouse", pflag.ContinueOnError)
	config.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return fs
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, fs *pflag.FlagSet, e env) config.Config {
	t.Helper()
	c, err := config.Load(fs, e.get)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	for name, fs := range map[string]*pflag.FlagSet{"no flag set": nil, "no flags given": flags(t)} {
		t.Run("ok/"+name, func(t *testing.T) {
			c := mustLoad(t, fs, env{})
			want := config.Config{
				Listen:      ":8080",
				DataDir:     "./data",
				DatabaseURL: filepath.Join("data", "gatehouse.db"),
				ExternalURL: "http://localhost:8080",
				GitBinary:   "git",
				LogLevel:    "info",
				AuthBan: config.AuthBan{MaxFailures: 10, Window: time.Minute, Duration: time.Hour,
					ExemptLoopback: true},
				Audit:           config.Audit{Retention: 365 * 24 * time.Hour},
				BlobStore:       "fs",
				S3:              config.S3{UseTLS: true},
				GC:              config.GC{Interval: 24 * time.Hour, Grace: time.Hour, UploadTTL: 24 * time.Hour},
				DependencyProxy: config.DependencyProxy{UpstreamURL: "https://registry-1.docker.io", TagTTL: 24 * time.Hour},
				HTTP: config.HTTP{ReadHeaderTimeout: 30 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
					IdleTimeout: 2 * time.Minute, MaxConnsPerIP: 256, ExemptLoopback: true},
				Metrics:              config.Metrics{Allow: []string{"127.0.0.0/8", "::1"}},
				TrustedProxiesHeader: "X-Forwarded-For",
				ACMEDirectoryURL:     config.DefaultACMEDirectoryURL,
				ShutdownTimeout:      time.Minute,
				SecretPushProtection: true,
			}
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
			}
			if c.IsPostgres() {
				t.Fatal("the default database is PostgreSQL, want SQLite")
			}
		})
	}
}

func TestDerivedDefaults(t *testing.T) {
	cases := []struct {
		name                 string
		e                    env
		wantDB, wantExternal string
	}{
		{"ok/database follows the data dir", env{"GATEHOUSE_DATA_DIR": "/srv/gh"},
			"/srv/gh/gatehouse.db", "http://localhost:8080"},
		{"ok/external URL from a specific listen host", env{"GATEHOUSE_LISTEN": "127.0.0.1:9000"},
			"data/gatehouse.db", "http://127.0.0.1:9000"},
		{"ok/external URL from a wildcard IPv4 listen", env{"GATEHOUSE_LISTEN": "0.0.0.0:80"},
			"data/gatehouse.db", "http://localhost:80"},
		{"ok/external URL from a wildcard IPv6 listen", env{"GATEHOUSE_LISTEN": "[::]:8443"},
			"data/gatehouse.db", "http://localhost:8443"},
		{"ok/external URL from an IPv6 listen", env{"GATEHOUSE_LISTEN": "[::1]:8080"},
			"data/gatehouse.db", "http://[::1]:8080"},
		{"ok/external URL is https with a TLS certificate", env{"GATEHOUSE_LISTEN": ":8443", "GATEHOUSE_TLS_CERT": "c.pem", "GATEHOUSE_TLS_KEY": "k.pem"},
			"data/gatehouse.db", "https://localhost:8443"},
		{"ok/external URL is the first ACME domain, without port 443", env{"GATEHOUSE_LISTEN": ":443", "GATEHOUSE_ACME_DOMAINS": "git.example.com,www.example.com"},
			"data/gatehouse.db", "https://git.example.com"},
		{"ok/explicit external URL loses its trailing slash", env{"GATEHOUSE_EXTERNAL_URL": "https://git.example.com/"},
			"data/gatehouse.db", "https://git.example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mustLoad(t, nil, c.e)
			if got.DatabaseURL != c.wantDB || got.ExternalURL != c.wantExternal {
				t.Fatalf("database %q external %q, want %q %q", got.DatabaseURL, got.ExternalURL, c.wantDB, c.wantExternal)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
listen: 127.0.0.1:1111
data_dir: /from-file
external_url: https://file.example.com
database_url: postgres://file.example.com/gh
log_level: warn
auth_ban:
  max_failures: 5
  window: 2m
  duration: 30m
  exempt_loopback: false
  allow_list: [10.0.0.0/8]
`)
	t.Run("ok/file overrides defaults", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		if c.Listen != "127.0.0.1:1111" || c.DataDir != "/from-file" || c.ExternalURL != "https://file.example.com" ||
			c.DatabaseURL != "postgres://file.example.com/gh" || c.LogLevel != "warn" {
			t.Fatalf("file values not applied: %+v", c)
		}
		want := config.AuthBan{MaxFailures: 5, Window: 2 * time.Minute, Duration: 30 * time.Minute,
			ExemptLoopback: false, AllowList: []string{"10.0.0.0/8"}}
		if !reflect.DeepEqual(c.AuthBan, want) {
			t.Fatalf("auth_ban %+v, want %+v", c.AuthBan, want)
		}
		if !c.IsPostgres() {
			t.Fatal("postgres:// database not recognised")
		}
		if c.GitBinary != "git" {
			t.Fatalf("a key absent from the file lost its default: git_binary %q", c.GitBinary)
		}
	})
	t.Run("ok/env overrides file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file, "GATEHOUSE_LISTEN": "127.0.0.1:2222",
			"GATEHOUSE_DATA_DIR": "/from-env", "GATEHOUSE_AUTH_BAN_MAX_FAILURES": "7",
			"GATEHOUSE_AUTH_BAN_WINDOW": "90s", "GATEHOUSE_AUTH_BAN_EXEMPT_LOOPBACK": "true",
			"GATEHOUSE_AUTH_BAN_ALLOW_LIST": "192.168.0.0/16,172.16.0.1"})
		if c.Listen != "127.0.0.1:2222" || c.DataDir != "/from-env" {
			t.Fatalf("env did not override the file: listen %q data_dir %q", c.Listen, c.DataDir)
		}
		if c.ExternalURL != "https://file.example.com" || c.LogLevel != "warn" {
			t.Fatalf("file values not set in env were lost: %+v", c)
		}
		want := config.AuthBan{MaxFailures: 7, Window: 90 * time.Second, Duration: 30 * time.Minute,
			ExemptLoopback: true, AllowList: []string{"192.168.0.0/16", "172.16.0.1"}}
		if !reflect.DeepEqual(c.AuthBan, want) {
			t.Fatalf("auth_ban %+v, want %+v", c.AuthBan, want)
		}
	})
	t.Run("ok/audit retention: default one year, from the file and the env", func(t *testing.T) {
		if c := mustLoad(t, nil, env{}); c.Audit.Retention != 365*24*time.Hour {
			t.Fatalf("default audit.retention %v, want one year", c.Audit.Retention)
		}
		f := writeFile(t, "audit:\n  retention: 2160h\n")
		if c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": f}); c.Audit.Retention != 90*24*time.Hour {
			t.Fatalf("audit.retention from the file: %v", c.Audit.Retention)
		}
		if c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": f, "GATEHOUSE_AUDIT_RETENTION": "0"}); c.Audit.Retention != 0 {
			t.Fatalf("GATEHOUSE_AUDIT_RETENTION=0 (keep forever): %v", c.Audit.Retention)
		}
		if _, err := config.Load(nil, env{"GATEHOUSE_AUDIT_RETENTION": "-1h"}.get); err == nil || !strings.Contains(err.Error(), "audit.retention") {
			t.Fatalf("a negative retention was accepted: %v", err)
		}
	})
	t.Run("ok/flags override env and file", func(t *testing.T) {
		fs := flags(t, "--listen", "127.0.0.1:3333", "--external-url", "https://flag.example.com",
			"--database-url=postgresql://flag/gh")
		c := mustLoad(t, fs, env{"GATEHOUSE_CONFIG": file, "GATEHOUSE_LISTEN": "127.0.0.1:2222",
			"GATEHOUSE_DATA_DIR": "/from-env", "GATEHOUSE_EXTERNAL_URL": "https://env.example.com"})
		if c.Listen != "127.0.0.1:3333" || c.ExternalURL != "https://flag.example.com" || c.DatabaseURL != "postgresql://flag/gh" {
			t.Fatalf("flags did not win: %+v", c)
		}
		if c.DataDir != "/from-env" {
			t.Fatalf("an unset flag overrode the env: data_dir %q", c.DataDir)
		}
		if !c.IsPostgres() {
			t.Fatal("postgresql:// database not recognised")
		}
	})
	t.Run("ok/--config flag overrides GATEHOUSE_CONFIG", func(t *testing.T) {
		other := writeFile(t, "listen: 127.0.0.1:4444\n")
		c := mustLoad(t, flags(t, "--config", other), env{"GATEHOUSE_CONFIG": file})
		if c.Listen != "127.0.0.1:4444" || c.DataDir != "./data" {
			t.Fatalf("--config file not used instead of GATEHOUSE_CONFIG: %+v", c)
		}
	})
	t.Run("ok/--data-dir moves the derived SQLite path", func(t *testing.T) {
		c := mustLoad(t, flags(t, "--data-dir", "/from-flag"), env{"GATEHOUSE_DATA_DIR": "/from-env"})
		if c.DataDir != "/from-flag" || c.DatabaseURL != "/from-flag/gatehouse.db" {
			t.Fatalf("data_dir %q database %q", c.DataDir, c.DatabaseURL)
		}
	})
	t.Run("ok/secrets come from the environment", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_ROOT_PASSWORD": "correct horse", "GATEHOUSE_ROOT_TOKEN": "glpat-0123456789abcdefghij",
			"GATEHOUSE_SECRET_KEY": "k"})
		if c.RootPassword != "correct horse" || c.RootToken != "glpat-0123456789abcdefghij" || c.SecretKey != "k" {
			t.Fatalf("secrets from env not loaded")
		}
	})
	t.Run("ok/empty file keeps defaults", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": writeFile(t, "")})
		if c.Listen != ":8080" {
			t.Fatalf("listen %q", c.Listen)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		fs   func(t *testing.T) *pflag.FlagSet
		e    env
		want string // in the error
	}{
		{"fail/unknown top-level key", nil, env{"GATEHOUSE_CONFIG": "listen: :1\nlisten_adress: :2\n"}, "listen_adress"},
		{"fail/unknown nested key", nil, env{"GATEHOUSE_CONFIG": "auth_ban:\n  max_fails: 3\n"}, "max_fails"},
		{"fail/secret in the file", nil, env{"GATEHOUSE_CONFIG": "root_password: hunter22hunter22\n"}, "root_password"},
		{"fail/wrong type", nil, env{"GATEHOUSE_CONFIG": "auth_ban:\n  max_failures: many\n"}, "line 2"},
		{"fail/missing file", nil, env{"GATEHOUSE_CONFIG": "\x00missing"}, "config file"},
		{"fail/bad int env", nil, env{"GATEHOUSE_AUTH_BAN_MAX_FAILURES": "ten"}, "GATEHOUSE_AUTH_BAN_MAX_FAILURES"},
		{"fail/bad duration env", nil, env{"GATEHOUSE_AUTH_BAN_DURATION": "1 hour"}, "GATEHOUSE_AUTH_BAN_DURATION"},
		{"fail/bad bool env", nil, env{"GATEHOUSE_AUTH_BAN_EXEMPT_LOOPBACK": "maybe"}, "GATEHOUSE_AUTH_BAN_EXEMPT_LOOPBACK"},
		{"fail/invalid listen flag", func(t *testing.T) *pflag.FlagSet { return flags(t, "--listen", "8080") }, env{}, "listen"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := env{}
			for k, v := range c.e {
				e[k] = v
			}
			if content, ok := e["GATEHOUSE_CONFIG"]; ok {
				if strings.HasPrefix(content, "\x00") {
					e["GATEHOUSE_CONFIG"] = filepath.Join(t.TempDir(), "missing.yaml")
				} else {
					e["GATEHOUSE_CONFIG"] = writeFile(t, content)
				}
			}
			var fs *pflag.FlagSet
			if c.fs != nil {
				fs = c.fs(t)
			}
			_, err := config.Load(fs, e.get)
			if err == nil {
				t.Fatalf("Load succeeded, want an error naming %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func(t *testing.T) config.Config {
		t.Helper()
		return mustLoad(t, nil, env{})
	}
	cases := []struct {
		name   string
		change func(c *config.Config)
		field  string // the error must start with it
	}{
		{"fail/listen without port", func(c *config.Config) { c.Listen = "localhost" }, "listen:"},
		{"fail/empty data dir", func(c *config.Config) { c.DataDir = "" }, "data_dir:"},
		{"fail/external URL not http", func(c *config.Config) { c.ExternalURL = "ftp://example.com" }, "external_url:"},
		{"fail/external URL without host", func(c *config.Config) { c.ExternalURL = "https://" }, "external_url:"},
		{"fail/short root password", func(c *config.Config) { c.RootPassword = "short" }, "GATEHOUSE_ROOT_PASSWORD:"},
		{"fail/short root token", func(c *config.Config) { c.RootToken = "glpat-short" }, "GATEHOUSE_ROOT_TOKEN:"},
		{"fail/zero max failures", func(c *config.Config) { c.AuthBan.MaxFailures = 0 }, "auth_ban:"},
		{"fail/negative window", func(c *config.Config) { c.AuthBan.Window = -time.Second }, "auth_ban:"},
		{"fail/zero duration", func(c *config.Config) { c.AuthBan.Duration = 0 }, "auth_ban:"},
		{"fail/allow-list entry", func(c *config.Config) { c.AuthBan.AllowList = []string{"10.0.0.0/8", "intranet"} }, "auth_ban.allow_list:"},
		{"fail/trusted proxy entry", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "lb.internal"} }, "trusted_proxies:"},
		{"fail/trusted proxies header", func(c *config.Config) { c.TrustedProxiesHeader = "X-Real-IP" }, "trusted_proxies_header:"},
		{"fail/redis URL scheme", func(c *config.Config) { c.RedisURL = "http://127.0.0.1:6379" }, "redis_url:"},
		{"fail/tls cert without key", func(c *config.Config) { c.TLSCert = "c.pem" }, "tls_cert, tls_key:"},
		{"fail/tls key without cert", func(c *config.Config) { c.TLSKey = "k.pem" }, "tls_cert, tls_key:"},
		{"fail/tls cert and acme", func(c *config.Config) {
			c.TLSCert, c.TLSKey, c.ACMEDomains = "c.pem", "k.pem", []string{"git.example.com"}
		}, "tls_cert, acme_domains:"},
		{"fail/acme domain with port", func(c *config.Config) { c.ACMEDomains = []string{"git.example.com:443"} }, "acme_domains:"},
		{"fail/acme directory over http", func(c *config.Config) {
			c.ACMEDomains, c.ACMEDirectoryURL = []string{"git.example.com"}, "http://acme.example/dir"
		}, "acme_directory_url:"},
		{"fail/redirect without tls", func(c *config.Config) { c.HTTPRedirectListen = ":80" }, "http_redirect_listen:"},
		{"fail/redirect address", func(c *config.Config) { c.TLSCert, c.TLSKey, c.HTTPRedirectListen = "c.pem", "k.pem", "80" }, "http_redirect_listen:"},
		{"fail/log level", func(c *config.Config) { c.LogLevel = "verbose" }, "log_level:"},
	}
	t.Run("ok/loaded defaults validate", func(t *testing.T) {
		c := valid(t)
		c.AuthBan.AllowList = []string{"10.0.0.0/8", " 192.0.2.1 ", "2001:db8::/32"}
		c.RootPassword, c.RootToken = "long enough", "glpat-0123456789abcdefghij"
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid(t)
			c.change(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", cfg)
			}
			if !strings.HasPrefix(err.Error(), c.field) {
				t.Fatalf("error %q does not name the field %q", err, c.field)
			}
		})
	}
	t.Run("fail/secret values are not echoed", func(t *testing.T) {
		cfg := valid(t)
		cfg.RootPassword = "pw-1234"
		if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "pw-1234") {
			t.Fatalf("error %v: want a refusal that does not repeat the password", err)
		}
	})
}
