package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// User settings › Access tokens (docs/design.md §6.9): the signed-in user creates, lists, revokes
// and rotates their own personal access tokens. token.PersonalService decides every value (name,
// scopes, expiry) as it does for the API; a token that is not the user's own
// (token.PersonalToken.OwnedBy) is "not found", an administrator's included.

// patScopeDescriptions are GitLab's descriptions of the personal-access-token scopes.
var patScopeDescriptions = map[token.Scope]string{
	token.API: "Grants complete read/write access to the API, including all groups and projects, the container registry, " +
		"the dependency proxy, and the package registry.",
	token.ReadAPI: "Grants read access to the API, including all groups and projects, the container registry, and the package registry.",
	token.ReadUser: "Grants read-only access to your profile through the /user API endpoint, which includes username, public email, " +
		"and full name. Also grants access to read-only API endpoints under /users.",
	token.ReadRepository:       "Grants read-only access to repositories on private projects using Git-over-HTTP or the Repository Files API.",
	token.WriteRepository:      "Grants read-write access to repositories on private projects using Git-over-HTTP (not using the API).",
	token.ReadRegistry:         "Grants read-only access to container registry images on private projects.",
	token.WriteRegistry:        "Grants write access to container registry images on private projects. You need both read and write access to push images.",
	token.ReadPackageRegistry:  "Grants read-only access to the package registry on private projects.",
	token.WritePackageRegistry: "Grants read and write access to the package registry on private projects.",
	token.Sudo:                 "Grants permission to perform API actions as any user in the system, when authenticated as an administrator.",
}

// patFieldLabels name the token form's fields in its messages.
var patFieldLabels = map[string]string{"name": "Token name", "expires_at": "Expiration date", "scopes": "Scopes", "token": "Token"}

func patFieldMessage(ve *errkind.ValidationError) string {
	label := patFieldLabels[ve.Field]
	if label == "" {
		label = ve.Field
	}
	return label + " " + ve.Reason + "."
}

// patDefaultLifetime prefills the expiration date, as GitLab's form does (30 days).
const patDefaultLifetime = 30 * 24 * time.Hour

// patForm is the "Add new token" form's values, kept when it is shown again with errors.
type patForm struct {
	Name      string
	ExpiresAt string
	Scopes    map[string]bool
}

type patRow struct {
	ID         int64
	Name       string
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	Status     string // "Revoked" or "Expired" for inactive tokens
}

func patRowOf(t *token.PersonalToken) patRow {
	return patRow{ID: t.ID, Name: t.Name, Scopes: t.Scopes.Strings(), CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt}
}

// createdPAT is a secret shown once: of a new token, or of a rotated one's successor.
type createdPAT struct {
	Name      string
	Token     string
	ExpiresAt *time.Time
	Rotated   bool
}

type patsData struct {
	Form   patForm
	Scopes []scopeOption
	formErrors
	// Open opens the "Add new token" form (errors to fix, or no token yet).
	Open     bool
	Created  *createdPAT
	Active   []patRow
	Inactive []patRow
	MinDate  string
}

func (h *Handler) listPATs(w http.ResponseWriter, r *http.Request, sess *session) error {
	notice := ""
	if id, err := strconv.ParseInt(r.URL.Query().Get("revoked"), 10, 64); err == nil {
		if t, err := h.ownPAT(r, sess, id); err == nil && t.Revoked {
			notice = "Revoked personal access token " + strconv.Quote(t.Name) + ". It no longer works."
		}
	}
	return h.renderPATs(w, r, sess, http.StatusOK, patsData{}, notice)
}

// renderPATs renders the Access tokens page with d's form state and the user's own tokens.
func (h *Handler) renderPATs(w http.ResponseWriter, r *http.Request, sess *session, status int, d patsData, notice string) error {
	no := false
	list, err := h.cfg.Personal.List(r.Context(), token.PersonalFilter{UserID: sess.user.ID, Impersonation: &no})
	if err != nil {
		return err
	}
	now := h.cfg.Personal.Now()
	for _, t := range list {
		row := patRowOf(t)
		switch {
		case t.Revoked:
			row.Status = "Revoked"
		case !t.Active(now):
			row.Status = "Expired"
		default:
			d.Active = append(d.Active, row)
			continue
		}
		d.Inactive = append(d.Inactive, row)
	}
	d.Open = d.Open || len(d.ErrorList) > 0 || (len(d.Active) == 0 && d.Created == nil)
	d.MinDate = now.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if d.Form.Name == "" && d.Form.ExpiresAt == "" && len(d.ErrorList) == 0 {
		// A fresh form: GitLab's default expiry, which the user may clear for none.
		d.Form.ExpiresAt = token.ExpiryDate(now.Add(patDefaultLifetime)).Format(time.DateOnly)
	}
	for _, s := range token.PersonalScopesFor(sess.user.Admin) {
		d.Scopes = append(d.Scopes, scopeOption{Value: string(s), Description: patScopeDescriptions[s], Checked: d.Form.Scopes[string(s)]})
	}
	h.render(w, r, status, "personal_access_tokens", &page{Title: "Personal access tokens", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: settingsCrumbs("Access tokens", patsPath), Notice: notice, Data: d})
	return nil
}

// createPAT handles the "Add new token" form. Every field is checked first, with the service's
// own parsers, so all problems show at once; the new secret is rendered in this response only.
func (h *Handler) createPAT(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := patForm{Name: strings.TrimSpace(r.PostForm.Get("name")), ExpiresAt: strings.TrimSpace(r.PostForm.Get("expires_at")),
		Scopes: map[string]bool{}}
	scopes := r.PostForm["scopes"]
	for _, s := range scopes {
		f.Scopes[s] = true
	}
	d := patsData{Form: f}
	addErr := func(err error) {
		var ve *errkind.ValidationError
		if errors.As(err, &ve) {
			msg := patFieldMessage(ve)
			if ve.Field == "scopes" && len(scopes) == 0 {
				msg = "Select at least one scope."
			}
			d.add(ve.Field, msg)
		}
	}
	if f.Name == "" {
		addErr(&errkind.ValidationError{Field: "name", Reason: "is missing"})
	}
	if _, err := token.ParseExpiry(f.ExpiresAt, h.cfg.Personal.Now()); err != nil {
		addErr(err)
	}
	// Only an administrator may give their token sudo.
	if _, err := token.ParseScopes(scopes, token.PersonalScopesFor(sess.user.Admin)); err != nil {
		addErr(err)
	}
	if len(d.ErrorList) == 0 {
		t, secret, err := h.cfg.Personal.Create(r.Context(), token.CreatePersonalInput{UserID: sess.user.ID, Name: f.Name,
			Scopes: scopes, ExpiresAt: f.ExpiresAt})
		if err == nil {
			return h.renderPATs(w, r, sess, http.StatusCreated, patsData{Created: &createdPAT{Name: t.Name, Token: secret.Reveal(),
				ExpiresAt: t.ExpiresAt}}, "Your new personal access token has been created.")
		}
		if !errors.Is(err, errkind.ErrInvalid) {
			return err
		}
		addErr(err)
	}
	return h.renderPATs(w, r, sess, http.StatusUnprocessableEntity, d, "")
}

// ownPAT loads token id when it is the user's own; 404 otherwise, whoever the user is.
func (h *Handler) ownPAT(r *http.Request, sess *session, id int64) (*token.PersonalToken, error) {
	t, err := h.cfg.Personal.Token(r.Context(), id)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && !t.OwnedBy(sess.user.ID)) {
		return nil, errNotFound
	}
	return t, err
}

type patConfirmData struct {
	Token   patRow
	Rotate  bool
	MinDate string
	// ExpiresAt is the rotation form's value; Error its message.
	ExpiresAt string
	Error     string
}

func (h *Handler) renderPATConfirm(w http.ResponseWriter, r *http.Request, sess *session, status int, d patConfirmData) {
	verb := "Revoke"
	if d.Rotate {
		verb = "Rotate"
	}
	d.MinDate = h.cfg.Personal.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	h.render(w, r, status, "personal_access_token_confirm", &page{Title: verb + " personal access token " + d.Token.Name, User: sess.user,
		CSRF: sess.csrfToken(), Breadcrumbs: append(settingsCrumbs("Access tokens", patsPath), crumb{Label: verb + " " + d.Token.Name, Href: r.URL.Path}),
		Data: d})
}

// revokePAT asks for confirmation (GET) or revokes the token (POST); a revoked token stays listed
// among the inactive ones.
func (h *Handler) revokePAT(w http.ResponseWriter, r *http.Request, sess *session, id int64) error {
	t, err := h.ownPAT(r, sess, id)
	if err != nil {
		return err
	}
	if t.Revoked {
		http.Redirect(w, r, patsPath, http.StatusSeeOther)
		return nil
	}
	if r.Method != http.MethodPost {
		h.renderPATConfirm(w, r, sess, http.StatusOK, patConfirmData{Token: patRowOf(t)})
		return nil
	}
	if err := h.cfg.Personal.Revoke(r.Context(), t.ID); err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, patsPath+"?revoked="+strconv.FormatInt(t.ID, 10), http.StatusSeeOther)
	return nil
}

// rotatePAT asks for confirmation (GET) or rotates the token (POST): the token is revoked and a
// successor with the same name and scopes is issued, expiring on the date given or, as the API's
// rotate, a week from now. The new secret is shown once on the Access tokens page.
func (h *Handler) rotatePAT(w http.ResponseWriter, r *http.Request, sess *session, id int64) error {
	t, err := h.ownPAT(r, sess, id)
	if err != nil {
		return err
	}
	if !t.Active(h.cfg.Personal.Now()) {
		http.Redirect(w, r, patsPath, http.StatusSeeOther)
		return nil
	}
	d := patConfirmData{Token: patRowOf(t), Rotate: true}
	if r.Method != http.MethodPost {
		h.renderPATConfirm(w, r, sess, http.StatusOK, d)
		return nil
	}
	d.ExpiresAt = strings.TrimSpace(r.PostForm.Get("expires_at"))
	next, secret, err := h.cfg.Personal.Rotate(r.Context(), t.ID, d.ExpiresAt)
	var ve *errkind.ValidationError
	switch {
	case errors.Is(err, token.ErrAlreadyRevoked), errors.Is(err, errkind.ErrNotFound): // revoked meanwhile
		http.Redirect(w, r, patsPath, http.StatusSeeOther)
		return nil
	case errors.As(err, &ve):
		d.Error = patFieldMessage(ve)
		h.renderPATConfirm(w, r, sess, http.StatusUnprocessableEntity, d)
		return nil
	case err != nil:
		return err
	}
	return h.renderPATs(w, r, sess, http.StatusOK, patsData{Created: &createdPAT{Name: next.Name, Token: secret.Reveal(),
		ExpiresAt: next.ExpiresAt, Rotated: true}},
		"Rotated personal access token "+strconv.Quote(next.Name)+". The previous token no longer works.")
}
