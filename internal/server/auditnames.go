package server

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// auditNames gives the audit log the paths and emails it records with each event, from the
// namespaces (audit.Names).
type auditNames struct{ ns *namespace.Service }

var _ audit.Names = auditNames{}

// EntityPath implements audit.Names: a project's or group's full path, a user's username.
func (a auditNames) EntityPath(ctx context.Context, entityType string, id int64) string {
	switch entityType {
	case "project":
		if p, err := a.ns.Project(ctx, id); err == nil {
			return p.FullPath
		}
	case "group":
		if g, err := a.ns.Group(ctx, id); err == nil {
			return g.FullPath
		}
	case "user":
		if u, err := a.ns.User(ctx, id); err == nil {
			return u.Username
		}
	}
	return ""
}

// UserEmail implements audit.Names.
func (a auditNames) UserEmail(ctx context.Context, id int64) string {
	if u, err := a.ns.User(ctx, id); err == nil {
		return u.Email
	}
	return ""
}
