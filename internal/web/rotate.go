package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// graceChoices are the grace periods the rotation page offers; token.DeployService.Rotate
// decides which periods are allowed, as it does for the API's grace_period.
var graceChoices = []struct {
	d     time.Duration
	label string
}{
	{0, "None: the current token stops working at once"},
	{time.Hour, "1 hour"},
	{24 * time.Hour, "1 day"},
	{7 * 24 * time.Hour, "7 days"},
}

type graceOption struct {
	Value   string // seconds, as the API's grace_period
	Label   string
	Checked bool
}

type rotateData struct {
	Target *target
	Token  tokenRow
	Graces []graceOption
	Error  string
}

// rotateToken shows the rotation page (GET) or rotates the token (POST): a new secret for the
// same token, shown once on the settings page, while the old one keeps working for the chosen
// grace period. Revoked and expired tokens cannot be rotated and lead back to the settings.
func (h *Handler) rotateToken(w http.ResponseWriter, r *http.Request, sess *session, t *target, id int64) error {
	tok, err := h.ownedToken(r, t, id)
	if err != nil {
		return err
	}
	settings := t.Base + "/-/settings/repository"
	if !tok.Active(h.cfg.Deploy.Now()) {
		http.Redirect(w, r, settings, http.StatusSeeOther)
		return nil
	}
	if r.Method != http.MethodPost {
		h.renderRotate(w, r, sess, t, tok, http.StatusOK, "0", "")
		return nil
	}
	graceText := r.PostForm.Get("grace_period")
	secs, err := strconv.ParseInt(graceText, 10, 64)
	if err != nil {
		h.renderRotate(w, r, sess, t, tok, http.StatusUnprocessableEntity, graceText, "Grace period is invalid.")
		return nil
	}
	var rotated *token.DeployToken
	var secret token.Secret
	grace, err := token.RotationGrace(secs)
	if err == nil {
		rotated, secret, err = h.cfg.Deploy.Rotate(r.Context(), tok.ID, grace)
	}
	var ve *errkind.ValidationError
	switch {
	case errors.As(err, &ve):
		h.renderRotate(w, r, sess, t, tok, http.StatusUnprocessableEntity, graceText, fieldMessage(ve))
		return nil
	case errors.Is(err, errkind.ErrNotFound): // revoked or destroyed meanwhile
		http.Redirect(w, r, settings, http.StatusSeeOther)
		return nil
	case err != nil:
		return err
	}
	h.record(r, sess, audit.TokenRotated(rotated, grace))
	notice := "Rotated deploy token " + strconv.Quote(rotated.Name) + ". The previous token no longer works."
	if until := rotated.PreviousValidUntil; until != nil {
		notice = "Rotated deploy token " + strconv.Quote(rotated.Name) + ". The previous token keeps working until " +
			until.UTC().Format("2006-01-02 15:04 UTC") + "."
	}
	return h.renderTokens(w, r, sess, t, http.StatusOK, tokensData{CanManage: true,
		Created: &createdToken{Name: rotated.Name, Username: rotated.Username, Token: secret.Reveal(), Rotated: true}}, notice)
}

func (h *Handler) renderRotate(w http.ResponseWriter, r *http.Request, sess *session, t *target, tok *token.DeployToken, status int, checked, msg string) {
	d := rotateData{Target: t, Token: rowOf(tok), Error: msg}
	for _, c := range graceChoices {
		v := strconv.FormatInt(int64(c.d/time.Second), 10)
		d.Graces = append(d.Graces, graceOption{Value: v, Label: c.label, Checked: v == checked})
	}
	crumbs := append(append([]crumb{}, t.crumbs...), crumb{Label: "Repository settings", Href: t.Base + "/-/settings/repository"},
		crumb{Label: "Rotate " + tok.Name, Href: r.URL.Path})
	h.render(w, r, status, "rotate", &page{Title: "Rotate deploy token " + tok.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Data: d})
}
