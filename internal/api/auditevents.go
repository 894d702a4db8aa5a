package api

import (
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// auditEventJSON follows GitLab's audit-event shape.
type auditEventJSON struct {
	ID         int64            `json:"id"`
	AuthorID   int64            `json:"author_id"`
	EntityID   int64            `json:"entity_id"`
	EntityType string           `json:"entity_type"`
	EventName  string           `json:"event_name"`
	Details    auditDetailsJSON `json:"details"`
	CreatedAt  string           `json:"created_at"`
}

type auditDetailsJSON struct {
	AuthorName    string `json:"author_name"`
	AuthorClass   string `json:"author_class"`
	TargetID      int64  `json:"target_id"`
	TargetType    string `json:"target_type"`
	TargetDetails string `json:"target_details"`
	IPAddress     string `json:"ip_address"`
	CustomMessage string `json:"custom_message"`
}

func (h *Handler) listInstanceAuditEvents(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	return h.writeAuditEvents(w, r, "", 0)
}

func (h *Handler) listProjectAuditEvents(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadAuditEvents)
	if err != nil {
		return err
	}
	return h.writeAuditEvents(w, r, "project", p.ID)
}

func (h *Handler) listGroupAuditEvents(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ReadAuditEvents)
	if err != nil {
		return err
	}
	return h.writeAuditEvents(w, r, "group", g.ID)
}

// writeAuditEvents lists an entity's events (all, for the instance), newest first, filtered by
// created_after / created_before (RFC 3339 or YYYY-MM-DD), entity_type and entity_id (instance
// list only) and event_name, as GitLab's audit events API filters them.
func (h *Handler) writeAuditEvents(w http.ResponseWriter, r *request, entityType string, entityID int64) error {
	after, err := timeParam(r, "created_after")
	if err != nil {
		return err
	}
	before, err := timeParam(r, "created_before")
	if err != nil {
		return err
	}
	if entityType == "" {
		entityType = r.params.Get("entity_type")
		if entityID, err = intParam(r, "entity_id"); err != nil {
			return err
		}
		if entityType == "" && entityID != 0 {
			return badRequest("entity_id needs entity_type")
		}
	}
	events, err := h.cfg.Audit.List(ctxOf(r), entityType, entityID)
	if err != nil {
		return err
	}
	name := r.params.Get("event_name")
	out := []auditEventJSON{}
	for _, e := range events {
		if (!after.IsZero() && e.CreatedAt.Before(after)) || (!before.IsZero() && e.CreatedAt.After(before)) ||
			(name != "" && e.Type != name) {
			continue
		}
		out = append(out, auditView(e))
	}
	paginate(w, r, out)
	return nil
}

func auditView(e *audit.Event) auditEventJSON {
	return auditEventJSON{ID: e.ID, AuthorID: e.ActorID, EntityID: e.EntityID, EntityType: e.EntityType,
		EventName: e.Type, CreatedAt: isoTime(e.CreatedAt),
		Details: auditDetailsJSON{AuthorName: e.ActorName, AuthorClass: e.ActorKind, TargetID: e.TargetID,
			TargetType: e.TargetType, TargetDetails: e.TargetName, IPAddress: e.IP, CustomMessage: e.Details}}
}

// timeParam parses an optional RFC 3339 time or YYYY-MM-DD date parameter.
func timeParam(r *request, name string) (time.Time, error) {
	v := r.params.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequest("%s is invalid (use an RFC 3339 time or YYYY-MM-DD)", name)
}
