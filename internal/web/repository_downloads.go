package web

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// Archives and raw files for scripts (docs/design.md §6.2.1). GitLab's web routes
// /<project>/-/archive/<ref>/<name>.<format> and /<project>/-/raw/<ref>/<path> also answer a
// credential sent with the request, as curl and CI scripts send it: a deploy token with
// read_repository or a personal access token, in basic auth, Deploy-Token, Private-Token or
// Bearer; and, without one, anyone for a project anyone may read. Their refusals are plain
// text with git's statuses, never a page or a redirect.

// downloadRoute reports whether rt is one of the routes that take credentials.
func downloadRoute(rt route) bool {
	return rt.kind == projectRoute && (rt.action == actRaw || rt.action == actArchive)
}

// presentsCredentials reports whether r carries a credential for Config.Credentials.
func presentsCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("Deploy-Token") != "" ||
		r.Header.Get("Private-Token") != ""
}

// serveDownload serves a download route to the credential r presents, or to the anonymous
// principal when it presents none. With orSignIn (a browser without a session and without
// credentials) a refusal is not answered: it reports false and the caller sends the sign-in
// redirect every page sends.
func (h *Handler) serveDownload(w http.ResponseWriter, r *http.Request, rt route, orSignIn bool) bool {
	ctx := r.Context()
	if !methodAllowed(rt, r.Method) {
		w.Header().Set("Allow", allowedMethods(rt))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	principal, err := h.cfg.Credentials(ctx, r)
	if err != nil {
		h.writeDownloadError(w, r, err)
		return true
	}
	p, err := h.cfg.Namespaces.ProjectByPath(ctx, rt.path)
	if errors.Is(err, errkind.ErrNotFound) {
		if orSignIn {
			return false
		}
		// Never reveal whether a project exists: anonymous clients are asked for credentials.
		if principal.Kind == access.Anonymous {
			h.challenge(w, "authentication required")
		} else {
			http.Error(w, "not found", http.StatusNotFound)
		}
		return true
	}
	if err != nil {
		h.writeDownloadError(w, r, err)
		return true
	}
	d, err := h.cfg.Gate.Authorize(ctx, r, principal, access.Resource{Project: p}, uiRouteOf(rt).rule.Action)
	if err != nil {
		h.writeDownloadError(w, r, err)
		return true
	}
	if !d.Allow() {
		if orSignIn {
			return false
		}
		switch d.Denial {
		case access.Unauthenticated:
			h.challenge(w, d.Reason)
		case access.NotFound:
			http.Error(w, "not found", http.StatusNotFound)
		default:
			http.Error(w, "access denied: "+d.Reason, http.StatusForbidden)
		}
		return true
	}
	if h.cfg.Repos == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return true
	}
	if rt.action == actRaw {
		err = h.serveRaw(w, r, p, rt.rest)
	} else {
		err = h.serveArchive(w, r, p, rt.rest)
	}
	if err != nil {
		h.writeDownloadError(w, r, err)
	}
	return true
}

// writeDownloadError answers a download route's error in plain text: authn's errors as git
// answers them, a page's status error with its status, anything else a logged 500.
func (h *Handler) writeDownloadError(w http.ResponseWriter, r *http.Request, err error) {
	var se statusError
	switch {
	case errors.Is(err, authn.ErrBanned):
		http.Error(w, err.Error(), http.StatusForbidden)
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, authn.ErrDeployTokenNotAllowed):
		h.challenge(w, "HTTP Basic: Access denied")
	case errors.As(err, &se):
		http.Error(w, se.Error(), int(se))
	case errors.Is(err, errkind.ErrUnavailable):
		httpx.Internal(r.Context(), h.cfg.Log, err)
		http.Error(w, "service unavailable: storage does not answer, try again", http.StatusServiceUnavailable)
	default:
		httpx.Internal(r.Context(), h.cfg.Log, err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
}

// challenge answers 401 with the Basic challenge curl and git answer with credentials.
func (h *Handler) challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
	http.Error(w, msg, http.StatusUnauthorized)
}
