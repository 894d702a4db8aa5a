package audit

import (
	"context"
	"testing"
	"time"
)

type memStore struct{ events []*Event }

func (m *memStore) RecordEvent(_ context.Context, e *Event) error {
	m.events = append(m.events, e)
	return nil
}
func (m *memStore) ListEvents(context.Context, string, int64) ([]*Event, error) { return m.events, nil }
func (m *memStore) Event(context.Context, int64) (*Event, error)                { return nil, nil }

// The rows of an aggregated refusal add up to the refusals counted: the first written, then a
// summary of the rest.
func TestOccurrencesOfAggregatedRefusals(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	store := &memStore{}
	l := NewLog(store, func() time.Time { return now })
	for range 5 {
		if err := l.Record(context.Background(), Event{Type: DeployTokenRefused, ActorKind: "deploy_token", ActorID: 7,
			EntityType: "project", EntityID: 1, Details: "read_repository: 12 scopes"}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if err := l.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range store.events {
		sum += Occurrences(e)
	}
	if len(store.events) != 2 || sum != 5 {
		t.Fatalf("%d rows standing for %d refusals, want 2 rows for 5", len(store.events), sum)
	}
	days, err := l.RefusalsPerDay(context.Background(), "project", 1, 7, now.Add(-48*time.Hour))
	if err != nil || len(days) != 1 || days[time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)] != 5 {
		t.Fatalf("refusals per day = %v, %v", days, err)
	}
	if days, _ := l.RefusalsPerDay(context.Background(), "project", 1, 8, now.Add(-48*time.Hour)); len(days) != 0 {
		t.Fatalf("another token's refusals = %v", days)
	}
	if n := Occurrences(&Event{Type: DeployTokenCreated, Details: "3 more like this between"}); n != 1 {
		t.Fatalf("a created event stands for %d", n)
	}
}
