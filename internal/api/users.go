package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// User administration (GitLab's lib/api/users.rb): update, delete, block/unblock/ban/unban,
// memberships and impersonation tokens are administrators'; a user's personal projects are
// listed to anyone who may see them.

// adminUser decides administer_instance, then resolves {id} to a user (404 "User Not Found").
func (h *Handler) adminUser(r *request) (*namespace.User, error) {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return nil, err
	}
	return h.pathUser(r)
}

// errBadUserID answers a non-integer user id with a 400, as Grape's Integer type.
var errBadUserID = invalidParam("id")

// pathUser resolves {id} to a user; a non-integer id is errBadUserID.
func (h *Handler) pathUser(r *request) (*namespace.User, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, errBadUserID
	}
	u, err := h.cfg.Namespaces.User(ctxOf(r), id)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, notFound("User")
	}
	return u, err
}

// userProfileJSON is the user's free-text profile (namespace.ProfileFields), as GitLab's user
// entity shows it: "" when unset.
type userProfileJSON struct {
	Bio          string `json:"bio"`
	Location     string `json:"location"`
	Organization string `json:"organization"`
	JobTitle     string `json:"job_title"`
	Pronouns     string `json:"pronouns"`
	WebsiteURL   string `json:"website_url"`
	PublicEmail  string `json:"public_email"`
	Skype        string `json:"skype"`
	Linkedin     string `json:"linkedin"`
	Twitter      string `json:"twitter"`
	Discord      string `json:"discord"`
}

func profileView(u *namespace.User) userProfileJSON {
	p := u.Profile
	return userProfileJSON{Bio: p["bio"], Location: p["location"], Organization: p["organization"], JobTitle: p["job_title"],
		Pronouns: p["pronouns"], WebsiteURL: p["website_url"], PublicEmail: p["public_email"], Skype: p["skype"],
		Linkedin: p["linkedin"], Twitter: p["twitter"], Discord: p["discord"]}
}

// profileParams are the profile fields r sets.
func profileParams(r *request) map[string]string {
	out := map[string]string{}
	for _, k := range namespace.ProfileFields {
		if v, ok := r.params[k]; ok {
			out[k] = v[0]
		}
	}
	return out
}

// userConflicts are GitLab's 409 messages for the namespace package's user conflicts.
var userConflicts = []struct {
	err error
	msg string
}{
	{namespace.ErrUsernameTaken, "Username has already been taken"},
	{namespace.ErrEmailTaken, "Email has already been taken"},
	{namespace.ErrSoleOwner, "User cannot be removed while is the sole-owner of a group"},
	{namespace.ErrUserHasProjects, "User cannot be removed while projects remain in their namespace; delete or transfer them first"},
}

// userConflict answers GitLab's 409 for a user conflict, or err unchanged.
func userConflict(err error) error {
	for _, c := range userConflicts {
		if errors.Is(err, c.err) {
			return &apiError{http.StatusConflict, c.msg}
		}
	}
	return err
}

func (h *Handler) updateUser(w http.ResponseWriter, r *request) error {
	u, err := h.adminUser(r)
	if err != nil {
		return err
	}
	// skip_reconfirmation asks GitLab not to mail a confirmation; Gatehouse never does.
	if err := onlyParams(r, append([]string{"username", "email", "name", "password", "admin", "skip_reconfirmation"}, namespace.ProfileFields...)...); err != nil {
		return err
	}
	in := namespace.UpdateUserInput{Profile: profileParams(r)}
	for name, dst := range map[string]**string{"username": &in.Username, "email": &in.Email, "name": &in.Name, "password": &in.Password} {
		if v, ok := r.params[name]; ok {
			*dst = &v[0]
		}
	}
	if in.Admin, err = optBool(r, "admin"); err != nil {
		return err
	}
	if in.Admin != nil && !*in.Admin && u.ID == r.principal.User.ID {
		// Nobody takes away their own administration, or the instance could lose its last admin.
		return &apiError{http.StatusForbidden, "403 Forbidden - an administrator cannot remove their own admin rights"}
	}
	u, err = h.cfg.Namespaces.UpdateUser(ctxOf(r), u.ID, in)
	if err != nil {
		return userConflict(err)
	}
	httpx.WriteJSON(w, http.StatusOK, h.userView(r, u))
	return nil
}

var deleteUserParams = params{{name: "hard_delete", typ: tBool}}

func (h *Handler) deleteUser(w http.ResponseWriter, r *request) error {
	u, err := h.adminUser(r)
	if err != nil {
		return err
	}
	if err := deleteUserParams.check(r); err != nil {
		return err
	}
	if u.ID == r.principal.User.ID {
		return &apiError{http.StatusForbidden, "403 Forbidden - an administrator cannot delete their own account"}
	}
	// hard_delete: Gatehouse keeps no contributions to hand to a ghost user, so it only adds the
	// groups the user alone owns to what is deleted, as GitLab's does.
	if err := h.cfg.Namespaces.DeleteUser(ctxOf(r), u.ID, boolParam(r, "hard_delete")); err != nil {
		return userConflict(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeUserState serves POST /users/:id/block, unblock, ban and unban as GitLab does: 201 with
// true when the state changed; block of a blocked user answers null and unblock of an active
// one false; a refused change is a 403 with GitLab's message.
func changeUserState(change namespace.UserStateChange) endpoint {
	return func(h *Handler, w http.ResponseWriter, r *request) error {
		u, err := h.adminUser(r)
		if err != nil {
			return err
		}
		if err := onlyParams(r); err != nil {
			return err
		}
		_, changed, err := h.cfg.Namespaces.ChangeUserState(ctxOf(r), actor(r), u.ID, change)
		var fe *errkind.ForbiddenError
		if errors.As(err, &fe) {
			return &apiError{http.StatusForbidden, fe.Reason}
		}
		if err != nil {
			return err
		}
		var body any = changed
		if !changed && change == namespace.BlockUser {
			body = nil
		}
		httpx.WriteJSON(w, http.StatusCreated, body)
		return nil
	}
}

func (h *Handler) listUserProjects(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.ViewUsers, "User"); err != nil {
		return err
	}
	// GitLab takes the user's id or username here.
	u, err := h.pathUser(r)
	if errors.Is(err, errBadUserID) {
		u, err = h.cfg.Namespaces.UserByUsername(ctxOf(r), r.PathValue("id"))
		if errors.Is(err, errkind.ErrNotFound) {
			err = notFound("User")
		}
	}
	if err != nil {
		return err
	}
	if err := onlyParams(r); err != nil {
		return err
	}
	projects, err := h.cfg.Namespaces.ListProjects(ctxOf(r))
	if err != nil {
		return err
	}
	var mine []*namespace.Project
	for _, p := range projects {
		if p.OwnerUserID == u.ID {
			mine = append(mine, p)
		}
	}
	out, err := h.projectViews(r, mine)
	if err != nil {
		return err
	}
	paginate(w, r, out)
	return nil
}

// membershipJSON is GitLab's Entities::Membership.
type membershipJSON struct {
	SourceID    int64  `json:"source_id"`
	SourceName  string `json:"source_name"`
	SourceType  string `json:"source_type"`
	AccessLevel int    `json:"access_level"`
}

func (h *Handler) listUserMemberships(w http.ResponseWriter, r *request) error {
	u, err := h.adminUser(r)
	if err != nil {
		return err
	}
	if err := onlyParams(r, "type"); err != nil {
		return err
	}
	kind := r.params.Get("type")
	if kind != "" && kind != "Project" && kind != "Namespace" {
		return invalidValue("type")
	}
	members, err := h.cfg.Namespaces.UserMemberships(ctxOf(r), u.ID)
	if err != nil {
		return err
	}
	out := []membershipJSON{}
	for _, m := range members {
		j := membershipJSON{AccessLevel: int(m.Role)}
		if m.GroupID != 0 {
			g, err := h.cfg.Namespaces.Group(ctxOf(r), m.GroupID)
			if err != nil {
				return err
			}
			j.SourceID, j.SourceName, j.SourceType = g.ID, g.Name, "Namespace"
		} else {
			p, err := h.cfg.Namespaces.Project(ctxOf(r), m.ProjectID)
			if err != nil {
				return err
			}
			j.SourceID, j.SourceName, j.SourceType = p.ID, p.Name, "Project"
		}
		if kind == "" || kind == j.SourceType {
			out = append(out, j)
		}
	}
	paginate(w, r, out)
	return nil
}

// impersonationTokenJSON is GitLab's Entities::ImpersonationToken.
type impersonationTokenJSON struct {
	personalTokenJSON
	Impersonation bool `json:"impersonation"`
}

func (h *Handler) listImpersonationTokens(w http.ResponseWriter, r *request) error {
	u, err := h.adminUser(r)
	if err != nil {
		return err
	}
	if err := onlyParams(r, "state"); err != nil {
		return err
	}
	yes := true
	f := token.PersonalFilter{UserID: u.ID, Impersonation: &yes}
	switch state := r.params.Get("state"); state {
	case "", "all":
	case "active", "inactive":
		f.State = state
	default:
		return invalidValue("state")
	}
	list, err := h.cfg.Personal.List(ctxOf(r), f)
	if err != nil {
		return err
	}
	out := []impersonationTokenJSON{}
	for _, t := range list {
		out = append(out, impersonationTokenJSON{h.personalView(t), true})
	}
	paginate(w, r, out)
	return nil
}

func (h *Handler) createImpersonationToken(w http.ResponseWriter, r *request) error {
	u, err := h.adminUser(r)
	if err != nil {
		return err
	}
	if err := onlyParams(r, "name", "scopes", "expires_at"); err != nil {
		return err
	}
	t, secret, err := h.cfg.Personal.Create(ctxOf(r), token.CreatePersonalInput{UserID: u.ID, Name: r.params.Get("name"),
		Scopes: r.params["scopes"], ExpiresAt: r.params.Get("expires_at"), Impersonation: true})
	if err != nil {
		return err
	}
	j := impersonationTokenJSON{h.personalView(t), true}
	j.Token = secret.Reveal()
	httpx.WriteJSON(w, http.StatusCreated, j)
	return nil
}

// impersonationToken resolves {token_id} to an impersonation token of user {id}.
func (h *Handler) impersonationToken(r *request) (*token.PersonalToken, error) {
	u, err := h.adminUser(r)
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(r.PathValue("token_id"), 10, 64)
	if err != nil {
		return nil, invalidParam("impersonation_token_id")
	}
	t, err := h.cfg.Personal.Token(ctxOf(r), id)
	if errors.Is(err, errkind.ErrNotFound) || (err == nil && (t.UserID != u.ID || !t.Impersonation)) {
		return nil, notFound("Impersonation Token")
	}
	return t, err
}

func (h *Handler) getImpersonationToken(w http.ResponseWriter, r *request) error {
	t, err := h.impersonationToken(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, impersonationTokenJSON{h.personalView(t), true})
	return nil
}

func (h *Handler) revokeImpersonationToken(w http.ResponseWriter, r *request) error {
	t, err := h.impersonationToken(r)
	if err != nil {
		return err
	}
	return h.revoke(w, r, t)
}
