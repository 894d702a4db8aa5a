package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The group lifecycle beyond create (docs/gitlab-compatibility.md): edit, delete, transfer,
// projects and descendants, and /namespaces.

// groupEditParams are the PUT /groups/:id parameters Gatehouse supports; others are refused.
var groupEditParams = params{{name: "id", typ: tString}, {name: "name", typ: tString}, {name: "path", typ: tString},
	{name: "description", typ: tString}, {name: "visibility", typ: tString}}

// deleteGroupParams: GitLab's immediate removal of a subgroup marked for deletion; Gatehouse
// never schedules, so both are refused.
var deleteGroupParams = params{{name: "permanently_remove", unsupported: true}, {name: "full_path", unsupported: true}}

// shareGroupParams are POST /groups/:id/share's (custom roles are refused); group_access takes
// the roles' levels, as GitLab's `values: Gitlab::Access.all_values`.
var shareGroupParams = params{{name: "group_id", typ: tInt, required: true},
	{name: "group_access", typ: tInt, required: true, values: []string{"10", "20", "30", "40", "50"}},
	{name: "expires_at", typ: tString}, {name: "member_role_id", unsupported: true}}

// updateGroup is PUT /groups/:id (GitLab's admin_group: owners).
func (h *Handler) updateGroup(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.EditNamespace)
	if err != nil {
		return err
	}
	if err := groupEditParams.check(r); err != nil {
		return err
	}
	g, err = h.cfg.Namespaces.UpdateGroup(ctxOf(r), g.ID, namespace.UpdateGroupInput{Name: optParam(r, "name"), Path: optParam(r, "path"),
		Description: optParam(r, "description"), Visibility: optParam(r, "visibility")})
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// deleteGroup is DELETE /groups/:id (owners). As GitLab, the subgroups and projects go with it;
// Gatehouse deletes at once rather than scheduling, and answers GitLab's 202.
func (h *Handler) deleteGroup(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.OwnNamespace)
	if err != nil {
		return err
	}
	if err := deleteGroupParams.check(r); err != nil {
		return err
	}
	if err := h.cfg.Namespaces.DeleteGroup(ctxOf(r), g.ID); err != nil {
		return err
	}
	return accepted(w)
}

// transferGroup is POST /groups/:id/transfer (owners): group_id names the new parent, which the
// principal must be allowed to create subgroups in; none makes the group top-level.
func (h *Handler) transferGroup(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.OwnNamespace)
	if err != nil {
		return err
	}
	if err := (params{{name: "group_id", typ: tInt}}).check(r); err != nil {
		return err
	}
	parentID, _ := intParam(r, "group_id") // checked above
	if err := h.mayPlaceGroupUnder(r, parentID); err != nil {
		return err
	}
	g, err = h.cfg.Namespaces.TransferGroupAs(ctxOf(r), r.principal.User.ID, g.ID, parentID)
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusCreated, g)
}

// groupProjects is GET /groups/:id/projects (include_subgroups): the projects the principal
// may view.
func (h *Handler) groupProjects(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	if err := onlyParams(r, "include_subgroups"); err != nil {
		return err
	}
	list, err := h.cfg.Namespaces.GroupProjects(ctxOf(r), g.ID, boolParam(r, "include_subgroups"))
	if err != nil {
		return err
	}
	out, err := h.projectViews(r, list)
	if err != nil {
		return err
	}
	paginate(w, r, out)
	return nil
}

// descendantGroups is GET /groups/:id/descendant_groups: every visible group below it.
func (h *Handler) descendantGroups(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	if err := onlyParams(r); err != nil {
		return err
	}
	list, err := h.cfg.Namespaces.Descendants(ctxOf(r), g)
	if err != nil {
		return err
	}
	out, err := h.visibleGroups(r, list)
	if err != nil {
		return err
	}
	paginate(w, r, out)
	return nil
}

// namespaceMatches applies /namespaces' search (path or name, case-insensitive).
func namespaceMatches(n namespaceJSON, search string) bool {
	s := strings.ToLower(search)
	return s == "" || strings.Contains(strings.ToLower(n.FullPath), s) || strings.Contains(strings.ToLower(n.Name), s)
}

// listNamespaces is GET /namespaces: the requester's own personal namespace and the groups they
// may view (administrators: every namespace), as GitLab. owned_only keeps the groups they own.
func (h *Handler) listNamespaces(w http.ResponseWriter, r *request) error {
	if err := onlyParams(r, "search", "owned_only"); err != nil {
		return err
	}
	me := r.principal.User
	search := r.params.Get("search")
	owned := boolParam(r, "owned_only")
	out := []namespaceJSON{}
	users := []*namespace.User{me}
	if me.Admin {
		all, err := h.cfg.Namespaces.ListUsers(ctxOf(r))
		if err != nil {
			return err
		}
		users = all
	}
	for _, u := range users {
		if n := h.userNamespaceView(r, u); namespaceMatches(n, search) {
			out = append(out, n)
		}
	}
	groups, err := h.cfg.Namespaces.ListGroups(ctxOf(r))
	if err != nil {
		return err
	}
	for _, g := range groups {
		n := h.groupNamespaceView(r, g)
		if !namespaceMatches(n, search) {
			continue
		}
		ok, err := h.namespaceListed(r, g, owned)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, n)
		}
	}
	paginate(w, r, out)
	return nil
}

// namespaceListed says whether /namespaces lists g: groups the requester is a member of
// (owned: an owner of), or every group for an administrator (who, as in GitLab, gets every
// namespace whatever owned_only says).
func (h *Handler) namespaceListed(r *request, g *namespace.Group, owned bool) (bool, error) {
	me := r.principal.User
	if me.Admin {
		return true, nil
	}
	role, err := h.cfg.Namespaces.GroupRole(ctxOf(r), me.ID, g)
	if err != nil {
		return false, err
	}
	if owned {
		return role >= namespace.Owner, nil
	}
	return role != namespace.NoRole, nil
}

// getNamespace is GET /namespaces/:id (an id or a URL-encoded full path): a group the requester
// may view, or their own personal namespace (administrators: anyone's).
func (h *Handler) getNamespace(w http.ResponseWriter, r *request) error {
	ref := r.PathValue("id")
	var g *namespace.Group
	var u *namespace.User
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		if g, err = h.cfg.Namespaces.Group(ctxOf(r), id); errors.Is(err, errkind.ErrNotFound) {
			u, err = h.cfg.Namespaces.UserByNamespaceID(ctxOf(r), id)
		}
	} else if g, err = h.cfg.Namespaces.GroupByPath(ctxOf(r), ref); errors.Is(err, errkind.ErrNotFound) {
		u, err = h.cfg.Namespaces.UserByUsername(ctxOf(r), ref)
	}
	if errors.Is(err, errkind.ErrNotFound) {
		return notFound("Namespace")
	}
	if err != nil {
		return err
	}
	if g != nil {
		if err := h.authorize(r, access.Resource{Group: g}, access.ViewNamespace, "Namespace"); err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, h.groupNamespaceView(r, g))
		return nil
	}
	if r.principal.Kind != access.UserPrincipal {
		return errUnauthorized
	}
	if r.principal.User.ID != u.ID {
		// Only administrators see another user's personal namespace, as in GitLab.
		if err := h.authorize(r, access.Resource{}, access.ViewNamespace, "Namespace"); err != nil {
			if errors.Is(err, errForbidden) {
				return notFound("Namespace")
			}
			return err
		}
	}
	httpx.WriteJSON(w, http.StatusOK, h.userNamespaceView(r, u))
	return nil
}

// groupShareJSON is one entry of GitLab's shared_with_groups.
type groupShareJSON struct {
	GroupID          int64   `json:"group_id"`
	GroupName        string  `json:"group_name"`
	GroupFullPath    string  `json:"group_full_path"`
	GroupAccessLevel int     `json:"group_access_level"`
	ExpiresAt        *string `json:"expires_at"`
}

// groupDetailJSON is GitLab's GroupDetail: a group with the groups it is shared with.
type groupDetailJSON struct {
	groupJSON
	SharedWithGroups []groupShareJSON `json:"shared_with_groups"`
}

func (h *Handler) groupDetail(r *request, g *namespace.Group) (groupDetailJSON, error) {
	shares, err := h.cfg.Namespaces.GroupShares(ctxOf(r), g.ID)
	if err != nil {
		return groupDetailJSON{}, err
	}
	out := groupDetailJSON{groupJSON: h.groupView(r, g), SharedWithGroups: []groupShareJSON{}}
	for _, sh := range shares {
		with, err := h.cfg.Namespaces.Group(ctxOf(r), sh.SharedWithGroupID)
		if err != nil {
			return groupDetailJSON{}, err
		}
		j := groupShareJSON{GroupID: with.ID, GroupName: with.Name, GroupFullPath: with.FullPath, GroupAccessLevel: int(sh.Access)}
		if sh.ExpiresAt != nil {
			d := sh.ExpiresAt.UTC().Format(time.DateOnly)
			j.ExpiresAt = &d
		}
		out.SharedWithGroups = append(out.SharedWithGroups, j)
	}
	return out, nil
}

// writeGroupDetail answers with g's GroupDetail JSON.
func (h *Handler) writeGroupDetail(w http.ResponseWriter, r *request, status int, g *namespace.Group) error {
	d, err := h.groupDetail(r, g)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, status, d)
	return nil
}

// shareGroup is POST /groups/:id/share (GitLab's admin_group: owners): the members of group_id,
// which the requester must be able to see, get min(their role, group_access) here until
// expires_at (YYYY-MM-DD).
func (h *Handler) shareGroup(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.EditNamespace)
	if err != nil {
		return err
	}
	if err := shareGroupParams.check(r); err != nil {
		return err
	}
	withID, _ := intParam(r, "group_id") // checked above
	level, _ := intParam(r, "group_access")
	sh := namespace.GroupShare{GroupID: g.ID, SharedWithGroupID: withID, Access: namespace.Role(level)}
	if v := r.params.Get("expires_at"); v != "" {
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return invalidParam("expires_at")
		}
		sh.ExpiresAt = &d
	}
	// The shared-with group must be one the sharer may see.
	if _, err := h.groupByID(r, withID, access.ViewNamespace); err != nil {
		return err
	}
	if err := h.cfg.Namespaces.ShareGroup(ctxOf(r), sh); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return &apiError{http.StatusConflict, "Shared group has already been taken"}
		}
		return err
	}
	return h.writeGroupDetail(w, r, http.StatusCreated, g)
}

// unshareGroup is DELETE /groups/:id/share/:group_id (owners).
func (h *Handler) unshareGroup(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.EditNamespace)
	if err != nil {
		return err
	}
	withID, err := pathInt(r, "group_id")
	if err != nil {
		return err
	}
	if err := h.cfg.Namespaces.UnshareGroup(ctxOf(r), g.ID, withID); err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return notFound("Group Link")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// transferProjectToGroup is POST /groups/:id/projects/:project_id: GitLab's administrators-only
// transfer of a project into the group. It answers the group (201).
func (h *Handler) transferProjectToGroup(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	ref := r.PathValue("project_id")
	var p *namespace.Project
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		p, err = h.cfg.Namespaces.Project(ctxOf(r), id)
	} else {
		p, err = h.cfg.Namespaces.ProjectByPath(ctxOf(r), ref)
	}
	if errors.Is(err, errkind.ErrNotFound) {
		return notFound("Project")
	}
	if err != nil {
		return err
	}
	if _, err := h.cfg.Namespaces.TransferProject(ctxOf(r), p.ID, g.ID, 0); err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusCreated, g)
}

var namespaceExistsParams = params{{name: "parent_id", typ: tInt}}

// namespaceExists is GET /namespaces/:namespace/exists (GitLab's path-availability check, any
// signed-in user): whether the path, top level or below parent_id, is taken by a group or (top
// level) a user, and free alternatives. Projects are left out, as GitLab leaves out project
// namespaces: a private project's existence is not told to who cannot see it.
func (h *Handler) namespaceExists(w http.ResponseWriter, r *request) error {
	if err := namespaceExistsParams.check(r); err != nil {
		return err
	}
	path := r.PathValue("id")
	if parent := r.params.Get("parent_id"); parent != "" {
		id, _ := strconv.ParseInt(parent, 10, 64)
		g, err := h.groupByID(r, id, access.ViewNamespace)
		if err != nil {
			return err
		}
		path = g.FullPath + "/" + path
	}
	taken := func(p string) (bool, error) {
		for _, find := range []func() error{
			func() error { _, err := h.cfg.Namespaces.GroupByPath(ctxOf(r), p); return err },
			func() error {
				if strings.Contains(p, "/") {
					return errkind.ErrNotFound
				}
				_, err := h.cfg.Namespaces.UserByUsername(ctxOf(r), p)
				return err
			},
		} {
			switch err := find(); {
			case err == nil:
				return true, nil
			case !errors.Is(err, errkind.ErrNotFound):
				return false, err
			}
		}
		return false, nil
	}
	exists, err := taken(path)
	if err != nil {
		return err
	}
	suggests := []string{}
	if exists {
		for n := 1; n < 100 && len(suggests) == 0; n++ {
			candidate := fmt.Sprintf("%s%d", path, n)
			used, err := taken(candidate)
			if err != nil {
				return err
			}
			if !used {
				suggests = append(suggests, candidate[strings.LastIndex(candidate, "/")+1:])
			}
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"exists": exists, "suggests": suggests})
	return nil
}
