package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// ExternalAuthorizationSettings are the external authorization settings the API reads and
// edits; *extauthz.Service implements it. Errors wrapping access.ErrInvalidSetting are the
// administrator's mistakes (400).
type ExternalAuthorizationSettings interface {
	// Settings returns the effective settings.
	Settings(ctx context.Context) (access.ExternalSettings, error)
	// SaveSettings validates and stores the settings.
	SaveSettings(ctx context.Context, s access.ExternalSettings) error
	// ProjectLabel returns a project's own classification label ("" when it has none).
	ProjectLabel(ctx context.Context, projectID int64) (string, error)
	// SetProjectLabel sets a project's classification label ("" returns it to the default).
	SetProjectLabel(ctx context.Context, projectID int64, label string) error
}

// applicationSettingsJSON is the external-authorization part of GitLab's application settings.
type applicationSettingsJSON struct {
	Enabled      bool    `json:"external_authorization_service_enabled"`
	URL          *string `json:"external_authorization_service_url"`
	Timeout      float64 `json:"external_authorization_service_timeout"`
	DefaultLabel string  `json:"external_authorization_service_default_label"`
}

func settingsView(s access.ExternalSettings) applicationSettingsJSON {
	j := applicationSettingsJSON{Enabled: s.Enabled, Timeout: s.Timeout.Seconds(), DefaultLabel: s.DefaultLabel}
	if s.ServiceURL != "" {
		u := s.ServiceURL
		j.URL = &u
	}
	return j
}

func (h *Handler) getApplicationSettings(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	s, err := h.cfg.ExternalAuthorization.Settings(ctxOf(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, settingsView(s))
	return nil
}

// applicationSettingsParams are the settings PUT /application/settings changes.
var applicationSettingsParams = params{
	{name: "external_authorization_service_enabled", typ: tBool},
	{name: "external_authorization_service_url", typ: tString},
	{name: "external_authorization_service_timeout", typ: tString},
	{name: "external_authorization_service_default_label", typ: tString},
}

// putApplicationSettings changes the external authorization settings given; the others keep
// their values (GitLab's PUT /application/settings).
func (h *Handler) putApplicationSettings(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	// Every other GitLab setting is refused by name: a 200 would claim it was applied.
	if err := applicationSettingsParams.check(r); err != nil {
		return err
	}
	s, err := h.cfg.ExternalAuthorization.Settings(ctxOf(r))
	if err != nil {
		return err
	}
	if _, ok := r.params["external_authorization_service_enabled"]; ok {
		s.Enabled = boolParam(r, "external_authorization_service_enabled")
	}
	if _, ok := r.params["external_authorization_service_url"]; ok {
		s.ServiceURL = strings.TrimSpace(r.params.Get("external_authorization_service_url"))
	}
	if v, ok := r.params["external_authorization_service_timeout"]; ok {
		secs, err := strconv.ParseFloat(strings.TrimSpace(v[0]), 64)
		if err != nil || math.IsNaN(secs) || secs < 0 || secs > 3600 {
			return invalidParam("external_authorization_service_timeout")
		}
		s.Timeout = time.Duration(secs * float64(time.Second))
	}
	if _, ok := r.params["external_authorization_service_default_label"]; ok {
		s.DefaultLabel = strings.TrimSpace(r.params.Get("external_authorization_service_default_label"))
	}
	if err := h.cfg.ExternalAuthorization.SaveSettings(ctxOf(r), s); err != nil {
		if errors.Is(err, access.ErrInvalidSetting) {
			field := "external_authorization_service_default_label" // the one setting its text does not name
			if _, forced := r.params["external_authorization_service_enabled"]; forced && !s.Enabled {
				field = "external_authorization_service_enabled"
			}
			return invalidSetting(err, field)
		}
		return err
	}
	s, err = h.cfg.ExternalAuthorization.Settings(ctxOf(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, settingsView(s))
	return nil
}

// classificationLabel is p's own classification label for its JSON; a failure to read it is
// logged and shown as none (the JSON is informational; access reads the label itself).
func (h *Handler) classificationLabel(r *request, p *namespace.Project) string {
	if h.cfg.ExternalAuthorization == nil {
		return ""
	}
	label, err := h.cfg.ExternalAuthorization.ProjectLabel(ctxOf(r), p.ID)
	if err != nil {
		httpx.Internal(ctxOf(r), h.cfg.Log, err)
		return ""
	}
	return label
}

// invalidSetting renders an access.ErrInvalidSetting as the model validation GitLab answers for
// application settings and projects: 400 {"message": {"<field>": ["<reason>"]}}. The field is
// the one the error's text starts with, or else fallback.
func invalidSetting(err error, fallback string) error {
	text := strings.TrimPrefix(err.Error(), access.ErrInvalidSetting.Error()+": ")
	field, reason, ok := strings.Cut(text, " ")
	if !ok || !strings.HasPrefix(field, "external_authorization_") {
		field, reason = fallback, text
	}
	return &errkind.ValidationError{Field: field, Reason: reason}
}
