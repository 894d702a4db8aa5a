package web

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

type homeData struct {
	Groups   []*namespace.Group
	Projects []*namespace.Project
}

// handleHome lists the groups and projects the user can see.
func (h *Handler) handleHome(w http.ResponseWriter, r *http.Request, sess *session) error {
	groups, err := h.cfg.Namespaces.ListGroups(r.Context())
	if err != nil {
		return err
	}
	projects, err := h.cfg.Namespaces.ListProjects(r.Context())
	if err != nil {
		return err
	}
	var d homeData
	if d.Groups, err = h.visibleGroups(r, sess, groups); err != nil {
		return err
	}
	if d.Projects, err = h.visibleProjects(r, sess, projects); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "home", &page{Title: "Your groups and projects", User: sess.user, CSRF: sess.csrfToken(), Notice: deletedNotice(r), Data: d})
	return nil
}

func (h *Handler) visibleGroups(r *http.Request, sess *session, all []*namespace.Group) ([]*namespace.Group, error) {
	return h.permittedGroups(r, sess, all, access.ViewNamespace)
}

// permittedGroups are the groups of all on which the gate permits act (a listing), by full path.
func (h *Handler) permittedGroups(r *http.Request, sess *session, all []*namespace.Group, act access.Action) ([]*namespace.Group, error) {
	r = r.WithContext(namespace.WithRoleCache(r.Context())) // one role lookup per group ancestry, not per entry
	var out []*namespace.Group
	for _, g := range all {
		ok, err := h.permits(r, sess, access.Resource{Group: g}, act)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullPath < out[j].FullPath })
	return out, nil
}

func (h *Handler) visibleProjects(r *http.Request, sess *session, all []*namespace.Project) ([]*namespace.Project, error) {
	r = r.WithContext(namespace.WithRoleCache(r.Context())) // one role lookup per group ancestry, not per entry
	var out []*namespace.Project
	for _, p := range all {
		ok, err := h.permits(r, sess, access.Resource{Project: p}, access.ViewNamespace)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullPath < out[j].FullPath })
	return out, nil
}

// loadGroup resolves a group path and checks the user may do act on it; 404 otherwise.
func (h *Handler) loadGroup(r *http.Request, sess *session, fullPath string, act access.Action) (*namespace.Group, error) {
	g, err := h.cfg.Namespaces.GroupByPath(r.Context(), fullPath)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	ok, err := h.allowed(r, sess, access.Resource{Group: g}, act)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound
	}
	return g, nil
}

// loadProject resolves a project path and checks the user may do act on it; 404 otherwise.
func (h *Handler) loadProject(r *http.Request, sess *session, fullPath string, act access.Action) (*namespace.Project, error) {
	p, err := h.cfg.Namespaces.ProjectByPath(r.Context(), fullPath)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	ok, err := h.allowed(r, sess, access.Resource{Project: p}, act)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound
	}
	return p, nil
}

// groupCrumbs are the breadcrumbs of a namespace path: one per group level.
func groupCrumbs(fullPath string) []crumb {
	var out []crumb
	segs := strings.Split(fullPath, "/")
	for i := range segs {
		out = append(out, crumb{Label: segs[i], Href: "/groups/" + strings.Join(segs[:i+1], "/")})
	}
	return out
}

func projectCrumbs(p *namespace.Project) []crumb {
	var out []crumb
	if p.GroupID != 0 {
		out = groupCrumbs(p.NamespacePath())
	} else {
		out = []crumb{{Label: p.NamespacePath()}}
	}
	return append(out, crumb{Label: p.Name, Href: "/" + p.FullPath})
}

type groupData struct {
	Group       *namespace.Group
	Subgroups   []*namespace.Group
	Projects    []*namespace.Project
	CanSettings bool
	Actions     groupActions // namespace_forms.go
}

// handleGroup shows a group's subgroups and projects.
func (h *Handler) handleGroup(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	g, err := h.loadGroup(r, sess, rt.path, access.ViewNamespace)
	if err != nil {
		return err
	}
	subs, err := h.cfg.Namespaces.Subgroups(r.Context(), g.ID)
	if err != nil {
		return err
	}
	all, err := h.cfg.Namespaces.ListProjects(r.Context())
	if err != nil {
		return err
	}
	var direct []*namespace.Project
	for _, p := range all {
		if p.GroupID == g.ID {
			direct = append(direct, p)
		}
	}
	d := groupData{Group: g}
	if d.Subgroups, err = h.visibleGroups(r, sess, subs); err != nil {
		return err
	}
	if d.Projects, err = h.visibleProjects(r, sess, direct); err != nil {
		return err
	}
	if d.CanSettings, err = h.allowed(r, sess, access.Resource{Group: g}, access.ListDeployTokens); err != nil {
		return err
	}
	if d.Actions, err = h.groupPageActions(r, sess, g); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "group", &page{Title: g.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: groupCrumbs(g.FullPath), Notice: createdNotice(r, "group", g.Name), Data: d})
	return nil
}

type projectData struct {
	Project     *namespace.Project
	CloneURL    string
	CanSettings bool
	Actions     projectActions // namespace_forms.go
	// Overview is the repository, registry and packages part (project_overview.go).
	Overview *projectOverview
}

// handleProject shows a project and how to clone it.
func (h *Handler) handleProject(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	p, err := h.loadProject(r, sess, rt.path, access.ViewNamespace)
	if err != nil {
		return err
	}
	d := projectData{Project: p, CloneURL: h.cfg.ExternalURL + "/" + p.FullPath + ".git"}
	if d.CanSettings, err = h.allowed(r, sess, access.Resource{Project: p}, access.ListDeployTokens); err != nil {
		return err
	}
	if d.Actions, err = h.projectPageActions(r, sess, p); err != nil {
		return err
	}
	if d.Overview, err = h.overview(r, sess, p); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "project", &page{Title: p.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: projectCrumbs(p), Notice: createdNotice(r, "project", p.Name), Data: d})
	return nil
}
