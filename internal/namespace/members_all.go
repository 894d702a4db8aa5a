package namespace

import (
	"cmp"
	"context"
	"slices"
)

// EffectiveMembers returns everyone with a role on a group (g) or a project (p, when g is nil):
// direct members, members of every ancestor group (for a project: of its group and the group's
// ancestors), and a personal project's namespace owner (an Owner, as GitLab makes them). Each
// user appears once, with their highest role and the membership that gives it (GitLab's
// members/all), ordered by user id.
func (s *Service) EffectiveMembers(ctx context.Context, g *Group, p *Project) ([]Member, error) {
	best := map[int64]Member{}
	consider := func(m Member) {
		if old, ok := best[m.UserID]; !ok || m.Role > old.Role {
			best[m.UserID] = m
		}
	}
	var groups []int64
	if g != nil {
		groups = g.Ancestry
	} else {
		groups = p.GroupAncestry
		direct, err := s.ListMembers(ctx, 0, p.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range direct {
			consider(m)
		}
		if p.OwnerUserID != 0 {
			consider(Member{UserID: p.OwnerUserID, ProjectID: p.ID, Role: Owner, CreatedAt: p.CreatedAt})
		}
	}
	for _, id := range groups {
		list, err := s.ListMembers(ctx, id, 0)
		if err != nil {
			return nil, err
		}
		for _, m := range list {
			consider(m)
		}
	}
	out := make([]Member, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}
