package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// deployTokenJSON is GitLab's deploy-token shape; Token appears only in the create response.
type deployTokenJSON struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	Username   string   `json:"username"`
	ExpiresAt  *string  `json:"expires_at"`
	Scopes     []string `json:"scopes"`
	Revoked    bool     `json:"revoked"`
	Expired    bool     `json:"expired"`
	LastUsedAt *string  `json:"last_used_at"`
	LastUsedIP *string  `json:"last_used_ip"`
	AllowedIPs []string `json:"allowed_ips"`
	Token      string   `json:"token,omitempty"`
}

func (h *Handler) deployView(t *token.DeployToken) deployTokenJSON {
	allowed := make([]string, len(t.AllowedIPs))
	for i, p := range t.AllowedIPs {
		allowed[i] = p.String()
	}
	return deployTokenJSON{AllowedIPs: allowed, ID: t.ID, Name: t.Name, Username: t.Username, ExpiresAt: isoTimePtr(t.ExpiresAt),
		Scopes: t.Scopes.Strings(), Revoked: t.Revoked, Expired: t.Expired(h.cfg.Deploy.Now()),
		LastUsedAt: isoTimePtr(t.LastUsedAt), LastUsedIP: addrPtr(t.LastUsedIP)}
}

// Deploy-token endpoints' parameters, as GitLab's lib/api/deploy_tokens.rb declares them (plus
// Gatehouse's allowed_ips and grace_period).
var (
	listDeployTokensParams  = params{{name: "active", typ: tBool}}.with(pagingParams)
	createDeployTokenParams = params{
		{name: "name", typ: tString, required: true},
		{name: "scopes", typ: tList, required: true, values: scopeNames(token.DeployScopes)},
		{name: "expires_at", typ: tString},
		{name: "username", typ: tString},
		{name: "allowed_ips", typ: tList},
	}
	rotateDeployTokenParams = params{{name: "grace_period", typ: tInt}}
)

func scopeNames(scopes []token.Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

func (h *Handler) writeDeployList(w http.ResponseWriter, r *request, f token.DeployFilter) error {
	if err := listDeployTokensParams.check(r); err != nil {
		return err
	}
	if boolParam(r, "active") {
		f.ActiveAt = h.cfg.Deploy.Now()
	}
	list, err := h.cfg.Deploy.List(ctxOf(r), f)
	if err != nil {
		return err
	}
	out := make([]deployTokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, h.deployView(t))
	}
	paginate(w, r, out)
	return nil
}

func (h *Handler) listAllDeployTokens(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	return h.writeDeployList(w, r, token.DeployFilter{})
}

func (h *Handler) listProjectDeployTokens(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ListDeployTokens)
	if err != nil {
		return err
	}
	return h.writeDeployList(w, r, token.DeployFilter{ProjectID: p.ID})
}

func (h *Handler) listGroupDeployTokens(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ListDeployTokens)
	if err != nil {
		return err
	}
	return h.writeDeployList(w, r, token.DeployFilter{GroupID: g.ID})
}

// ownedToken loads {token_id} and checks it belongs to owner; otherwise 404.
func (h *Handler) ownedToken(r *request, owner token.Owner) (*token.DeployToken, error) {
	id, err := pathInt(r, "token_id")
	if err != nil {
		return nil, err
	}
	t, err := h.cfg.Deploy.Get(ctxOf(r), id)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && t.Owner != owner) {
		return nil, notFound("Deploy Token")
	}
	return t, err
}

func (h *Handler) getProjectDeployToken(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ListDeployTokens)
	if err != nil {
		return err
	}
	t, err := h.ownedToken(r, token.Owner{ProjectID: p.ID})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h.deployView(t))
	return nil
}

func (h *Handler) getGroupDeployToken(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ListDeployTokens)
	if err != nil {
		return err
	}
	t, err := h.ownedToken(r, token.Owner{GroupID: g.ID})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h.deployView(t))
	return nil
}

func (h *Handler) createProjectDeployToken(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	return h.createDeployToken(w, r, token.Owner{ProjectID: p.ID})
}

func (h *Handler) createGroupDeployToken(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	return h.createDeployToken(w, r, token.Owner{GroupID: g.ID})
}

func (h *Handler) record(r *request, e audit.Event) {
	u := r.principal.User
	e.ActorKind, e.ActorID, e.ActorName = "user", u.ID, u.Username
	e.IP = httpx.ClientIP(r.Request).String()
	if r.sudoer != nil {
		// The user acted, as in GitLab; who made them act is kept beside it.
		e.Details = strings.TrimSpace(e.Details + " (sudo by administrator " + r.sudoer.Username + ")")
	}
	if err := h.cfg.Audit.Record(ctxOf(r), e); err != nil {
		httpx.Internal(ctxOf(r), h.cfg.Log, err)
	}
}

func (h *Handler) createDeployToken(w http.ResponseWriter, r *request, owner token.Owner) error {
	if err := createDeployTokenParams.check(r); err != nil {
		h.record(r, audit.TokenCreationFailed(owner, r.params.Get("name"), err.Error()))
		return err
	}
	t, secret, err := h.cfg.Deploy.Create(ctxOf(r), token.CreateDeployInput{Name: r.params.Get("name"),
		Username: r.params.Get("username"), Scopes: splitList(r.params["scopes"]), ExpiresAt: r.params.Get("expires_at"),
		Owner: owner, CreatorID: r.principal.User.ID, AllowedIPs: r.params["allowed_ips"]})
	if err != nil {
		var ve *errkind.ValidationError
		if errors.As(err, &ve) {
			h.record(r, audit.TokenCreationFailed(owner, r.params.Get("name"), ve.Error()))
			return deployTokenInvalid(ve)
		}
		return err
	}
	h.record(r, audit.TokenCreated(t))
	j := h.deployView(t)
	j.Token = secret.Reveal()
	httpx.WriteJSON(w, http.StatusCreated, j)
	return nil
}

// deployTokenInvalid words a refused deploy token as GitLab does: a malformed expires_at is
// Grape's type error ({"error": "expires_at is invalid"}); the model's refusals are one sentence
// of Rails full messages ({"message": "Scopes can't be blank"}), as the create service answers.
func deployTokenInvalid(ve *errkind.ValidationError) error {
	switch {
	case ve.Field == "expires_at" && strings.HasPrefix(ve.Reason, "is invalid"):
		return invalidParam("expires_at")
	case ve.Field == "allowed_ips":
		// Gatehouse's own parameter: named as sent.
		return &apiError{http.StatusBadRequest, ve.Error()}
	case ve.Reason == "is empty" || ve.Reason == "is missing":
		return &apiError{http.StatusBadRequest, fullMessage(ve.Field, "can't be blank")}
	}
	return &apiError{http.StatusBadRequest, fullMessage(ve.Field, ve.Reason)}
}

func (h *Handler) deleteProjectDeployToken(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	return h.deleteDeployToken(w, r, token.Owner{ProjectID: p.ID})
}

func (h *Handler) deleteGroupDeployToken(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	return h.deleteDeployToken(w, r, token.Owner{GroupID: g.ID})
}

// deleteDeployToken destroys the token as GitLab's API does (a later GET answers 404); it stops
// working at once. The web UI's Revoke keeps it listed instead (docs/design.md §2.7).
func (h *Handler) deleteDeployToken(w http.ResponseWriter, r *request, owner token.Owner) error {
	t, err := h.ownedToken(r, owner)
	if err != nil {
		return err
	}
	if err := h.cfg.Deploy.Delete(ctxOf(r), t.ID); err != nil {
		return err
	}
	h.record(r, audit.TokenDestroyed(t))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) rotateProjectDeployToken(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	return h.rotateDeployToken(w, r, token.Owner{ProjectID: p.ID})
}

func (h *Handler) rotateGroupDeployToken(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ManageDeployTokens)
	if err != nil {
		return err
	}
	return h.rotateDeployToken(w, r, token.Owner{GroupID: g.ID})
}

// rotateDeployToken answers POST …/deploy_tokens/:token_id/rotate (beyond GitLab): a new secret
// for the same id, username, scopes and expiry, returned once. `grace_period` (seconds, default
// 0, at most 7 days) keeps the old secret working that long.
func (h *Handler) rotateDeployToken(w http.ResponseWriter, r *request, owner token.Owner) error {
	t, err := h.ownedToken(r, owner)
	if err != nil {
		return err
	}
	if err := rotateDeployTokenParams.check(r); err != nil {
		return err
	}
	grace, err := intParam(r, "grace_period")
	if err != nil {
		return err
	}
	d, err := token.RotationGrace(grace)
	if err != nil {
		return err
	}
	t, secret, err := h.cfg.Deploy.Rotate(ctxOf(r), t.ID, d)
	if err != nil {
		return err
	}
	h.record(r, audit.TokenRotated(t, d))
	j := h.deployView(t)
	j.Token = secret.Reveal()
	httpx.WriteJSON(w, http.StatusOK, j)
	return nil
}
