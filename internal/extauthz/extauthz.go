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
	"sync"
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
	guard *cachebus.Guard

	mu       sync.Mutex
	settings *cachedSettings
	labels   map[int64]cachedLabel
	answers  map[string]answer
}

type cachedSettings struct {
	s       access.ExternalSettings
	expires time.Time
}

type cachedLabel struct {
	label   string
	expires time.Time
}

type answer struct {
	allowed bool
	reason  string
	expires time.Time
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
	s := &Service{store: store, opts: opts, labels: map[int64]cachedLabel{}, answers: map[string]answer{}}
	s.guard = cachebus.Follow(opts.Bus, cachebus.ExternalAuthorization, s.forget)
	return s
}

// forget drops what a change of key made stale: one project's label, or (cachebus.All, the
// settings) everything, answers included, since the service or the labels may have changed.
func (s *Service) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		delete(s.labels, id)
		return
	}
	s.settings = nil
	clear(s.labels)
	clear(s.answers)
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
	now := s.opts.Now()
	if set, ok := s.cachedSettings(now); ok {
		return set, nil
	}
	_, gen := s.guard.Read()
	set, ok, err := s.store.ExternalAuthorizationSettings(ctx)
	if err != nil {
		return access.ExternalSettings{}, err
	}
	if !ok || set.Timeout <= 0 {
		set.Timeout = access.DefaultExternalTimeout
	}
	set.Enabled = set.Enabled || s.opts.Forced
	s.mu.Lock()
	if s.guard.Keep(gen) {
		s.settings = &cachedSettings{s: set, expires: now.Add(settingsTTL)}
	}
	s.mu.Unlock()
	return set, nil
}

// cachedSettings returns the settings read less than settingsTTL before now, if any.
func (s *Service) cachedSettings(now time.Time) (access.ExternalSettings, bool) {
	if use, _ := s.guard.Read(); !use {
		return access.ExternalSettings{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.settings; c != nil && now.Before(c.expires) {
		return c.s, true
	}
	return access.ExternalSettings{}, false
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
	if set, ok := s.cachedSettings(s.opts.Now()); ok {
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
	now := s.opts.Now()
	use, gen := s.guard.Read()
	s.mu.Lock()
	c, ok := s.labels[projectID]
	s.mu.Unlock()
	if use && ok && now.Before(c.expires) {
		return c.label, nil
	}
	label, err := s.store.ProjectClassificationLabel(ctx, projectID)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if len(s.labels) >= maxLabels {
		clear(s.labels)
	}
	if s.guard.Keep(gen) {
		s.labels[projectID] = cachedLabel{label: label, expires: now.Add(settingsTTL)}
	}
	s.mu.Unlock()
	return label, nil
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
	now := s.opts.Now()
	use, gen := s.guard.Read()
	s.mu.Lock()
	a, ok := s.answers[key]
	s.mu.Unlock()
	if use && ok && now.Before(a.expires) {
		return a.allowed, a.reason, nil
	}
	allowed, reason, err := s.ask(ctx, set, request{UserIdentifier: identifier, ProjectClassificationLabel: label})
	if err != nil {
		s.opts.Log.WarnContext(ctx, "external authorization service failed; denying", "err", err.Error())
		return false, "", err
	}
	s.remember(key, gen, answer{allowed: allowed, reason: reason, expires: s.opts.Now().Add(s.opts.AnswerTTL)})
	return allowed, reason, nil
}

// remember caches an answer asked at gen, making room by dropping expired ones, or all when none
// expired.
func (s *Service) remember(key string, gen uint64, a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.guard.Keep(gen) {
		return
	}
	if len(s.answers) >= s.opts.MaxAnswers {
		now := s.opts.Now()
		for k, old := range s.answers {
			if !now.Before(old.expires) {
				delete(s.answers, k)
			}
		}
		if len(s.answers) >= s.opts.MaxAnswers {
			clear(s.answers)
		}
	}
	s.answers[key] = a
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
