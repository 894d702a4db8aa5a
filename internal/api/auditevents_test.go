package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

type auditEventView struct {
	ID         int64  `json:"id"`
	EntityID   int64  `json:"entity_id"`
	EntityType string `json:"entity_type"`
	EventName  string `json:"event_name"`
	Details    struct {
		AuthorName string `json:"author_name"`
		TargetID   int64  `json:"target_id"`
		IPAddress  string `json:"ip_address"`
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
		evs, _, _ = list(t, ts.RootToken, fmt.Sprintf("/audit_events?entity_type=group&entity_id=%d", f.GroupID))
		if names(evs) != "group_deploy_token_created" || evs[0].Details.TargetID != gtok.ID {
			t.Fatalf("instance list filtered to the group: %s", names(evs))
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
			{"developer on project", dev.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID), http.StatusForbidden},
			{"maintainer on project", maint.PAT, fmt.Sprintf("/projects/%d/audit_events", p.ID), http.StatusOK},
			{"maintainer on group", maint.PAT, fmt.Sprintf("/groups/%d/audit_events", f.GroupID), http.StatusForbidden},
			{"owner on group", owner.PAT, fmt.Sprintf("/groups/%d/audit_events", f.GroupID), http.StatusOK},
			{"owner on the instance", owner.PAT, "/audit_events", http.StatusForbidden},
			{"deploy token", gtok.Token, fmt.Sprintf("/groups/%d/audit_events", f.GroupID), http.StatusUnauthorized},
		}
		for _, c := range cases {
			if _, st, _ := list(t, c.pat, c.path); st != c.want {
				t.Errorf("%s: status %d, want %d", c.who, st, c.want)
			}
		}
	})
}
