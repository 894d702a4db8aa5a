package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// errSudoScope is GitLab's refusal of sudo by a token without the sudo scope: the OAuth
// insufficient_scope body (rack-oauth2's wording), 403.
var errSudoScope = &bodyError{http.StatusForbidden, map[string]string{"error": "insufficient_scope",
	"error_description": "The request requires higher privileges than provided by the access token.", "scope": "sudo"}}

// sudo applies GitLab's Sudo header or sudo parameter (either; the parameter first, as GitLab
// reads it) to p: an administrator whose personal access token has the sudo scope acts as the
// user named by id or username, the token's other scopes still bounding what it may do. Anyone
// else is refused, never silently served as themselves. The parameter is consumed here, not
// passed to the endpoint.
func (h *Handler) sudo(r *http.Request, p access.Principal, params map[string][]string) (access.Principal, error) {
	who := r.Header.Get("Sudo")
	if v, ok := params["sudo"]; ok {
		who = ""
		if len(v) > 0 {
			who = v[0]
		}
		delete(params, "sudo")
	}
	if who == "" {
		return p, nil
	}
	switch {
	case p.Kind != access.UserPrincipal:
		return p, errUnauthorized
	case !p.User.Admin:
		return p, &apiError{http.StatusForbidden, "403 Forbidden - Must be admin to use sudo"}
	case p.PersonalToken == nil:
		return p, &apiError{http.StatusForbidden, "403 Forbidden - Must be authenticated using an OAuth or Personal Access Token to use sudo"}
	case !p.PersonalToken.Scopes.Has(token.Sudo):
		return p, errSudoScope
	}
	var u *namespace.User
	var err error
	if id, perr := strconv.ParseInt(who, 10, 64); perr == nil {
		u, err = h.cfg.Namespaces.User(r.Context(), id)
	} else {
		u, err = h.cfg.Namespaces.UserByUsername(r.Context(), who)
	}
	if errors.Is(err, errkind.ErrNotFound) {
		return p, &apiError{http.StatusNotFound, "404 User with ID or username '" + who + "' Not Found"}
	}
	if err != nil {
		return p, err
	}
	p.User = u
	return p, nil
}
