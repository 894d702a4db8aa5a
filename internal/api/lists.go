package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The instance-wide lists (GET /projects, /groups, /users) with GitLab's filters, orders and
// pagination (docs/gitlab-compatibility.md). A filter GitLab has that Gatehouse does not
// implement is declared unsupported: a 400 naming it, never an unfiltered answer.

// sortKeyTime renders t so that string order is time order.
func sortKeyTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// accessLevels are GitLab's access_level values, for min_access_level.
var accessLevels = []string{"10", "15", "20", "30", "40", "50"}

var listProjectsParams = params{
	{name: "search", typ: tString},
	{name: "search_namespaces", typ: tBool},
	{name: "owned", typ: tBool},
	{name: "membership", typ: tBool},
	{name: "min_access_level", typ: tInt, values: accessLevels},
	{name: "visibility", typ: tString, values: []string{"private", "internal", "public"}},
	{name: "simple", typ: tBool},
	{name: "order_by", typ: tString, values: []string{"id", "name", "path", "created_at", "updated_at", "last_activity_at",
		"similarity", "star_count", "repository_size", "storage_size", "packages_size", "wiki_size"}},
	{name: "sort", typ: tString, values: []string{"asc", "desc"}},
	// Gatehouse has no archived or starred projects: false is every project, true none.
	{name: "archived", typ: tBool},
	{name: "starred", typ: tBool},
	{name: "statistics", unsupported: true},
	{name: "with_custom_attributes", unsupported: true},
	{name: "with_issues_enabled", unsupported: true},
	{name: "with_merge_requests_enabled", unsupported: true},
	{name: "with_programming_language", unsupported: true},
	{name: "last_activity_after", unsupported: true},
	{name: "last_activity_before", unsupported: true},
	{name: "updated_after", unsupported: true},
	{name: "updated_before", unsupported: true},
	{name: "topic", unsupported: true},
	{name: "topic_id", unsupported: true},
	{name: "imported", unsupported: true},
	{name: "include_hidden", unsupported: true},
	{name: "include_pending_delete", unsupported: true},
	{name: "marked_for_deletion_on", unsupported: true},
	{name: "repository_checksum_failed", unsupported: true},
	{name: "wiki_checksum_failed", unsupported: true},
	{name: "repository_storage", unsupported: true},
	{name: "active", unsupported: true},
}.with(keysetParams)

// projectOrders are the project orders Gatehouse keeps; GitLab's others (updated_at,
// last_activity_at, similarity, sizes, stars) are refused (unsupportedOrder).
var projectOrders = orders[*namespace.Project]{
	"id":         func(p *namespace.Project) string { return "" },
	"name":       func(p *namespace.Project) string { return strings.ToLower(p.Name) },
	"path":       func(p *namespace.Project) string { return strings.ToLower(p.Path) },
	"created_at": func(p *namespace.Project) string { return sortKeyTime(p.CreatedAt) },
}

func projectID(p *namespace.Project) int64 { return p.ID }

// projectKeyset: GitLab offers keyset pagination of projects ordered by id only.
var projectKeyset = keysetPaging[*namespace.Project]{id: projectID, keys: projectOrders, by: []string{"id"},
	def: "created_at", defSort: "desc"}

// unsupportedOrder refuses an order_by value GitLab accepts but the list does not keep.
func unsupportedOrder[T any](r *request, os orders[T]) error {
	if by := r.params.Get("order_by"); by != "" {
		if _, ok := os[by]; !ok {
			return &paramsError{[]string{"order_by " + by + " is not supported by Gatehouse"}}
		}
	}
	return nil
}

// idRange applies GitLab's id_after and id_before filters.
func idRange[T any](r *request, items []T, id func(T) int64) ([]T, error) {
	after, err := intParam(r, "id_after")
	if err != nil {
		return nil, err
	}
	before, err := intParam(r, "id_before")
	if err != nil {
		return nil, err
	}
	if r.params.Get("pagination") == "keyset" {
		return items, nil // the cursor, for paginateKeyset
	}
	return slices.DeleteFunc(items, func(x T) bool {
		return (after != 0 && id(x) <= after) || (before != 0 && id(x) >= before)
	}), nil
}

func (h *Handler) listProjects(w http.ResponseWriter, r *request) error {
	if err := listProjectsParams.check(r); err != nil {
		return err
	}
	all, err := h.cfg.Namespaces.ListProjects(ctxOf(r))
	if err != nil {
		return err
	}
	return h.writeProjects(w, r, all)
}

// writeProjects answers a project listing: all, as far as the gate lets the principal view
// them, narrowed by GitLab's project filters, ordered and paginated. Every project list uses it
// (a list scoped to a group passes that group's projects); check the list's params first,
// listProjectsParams with any filters of its own.
func (h *Handler) writeProjects(w http.ResponseWriter, r *request, all []*namespace.Project) error {
	if err := unsupportedOrder(r, projectOrders); err != nil {
		return err
	}
	search := strings.ToLower(r.params.Get("search"))
	minLevel, _ := intParam(r, "min_access_level")
	if boolParam(r, "owned") {
		minLevel = max(minLevel, int64(namespace.Owner))
	}
	if boolParam(r, "membership") {
		minLevel = max(minLevel, int64(namespace.Guest))
	}
	// The gate filters first, as every listing does; the filters then narrow what it let through.
	var projects []*namespace.Project
	for _, p := range all {
		ok, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Project: p}, access.ViewNamespace)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if vis := r.params.Get("visibility"); vis != "" && string(p.Visibility) != vis {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(p.Name), search) && !strings.Contains(strings.ToLower(p.Path), search) &&
			!(boolParam(r, "search_namespaces") && strings.Contains(strings.ToLower(p.FullPath), search)) {
			continue
		}
		if minLevel > 0 {
			if r.principal.User == nil {
				continue
			}
			role, err := h.cfg.Namespaces.ProjectRole(ctxOf(r), r.principal.User.ID, p)
			if err != nil {
				return err
			}
			if int64(role) < minLevel {
				continue
			}
		}
		projects = append(projects, p)
	}
	if boolParam(r, "archived") || boolParam(r, "starred") {
		projects = nil
	}
	projects, err := idRange(r, projects, projectID)
	if err != nil {
		return err
	}
	if err := orderBy(r, projects, projectOrders, projectID, "created_at", "desc"); err != nil {
		return err
	}
	simple := boolParam(r, "simple")
	out := make([]any, len(projects))
	for i, p := range projects {
		v, err := h.projectView(r, p)
		if err != nil {
			return err
		}
		out[i] = v
		if simple {
			out[i] = simpleView(v, simpleProjectFields)
		}
	}
	paginateKeyset(w, r, out, keysetPaging[any]{id: func(x any) int64 { return anyID(x) }, keys: orders[any]{"id": func(any) string { return "" }},
		by: projectKeyset.by, def: projectKeyset.def, defSort: projectKeyset.defSort})
	return nil
}

// simpleProjectFields are the fields of GitLab's simple project view (API::Entities::BasicProjectDetails).
var simpleProjectFields = []string{"id", "description", "name", "name_with_namespace", "path", "path_with_namespace",
	"created_at", "default_branch", "tag_list", "topics", "ssh_url_to_repo", "http_url_to_repo", "web_url", "readme_url",
	"forks_count", "avatar_url", "star_count", "last_activity_at", "namespace", "repository_storage"}

// simpleView keeps only fields of v's JSON; taking them from the full view keeps the two alike
// as the full one grows.
func simpleView(v any, fields []string) map[string]json.RawMessage {
	b, _ := json.Marshal(v)
	var all map[string]json.RawMessage
	_ = json.Unmarshal(b, &all)
	out := map[string]json.RawMessage{}
	for _, f := range fields {
		if x, ok := all[f]; ok {
			out[f] = x
		}
	}
	return out
}

// anyID reads the id of a rendered item (a view struct or simpleView's map).
func anyID(x any) int64 {
	switch v := x.(type) {
	case projectJSON:
		return v.ID
	case groupJSON:
		return v.ID
	case userJSON:
		return v.ID
	case map[string]json.RawMessage:
		n, _ := strconv.ParseInt(string(v["id"]), 10, 64)
		return n
	}
	return 0
}

var listGroupsParams = params{
	{name: "search", typ: tString},
	{name: "owned", typ: tBool},
	{name: "min_access_level", typ: tInt, values: accessLevels},
	{name: "top_level_only", typ: tBool},
	{name: "all_available", typ: tBool},
	{name: "visibility", typ: tString, values: []string{"private", "internal", "public"}},
	{name: "skip_groups", typ: tIntList},
	{name: "order_by", typ: tString, values: []string{"name", "path", "id", "similarity"}},
	{name: "sort", typ: tString, values: []string{"asc", "desc"}},
	{name: "statistics", unsupported: true},
	{name: "with_custom_attributes", unsupported: true},
	{name: "repository_storage", unsupported: true},
	{name: "marked_for_deletion_on", unsupported: true},
	{name: "active", unsupported: true},
}.with(keysetParams)

var groupOrders = orders[groupJSON]{
	"name": func(g groupJSON) string { return strings.ToLower(g.Name) },
	"path": func(g groupJSON) string { return strings.ToLower(g.Path) },
	"id":   func(groupJSON) string { return "" },
}

func groupID(g groupJSON) int64 { return g.ID }

// groupKeyset: GitLab offers keyset pagination of groups by name ascending, to anonymous
// requests only.
var groupKeyset = keysetPaging[groupJSON]{id: groupID, keys: groupOrders, by: []string{"name"}, sorts: []string{"asc"},
	def: "name", defSort: "asc", anonymousOnly: true}

// listGroups is GET /groups. As in GitLab, a signed-in non-administrator sees the groups they
// are a member of (directly or through an ancestor) unless all_available=true, which shows every
// group they may view; administrators and anonymous requests see all they may view.
func (h *Handler) listGroups(w http.ResponseWriter, r *request) error {
	if err := listGroupsParams.check(r); err != nil {
		return err
	}
	all, err := h.cfg.Namespaces.ListGroups(ctxOf(r))
	if err != nil {
		return err
	}
	return h.writeGroups(w, r, all)
}

// writeGroups answers a group listing as listGroups describes, from all: every group list
// uses it (subgroups pass the group's children); check the list's params first,
// listGroupsParams with any filters of its own.
func (h *Handler) writeGroups(w http.ResponseWriter, r *request, all []*namespace.Group) error {
	if err := unsupportedOrder(r, groupOrders); err != nil {
		return err
	}
	me := r.principal.User
	allAvailable := me == nil || me.Admin
	if _, set := r.params["all_available"]; set && me != nil {
		allAvailable = boolParam(r, "all_available")
	}
	minLevel, _ := intParam(r, "min_access_level")
	if boolParam(r, "owned") {
		minLevel = max(minLevel, int64(namespace.Owner))
	}
	if !allAvailable {
		minLevel = max(minLevel, int64(namespace.Guest))
	}
	skip := map[int64]bool{}
	for _, v := range splitList(r.params["skip_groups"]) {
		n, _ := strconv.ParseInt(v, 10, 64)
		skip[n] = true
	}
	// The gate filters first, as every listing does; the filters then narrow what it let through.
	visible, err := h.visibleGroups(r, all)
	if err != nil {
		return err
	}
	byID := map[int64]*namespace.Group{}
	for _, g := range all {
		byID[g.ID] = g
	}
	search := strings.ToLower(r.params.Get("search"))
	out := []groupJSON{}
	for _, j := range visible {
		g := byID[j.ID]
		if skip[g.ID] || (boolParam(r, "top_level_only") && g.ParentID != 0) {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(g.Name), search) && !strings.Contains(strings.ToLower(g.Path), search) {
			continue
		}
		if minLevel > 0 {
			if me == nil {
				continue
			}
			role, err := h.cfg.Namespaces.GroupRole(ctxOf(r), me.ID, g)
			if err != nil {
				return err
			}
			if int64(role) < minLevel {
				continue
			}
		}
		out = append(out, j)
	}
	if vis := r.params.Get("visibility"); vis != "" {
		out = slices.DeleteFunc(out, func(g groupJSON) bool { return g.Visibility != vis })
	}
	if out, err = idRange(r, out, groupID); err != nil {
		return err
	}
	if err := orderBy(r, out, groupOrders, groupID, "name", "asc"); err != nil {
		return err
	}
	paginateKeyset(w, r, out, groupKeyset)
	return nil
}

var listUsersParams = params{
	{name: "search", typ: tString},
	{name: "username", typ: tString},
	{name: "active", typ: tBool},
	{name: "blocked", typ: tBool},
	{name: "admins", typ: tBool},
	// Gatehouse has no external, internal or bot users: these exclusions change nothing.
	{name: "exclude_external", typ: tBool},
	{name: "exclude_internal", typ: tBool},
	{name: "without_project_bots", typ: tBool},
	{name: "humans", typ: tBool},
	{name: "order_by", typ: tString, values: []string{"id", "name", "username", "created_at", "updated_at"}},
	{name: "sort", typ: tString, values: []string{"asc", "desc"}},
	{name: "external", unsupported: true},
	{name: "extern_uid", unsupported: true},
	{name: "provider", unsupported: true},
	{name: "created_before", unsupported: true},
	{name: "created_after", unsupported: true},
	{name: "two_factor", unsupported: true},
	{name: "without_projects", unsupported: true},
	{name: "skip_ldap", unsupported: true},
	{name: "saml_provider_id", unsupported: true},
	{name: "auditors", unsupported: true},
	{name: "with_custom_attributes", unsupported: true},
	{name: "custom_attributes", unsupported: true},
	{name: "public_email", unsupported: true},
}.with(keysetParams)

var userOrders = orders[userJSON]{
	"id":         func(userJSON) string { return "" },
	"name":       func(u userJSON) string { return strings.ToLower(u.Name) },
	"username":   func(u userJSON) string { return strings.ToLower(u.Username) },
	"created_at": func(u userJSON) string { return u.CreatedAt },
}

func userID(u userJSON) int64 { return u.ID }

// userKeyset: GitLab offers keyset pagination of users by id, name, username, created_at (and
// updated_at, which Gatehouse does not keep).
var userKeyset = keysetPaging[userJSON]{id: userID, keys: userOrders, by: []string{"id", "name", "username", "created_at"},
	def: "id", defSort: "desc"}

func (h *Handler) listUsers(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.ViewUsers, "User"); err != nil {
		return err
	}
	if err := listUsersParams.check(r); err != nil {
		return err
	}
	if err := unsupportedOrder(r, userOrders); err != nil {
		return err
	}
	users, err := h.cfg.Namespaces.ListUsers(ctxOf(r))
	if err != nil {
		return err
	}
	me := r.principal.User
	want, search := r.params.Get("username"), strings.ToLower(r.params.Get("search"))
	out := []userJSON{}
	for _, u := range users {
		switch {
		case want != "" && !strings.EqualFold(want, u.Username),
			boolParam(r, "active") && u.Blocked,
			boolParam(r, "blocked") && !u.Blocked,
			boolParam(r, "admins") && !u.Admin:
			continue
		}
		// GitLab searches names and usernames, and emails only for administrators.
		if search != "" && !strings.Contains(strings.ToLower(u.Username), search) && !strings.Contains(strings.ToLower(u.Name), search) &&
			!(me != nil && me.Admin && strings.Contains(strings.ToLower(u.Email), search)) {
			continue
		}
		out = append(out, h.userView(r, u))
	}
	if boolParam(r, "admins") && (me == nil || !me.Admin) {
		out = nil // GitLab's admins filter is for administrators only
	}
	if out, err = idRange(r, out, userID); err != nil {
		return err
	}
	if err := orderBy(r, out, userOrders, userID, "id", "desc"); err != nil {
		return err
	}
	paginateKeyset(w, r, out, userKeyset)
	return nil
}
