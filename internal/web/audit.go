package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// auditPerPage is how many events one audit page lists.
const auditPerPage = 20

// eventLabels name the deploy-token event types in words; the raw type is shown beside them.
var eventLabels = map[string]string{
	audit.DeployTokenCreated:        "Deploy token created",
	audit.DeployTokenCreationFailed: "Deploy token creation failed",
	audit.DeployTokenRevoked:        "Deploy token revoked",
	audit.DeployTokenDestroyed:      "Deploy token destroyed",
	audit.DeployTokenRotated:        "Deploy token rotated",
	audit.GroupDeployTokenCreated:   "Group deploy token created",
	audit.GroupDeployTokenFailed:    "Group deploy token creation failed",
	audit.GroupDeployTokenRevoked:   "Group deploy token revoked",
	audit.GroupDeployTokenDestroyed: "Group deploy token destroyed",
	audit.GroupDeployTokenRotated:   "Group deploy token rotated",
	audit.DeployTokenRefused:        "Deploy token refused",
	audit.SecretPushBlocked:         "Push blocked: it added a live credential",
	audit.SecretPushSkipped:         "Secret push protection skipped",
}

type auditRow struct {
	At        time.Time
	Type      string
	Label     string
	ActorKind string
	Actor     string
	TokenName string
	// TokenUsername is the token's username when known: the acting token's, or the target's
	// while it still exists.
	TokenUsername string
	IP            string
	Details       string
}

type auditData struct {
	Target *target
	Events []auditRow
	Total  int
	Page   int
	Pages  int
	From   int // 1-based position of the first event shown
	To     int
	Prev   string
	Next   string
}

// handleAuditEvents lists the deploy-token events of a project or group, newest first, a page at
// a time (?page=). Who may see them is access's ReadAuditEvents (the same as the API's audit
// events): project maintainers and up, group owners, admins; everyone else gets 404. Events hold
// names, ids and addresses only, never a secret.
func (h *Handler) handleAuditEvents(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	t, err := h.loadTarget(r, sess, rt, access.ReadAuditEvents)
	if err != nil {
		return err
	}
	var events []*audit.Event
	if h.cfg.Audit != nil {
		all, err := h.cfg.Audit.List(r.Context(), t.Kind, t.entityID)
		if err != nil {
			return err
		}
		for _, e := range all {
			if e.TargetType == "deploy_token" {
				events = append(events, e)
			}
		}
	}
	d := auditData{Target: t, Total: len(events), Pages: max(1, (len(events)+auditPerPage-1)/auditPerPage)}
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	start := (d.Page - 1) * auditPerPage
	end := min(start+auditPerPage, len(events))
	d.From, d.To = start+1, end
	self := t.Base + "/-/audit_events"
	if d.Page > 1 {
		d.Prev = self + "?page=" + strconv.Itoa(d.Page-1)
	}
	if d.Page < d.Pages {
		d.Next = self + "?page=" + strconv.Itoa(d.Page+1)
	}
	usernames := map[int64]string{}
	for _, e := range events[start:end] {
		row := auditRow{At: e.CreatedAt, Type: e.Type, Label: eventLabels[e.Type], ActorKind: e.ActorKind, Actor: e.ActorName,
			TokenName: e.TargetName, IP: e.IP, Details: e.Details}
		if row.Label == "" {
			row.Label = e.Type
		}
		switch {
		case e.ActorKind == "deploy_token":
			row.TokenUsername = e.ActorName
		case e.TargetID != 0:
			name, ok := usernames[e.TargetID]
			if !ok {
				tok, err := h.cfg.Deploy.Get(r.Context(), e.TargetID)
				switch {
				case err == nil:
					name = tok.Username
				case !errors.Is(err, errkind.ErrNotFound):
					return err
				}
				usernames[e.TargetID] = name
			}
			row.TokenUsername = name
		}
		d.Events = append(d.Events, row)
	}
	title := "Audit events · " + t.Name
	if d.Pages > 1 {
		title += " · page " + strconv.Itoa(d.Page) + " of " + strconv.Itoa(d.Pages)
	}
	crumbs := append(append([]crumb{}, t.crumbs...), crumb{Label: "Audit events", Href: self})
	h.render(w, r, http.StatusOK, "audit_events", &page{Title: title, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Data: d})
	return nil
}
