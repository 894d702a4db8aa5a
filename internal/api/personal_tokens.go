package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Personal access tokens (GitLab's lib/api/personal_access_tokens.rb and its self endpoints): a
// user lists, reads, revokes and rotates their own tokens; an administrator anyone's. These
// routes touch no project or group, so the gate only requires a signed-in user and the handlers
// apply GitLab's ownership rule; writes need the api scope, reads api or read_api.

// optBool reads an optional boolean parameter strictly, as Grape's Boolean type: nil when absent.
func optBool(r *request, name string) (*bool, error) {
	v, ok := r.params[name]
	if !ok {
		return nil, nil
	}
	b, ok := parseBool(v[0])
	if !ok {
		return nil, invalidParam(name)
	}
	return &b, nil
}

// optTime reads an optional date or date-time parameter (GitLab's DateTime): nil when absent.
func optTime(r *request, name string) (*time.Time, error) {
	v := strings.TrimSpace(r.params.Get(name))
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t, nil
		}
	}
	return nil, invalidParam(name)
}

// requireReadAPIScope refuses a personal access token with neither api nor read_api.
func (h *Handler) requireReadAPIScope(r *request) error {
	if pat := r.principal.PersonalToken; pat != nil && !pat.Scopes.HasAny(token.API, token.ReadAPI) {
		return errForbidden
	}
	return nil
}

func (h *Handler) listPersonalTokens(w http.ResponseWriter, r *request) error {
	if err := h.requireReadAPIScope(r); err != nil {
		return err
	}
	if err := onlyParams(r, "user_id", "state", "revoked", "created_before", "created_after", "last_used_before",
		"last_used_after", "expires_before", "expires_after", "search"); err != nil {
		return err
	}
	me := r.principal.User
	var f token.PersonalFilter
	var err error
	if f.UserID, err = intParam(r, "user_id"); err != nil {
		return err
	}
	if !me.Admin {
		// A user sees their own tokens, never the impersonation tokens made for them; naming
		// another user is refused as GitLab does.
		if f.UserID != 0 && f.UserID != me.ID {
			return errUnauthorized
		}
		no := false
		f.UserID, f.Impersonation = me.ID, &no
	} else if _, given := r.params["user_id"]; given {
		if _, err := h.cfg.Namespaces.User(ctxOf(r), f.UserID); err != nil {
			if errors.Is(err, errkind.ErrNotFound) {
				return notFound("")
			}
			return err
		}
	}
	switch f.State = r.params.Get("state"); f.State {
	case "", "active", "inactive":
	default:
		return invalidValue("state")
	}
	if f.Revoked, err = optBool(r, "revoked"); err != nil {
		return err
	}
	for name, dst := range map[string]**time.Time{"created_before": &f.CreatedBefore, "created_after": &f.CreatedAfter,
		"last_used_before": &f.LastUsedBefore, "last_used_after": &f.LastUsedAfter} {
		if *dst, err = optTime(r, name); err != nil {
			return err
		}
	}
	expBefore, err := optTime(r, "expires_before")
	if err != nil {
		return err
	}
	expAfter, err := optTime(r, "expires_after")
	if err != nil {
		return err
	}
	f.Search = r.params.Get("search")
	list, err := h.cfg.Personal.List(ctxOf(r), f)
	if err != nil {
		return err
	}
	out := []personalTokenJSON{}
	for _, t := range list {
		// GitLab compares expiry dates; a token without one matches neither bound.
		if (expBefore != nil && (t.ExpiresAt == nil || !t.ExpiresAt.Before(*expBefore))) ||
			(expAfter != nil && (t.ExpiresAt == nil || !t.ExpiresAt.After(*expAfter))) {
			continue
		}
		out = append(out, h.personalView(t))
	}
	paginate(w, r, out)
	return nil
}

// personalToken resolves {token_id} to a token the requester may act on: their own, or any for
// an administrator. As GitLab, only an administrator learns that a token does not exist; anyone
// else gets 401 for a token that is missing or not theirs.
func (h *Handler) personalToken(r *request) (*token.PersonalToken, error) {
	me := r.principal.User
	id, err := strconv.ParseInt(r.PathValue("token_id"), 10, 64)
	if err != nil {
		return nil, invalidParam("id") // GitLab's name for it
	}
	t, err := h.cfg.Personal.Token(ctxOf(r), id)
	switch {
	case err == nil && (me.Admin || t.OwnedBy(me.ID)):
		return t, nil
	case err != nil && !errors.Is(err, errkind.ErrNotFound):
		return nil, err
	case me.Admin:
		return nil, notFound("")
	}
	return nil, errUnauthorized
}

func (h *Handler) getPersonalToken(w http.ResponseWriter, r *request) error {
	if err := h.requireReadAPIScope(r); err != nil {
		return err
	}
	t, err := h.personalToken(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h.personalView(t))
	return nil
}

func (h *Handler) revokePersonalToken(w http.ResponseWriter, r *request) error {
	if err := h.requireAPIScope(r); err != nil {
		return err
	}
	t, err := h.personalToken(r)
	if errors.Is(err, errUnauthorized) {
		// GitLab's revoke service refuses a token that is not the requester's with a bare 400
		// (bad_request!, which GitLab spells "Bad request").
		return badRequest("400 Bad request")
	}
	if err != nil {
		return err
	}
	return h.revoke(w, r, t)
}

func (h *Handler) revokePersonalTokenSelf(w http.ResponseWriter, r *request) error {
	t := r.principal.PersonalToken
	if t == nil {
		return errUnauthorized
	}
	return h.revoke(w, r, t)
}

func (h *Handler) revoke(w http.ResponseWriter, r *request, t *token.PersonalToken) error {
	if err := h.cfg.Personal.Revoke(ctxOf(r), t.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) rotatePersonalToken(w http.ResponseWriter, r *request) error {
	if err := h.requireAPIScope(r); err != nil {
		return err
	}
	t, err := h.personalToken(r)
	if err != nil {
		return err
	}
	return h.rotate(w, r, t)
}

func (h *Handler) rotatePersonalTokenSelf(w http.ResponseWriter, r *request) error {
	t := r.principal.PersonalToken
	if t == nil {
		return errUnauthorized
	}
	if err := h.requireAPIScope(r); err != nil {
		return err
	}
	return h.rotate(w, r, t)
}

// rotate revokes t and answers 200 with its successor, secret included once.
func (h *Handler) rotate(w http.ResponseWriter, r *request, t *token.PersonalToken) error {
	if err := onlyParams(r, "expires_at"); err != nil {
		return err
	}
	next, secret, err := h.cfg.Personal.Rotate(ctxOf(r), t.ID, r.params.Get("expires_at"))
	if errors.Is(err, token.ErrAlreadyRevoked) {
		return badRequest("400 Bad request - token already revoked") // GitLab's bad_request!(service message)
	}
	if err != nil {
		return err
	}
	j := h.personalView(next)
	j.Token = secret.Reveal()
	httpx.WriteJSON(w, http.StatusOK, j)
	return nil
}
