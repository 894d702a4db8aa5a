package web

import (
	"errors"
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

// The members pages (docs/design.md §6.9, "Members") at GitLab's paths: a group's
// /groups/<path>/-/group_members and a project's /<path>/-/project_members, each with its invite
// (POST to the page), change (POST …/<user id>) and remove (POST …/<user id>/remove).
const (
	actGroupMembers         = "group_members"
	actGroupMemberUpdate    = "group_member_update"
	actGroupMemberRemove    = "group_member_remove"
	actProjectMembers       = "project_members"
	actProjectMemberUpdate  = "project_member_update"
	actProjectMemberRemove  = "project_member_remove"
	groupMembersSegment     = "group_members"
	projectMembersSegment   = "project_members"
	memberRemoveSubpathName = "remove"
)

// membersActions are the actions handleMembers serves.
var membersActions = map[string]bool{actGroupMembers: true, actGroupMemberUpdate: true, actGroupMemberRemove: true,
	actProjectMembers: true, actProjectMemberUpdate: true, actProjectMemberRemove: true}

var membersSuffix = map[string]string{
	actGroupMembers:        "/-/group_members",
	actGroupMemberUpdate:   "/-/group_members/{id}",
	actGroupMemberRemove:   "/-/group_members/{id}/remove",
	actProjectMembers:      "/-/project_members",
	actProjectMemberUpdate: "/-/project_members/{id}",
	actProjectMemberRemove: "/-/project_members/{id}/remove",
}

// memberPages: anyone who may see a group or project sees its members, as in GitLab (and as GET
// …/members of the API); inviting, changing and removing also need manage_members, and then the
// namespace rules of the change itself (namespace.Service.AddMember and the others).
var memberPages = []uiRoute{
	{groupRoute, actGroupMembers, readPostMethods, gate.Decide(access.ViewNamespace)},
	{groupRoute, actGroupMemberUpdate, postMethods, gate.Decide(access.ViewNamespace).And(access.ManageMembers)},
	{groupRoute, actGroupMemberRemove, postMethods, gate.Decide(access.ViewNamespace).And(access.ManageMembers)},
	{projectRoute, actProjectMembers, readPostMethods, gate.Decide(access.ViewNamespace)},
	{projectRoute, actProjectMemberUpdate, postMethods, gate.Decide(access.ViewNamespace).And(access.ManageMembers)},
	{projectRoute, actProjectMemberRemove, postMethods, gate.Decide(access.ViewNamespace).And(access.ManageMembers)},
}

// parseMembersTail reads the members actions below r's group or project ("group_members…" for
// a group, "project_members…" for a project).
func parseMembersTail(r route, tail string) (route, bool) {
	seg, list, update, remove := projectMembersSegment, actProjectMembers, actProjectMemberUpdate, actProjectMemberRemove
	if r.kind == groupRoute {
		seg, list, update, remove = groupMembersSegment, actGroupMembers, actGroupMemberUpdate, actGroupMemberRemove
	}
	if tail == seg {
		r.action = list
		return r, true
	}
	rest, ok := strings.CutPrefix(tail, seg+"/")
	if !ok {
		return route{}, false
	}
	idText, sub, hasSub := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != idText {
		return route{}, false
	}
	r.userID = id
	switch {
	case !hasSub:
		r.action = update
	case sub == memberRemoveSubpathName:
		r.action = remove
	default:
		return route{}, false
	}
	return r, true
}

// roleNames are GitLab's names of the roles, weakest first.
var roleNames = []struct {
	Role namespace.Role
	Name string
}{{namespace.Guest, "Guest"}, {namespace.Reporter, "Reporter"}, {namespace.Developer, "Developer"},
	{namespace.Maintainer, "Maintainer"}, {namespace.Owner, "Owner"}}

func roleName(r namespace.Role) string {
	for _, n := range roleNames {
		if n.Role == r {
			return n.Name
		}
	}
	return "No access"
}

// memberRow is one line of the members table.
type memberRow struct {
	UserID    int64
	Username  string
	Name      string
	State     string
	Role      namespace.Role
	RoleName  string
	ExpiresAt string // YYYY-MM-DD or ""
	Since     time.Time
	Direct    bool
	// SourceName and SourceHref name where an inherited membership comes from; SourceHref is
	// empty for a personal project's namespace owner.
	SourceName string
	SourceHref string
	// Self marks the signed-in user's own row.
	Self bool
}

type roleOption struct {
	Value    int
	Name     string
	Selected bool
}

// inviteForm is the invite form's values, kept when it is shown again with an error.
type inviteForm struct {
	Username  string
	Role      namespace.Role
	ExpiresAt string
}

type membersData struct {
	Kind      string // "group" or "project"
	Name      string
	FullPath  string
	Base      string // URL of the members page
	CanManage bool
	Members   []memberRow
	Form      inviteForm
	// Usernames feed the invite form's username suggestions.
	Usernames []string
	MinDate   string
	// Error is the refusal of the last change (the domain's message); ErrorUser names the row it
	// concerns (0 for the invite form).
	Error     string
	ErrorUser int64
}

// roleOptions lists the roles with selected marked.
func (d membersData) RoleOptions(selected namespace.Role) []roleOption {
	out := make([]roleOption, 0, len(roleNames))
	for _, n := range roleNames {
		out = append(out, roleOption{Value: int(n.Role), Name: n.Name, Selected: n.Role == selected})
	}
	return out
}

// membersTarget is the group or project a members page is about.
type membersTarget struct {
	group   *namespace.Group
	project *namespace.Project
	res     access.Resource
	crumbs  []crumb
	data    membersData
}

// handleMembers serves the members pages and their changes.
func (h *Handler) handleMembers(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	t := &membersTarget{}
	if rt.kind == groupRoute {
		g, err := h.loadGroup(r, sess, rt.path, access.ViewNamespace)
		if err != nil {
			return err
		}
		t.group, t.res, t.crumbs = g, access.Resource{Group: g}, groupCrumbs(g.FullPath)
		t.data = membersData{Kind: "group", Name: g.Name, FullPath: g.FullPath, Base: basePath(groupRoute, g.FullPath) + "/-/group_members"}
	} else {
		p, err := h.loadProject(r, sess, rt.path, access.ViewNamespace)
		if err != nil {
			return err
		}
		t.project, t.res, t.crumbs = p, access.Resource{Project: p}, projectCrumbs(p)
		t.data = membersData{Kind: "project", Name: p.Name, FullPath: p.FullPath, Base: basePath(projectRoute, p.FullPath) + "/-/project_members"}
	}
	var err error
	if r.Method == http.MethodPost {
		if t.data.CanManage, err = h.allowed(r, sess, t.res, access.ManageMembers); err != nil {
			return err
		}
		if !t.data.CanManage {
			return errForbidden
		}
	} else if t.data.CanManage, err = h.permits(r, sess, t.res, access.ManageMembers); err != nil {
		return err
	}
	t.data.Form.Role = namespace.Guest
	if r.Method != http.MethodPost {
		return h.renderMembers(w, r, sess, t, http.StatusOK, memberNotice(r.URL.Query().Get("notice")))
	}
	if err := r.ParseForm(); err != nil {
		return statusError(http.StatusBadRequest)
	}
	by := namespace.Actor{UserID: sess.user.ID, Admin: sess.user.Admin}
	m := namespace.Member{UserID: rt.userID}
	if t.group != nil {
		m.GroupID = t.group.ID
	} else {
		m.ProjectID = t.project.ID
	}
	notice := ""
	switch rt.action {
	case actGroupMembers, actProjectMembers:
		f := inviteForm{Username: strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("username")), "@"),
			ExpiresAt: strings.TrimSpace(r.PostForm.Get("expires_at"))}
		level, _ := strconv.Atoi(r.PostForm.Get("access_level"))
		f.Role = namespace.Role(level)
		t.data.Form = f
		err = h.inviteMember(r, by, m, f)
		notice = "invited"
	case actGroupMemberUpdate, actProjectMemberUpdate:
		t.data.ErrorUser = rt.userID
		err = h.updateMember(r, by, m)
		notice = "updated"
	default:
		t.data.ErrorUser = rt.userID
		err = h.cfg.Namespaces.RemoveMember(r.Context(), by, m)
		notice = "removed"
	}
	if err != nil {
		status, msg, ok := memberError(err)
		if !ok {
			return err
		}
		t.data.Error = msg
		return h.renderMembers(w, r, sess, t, status, "")
	}
	// The change is made: back to the page (POST, redirect, GET), with a confirmation.
	http.Redirect(w, r, t.data.Base+"?notice="+notice, http.StatusSeeOther)
	return nil
}

// memberNotice is the confirmation named by the page's ?notice=.
func memberNotice(v string) string {
	switch v {
	case "invited":
		return "The member was added."
	case "updated":
		return "The member's role and expiration were saved."
	case "removed":
		return "The member was removed."
	}
	return ""
}

// inviteMember adds the user named in f with f's role and expiry.
func (h *Handler) inviteMember(r *http.Request, by namespace.Actor, m namespace.Member, f inviteForm) error {
	if f.Username == "" {
		return &errkind.ValidationError{Field: "username", Reason: "is missing: select a user to invite"}
	}
	u, err := h.cfg.Namespaces.UserByUsername(r.Context(), f.Username)
	if errors.Is(err, errkind.ErrNotFound) {
		return &errkind.ValidationError{Field: "username", Reason: "does not match any user"}
	}
	if err != nil {
		return err
	}
	m.UserID = u.ID
	m.Role = f.Role
	if m.ExpiresAt, err = token.ParseExpiryDate(f.ExpiresAt); err != nil {
		return err
	}
	err = h.cfg.Namespaces.AddMember(r.Context(), by, m)
	if errors.Is(err, errkind.ErrConflict) {
		return &errkind.ValidationError{Field: "username", Reason: "is already a member; change their role in the list"}
	}
	return err
}

// updateMember changes a direct member's role and expiry.
func (h *Handler) updateMember(r *http.Request, by namespace.Actor, m namespace.Member) error {
	level, _ := strconv.Atoi(r.PostForm.Get("access_level"))
	m.Role = namespace.Role(level)
	var err error
	if m.ExpiresAt, err = token.ParseExpiryDate(r.PostForm.Get("expires_at")); err != nil {
		return err
	}
	_, err = h.cfg.Namespaces.UpdateMember(r.Context(), by, m)
	return err
}

// memberFieldLabels name the fields of the members forms in error messages.
var memberFieldLabels = map[string]string{"username": "Username", "access_level": "Role", "expires_at": "Access expiration date",
	"user_id": "User"}

// memberError turns a refusal of the domain into a status and its message; ok is false for an
// error that is not a refusal (a 500). A member that is not there is a 404 page.
func memberError(err error) (int, string, bool) {
	var ve *errkind.ValidationError
	var fe *errkind.ForbiddenError
	switch {
	case errors.As(err, &ve):
		label := memberFieldLabels[ve.Field]
		if label == "" {
			label = ve.Field
		}
		return http.StatusUnprocessableEntity, label + " " + ve.Reason + ".", true
	case errors.As(err, &fe):
		reason := fe.Reason
		if reason != "" {
			reason = strings.ToUpper(reason[:1]) + reason[1:]
		}
		return http.StatusForbidden, reason + ".", true
	case errors.Is(err, errkind.ErrNotFound):
		return http.StatusNotFound, "That member is not a direct member here any more.", true
	}
	return 0, "", false
}

// renderMembers renders the members page of t with the direct members first, then everyone
// who inherits a role from an ancestor group (or owns a personal project's namespace).
func (h *Handler) renderMembers(w http.ResponseWriter, r *http.Request, sess *session, t *membersTarget, status int, notice string) error {
	ctx := r.Context()
	var groupID, projectID int64
	if t.group != nil {
		groupID = t.group.ID
	} else {
		projectID = t.project.ID
	}
	direct, err := h.cfg.Namespaces.ListMembers(ctx, groupID, projectID)
	if err != nil {
		return err
	}
	effective, err := h.cfg.Namespaces.EffectiveMembers(ctx, t.group, t.project)
	if err != nil {
		return err
	}
	users := map[int64]*namespace.User{}
	userOf := func(id int64) (*namespace.User, error) {
		if u, ok := users[id]; ok {
			return u, nil
		}
		u, err := h.cfg.Namespaces.User(ctx, id)
		if err == nil {
			users[id] = u
		}
		return u, err
	}
	row := func(m namespace.Member) (memberRow, error) {
		u, err := userOf(m.UserID)
		if err != nil {
			return memberRow{}, err
		}
		mr := memberRow{UserID: u.ID, Username: u.Username, Name: u.Name, State: u.State(), Role: m.Role, RoleName: roleName(m.Role),
			Since: m.CreatedAt, Self: u.ID == sess.user.ID}
		if m.ExpiresAt != nil {
			mr.ExpiresAt = m.ExpiresAt.UTC().Format(time.DateOnly)
		}
		return mr, nil
	}
	d := t.data
	for _, m := range direct {
		mr, err := row(m)
		if err != nil {
			return err
		}
		mr.Direct = true
		d.Members = append(d.Members, mr)
	}
	groups := map[int64]*namespace.Group{}
	for _, m := range effective {
		if slices.ContainsFunc(direct, func(x namespace.Member) bool { return x.UserID == m.UserID }) {
			continue
		}
		mr, err := row(m)
		if err != nil {
			return err
		}
		switch {
		case m.GroupID != 0:
			g, ok := groups[m.GroupID]
			if !ok {
				if g, err = h.cfg.Namespaces.Group(ctx, m.GroupID); err != nil {
					return err
				}
				groups[m.GroupID] = g
			}
			mr.SourceName, mr.SourceHref = g.FullPath, basePath(groupRoute, g.FullPath)
		default:
			mr.SourceName = "the personal namespace " + t.project.NamespacePath()
		}
		d.Members = append(d.Members, mr)
	}
	if d.CanManage {
		all, err := h.cfg.Namespaces.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range all {
			if !u.Blocked && !slices.ContainsFunc(direct, func(x namespace.Member) bool { return x.UserID == u.ID }) {
				d.Usernames = append(d.Usernames, u.Username)
			}
		}
		slices.Sort(d.Usernames)
	}
	d.MinDate = h.cfg.Now().UTC().Format(time.DateOnly)
	crumbs := append(append([]crumb{}, t.crumbs...), crumb{Label: "Members", Href: d.Base})
	h.render(w, r, status, "members", &page{Title: "Members · " + d.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Notice: notice, Data: d})
	return nil
}
