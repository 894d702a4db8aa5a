package namespace

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A listing decides ViewNamespace for every group and project it might show, and each decision
// asks the user's role: one MemberRoles query per project, a thousand for a thousand projects.
// WithRoleCache lets a request answer those roles from two kinds of lookups instead: the
// user's direct project memberships (one query) and the group-inherited roles per distinct
// group ancestry (one query each, so the projects of one group share it). The answers are the
// same as without it; they are only as fresh as the request.

type roleCacheKey struct{}

// roleCache holds one request's lookups, per user.
type roleCache struct {
	mu sync.Mutex
	// projectRoles are the user's active direct project roles, by project id.
	projectRoles map[int64]map[int64]Role
	// groupRoles are the best role the groups of an ancestry give the user, by user and ancestry.
	groupRoles map[string]Role
}

// WithRoleCache returns a context in which ProjectRole and GroupRole remember what they looked
// up; use it for one request that decides many namespaces (a listing), never across requests.
func WithRoleCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, roleCacheKey{}, &roleCache{projectRoles: map[int64]map[int64]Role{}, groupRoles: map[string]Role{}})
}

func roleCacheOf(ctx context.Context) *roleCache {
	c, _ := ctx.Value(roleCacheKey{}).(*roleCache)
	return c
}

// cachedGroupRole is the best role groupIDs (an ancestry) give userID, directly or by a share.
func (s *Service) cachedGroupRole(ctx context.Context, c *roleCache, userID int64, groupIDs []int64) (Role, error) {
	var key strings.Builder
	key.WriteString(strconv.FormatInt(userID, 10))
	for _, id := range groupIDs {
		key.WriteByte('/')
		key.WriteString(strconv.FormatInt(id, 10))
	}
	c.mu.Lock()
	best, ok := c.groupRoles[key.String()]
	c.mu.Unlock()
	if ok {
		return best, nil
	}
	best = NoRole
	if len(groupIDs) > 0 {
		roles, err := s.store.MemberRoles(ctx, userID, 0, groupIDs, s.now())
		if err != nil {
			return NoRole, err
		}
		for _, r := range roles {
			best = max(best, r)
		}
	}
	c.mu.Lock()
	c.groupRoles[key.String()] = best
	c.mu.Unlock()
	return best, nil
}

// cachedProjectRole is userID's direct role on project id (NoRole: none active).
func (s *Service) cachedProjectRole(ctx context.Context, c *roleCache, userID, id int64) (Role, error) {
	c.mu.Lock()
	roles, ok := c.projectRoles[userID]
	c.mu.Unlock()
	if !ok {
		list, err := s.store.UserMemberships(ctx, userID)
		if err != nil {
			return NoRole, err
		}
		roles = map[int64]Role{}
		for _, m := range s.active(slices.Clone(list)) {
			if m.ProjectID != 0 {
				roles[m.ProjectID] = max(roles[m.ProjectID], m.Role)
			}
		}
		c.mu.Lock()
		c.projectRoles[userID] = roles
		c.mu.Unlock()
	}
	if r, ok := roles[id]; ok {
		return r, nil
	}
	return NoRole, nil
}

// cachedProjectRoleOf is ProjectRole from the cache: the namespace owner's, the direct and the
// inherited role, the best of them.
func (s *Service) cachedProjectRoleOf(ctx context.Context, c *roleCache, userID int64, p *Project) (Role, error) {
	best := NoRole
	if p.OwnerUserID == userID && userID != 0 {
		best = Owner
	}
	direct, err := s.cachedProjectRole(ctx, c, userID, p.ID)
	if err != nil {
		return NoRole, err
	}
	inherited, err := s.cachedGroupRole(ctx, c, userID, p.GroupAncestry)
	if err != nil {
		return NoRole, err
	}
	return max(best, direct, inherited), nil
}
