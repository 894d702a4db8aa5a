package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
)

// names is a fixed audit.Names: project 3 is group/app, user 1 has an email, the rest is gone.
type names struct{}

func (names) EntityPath(_ context.Context, typ string, id int64) string {
	if typ == "project" && id == 3 {
		return "group/app"
	}
	return ""
}

func (names) UserEmail(_ context.Context, id int64) string {
	if id == 1 {
		return "root@example.com"
	}
	return ""
}

func TestRecordKeepsPathAndEmail(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	l := audit.NewLog(s.Audit, nil).Named(names{})
	cases := []struct {
		name    string
		in      audit.Event
		path    string
		email   string
		unnamed bool
	}{
		{"ok/project event by a user", audit.Event{Type: audit.DeployTokenCreated, ActorKind: "user", ActorID: 1, EntityType: "project", EntityID: 3}, "group/app", "root@example.com", false},
		{"ok/instance event", audit.Event{Type: audit.AuthenticationFailed, ActorKind: "anonymous", EntityType: "instance", IP: "192.0.2.1"}, "gitlab_instance", "", false},
		{"ok/a deploy token has no email", audit.Event{Type: audit.DeployTokenRefused, ActorKind: "deploy_token", ActorID: 1, EntityType: "project", EntityID: 3}, "group/app", "", false},
		{"ok/a deleted project", audit.Event{Type: audit.DeployTokenDestroyed, ActorKind: "user", ActorID: 2, EntityType: "project", EntityID: 9}, "", "", false},
		{"ok/given values are kept", audit.Event{Type: audit.DeployTokenCreated, ActorKind: "user", ActorID: 1, EntityType: "project", EntityID: 3, EntityPath: "old/path", AuthorEmail: "old@example.com"}, "old/path", "old@example.com", false},
		{"ok/without names only the instance is named", audit.Event{Type: audit.DeployTokenCreated, ActorKind: "user", ActorID: 1, EntityType: "project", EntityID: 3}, "", "", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log := l
			if c.unnamed {
				log = audit.NewLog(s.Audit, nil)
			}
			c.in.Details = fmt.Sprint(i)
			if err := log.Record(ctx, c.in); err != nil {
				t.Fatal(err)
			}
			evs, err := log.List(ctx, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := log.Get(ctx, evs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Details != c.in.Details || got.EntityPath != c.path || got.AuthorEmail != c.email {
				t.Fatalf("recorded %+v, want path %q email %q", got, c.path, c.email)
			}
		})
	}
}
