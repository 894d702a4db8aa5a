package access

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// ExternalSettings are the instance's external authorization settings (GitLab's
// external_authorization_service_* application settings, docs/design.md §5).
type ExternalSettings struct {
	// Enabled turns the rule on: deploy tokens are refused for Git and packages, and humans are
	// checked with the service at ServiceURL.
	Enabled bool
	// ServiceURL is where the service is asked (POST); required while Enabled.
	ServiceURL string
	// Timeout bounds each question; an unanswered one denies.
	Timeout time.Duration
	// DefaultLabel is the classification label of projects without their own.
	DefaultLabel string
}

// Bounds and default of ExternalSettings.Timeout, as GitLab's (0.5 s to 10 s, default 0.5 s).
const (
	DefaultExternalTimeout = 500 * time.Millisecond
	MinExternalTimeout     = 500 * time.Millisecond
	MaxExternalTimeout     = 10 * time.Second
)

// MaxClassificationLabel bounds a classification label's length, as GitLab's (255).
const MaxClassificationLabel = 255

// ErrInvalidSetting is wrapped by the errors Validate returns; their text names the field.
var ErrInvalidSetting = errors.New("invalid setting")

// Validate checks the settings: an http(s) URL (required when enabled), a timeout within the
// bounds and a label of at most MaxClassificationLabel characters. It returns an error wrapping
// ErrInvalidSetting whose text is fit to show the administrator.
func (s ExternalSettings) Validate() error {
	if s.ServiceURL != "" {
		u, err := url.Parse(s.ServiceURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("%w: external_authorization_service_url must be an http(s) URL without credentials", ErrInvalidSetting)
		}
	}
	if s.Enabled && s.ServiceURL == "" {
		return fmt.Errorf("%w: external_authorization_service_url is required when the service is enabled", ErrInvalidSetting)
	}
	if s.Timeout < MinExternalTimeout || s.Timeout > MaxExternalTimeout {
		return fmt.Errorf("%w: external_authorization_service_timeout must be between %g and %g seconds",
			ErrInvalidSetting, MinExternalTimeout.Seconds(), MaxExternalTimeout.Seconds())
	}
	return ValidateClassificationLabel(s.DefaultLabel)
}

// ValidateClassificationLabel checks a classification label (empty is allowed: the default).
func ValidateClassificationLabel(label string) error {
	if len(label) > MaxClassificationLabel || strings.ContainsAny(label, "\x00\r\n") {
		return fmt.Errorf("%w: a classification label is at most %d characters on one line", ErrInvalidSetting, MaxClassificationLabel)
	}
	return nil
}

// ExternalAuthorizer is the external authorization service as access sees it. Its
// implementation (internal/extauthz) speaks HTTP and caches answers; access stays free of both.
type ExternalAuthorizer interface {
	// ExternalLabel returns the classification label the service is asked about for p (p's own,
	// else the instance default) and ok false when no service is configured, in which case
	// humans are not checked. The error is for "could not decide" (the store is down).
	ExternalLabel(ctx context.Context, p *namespace.Project) (label string, ok bool, err error)
	// Authorize asks whether user may reach data classified label. A reason may come with a
	// refusal. An error (timeout, unreachable or unexpected answer) means the service could not
	// be asked: access denies.
	Authorize(ctx context.Context, user *namespace.User, label string) (allowed bool, reason string, err error)
}

func (a *Authorizer) externalEnabled() bool {
	return a.opts.ExternalAuthorization != nil && a.opts.ExternalAuthorization()
}

// externalLabel returns the label to check r's project with, and ok false when the external
// service does not apply (off, not configured, or not a project).
func (a *Authorizer) externalLabel(ctx context.Context, r Resource) (string, bool, error) {
	if r.Project == nil || a.opts.External == nil || !a.externalEnabled() {
		return "", false, nil
	}
	return a.opts.External.ExternalLabel(ctx, r.Project)
}

// external applies the external service to a user's decision d on r: an allowed request to a
// project is asked about (administrators excepted, as in GitLab); a refusal stays a refusal.
func (a *Authorizer) external(ctx context.Context, u *namespace.User, r Resource, d Decision) (Decision, error) {
	if !d.Allow() || u.Admin {
		return d, nil
	}
	label, ok, err := a.externalLabel(ctx, r)
	if err != nil {
		return Decision{}, err
	}
	if !ok {
		return d, nil
	}
	allowed, reason, err := a.opts.External.Authorize(ctx, u, label)
	if err != nil {
		// The error may name the service's address: it is not shown.
		return deny(Forbidden, CauseExternal, "external authorization denied access: the external authorization service did not answer"), nil
	}
	if !allowed {
		if reason == "" {
			reason = "access denied by the external authorization service"
		}
		return deny(Forbidden, CauseExternal, "external authorization denied access: %s", reason), nil
	}
	return d, nil
}

// externalDeployTokenRefusal is the reason deploy tokens are refused action while external
// authorization is on, or "" when the rule does not apply to action.
func (a *Authorizer) externalDeployTokenRefusal(action Action) string {
	var what string
	switch action {
	case ReadRepository, DownloadArchive, ReadRawFile: // a repository's files by another route
		what = "Git"
	case ReadPackage, WritePackage:
		what = "the package registry"
	default:
		return ""
	}
	if !a.externalEnabled() {
		return ""
	}
	return "external authorization is enabled: deploy tokens cannot be used for " + what
}
