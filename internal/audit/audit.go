// Package audit records who did what to which credential, from where and when. Events never
// carry a secret: they hold names and ids only.
package audit

import (
	"context"
	"time"
)

// Event types (SPEC §2 "Audit events").
const (
	DeployTokenCreated        = "deploy_token_created"
	DeployTokenCreationFailed = "deploy_token_creation_failed"
	DeployTokenRevoked        = "deploy_token_revoked"
	DeployTokenDestroyed      = "deploy_token_destroyed"
	GroupDeployTokenCreated   = "group_deploy_token_created"
	GroupDeployTokenFailed    = "group_deploy_token_creation_failed"
	GroupDeployTokenRevoked   = "group_deploy_token_revoked"
	GroupDeployTokenDestroyed = "group_deploy_token_destroyed"
	DeployTokenRotated        = "deploy_token_rotated"
	GroupDeployTokenRotated   = "group_deploy_token_rotated"
	DeployTokenRefused        = "deploy_token_refused"
	AuthenticationFailed      = "authentication_failed"
)

// Event is one audit record.
type Event struct {
	ID         int64
	Type       string
	ActorKind  string // "user", "deploy_token", "anonymous"
	ActorID    int64
	ActorName  string
	TargetType string // "deploy_token", "user", …
	TargetID   int64
	TargetName string
	// EntityType/EntityID name the project or group the event belongs to ("project", "group", "instance").
	EntityType string
	EntityID   int64
	IP         string
	Details    string
	CreatedAt  time.Time
}

// Store persists events.
type Store interface {
	// RecordEvent inserts e and assigns its ID.
	RecordEvent(ctx context.Context, e *Event) error
	// ListEvents returns events for an entity (empty type: all), newest first.
	ListEvents(ctx context.Context, entityType string, entityID int64) ([]*Event, error)
}

// Log records events with the clock it was given.
type Log struct {
	store Store
	now   func() time.Time
}

// NewLog returns a Log over store; now may be nil for time.Now.
func NewLog(store Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, now: now}
}

// Record stamps e with the current time and stores it.
func (l *Log) Record(ctx context.Context, e Event) error {
	e.CreatedAt = l.now()
	return l.store.RecordEvent(ctx, &e)
}

// List returns an entity's events, newest first.
func (l *Log) List(ctx context.Context, entityType string, entityID int64) ([]*Event, error) {
	return l.store.ListEvents(ctx, entityType, entityID)
}
