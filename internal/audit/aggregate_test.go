package audit_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAggregation(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	c := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := audit.NewLog(s.Audit, c.Now)
	failed := func(ip, user string) {
		t.Helper()
		if err := l.Record(ctx, audit.Event{Type: audit.AuthenticationFailed, ActorKind: "anonymous", ActorName: user,
			EntityType: "instance", IP: ip, Details: "wrong username or password"}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(tokenID, projectID int64) {
		t.Helper()
		if err := l.Record(ctx, audit.Event{Type: audit.DeployTokenRefused, ActorKind: "deploy_token", ActorID: tokenID,
			EntityType: "project", EntityID: projectID, IP: "192.0.2.1", Details: "read_repository: no"}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(typ string) (rows int, summaries []*audit.Event) {
		t.Helper()
		all, err := l.List(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all {
			if e.Type == typ {
				rows++
				if strings.Contains(e.Details, "more like this") {
					summaries = append(summaries, e)
				}
			}
		}
		return rows, summaries
	}

	// One IPv6 client spreading its failures over its /64, and guessing many usernames.
	for i := 0; i < 50; i++ {
		failed("2001:db8:1:2::"+string(rune('a'+i%6)), "user"+string(rune('a'+i%26)))
	}
	failed("2001:db8:1:3::1", "x") // the next /64: a client of its own
	failed("198.51.100.7", "x")
	failed("198.51.100.8", "x") // IPv4 addresses one by one
	// A deploy token refused again and again on one project, and once on another.
	for i := 0; i < 30; i++ {
		refused(7, 1)
	}
	refused(7, 2)
	refused(8, 1)
	if rows, _ := count(audit.AuthenticationFailed); rows != 4 {
		t.Fatalf("%d failure rows, want 4: one per /64 or IPv4 address", rows)
	}
	if rows, _ := count(audit.DeployTokenRefused); rows != 3 {
		t.Fatalf("%d refusal rows, want 3: one per token and project", rows)
	}
	// Flush before the windows close writes nothing; at shutdown (force) it writes the counts.
	if err := l.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, sums := count(audit.AuthenticationFailed); len(sums) != 0 {
		t.Fatalf("summaries written before their window closed: %+v", sums)
	}
	c.Advance(audit.AggregateWindow)
	if err := l.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	rows, sums := count(audit.AuthenticationFailed)
	if rows != 5 || len(sums) != 1 || !strings.HasPrefix(sums[0].Details, "49 more like this") || sums[0].ActorName != "" {
		t.Fatalf("after the window: %d rows, summaries %+v; want one summary of 49 without a username", rows, sums)
	}
	rows, sums = count(audit.DeployTokenRefused)
	if rows != 4 || len(sums) != 1 || !strings.HasPrefix(sums[0].Details, "29 more like this") || sums[0].ActorID != 7 {
		t.Fatalf("after the window: %d refusal rows, summaries %+v; want one summary of 29 for token 7", rows, sums)
	}
	// A new window after a closed one starts with a row of its own.
	failed("2001:db8:1:2::1", "y")
	failed("2001:db8:1:2::1", "y")
	if err := l.Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if rows, sums := count(audit.AuthenticationFailed); rows != 7 || len(sums) != 2 {
		t.Fatalf("after a second window and a forced flush: %d rows, %d summaries; want 7 and 2", rows, len(sums))
	}
}
