// Package audit records who did what to which credential, from where and when. Events never
// carry a secret: they hold names and ids only.
package audit

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Event types (docs/design.md §8.1).
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
	// SecretPushBlocked is a push refused for adding live credentials, SecretPushSkipped one
	// let through by its skip option (docs/design.md §6.2.2).
	SecretPushBlocked = "secret_push_protection_blocked"
	SecretPushSkipped = "secret_push_protection_skipped"
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
	// EntityPath is the project's or group's full path (InstanceEntityPath for the instance, the
	// username for a user) and AuthorEmail the acting user's email, as they were when the event
	// was recorded ("" in events recorded before they were kept).
	EntityPath  string
	AuthorEmail string
	IP          string
	Details     string
	CreatedAt   time.Time
}

// Store persists events.
type Store interface {
	// RecordEvent inserts e and assigns its ID.
	RecordEvent(ctx context.Context, e *Event) error
	// ListEvents returns events for an entity (empty type: all), newest first.
	ListEvents(ctx context.Context, entityType string, entityID int64) ([]*Event, error)
	// Event returns the event id, or an error wrapping errkind.ErrNotFound.
	Event(ctx context.Context, id int64) (*Event, error)
}

// InstanceEntityPath is the entity path of the instance's events (GitLab's instance scope).
const InstanceEntityPath = "gitlab_instance"

// Names looks up what an event records about its entity and author; "" when there is none
// (a deleted project, a user without an email).
type Names interface {
	EntityPath(ctx context.Context, entityType string, entityID int64) string
	UserEmail(ctx context.Context, userID int64) string
}

// AggregateWindow is how long, after a failed authentication from one address is written, the
// next ones from that address are only counted; likewise a deploy token's refusals on one project
// or group. The count is written as one summary row once the window is over (on the next such
// event, or by Flush), so a client that fails 2,000 times writes a handful of rows, not 2,000.
const AggregateWindow = 10 * time.Minute

// maxAggregates bounds the open windows held before the expired ones are flushed on the spot.
const maxAggregates = 10_000

// Log records events with the clock it was given, aggregating failed authentications per client
// address and deploy-token refusals per token and entity (AggregateWindow).
type Log struct {
	store Store
	now   func() time.Time
	names Names

	mu   sync.Mutex
	aggs map[string]*aggregate
}

// aggregate is the open window of one aggregation key.
type aggregate struct {
	start time.Time
	// n events were counted, not written, since start; last is the latest of them.
	n    int
	last Event
}

// NewLog returns a Log over store; now may be nil for time.Now.
func NewLog(store Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, now: now, aggs: map[string]*aggregate{}}
}

// Named makes l record entity paths and author emails looked up in names; call it before l is
// used. It returns l.
func (l *Log) Named(names Names) *Log {
	l.names = names
	return l
}

// describe fills e's entity path and author email.
func (l *Log) describe(ctx context.Context, e *Event) {
	if e.EntityPath == "" && e.EntityType == "instance" {
		e.EntityPath = InstanceEntityPath
	}
	if l.names == nil {
		return
	}
	if e.EntityPath == "" && e.EntityType != "" {
		e.EntityPath = l.names.EntityPath(ctx, e.EntityType, e.EntityID)
	}
	if e.AuthorEmail == "" && e.ActorKind == "user" && e.ActorID != 0 {
		e.AuthorEmail = l.names.UserEmail(ctx, e.ActorID)
	}
}

// AddressGroup is the unit a client address is counted in, by the failed-authentication ban and
// by this log's aggregation: the address itself for IPv4, its /64 for IPv6 (one client usually
// holds a whole /64).
func AddressGroup(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, _ := ip.Prefix(bits)
	return p
}

// aggregateKey is the key events of e's kind are aggregated under, or "" for events written
// one by one.
func aggregateKey(e Event) string {
	switch e.Type {
	case AuthenticationFailed:
		if ip, err := netip.ParseAddr(e.IP); err == nil {
			return "failed " + AddressGroup(ip).String()
		}
		return "failed " + e.IP
	case DeployTokenRefused:
		return fmt.Sprintf("refused %d %s %d", e.ActorID, e.EntityType, e.EntityID)
	}
	return ""
}

// Record stamps e with the current time and stores it, unless it falls in the open window of
// its aggregation key: then it is counted for that window's summary row.
func (l *Log) Record(ctx context.Context, e Event) error {
	e.CreatedAt = l.now()
	l.describe(ctx, &e)
	key := aggregateKey(e)
	if key == "" {
		return l.store.RecordEvent(ctx, &e)
	}
	write, summaries := l.admit(key, e)
	for _, s := range summaries {
		if err := l.store.RecordEvent(ctx, s); err != nil {
			return err
		}
	}
	if !write {
		return nil
	}
	return l.store.RecordEvent(ctx, &e)
}

// admit decides whether e opens a window for key (written) or is counted in the open one; it
// returns the summaries of windows it closed.
func (l *Log) admit(key string, e Event) (bool, []*Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var done []*Event
	if a := l.aggs[key]; a != nil {
		if e.CreatedAt.Sub(a.start) < AggregateWindow {
			a.n++
			a.last = e
			return false, nil
		}
		if a.n > 0 {
			done = append(done, a.summary())
		}
	}
	if len(l.aggs) >= maxAggregates {
		done = append(done, l.expireLocked(e.CreatedAt)...)
	}
	l.aggs[key] = &aggregate{start: e.CreatedAt}
	return true, done
}

// summary is the row that stands for an aggregate's counted events: the latest of them, with
// the count; a failed authentication's username is dropped (they may differ).
func (a *aggregate) summary() *Event {
	s := a.last
	if s.Type == AuthenticationFailed {
		s.ActorName = ""
	}
	s.Details = fmt.Sprintf("%d more like this between %s and %s, counted in this one row (%s)", a.n,
		a.start.UTC().Format(time.RFC3339), a.last.CreatedAt.UTC().Format(time.RFC3339), a.last.Details)
	return &s
}

// expireLocked removes the windows over at now and returns their summaries.
func (l *Log) expireLocked(now time.Time) []*Event {
	var done []*Event
	for k, a := range l.aggs {
		if now.Sub(a.start) >= AggregateWindow {
			if a.n > 0 {
				done = append(done, a.summary())
			}
			delete(l.aggs, k)
		}
	}
	return done
}

// Flush writes the summary rows of the windows that are over. The server calls it every
// AggregateWindow and at shutdown (with force, to write the open windows too).
func (l *Log) Flush(ctx context.Context, force bool) error {
	l.mu.Lock()
	now := l.now()
	if force {
		now = now.Add(AggregateWindow)
	}
	done := l.expireLocked(now)
	l.mu.Unlock()
	for _, s := range done {
		if err := l.store.RecordEvent(ctx, s); err != nil {
			return fmt.Errorf("flush audit summaries: %w", err)
		}
	}
	return nil
}

// List returns an entity's events, newest first.
func (l *Log) List(ctx context.Context, entityType string, entityID int64) ([]*Event, error) {
	return l.store.ListEvents(ctx, entityType, entityID)
}

// Get returns the event id, or an error wrapping errkind.ErrNotFound.
func (l *Log) Get(ctx context.Context, id int64) (*Event, error) { return l.store.Event(ctx, id) }
