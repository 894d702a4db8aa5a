// Package server is Gatehouse's composition root: it opens the stores, builds the services and
// protocol handlers, mounts the routes, and runs the HTTP server with graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/ban/redisban"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/extauthz"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/git"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/proxy"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/web"
)

// Version and Revision are set at build time with -ldflags.
var (
	Version  = "0.1.0-dev"
	Revision = "unknown"
)

// Options are what a caller may inject besides the configuration.
type Options struct {
	// Log receives structured logs; nil means JSON to stderr.
	Log *slog.Logger
	// Stdout receives the one-time initial root password; nil means os.Stdout.
	Stdout io.Writer
	// Now is the clock; nil means time.Now. Tests move it to test expiry.
	Now func() time.Time
	// After waits for the daily jobs' scheduler; nil means time.After. Tests fire it to move
	// the scheduler to 01:00 UTC.
	After func(time.Duration) <-chan time.Time
	// ACMEHTTPClient talks to the ACME directory; nil means http.DefaultClient. Tests pass
	// one trusting their ACME server's CA.
	ACMEHTTPClient *http.Client
	// CertCheckEvery is how often, at most, the TLS certificate files are checked for a change;
	// 0 means 5 seconds. Tests shorten it.
	CertCheckEvery time.Duration
}

// Server is a running Gatehouse instance.
type Server struct {
	Config     config.Config
	Store      *sqlstore.Stores
	Namespaces *namespace.Service
	Deploy     *token.DeployService
	// Usage records deploy-token uses in the background; Flush stores what it has counted.
	Usage    *token.UsageWriter
	Personal *token.PersonalService
	// Variables keeps projects' and groups' CI/CD variables.
	Variables *token.VariableService
	Audit     *audit.Log
	Auth      *authn.Authenticator
	// Gate is the one audited authorization decision every protocol asks (docs/architecture.md §3.3).
	Gate   *gate.Gate
	Repos  *git.Repos
	Blobs  blob.Store
	Tokens *jwtauth.Issuer
	Log    *slog.Logger
	// logs buffers Log's output when New built the logger; Close flushes it.
	logs *logBuffer

	// GC collects unreferenced blobs and abandoned uploads; fence is the pushes' side of it.
	GC    *gc.Collector
	fence *gc.Fence

	// proxy is the group dependency proxy; proxySettings its per-group on/off setting.
	proxy         *proxy.Handler
	proxySettings *proxy.Settings

	// Packages is the package registries' service (every format).
	Packages *packages.Service

	// Expiry is the deploy-token expiry notification job, run daily at 01:00 UTC by
	// expirySchedule (notify.go).
	Expiry         *notify.Job
	expirySchedule *notify.Scheduler

	// AuditRetention deletes audit events older than audit.retention, daily after the expiry
	// job (audit.go).
	AuditRetention *audit.Retention

	// ExternalAuthorization is the external authorization service's client and settings.
	ExternalAuthorization *extauthz.Service

	// Metrics is the Prometheus registry served at /-/metrics (metrics.go), to metricsAllow's
	// addresses and the metrics token.
	Metrics      *metrics.Metrics
	metricsAllow []netip.Prefix

	// redis holds the ban's windows when redis_url is set; Close closes it.
	redis *redisban.Store
	// proxies name the client of a request they forward (docs/design.md §7.5).
	proxies httpx.TrustedProxies
	// Bus carries cache invalidations between the nodes (docs/architecture.md §4.5): Redis
	// pub/sub with GATEHOUSE_REDIS_URL, else PostgreSQL LISTEN/NOTIFY, else (SQLite) this
	// process only.
	Bus cachebus.Bus
	// locks are the named locks every node sees (locks.go); nil on SQLite.
	locks *sqlstore.Locker
	// credentials re-reads the principal of a registry or proxy bearer token (tokencache.go).
	credentials access.Credentials

	handler http.Handler
	http    *http.Server
	// certCheckEvery is Options.CertCheckEvery.
	certCheckEvery time.Duration
	// acmeHTTPClient is Options.ACMEHTTPClient.
	acmeHTTPClient *http.Client
	// draining is set once shutdown begins: /-/ready answers 503 so the load balancer stops
	// sending new requests while in-flight ones finish (docs/operations.md).
	draining atomic.Bool
}

// New opens the store (migrating it), builds every service and bootstraps the root user.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *Server, err error) {
	log := opts.Log
	var logs *logBuffer
	if log == nil {
		log, logs = newBufferedLogger(os.Stderr, cfg.LogLevel)
		defer func() {
			if err != nil {
				_ = logs.Flush()
			}
		}()
	}
	stdout := opts.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	// Parsed before anything is opened: a bad entry is refused, never dropped.
	allow, err := cfg.AuthBan.AllowPrefixes()
	if err != nil {
		return nil, err
	}
	metricsAllow, err := cfg.Metrics.AllowPrefixes()
	if err != nil {
		return nil, err
	}
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	if err := git.CheckBinary(cfg.GitBinary); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	key, err := instanceKey(cfg)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	store := sqlstore.New(db)
	s := &Server{Config: cfg, Store: store, Log: log, logs: logs, Metrics: metrics.New(), metricsAllow: metricsAllow, certCheckEvery: opts.CertCheckEvery,
		acmeHTTPClient: opts.ACMEHTTPClient,
		proxies:        httpx.TrustedProxies{Peers: proxies, Header: httpx.ForwardedHeader(cfg.TrustedProxiesHeader)}}
	s.Metrics.BuildInfo(Version, Revision)
	s.Metrics.DB(store.SQL())
	if s.Bus, err = openBus(ctx, cfg, store, log); err != nil {
		s.Close()
		return nil, err
	}
	s.Metrics.CacheBus(s.Bus.Healthy)
	s.openLocks()
	s.proxySettings = proxy.NewSettings(store.Proxy, opts.Now, log)
	s.proxySettings.Follow(s.Bus)
	digester := token.NewDigester(key)
	s.Namespaces = namespace.NewService(store.Namespaces, opts.Now)
	// On PostgreSQL every request would read its token from the database: a bus-following cache
	// makes that nearly free (tokencache.go). SQLite has its own read cache.
	var deployStore token.DeployStore = store.Tokens
	s.credentials = store.Credentials()
	if store.Dialect() == "postgres" {
		dt := newDeployTokens(store.Tokens, s.Bus, log, opts.Now)
		deployStore, s.credentials = dt, credentials{store.Credentials(), dt}
	}
	s.Deploy = token.NewDeployService(deployStore, digester, opts.Now)
	s.Deploy.SealCITokens(token.NewSealer(key, "gatehouse/ci-deploy-token/v1"))
	s.Usage = token.NewUsageWriter(observedUsage{store.Tokens, s.Metrics}, opts.Now)
	s.Personal = token.NewPersonalService(store.Tokens, digester, opts.Now)
	s.Variables = token.NewVariableService(store.Variables, token.NewSealer(key, "gatehouse/ci-variable/v1"), opts.Now)
	s.Audit = audit.NewLog(store.Audit, opts.Now).Named(auditNames{s.Namespaces})
	// External authorization: settings in the database; the configuration flag forces it on.
	s.ExternalAuthorization = extauthz.New(store.Settings, extauthz.Options{Forced: cfg.ExternalAuthorization, Now: opts.Now, Log: log, Bus: s.Bus})
	s.Gate = gate.New(gate.Config{Authorizer: access.New(s.Namespaces, opts.Now, access.Options{
		ExternalAuthorization:  s.ExternalAuthorization.Enabled,
		External:               s.ExternalAuthorization,
		DependencyProxyEnabled: s.proxySettings.Enabled,
	}), Audit: s.Audit, Log: log, Observe: observeDecision(s.Metrics)})
	banStore, err := s.openBanStore(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Auth = &authn.Authenticator{Deploy: s.Deploy, Usage: s.Usage, Personal: s.Personal, Users: s.Namespaces,
		Audit: s.Audit, Log: log,
		Ban: observedLimiter{ban.New(banStore, ban.Options{MaxFailures: cfg.AuthBan.MaxFailures, Window: cfg.AuthBan.Window,
			Duration: cfg.AuthBan.Duration, ExemptLoopback: cfg.AuthBan.ExemptLoopback, AllowList: allow}, opts.Now, log), s.Metrics}}
	s.Repos = &git.Repos{Root: cfg.Repositories(), GitBin: cfg.GitBinary}
	s.Namespaces.OnProjectCreated = func(ctx context.Context, p *namespace.Project) error {
		return s.Repos.Create(ctx, p.ID)
	}
	s.Namespaces.OnProjectDeleted = func(ctx context.Context, id int64) error {
		return errors.Join(s.Repos.Remove(ctx, id), s.Bus.Publish(ctx, cachebus.Projects, strconv.FormatInt(id, 10)))
	}
	// A moved project keeps its repository (named by id); image names resolve anew everywhere.
	s.Namespaces.OnProjectMoved = func(ctx context.Context, id int64) error {
		return s.Bus.Publish(ctx, cachebus.Projects, strconv.FormatInt(id, 10))
	}
	if err := s.Repos.Sweep(ctx); err != nil {
		log.Warn("remove leftovers of repository creations and deletions", "err", err)
	}
	if err := s.openRegistry(ctx, key, opts.Now); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openProxy(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openPackages(); err != nil {
		s.Close()
		return nil, err
	}
	s.openAuditRetention(opts)
	if err := s.openNotify(opts); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.bootstrap(ctx, stdout); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// openBanStore opens where the failed-authentication ban counts (docs/design.md §7.6): Redis when
// redis_url is set, else PostgreSQL, which every node shares; nil (each node's memory) on
// SQLite, which one node serves.
func (s *Server) openBanStore(ctx context.Context) (ban.Store, error) {
	switch {
	case s.Config.RedisURL != "":
		r, err := redisban.Open(ctx, s.Config.RedisURL, "")
		if err != nil {
			return nil, err
		}
		s.redis = r
		return r, nil
	case s.Config.IsPostgres():
		return s.Store.Ban, nil
	}
	return nil, nil
}

// openRegistry opens the blob store (DataDir/blobs or S3), its garbage collector, and the
// registry token signing key (generated on first start and shared by every node through the
// settings table).
func (s *Server) openRegistry(ctx context.Context, instanceKey []byte, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	blobs, err := openBlobs(ctx, s.Config, s.Log, s.Metrics.S3Transport)
	if err != nil {
		return err
	}
	if s.GC, err = newCollector(s.Config, s.Store, blobs, s.Log, now, observeGC(s.Metrics)); err != nil {
		return err
	}
	s.fence = &gc.Fence{Deletions: s.Store.GC, Blobs: blobs, Now: now}
	key, err := jwtauth.LoadOrCreateKey(ctx, s.Store.Settings, instanceKey, now())
	if err != nil {
		return err
	}
	s.Blobs, s.Tokens = blobs, jwtauth.NewIssuer(key, jwtauth.Options{Now: now})
	return nil
}

// RegistrySigningKey returns the registry token signing key of the instance cfg describes,
// creating it (after migrating the database) when no server has started yet. The CLI prints its
// public half for an external CNCF Distribution registry.
func RegistrySigningKey(ctx context.Context, cfg config.Config) (*jwtauth.Key, error) {
	if !cfg.IsPostgres() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	secret, err := instanceKey(cfg)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	return jwtauth.LoadOrCreateKey(ctx, sqlstore.New(db).Settings, secret, time.Now())
}

// Migrate applies the database migrations of the instance cfg describes (the `gatehouse
// migrate` command) and returns how many it applied and the database's dialect.
func Migrate(ctx context.Context, cfg config.Config) (applied int, dialect string, err error) {
	if !cfg.IsPostgres() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return 0, "", err
		}
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return 0, "", err
	}
	return n, db.Dialect(), nil
}

// NewLogger returns a JSON slog logger at level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	lw := &lockedWriter{w: w}
	return slog.New(jsonLogHandler{slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: l}), lw})
}

// jsonLogHandler is the JSON handler of NewLogger, which lets httpx.Middleware write its
// access-log lines to the same writer itself (httpx.JSONLines): the lines are the same bytes.
type jsonLogHandler struct {
	*slog.JSONHandler
	w *lockedWriter
}

// JSONLines implements httpx.JSONLines. A handler with attributes or a group is a bare
// JSONHandler, so only the logger's own handler offers its writer.
func (h jsonLogHandler) JSONLines() io.Writer { return h.w }

// lockedWriter serializes the writes of the JSON handler and of httpx.Middleware's own lines,
// which bypass the handler's lock.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// instanceKey returns the key for token digests: GATEHOUSE_SECRET_KEY, or DataDir/secret.key,
// created with 256 random bits on first start. It is kept outside the database on purpose.
func instanceKey(cfg config.Config) ([]byte, error) {
	if cfg.SecretKey != "" {
		return []byte(cfg.SecretKey.Reveal()), nil
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if key == "" {
			// Never digest tokens with an empty key (a crash or a concurrent first start can leave
			// the file empty); the key cannot be recreated without invalidating every token.
			return nil, fmt.Errorf("instance key file %s is empty", path)
		}
		return []byte(key), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read instance key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return instanceKey(cfg)
		}
		return nil, fmt.Errorf("create instance key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return []byte(key), f.Close()
}

// bootstrap creates the admin user root on first start, and the bootstrap personal access token
// when GATEHOUSE_ROOT_TOKEN is set (idempotently, so automation can rely on it).
func (s *Server) bootstrap(ctx context.Context, stdout io.Writer) error {
	root, err := s.Namespaces.UserByUsername(ctx, "root")
	if errors.Is(err, errkind.ErrNotFound) {
		password, printed := s.Config.RootPassword.Reveal(), false
		if password == "" {
			b := make([]byte, 18)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			password, printed = hex.EncodeToString(b), true
		}
		root, err = s.Namespaces.CreateUser(ctx, namespace.CreateUserInput{Username: "root", Email: "root@localhost.localdomain",
			Name: "Administrator", Password: password, Admin: true,
			// A printed password is asked to be changed at first sign-in (docs/design.md §6.9).
			PasswordChangeRequired: printed})
		if err != nil {
			return fmt.Errorf("create root user: %w", err)
		}
		if printed {
			// Written once to stdout, not to the log.
			fmt.Fprintf(stdout, "Created the admin user root. Initial password (shown once): %s\n", password)
		}
	} else if err != nil {
		return err
	}
	if s.Config.RootToken != "" {
		secret := token.NewSecret(s.Config.RootToken.Reveal())
		if _, err := s.Personal.Authenticate(ctx, secret); errors.Is(err, errkind.ErrNotFound) {
			if _, _, err := s.Personal.Create(ctx, token.CreatePersonalInput{UserID: root.ID, Name: "bootstrap",
				Scopes: []string{string(token.API)}, Secret: secret}); err != nil {
				return fmt.Errorf("create root token: %w", err)
			}
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	apiHandler := api.New(api.Config{Namespaces: s.Namespaces, Deploy: s.Deploy, Personal: s.Personal, Auth: s.Auth, Gate: s.Gate,
		Audit: s.Audit, Log: s.Log, Version: Version, Revision: Revision, ExternalURL: s.Config.ExternalURL,
		Repos: s.Repos, GitBin: s.Config.GitBinary,
		DependencyProxy: s.proxySettings, ExternalAuthorization: s.ExternalAuthorization,
		ExpiryJob: expiryJob{s}, Packages: s.Packages, Variables: s.Variables})
	gitHandler := git.New(git.Config{Repos: s.Repos, Projects: s.Namespaces, Auth: s.Auth, Gate: s.Gate, Log: s.Log, Realm: "Gatehouse",
		PushProtection: s.pushProtection()})
	mux.Handle("/api/v4/", apiHandler)
	projects := jwtauth.NewProjectCache(s.Store.Namespaces, s.Tokens.Now)
	projects.Follow(s.Bus)
	mux.Handle("/v2/", v2Handler(registry.New(registry.Config{Store: s.Store.Registry, Blobs: s.Blobs, Projects: projects, Principals: s.credentials,
		Tokens: s.Tokens, Gate: s.Gate, Realm: s.Config.ExternalURL + "/jwt/auth",
		UploadSecret: s.Tokens.Key().Derive("registry-upload-state"), Log: s.Log, Now: s.Tokens.Now,
		RedirectBlobs: s.Config.S3.Redirect, Fence: s.fence, UploadLocks: s.uploadLocks()}), s.proxy))
	mux.Handle("/jwt/auth", jwtauth.New(jwtauth.Config{Issuer: s.Tokens, Auth: s.Auth, Log: s.Log, Services: s.tokenServices(projects)}))
	packagePatterns := s.mountPackages(mux)
	mux.HandleFunc("GET /-/health", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /-/ready", s.ready)
	// The web UI: sign-in, group and project pages, deploy-token settings (never a path Git
	// handles, so a clone URL without .git reaches Git, not a page).
	// Failed sign-ins count in the one ban every credential-accepting surface shares.
	webUI := web.New(web.Config{Namespaces: s.Namespaces, Deploy: s.Deploy, Gate: s.Gate, Audit: s.Audit,
		Sessions: s.Store.Sessions, SignInLimiter: s.Auth.Ban, Log: s.Log, ExternalURL: s.Config.ExternalURL,
		Key: s.Tokens.Key().Derive("web-sign-in-csrf"), Now: s.Deploy.Now, Credentials: s.Auth.Packages,
		RepositoryEmpty:       s.Repos.Empty,
		Personal:              s.Personal,
		ExternalAuthorization: s.ExternalAuthorization, ConfigSettings: s.webConfigSettings(), SystemInfo: s.webSystemInfo(s.Deploy.Now()),
		Repos: s.Repos, GitBin: s.Config.GitBinary, Registry: s.Store.Registry, Packages: s.Packages, PackageBytes: s.Store.Packages})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if git.Handles(r) {
			gitHandler.ServeHTTP(w, r)
			return
		}
		if web.Handles(r.URL.Path) {
			webUI.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
	mux.Handle("GET /-/metrics", s.metricsHandler())
	// The client address is resolved first, so the access log, the ban, the IP allow-lists, the
	// audit log and the metrics guard all see the same one.
	return s.Metrics.InFlight(httpx.ClientAddress(s.proxies, httpx.Deadlines(httpx.Timeouts{Read: s.Config.HTTP.ReadTimeout, Write: s.Config.HTTP.WriteTimeout},
		httpx.Middleware(s.Log, newSurfaces(s.Metrics, packagePatterns).observe, mux))))
}

// Handler is the whole HTTP surface, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on l until ctx is done, then shuts down gracefully. Connections over the
// per-client cap are refused at accept; the read and write timeouts are per progress (see
// httpx.Deadlines), so http.Server's whole-request ReadTimeout and WriteTimeout stay unset.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hc := s.Config.HTTP
	l = httpx.LimitListener(l, httpx.ConnLimit{PerClient: hc.MaxConnsPerIP, ExemptLoopback: hc.ExemptLoopback, Exempt: s.proxies.Peers})
	s.http = &http.Server{Handler: s.handler, ReadHeaderTimeout: hc.ReadHeaderTimeout, IdleTimeout: hc.IdleTimeout}
	// The background jobs outlive ctx: they stop after the in-flight requests have finished.
	gcCtx, stopGC := context.WithCancel(context.WithoutCancel(ctx))
	defer s.startGC(gcCtx)()
	defer s.startNotify(gcCtx)()
	defer s.startAudit(gcCtx)()
	defer stopGC()
	errc := make(chan error, 2)
	var redirect *http.Server
	if s.Config.TLS() {
		ts, err := s.newTLS(l.Addr().String())
		if err != nil {
			return err
		}
		// ServeTLS offers h2 by ALPN, so HTTP/2 comes with TLS.
		s.http.TLSConfig = ts.config
		if s.Config.HTTPRedirectListen != "" {
			rl, err := net.Listen("tcp", s.Config.HTTPRedirectListen)
			if err != nil {
				return err
			}
			redirect = &http.Server{Handler: ts.redirect, ReadHeaderTimeout: hc.ReadHeaderTimeout, IdleTimeout: hc.IdleTimeout}
			s.Log.Info("redirecting to https", "addr", rl.Addr().String())
			go func() { errc <- redirect.Serve(rl) }()
		}
		go func() { errc <- s.http.ServeTLS(l, "", "") }()
	} else {
		go func() { errc <- s.http.Serve(l) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		if redirect != nil {
			// The redirect answers at once; it stops once the requests have drained.
			defer redirect.Close()
		}
		return s.drain()
	}
}

// drain is graceful shutdown (docs/operations.md): the node goes unready and, for
// shutdown_delay, keeps serving so the load balancer's health check takes it out before it
// refuses anything; then it stops accepting and lets in-flight requests finish within
// shutdown_timeout, and cuts what is left.
func (s *Server) drain() error {
	s.draining.Store(true)
	if d := s.Config.ShutdownDelay; d > 0 {
		s.Log.Info("shutting down: unready, still serving until the load balancer notices", "delay", d)
		time.Sleep(d)
	}
	s.Log.Info("shutting down: draining in-flight requests", "timeout", s.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		s.Log.Warn("shutdown timeout passed: closing the connections still open", "err", err)
		_ = s.http.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	s.Log.Info("shut down: no request in flight")
	return nil
}

// Close releases the store and background workers.
func (s *Server) Close() {
	if s.Usage != nil {
		s.Usage.Close()
	}
	if s.redis != nil {
		_ = s.redis.Close()
	}
	if c, ok := s.Bus.(io.Closer); ok {
		_ = c.Close()
	}
	if s.Store != nil {
		s.Store.Close()
	}
	if s.logs != nil {
		_ = s.logs.Flush()
	}
}
