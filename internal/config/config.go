// Package config is Gatehouse's one typed configuration: defaults, then a YAML file, then
// GATEHOUSE_* environment variables, then flags, each overriding the one before. It is the only
// code that reads the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Config is the whole server configuration.
type Config struct {
	// Listen is the HTTP listen address.
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite database, repositories and the instance key.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL selects the database: empty means SQLite at DataDir/gatehouse.db;
	// postgres://… selects PostgreSQL.
	DatabaseURL string `yaml:"database_url"`
	// ExternalURL is how clients reach the server; used in links and challenges.
	ExternalURL string `yaml:"external_url"`
	// RootPassword and RootToken, when set, bootstrap the admin user root (SPEC §6).
	RootPassword string `yaml:"-"`
	RootToken    string `yaml:"-"`
	// SecretKey keys the token digests; empty means DataDir/secret.key (created on first start).
	SecretKey string `yaml:"-"`
	// GitBinary is the git executable.
	GitBinary string `yaml:"git_binary"`
	// AuthBan is the failed-authentication ban for Git and /jwt/auth.
	AuthBan AuthBan `yaml:"auth_ban"`
	// ExternalAuthorization, when true, refuses deploy tokens for Git and packages (SPEC §2).
	ExternalAuthorization bool `yaml:"external_authorization"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
}

// AuthBan configures the failed-auth ban (SPEC §2).
type AuthBan struct {
	MaxFailures    int           `yaml:"max_failures"`
	Window         time.Duration `yaml:"window"`
	Duration       time.Duration `yaml:"duration"`
	ExemptLoopback bool          `yaml:"exempt_loopback"`
	AllowList      []string      `yaml:"allow_list"`
}

// Default returns the embedded defaults: SQLite and local disk under ./data, listening on :8080.
func Default() Config {
	return Config{
		Listen:    ":8080",
		DataDir:   "./data",
		GitBinary: "git",
		LogLevel:  "info",
		AuthBan: AuthBan{MaxFailures: 10, Window: 60 * time.Second, Duration: time.Hour,
			ExemptLoopback: true},
	}
}

// Flags registers the command-line flags that override the configuration.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (env GATEHOUSE_CONFIG)")
	fs.String("listen", "", "listen address (env GATEHOUSE_LISTEN, default :8080)")
	fs.String("data-dir", "", "data directory (env GATEHOUSE_DATA_DIR, default ./data)")
	fs.String("database-url", "", "database: SQLite file path, or postgres://… (env GATEHOUSE_DATABASE_URL)")
	fs.String("external-url", "", "URL clients use to reach this server (env GATEHOUSE_EXTERNAL_URL)")
}

// Load builds the configuration from defaults, the YAML file (flag --config or GATEHOUSE_CONFIG),
// the environment (getenv) and the flags that were set, then validates it.
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	c := Default()
	flag := func(name string) (string, bool) {
		if fs == nil {
			return "", false
		}
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			return "", false
		}
		return f.Value.String(), true
	}
	file := getenv("GATEHOUSE_CONFIG")
	if v, ok := flag("config"); ok {
		file = v
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	str := map[string]*string{
		"GATEHOUSE_LISTEN": &c.Listen, "GATEHOUSE_DATA_DIR": &c.DataDir,
		"GATEHOUSE_DATABASE_URL": &c.DatabaseURL, "GATEHOUSE_EXTERNAL_URL": &c.ExternalURL,
		"GATEHOUSE_ROOT_PASSWORD": &c.RootPassword, "GATEHOUSE_ROOT_TOKEN": &c.RootToken,
		"GATEHOUSE_SECRET_KEY": &c.SecretKey, "GATEHOUSE_GIT_BINARY": &c.GitBinary,
		"GATEHOUSE_LOG_LEVEL": &c.LogLevel,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if err := envInt(getenv, "GATEHOUSE_AUTH_BAN_MAX_FAILURES", &c.AuthBan.MaxFailures); err != nil {
		return c, err
	}
	for k, p := range map[string]*time.Duration{"GATEHOUSE_AUTH_BAN_WINDOW": &c.AuthBan.Window,
		"GATEHOUSE_AUTH_BAN_DURATION": &c.AuthBan.Duration} {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s: %w", k, err)
			}
			*p = d
		}
	}
	for k, p := range map[string]*bool{"GATEHOUSE_AUTH_BAN_EXEMPT_LOOPBACK": &c.AuthBan.ExemptLoopback,
		"GATEHOUSE_EXTERNAL_AUTHORIZATION": &c.ExternalAuthorization} {
		if v := getenv(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, fmt.Errorf("%s: %w", k, err)
			}
			*p = b
		}
	}
	if v := getenv("GATEHOUSE_AUTH_BAN_ALLOW_LIST"); v != "" {
		c.AuthBan.AllowList = strings.Split(v, ",")
	}
	for name, p := range map[string]*string{"listen": &c.Listen, "data-dir": &c.DataDir,
		"database-url": &c.DatabaseURL, "external-url": &c.ExternalURL} {
		if v, ok := flag(name); ok {
			*p = v
		}
	}
	c.fill()
	return c, c.Validate()
}

func envInt(getenv func(string) string, k string, p *int) error {
	if v := getenv(k); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		*p = n
	}
	return nil
}

// fill derives the defaults that depend on other fields.
func (c *Config) fill() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "gatehouse.db")
	}
	if c.ExternalURL == "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.ExternalURL = "http://" + net.JoinHostPort(host, port)
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
}

// Validate reports the first invalid field by name.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		return errors.New("data_dir: must be set")
	}
	u, err := url.Parse(c.ExternalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("external_url: %q is not an http(s) URL", c.ExternalURL)
	}
	if c.RootPassword != "" && len(c.RootPassword) < 8 {
		return errors.New("GATEHOUSE_ROOT_PASSWORD: must be at least 8 characters")
	}
	if c.RootToken != "" && len(c.RootToken) < 20 {
		return errors.New("GATEHOUSE_ROOT_TOKEN: must be at least 20 characters")
	}
	if c.AuthBan.MaxFailures < 1 || c.AuthBan.Window <= 0 || c.AuthBan.Duration <= 0 {
		return errors.New("auth_ban: max_failures, window and duration must be positive")
	}
	for _, a := range c.AuthBan.AllowList {
		if _, err := netip.ParsePrefix(strings.TrimSpace(a)); err != nil {
			if _, err := netip.ParseAddr(strings.TrimSpace(a)); err != nil {
				return fmt.Errorf("auth_ban.allow_list: %q is not an IP or CIDR", a)
			}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}
