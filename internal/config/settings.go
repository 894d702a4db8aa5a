package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// setting declares one configuration value once: where it lives in Config, its YAML key, its
// environment variable, its flag, its default and what it means. Default, Load and Flags are
// driven by the settings table; the YAML file is decoded through Config's yaml tags, and a test
// holds those tags, the table and README.md's configuration tables to the same list.
type setting struct {
	// key is the YAML key (dotted for nested sections). For envOnly settings it is only a name.
	key string
	env string
	// flag is the command-line flag without "--"; empty when there is none.
	flag string
	// def is the default, written as it would be in the environment; empty leaves the zero value.
	def string
	// shown is the default as README.md states it, when it is derived from other settings or
	// described rather than a value (def is then usually empty).
	shown string
	// doc says what the setting is, in one line (the flag's usage).
	doc string
	// envOnly settings are secrets read from the environment only, never from the file.
	envOnly bool
	// field points into c at the setting's value; its type decides how text is parsed.
	field func(c *Config) any
}

// settings is every setting, in README order.
var settings = []setting{
	{key: "listen", env: "GATEHOUSE_LISTEN", flag: "listen", def: ":8080", doc: "listen address",
		field: func(c *Config) any { return &c.Listen }},
	{key: "data_dir", env: "GATEHOUSE_DATA_DIR", flag: "data-dir", def: "./data", doc: "data directory",
		field: func(c *Config) any { return &c.DataDir }},
	{key: "database_url", env: "GATEHOUSE_DATABASE_URL", flag: "database-url", shown: "`<data-dir>/gatehouse.db`",
		doc: "database: SQLite file path, or postgres://…", field: func(c *Config) any { return &c.DatabaseURL }},
	{key: "repositories_dir", env: "GATEHOUSE_REPOSITORIES_DIR", flag: "repositories-dir", shown: "`<data-dir>/repositories`",
		doc: "Git repositories; with several nodes, a shared filesystem", field: func(c *Config) any { return &c.RepositoriesDir }},
	{key: "redis_url", env: "GATEHOUSE_REDIS_URL", flag: "redis-url",
		doc: "Redis (redis://…) for the ban's counters and cluster-wide cache invalidation; default PostgreSQL", field: func(c *Config) any { return &c.RedisURL }},
	{key: "external_url", env: "GATEHOUSE_EXTERNAL_URL", flag: "external-url", shown: "`http://localhost:<port>`",
		doc: "URL clients use to reach this server", field: func(c *Config) any { return &c.ExternalURL }},
	{key: "root_password", env: "GATEHOUSE_ROOT_PASSWORD", envOnly: true, shown: "generated, printed once",
		doc: "root's password on first start", field: func(c *Config) any { return &c.RootPassword }},
	{key: "root_token", env: "GATEHOUSE_ROOT_TOKEN", envOnly: true,
		doc: "root personal access token, created if absent", field: func(c *Config) any { return &c.RootToken }},
	{key: "secret_key", env: "GATEHOUSE_SECRET_KEY", envOnly: true, shown: "`<data-dir>/secret.key`",
		doc: "instance key for token digests", field: func(c *Config) any { return &c.SecretKey }},
	{key: "git_binary", env: "GATEHOUSE_GIT_BINARY", def: "git", doc: "the git executable",
		field: func(c *Config) any { return &c.GitBinary }},
	{key: "auth_ban.max_failures", env: "GATEHOUSE_AUTH_BAN_MAX_FAILURES", def: "10",
		doc:   "failed authentications per client address and per identity before a ban",
		field: func(c *Config) any { return &c.AuthBan.MaxFailures }},
	{key: "auth_ban.window", env: "GATEHOUSE_AUTH_BAN_WINDOW", def: "60s", doc: "window the failures are counted in",
		field: func(c *Config) any { return &c.AuthBan.Window }},
	{key: "auth_ban.duration", env: "GATEHOUSE_AUTH_BAN_DURATION", def: "1h", doc: "how long a ban lasts",
		field: func(c *Config) any { return &c.AuthBan.Duration }},
	{key: "auth_ban.exempt_loopback", env: "GATEHOUSE_AUTH_BAN_EXEMPT_LOOPBACK", def: "true", doc: "loopback is never banned",
		field: func(c *Config) any { return &c.AuthBan.ExemptLoopback }},
	{key: "auth_ban.allow_list", env: "GATEHOUSE_AUTH_BAN_ALLOW_LIST", doc: "comma-separated IPs/CIDRs never banned",
		field: func(c *Config) any { return &c.AuthBan.AllowList }},
	// A year of audit events by default.
	{key: "audit.retention", env: "GATEHOUSE_AUDIT_RETENTION", def: "8760h",
		doc: "audit events older than this are deleted; 0 keeps them", field: func(c *Config) any { return &c.Audit.Retention }},
	// HTTP: a minute without progress ends a read or write; 256 connections per client is far
	// above what a browser (6), docker (3 per pull) or a CI runner fleet behind one NAT needs per
	// address, and far below what ties up a server.
	{key: "http.read_header_timeout", env: "GATEHOUSE_HTTP_READ_HEADER_TIMEOUT", def: "30s",
		doc: "a request's headers must arrive within this", field: func(c *Config) any { return &c.HTTP.ReadHeaderTimeout }},
	{key: "http.read_timeout", env: "GATEHOUSE_HTTP_READ_TIMEOUT", def: "60s",
		doc: "each read of a request body must make progress within this", field: func(c *Config) any { return &c.HTTP.ReadTimeout }},
	{key: "http.write_timeout", env: "GATEHOUSE_HTTP_WRITE_TIMEOUT", def: "60s",
		doc: "each write of a response must make progress within this", field: func(c *Config) any { return &c.HTTP.WriteTimeout }},
	{key: "http.idle_timeout", env: "GATEHOUSE_HTTP_IDLE_TIMEOUT", def: "2m",
		doc: "an idle keep-alive connection is closed after this", field: func(c *Config) any { return &c.HTTP.IdleTimeout }},
	{key: "http.max_conns_per_ip", env: "GATEHOUSE_HTTP_MAX_CONNS_PER_IP", def: "256",
		doc: "open connections per client; 0 disables the cap", field: func(c *Config) any { return &c.HTTP.MaxConnsPerIP }},
	{key: "http.exempt_loopback", env: "GATEHOUSE_HTTP_EXEMPT_LOOPBACK", def: "true",
		doc: "loopback clients are not capped", field: func(c *Config) any { return &c.HTTP.ExemptLoopback }},
	{key: "trusted_proxies", env: "GATEHOUSE_TRUSTED_PROXIES",
		doc:   "comma-separated IPs/CIDRs of reverse proxies whose forwarding header names the client",
		field: func(c *Config) any { return &c.TrustedProxies }},
	{key: "trusted_proxies_header", env: "GATEHOUSE_TRUSTED_PROXIES_HEADER", def: HeaderXForwardedFor,
		doc: "the header trusted proxies write: X-Forwarded-For or Forwarded", field: func(c *Config) any { return &c.TrustedProxiesHeader }},
	{key: "tls_cert", env: "GATEHOUSE_TLS_CERT", flag: "tls-cert",
		doc: "PEM certificate chain file: serve HTTPS and HTTP/2, re-read when it changes", field: func(c *Config) any { return &c.TLSCert }},
	{key: "tls_key", env: "GATEHOUSE_TLS_KEY", flag: "tls-key",
		doc: "PEM private key file for tls_cert", field: func(c *Config) any { return &c.TLSKey }},
	{key: "http_redirect_listen", env: "GATEHOUSE_HTTP_REDIRECT_LISTEN", flag: "http-redirect-listen",
		doc: "plain-HTTP address that redirects every request to https (needs TLS)", field: func(c *Config) any { return &c.HTTPRedirectListen }},
	{key: "acme_domains", env: "GATEHOUSE_ACME_DOMAINS", flag: "acme-domains",
		doc: "comma-separated host names to get a certificate for by ACME (instead of tls_cert)", field: func(c *Config) any { return &c.ACMEDomains }},
	{key: "acme_directory_url", env: "GATEHOUSE_ACME_DIRECTORY_URL", flag: "acme-directory-url", def: DefaultACMEDirectoryURL,
		doc: "the ACME CA's directory", field: func(c *Config) any { return &c.ACMEDirectoryURL }},
	{key: "acme_email", env: "GATEHOUSE_ACME_EMAIL", flag: "acme-email",
		doc: "contact address for the ACME account", field: func(c *Config) any { return &c.ACMEEmail }},
	{key: "secret_push_protection", env: "GATEHOUSE_SECRET_PUSH_PROTECTION", def: "true",
		doc: "refuse pushes whose new commits add a live deploy token or personal access token", field: func(c *Config) any { return &c.SecretPushProtection }},
	{key: "external_authorization", env: "GATEHOUSE_EXTERNAL_AUTHORIZATION", def: "false",
		doc: "force external authorization on", field: func(c *Config) any { return &c.ExternalAuthorization }},
	// A minute lets a large push over a slow link finish; a load balancer's health check
	// notices the 503 from /-/ready well within it.
	// 0 for one node, which has nowhere else to send its clients: a delay would only lengthen
	// the outage of a restart. Behind a load balancer it must outlast the health check's
	// detection (interval × fall), or new requests keep arriving while the node refuses them.
	{key: "shutdown_delay", env: "GATEHOUSE_SHUTDOWN_DELAY", def: "0s",
		doc: "on SIGTERM, answer 503 on /-/ready for this long, still serving, before draining", field: func(c *Config) any { return &c.ShutdownDelay }},
	{key: "shutdown_timeout", env: "GATEHOUSE_SHUTDOWN_TIMEOUT", def: "60s",
		doc: "on SIGTERM, in-flight requests may finish within this", field: func(c *Config) any { return &c.ShutdownTimeout }},
	{key: "log_level", env: "GATEHOUSE_LOG_LEVEL", def: "info", doc: "debug, info, warn or error",
		field: func(c *Config) any { return &c.LogLevel }},
	{key: "blob_store", env: "GATEHOUSE_BLOB_STORE", def: BlobStoreFS, doc: "where blobs live: fs or s3",
		field: func(c *Config) any { return &c.BlobStore }},
	{key: "s3.endpoint", env: "GATEHOUSE_S3_ENDPOINT", doc: "S3 endpoint host[:port], no scheme",
		field: func(c *Config) any { return &c.S3.Endpoint }},
	{key: "s3.bucket", env: "GATEHOUSE_S3_BUCKET", doc: "S3 bucket", field: func(c *Config) any { return &c.S3.Bucket }},
	{key: "s3.access_key", env: "GATEHOUSE_S3_ACCESS_KEY", doc: "S3 access key",
		field: func(c *Config) any { return &c.S3.AccessKey }},
	{key: "s3.secret_key", env: "GATEHOUSE_S3_SECRET_KEY", doc: "S3 secret key",
		field: func(c *Config) any { return &c.S3.SecretKey }},
	{key: "s3.region", env: "GATEHOUSE_S3_REGION", doc: "S3 region", field: func(c *Config) any { return &c.S3.Region }},
	{key: "s3.use_tls", env: "GATEHOUSE_S3_USE_TLS", def: "true", doc: "HTTPS to the S3 endpoint",
		field: func(c *Config) any { return &c.S3.UseTLS }},
	{key: "s3.prefix", env: "GATEHOUSE_S3_PREFIX", doc: "key prefix inside the bucket",
		field: func(c *Config) any { return &c.S3.Prefix }},
	{key: "s3.redirect", env: "GATEHOUSE_S3_REDIRECT", def: "false", doc: "redirect blob GETs to presigned URLs",
		field: func(c *Config) any { return &c.S3.Redirect }},
	{key: "gc.interval", env: "GATEHOUSE_GC_INTERVAL", def: "24h", doc: "garbage collection period; 0 disables it",
		field: func(c *Config) any { return &c.GC.Interval }},
	{key: "gc.grace", env: "GATEHOUSE_GC_GRACE", def: "1h", doc: "minimum age of an unreferenced blob before it is deleted",
		field: func(c *Config) any { return &c.GC.Grace }},
	{key: "gc.upload_ttl", env: "GATEHOUSE_GC_UPLOAD_TTL", def: "24h", doc: "unfinished uploads untouched this long are purged",
		field: func(c *Config) any { return &c.GC.UploadTTL }},
	{key: "dependency_proxy.upstream_url", env: "GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_URL", def: DefaultUpstreamURL,
		doc: "registry the dependency proxy pulls from", field: func(c *Config) any { return &c.DependencyProxy.UpstreamURL }},
	{key: "dependency_proxy.upstream_username", env: "GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_USERNAME",
		doc: "upstream login", field: func(c *Config) any { return &c.DependencyProxy.UpstreamUsername }},
	{key: "dependency_proxy.upstream_password", env: "GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_PASSWORD",
		doc: "upstream password or token", field: func(c *Config) any { return &c.DependencyProxy.UpstreamPassword }},
	{key: "dependency_proxy.tag_ttl", env: "GATEHOUSE_DEPENDENCY_PROXY_TAG_TTL", def: "24h",
		doc: "a cached tag older than this is checked with the upstream", field: func(c *Config) any { return &c.DependencyProxy.TagTTL }},
	{key: "packages.max_file_size", env: "GATEHOUSE_PACKAGES_MAX_FILE_SIZE",
		doc: "per-format upload limits in bytes: format=bytes,…", field: func(c *Config) any { return &c.Packages.MaxFileSize }},
	// SMTP: without a host no mail is sent; tls and from are derived once a host is set (fill).
	{key: "smtp.host", env: "GATEHOUSE_SMTP_HOST", shown: "none (no mail)", doc: "SMTP server host name or IP",
		field: func(c *Config) any { return &c.SMTP.Host }},
	{key: "smtp.port", env: "GATEHOUSE_SMTP_PORT", shown: "25 / 587 / 465 by TLS mode", doc: "SMTP port",
		field: func(c *Config) any { return &c.SMTP.Port }},
	{key: "smtp.tls", env: "GATEHOUSE_SMTP_TLS", shown: "`starttls`", doc: "none, starttls or tls",
		field: func(c *Config) any { return &c.SMTP.TLS }},
	{key: "smtp.username", env: "GATEHOUSE_SMTP_USERNAME", doc: "SMTP login", field: func(c *Config) any { return &c.SMTP.Username }},
	{key: "smtp.password", env: "GATEHOUSE_SMTP_PASSWORD", doc: "SMTP password", field: func(c *Config) any { return &c.SMTP.Password }},
	{key: "smtp.from", env: "GATEHOUSE_SMTP_FROM", shown: "`gatehouse@<external host>`", doc: "mail sender",
		field: func(c *Config) any { return &c.SMTP.From }},
	// Metrics: loopback may scrape by default (a Prometheus agent on the host); anyone else needs
	// the token.
	{key: "metrics.allow", env: "GATEHOUSE_METRICS_ALLOW", def: "127.0.0.0/8,::1",
		doc: "comma-separated IPs/CIDRs that may read /-/metrics without the token", field: func(c *Config) any { return &c.Metrics.Allow }},
	{key: "metrics.token", env: "GATEHOUSE_METRICS_TOKEN", shown: "none",
		doc: "bearer token that may read /-/metrics from any address", field: func(c *Config) any { return &c.Metrics.Token }},
}

// set parses v by the type of the setting's field and stores it in c. Errors never repeat v
// for a secret (secrets are strings, which always parse).
func (s *setting) set(c *Config, v string) error {
	switch p := s.field(c).(type) {
	case *string:
		*p = v
	case *Secret:
		*p = Secret(v)
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*p = d
	case *[]string:
		*p = strings.Split(v, ",")
	case *map[string]int64:
		m, err := parseSizes(v)
		if err != nil {
			return err
		}
		*p = m
	default:
		panic(fmt.Sprintf("config: setting %s has a field of unsupported type %T", s.key, p))
	}
	return nil
}

// usage is the flag's help line.
func (s *setting) usage() string {
	u := s.doc + " (env " + s.env
	if s.shown == "" && s.def != "" {
		u += ", default " + s.def
	}
	return u + ")"
}
