package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Cookie and form field names. With an https external URL the cookies take the __Host- prefix,
// which browsers accept only with Secure, Path=/ and no Domain.
const (
	sessionCookie = "gatehouse_session"
	loginCookie   = "gatehouse_sign_in"
	csrfField     = "authenticity_token"
)

// sessionIDBytes is the randomness of a session id (256 bits).
const sessionIDBytes = 32

// session is a signed-in browser: the raw id from its cookie (never stored) and its user.
type session struct {
	raw  []byte
	user *namespace.User
}

func (s *session) principal() access.Principal {
	return access.Principal{Kind: access.UserPrincipal, User: s.user}
}

// csrfToken is the session's CSRF token: an HMAC of a fixed label under the session id, so it
// needs no storage, differs per session, and does not reveal the id.
func (s *session) csrfToken() string {
	m := hmac.New(sha256.New, s.raw)
	m.Write([]byte("gatehouse/web/csrf/v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF compares a submitted token with the session's in constant time.
func (s *session) checkCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrfToken())) == 1
}

func digestID(raw []byte) []byte {
	d := sha256.Sum256(raw)
	return d[:]
}

func (h *Handler) cookieName(base string) string {
	if h.secure {
		return "__Host-" + base
	}
	return base
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
}

// session returns the request's live session, or nil when it has none (no cookie, unknown,
// expired, or its user is blocked or gone).
func (h *Handler) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(h.cookieName(sessionCookie))
	if err != nil {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != sessionIDBytes {
		return nil, nil
	}
	userID, ok, err := h.cfg.Sessions.WebSessionUser(r.Context(), digestID(raw), h.cfg.Now())
	if err != nil || !ok {
		return nil, err
	}
	u, err := h.cfg.Namespaces.User(r.Context(), userID)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && u.Blocked) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &session{raw: raw, user: u}, nil
}

// startSession stores a new session for u and sets its cookie.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u *namespace.User) error {
	raw := make([]byte, sessionIDBytes)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	now := h.cfg.Now()
	// Purge lazily: sign-ins are rare enough, and no background job is needed.
	if _, err := h.cfg.Sessions.DeleteExpiredWebSessions(r.Context(), now); err != nil {
		return err
	}
	if err := h.cfg.Sessions.CreateWebSession(r.Context(), digestID(raw), u.ID, now, now.Add(h.cfg.SessionTTL)); err != nil {
		return err
	}
	h.setCookie(w, sessionCookie, base64.RawURLEncoding.EncodeToString(raw), int(h.cfg.SessionTTL.Seconds()))
	return nil
}

// loginCSRF is the sign-in form's CSRF token for a browser's sign-in cookie value: an HMAC
// under the instance's web key, so a cross-site form cannot produce a matching pair.
func (h *Handler) loginCSRF(cookieValue string) string {
	m := hmac.New(sha256.New, h.cfg.Key)
	m.Write([]byte("gatehouse/web/sign-in-csrf/v1\x00" + cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type signInData struct {
	Login      string
	RedirectTo string
	Error      string
}

// handleSignIn shows the sign-in form (GET) or signs in with a username or email and a
// password (POST), counting failures per client address.
func (h *Handler) handleSignIn(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		h.signIn(w, r)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.renderError(w, r, nil, http.StatusMethodNotAllowed)
		return
	}
	sess, err := h.session(r)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	redirect := localRedirect(r.URL.Query().Get("redirect_to"))
	if sess != nil {
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return
	}
	h.renderSignIn(w, r, http.StatusOK, signInData{RedirectTo: redirect})
}

// renderSignIn renders the form with a fresh sign-in cookie and its CSRF token.
func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, d signInData) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		h.internal(w, r, err)
		return
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	h.setCookie(w, loginCookie, v, 0)
	h.render(w, r, status, "sign_in", &page{Title: "Sign in", CSRF: h.loginCSRF(v), Data: d})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(h.cookieName(loginCookie))
	if err != nil || c.Value == "" ||
		subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(h.loginCSRF(c.Value))) != 1 {
		h.renderError(w, r, nil, http.StatusForbidden)
		return
	}
	d := signInData{Login: strings.TrimSpace(r.PostFormValue("login")), RedirectTo: localRedirect(r.PostFormValue("redirect_to"))}
	ip, id := httpx.ClientIP(r), authn.UserIdentity(d.Login)
	limiter := h.cfg.SignInLimiter
	if limiter != nil && limiter.Banned(r.Context(), ip, id) {
		d.Error = "Too many failed sign-in attempts. Try again later."
		h.renderSignIn(w, r, http.StatusTooManyRequests, d)
		return
	}
	u, err := h.checkPassword(r, d.Login, r.PostFormValue("password"))
	if errors.Is(err, errkind.ErrNotFound) {
		h.recordFailure(r, d.Login)
		d.Error = "Invalid login or password."
		status := http.StatusUnauthorized
		if limiter != nil && limiter.Fail(r.Context(), ip, id) {
			d.Error = "Too many failed sign-in attempts. Try again later."
			status = http.StatusTooManyRequests
		}
		h.renderSignIn(w, r, status, d)
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if limiter != nil {
		limiter.Succeed(r.Context(), ip, id)
	}
	if err := h.startSession(w, r, u); err != nil {
		h.internal(w, r, err)
		return
	}
	h.setCookie(w, loginCookie, "", -1)
	http.Redirect(w, r, d.RedirectTo, http.StatusSeeOther)
}

// checkPassword finds the user by username, or by email when login contains "@", and checks the
// password. Unknown logins cost the same bcrypt time as known ones; ErrNotFound for any failure.
func (h *Handler) checkPassword(r *http.Request, login, password string) (*namespace.User, error) {
	if login == "" || password == "" {
		return nil, errkind.ErrNotFound
	}
	username := login
	if strings.Contains(login, "@") {
		users, err := h.cfg.Namespaces.ListUsers(r.Context())
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if strings.EqualFold(u.Email, login) {
				username = u.Username
				break
			}
		}
		// An unmatched email stays as the username: no user has an "@" in its username, so
		// CheckPassword spends its dummy comparison and answers ErrNotFound.
	}
	return h.cfg.Namespaces.CheckPassword(r.Context(), username, password)
}

// recordFailure audits a failed sign-in; the login is recorded only when it names no secret.
func (h *Handler) recordFailure(r *http.Request, login string) {
	if h.cfg.Audit == nil {
		return
	}
	if len(login) > 100 || strings.HasPrefix(login, "gl") {
		login = ""
	}
	if err := h.cfg.Audit.Record(r.Context(), audit.Event{Type: audit.AuthenticationFailed, ActorKind: "anonymous",
		ActorName: login, EntityType: "instance", IP: httpx.ClientIP(r).String(), Details: "web sign-in failed"}); err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "record audit event", "err", err)
	}
}

// handleSignOut ends the session (POST with the session's CSRF token).
func (h *Handler) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.renderError(w, r, nil, http.StatusMethodNotAllowed)
		return
	}
	sess, err := h.session(r)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if sess == nil || !sess.checkCSRF(r.PostFormValue(csrfField)) {
		h.renderError(w, r, sess, http.StatusForbidden)
		return
	}
	if err := h.cfg.Sessions.DeleteWebSession(r.Context(), digestID(sess.raw)); err != nil {
		h.internal(w, r, err)
		return
	}
	h.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/users/sign_in", http.StatusSeeOther)
}

// localRedirect keeps a redirect target only when it is a path on this server ("/…", not
// "//host" or "/\host"); otherwise it answers "/".
func localRedirect(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
