package web

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// scopeDescriptions are GitLab's descriptions of the seven scopes (source-deploy-tokens.txt).
var scopeDescriptions = map[token.Scope]string{
	token.ReadRepository: "Read-only access to the repository using git clone.",
	token.ReadRegistry:   "Read-only access to the images in the project’s container registry.",
	token.WriteRegistry:  "Write access (push) to the project’s container registry. You need both read and write access to push images.",
	token.ReadVirtualRegistry: "If a project is private and authorization is required, grants read-only (pull) access to container " +
		"images through the dependency proxy. Available only when the dependency proxy is enabled.",
	token.WriteVirtualRegistry: "If a project is private and authorization is required, grants read (pull), write (push), and delete " +
		"access to container images through the dependency proxy. Available only when the dependency proxy is enabled.",
	token.ReadPackageRegistry:  "Read-only access to the project’s package registry.",
	token.WritePackageRegistry: "Write access to the project’s package registry.",
}

// fieldLabels name the form fields in error messages.
var fieldLabels = map[string]string{"name": "Name", "expires_at": "Expiration date", "username": "Username", "scopes": "Scopes",
	"allowed_ips": "The allowed IP list", "grace_period": "Grace period", "token": "The token"}

// fieldMessage is a *errkind.ValidationError as a sentence: the field's label and the domain's
// reason, the same reason the API answers after the field's name.
func fieldMessage(ve *errkind.ValidationError) string {
	label := fieldLabels[ve.Field]
	if label == "" {
		label = ve.Field
	}
	return label + " " + ve.Reason + "."
}

// target is the project or group whose deploy tokens a page manages.
type target struct {
	Kind     string // "project" or "group"
	Name     string
	FullPath string
	Base     string // URL of its page
	res      access.Resource
	owner    token.Owner
	entityID int64
	crumbs   []crumb
}

// loadTarget resolves the route's project or group; the user must be allowed act on it (for the
// deploy-token pages ListDeployTokens: maintainers and up, and admins), and everyone else gets 404.
func (h *Handler) loadTarget(r *http.Request, sess *session, rt route, act access.Action) (*target, error) {
	if rt.kind == groupRoute {
		g, err := h.loadGroup(r, sess, rt.path, act)
		if err != nil {
			return nil, err
		}
		return &target{Kind: "group", Name: g.Name, FullPath: g.FullPath, Base: basePath(groupRoute, g.FullPath),
			res: access.Resource{Group: g}, owner: token.Owner{GroupID: g.ID}, entityID: g.ID, crumbs: groupCrumbs(g.FullPath)}, nil
	}
	p, err := h.loadProject(r, sess, rt.path, act)
	if err != nil {
		return nil, err
	}
	return &target{Kind: "project", Name: p.Name, FullPath: p.FullPath, Base: basePath(projectRoute, p.FullPath),
		res: access.Resource{Project: p}, owner: token.Owner{ProjectID: p.ID}, entityID: p.ID, crumbs: projectCrumbs(p)}, nil
}

// tokenForm is the "Add token" form's values, kept when it is shown again with errors.
type tokenForm struct {
	Name      string
	ExpiresAt string
	Username  string
	Scopes    map[string]bool
	// AllowedIPs is the allow-list as typed: IPs or CIDRs separated by commas or new lines.
	AllowedIPs string
}

type scopeOption struct {
	Value       string
	Description string
	Checked     bool
}

type tokenRow struct {
	ID         int64
	Name       string
	Username   string
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	LastUsedIP string // "" when unknown
	AllowedIPs []string
	Status     string // "Revoked" or "Expired" for inactive tokens
	// Sparkline is the last 30 days' requests as a small chart (active tokens only).
	Sparkline template.HTML
}

// rowOf is the displayed part of a token (never its secret or digests).
func rowOf(tok *token.DeployToken) tokenRow {
	row := tokenRow{ID: tok.ID, Name: tok.Name, Username: tok.Username, Scopes: tok.Scopes.Strings(),
		CreatedAt: tok.CreatedAt, ExpiresAt: tok.ExpiresAt, LastUsedAt: tok.LastUsedAt}
	if tok.LastUsedIP.IsValid() {
		row.LastUsedIP = tok.LastUsedIP.String()
	}
	for _, p := range tok.AllowedIPs {
		row.AllowedIPs = append(row.AllowedIPs, p.String())
	}
	return row
}

// createdToken is a secret shown once: of a new token, or of a rotated one (Rotated).
type createdToken struct {
	Name     string
	Username string
	Token    string
	Rotated  bool
}

type tokensData struct {
	Target    *target
	CanManage bool
	Form      tokenForm
	Scopes    []scopeOption
	// Errors maps a field to its message; ErrorList is every message, for the summary.
	Errors      map[string]string
	ErrorList   []string
	Created     *createdToken
	Active      []tokenRow
	Inactive    []tokenRow
	MinDate     string
	CITokenName string
	// CanAudit shows the link to the audit events page.
	CanAudit bool
}

// handleDeployTokens serves Settings › Repository › Deploy tokens and its actions.
func (h *Handler) handleDeployTokens(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	t, err := h.loadTarget(r, sess, rt, access.ListDeployTokens)
	if err != nil {
		return err
	}
	canManage, err := h.allowed(r, sess, t.res, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	switch rt.action {
	case actCreate:
		if !canManage {
			return errForbidden
		}
		return h.createToken(w, r, sess, t)
	case actRevoke:
		if !canManage {
			return errForbidden
		}
		return h.revokeToken(w, r, sess, t, rt.tokenID)
	case actRotate:
		if !canManage {
			return errForbidden
		}
		return h.rotateToken(w, r, sess, t, rt.tokenID)
	case actUsage:
		return h.tokenUsage(w, r, sess, t, rt.tokenID)
	}
	notice := ""
	if id, err := strconv.ParseInt(r.URL.Query().Get("revoked"), 10, 64); err == nil {
		if tok, err := h.ownedToken(r, t, id); err == nil && tok.Revoked {
			notice = "Revoked deploy token " + strconv.Quote(tok.Name) + ". It no longer works."
		}
	}
	return h.renderTokens(w, r, sess, t, http.StatusOK, tokensData{CanManage: canManage}, notice)
}

// renderTokens renders the settings page with d's form state and the owner's token lists.
func (h *Handler) renderTokens(w http.ResponseWriter, r *http.Request, sess *session, t *target, status int, d tokensData, notice string) error {
	list, err := h.cfg.Deploy.List(r.Context(), token.DeployFilter{ProjectID: t.owner.ProjectID, GroupID: t.owner.GroupID})
	if err != nil {
		return err
	}
	now := h.cfg.Deploy.Now()
	for _, tok := range list {
		row := rowOf(tok)
		switch {
		case tok.Revoked:
			row.Status = "Revoked"
		case tok.Expired(now):
			row.Status = "Expired"
		default:
			d.Active = append(d.Active, row)
			continue
		}
		d.Inactive = append(d.Inactive, row)
	}
	if err := h.addSparklines(r, d.Active); err != nil {
		return err
	}
	d.Target = t
	if d.CanAudit, err = h.allowed(r, sess, t.res, access.ReadAuditEvents); err != nil {
		return err
	}
	d.MinDate = now.UTC().AddDate(0, 0, 1).Format("2006-01-02")
	d.CITokenName = token.CITokenName
	for _, s := range token.DeployScopes {
		d.Scopes = append(d.Scopes, scopeOption{Value: string(s), Description: scopeDescriptions[s], Checked: d.Form.Scopes[string(s)]})
	}
	crumbs := append(append([]crumb{}, t.crumbs...), crumb{Label: "Repository settings", Href: t.Base + "/-/settings/repository"})
	h.render(w, r, status, "deploy_tokens", &page{Title: "Deploy tokens · " + t.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Notice: notice, Data: d})
	return nil
}

// createToken handles the "Add token" form. Every field is checked first so all problems show at
// once; the service then decides (it alone knows whether a username is taken). The new secret is
// rendered in this response only, never stored or shown again.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, sess *session, t *target) error {
	if err := r.ParseForm(); err != nil {
		return statusError(http.StatusBadRequest)
	}
	f := tokenForm{Name: strings.TrimSpace(r.PostForm.Get("name")), ExpiresAt: strings.TrimSpace(r.PostForm.Get("expires_at")),
		Username: strings.TrimSpace(r.PostForm.Get("username")), Scopes: map[string]bool{},
		AllowedIPs: strings.TrimSpace(r.PostForm.Get("allowed_ips"))}
	allowedIPs := splitLines(f.AllowedIPs)
	scopes := r.PostForm["scopes"]
	for _, s := range scopes {
		f.Scopes[s] = true
	}
	d := tokensData{CanManage: true, Form: f, Errors: map[string]string{}}
	addErr := func(err error) {
		var ve *errkind.ValidationError
		if errors.As(err, &ve) {
			if _, dup := d.Errors[ve.Field]; !dup {
				msg := fieldMessage(ve)
				if ve.Field == "scopes" && len(scopes) == 0 {
					msg = "Select at least one scope."
				}
				d.Errors[ve.Field] = msg
				d.ErrorList = append(d.ErrorList, msg)
			}
		}
	}
	if f.Name == "" {
		addErr(&errkind.ValidationError{Field: "name", Reason: "is missing"})
	}
	if _, err := token.ParseExpiry(f.ExpiresAt, h.cfg.Deploy.Now()); err != nil {
		addErr(err)
	}
	if f.Username != "" {
		addErr(token.ValidateUsername(f.Username))
	}
	if _, err := token.ParseScopes(scopes, token.DeployScopes); err != nil {
		addErr(err)
	}
	if _, err := token.ParseAllowedIPs(allowedIPs); err != nil {
		addErr(err)
	}
	if len(d.Errors) == 0 {
		tok, secret, err := h.cfg.Deploy.Create(r.Context(), token.CreateDeployInput{Name: f.Name, Username: f.Username,
			Scopes: scopes, ExpiresAt: f.ExpiresAt, Owner: t.owner, CreatorID: sess.user.ID, AllowedIPs: allowedIPs})
		if err == nil {
			h.record(r, sess, audit.TokenCreated(tok))
			// A fresh, empty form below the new token: the values were used.
			return h.renderTokens(w, r, sess, t, http.StatusCreated, tokensData{CanManage: true,
				Created: &createdToken{Name: tok.Name, Username: tok.Username, Token: secret.Reveal()}},
				"Your new deploy token has been created.")
		}
		if !errors.Is(err, errkind.ErrInvalid) {
			return err
		}
		addErr(err)
	}
	h.record(r, sess, audit.TokenCreationFailed(t.owner, f.Name, strings.Join(d.ErrorList, " ")))
	return h.renderTokens(w, r, sess, t, http.StatusUnprocessableEntity, d, "")
}

// ownedToken loads token id when it belongs to t; ErrNotFound-like 404 otherwise.
func (h *Handler) ownedToken(r *http.Request, t *target, id int64) (*token.DeployToken, error) {
	tok, err := h.cfg.Deploy.Get(r.Context(), id)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && tok.Owner != t.owner) {
		return nil, errNotFound
	}
	return tok, err
}

type revokeData struct {
	Target *target
	Token  tokenRow
}

// revokeToken shows the confirmation page (GET) or revokes the token (POST). As in GitLab's UI,
// a revoked token stays listed, under the revoked tokens.
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, sess *session, t *target, id int64) error {
	tok, err := h.ownedToken(r, t, id)
	if err != nil {
		return err
	}
	settings := t.Base + "/-/settings/repository"
	if tok.Revoked {
		http.Redirect(w, r, settings, http.StatusSeeOther)
		return nil
	}
	if r.Method != http.MethodPost {
		crumbs := append(append([]crumb{}, t.crumbs...), crumb{Label: "Repository settings", Href: settings},
			crumb{Label: "Revoke " + tok.Name, Href: r.URL.Path})
		h.render(w, r, http.StatusOK, "revoke", &page{Title: "Revoke deploy token " + tok.Name, User: sess.user,
			CSRF: sess.csrfToken(), Breadcrumbs: crumbs, Data: revokeData{Target: t, Token: rowOf(tok)}})
		return nil
	}
	if err := h.cfg.Deploy.Revoke(r.Context(), tok.ID); err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return err
	}
	h.record(r, sess, audit.TokenRevoked(tok))
	http.Redirect(w, r, settings+"?revoked="+strconv.FormatInt(tok.ID, 10), http.StatusSeeOther)
	return nil
}

// splitLines splits a textarea into its lines; each line may hold comma-separated items, which
// token.ParseAllowedIPs splits.
func splitLines(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' })
}

// record writes an audit event by the session's user on t; a failure to record is logged.
func (h *Handler) record(r *http.Request, sess *session, e audit.Event) {
	if h.cfg.Audit == nil {
		return
	}
	e.ActorKind, e.ActorID, e.ActorName = "user", sess.user.ID, sess.user.Username
	e.IP = httpx.ClientIP(r).String()
	if err := h.cfg.Audit.Record(r.Context(), e); err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "record audit event", "err", err)
	}
}
