package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The project lifecycle beyond create (docs/gitlab-compatibility.md): edit, delete, transfer,
// and the project's ancestor groups.

// namespaceTarget is where a project goes: a group, or a user's personal namespace.
type namespaceTarget struct {
	groupID, userID int64
}

// namespaceByID resolves a namespace id (a group's or a personal namespace's) and checks the
// principal may put a project there: act on a group, or the namespace being the principal's own
// (administrators: anyone's). A namespace the principal may not see is a 404.
func (h *Handler) namespaceByID(r *request, id int64, act access.Action) (namespaceTarget, error) {
	g, err := h.cfg.Namespaces.Group(ctxOf(r), id)
	if err == nil {
		if err := h.authorize(r, access.Resource{Group: g}, act, "Namespace"); err != nil {
			return namespaceTarget{}, err
		}
		return namespaceTarget{groupID: g.ID}, nil
	}
	if !errors.Is(err, errkind.ErrNotFound) {
		return namespaceTarget{}, err
	}
	u, err := h.cfg.Namespaces.UserByNamespaceID(ctxOf(r), id)
	return h.userTarget(r, u, err)
}

// namespaceByRef is namespaceByID for an id or a full path (a group's, or a username).
func (h *Handler) namespaceByRef(r *request, ref string, act access.Action) (namespaceTarget, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return h.namespaceByID(r, id, act)
	}
	g, err := h.cfg.Namespaces.GroupByPath(ctxOf(r), ref)
	if err == nil {
		if err := h.authorize(r, access.Resource{Group: g}, act, "Namespace"); err != nil {
			return namespaceTarget{}, err
		}
		return namespaceTarget{groupID: g.ID}, nil
	}
	if !errors.Is(err, errkind.ErrNotFound) {
		return namespaceTarget{}, err
	}
	u, err := h.cfg.Namespaces.UserByUsername(ctxOf(r), ref)
	return h.userTarget(r, u, err)
}

// userTarget allows a personal namespace to its owner and administrators only; to others it
// does not exist.
func (h *Handler) userTarget(r *request, u *namespace.User, err error) (namespaceTarget, error) {
	if errors.Is(err, errkind.ErrNotFound) {
		return namespaceTarget{}, notFound("Namespace")
	}
	if err != nil {
		return namespaceTarget{}, err
	}
	me := r.principal.User
	if me.ID != u.ID && !me.Admin {
		return namespaceTarget{}, notFound("Namespace")
	}
	if err := h.requireAPIScope(r); err != nil {
		return namespaceTarget{}, err
	}
	return namespaceTarget{userID: u.ID}, nil
}

// projectEditParams are the PUT /projects/:id parameters Gatehouse supports; any other is
// refused with 400 rather than ignored.
var projectEditParams = []string{"id", "name", "path", "description", "visibility", "default_branch",
	"external_authorization_classification_label"}

// updateProject is PUT /projects/:id: as GitLab, admin_project (maintainer+) for any change, and
// rename_project / change_visibility_level (owner) for name, path and visibility. The
// classification label stays the administrators' (external authorization).
func (h *Handler) updateProject(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.EditNamespace)
	if err != nil {
		return err
	}
	var decl params
	for _, name := range projectEditParams {
		decl = append(decl, param{name: name, typ: tString})
	}
	if err := decl.check(r); err != nil {
		return err
	}
	if len(r.params) == 0 {
		// Grape's at_least_one_of.
		return &paramsError{[]string{strings.Join(projectEditParams, ", ") + " are missing, at least one parameter must be provided"}}
	}
	in := namespace.UpdateProjectInput{Name: optParam(r, "name"), Path: optParam(r, "path"), Description: optParam(r, "description"),
		Visibility: optParam(r, "visibility"), DefaultBranch: optParam(r, "default_branch")}
	if in.Name != nil || in.Path != nil || in.Visibility != nil {
		if err := h.authorize(r, access.Resource{Project: p}, access.OwnNamespace, "Project"); err != nil {
			return err
		}
	}
	const labelParam = "external_authorization_classification_label"
	if _, ok := r.params[labelParam]; ok {
		if h.cfg.ExternalAuthorization == nil {
			return unsupportedParam(labelParam, "external authorization is not configured")
		}
		if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
			return err
		}
		if err := h.cfg.ExternalAuthorization.SetProjectLabel(ctxOf(r), p.ID, r.params.Get(labelParam)); err != nil {
			if errors.Is(err, access.ErrInvalidSetting) {
				return invalidSetting(err, labelParam)
			}
			return err
		}
	}
	p, err = h.cfg.Namespaces.UpdateProject(ctxOf(r), p.ID, in)
	if err != nil {
		return err
	}
	return h.writeProject(w, r, http.StatusOK, p)
}

// optParam is parameter k when the request has it (even empty), else nil: PUT changes only
// what it names.
func optParam(r *request, k string) *string {
	if vs, ok := r.params[k]; ok && len(vs) > 0 {
		return &vs[0]
	}
	return nil
}

// onlyParams is the parameter layer (params.go) for endpoints that read their parameters
// themselves: each of allowed, with the paging parameters, is declared (as a list, which takes
// one value or several, leaving the reading to the endpoint), so any other parameter is refused
// in Grape's form rather than ignored.
func onlyParams(r *request, allowed ...string) error {
	ps := make(params, 0, len(allowed))
	for _, name := range allowed {
		ps = append(ps, param{name: name, typ: tList})
	}
	return ps.with(pagingParams).check(r)
}

// accepted is GitLab's answer to a deletion it schedules. Gatehouse deletes before answering,
// so the resource is gone once the 202 arrives.
func accepted(w http.ResponseWriter) error {
	writeMessage(w, http.StatusAccepted, "202 Accepted")
	return nil
}

// deleteProject is DELETE /projects/:id (owners): the project, its repository, images, packages,
// deploy tokens and members go.
func (h *Handler) deleteProject(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.OwnNamespace)
	if err != nil {
		return err
	}
	if err := h.cfg.Namespaces.DeleteProject(ctxOf(r), p.ID); err != nil {
		return err
	}
	return accepted(w)
}

// transferProject is PUT /projects/:id/transfer?namespace=<id or path> (owners of the project,
// who may create projects in the target).
func (h *Handler) transferProject(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.OwnNamespace)
	if err != nil {
		return err
	}
	if err := (params{{name: "namespace", typ: tString, required: true}}).check(r); err != nil {
		return err
	}
	ref := r.params.Get("namespace")
	if ref == "" {
		return missingParams("namespace")
	}
	target, err := h.namespaceByRef(r, ref, access.CreateInNamespace)
	if err != nil {
		return err
	}
	p, err = h.cfg.Namespaces.TransferProject(ctxOf(r), p.ID, target.groupID, target.userID)
	if err != nil {
		return err
	}
	return h.writeProject(w, r, http.StatusOK, p)
}

// projectGroups is GET /projects/:id/groups: the project's group and its ancestors the principal
// may view, nearest first as GitLab lists them. search and skip_groups filter; with_shared is
// refused (no group sharing).
func (h *Handler) projectGroups(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	if err := projectGroupsParams.check(r); err != nil {
		return err
	}
	if boolParam(r, "with_shared") {
		return unsupportedParam("with_shared", "Gatehouse shares no groups with projects")
	}
	skip, err := idList(r, "skip_groups")
	if err != nil {
		return err
	}
	search := strings.ToLower(r.params.Get("search"))
	var groups []*namespace.Group
	for i := len(p.GroupAncestry) - 1; i >= 0; i-- {
		id := p.GroupAncestry[i]
		if slices.Contains(skip, id) {
			continue
		}
		g, err := h.cfg.Namespaces.Group(ctxOf(r), id)
		if err != nil {
			return err
		}
		if search == "" || strings.Contains(strings.ToLower(g.Name), search) || strings.Contains(strings.ToLower(g.Path), search) {
			groups = append(groups, g)
		}
	}
	out, err := h.visibleGroups(r, groups)
	if err != nil {
		return err
	}
	paginate(w, r, out)
	return nil
}

// projectGroupsParams are GET /projects/:id/groups's; with_shared=false is what Gatehouse does.
var projectGroupsParams = params{{name: "search", typ: tString}, {name: "skip_groups", typ: tIntList},
	{name: "with_shared", typ: tBool}, {name: "shared_min_access_level", unsupported: true}}.with(pagingParams)

// idList reads a list of ids (skip_groups[]=1&skip_groups[]=2 or a JSON array).
func idList(r *request, name string) ([]int64, error) {
	var out []int64
	for _, v := range r.params[name] {
		for _, part := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil {
				return nil, invalidParam(name)
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// writeGroup answers with g's JSON.
func (h *Handler) writeGroup(w http.ResponseWriter, r *request, status int, g *namespace.Group) error {
	httpx.WriteJSON(w, status, h.groupView(r, g))
	return nil
}
