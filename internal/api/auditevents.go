package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
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
	AuthorEmail   string `json:"author_email"`
	AuthorClass   string `json:"author_class"`
	TargetID      int64  `json:"target_id"`
	TargetType    string `json:"target_type"`
	TargetDetails string `json:"target_details"`
	IPAddress     string `json:"ip_address"`
	EntityPath    string `json:"entity_path"`
	CustomMessage string `json:"custom_message"`
}

// entityTypes maps the stored entity types to GitLab's (its entity_type values).
var entityTypes = map[string]string{"project": "Project", "group": "Group", "user": "User",
	"instance": "Gitlab::Audit::InstanceScope"}

// storedEntityType is the stored entity type of GitLab's name, or false.
func storedEntityType(gitlab string) (string, bool) {
	for stored, name := range entityTypes {
		if name == gitlab {
			return stored, true
		}
	}
	return "", false
}

// auditScope is the list or event a request may see: an entity's events (entityType "": all),
// only the requester's own when author is set.
type auditScope struct {
	entityType string
	entityID   int64
	// anyID: every entity of entityType (the instance list's entity_type without entity_id).
	anyID  bool
	author int64
}

// includes reports whether e is in the scope.
func (s auditScope) includes(e *audit.Event) bool {
	if s.entityType != "" && (e.EntityType != s.entityType || (!s.anyID && e.EntityID != s.entityID)) {
		return false
	}
	return s.author == 0 || (e.ActorKind == "user" && e.ActorID == s.author)
}

func (h *Handler) instanceAuditScope(r *request) (auditScope, error) {
	return auditScope{}, h.authorize(r, access.Resource{}, access.AdministerInstance, "")
}

// projectAuditScope is a project's events: everyone's for ReadAuditEvents (maintainer+), the
// requester's own for ReadOwnAuditEvents (developers), as GitLab filters by author.
func (h *Handler) projectAuditScope(r *request) (auditScope, error) {
	p, err := h.project(r, access.ReadOwnAuditEvents)
	if err != nil {
		return auditScope{}, err
	}
	s := auditScope{entityType: "project", entityID: p.ID}
	all, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Project: p}, access.ReadAuditEvents)
	if err != nil {
		return auditScope{}, err
	}
	if !all {
		s.author = r.principal.User.ID
	}
	return s, nil
}

// groupAuditScope is a group's events: everyone's for owners, the requester's own for
// developers and maintainers.
func (h *Handler) groupAuditScope(r *request) (auditScope, error) {
	g, err := h.group(r, access.ReadOwnAuditEvents)
	if err != nil {
		return auditScope{}, err
	}
	s := auditScope{entityType: "group", entityID: g.ID}
	all, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Group: g}, access.ReadAuditEvents)
	if err != nil {
		return auditScope{}, err
	}
	if !all {
		s.author = r.principal.User.ID
	}
	return s, nil
}

// auditListParams are the audit-event lists' parameters (event_name is Gatehouse's own filter);
// the instance list also takes entity_type and entity_id.
var (
	auditListParams = params{{name: "created_after", typ: tString}, {name: "created_before", typ: tString},
		{name: "event_name", typ: tString}}.with(pagingParams)
	instanceAuditListParams = auditListParams.with(params{
		{name: "entity_type", typ: tString, values: []string{"User", "Group", "Project", "Gitlab::Audit::InstanceScope"}},
		{name: "entity_id", typ: tInt}})
)

func (h *Handler) listInstanceAuditEvents(w http.ResponseWriter, r *request) error {
	s, err := h.instanceAuditScope(r)
	if err != nil {
		return err
	}
	if err := instanceAuditListParams.check(r); err != nil {
		return err
	}
	if v := r.params.Get("entity_type"); v != "" {
		var ok bool
		if s.entityType, ok = storedEntityType(v); !ok {
			return invalidValue("entity_type")
		}
	}
	if s.entityID, err = intParam(r, "entity_id"); err != nil {
		return err
	}
	if s.entityType == "" && r.params.Has("entity_id") {
		return missingParams("entity_type") // entity_id names an entity of entity_type
	}
	s.anyID = s.entityType != "" && !r.params.Has("entity_id")
	return h.writeAuditEvents(w, r, s)
}

func (h *Handler) listProjectAuditEvents(w http.ResponseWriter, r *request) error {
	s, err := h.projectAuditScope(r)
	if err != nil {
		return err
	}
	if err := auditListParams.check(r); err != nil {
		return err
	}
	return h.writeAuditEvents(w, r, s)
}

func (h *Handler) listGroupAuditEvents(w http.ResponseWriter, r *request) error {
	s, err := h.groupAuditScope(r)
	if err != nil {
		return err
	}
	if err := auditListParams.check(r); err != nil {
		return err
	}
	return h.writeAuditEvents(w, r, s)
}

func (h *Handler) getInstanceAuditEvent(w http.ResponseWriter, r *request) error {
	s, err := h.instanceAuditScope(r)
	if err != nil {
		return err
	}
	return h.writeAuditEvent(w, r, s)
}

func (h *Handler) getProjectAuditEvent(w http.ResponseWriter, r *request) error {
	s, err := h.projectAuditScope(r)
	if err != nil {
		return err
	}
	return h.writeAuditEvent(w, r, s)
}

func (h *Handler) getGroupAuditEvent(w http.ResponseWriter, r *request) error {
	s, err := h.groupAuditScope(r)
	if err != nil {
		return err
	}
	return h.writeAuditEvent(w, r, s)
}

// writeAuditEvent answers {event_id} if it is in s: an event of another entity, or another
// author's for a requester who sees only their own, is 404 as one that does not exist.
func (h *Handler) writeAuditEvent(w http.ResponseWriter, r *request, s auditScope) error {
	id, err := strconv.ParseInt(r.PathValue("event_id"), 10, 64)
	if err != nil {
		return invalidParam("audit_event_id") // GitLab's name for it
	}
	e, err := h.cfg.Audit.Get(ctxOf(r), id)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && !s.includes(e)) {
		return &apiError{http.StatusNotFound, "404 Not found"} // GitLab's answer to a record not found
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, newAuditNames(h, r).view(e))
	return nil
}

// writeAuditEvents lists the events of s, newest first, filtered by created_after /
// created_before (ISO 8601 or YYYY-MM-DD, both inclusive) and event_name.
func (h *Handler) writeAuditEvents(w http.ResponseWriter, r *request, s auditScope) error {
	after, err := timeParam(r, "created_after")
	if err != nil {
		return err
	}
	before, err := timeParam(r, "created_before")
	if err != nil {
		return err
	}
	entityType, entityID := s.entityType, s.entityID
	if s.anyID {
		entityType, entityID = "", 0
	}
	events, err := h.cfg.Audit.List(ctxOf(r), entityType, entityID)
	if err != nil {
		return err
	}
	name := r.params.Get("event_name")
	names := newAuditNames(h, r)
	out := []auditEventJSON{}
	for _, e := range events {
		if (!after.IsZero() && e.CreatedAt.Before(after)) || (!before.IsZero() && e.CreatedAt.After(before)) ||
			(name != "" && e.Type != name) || !s.includes(e) {
			continue
		}
		out = append(out, names.view(e))
	}
	paginate(w, r, out)
	return nil
}

// auditNames looks up, once per request, what an event recorded before entity paths and author
// emails were kept (migration 0035) shows instead: the path and email as they are now.
type auditNames struct {
	h      *Handler
	r      *request
	emails map[int64]string
	paths  map[string]string
}

func newAuditNames(h *Handler, r *request) *auditNames {
	return &auditNames{h: h, r: r, emails: map[int64]string{}, paths: map[string]string{}}
}

func (n *auditNames) email(e *audit.Event) string {
	if e.AuthorEmail != "" || e.ActorKind != "user" || e.ActorID == 0 {
		return e.AuthorEmail
	}
	v, ok := n.emails[e.ActorID]
	if !ok {
		if u, err := n.h.cfg.Namespaces.User(ctxOf(n.r), e.ActorID); err == nil {
			v = u.Email
		}
		n.emails[e.ActorID] = v
	}
	return v
}

func (n *auditNames) entityPath(e *audit.Event) string {
	if e.EntityPath != "" {
		return e.EntityPath
	}
	key := e.EntityType + " " + strconv.FormatInt(e.EntityID, 10)
	v, ok := n.paths[key]
	if ok {
		return v
	}
	ctx := ctxOf(n.r)
	switch e.EntityType {
	case "instance":
		v = audit.InstanceEntityPath
	case "project":
		if p, err := n.h.cfg.Namespaces.Project(ctx, e.EntityID); err == nil {
			v = p.FullPath
		}
	case "group":
		if g, err := n.h.cfg.Namespaces.Group(ctx, e.EntityID); err == nil {
			v = g.FullPath
		}
	case "user":
		if u, err := n.h.cfg.Namespaces.User(ctx, e.EntityID); err == nil {
			v = u.Username
		}
	}
	n.paths[key] = v
	return v
}

func (n *auditNames) view(e *audit.Event) auditEventJSON {
	typ := entityTypes[e.EntityType]
	if typ == "" {
		typ = e.EntityType
	}
	return auditEventJSON{ID: e.ID, AuthorID: e.ActorID, EntityID: e.EntityID, EntityType: typ,
		EventName: e.Type, CreatedAt: isoTime(e.CreatedAt),
		Details: auditDetailsJSON{AuthorName: e.ActorName, AuthorEmail: n.email(e), AuthorClass: e.ActorKind,
			TargetID: e.TargetID, TargetType: e.TargetType, TargetDetails: e.TargetName, IPAddress: e.IP,
			EntityPath: n.entityPath(e), CustomMessage: e.Details}}
}

// timeParam parses an optional ISO 8601 time (RFC 3339) or YYYY-MM-DD date parameter.
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
	return time.Time{}, invalidParam(name)
}
