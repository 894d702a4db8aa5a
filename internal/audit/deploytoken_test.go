package audit_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func TestDeployTokenEvents(t *testing.T) {
	project := &token.DeployToken{ID: 7, Name: "ci", Username: "gitlab+deploy-token-7", Owner: token.Owner{ProjectID: 3}}
	group := &token.DeployToken{ID: 8, Name: "ci", Username: "gitlab+deploy-token-8", Owner: token.Owner{GroupID: 4}}
	tests := []struct {
		name string
		got  audit.Event
		want audit.Event
	}{
		{"ok/project created", audit.TokenCreated(project), audit.Event{Type: audit.DeployTokenCreated,
			TargetType: "deploy_token", TargetID: 7, TargetName: "ci", EntityType: "project", EntityID: 3,
			Details: "username gitlab+deploy-token-7"}},
		{"ok/group created", audit.TokenCreated(group), audit.Event{Type: audit.GroupDeployTokenCreated,
			TargetType: "deploy_token", TargetID: 8, TargetName: "ci", EntityType: "group", EntityID: 4,
			Details: "username gitlab+deploy-token-8"}},
		{"ok/project creation failed", audit.TokenCreationFailed(project.Owner, "x", "name is missing"),
			audit.Event{Type: audit.DeployTokenCreationFailed, TargetType: "deploy_token", TargetName: "x",
				EntityType: "project", EntityID: 3, Details: "name is missing"}},
		{"ok/group creation failed", audit.TokenCreationFailed(group.Owner, "x", "r"),
			audit.Event{Type: audit.GroupDeployTokenFailed, TargetType: "deploy_token", TargetName: "x",
				EntityType: "group", EntityID: 4, Details: "r"}},
		{"ok/project revoked", audit.TokenRevoked(project), audit.Event{Type: audit.DeployTokenRevoked,
			TargetType: "deploy_token", TargetID: 7, TargetName: "ci", EntityType: "project", EntityID: 3,
			Details: "username gitlab+deploy-token-7"}},
		{"ok/group revoked", audit.TokenRevoked(group), audit.Event{Type: audit.GroupDeployTokenRevoked,
			TargetType: "deploy_token", TargetID: 8, TargetName: "ci", EntityType: "group", EntityID: 4,
			Details: "username gitlab+deploy-token-8"}},
		{"ok/project destroyed", audit.TokenDestroyed(project), audit.Event{Type: audit.DeployTokenDestroyed,
			TargetType: "deploy_token", TargetID: 7, TargetName: "ci", EntityType: "project", EntityID: 3,
			Details: "username gitlab+deploy-token-7"}},
		{"ok/group destroyed", audit.TokenDestroyed(group), audit.Event{Type: audit.GroupDeployTokenDestroyed,
			TargetType: "deploy_token", TargetID: 8, TargetName: "ci", EntityType: "group", EntityID: 4,
			Details: "username gitlab+deploy-token-8"}},
		{"ok/project rotated", audit.TokenRotated(project, time.Hour), audit.Event{Type: audit.DeployTokenRotated,
			TargetType: "deploy_token", TargetID: 7, TargetName: "ci", EntityType: "project", EntityID: 3,
			Details: "username gitlab+deploy-token-7, grace period 3600s"}},
		{"ok/group rotated", audit.TokenRotated(group, 0), audit.Event{Type: audit.GroupDeployTokenRotated,
			TargetType: "deploy_token", TargetID: 8, TargetName: "ci", EntityType: "group", EntityID: 4,
			Details: "username gitlab+deploy-token-8, grace period 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestTokenRefused(t *testing.T) {
	tok := &token.DeployToken{ID: 8, Name: "ci", Username: "gitlab+deploy-token-8", Owner: token.Owner{GroupID: 4}}
	t.Run("ok/in reach: one event on the target, with the token", func(t *testing.T) {
		got := audit.TokenRefused(tok, "project", 9, "read_registry: lacks scope", true)
		if len(got) != 1 || got[0].EntityType != "project" || got[0].EntityID != 9 || got[0].ActorID != 8 || got[0].TargetName != "ci" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("ok/out of reach: the token on its owner's log, only the fact on the target's", func(t *testing.T) {
		got := audit.TokenRefused(tok, "project", 9, "read_repository: no", false)
		if len(got) != 2 {
			t.Fatalf("got %+v", got)
		}
		own, fact := got[0], got[1]
		if own.EntityType != "group" || own.EntityID != 4 || own.ActorID != 8 || own.ActorName != tok.Username || own.TargetName != "ci" {
			t.Errorf("owner's event %+v", own)
		}
		if fact.EntityType != "project" || fact.EntityID != 9 || fact.ActorID != 0 || fact.ActorName != "" || fact.TargetID != 0 || fact.TargetName != "" {
			t.Errorf("target's event shows the token: %+v", fact)
		}
	})
}
