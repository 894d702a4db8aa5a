package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The Admin area (docs/design.md §6.9, "Admin area") at GitLab's paths: /admin, /admin/users,
// /admin/application_settings and /admin/system_info. Only administrators see it; everyone
// else gets 404, as if it were not there.

// ExternalAuthorizationSettings are the instance's external authorization settings, as the API's
// PUT /application/settings changes them; *extauthz.Service implements it.
type ExternalAuthorizationSettings interface {
	Settings(ctx context.Context) (access.ExternalSettings, error)
	// SaveSettings validates and stores the settings; an error wrapping access.ErrInvalidSetting
	// is the administrator's mistake.
	SaveSettings(ctx context.Context, s access.ExternalSettings) error
}

// ConfigSetting is a setting of the server's configuration, shown read-only in the Admin area:
// it changes only with the configuration and a restart.
type ConfigSetting struct {
	Key, Env, Value, Doc string
}

// SystemInfo is what /admin/system_info shows.
type SystemInfo struct {
	Version, Revision string
	// Database is the dialect ("sqlite" or "postgres") and DatabaseVersion the server's version.
	Database, DatabaseVersion string
	// BlobStore is the kind of blob storage ("filesystem", "s3") and BlobLocation where.
	BlobStore, BlobLocation string
	StartedAt               time.Time
	Jobs                    []JobRun
}

// JobRun is a scheduled job and its last completed run (zero: never).
type JobRun struct {
	Name, Schedule, Doc string
	LastRun             time.Time
}

// Admin actions; the path of each is in adminSuffix.
const (
	actAdmin              = "admin"
	actAdminUsers         = "admin_users"
	actAdminUserNew       = "admin_user_new"
	actAdminUser          = "admin_user"
	actAdminBlock         = "admin_user_block"
	actAdminUnblock       = "admin_user_unblock"
	actAdminAdministrator = "admin_user_administrator"
	actAdminPassword      = "admin_user_password"
	actAdminSettings      = "admin_settings"
	actAdminSystem        = "admin_system_info"
)

var adminSuffix = map[string]string{
	actAdmin:              "/admin",
	actAdminUsers:         "/admin/users",
	actAdminUserNew:       "/admin/users/new",
	actAdminUser:          "/admin/users/{username}",
	actAdminBlock:         "/admin/users/{username}/block",
	actAdminUnblock:       "/admin/users/{username}/unblock",
	actAdminAdministrator: "/admin/users/{username}/administrator",
	actAdminPassword:      "/admin/users/{username}/password",
	actAdminSettings:      "/admin/application_settings",
	actAdminSystem:        "/admin/system_info",
}

// adminUserActions are the POST actions below /admin/users/<username>/.
var adminUserActions = map[string]string{"block": actAdminBlock, "unblock": actAdminUnblock,
	"administrator": actAdminAdministrator, "password": actAdminPassword}

// adminPages: every one is decided administer_instance on the instance first.
var adminPages = func() []uiRoute {
	rule := gate.Decide(access.AdministerInstance)
	return []uiRoute{
		{adminRoute, actAdmin, readMethods, rule},
		{adminRoute, actAdminUsers, readPostMethods, rule},
		{adminRoute, actAdminUserNew, readMethods, rule},
		{adminRoute, actAdminUser, readMethods, rule},
		{adminRoute, actAdminBlock, postMethods, rule},
		{adminRoute, actAdminUnblock, postMethods, rule},
		{adminRoute, actAdminAdministrator, postMethods, rule},
		{adminRoute, actAdminPassword, postMethods, rule},
		{adminRoute, actAdminSettings, readPostMethods, rule},
		{adminRoute, actAdminSystem, readMethods, rule},
	}
}()

// isAdminPath reports whether p is in the Admin area ("/admin" or below it). No namespace can
// be called "admin" (namespace's reserved names), so no group or project path is one.
func isAdminPath(p string) bool { return p == "/admin" || strings.HasPrefix(p, "/admin/") }

// parseAdminRoute parses a path of the Admin area.
func parseAdminRoute(p string) (route, bool) {
	r := route{kind: adminRoute}
	switch p {
	case "/admin":
		r.action = actAdmin
	case "/admin/users":
		r.action = actAdminUsers
	case "/admin/users/new":
		r.action = actAdminUserNew
	case "/admin/application_settings":
		r.action = actAdminSettings
	case "/admin/system_info":
		r.action = actAdminSystem
	default:
		rest, ok := strings.CutPrefix(p, "/admin/users/")
		if !ok {
			return route{}, false
		}
		name, act, hasAct := strings.Cut(rest, "/")
		if namespace.ValidatePath("username", name) != nil {
			return route{}, false
		}
		r.path, r.action = name, actAdminUser
		if hasAct {
			if r.action, ok = adminUserActions[act]; !ok {
				return route{}, false
			}
		}
	}
	return r, true
}

// handleAdmin serves the Admin area to administrators; 404 for everyone else.
func (h *Handler) handleAdmin(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	ok, err := h.allowed(r, sess, access.Resource{}, access.AdministerInstance)
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound
	}
	switch rt.action {
	case actAdmin:
		return h.adminOverview(w, r, sess)
	case actAdminUsers:
		if r.Method == http.MethodPost {
			return h.adminCreateUser(w, r, sess)
		}
		return h.adminUsers(w, r, sess)
	case actAdminUserNew:
		return h.renderAdminNewUser(w, r, sess, http.StatusOK, adminNewUserData{})
	case actAdminSettings:
		return h.adminSettings(w, r, sess)
	case actAdminSystem:
		return h.adminSystemInfo(w, r, sess)
	}
	u, err := h.cfg.Namespaces.UserByUsername(r.Context(), rt.path)
	if errors.Is(err, errkind.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if rt.action == actAdminUser {
		return h.renderAdminUser(w, r, sess, u, http.StatusOK, adminUserData{}, adminNotice(r.URL.Query().Get("notice")))
	}
	return h.adminChangeUser(w, r, sess, u, rt.action)
}

func adminCrumbs(more ...crumb) []crumb {
	return append([]crumb{{Label: "Admin area", Href: "/admin"}}, more...)
}

type adminOverviewData struct {
	Users, Admins, Blocked int
	Groups, Projects       int
	ActiveDeployTokens     int
	Latest                 []*namespace.User
}

// adminOverview shows the instance's counts and the newest users (GitLab's Admin area dashboard).
func (h *Handler) adminOverview(w http.ResponseWriter, r *http.Request, sess *session) error {
	ctx := r.Context()
	users, err := h.cfg.Namespaces.ListUsers(ctx)
	if err != nil {
		return err
	}
	groups, err := h.cfg.Namespaces.ListGroups(ctx)
	if err != nil {
		return err
	}
	projects, err := h.cfg.Namespaces.ListProjects(ctx)
	if err != nil {
		return err
	}
	d := adminOverviewData{Users: len(users), Groups: len(groups), Projects: len(projects)}
	if h.cfg.Deploy != nil {
		toks, err := h.cfg.Deploy.List(ctx, token.DeployFilter{ActiveAt: h.cfg.Now()})
		if err != nil {
			return err
		}
		d.ActiveDeployTokens = len(toks)
	}
	for _, u := range users {
		if u.Admin {
			d.Admins++
		}
		if u.Blocked {
			d.Blocked++
		}
	}
	latest := slices.Clone(users)
	slices.SortFunc(latest, func(a, b *namespace.User) int { return b.CreatedAt.Compare(a.CreatedAt) })
	d.Latest = latest[:min(len(latest), 5)]
	h.render(w, r, http.StatusOK, "admin", &page{Title: "Admin area", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: adminCrumbs(), Data: d})
	return nil
}

type adminUsersData struct {
	Search string
	Users  []*namespace.User
	Total  int
}

// adminUsers lists users, filtered by ?search= (username, name or email, case-insensitively).
func (h *Handler) adminUsers(w http.ResponseWriter, r *http.Request, sess *session) error {
	all, err := h.cfg.Namespaces.ListUsers(r.Context())
	if err != nil {
		return err
	}
	d := adminUsersData{Search: strings.TrimSpace(r.URL.Query().Get("search")), Total: len(all)}
	q := strings.ToLower(d.Search)
	for _, u := range all {
		if q == "" || strings.Contains(strings.ToLower(u.Username), q) || strings.Contains(strings.ToLower(u.Name), q) ||
			strings.Contains(strings.ToLower(u.Email), q) {
			d.Users = append(d.Users, u)
		}
	}
	slices.SortFunc(d.Users, func(a, b *namespace.User) int { return strings.Compare(a.Username, b.Username) })
	h.render(w, r, http.StatusOK, "admin_users", &page{Title: "Users · Admin area", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: adminCrumbs(crumb{Label: "Users", Href: "/admin/users"}), Data: d})
	return nil
}

type newUserForm struct {
	Username, Name, Email string
	Admin                 bool
}

type adminNewUserData struct {
	Form  newUserForm
	Error string
	Field string
}

func (h *Handler) renderAdminNewUser(w http.ResponseWriter, r *http.Request, sess *session, status int, d adminNewUserData) error {
	h.render(w, r, status, "admin_user_new", &page{Title: "New user · Admin area", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: adminCrumbs(crumb{Label: "Users", Href: "/admin/users"}, crumb{Label: "New user", Href: "/admin/users/new"}), Data: d})
	return nil
}

// adminFieldLabels name the fields of the user forms in error messages.
var adminFieldLabels = map[string]string{"username": "Username", "name": "Name", "email": "Email", "password": "Password"}

// validationMessage is a domain refusal as one sentence, and the field it is about.
func validationMessage(err error) (field, msg string, ok bool) {
	var ve *errkind.ValidationError
	var fe *errkind.ForbiddenError
	switch {
	case errors.As(err, &ve):
		label := adminFieldLabels[ve.Field]
		if label == "" {
			label = ve.Field
		}
		return ve.Field, label + " " + ve.Reason + ".", true
	case errors.As(err, &fe):
		return "", fe.Reason, true
	case errors.Is(err, namespace.ErrUsernameTaken):
		return "username", "Username has already been taken.", true
	case errors.Is(err, namespace.ErrEmailTaken):
		return "email", "Email has already been taken.", true
	}
	return "", "", false
}

// adminCreateUser creates a user (POST /admin/users) with the password typed, or a generated one
// shown once.
func (h *Handler) adminCreateUser(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := r.ParseForm(); err != nil {
		return statusError(http.StatusBadRequest)
	}
	f := newUserForm{Username: strings.TrimSpace(r.PostForm.Get("username")), Name: strings.TrimSpace(r.PostForm.Get("name")),
		Email: strings.TrimSpace(r.PostForm.Get("email")), Admin: r.PostForm.Get("admin") == "1"}
	password, generated := r.PostForm.Get("password"), false
	if password == "" {
		password, generated = generatePassword(), true
	}
	u, err := h.cfg.Namespaces.CreateUser(r.Context(), namespace.CreateUserInput{Username: f.Username, Email: f.Email,
		Name: f.Name, Password: password, Admin: f.Admin})
	if err != nil {
		field, msg, ok := validationMessage(err)
		if !ok {
			return err
		}
		return h.renderAdminNewUser(w, r, sess, http.StatusUnprocessableEntity, adminNewUserData{Form: f, Error: msg, Field: field})
	}
	d := adminUserData{}
	if generated {
		d.Password = password
	}
	return h.renderAdminUser(w, r, sess, u, http.StatusCreated, d, "User was successfully created.")
}

// generatePassword is a random password for "generate one": 128 bits, URL-safe, 22 characters.
func generatePassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type adminUserData struct {
	U *namespace.User
	// Password is a generated password, shown once.
	Password string
	Error    string
	Self     bool
}

func (h *Handler) renderAdminUser(w http.ResponseWriter, r *http.Request, sess *session, u *namespace.User, status int, d adminUserData, notice string) error {
	d.U, d.Self = u, u.ID == sess.user.ID
	h.render(w, r, status, "admin_user", &page{Title: u.Name + " · Users · Admin area", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: adminCrumbs(crumb{Label: "Users", Href: "/admin/users"}, crumb{Label: u.Username, Href: "/admin/users/" + u.Username}),
		Notice:      notice, Data: d})
	return nil
}

// adminNotice is the confirmation named by a user page's ?notice=.
func adminNotice(v string) string {
	switch v {
	case "blocked":
		return "Successfully blocked. The user can no longer sign in or use their tokens."
	case "unblocked":
		return "Successfully unblocked."
	case "admin":
		return "The user is now an administrator."
	case "not_admin":
		return "The user is no longer an administrator."
	case "password":
		return "The password was changed."
	}
	return ""
}

// adminChangeUser blocks, unblocks, makes or unmakes an administrator, or sets a password.
func (h *Handler) adminChangeUser(w http.ResponseWriter, r *http.Request, sess *session, u *namespace.User, act string) error {
	if err := r.ParseForm(); err != nil {
		return statusError(http.StatusBadRequest)
	}
	ctx := r.Context()
	by := namespace.Actor{UserID: sess.user.ID, Admin: sess.user.Admin}
	var notice string
	var err error
	switch act {
	case actAdminBlock:
		_, _, err = h.cfg.Namespaces.ChangeUserState(ctx, by, u.ID, namespace.BlockUser)
		if errors.Is(err, errkind.ErrForbidden) && u.ID == sess.user.ID {
			// The domain's refusal, in the words of a page rather than the API's.
			err = &errkind.ForbiddenError{Reason: "You cannot block yourself."}
		}
		notice = "blocked"
	case actAdminUnblock:
		_, _, err = h.cfg.Namespaces.ChangeUserState(ctx, by, u.ID, namespace.UnblockUser)
		notice = "unblocked"
	case actAdminAdministrator:
		admin := r.PostForm.Get("admin") == "1"
		if !admin && u.ID == sess.user.ID {
			err = &errkind.ForbiddenError{Reason: "You cannot remove your own administrator access."}
		} else {
			_, err = h.cfg.Namespaces.UpdateUser(ctx, u.ID, namespace.UpdateUserInput{Admin: &admin})
		}
		notice = "not_admin"
		if admin {
			notice = "admin"
		}
	case actAdminPassword:
		password, generated := r.PostForm.Get("password"), false
		if password == "" {
			password, generated = generatePassword(), true
		}
		err = h.cfg.Namespaces.SetPassword(ctx, u.ID, password)
		if err == nil {
			// A reset password ends the user's sign-ins, as a changed one does (account.go): whoever
			// held the old password must not stay signed in. The administrator's own stays.
			var keep []byte
			if u.ID == sess.user.ID {
				keep = digestID(sess.raw)
			}
			if _, err = h.cfg.Sessions.DeleteUserWebSessions(ctx, u.ID, keep); err != nil {
				return err
			}
		}
		if err == nil && generated {
			return h.renderAdminUser(w, r, sess, u, http.StatusOK, adminUserData{Password: password}, "A new password was generated.")
		}
		notice = "password"
	}
	if err != nil {
		_, msg, ok := validationMessage(err)
		if !ok {
			return err
		}
		status := http.StatusUnprocessableEntity
		if errors.Is(err, errkind.ErrForbidden) {
			status = http.StatusForbidden
		}
		return h.renderAdminUser(w, r, sess, u, status, adminUserData{Error: msg}, "")
	}
	http.Redirect(w, r, "/admin/users/"+u.Username+"?notice="+notice, http.StatusSeeOther)
	return nil
}

type settingsForm struct {
	Enabled      bool
	ServiceURL   string
	Timeout      string
	DefaultLabel string
}

type adminSettingsData struct {
	External  settingsForm
	Available bool
	Error     string
	Config    []ConfigSetting
}

// adminSettings shows and changes the settings that change at run time (external authorization,
// as PUT /api/v4/application/settings), and lists read-only those only the configuration sets.
func (h *Handler) adminSettings(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := adminSettingsData{Config: h.cfg.ConfigSettings, Available: h.cfg.ExternalAuthorization != nil}
	status, notice := http.StatusOK, ""
	if d.Available {
		s, err := h.cfg.ExternalAuthorization.Settings(r.Context())
		if err != nil {
			return err
		}
		d.External = settingsForm{Enabled: s.Enabled, ServiceURL: s.ServiceURL, Timeout: strconv.FormatFloat(s.Timeout.Seconds(), 'f', -1, 64),
			DefaultLabel: s.DefaultLabel}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				return statusError(http.StatusBadRequest)
			}
			d.External = settingsForm{Enabled: r.PostForm.Get("external_authorization_service_enabled") == "1",
				ServiceURL:   strings.TrimSpace(r.PostForm.Get("external_authorization_service_url")),
				Timeout:      strings.TrimSpace(r.PostForm.Get("external_authorization_service_timeout")),
				DefaultLabel: strings.TrimSpace(r.PostForm.Get("external_authorization_service_default_label"))}
			s.Enabled, s.ServiceURL, s.DefaultLabel = d.External.Enabled, d.External.ServiceURL, d.External.DefaultLabel
			secs, perr := strconv.ParseFloat(d.External.Timeout, 64)
			switch {
			case perr != nil || math.IsNaN(secs) || secs < 0 || secs > 3600:
				d.Error = "Timeout must be a number of seconds."
			default:
				s.Timeout = time.Duration(secs * float64(time.Second))
				if err := h.cfg.ExternalAuthorization.SaveSettings(r.Context(), s); err != nil {
					if !errors.Is(err, access.ErrInvalidSetting) {
						return err
					}
					d.Error = strings.TrimPrefix(err.Error(), access.ErrInvalidSetting.Error()+": ")
				}
			}
			if d.Error != "" {
				status = http.StatusUnprocessableEntity
			} else {
				http.Redirect(w, r, "/admin/application_settings?saved=1", http.StatusSeeOther)
				return nil
			}
		}
	}
	if r.URL.Query().Get("saved") == "1" {
		notice = "Application settings saved successfully."
	}
	h.render(w, r, status, "admin_settings", &page{Title: "Settings · Admin area", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: adminCrumbs(crumb{Label: "Settings", Href: "/admin/application_settings"}), Notice: notice, Data: d})
	return nil
}

type adminSystemData struct {
	Info   SystemInfo
	Uptime string
}

// adminSystemInfo shows the version, database, blob store, uptime and the scheduled jobs' last runs.
func (h *Handler) adminSystemInfo(w http.ResponseWriter, r *http.Request, sess *session) error {
	var d adminSystemData
	if h.cfg.SystemInfo != nil {
		info, err := h.cfg.SystemInfo(r.Context())
		if err != nil {
			return err
		}
		d.Info = info
		if !info.StartedAt.IsZero() {
			d.Uptime = uptime(h.cfg.Now().Sub(info.StartedAt))
		}
	}
	h.render(w, r, http.StatusOK, "admin_system_info", &page{Title: "System information · Admin area", User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: adminCrumbs(crumb{Label: "System information", Href: "/admin/system_info"}), Data: d})
	return nil
}

// uptime writes d as days, hours and minutes.
func uptime(d time.Duration) string {
	d = max(d, 0).Truncate(time.Minute)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, strconv.Itoa(days)+" d")
	}
	if days > 0 || hours > 0 {
		parts = append(parts, strconv.Itoa(hours)+" h")
	}
	return strings.Join(append(parts, strconv.Itoa(mins)+" min"), " ")
}
