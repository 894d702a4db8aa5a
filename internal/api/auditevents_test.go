package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

type auditEventView struct {
	ID         int64  `json:"id"`
	EntityID   int64  `json:"entity_id"`
	EntityType string `json:"entity_type"`
	EventName  string `json:"event_name"`
	AuthorID   int64  `json:"author_id"`
	Details    struct {
		AuthorName  string `json:"author_name"`
		AuthorEmail string `json:"author_email"`
		TargetID    int64  `json:"target_id"`
		IPAddress   string `json:"ip_address"`
		EntityPath  string `json:"entity_path"`
	} `json:"details"`
	CreatedAt string `json:"created_at"`
}

func TestAuditEventsAPI(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	p := f.Projects["child"]
	ptok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
	gtok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	ts.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, ptok.ID), nil, nil)

	list := func(t *testing.T, pat, path string) ([]auditEventView, int, string) {
		t.Helper()
		var raw json.RawMessage
		st := ts.APIAs(t, pat, "GET", path, nil, &raw)
		var out []auditEventView
		if st == http.StatusOK {
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
		}
		return out, st, string(raw)
	}
	names := func(evs []auditEventView) string {
		var n []string
		for _, e := range evs {
			n = append(n, e.EventName)
		}
		return strings.Join(n, ",")
	}

	t.Run("ok/project events, newest first, with actor and IP and no secret", func(t *testing.T) {
		evs, st, raw := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events", p.ID))
		if st != http.StatusOK || names(evs) != "deploy_token_destroyed,deploy_token_created" {
			t.Fatalf("status %d events %s", st, names(evs))
		}
		for _, e := range evs {
			if e.Details.AuthorName != "root" || e.Details.IPAddress != "127.0.0.1" || e.Details.TargetID != ptok.ID || e.EntityID != p.ID {
				t.Fatalf("event lacks actor, IP or target: %+v", e)
			}
		}
		if strings.Contains(raw, "gldt-") || strings.Contains(raw, ptok.Token) {
			t.Fatal("an audit event response contains a secret")
		}
	})
	t.Run("ok/filters", func(t *testing.T) {
		evs, _, _ := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events?event_name=deploy_token_created", p.ID))
		if names(evs) != "deploy_token_created" {
			t.Fatalf("event_name filter: %s", names(evs))
		}
		future := ts.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if evs, _, _ := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events?created_after=%s", p.ID, future)); len(evs) != 0 {
			t.Fatalf("created_after in the future: %s", names(evs))
		}
		if _, st, _ := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events?created_before=yesterday", p.ID)); st != http.StatusBadRequest {
			t.Fatalf("bad created_before: %d, want 400", st)
		}
		evs, _, _ = list(t, ts.RootToken, fmt.Sprintf("/audit_events?entity_type=Group&entity_id=%d", f.GroupID))
		if names(evs) != "group_deploy_token_created" || evs[0].Details.TargetID != gtok.ID {
			t.Fatalf("instance list filtered to the group: %s", names(evs))
		}
		evs, _, _ = list(t, ts.RootToken, "/audit_events?entity_type=Project")
		for _, e := range evs {
			if e.EntityType != "Project" {
				t.Fatalf("entity_type=Project listed a %s event", e.EntityType)
			}
		}
		if len(evs) != 2 {
			t.Fatalf("entity_type=Project: %s", names(evs))
		}
		for _, bad := range []string{"entity_type=project", "entity_type=Bogus", fmt.Sprintf("entity_id=%d", p.ID), "created_after=2026-13-01"} {
			if _, st, _ := list(t, ts.RootToken, "/audit_events?"+bad); st != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", bad, st)
			}
		}
	})
	t.Run("ok/GitLab's entity types, author email and entity path", func(t *testing.T) {
		evs, _, _ := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events", p.ID))
		for _, e := range evs {
			if e.EntityType != "Project" || e.Details.EntityPath != p.FullPath || e.Details.AuthorEmail == "" || e.AuthorID == 0 {
				t.Fatalf("project event: %+v", e)
			}
		}
		evs, _, _ = list(t, ts.RootToken, fmt.Sprintf("/groups/%d/audit_events", f.GroupID))
		if len(evs) != 1 || evs[0].EntityType != "Group" || evs[0].Details.EntityPath != "group" {
			t.Fatalf("group events: %+v", evs)
		}
	})
	t.Run("ok/single events, each only under its own entity", func(t *testing.T) {
		evs, _, _ := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events", p.ID))
		gevs, _, _ := list(t, ts.RootToken, fmt.Sprintf("/groups/%d/audit_events", f.GroupID))
		pe, ge := evs[0], gevs[0]
		var got auditEventView
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/audit_events/%d", p.ID, pe.ID), nil, &got)
		if got.ID != pe.ID || got.EventName != pe.EventName || got.Details.EntityPath != p.FullPath {
			t.Fatalf("project event = %+v, want %+v", got, pe)
		}
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/groups/%d/audit_events/%d", f.GroupID, ge.ID), nil, &got)
		if got.ID != ge.ID || got.EntityType != "Group" {
			t.Fatalf("group event = %+v", got)
		}
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/audit_events/%d", pe.ID), nil, &got)
		if got.ID != pe.ID {
			t.Fatalf("instance get = %+v", got)
		}
		other := f.Projects["sibling"]
		for _, path := range []string{
			fmt.Sprintf("/projects/%d/audit_events/%d", p.ID, ge.ID),     // a group's event under a project
			fmt.Sprintf("/groups/%d/audit_events/%d", f.GroupID, pe.ID),  // a project's under a group
			fmt.Sprintf("/projects/%d/audit_events/%d", other.ID, pe.ID), // another project's
			fmt.Sprintf("/audit_events/%d", pe.ID+100000),                // none
		} {
			if st := ts.APIAs(t, ts.RootToken, "GET", path, nil, nil); st != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, st)
			}
		}
		if st := ts.APIAs(t, ts.RootToken, "GET", "/audit_events/abc", nil, nil); st != http.StatusBadRequest {
			t.Errorf("non-integer id: status %d, want 400", st)
		}
	})
	t.Run("fail/who may read", func(t *testing.T) {
		dev, maint, owner := newUser(t, ts, "dev"), newUser(t, ts, "maint"), newUser(t, ts, "owner")
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), dev, 30)
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), maint, 40)
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), owner, 50)
		cases := []struct {
			who  string
			pat  string
			path string
			want int
		}{
			{"developer on project (own events)", dev.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID), http.StatusOK},
			{"maintainer on project", maint.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID), http.StatusOK},
			{"maintainer on group (own events)", maint.PAT, fmt.Sprintf("/groups/%d/audit_events", f.GroupID), http.StatusOK},
			{"owner on group", owner.PAT, fmt.Sprintf("/groups/%d/audit_events", f.GroupID), http.StatusOK},
			{"owner on the instance", owner.PAT, "/audit_events", http.StatusForbidden},
			{"deploy token", gtok.Token, fmt.Sprintf("/groups/%d/audit_events", f.GroupID), http.StatusUnauthorized},
		}
		for _, c := range cases {
			if _, st, _ := list(t, c.pat, c.path); st != c.want {
				t.Errorf("%s: status %d, want %d", c.who, st, c.want)
			}
		}
		reporter := newUser(t, ts, "reporter")
		addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), reporter, 20)
		if _, st, _ := list(t, reporter.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID)); st != http.StatusForbidden {
			t.Errorf("reporter on project: status %d, want 403", st)
		}

		// As GitLab: below maintainer (project) or owner (group), only one's own events.
		all, _, _ := list(t, ts.RootToken, fmt.Sprintf("/projects/%d/audit_events", p.ID))
		if evs, _, _ := list(t, dev.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID)); len(evs) != 0 {
			t.Fatalf("a developer sees others' events: %s", names(evs))
		}
		if st := ts.APIAs(t, dev.PAT, "GET", fmt.Sprintf("/projects/%d/audit_events/%d", p.ID, all[0].ID), nil, nil); st != http.StatusNotFound {
			t.Fatalf("a developer gets root's event: %d, want 404", st)
		}
		if evs, _, _ := list(t, maint.PAT, fmt.Sprintf("/groups/%d/audit_events", f.GroupID)); len(evs) != 0 {
			t.Fatalf("a group maintainer sees others' events: %s", names(evs))
		}
		// A maintainer's own token event stays theirs once they are a developer.
		mp := newUser(t, ts, "maint-then-dev")
		addMember(t, ts, fmt.Sprintf("projects/%d", p.ID), mp, 40)
		mustStatus(t, asPAT(t, ts, mp.PAT, "POST", fmt.Sprintf("/projects/%d/deploy_tokens", p.ID),
			map[string]any{"name": "mine", "scopes": []string{"read_repository"}}), http.StatusCreated, "maintainer creates a token")
		ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("/projects/%d/members/%d", p.ID, mp.ID), map[string]any{"access_level": 30}, nil)
		own, _, _ := list(t, mp.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID))
		if len(own) != 1 || own[0].AuthorID != mp.ID || own[0].EventName != "deploy_token_created" || own[0].Details.AuthorEmail == "" {
			t.Fatalf("a developer's own events = %+v", own)
		}
		mustStatus(t, asPAT(t, ts, mp.PAT, "GET", fmt.Sprintf("/projects/%d/audit_events/%d", p.ID, own[0].ID), nil), http.StatusOK, "own event")
	})
	t.Run("ok/recorded path and email win; rows from before 0035 show the current ones", func(t *testing.T) {
		old := &audit.Event{Type: "deploy_token_created", ActorKind: "user", ActorID: 1, ActorName: "root",
			EntityType: "project", EntityID: p.ID, CreatedAt: ts.Clock.Now()}
		kept := &audit.Event{Type: "deploy_token_created", ActorKind: "user", ActorID: 1, ActorName: "root",
			EntityType: "project", EntityID: p.ID, EntityPath: "moved/from/here", AuthorEmail: "then@example.com", CreatedAt: ts.Clock.Now()}
		for _, e := range []*audit.Event{old, kept} {
			if err := ts.Server.Store.Audit.RecordEvent(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		var got auditEventView
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/audit_events/%d", old.ID), nil, &got)
		if got.Details.EntityPath != p.FullPath || got.Details.AuthorEmail == "" {
			t.Errorf("an old row = %+v, want the current path and email", got)
		}
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/audit_events/%d", kept.ID), nil, &got)
		if got.Details.EntityPath != "moved/from/here" || got.Details.AuthorEmail != "then@example.com" {
			t.Errorf("a row with its path = %+v, want the recorded path and email", got)
		}
	})
}
