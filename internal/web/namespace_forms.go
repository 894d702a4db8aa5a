package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The new group, subgroup and project forms and Settings › General of groups and projects
// (docs/design.md §6.9): GitLab's paths, the API's rules (namespace.Service decides what is
// valid, the gate who may), and GitLab's "type the path to confirm" for changing a path,
// transferring and deleting.

// fixedPaths are the pages of a kind that has no group or project in its path.
var fixedPaths = map[routeKind]string{newGroupRoute: "/groups/new", newProjectRoute: "/projects/new"}

// namespaceFormPages are the route table's entries for these pages. A transfer decides
// own_namespace, then create_in_namespace on the target group (none for the top level or the
// user's own namespace), as the API's.
var namespaceFormPages = []uiRoute{
	{newGroupRoute, actShow, readPostMethods, gate.SignedIn("a top-level group may be created by any signed-in user, as through the API; " +
		"a subgroup (parent_id) decides create_in_namespace on its parent")},
	{newProjectRoute, actShow, readPostMethods, gate.SignedIn("a project in the user's own namespace needs only a signed-in user; one in a group " +
		"(namespace_id) decides create_in_namespace on the group; the namespace choices are filtered").Filtered(access.CreateInNamespace)},
	{groupRoute, actEdit, readPostMethods, gate.Decide(access.EditNamespace)},
	{groupRoute, actPath, postMethods, gate.Decide(access.OwnNamespace)},
	{groupRoute, actTransfer, postMethods, gate.Decide(access.OwnNamespace)},
	{groupRoute, actDelete, postMethods, gate.Decide(access.OwnNamespace)},
	// Then own_namespace when the name or the visibility is sent, as the API's PUT.
	{projectRoute, actProjectEdit, readPostMethods, gate.Decide(access.EditNamespace)},
	{projectRoute, actPath, postMethods, gate.Decide(access.OwnNamespace)},
	{projectRoute, actTransfer, postMethods, gate.Decide(access.OwnNamespace)},
	{projectRoute, actDelete, postMethods, gate.Decide(access.OwnNamespace)},
}

// parseNamespaceFormRoute reads /groups/new, /projects/new and a project's /<path>/edit (GitLab's
// Settings › General). "new" is a reserved top-level name, so no group is /groups/new;
// /<a>/<b>/edit is project a/b's settings, or the page of a project a/b/edit when a/b is not a
// project (a group and a project never share a path; handleProjectEdit falls back).
func parseNamespaceFormRoute(p string) (route, bool) {
	switch p {
	case "/groups/new":
		return route{kind: newGroupRoute}, true
	case "/projects/new":
		return route{kind: newProjectRoute}, true
	}
	full, ok := strings.CutSuffix(strings.TrimPrefix(p, "/"), "/edit")
	if !ok || strings.HasPrefix(p, "/groups/") || strings.Contains(full, "/-/") {
		return route{}, false
	}
	segs := strings.Split(full, "/")
	if len(segs) < 2 || serverPaths[strings.ToLower(segs[0])] {
		return route{}, false
	}
	for _, s := range segs {
		if namespace.ValidatePath("path", s) != nil {
			return route{}, false
		}
	}
	return route{kind: projectRoute, path: full, action: actProjectEdit}, true
}

// settingsTailAction is the action of a "/-/<tail>" below a group or project.
func settingsTailAction(kind routeKind, tail string) (string, bool) {
	switch tail {
	case actPath, actTransfer, actDelete:
		return tail, true
	case actEdit:
		return actEdit, kind == groupRoute
	}
	return "", false
}

func isNamespaceFormRoute(rt route) bool {
	switch {
	case rt.kind == newGroupRoute || rt.kind == newProjectRoute:
		return true
	}
	switch rt.action {
	case actEdit, actProjectEdit, actPath, actTransfer, actDelete:
		return true
	}
	return false
}

func (h *Handler) handleNamespaceForm(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	if rt.kind == newGroupRoute {
		return h.handleNewGroup(w, r, sess)
	}
	if rt.kind == newProjectRoute {
		return h.handleNewProject(w, r, sess)
	}
	if rt.kind == groupRoute {
		return h.handleGroupSettings(w, r, sess, rt)
	}
	return h.handleProjectSettings(w, r, sess, rt)
}

// slugify derives a path from a name as GitLab's forms do: lower-case, each run of characters
// other than a-z, 0-9, '_', '.' and '-' becomes '-', and leading, trailing and repeated '-' go.
// assets/gatehouse.js does the same in the browser.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(strings.TrimSpace(name)) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' {
			b.WriteRune(c)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// decide asks the gate for act on res and maps a refusal to the page to answer: 404 when the user
// may not know res exists, 403 when they may see it but not do act.
func (h *Handler) decide(r *http.Request, sess *session, res access.Resource, act access.Action) error {
	d, err := h.authorize(r, sess, res, act)
	if err != nil {
		return err
	}
	switch d.Denial {
	case access.Allowed:
		return nil
	case access.Forbidden:
		return errForbidden
	}
	return errNotFound
}

// groupFor loads a group by full path and decides act on it.
func (h *Handler) groupFor(r *http.Request, sess *session, fullPath string, act access.Action) (*namespace.Group, error) {
	g, err := h.cfg.Namespaces.GroupByPath(r.Context(), fullPath)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return g, h.decide(r, sess, access.Resource{Group: g}, act)
}

// groupByID loads the group a form names by id and decides act on it (the API's groupByID).
func (h *Handler) groupByID(r *http.Request, sess *session, id int64, act access.Action) (*namespace.Group, error) {
	g, err := h.cfg.Namespaces.Group(r.Context(), id)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return g, h.decide(r, sess, access.Resource{Group: g}, act)
}

// projectFor loads a project by full path and decides act on it.
func (h *Handler) projectFor(r *http.Request, sess *session, fullPath string, act access.Action) (*namespace.Project, error) {
	p, err := h.cfg.Namespaces.ProjectByPath(r.Context(), fullPath)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return p, h.decide(r, sess, access.Resource{Project: p}, act)
}

// idParam reads an optional positive id from a query or form value; ok is false for a malformed one.
func idParam(v string) (int64, bool) {
	if v == "" {
		return 0, true
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0
}

// visOption is one visibility radio button.
type visOption struct {
	Value, Label, Description string
	Checked, Disabled         bool
	// Reason says why a disabled option is not available.
	Reason string
}

var visibilityLabels = []struct {
	v                  namespace.Visibility
	label, group, proj string
}{
	{namespace.Private, "Private", "The group and its projects can only be viewed by members.",
		"Project access must be granted explicitly to each user. If this project is part of a group, access is granted to members of the group."},
	{namespace.Internal, "Internal", "The group and any internal projects can be viewed by any signed-in user.",
		"The project can be accessed by any signed-in user."},
	{namespace.Public, "Public", "The group and any public projects can be viewed without any authentication.",
		"The project can be accessed without any authentication."},
}

// visibilityOptions are the radio buttons with selected checked; options more visible than
// limit (when set) are disabled with the reason, as GitLab shows them.
func visibilityOptions(forGroup bool, selected string, limit *namespace.Group) []visOption {
	var out []visOption
	for _, l := range visibilityLabels {
		o := visOption{Value: string(l.v), Label: l.label, Description: l.proj, Checked: string(l.v) == selected}
		if forGroup {
			o.Description = l.group
		}
		if limit != nil && l.v.MoreVisibleThan(limit.Visibility) {
			o.Disabled, o.Checked = true, false
			o.Reason = "Not available: the parent group " + limit.FullPath + " is " + string(limit.Visibility) + "."
		}
		out = append(out, o)
	}
	return out
}

// nsFieldLabels name the fields of these forms in messages.
var nsFieldLabels = map[string]string{"name": "Name", "path": "Path", "description": "Description",
	"visibility_level": "Visibility level", "visibility": "Visibility level", "parent_id": "Parent group",
	"namespace_id": "Namespace", "new_namespace": "Namespace", "group": "Group"}

// validation turns a domain refusal into a form error; ok is false for any other error, which
// the caller returns.
func validation(err error, e *formErrors, fieldOf func(string) string) bool {
	var ve *errkind.ValidationError
	if errors.As(err, &ve) {
		label := nsFieldLabels[ve.Field]
		if label == "" {
			label = ve.Field
		}
		msg := label + " " + ve.Reason
		if ve.Field == "visibility_level" || ve.Field == "new_namespace" {
			msg = ve.Reason // GitLab's own sentence
		}
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
		e.add(fieldOf(ve.Field), msg)
		return true
	}
	return false
}

// nsForm is a create or settings form's values, kept when it is shown again.
type nsForm struct {
	Name, Path, Description, Visibility string
	// ParentID (new group) or NamespaceID (new project, transfer target) as sent.
	ParentID, NamespaceID string
	Confirm               string
}

// ---- New group and subgroup ----

type newGroupData struct {
	Form         nsForm
	Parent       *namespace.Group
	PathPrefix   string
	Visibilities []visOption
	Errors       formErrors
}

// handleNewGroup is /groups/new[?parent_id=N]: GitLab's "Create group" and "Create subgroup".
func (h *Handler) handleNewGroup(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := nsForm{ParentID: r.FormValue("parent_id"), Visibility: string(namespace.Private)}
	parentID, ok := idParam(f.ParentID)
	if !ok {
		return errNotFound
	}
	var parent *namespace.Group
	if parentID != 0 {
		var err error
		if parent, err = h.groupByID(r, sess, parentID, access.CreateInNamespace); err != nil {
			return err
		}
	}
	d := newGroupData{Parent: parent, PathPrefix: h.cfg.ExternalURL + "/"}
	if parent != nil {
		d.PathPrefix += parent.FullPath + "/"
		if parent.Visibility.MoreVisibleThan(namespace.Visibility(f.Visibility)) {
			f.Visibility = string(namespace.Private)
		}
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		f.Name, f.Path = r.PostFormValue("name"), strings.TrimSpace(r.PostFormValue("path"))
		f.Description, f.Visibility = r.PostFormValue("description"), r.PostFormValue("visibility")
		in := namespace.CreateGroupInput{Name: f.Name, Path: f.Path, ParentID: parentID, Description: f.Description, Visibility: f.Visibility}
		if in.Path == "" {
			in.Path = slugify(f.Name)
		}
		g, err := h.cfg.Namespaces.CreateGroupAs(r.Context(), sess.user.ID, in)
		if err == nil {
			http.Redirect(w, r, basePath(groupRoute, g.FullPath)+"?created=1", http.StatusSeeOther)
			return nil
		}
		if !validation(err, &d.Errors, createField) {
			return err
		}
		status = http.StatusUnprocessableEntity
	}
	d.Form = f
	d.Visibilities = visibilityOptions(true, f.Visibility, parent)
	title, crumbs := "New group", []crumb{{Label: "New group", Href: "/groups/new"}}
	if parent != nil {
		title = "New subgroup"
		crumbs = append(groupCrumbs(parent.FullPath), crumb{Label: "New subgroup", Href: "/groups/new?parent_id=" + strconv.FormatInt(parent.ID, 10)})
	}
	h.render(w, r, status, "group_new", &page{Title: title, User: sess.user, CSRF: sess.csrfToken(), Breadcrumbs: crumbs, Data: d})
	return nil
}

// createField is the form field a create refusal belongs to.
func createField(f string) string {
	switch f {
	case "visibility_level":
		return "visibility"
	case "parent_id", "namespace_id":
		return "namespace_id"
	}
	return f
}

// ---- New project ----

// nsChoice is a namespace a project may go to.
type nsChoice struct {
	ID       int64
	Label    string
	Selected bool
	// Max is the most visible a project there may be ("" for no limit), for the script.
	Max string
}

type newProjectData struct {
	Form         nsForm
	Namespaces   []nsChoice
	Visibilities []visOption
	Errors       formErrors
	BaseURL      string
}

// projectTarget is where a project goes: a group, or a user's personal namespace.
type projectTarget struct {
	group  *namespace.Group
	userID int64
}

// namespaceTarget resolves a namespace id (a group's or a personal namespace's; their ids never
// meet) as the API's namespaceByID: a group decides create_in_namespace, a personal namespace is
// only its owner's (and an administrator's); to anyone else it does not exist.
func (h *Handler) namespaceTarget(r *http.Request, sess *session, id int64) (projectTarget, error) {
	g, err := h.cfg.Namespaces.Group(r.Context(), id)
	if err == nil {
		return projectTarget{group: g}, h.decide(r, sess, access.Resource{Group: g}, access.CreateInNamespace)
	}
	if !errors.Is(err, errkind.ErrNotFound) {
		return projectTarget{}, err
	}
	u, err := h.cfg.Namespaces.UserByNamespaceID(r.Context(), id)
	if errors.Is(err, errkind.ErrNotFound) {
		return projectTarget{}, errNotFound
	}
	if err != nil {
		return projectTarget{}, err
	}
	if u.ID != sess.user.ID && !sess.user.Admin {
		return projectTarget{}, errNotFound
	}
	return projectTarget{userID: u.ID}, nil
}

// creatableGroups are the groups the user may create subgroups and projects in, by full path
// (a listing: filtered at the gate).
func (h *Handler) creatableGroups(r *http.Request, sess *session) ([]*namespace.Group, error) {
	all, err := h.cfg.Namespaces.ListGroups(r.Context())
	if err != nil {
		return nil, err
	}
	return h.permittedGroups(r, sess, all, access.CreateInNamespace)
}

// projectNamespaces are the namespace choices: the user's own, then the groups they may create in.
func (h *Handler) projectNamespaces(r *http.Request, sess *session, selected int64, skip func(*namespace.Group) bool) ([]nsChoice, error) {
	groups, err := h.creatableGroups(r, sess)
	if err != nil {
		return nil, err
	}
	out := []nsChoice{{ID: sess.user.NamespaceID, Label: sess.user.Username + " (your personal namespace)", Selected: selected == sess.user.NamespaceID}}
	for _, g := range groups {
		if skip != nil && skip(g) {
			continue
		}
		out = append(out, nsChoice{ID: g.ID, Label: g.FullPath, Selected: selected == g.ID, Max: string(g.Visibility)})
	}
	return out, nil
}

// handleNewProject is /projects/new[?namespace_id=N]: GitLab's "Create blank project".
func (h *Handler) handleNewProject(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := nsForm{NamespaceID: r.FormValue("namespace_id"), Visibility: string(namespace.Private)}
	nsID, ok := idParam(f.NamespaceID)
	if !ok {
		return errNotFound
	}
	if nsID == 0 {
		nsID = sess.user.NamespaceID
	}
	target, err := h.namespaceTarget(r, sess, nsID)
	if err != nil {
		return err
	}
	d := newProjectData{BaseURL: h.cfg.ExternalURL + "/"}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		f.Name, f.Path = r.PostFormValue("name"), strings.TrimSpace(r.PostFormValue("path"))
		f.Description, f.Visibility = r.PostFormValue("description"), r.PostFormValue("visibility")
		in := namespace.CreateProjectInput{Name: f.Name, Path: f.Path, Description: f.Description, Visibility: f.Visibility, OwnerUserID: target.userID}
		if target.group != nil {
			in.GroupID = target.group.ID
		}
		if in.Path == "" {
			in.Path = slugify(f.Name)
		}
		p, err := h.cfg.Namespaces.CreateProject(r.Context(), in)
		if err == nil {
			http.Redirect(w, r, basePath(projectRoute, p.FullPath)+"?created=1", http.StatusSeeOther)
			return nil
		}
		if !validation(err, &d.Errors, createField) {
			return err
		}
		status = http.StatusUnprocessableEntity
	}
	if d.Namespaces, err = h.projectNamespaces(r, sess, nsID, nil); err != nil {
		return err
	}
	if target.group != nil && !containsChoice(d.Namespaces, nsID) {
		// Allowed by the decision but not listed (never expected): offer it anyway.
		d.Namespaces = append(d.Namespaces, nsChoice{ID: nsID, Label: target.group.FullPath, Selected: true, Max: string(target.group.Visibility)})
	}
	f.NamespaceID = strconv.FormatInt(nsID, 10)
	d.Form = f
	d.Visibilities = visibilityOptions(false, f.Visibility, target.group)
	crumbs := []crumb{{Label: "New project", Href: "/projects/new"}}
	if target.group != nil {
		crumbs = append(groupCrumbs(target.group.FullPath), crumb{Label: "New project", Href: "/projects/new?namespace_id=" + f.NamespaceID})
	}
	h.render(w, r, status, "project_new", &page{Title: "New project", User: sess.user, CSRF: sess.csrfToken(), Breadcrumbs: crumbs, Data: d})
	return nil
}

func containsChoice(list []nsChoice, id int64) bool {
	for _, c := range list {
		if c.ID == id {
			return true
		}
	}
	return false
}

// ---- Settings › General ----

// settingsData is Settings › General of a group or a project.
type settingsData struct {
	Kind     string // "group" or "project"
	Name     string
	FullPath string
	// Base is the group's or project's page; Edit its settings page.
	Base, Edit string
	// PathPrefix is the URL up to the group's or project's own path; Registry the image names'
	// host (the external URL without its scheme).
	PathPrefix, Registry string
	// CloneURL is a project's HTTP clone URL today.
	CloneURL string
	// CanOwn shows the owner's sections (name and visibility of a project, path, transfer, delete).
	CanOwn bool
	// Section is the section whose form Errors belong to: general, path, transfer or delete.
	Section      string
	Form         nsForm
	Visibilities []visOption
	Errors       formErrors
	// Targets are the transfer choices; TopLevel offers "No parent group" (groups only).
	Targets  []nsChoice
	TopLevel bool
	// Subgroups and Projects count what a group holds, for the delete warning.
	Subgroups, Projects int
}

// FailureHeading heads the error summary of the section that failed, in GitLab's words.
func (d settingsData) FailureHeading() string {
	switch d.Section {
	case "general":
		return "The " + d.Kind + " was not updated:"
	case "path":
		if d.Kind == "group" {
			return "The group URL was not changed:"
		}
		return "The path was not changed:"
	case "transfer":
		return "The " + d.Kind + " was not transferred:"
	}
	return "The " + d.Kind + " was not deleted:"
}

// confirmed checks the type-to-confirm field: exactly the current full path, as GitLab asks.
func confirmed(r *http.Request, fullPath string, e *formErrors) bool {
	if r.PostFormValue("confirm_path") == fullPath {
		return true
	}
	e.add("confirm_path", "Type "+fullPath+" to confirm: the text you entered does not match.")
	return false
}

func settingsNotice(r *http.Request, kind, name string) string {
	q := r.URL.Query()
	switch {
	case q.Has("updated"):
		return kindTitle(kind) + " '" + name + "' was successfully updated."
	case q.Has("path_changed"):
		return kindTitle(kind) + " path was changed. The old URLs no longer work."
	case q.Has("transferred"):
		return kindTitle(kind) + " '" + name + "' was successfully transferred."
	}
	return ""
}

func kindTitle(kind string) string {
	if kind == "group" {
		return "Group"
	}
	return "Project"
}

// handleGroupSettings serves /groups/<path>/-/edit and its path, transfer and delete actions.
func (h *Handler) handleGroupSettings(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	act := access.OwnNamespace
	if rt.action == actEdit {
		act = access.EditNamespace
	}
	g, err := h.groupFor(r, sess, rt.path, act)
	if err != nil {
		return err
	}
	canOwn, err := h.allowed(r, sess, access.Resource{Group: g}, access.OwnNamespace)
	if err != nil {
		return err
	}
	d := settingsData{Kind: "group", CanOwn: canOwn, Form: nsForm{Name: g.Name, Path: g.Path, Description: g.Description, Visibility: string(g.Visibility)}}
	ctx := r.Context()
	if r.Method == http.MethodPost {
		switch rt.action {
		case actEdit:
			d.Section = "general"
			d.Form.Name, d.Form.Description, d.Form.Visibility = r.PostFormValue("name"), r.PostFormValue("description"), r.PostFormValue("visibility")
			in := namespace.UpdateGroupInput{Name: &d.Form.Name, Description: &d.Form.Description, Visibility: &d.Form.Visibility}
			if _, err = h.cfg.Namespaces.UpdateGroup(ctx, g.ID, in); err == nil {
				http.Redirect(w, r, basePath(groupRoute, g.FullPath)+"/-/edit?updated=1", http.StatusSeeOther)
				return nil
			}
		case actPath:
			d.Section = "path"
			d.Form.Path, d.Form.Confirm = strings.TrimSpace(r.PostFormValue("path")), r.PostFormValue("confirm_path")
			if !confirmed(r, g.FullPath, &d.Errors) {
				break
			}
			var moved *namespace.Group
			if moved, err = h.cfg.Namespaces.UpdateGroup(ctx, g.ID, namespace.UpdateGroupInput{Path: &d.Form.Path}); err == nil {
				http.Redirect(w, r, basePath(groupRoute, moved.FullPath)+"/-/edit?path_changed=1", http.StatusSeeOther)
				return nil
			}
		case actTransfer:
			d.Section = "transfer"
			d.Form.NamespaceID, d.Form.Confirm = r.PostFormValue("new_parent_group_id"), r.PostFormValue("confirm_path")
			parentID, ok := int64(0), d.Form.NamespaceID == "0"
			if !ok {
				if parentID, ok = idParam(d.Form.NamespaceID); !ok || parentID == 0 {
					d.Errors.add("new_parent_group_id", "Select a parent group, or No parent group.")
					break
				}
			}
			if !confirmed(r, g.FullPath, &d.Errors) {
				break
			}
			if parentID != 0 {
				// The API's mayPlaceGroupUnder: create_in_namespace on the new parent.
				if _, err := h.groupByID(r, sess, parentID, access.CreateInNamespace); err != nil {
					return err
				}
			}
			var moved *namespace.Group
			if moved, err = h.cfg.Namespaces.TransferGroupAs(ctx, sess.user.ID, g.ID, parentID); err == nil {
				return h.afterTransfer(w, r, sess, access.Resource{Group: moved}, basePath(groupRoute, moved.FullPath)+"/-/edit", "group")
			}
		case actDelete:
			d.Section = "delete"
			d.Form.Confirm = r.PostFormValue("confirm_path")
			if !confirmed(r, g.FullPath, &d.Errors) {
				break
			}
			if err = h.cfg.Namespaces.DeleteGroup(ctx, g.ID); err == nil {
				http.Redirect(w, r, "/?deleted=group", http.StatusSeeOther)
				return nil
			}
		}
		if err != nil && !validation(err, &d.Errors, settingsField(d.Section)) {
			return err
		}
	} else if rt.action != actEdit {
		return errNotFound // parseRoute and the table allow only POST here
	}
	return h.renderGroupSettings(w, r, sess, g, d)
}

// settingsField is the field a refusal belongs to in a section's form.
func settingsField(section string) func(string) string {
	return func(f string) string {
		switch {
		case section == "transfer":
			return "new_parent_group_id"
		case f == "visibility_level":
			return "visibility"
		}
		return f
	}
}

// afterTransfer redirects to the moved group's or project's settings, or home when the user
// may no longer edit it there: a transferrer whose ownership was inherited from the old parent
// loses it, as in GitLab.
func (h *Handler) afterTransfer(w http.ResponseWriter, r *http.Request, sess *session, res access.Resource, edit, kind string) error {
	ok, err := h.permits(r, sess, res, access.EditNamespace)
	if err != nil {
		return err
	}
	if ok {
		http.Redirect(w, r, edit+"?transferred=1", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, "/?transferred="+kind, http.StatusSeeOther)
	}
	return nil
}

func (h *Handler) renderGroupSettings(w http.ResponseWriter, r *http.Request, sess *session, g *namespace.Group, d settingsData) error {
	ctx := r.Context()
	d.Name, d.FullPath = g.Name, g.FullPath
	d.Base = basePath(groupRoute, g.FullPath)
	d.Edit = d.Base + "/-/edit"
	d.PathPrefix = h.cfg.ExternalURL + "/"
	d.Registry = registryHost(h.cfg.ExternalURL)
	var parent *namespace.Group
	if g.ParentID != 0 {
		var err error
		if parent, err = h.cfg.Namespaces.Group(ctx, g.ParentID); err != nil {
			return err
		}
		d.PathPrefix += parent.FullPath + "/"
	}
	d.Visibilities = visibilityOptions(true, d.Form.Visibility, parent)
	if d.CanOwn {
		below, err := h.cfg.Namespaces.Descendants(ctx, g)
		if err != nil {
			return err
		}
		projects, err := h.cfg.Namespaces.GroupProjects(ctx, g.ID, true)
		if err != nil {
			return err
		}
		d.Subgroups, d.Projects = len(below), len(projects)
		groups, err := h.creatableGroups(r, sess)
		if err != nil {
			return err
		}
		selected, _ := idParam(d.Form.NamespaceID)
		for _, t := range groups {
			// Not the group itself, below it, or its current parent.
			if t.ID == g.ID || t.ID == g.ParentID || containsID(t.Ancestry, g.ID) {
				continue
			}
			d.Targets = append(d.Targets, nsChoice{ID: t.ID, Label: t.FullPath, Selected: selected == t.ID})
		}
		d.TopLevel = g.ParentID != 0
	}
	status := http.StatusOK
	if len(d.Errors.ErrorList) > 0 {
		status = http.StatusUnprocessableEntity
	}
	crumbs := append(groupCrumbs(g.FullPath), crumb{Label: "General settings", Href: d.Edit})
	h.render(w, r, status, "group_edit", &page{Title: "General settings · " + g.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Notice: settingsNotice(r, "group", g.Name), Data: d})
	return nil
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// handleProjectSettings serves /<path>/edit and the project's path, transfer and delete actions.
func (h *Handler) handleProjectSettings(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	act := access.OwnNamespace
	if rt.action == actProjectEdit {
		act = access.EditNamespace
	}
	ctx := r.Context()
	if rt.action == actProjectEdit && r.Method != http.MethodPost {
		// /a/b/edit is the page of a project a/b/edit when a/b is no project (parseNamespaceFormRoute).
		if _, err := h.cfg.Namespaces.ProjectByPath(ctx, rt.path); errors.Is(err, errkind.ErrNotFound) {
			return h.handleProject(w, r, sess, route{kind: projectRoute, path: rt.path + "/edit"})
		}
	}
	p, err := h.projectFor(r, sess, rt.path, act)
	if err != nil {
		return err
	}
	canOwn, err := h.allowed(r, sess, access.Resource{Project: p}, access.OwnNamespace)
	if err != nil {
		return err
	}
	d := settingsData{Kind: "project", CanOwn: canOwn, Form: nsForm{Name: p.Name, Path: p.Path, Description: p.Description, Visibility: string(p.Visibility)}}
	if r.Method == http.MethodPost {
		switch rt.action {
		case actProjectEdit:
			d.Section = "general"
			in := namespace.UpdateProjectInput{Description: &d.Form.Description}
			d.Form.Description = r.PostFormValue("description")
			// As the API's PUT: the name and the visibility are the owners' (own_namespace).
			if _, sent := r.PostForm["name"]; sent {
				d.Form.Name, in.Name = r.PostFormValue("name"), &d.Form.Name
			}
			if _, sent := r.PostForm["visibility"]; sent {
				d.Form.Visibility, in.Visibility = r.PostFormValue("visibility"), &d.Form.Visibility
			}
			if (in.Name != nil || in.Visibility != nil) && !canOwn {
				if err := h.decide(r, sess, access.Resource{Project: p}, access.OwnNamespace); err != nil {
					return err
				}
			}
			if _, err = h.cfg.Namespaces.UpdateProject(ctx, p.ID, in); err == nil {
				http.Redirect(w, r, "/"+p.FullPath+"/edit?updated=1", http.StatusSeeOther)
				return nil
			}
		case actPath:
			d.Section = "path"
			d.Form.Path, d.Form.Confirm = strings.TrimSpace(r.PostFormValue("path")), r.PostFormValue("confirm_path")
			if !confirmed(r, p.FullPath, &d.Errors) {
				break
			}
			var moved *namespace.Project
			if moved, err = h.cfg.Namespaces.UpdateProject(ctx, p.ID, namespace.UpdateProjectInput{Path: &d.Form.Path}); err == nil {
				http.Redirect(w, r, "/"+moved.FullPath+"/edit?path_changed=1", http.StatusSeeOther)
				return nil
			}
		case actTransfer:
			d.Section = "transfer"
			d.Form.NamespaceID, d.Form.Confirm = r.PostFormValue("new_namespace_id"), r.PostFormValue("confirm_path")
			nsID, ok := idParam(d.Form.NamespaceID)
			if !ok || nsID == 0 {
				d.Errors.add("new_namespace_id", "Select a namespace.")
				break
			}
			if !confirmed(r, p.FullPath, &d.Errors) {
				break
			}
			target, err := h.namespaceTarget(r, sess, nsID)
			if err != nil {
				return err
			}
			var groupID int64
			if target.group != nil {
				groupID = target.group.ID
			}
			moved, err := h.cfg.Namespaces.TransferProject(ctx, p.ID, groupID, target.userID)
			if err == nil {
				return h.afterTransfer(w, r, sess, access.Resource{Project: moved}, "/"+moved.FullPath+"/edit", "project")
			}
			if !validation(err, &d.Errors, func(string) string { return "new_namespace_id" }) {
				return err
			}
		case actDelete:
			d.Section = "delete"
			d.Form.Confirm = r.PostFormValue("confirm_path")
			if !confirmed(r, p.FullPath, &d.Errors) {
				break
			}
			if err = h.cfg.Namespaces.DeleteProject(ctx, p.ID); err == nil {
				http.Redirect(w, r, "/?deleted=project", http.StatusSeeOther)
				return nil
			}
		}
		if err != nil && d.Section != "transfer" && !validation(err, &d.Errors, settingsField(d.Section)) {
			return err
		}
	} else if rt.action != actProjectEdit {
		return errNotFound
	}
	return h.renderProjectSettings(w, r, sess, p, d)
}

func (h *Handler) renderProjectSettings(w http.ResponseWriter, r *http.Request, sess *session, p *namespace.Project, d settingsData) error {
	ctx := r.Context()
	d.Name, d.FullPath = p.Name, p.FullPath
	d.Base = basePath(projectRoute, p.FullPath)
	d.Edit = d.Base + "/edit"
	d.PathPrefix = h.cfg.ExternalURL + "/" + p.NamespacePath() + "/"
	d.CloneURL = h.cfg.ExternalURL + "/" + p.FullPath + ".git"
	d.Registry = registryHost(h.cfg.ExternalURL)
	var group *namespace.Group
	if p.GroupID != 0 {
		var err error
		if group, err = h.cfg.Namespaces.Group(ctx, p.GroupID); err != nil {
			return err
		}
	}
	d.Visibilities = visibilityOptions(false, d.Form.Visibility, group)
	if d.CanOwn {
		selected, _ := idParam(d.Form.NamespaceID)
		targets, err := h.projectNamespaces(r, sess, selected, func(g *namespace.Group) bool { return g.ID == p.GroupID })
		if err != nil {
			return err
		}
		for _, t := range targets {
			if p.GroupID == 0 && t.ID == sess.user.NamespaceID && p.OwnerUserID == sess.user.ID {
				continue // already there
			}
			d.Targets = append(d.Targets, t)
		}
	}
	status := http.StatusOK
	if len(d.Errors.ErrorList) > 0 {
		status = http.StatusUnprocessableEntity
	}
	crumbs := append(projectCrumbs(p), crumb{Label: "General settings", Href: d.Edit})
	h.render(w, r, status, "project_edit", &page{Title: "General settings · " + p.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Notice: settingsNotice(r, "project", p.Name), Data: d})
	return nil
}

// ---- What the home, group and project pages show (pages.go) ----

// groupActions are the group page's buttons and its empty-state guidance.
type groupActions struct {
	CanCreate, CanEdit bool
}

func (h *Handler) groupPageActions(r *http.Request, sess *session, g *namespace.Group) (groupActions, error) {
	var a groupActions
	var err error
	if a.CanCreate, err = h.allowed(r, sess, access.Resource{Group: g}, access.CreateInNamespace); err != nil {
		return a, err
	}
	a.CanEdit, err = h.allowed(r, sess, access.Resource{Group: g}, access.EditNamespace)
	return a, err
}

// projectActions are the project page's settings link and its first-push guidance.
type projectActions struct {
	CanEdit bool
	// Empty is set when the repository has no commits: the page shows how to push the first.
	Empty bool
}

func (h *Handler) projectPageActions(r *http.Request, sess *session, p *namespace.Project) (projectActions, error) {
	var a projectActions
	var err error
	if a.CanEdit, err = h.allowed(r, sess, access.Resource{Project: p}, access.EditNamespace); err != nil {
		return a, err
	}
	if h.cfg.RepositoryEmpty != nil {
		a.Empty, err = h.cfg.RepositoryEmpty(r.Context(), p.ID)
	}
	return a, err
}

// createdNotice is the confirmation after a create form redirected to the new page.
func createdNotice(r *http.Request, kind, name string) string {
	if r.URL.Query().Has("created") {
		return kindTitle(kind) + " '" + name + "' was successfully created."
	}
	return ""
}

// deletedNotice is the home page's confirmation after a deletion.
func deletedNotice(r *http.Request) string {
	switch r.URL.Query().Get("deleted") {
	case "group":
		return "The group, its subgroups and their projects were deleted."
	case "project":
		return "The project was deleted."
	}
	switch r.URL.Query().Get("transferred") {
	case "group", "project":
		return "The " + r.URL.Query().Get("transferred") + " was transferred. You are not one of its owners there, so its settings are no longer yours."
	}
	return ""
}

// confirmField is a section's type-to-confirm field.
type confirmField struct {
	Section, FullPath, Value, Error string
}

// ConfirmFor is the type-to-confirm field of a settings section, with the value and the error
// kept when that section's form is shown again.
func (d settingsData) ConfirmFor(section string) confirmField {
	c := confirmField{Section: section, FullPath: d.FullPath}
	if d.Section == section {
		c.Value, c.Error = d.Form.Confirm, d.Errors.Errors["confirm_path"]
	}
	return c
}

// registryHost is the host of image names: the external URL without its scheme.
func registryHost(externalURL string) string {
	if _, rest, ok := strings.Cut(externalURL, "://"); ok {
		return rest
	}
	return externalURL
}
