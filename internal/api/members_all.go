package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// GET /groups/:id/members/all and /projects/:id/members/all (GitLab's members.rb): members
// direct and inherited from ancestor groups, each user once with their highest access level.
// Whoever may view the group or project may list them, as its direct members.

// effectiveMembers lists the members of {id} (group or project, by the route), deciding view.
func (h *Handler) effectiveMembers(r *request) ([]namespace.Member, error) {
	if strings.HasPrefix(r.URL.Path, "/api/v4/groups/") {
		g, err := h.group(r, access.ViewNamespace)
		if err != nil {
			return nil, err
		}
		return h.cfg.Namespaces.EffectiveMembers(ctxOf(r), g, nil)
	}
	p, err := h.project(r, access.ViewNamespace)
	if err != nil {
		return nil, err
	}
	return h.cfg.Namespaces.EffectiveMembers(ctxOf(r), nil, p)
}

func (h *Handler) listAllMembers(w http.ResponseWriter, r *request) error {
	members, err := h.effectiveMembers(r)
	if err != nil {
		return err
	}
	return h.writeMemberList(w, r, members)
}

// memberListParams are the filters GitLab's member lists take (direct and members/all).
var memberListParams = params{{name: "query", typ: tString}, {name: "user_ids", typ: tIntList}}.with(pagingParams)

// writeMemberList answers a member list: user_ids keeps those users, query matches a name or
// username case-insensitively (GitLab's member search); paginated.
func (h *Handler) writeMemberList(w http.ResponseWriter, r *request, members []namespace.Member) error {
	if err := memberListParams.check(r); err != nil {
		return err
	}
	var ids []int64
	for _, s := range splitList(r.params["user_ids"]) {
		id, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64) // checked: tIntList
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		members = slices.DeleteFunc(members, func(m namespace.Member) bool { return !slices.Contains(ids, m.UserID) })
	}
	out, err := h.membersView(r, members)
	if err != nil {
		return err
	}
	if q := strings.ToLower(r.params.Get("query")); q != "" {
		out = slices.DeleteFunc(out, func(m memberJSON) bool {
			return !strings.Contains(strings.ToLower(m.Name), q) && !strings.Contains(strings.ToLower(m.Username), q)
		})
	}
	paginate(w, r, out)
	return nil
}

func (h *Handler) getAllMember(w http.ResponseWriter, r *request) error {
	members, err := h.effectiveMembers(r)
	if err != nil {
		return err
	}
	if err := onlyParams(r); err != nil {
		return err
	}
	id, err := pathInt(r, "user_id")
	if err != nil {
		return err
	}
	i := slices.IndexFunc(members, func(m namespace.Member) bool { return m.UserID == id })
	if i < 0 {
		return notFound("Member")
	}
	out, err := h.membersView(r, members[i:i+1])
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, out[0])
	return nil
}
