package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

type userJSON struct {
	ID        int64   `json:"id"`
	Username  string  `json:"username"`
	Name      string  `json:"name"`
	State     string  `json:"state"`
	Email     string  `json:"email,omitempty"`
	IsAdmin   *bool   `json:"is_admin,omitempty"`
	CreatedAt string  `json:"created_at"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
	userProfileJSON
}

func (h *Handler) userView(r *request, u *namespace.User) userJSON {
	j := userJSON{ID: u.ID, Username: u.Username, Name: u.Name, State: u.State(), CreatedAt: isoTime(u.CreatedAt),
		WebURL: h.webURL(r, u.Username), userProfileJSON: profileView(u)}
	me := r.principal.User
	if me != nil && (me.Admin || me.ID == u.ID) {
		j.Email = u.Email
		admin := u.Admin
		j.IsAdmin = &admin
	}
	return j
}

// webURL is the external URL of a page or repository.
func (h *Handler) webURL(_ *request, path string) string { return h.cfg.ExternalURL + "/" + path }

func (h *Handler) currentUser(w http.ResponseWriter, r *request) error {
	httpx.WriteJSON(w, http.StatusOK, h.userView(r, r.principal.User))
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.ViewUsers, "User"); err != nil {
		return err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	u, err := h.cfg.Namespaces.User(ctxOf(r), id)
	if errors.Is(err, errkind.ErrNotFound) {
		return notFound("User")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h.userView(r, u))
	return nil
}

// createUserParams are the POST /users attributes Gatehouse applies, with the profile fields it
// keeps. skip_confirmation is accepted because it already holds: Gatehouse sends no confirmation
// mail, so every user is confirmed.
var createUserParams = func() params {
	ps := params{
		{name: "username", typ: tString}, {name: "email", typ: tString}, {name: "name", typ: tString},
		{name: "password", typ: tString}, {name: "admin", typ: tBool}, {name: "skip_confirmation", typ: tBool},
	}
	for _, f := range namespace.ProfileFields {
		ps = append(ps, param{name: f, typ: tString})
	}
	return ps
}()

func (h *Handler) createUser(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	if err := createUserParams.check(r); err != nil {
		return err
	}
	u, err := h.cfg.Namespaces.CreateUser(ctxOf(r), namespace.CreateUserInput{Username: r.params.Get("username"),
		Email: r.params.Get("email"), Name: r.params.Get("name"), Password: r.params.Get("password"),
		Admin: boolParam(r, "admin")})
	if err != nil {
		if conflict := h.userConflict(r, err); conflict != nil {
			return conflict
		}
		return err
	}
	if profile := profileParams(r); len(profile) > 0 {
		if u, err = h.cfg.Namespaces.UpdateUser(ctxOf(r), u.ID, namespace.UpdateUserInput{Profile: profile}); err != nil {
			return err
		}
	}
	httpx.WriteJSON(w, http.StatusCreated, h.userView(r, u))
	return nil
}

type personalTokenJSON struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	Revoked    bool     `json:"revoked"`
	CreatedAt  string   `json:"created_at"`
	Scopes     []string `json:"scopes"`
	UserID     int64    `json:"user_id"`
	Active     bool     `json:"active"`
	ExpiresAt  *string  `json:"expires_at"`
	LastUsedAt *string  `json:"last_used_at"`
	Token      string   `json:"token,omitempty"`
}

func (h *Handler) personalView(t *token.PersonalToken) personalTokenJSON {
	var exp *string
	if t.ExpiresAt != nil {
		s := t.ExpiresAt.Format("2006-01-02")
		exp = &s
	}
	return personalTokenJSON{ID: t.ID, Name: t.Name, Revoked: t.Revoked, CreatedAt: isoTime(t.CreatedAt),
		Scopes: t.Scopes.Strings(), UserID: t.UserID, Active: t.Active(h.cfg.Deploy.Now()), ExpiresAt: exp,
		LastUsedAt: isoTimePtr(t.LastUsedAt)}
}

var createPersonalTokenParams = params{{name: "name", typ: tString}, {name: "scopes", typ: tList},
	{name: "expires_at", typ: tString}}

func (h *Handler) createPersonalToken(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	if err := createPersonalTokenParams.check(r); err != nil {
		return err
	}
	if _, err := h.cfg.Namespaces.User(ctxOf(r), id); err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return notFound("User")
		}
		return err
	}
	t, secret, err := h.cfg.Personal.Create(ctxOf(r), token.CreatePersonalInput{UserID: id, Name: r.params.Get("name"),
		Scopes: r.params["scopes"], ExpiresAt: r.params.Get("expires_at")})
	if err != nil {
		return err
	}
	j := h.personalView(t)
	j.Token = secret.Reveal()
	httpx.WriteJSON(w, http.StatusCreated, j)
	return nil
}

func (h *Handler) personalTokenSelf(w http.ResponseWriter, r *request) error {
	if r.principal.PersonalToken == nil {
		return errUnauthorized
	}
	httpx.WriteJSON(w, http.StatusOK, h.personalView(r.principal.PersonalToken))
	return nil
}

type groupJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Path        string  `json:"path"`
	Description string  `json:"description"`
	FullPath    string  `json:"full_path"`
	FullName    string  `json:"full_name"`
	ParentID    *int64  `json:"parent_id"`
	Visibility  string  `json:"visibility"`
	AvatarURL   *string `json:"avatar_url"`
	WebURL      string  `json:"web_url"`
	CreatedAt   string  `json:"created_at"`
}

func (h *Handler) groupView(r *request, g *namespace.Group) groupJSON {
	var parent *int64
	if g.ParentID != 0 {
		p := g.ParentID
		parent = &p
	}
	return groupJSON{ID: g.ID, Name: g.Name, Path: g.Path, Description: g.Description, FullPath: g.FullPath,
		FullName: g.FullPath, ParentID: parent, Visibility: string(g.Visibility), WebURL: h.webURL(r, "groups/"+g.FullPath),
		CreatedAt: isoTime(g.CreatedAt)}
}

// group resolves {id} (numeric or URL-encoded full path) and checks the principal may act on it.
func (h *Handler) group(r *request, act access.Action) (*namespace.Group, error) {
	ref := r.PathValue("id")
	var g *namespace.Group
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		g, err = h.cfg.Namespaces.Group(ctxOf(r), id)
	} else {
		g, err = h.cfg.Namespaces.GroupByPath(ctxOf(r), ref)
	}
	if errors.Is(err, errkind.ErrNotFound) {
		if r.principal.Kind == access.Anonymous {
			return nil, errUnauthorized
		}
		return nil, notFound("Group")
	}
	if err != nil {
		return nil, err
	}
	if err := h.authorize(r, access.Resource{Group: g}, act, "Group"); err != nil {
		return nil, err
	}
	return g, nil
}

// groupByID loads group id, named by a parameter rather than the path's {id}, and decides act
// on it: 404 "Group Not Found" when it is missing, the decision's refusal otherwise.
func (h *Handler) groupByID(r *request, id int64, act access.Action) (*namespace.Group, error) {
	g, err := h.cfg.Namespaces.Group(ctxOf(r), id)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, notFound("Group")
	}
	if err != nil {
		return nil, err
	}
	if err := h.authorize(r, access.Resource{Group: g}, act, "Group"); err != nil {
		return nil, err
	}
	return g, nil
}

// mayPlaceGroupUnder decides whether the principal may put a group (new or moved) under group
// parentID, create_in_namespace there, or at the top level (parentID 0), which needs the api scope.
func (h *Handler) mayPlaceGroupUnder(r *request, parentID int64) error {
	if parentID == 0 {
		return h.requireAPIScope(r)
	}
	_, err := h.groupByID(r, parentID, access.CreateInNamespace)
	return err
}

// visibleGroups filters groups to those the principal may view.
func (h *Handler) visibleGroups(r *request, groups []*namespace.Group) ([]groupJSON, error) {
	out := []groupJSON{}
	for _, g := range groups {
		ok, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Group: g}, access.ViewNamespace)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, h.groupView(r, g))
		}
	}
	return out, nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	return h.writeGroupDetail(w, r, http.StatusOK, g)
}

func (h *Handler) listSubgroups(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	if err := listGroupsParams.check(r); err != nil {
		return err
	}
	subs, err := h.cfg.Namespaces.Subgroups(ctxOf(r), g.ID)
	if err != nil {
		return err
	}
	return h.writeGroups(w, r, subs)
}

// createGroupParams are POST /groups's parameters that Gatehouse implements; GitLab's others are
// refused.
var createGroupParams = params{{name: "name", typ: tString, required: true}, {name: "path", typ: tString, required: true},
	{name: "parent_id", typ: tInt}, {name: "visibility", typ: tString, values: []string{"private", "internal", "public"}},
	{name: "description", typ: tString}}

func (h *Handler) createGroup(w http.ResponseWriter, r *request) error {
	if err := createGroupParams.check(r); err != nil {
		return err
	}
	parentID, _ := intParam(r, "parent_id") // checked above
	if err := h.mayPlaceGroupUnder(r, parentID); err != nil {
		return err
	}
	// Whoever creates a group is its Owner member (CreateGroupAs).
	g, err := h.cfg.Namespaces.CreateGroupAs(ctxOf(r), r.principal.User.ID, namespace.CreateGroupInput{Name: r.params.Get("name"),
		Path: r.params.Get("path"), ParentID: parentID, Visibility: r.params.Get("visibility"),
		Description: r.params.Get("description")})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, h.groupView(r, g))
	return nil
}

// requireAPIScope refuses a personal access token without the api scope for writes that have no
// resource to authorize against (creating a top-level group or a personal project).
func (h *Handler) requireAPIScope(r *request) error {
	if pat := r.principal.PersonalToken; pat != nil && !pat.Scopes.Has(token.API) {
		return errForbidden
	}
	return nil
}

// namespaceJSON is GitLab's namespace entity: a group's or a user's personal namespace, in a
// project's JSON and from /namespaces.
type namespaceJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	Kind      string  `json:"kind"`
	FullPath  string  `json:"full_path"`
	ParentID  *int64  `json:"parent_id"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
}

func (h *Handler) groupNamespaceView(r *request, g *namespace.Group) namespaceJSON {
	v := h.groupView(r, g)
	return namespaceJSON{ID: g.ID, Name: g.Name, Path: g.Path, Kind: "group", FullPath: g.FullPath, ParentID: v.ParentID,
		WebURL: v.WebURL}
}

func (h *Handler) userNamespaceView(r *request, u *namespace.User) namespaceJSON {
	return namespaceJSON{ID: u.NamespaceID, Name: u.Name, Path: u.Username, Kind: "user", FullPath: u.Username,
		WebURL: h.webURL(r, u.Username)}
}

type projectJSON struct {
	ID                int64         `json:"id"`
	Name              string        `json:"name"`
	Path              string        `json:"path"`
	Description       string        `json:"description"`
	PathWithNamespace string        `json:"path_with_namespace"`
	NameWithNamespace string        `json:"name_with_namespace"`
	Visibility        string        `json:"visibility"`
	Namespace         namespaceJSON `json:"namespace"`
	HTTPURLToRepo     string        `json:"http_url_to_repo"`
	WebURL            string        `json:"web_url"`
	DefaultBranch     string        `json:"default_branch"`
	CreatedAt         string        `json:"created_at"`
	// ExternalAuthorizationClassificationLabel is the project's own label ("" = the default).
	ExternalAuthorizationClassificationLabel string `json:"external_authorization_classification_label"`
}

// projectView is p's JSON; it reads p's namespace (the group or the owner) for namespace.
func (h *Handler) projectView(r *request, p *namespace.Project) (projectJSON, error) {
	var ns namespaceJSON
	if p.GroupID != 0 {
		g, err := h.cfg.Namespaces.Group(ctxOf(r), p.GroupID)
		if err != nil {
			return projectJSON{}, err
		}
		ns = h.groupNamespaceView(r, g)
	} else {
		u, err := h.cfg.Namespaces.User(ctxOf(r), p.OwnerUserID)
		if err != nil {
			return projectJSON{}, err
		}
		ns = h.userNamespaceView(r, u)
	}
	return projectJSON{ID: p.ID, Name: p.Name, Path: p.Path, Description: p.Description, PathWithNamespace: p.FullPath,
		NameWithNamespace: strings.ReplaceAll(p.NamespacePath(), "/", " / ") + " / " + p.Name,
		Visibility:        string(p.Visibility), Namespace: ns, HTTPURLToRepo: h.webURL(r, p.FullPath+".git"),
		WebURL: h.webURL(r, p.FullPath), DefaultBranch: p.DefaultBranch, CreatedAt: isoTime(p.CreatedAt),
		ExternalAuthorizationClassificationLabel: h.classificationLabel(r, p)}, nil
}

// writeProject answers with p's JSON.
func (h *Handler) writeProject(w http.ResponseWriter, r *request, status int, p *namespace.Project) error {
	v, err := h.projectView(r, p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, status, v)
	return nil
}

// projectViews is the JSON of the projects in list the principal may view.
func (h *Handler) projectViews(r *request, list []*namespace.Project) ([]projectJSON, error) {
	out := []projectJSON{}
	for _, p := range list {
		ok, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Project: p}, access.ViewNamespace)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		v, err := h.projectView(r, p)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// project resolves {id} (numeric or URL-encoded full path) and checks the principal may act on it.
func (h *Handler) project(r *request, act access.Action) (*namespace.Project, error) {
	ref := r.PathValue("id")
	var p *namespace.Project
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		p, err = h.cfg.Namespaces.Project(ctxOf(r), id)
	} else {
		p, err = h.cfg.Namespaces.ProjectByPath(ctxOf(r), ref)
	}
	if errors.Is(err, errkind.ErrNotFound) {
		if r.principal.Kind == access.Anonymous {
			return nil, errUnauthorized
		}
		return nil, notFound("Project")
	}
	if err != nil {
		return nil, err
	}
	if err := h.authorize(r, access.Resource{Project: p}, act, "Project"); err != nil {
		return nil, err
	}
	return p, nil
}

func (h *Handler) getProject(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	return h.writeProject(w, r, http.StatusOK, p)
}

// createProjectParams are the POST /projects attributes Gatehouse applies; GitLab's many others
// (initialize_with_readme, feature toggles, …) are refused rather than ignored.
var createProjectParams = params{
	{name: "name", typ: tString}, {name: "path", typ: tString}, {name: "namespace_id", typ: tInt},
	{name: "visibility", typ: tString, values: []string{"private", "internal", "public"}},
	{name: "description", typ: tString}, {name: "default_branch", typ: tString},
}

func (h *Handler) createProject(w http.ResponseWriter, r *request) error {
	if err := createProjectParams.check(r); err != nil {
		return err
	}
	nsID, err := intParam(r, "namespace_id")
	if err != nil {
		return err
	}
	in := namespace.CreateProjectInput{Name: r.params.Get("name"), Path: r.params.Get("path"),
		Visibility: r.params.Get("visibility"), Description: r.params.Get("description"),
		DefaultBranch: r.params.Get("default_branch")}
	if in.Path == "" {
		in.Path = in.Name
	}
	if in.Name == "" {
		in.Name = in.Path
	}
	target := namespaceTarget{userID: r.principal.User.ID}
	if nsID != 0 {
		// namespace_id names a group or a user's personal namespace (their ids never meet).
		if target, err = h.namespaceByID(r, nsID, access.CreateInNamespace); err != nil {
			return err
		}
	} else if err := h.requireAPIScope(r); err != nil {
		return err
	}
	in.GroupID, in.OwnerUserID = target.groupID, target.userID
	p, err := h.cfg.Namespaces.CreateProject(ctxOf(r), in)
	if err != nil {
		return err
	}
	return h.writeProject(w, r, http.StatusCreated, p)
}

type memberJSON struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	Name        string `json:"name"`
	State       string `json:"state"`
	AccessLevel int    `json:"access_level"`
	CreatedAt   string `json:"created_at"`
	// ExpiresAt is the date the membership ends (YYYY-MM-DD, as GitLab writes it), or null.
	ExpiresAt *string `json:"expires_at"`
}

func (h *Handler) membersView(r *request, members []namespace.Member) ([]memberJSON, error) {
	out := []memberJSON{}
	for _, m := range members {
		u, err := h.cfg.Namespaces.User(ctxOf(r), m.UserID)
		if err != nil {
			return nil, err
		}
		v := h.userView(r, u)
		j := memberJSON{ID: u.ID, Username: u.Username, Name: u.Name, State: v.State,
			AccessLevel: int(m.Role), CreatedAt: isoTime(m.CreatedAt)}
		if m.ExpiresAt != nil {
			d := m.ExpiresAt.Format(time.DateOnly)
			j.ExpiresAt = &d
		}
		out = append(out, j)
	}
	return out, nil
}

func (h *Handler) listGroupMembers(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	return h.writeMembers(w, r, g.ID, 0)
}

func (h *Handler) listProjectMembers(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	return h.writeMembers(w, r, 0, p.ID)
}

func (h *Handler) writeMembers(w http.ResponseWriter, r *request, groupID, projectID int64) error {
	members, err := h.cfg.Namespaces.ListMembers(ctxOf(r), groupID, projectID)
	if err != nil {
		return err
	}
	return h.writeMemberList(w, r, members)
}

func (h *Handler) addGroupMember(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ManageMembers)
	if err != nil {
		return err
	}
	return h.addMember(w, r, namespace.Member{GroupID: g.ID})
}

func (h *Handler) addProjectMember(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ManageMembers)
	if err != nil {
		return err
	}
	return h.addMember(w, r, namespace.Member{ProjectID: p.ID})
}

// actor is the principal as the namespace rules see it.
func actor(r *request) namespace.Actor {
	return namespace.Actor{UserID: r.principal.User.ID, Admin: r.principal.User.Admin}
}

// accessLevel reads the required access_level parameter into m.Role.
func accessLevel(r *request, m *namespace.Member) error {
	level, err := intParam(r, "access_level")
	if err != nil {
		return err
	}
	if level == 0 {
		return missingParams("access_level")
	}
	m.Role = namespace.Role(level)
	return nil
}

// memberExpiry reads the optional expires_at (YYYY-MM-DD; empty clears it) into m.ExpiresAt and
// reports whether the request carried it.
func memberExpiry(r *request, m *namespace.Member) (bool, error) {
	v, ok := r.params["expires_at"]
	if !ok {
		return false, nil
	}
	d, err := token.ParseExpiryDate(v[0])
	m.ExpiresAt = d
	return true, err
}

func (h *Handler) addMember(w http.ResponseWriter, r *request, m namespace.Member) error {
	var err error
	if m.UserID, err = intParam(r, "user_id"); err != nil {
		return err
	}
	if m.UserID == 0 {
		return missingParams("user_id")
	}
	if err := accessLevel(r, &m); err != nil {
		return err
	}
	if _, err := memberExpiry(r, &m); err != nil {
		return err
	}
	// POST never changes an existing membership, as in GitLab: that is PUT's, under its rules.
	if err := h.cfg.Namespaces.AddMember(ctxOf(r), actor(r), m); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return &apiError{http.StatusConflict, "Member already exists"}
		}
		return err
	}
	return h.writeMember(w, r, http.StatusCreated, m)
}

// writeMember answers with m's stored membership in the GitLab shape, or 404.
func (h *Handler) writeMember(w http.ResponseWriter, r *request, status int, m namespace.Member) error {
	members, err := h.cfg.Namespaces.ListMembers(ctxOf(r), m.GroupID, m.ProjectID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(members, func(x namespace.Member) bool { return x.UserID == m.UserID })
	if i < 0 {
		return notFound("Member")
	}
	out, err := h.membersView(r, members[i:i+1])
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, status, out[0])
	return nil
}

// member resolves {id} and {user_id} of a …/members/:user_id route, checking the principal may act
// on the group or project with act.
func (h *Handler) member(r *request, act access.Action) (namespace.Member, error) {
	var m namespace.Member
	if strings.HasPrefix(r.URL.Path, "/api/v4/groups/") {
		g, err := h.group(r, act)
		if err != nil {
			return m, err
		}
		m.GroupID = g.ID
	} else {
		p, err := h.project(r, act)
		if err != nil {
			return m, err
		}
		m.ProjectID = p.ID
	}
	id, err := pathInt(r, "user_id")
	if err != nil {
		return m, err
	}
	m.UserID = id
	return m, nil
}

func (h *Handler) getMember(w http.ResponseWriter, r *request) error {
	m, err := h.member(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	return h.writeMember(w, r, http.StatusOK, m)
}

func (h *Handler) updateMember(w http.ResponseWriter, r *request) error {
	m, err := h.member(r, access.ManageMembers)
	if err != nil {
		return err
	}
	if err := accessLevel(r, &m); err != nil {
		return err
	}
	given, err := memberExpiry(r, &m)
	if err != nil {
		return err
	}
	if !given {
		// A change that names no expires_at keeps the membership's, as GitLab's.
		members, err := h.cfg.Namespaces.ListMembers(ctxOf(r), m.GroupID, m.ProjectID)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(members, func(x namespace.Member) bool { return x.UserID == m.UserID }); i >= 0 {
			m.ExpiresAt = members[i].ExpiresAt
		}
	}
	_, err = h.cfg.Namespaces.UpdateMember(ctxOf(r), actor(r), m)
	if errors.Is(err, errkind.ErrNotFound) {
		return notFound("Member")
	}
	if err != nil {
		return err
	}
	return h.writeMember(w, r, http.StatusOK, m)
}

func (h *Handler) removeMember(w http.ResponseWriter, r *request) error {
	m, err := h.member(r, access.ManageMembers)
	if err != nil {
		return err
	}
	err = h.cfg.Namespaces.RemoveMember(ctxOf(r), actor(r), m)
	if errors.Is(err, errkind.ErrNotFound) {
		return notFound("Member")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
