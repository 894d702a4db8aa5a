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
