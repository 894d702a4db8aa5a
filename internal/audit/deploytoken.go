package audit

import (
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The deploy-token events are built here, once, for the API and the web UI alike: each picks the
// project or group variant from the token's owner and belongs to that project or group. The
// caller adds the actor and the client address.

// TokenCreated is the event for a deploy token t just created.
func TokenCreated(t *token.DeployToken) Event {
	return tokenEvent(t, pick(t.Owner, DeployTokenCreated, GroupDeployTokenCreated), "username "+t.Username)
}

// TokenCreationFailed is the event for a refused creation of a deploy token named name for
// owner; reason says why (the validation messages).
func TokenCreationFailed(owner token.Owner, name, reason string) Event {
	e := Event{Type: pick(owner, DeployTokenCreationFailed, GroupDeployTokenFailed), TargetType: "deploy_token",
		TargetName: name, Details: reason}
	e.EntityType, e.EntityID = entity(owner)
	return e
}

// TokenRevoked is the event for a deploy token t revoked (kept listed, as the web UI does).
func TokenRevoked(t *token.DeployToken) Event {
	return tokenEvent(t, pick(t.Owner, DeployTokenRevoked, GroupDeployTokenRevoked), "username "+t.Username)
}

// TokenDestroyed is the event for a deploy token t deleted (as the API does).
func TokenDestroyed(t *token.DeployToken) Event {
	return tokenEvent(t, pick(t.Owner, DeployTokenDestroyed, GroupDeployTokenDestroyed), "username "+t.Username)
}

// TokenRotated is the event for a deploy token t given a new secret, the old one kept working
// for grace.
func TokenRotated(t *token.DeployToken, grace time.Duration) Event {
	return tokenEvent(t, pick(t.Owner, DeployTokenRotated, GroupDeployTokenRotated),
		fmt.Sprintf("username %s, grace period %ds", t.Username, int64(grace/time.Second)))
}

// TokenRefused is what a refusal of deploy token t on the project or group entityType/entityID
// ("instance" with 0 for the instance) writes, details saying what was asked and why it was
// refused. inReach says whether the entity is within the token's reach (its own project, or a
// project or group in its own group): then the entity's log gets the event with the token's
// metadata. Otherwise the token's own project or group gets that event, and the entity only
// the fact, without the token's name, id or username: another group's credentials are not its
// business. The caller adds the IP.
func TokenRefused(t *token.DeployToken, entityType string, entityID int64, details string, inReach bool) []Event {
	own := Event{Type: DeployTokenRefused, ActorKind: "deploy_token", ActorID: t.ID, ActorName: t.Username,
		TargetType: "deploy_token", TargetID: t.ID, TargetName: t.Name, EntityType: entityType, EntityID: entityID, Details: details}
	if inReach {
		return []Event{own}
	}
	ownType, ownID := entity(t.Owner)
	own.EntityType, own.EntityID = ownType, ownID
	own.Details = details + " (on a " + entityType + " outside the token's own " + ownType + ")"
	fact := Event{Type: DeployTokenRefused, ActorKind: "deploy_token", TargetType: "deploy_token",
		EntityType: entityType, EntityID: entityID, Details: details + " (a deploy token of another project or group)"}
	return []Event{own, fact}
}

func tokenEvent(t *token.DeployToken, typ, details string) Event {
	e := Event{Type: typ, TargetType: "deploy_token", TargetID: t.ID, TargetName: t.Name, Details: details}
	e.EntityType, e.EntityID = entity(t.Owner)
	return e
}

// pick returns the project or the group variant of an event type.
func pick(o token.Owner, project, group string) string {
	if o.IsGroup() {
		return group
	}
	return project
}

// entity names the project or group that owns a deploy token.
func entity(o token.Owner) (string, int64) {
	if o.IsGroup() {
		return "group", o.GroupID
	}
	return "project", o.ProjectID
}
