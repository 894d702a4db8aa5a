package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// User settings (docs/design.md §6.9): the signed-in user's own personal access tokens and
// password, at GitLab's paths under /-/user_settings/. They touch no group or project, so the gate
// has nothing to decide: each page needs a session and acts on its user alone (another user's
// token is "not found"), as the REST API's own-token endpoints do.

// userSettingsRoute is the kind of the pages under /-/user_settings/. It is declared here, not in
// web.go's iota block, with a value clear of that block's.
const userSettingsRoute routeKind = 100

// userSettingsPrefix starts every User settings path; "-" is no namespace's path, so it can never
// name a group or a project.
const userSettingsPrefix = "/-/user_settings/"

// The User settings pages, as route actions.
const (
	actPATs         = "personal_access_tokens"
	actPATRevoke    = "personal_access_tokens/revoke"
	actPATRotate    = "personal_access_tokens/rotate"
	actPasswordEdit = "password/edit"
	actPassword     = "password"
)

// Paths of the User settings pages.
const (
	patsPath         = userSettingsPrefix + actPATs
	passwordEditPath = userSettingsPrefix + actPasswordEdit
	passwordPath     = userSettingsPrefix + actPassword
)

// parseUserSettings parses the path after userSettingsPrefix: personal_access_tokens,
// personal_access_tokens/<id>/{revoke,rotate}, password/edit and password.
func parseUserSettings(rest string) (route, bool) {
	r := route{kind: userSettingsRoute}
	switch rest {
	case actPATs, actPasswordEdit, actPassword:
		r.action = rest
		return r, true
	}
	if tail, ok := strings.CutPrefix(rest, actPATs+"/"); ok {
		idText, act, _ := strings.Cut(tail, "/")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err == nil && id > 0 && strconv.FormatInt(id, 10) == idText && (act == "revoke" || act == "rotate") {
			r.action, r.tokenID = actPATs+"/"+act, id
			return r, true
		}
	}
	return route{}, false
}

var (
	ownTokens = gate.SignedIn("the signed-in user's own personal access tokens: no group or project to decide on; " +
		"another user's token is not found (docs/design.md §1.3)")
	ownPassword = gate.SignedIn("the signed-in user's own password, checked against the current one under the ban (docs/design.md §7.1)")
)

// userSettingsPages are the route table's User settings entries.
var userSettingsPages = []uiRoute{
	{userSettingsRoute, actPATs, readPostMethods, ownTokens},
	{userSettingsRoute, actPATRevoke, readPostMethods, ownTokens},
	{userSettingsRoute, actPATRotate, readPostMethods, ownTokens},
	{userSettingsRoute, actPasswordEdit, readMethods, ownPassword},
	{userSettingsRoute, actPassword, postMethods, ownPassword},
}

// handleUserSettings serves the User settings pages.
func (h *Handler) handleUserSettings(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	switch rt.action {
	case actPATs:
		if r.Method == http.MethodPost {
			return h.createPAT(w, r, sess)
		}
		return h.listPATs(w, r, sess)
	case actPATRevoke:
		return h.revokePAT(w, r, sess, rt.tokenID)
	case actPATRotate:
		return h.rotatePAT(w, r, sess, rt.tokenID)
	case actPassword:
		return h.changePassword(w, r, sess)
	}
	notice := ""
	if r.URL.Query().Get("updated") == "1" && !sess.user.PasswordChangeRequired {
		notice = "Your password was changed. Your other sessions were signed out."
	}
	h.renderPassword(w, r, sess, http.StatusOK, passwordData{}, notice)
	return nil
}

// passwordChangeFirst sends a user who must change their password (root's printed initial one)
// to the password page from every other page, and reports whether it did.
func (h *Handler) passwordChangeFirst(w http.ResponseWriter, r *http.Request, sess *session, rt route) bool {
	if !sess.user.PasswordChangeRequired || (rt.kind == userSettingsRoute && (rt.action == actPasswordEdit || rt.action == actPassword)) {
		return false
	}
	http.Redirect(w, r, passwordEditPath, http.StatusSeeOther)
	return true
}

// settingsCrumbs are the breadcrumbs of a User settings page.
func settingsCrumbs(label, href string) []crumb {
	return []crumb{{Label: "User settings", Href: patsPath}, {Label: label, Href: href}}
}

type passwordData struct {
	// Forced is GitLab's "Set up new password": the user must change it before anything else.
	Forced bool
	formErrors
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, sess *session, status int, d passwordData, notice string) {
	d.Forced = sess.user.PasswordChangeRequired
	title := "Password"
	if d.Forced {
		title = "Set up new password"
	}
	h.render(w, r, status, "password", &page{Title: title, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: settingsCrumbs("Password", passwordEditPath), Notice: notice, Data: d})
}

// passwordLabels name the password form's fields in its messages.
var passwordLabels = map[string]string{"password": "New password", "current_password": "Current password"}

// changePassword changes the user's own password. A wrong current password is a failed
// authentication, counted in the ban sign-in uses (per address and per the user's identity) and
// audited; a banned user or address is refused (429) before any check. On success every other
// session of the user ends; this one stays. The passwords are never shown again in the form.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, sess *session) error {
	var d passwordData
	ip, id := httpx.ClientIP(r), authn.UserIdentity(sess.user.Username)
	limiter := h.cfg.SignInLimiter
	if limiter != nil && limiter.Banned(r.Context(), ip, id) {
		d.add("current_password", "Too many failed attempts. Try again later.")
		h.renderPassword(w, r, sess, http.StatusTooManyRequests, d, "")
		return nil
	}
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	if next != r.PostForm.Get("password_confirmation") {
		// Nothing was checked yet, so nothing counts.
		d.add("password_confirmation", "Password confirmation doesn't match Password.")
		h.renderPassword(w, r, sess, http.StatusUnprocessableEntity, d, "")
		return nil
	}
	err := h.cfg.Namespaces.ChangePassword(r.Context(), sess.user.ID, current, next)
	var ve *errkind.ValidationError
	switch {
	case errors.Is(err, namespace.ErrWrongPassword):
		h.record(r, sess, audit.Event{Type: audit.AuthenticationFailed, TargetType: "user", TargetID: sess.user.ID,
			TargetName: sess.user.Username, EntityType: "instance", Details: "web password change: wrong current password"})
		status, msg := http.StatusUnprocessableEntity, "You must provide a valid current password."
		if limiter != nil && limiter.Fail(r.Context(), ip, id) {
			status, msg = http.StatusTooManyRequests, "Too many failed attempts. Try again later."
		}
		d.add("current_password", msg)
		h.renderPassword(w, r, sess, status, d, "")
		return nil
	case errors.As(err, &ve):
		label := passwordLabels[ve.Field]
		if label == "" {
			label = ve.Field
		}
		d.add("new_password", label+" "+ve.Reason+".")
		h.renderPassword(w, r, sess, http.StatusUnprocessableEntity, d, "")
		return nil
	case err != nil:
		return err
	}
	if limiter != nil {
		limiter.Succeed(r.Context(), ip, id)
	}
	if _, err := h.cfg.Sessions.DeleteUserWebSessions(r.Context(), sess.user.ID, digestID(sess.raw)); err != nil {
		return err
	}
	http.Redirect(w, r, passwordEditPath+"?updated=1", http.StatusSeeOther)
	return nil
}
