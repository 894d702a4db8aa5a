// Package config is Gatehouse's one typed configuration: defaults, then a YAML file, then
// GATEHOUSE_* environment variables, then flags, each overriding the one before. It is the only
// code that reads the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// RepositoriesDir holds the Git repositories (Repositories): DataDir/repositories by default; with several
	// nodes, a directory on a filesystem they all share (docs/operations.md).
	RepositoriesDir string `yaml:"repositories_dir"`
	// RedisURL, when set (redis://…), keeps the failed-authentication ban's counters in Redis,
	// shared by every node, instead of PostgreSQL (docs/design.md §7.6), and carries cache
	// invalidations between the nodes over Redis pub/sub instead of PostgreSQL LISTEN/NOTIFY
	// (docs/architecture.md §4.5).
	RedisURL string `yaml:"redis_url"`
	// ExternalURL is how clients reach the server; used in links and challenges.
	ExternalURL string `yaml:"external_url"`
	// RootPassword and RootToken, when set, bootstrap the admin user root (docs/design.md §9.1). Like
	// SecretKey they come from the environment only, never from the file.
	RootPassword Secret `yaml:"-"`
	RootToken    Secret `yaml:"-"`
	// SecretKey keys the token digests; empty means DataDir/secret.key (created on first start).
	SecretKey Secret `yaml:"-"`
	// GitBinary is the git executable.
	GitBinary string `yaml:"git_binary"`
	// SecretPushProtection refuses pushes that add live credentials (docs/design.md §6.2.2).
	SecretPushProtection bool `yaml:"secret_push_protection"`
	// AuthBan is the failed-authentication ban every credential-accepting surface shares (Git,
	// /jwt/auth, the package registries, the REST API and web sign-in).
	AuthBan AuthBan `yaml:"auth_ban"`
	// Audit configures the audit log.
	Audit Audit `yaml:"audit"`
	// ExternalAuthorization, when true, refuses deploy tokens for Git and packages
	// (docs/design.md §5.2).
	ExternalAuthorization bool `yaml:"external_authorization"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// ShutdownTimeout is how long in-flight requests may run after SIGTERM before the node
	// stops anyway (docs/operations.md, "Readiness, shutdown and outages").
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long a node keeps serving after SIGTERM while /-/ready answers 503,
	// so the load balancer stops sending it requests before it refuses new connections.
	ShutdownDelay time.Duration `yaml:"shutdown_delay"`
	// BlobStore selects where blobs (registry layers and manifests) live: "fs" (DataDir/blobs)
	// or "s3" (S3 below).
	BlobStore string `yaml:"blob_store"`
	// S3 is the S3-compatible object storage used when BlobStore is "s3".
	S3 S3 `yaml:"s3"`
	// GC schedules garbage collection of unreferenced blobs and abandoned uploads.
	GC GC `yaml:"gc"`
	// DependencyProxy configures the group dependency proxy's upstream registry.
	DependencyProxy DependencyProxy `yaml:"dependency_proxy"`
	// Packages configures the package registries.
	Packages Packages `yaml:"packages"`
	// SMTP configures outgoing mail (deploy-token expiry notices); see smtp.go.
	SMTP SMTP `yaml:"smtp"`
	// HTTP configures the server's timeouts and per-client connection cap; see http.go.
	HTTP HTTP `yaml:"http"`
	// Metrics guards the Prometheus metrics at /-/metrics; see metrics.go.
	Metrics Metrics `yaml:"metrics"`
	// TrustedProxies holds the IPs and CIDRs of the reverse proxies and load balancers whose
	// TrustedProxiesHeader names the client (docs/design.md §7.5), as written; from any other
	// peer the header is ignored. TrustedProxyPrefixes parses it.
	TrustedProxies       []string `yaml:"trusted_proxies"`
	TrustedProxiesHeader string   `yaml:"trusted_proxies_header"`
	// TLSCert and TLSKey, both set, make the listener serve HTTPS (and HTTP/2) with the PEM
	// certificate chain and key in those files, re-read when they change (docs/operations.md,
	// "HTTPS"). Empty: plain HTTP, TLS ending at a load balancer or proxy in front.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// HTTPRedirectListen, when set, is a second, plain-HTTP address answering every request
	// with a 308 to the same host, path and query over https.
	HTTPRedirectListen string `yaml:"http_redirect_listen"`
	// ACMEDomains, when set, make the server obtain and renew its certificate for these host
	// names from the ACME directory ACMEDirectoryURL (TLS-ALPN-01 on the listener, HTTP-01 on
	// http_redirect_listen), cached in DataDir/acme; ACMEEmail is the account's contact.
	ACMEDomains      []string `yaml:"acme_domains"`
	ACMEDirectoryURL string   `yaml:"acme_directory_url"`
	ACMEEmail        string   `yaml:"acme_email"`
}

// DefaultACMEDirectoryURL is Let's Encrypt's production directory.
const DefaultACMEDirectoryURL = "https://acme-v02.api.letsencrypt.org/directory"

// TLS reports whether the server terminates TLS itself, from files or by ACME.
func (c *Config) TLS() bool { return c.TLSCert != "" || len(c.ACMEDomains) > 0 }

// ACMECacheDir is where ACME keeps its account key and certificates.
func (c *Config) ACMECacheDir() string { return filepath.Join(c.DataDir, "acme") }

// Packages configures the package registries.
type Packages struct {
	// MaxFileSize caps one uploaded file, in bytes, by format name ("generic", "npm", …);
	// formats not listed keep their defaults (generic 5 GiB, npm 500 MiB, …). Unknown format
	// names fail at start-up. Env: GATEHOUSE_PACKAGES_MAX_FILE_SIZE="npm=104857600,generic=…".
	MaxFileSize map[string]int64 `yaml:"max_file_size"`
}

// DefaultUpstreamURL is Docker Hub's registry endpoint, the dependency proxy's default upstream.
const DefaultUpstreamURL = "https://registry-1.docker.io"

// DependencyProxy configures the dependency proxy.
type DependencyProxy struct {
	// UpstreamURL is the registry images are pulled from: http(s)://host[:port].
	UpstreamURL string `yaml:"upstream_url"`
	// UpstreamUsername and UpstreamPassword, when set, log in to the upstream (its token realm).
	UpstreamUsername string `yaml:"upstream_username"`
	UpstreamPassword Secret `yaml:"upstream_password"`
	// TagTTL is how long a cached tag is served before the upstream is asked again.
	TagTTL time.Duration `yaml:"tag_ttl"`
}

// Blob store kinds.
const (
	BlobStoreFS = "fs"
	BlobStoreS3 = "s3"
)

// S3 configures the S3 blob store.
type S3 struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint  string `yaml:"endpoint"`
	Bucket    string `yaml:"bucket"`
	AccessKey string `yaml:"access_key"`
	SecretKey Secret `yaml:"secret_key"`
	Region    string `yaml:"region"`
	UseTLS    bool   `yaml:"use_tls"`
	// Prefix is prepended to every object key.
	Prefix string `yaml:"prefix"`
	// Redirect answers blob GETs with a redirect to a presigned URL of the object.
	Redirect bool `yaml:"redirect"`
}

// Audit configures the audit log.
type Audit struct {
	// Retention is how long audit events are kept; a daily job deletes older ones (one node at
	// a time, in batches). 0 keeps them forever. Env: GATEHOUSE_AUDIT_RETENTION.
	Retention time.Duration `yaml:"retention"`
}

// GC configures garbage collection.
type GC struct {
	// Interval is how often the cluster collects (one node at a time); 0 disables the periodic
	// job (`gatehouse gc` still works).
	Interval time.Duration `yaml:"interval"`
	// Grace is how old an unreferenced blob must be before it is deleted, so blobs that an
	// in-flight push has stored but not yet recorded are left alone.
	Grace time.Duration `yaml:"grace"`
	// UploadTTL is how long an unfinished upload may sit untouched before it is purged.
	UploadTTL time.Duration `yaml:"upload_ttl"`
}

// Secret is a configuration value that never prints: String, GoString, text, JSON and slog all
// show "[REDACTED]". Reveal returns the value.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret itself, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

// String hides the secret.
func (s Secret) String() string { return redacted }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return redacted }

// MarshalText hides the secret from encoders (JSON, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// AuthBan configures the failed-auth ban (docs/design.md §7).
type AuthBan struct {
	MaxFailures    int           `yaml:"max_failures"`
	Window         time.Duration `yaml:"window"`
	Duration       time.Duration `yaml:"duration"`
	ExemptLoopback bool          `yaml:"exempt_loopback"`
	// AllowList holds IPs and CIDRs that are never banned, as written; AllowPrefixes parses it.
	AllowList []string `yaml:"allow_list"`
}

// AllowPrefixes parses AllowList: a CIDR is a prefix, a bare IP a single-address prefix.
// A bad entry is an error that names it.
func (b AuthBan) AllowPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("auth_ban.allow_list", b.AllowList)
}

// TrustedProxyPrefixes parses TrustedProxies as AllowPrefixes parses its list.
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("trusted_proxies", c.TrustedProxies)
}

// The headers trusted_proxies_header may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// parsePrefixes parses a list of IPs and CIDRs: a CIDR is a prefix, a bare IP a single-address
// prefix. A bad entry is an error that names key and the entry.
func parsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range list {
		v := strings.TrimSpace(a)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p)
		} else if ip, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		} else {
			return nil, fmt.Errorf("%s: %q is not an IP or CIDR", key, a)
		}
	}
	return out, nil
}

// Default returns the defaults the settings table declares: SQLite and local disk under ./data,
// listening on :8080.
func Default() Config {
	var c Config
	for i := range settings {
		if s := &settings[i]; s.def != "" {
			if err := s.set(&c, s.def); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", s.key, err))
			}
		}
	}
	return c
}

// Flags registers the command-line flags that override the configuration.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (env GATEHOUSE_CONFIG)")
	for i := range settings {
		if s := &settings[i]; s.flag != "" {
			fs.String(s.flag, "", s.usage())
		}
	}
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
	// Each setting from the environment, then from its flag (settings are independent, so this is
	// env over file and flags over env). An empty variable counts as unset; a flag counts when given.
	for i := range settings {
		s := &settings[i]
		if v := getenv(s.env); v != "" {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("%s: %w", s.env, err)
			}
		}
		if s.flag == "" {
			continue
		}
		if v, ok := flag(s.flag); ok {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("--%s: %w", s.flag, err)
			}
		}
	}
	c.fill()
	return c, c.Validate()
}

// Repositories is where the Git repositories live: RepositoriesDir, or DataDir/repositories
// when it is not set.
func (c Config) Repositories() string {
	if c.RepositoriesDir != "" {
		return c.RepositoriesDir
	}
	return filepath.Join(c.DataDir, "repositories")
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
		scheme := "http://"
		if c.TLS() {
			scheme = "https://"
		}
		if len(c.ACMEDomains) > 0 {
			host = c.ACMEDomains[0]
		}
		if scheme == "https://" && port == "443" {
			c.ExternalURL = scheme + host
		} else {
			c.ExternalURL = scheme + net.JoinHostPort(host, port)
		}
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	c.SMTP.fill(c.ExternalURL)
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
	if c.ShutdownTimeout <= 0 {
		return errors.New("shutdown_timeout: must be positive")
	}
	if c.ShutdownDelay < 0 {
		return errors.New("shutdown_delay: must not be negative")
	}
	if c.Audit.Retention < 0 {
		return errors.New("audit.retention: must not be negative (0 keeps events forever)")
	}
	if _, err := c.AuthBan.AllowPrefixes(); err != nil {
		return err
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		return err
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert, tls_key: set both or neither")
	}
	if c.TLSCert != "" && len(c.ACMEDomains) > 0 {
		return errors.New("tls_cert, acme_domains: set one or the other")
	}
	for _, d := range c.ACMEDomains {
		if d == "" || strings.ContainsAny(d, ":/ ") {
			return fmt.Errorf("acme_domains: %q is not a host name", d)
		}
	}
	if u, err := url.Parse(c.ACMEDirectoryURL); len(c.ACMEDomains) > 0 && (err != nil || u.Scheme != "https" || u.Host == "") {
		return fmt.Errorf("acme_directory_url: %q is not an https URL", c.ACMEDirectoryURL)
	}
	if c.HTTPRedirectListen != "" {
		if !c.TLS() {
			return errors.New("http_redirect_listen: needs tls_cert and tls_key, or acme_domains")
		}
		if _, _, err := net.SplitHostPort(c.HTTPRedirectListen); err != nil {
			return fmt.Errorf("http_redirect_listen: %q is not host:port", c.HTTPRedirectListen)
		}
	}
	if c.TrustedProxiesHeader != HeaderXForwardedFor && c.TrustedProxiesHeader != HeaderForwarded {
		return fmt.Errorf("trusted_proxies_header: %q is not %s or %s", c.TrustedProxiesHeader, HeaderXForwardedFor, HeaderForwarded)
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return errors.New("redis_url: not a redis:// or rediss:// URL")
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.BlobStore {
	case BlobStoreFS:
	case BlobStoreS3:
		if err := c.S3.validate(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("blob_store: %q is not fs or s3", c.BlobStore)
	}
	switch {
	case c.GC.Interval < 0:
		return errors.New("gc.interval: must not be negative (0 disables the periodic job)")
	case c.GC.Grace <= 0:
		return errors.New("gc.grace: must be positive")
	case c.GC.UploadTTL <= 0:
		return errors.New("gc.upload_ttl: must be positive")
	}
	for f, n := range c.Packages.MaxFileSize {
		if n <= 0 {
			return fmt.Errorf("packages.max_file_size.%s: must be positive", f)
		}
	}
	if err := c.SMTP.validate(); err != nil {
		return err
	}
	if err := c.HTTP.validate(); err != nil {
		return err
	}
	if _, err := c.Metrics.AllowPrefixes(); err != nil {
		return err
	}
	return c.DependencyProxy.validate()
}

// parseSizes parses "name=bytes,name=bytes".
func parseSizes(v string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, kv := range strings.Split(v, ",") {
		k, n, ok := strings.Cut(strings.TrimSpace(kv), "=")
		size, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if !ok || k == "" || err != nil {
			return nil, fmt.Errorf("%q is not format=bytes", kv)
		}
		out[strings.TrimSpace(k)] = size
	}
	return out, nil
}

func (d *DependencyProxy) validate() error {
	u, err := url.Parse(d.UpstreamURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return errors.New("dependency_proxy.upstream_url: must be http(s)://host[:port], without credentials, path or query")
	}
	switch {
	case d.UpstreamPassword != "" && d.UpstreamUsername == "":
		return errors.New("dependency_proxy.upstream_username: must be set with upstream_password")
	case d.UpstreamUsername != "" && d.UpstreamPassword == "":
		return errors.New("dependency_proxy.upstream_password: must be set with upstream_username")
	case d.TagTTL <= 0:
		return errors.New("dependency_proxy.tag_ttl: must be positive")
	}
	return nil
}

func (s *S3) validate() error {
	switch {
	case s.Endpoint == "":
		return errors.New("s3.endpoint: must be set when blob_store is s3")
	case strings.Contains(s.Endpoint, "://") || strings.Contains(s.Endpoint, "/"):
		return fmt.Errorf("s3.endpoint: %q must be host[:port] without a scheme or path (use s3.use_tls for https)", s.Endpoint)
	case s.Bucket == "":
		return errors.New("s3.bucket: must be set when blob_store is s3")
	case s.AccessKey == "":
		return errors.New("s3.access_key: must be set when blob_store is s3")
	case s.SecretKey == "":
		return errors.New("s3.secret_key: must be set when blob_store is s3")
	}
	return nil
}

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}
