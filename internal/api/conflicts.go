package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// userConflict words a refused new user as GitLab's POST /users does: an email or a username
// another user has is a 409 {"message": "Email has already been taken"} (the email checked
// first, as GitLab does). A username a group or a deploy token holds stays the model's 400.
// It returns nil when err is not such a refusal.
func (h *Handler) userConflict(r *request, err error) error {
	var ve *errkind.ValidationError
	if !errors.As(err, &ve) || !strings.HasSuffix(ve.Reason, "has already been taken") {
		return nil
	}
	users, lerr := h.cfg.Namespaces.ListUsers(ctxOf(r))
	if lerr != nil {
		return lerr
	}
	email, username := r.params.Get("email"), r.params.Get("username")
	for _, field := range []string{"email", "username"} {
		for _, u := range users {
			if (field == "email" && strings.EqualFold(u.Email, email)) || (field == "username" && strings.EqualFold(u.Username, username)) {
				return &apiError{http.StatusConflict, fullMessage(field, "has already been taken")}
			}
		}
	}
	return nil
}
