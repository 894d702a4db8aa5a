// Package extauthz is the client of GitLab's external authorization service (docs/design.md §5): it
// keeps the instance settings and the projects' classification labels (through a Store), asks the
// service over HTTP whether a person may reach a label, and caches the answers briefly. It
// implements access.ExternalAuthorizer, so access decides without speaking HTTP.
package extauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Store keeps the settings and labels; *sqlstore.SettingsStore implements it.
type Store interface {
	// ExternalAuthorizationSettings returns the stored settings, or ok false if never saved.
	ExternalAuthorizationSettings(ctx context.Context) (s access.ExternalSettings, ok bool, err error)
	// SaveExternalAuthorizationSettings stores the settings.
	SaveExternalAuthorizationSettings(ctx context.Context, s access.ExternalSettings, now time.Time) error
	// ProjectClassificationLabel returns a project's own label, "" when it has none.
	ProjectClassificationLabel(ctx context.Context, projectID int64) (string, error)
	// SetProjectClassificationLabel sets a project's label ("" removes it); errkind.ErrNotFound
	// for an unknown project.
	SetProjectClassificationLabel(ctx context.Context, projectID int64, label string, now time.Time) error
}

// Defaults of Options.
const (
	// DefaultAnswerTTL is how long an answer of the service is reused for the same person and
	// label.
	DefaultAnswerTTL = 30 * time.Second
	// DefaultMaxAnswers bounds the answer cache.
	DefaultMaxAnswers = 10_000
	// settingsTTL is how long settings and labels are reused: a change made on another node
	// takes effect within a second (this node's own changes at once).
	settingsTTL = time.Second
	// maxLabels bounds the label cache.
	maxLabels = 4096
	// maxResponse bounds how much of the service's answer is read.
	maxResponse = 64 << 10
	// maxReason bounds the reason shown to the requester.
	maxReason = 255
	// storeTimeout bounds the settings read behind Enabled, which has no context of its own.
	storeTimeout = 5 * time.Second
)

// Options configure a Service. The zero value is usable.
type Options struct {
	// Forced turns external authorization on whatever the stored setting says (the
	// GATEHOUSE_EXTERNAL_AUTHORIZATION bootstrap flag). Without a service URL only the
	// deploy-token rule applies.
	Forced bool
	// Client asks the service; nil means a client that follows no redirects.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives failures to reach the service or the store; nil means slog.Default().
	Log *slog.Logger
	// AnswerTTL and MaxAnswers shape the answer cache; zero means the defaults.
	AnswerTTL  time.Duration
	MaxAnswers int
	// Bus carries changes of the settings and labels between the nodes (topic
	// cachebus.ExternalAuthorization); while it is down nothing is answered from memory. Nil
	// leaves only the expiry (a single node).
	Bus cachebus.Bus
}

// Service implements access.ExternalAuthorizer and the settings the API edits. It is safe for
// concurrent use.
type Service struct {
	store Store
	opts  Options

	settings *cachebus.Cache[struct{}, access.ExternalSettings]
	labels   *cachebus.Cache[int64, string]  // project id → its own label
	answers  *cachebus.Cache[string, answer] // service URL, person, label → answer
}

type answer struct {
	allowed bool
	reason  string
}

var _ access.ExternalAuthorizer = (*Service)(nil)

// New returns a Service over store.
func New(store Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.AnswerTTL <= 0 {
		opts.AnswerTTL = DefaultAnswerTTL
	}
	if opts.MaxAnswers <= 0 {
		opts.MaxAnswers = DefaultMaxAnswers
	}
	s := &Service{store: store, opts: opts,
		settings: cachebus.NewCache[struct{}, access.ExternalSettings](cachebus.CacheOptions{TTL: settingsTTL, Max: 1, Now: opts.Now}),
		labels:   cachebus.NewCache[int64, string](cachebus.CacheOptions{TTL: settingsTTL, Max: maxLabels, Now: opts.Now}),
		answers:  cachebus.NewCache[string, answer](cachebus.CacheOptions{TTL: opts.AnswerTTL, Max: opts.MaxAnswers, Now: opts.Now}),
	}
	// A project id names one label; the settings (All) change everything, answers included,
	// since the service or the labels may have changed.
	s.settings.Follow(opts.Bus, cachebus.ExternalAuthorization, cachebus.NoKeys[struct{}])
	s.labels.Follow(opts.Bus, cachebus.ExternalAuthorization, parseID)
	s.answers.Follow(opts.Bus, cachebus.ExternalAuthorization, cachebus.NoKeys[string])
	return s
}

// parseID reads a project id published on the bus.
func parseID(key string) (int64, bool) {
	id, err := strconv.ParseInt(key, 10, 64)
	return id, err == nil
}

// forget drops what a change of key made stale: one project's label, or (cachebus.All, the
// settings) everything.
func (s *Service) forget(key string) {
	if id, ok := parseID(key); ok {
		s.labels.Forget(id)
		return
	}
	s.settings.Clear()
	s.labels.Clear()
	s.answers.Clear()
}

// changed forgets key here and tells the other nodes, after the write committed. A failed
// notification is logged: the others then go by their expiry (a second for settings and labels).
func (s *Service) changed(ctx context.Context, key string) {
	s.forget(key)
	if s.opts.Bus == nil {
		return
	}
	if err := s.opts.Bus.Publish(ctx, cachebus.ExternalAuthorization, key); err != nil {
		s.opts.Log.ErrorContext(ctx, "publish external authorization change", "err", err.Error())
	}
}

// Forced reports whether the configuration forces external authorization on.
func (s *Service) Forced() bool { return s.opts.Forced }

// Settings returns the effective settings: the stored ones (or off, with the default timeout),
// enabled when the configuration forces it.
func (s *Service) Settings(ctx context.Context) (access.ExternalSettings, error) {
	return s.settings.Load(ctx, struct{}{}, func(ctx context.Context) (access.ExternalSettings, error) {
		set, ok, err := s.store.ExternalAuthorizationSettings(ctx)
		if err != nil {
			return access.ExternalSettings{}, err
		}
		if !ok || set.Timeout <= 0 {
			set.Timeout = access.DefaultExternalTimeout
		}
		set.Enabled = set.Enabled || s.opts.Forced
		return set, nil
	})
}

// SaveSettings validates and stores set, and forgets every cached answer (the service or the
// labels may have changed). It returns an error wrapping access.ErrInvalidSetting for invalid
// settings, including turning off what the configuration forces on.
func (s *Service) SaveSettings(ctx context.Context, set access.ExternalSettings) error {
	if s.opts.Forced && !set.Enabled {
		return fmt.Errorf("%w: external authorization is forced on by the server configuration (GATEHOUSE_EXTERNAL_AUTHORIZATION)", access.ErrInvalidSetting)
	}
	if err := set.Validate(); err != nil {
		return err
	}
	if err := s.store.SaveExternalAuthorizationSettings(ctx, set, s.opts.Now()); err != nil {
		return err
	}
	s.changed(ctx, cachebus.All)
	return nil
}

// Enabled reports whether external authorization is on; it is access.Options.ExternalAuthorization.
// That hook cannot return an error, so a store failure is logged and answered "on": deploy
// tokens are refused rather than let through unchecked.
func (s *Service) Enabled() bool {
	if s.opts.Forced {
		return true
	}
	// Every deploy-token request asks: answer from the cached settings without a context.
	if set, ok := s.settings.Get(struct{}{}); ok {
		return set.Enabled
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	set, err := s.Settings(ctx)
	if err != nil {
		s.opts.Log.Error("read external authorization settings; treating as enabled", "err", err.Error())
		return true
	}
	return set.Enabled
}

// ProjectLabel returns project id's own classification label ("" when it has none).
func (s *Service) ProjectLabel(ctx context.Context, projectID int64) (string, error) {
	return s.labels.Load(ctx, projectID, func(ctx context.Context) (string, error) {
		return s.store.ProjectClassificationLabel(ctx, projectID)
	})
}

// SetProjectLabel sets project id's classification label ("" returns it to the instance
// default). It returns an error wrapping access.ErrInvalidSetting for an invalid label and
// errkind.ErrNotFound for an unknown project.
func (s *Service) SetProjectLabel(ctx context.Context, projectID int64, label string) error {
	label = strings.TrimSpace(label)
	if err := access.ValidateClassificationLabel(label); err != nil {
		return err
	}
	if err := s.store.SetProjectClassificationLabel(ctx, projectID, label, s.opts.Now()); err != nil {
		return err
	}
	s.changed(ctx, strconv.FormatInt(projectID, 10))
	return nil
}

// ExternalLabel implements access.ExternalAuthorizer.
func (s *Service) ExternalLabel(ctx context.Context, p *namespace.Project) (string, bool, error) {
	set, err := s.Settings(ctx)
	if err != nil {
		return "", false, err
	}
	if !set.Enabled || set.ServiceURL == "" {
		return "", false, nil
	}
	label, err := s.ProjectLabel(ctx, p.ID)
	if err != nil {
		return "", false, err
	}
	if label == "" {
		label = set.DefaultLabel
	}
	return label, true, nil
}

// request is what GitLab's external authorization service receives.
type request struct {
	UserIdentifier             string `json:"user_identifier"`
	ProjectClassificationLabel string `json:"project_classification_label"`
	// UserLDAPDN is GitLab's user_ldap_dn; Gatehouse has no LDAP identities, so it is omitted.
	UserLDAPDN string `json:"user_ldap_dn,omitempty"`
}

// ErrUnexpectedAnswer is returned when the service answers neither 200 nor 401/403.
var ErrUnexpectedAnswer = errors.New("unexpected answer from the external authorization service")

// Authorize implements access.ExternalAuthorizer: POST {"user_identifier", "project_classification_label"}
// to the service; 200 allows, 401 and 403 deny (with the JSON "reason" if any). Answers are
// reused for AnswerTTL per person, label and service; failures (timeouts, other statuses) are
// returned as errors and never cached.
func (s *Service) Authorize(ctx context.Context, u *namespace.User, label string) (bool, string, error) {
	set, err := s.Settings(ctx)
	if err != nil {
		return false, "", err
	}
	if set.ServiceURL == "" {
		return false, "", errors.New("no external authorization service URL is configured")
	}
	identifier := u.Email
	if identifier == "" {
		identifier = u.Username
	}
	key := set.ServiceURL + "\x00" + strconv.FormatInt(u.ID, 10) + "\x00" + label
	a, err := s.answers.Load(ctx, key, func(ctx context.Context) (answer, error) {
		allowed, reason, err := s.ask(ctx, set, request{UserIdentifier: identifier, ProjectClassificationLabel: label})
		return answer{allowed: allowed, reason: reason}, err
	})
	if err != nil {
		s.opts.Log.WarnContext(ctx, "external authorization service failed; denying", "err", err.Error())
		return false, "", err
	}
	return a.allowed, a.reason, nil
}

// ask makes one request to the service within set.Timeout.
func (s *Service) ask(ctx context.Context, set access.ExternalSettings, body request) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, set.Timeout)
	defer cancel()
	b, err := json.Marshal(body)
	if err != nil {
		return false, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, set.ServiceURL, bytes.NewReader(b))
	if err != nil {
		return false, "", fmt.Errorf("external authorization request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return false, "", fmt.Errorf("external authorization request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return false, "", fmt.Errorf("external authorization answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return true, "", nil
	case http.StatusUnauthorized, http.StatusForbidden:
		var parsed struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(raw, &parsed)
		return false, cleanReason(parsed.Reason), nil
	}
	return false, "", fmt.Errorf("%w: status %d", ErrUnexpectedAnswer, resp.StatusCode)
}

// cleanReason makes the service's reason safe to show: one line, printable, bounded.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxReason {
		s = string(r[:maxReason]) + "…"
	}
	return s
}
