package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// SettingsStore keeps instance settings: the key-value settings (the registry signing key), the
// external authorization settings and each project's classification label (extauthz.Store).
type SettingsStore struct{ *conn }

// Setting returns a stored instance setting, or ok false.
func (s *SettingsStore) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// SetSettingIfAbsent stores value under key unless a value is there, and returns the value kept.
func (s *SettingsStore) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`), key, value)
	if err != nil {
		return "", err
	}
	v, _, err := s.Setting(ctx, key)
	return v, err
}

// ExternalAuthorizationSettings returns the stored external authorization settings, or ok false
// when none were ever saved.
func (s *SettingsStore) ExternalAuthorizationSettings(ctx context.Context) (access.ExternalSettings, bool, error) {
	var out access.ExternalSettings
	var timeoutMS int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT enabled, service_url, timeout_ms, default_label FROM external_authorization_settings WHERE id = ?`), 1).
		Scan(&out.Enabled, &out.ServiceURL, &timeoutMS, &out.DefaultLabel)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return access.ExternalSettings{}, false, nil
	case err != nil:
		return access.ExternalSettings{}, false, fmt.Errorf("external authorization settings: %w", err)
	}
	out.Timeout = time.Duration(timeoutMS) * time.Millisecond
	return out, true, nil
}

// SaveExternalAuthorizationSettings stores the external authorization settings.
func (s *SettingsStore) SaveExternalAuthorizationSettings(ctx context.Context, set access.ExternalSettings, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO external_authorization_settings (id, enabled, service_url, timeout_ms, default_label, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, service_url = excluded.service_url,
			timeout_ms = excluded.timeout_ms, default_label = excluded.default_label, updated_at = excluded.updated_at`),
		1, set.Enabled, set.ServiceURL, set.Timeout.Milliseconds(), set.DefaultLabel, unixTime(now))
	if err != nil {
		return fmt.Errorf("save external authorization settings: %w", err)
	}
	return nil
}

// ProjectClassificationLabel returns the project's own classification label, "" when it has
// none.
func (s *SettingsStore) ProjectClassificationLabel(ctx context.Context, projectID int64) (string, error) {
	var label string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT label FROM project_classification_labels WHERE project_id = ?`), projectID).Scan(&label)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("project classification label: %w", err)
	}
	return label, nil
}

// SetProjectClassificationLabel sets the project's classification label; "" removes it (the
// project then has the instance default). errkind.ErrNotFound if the project does not exist.
func (s *SettingsStore) SetProjectClassificationLabel(ctx context.Context, projectID int64, label string, now time.Time) error {
	var err error
	if label == "" {
		_, err = s.db.ExecContext(ctx, s.q(`DELETE FROM project_classification_labels WHERE project_id = ?`), projectID)
	} else {
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO project_classification_labels (project_id, label, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (project_id) DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at`),
			projectID, label, unixTime(now))
	}
	if err = s.classify(err); errors.Is(err, errReference) {
		return fmt.Errorf("set project classification label: %w", errkind.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set project classification label: %w", err)
	}
	return nil
}
