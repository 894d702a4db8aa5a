package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// GitLab's visibility rules (docs/gitlab-compatibility.md): a project is no more visible than its
// group, a subgroup no more than its parent, and a group no less than what it contains. The
// refusals carry GitLab's field and wording.

func visibilityError(reason string) error {
	return &errkind.ValidationError{Field: "visibility_level", Reason: reason}
}

// groupVisibilityAllowed checks visibility v for a group under parent (nil: top level) holding
// subgroups and projects (its direct ones: each of them is itself no more visible than its own
// contents).
func groupVisibilityAllowed(v Visibility, parent *Group, subgroups []*Group, projects []*Project) error {
	if parent != nil && v.MoreVisibleThan(parent.Visibility) {
		return visibilityError(fmt.Sprintf("%s is not allowed since the parent group has a %s visibility.", v, parent.Visibility))
	}
	for _, p := range projects {
		if p.Visibility.MoreVisibleThan(v) {
			return visibilityError(fmt.Sprintf("%s is not allowed since this group contains projects with higher visibility.", v))
		}
	}
	for _, g := range subgroups {
		if g.Visibility.MoreVisibleThan(v) {
			return visibilityError(fmt.Sprintf("%s is not allowed since there are sub-groups with higher visibility.", v))
		}
	}
	return nil
}

// projectVisibilityAllowed checks visibility v for a project in group g (nil: a personal one).
func projectVisibilityAllowed(v Visibility, g *Group) error {
	if g != nil && v.MoreVisibleThan(g.Visibility) {
		return visibilityError(fmt.Sprintf("%s is not allowed in a %s group.", v, g.Visibility))
	}
	return nil
}

// GroupProjects returns the projects in group id, and with subgroups also those below it.
func (s *Service) GroupProjects(ctx context.Context, id int64, subgroups bool) ([]*Project, error) {
	all, err := s.store.ListProjects(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Project
	for _, p := range all {
		if p.GroupID == id || (subgroups && p.InGroup(id)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Descendants returns every group below group g, by id.
func (s *Service) Descendants(ctx context.Context, g *Group) ([]*Group, error) {
	all, err := s.store.ListGroups(ctx, 0, true)
	if err != nil {
		return nil, err
	}
	var out []*Group
	for _, x := range all {
		if x.ID != g.ID && len(x.Ancestry) > len(g.Ancestry) && x.Ancestry[len(g.Ancestry)-1] == g.ID {
			out = append(out, x)
		}
	}
	return out, nil
}

// UpdateGroupInput holds the attributes a PUT changes; nil leaves one as it is.
type UpdateGroupInput struct {
	Name, Path, Description, Visibility *string
}

// UpdateGroup changes a group's attributes; a new path moves the group (and all below it) as a
// transfer does. It returns the group as stored, a *errkind.ValidationError, or
// errkind.ErrNotFound.
func (s *Service) UpdateGroup(ctx context.Context, id int64, in UpdateGroupInput) (*Group, error) {
	g, err := s.store.Group(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return nil, &errkind.ValidationError{Field: "name", Reason: "can't be blank"}
		}
		g.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		g.Description = *in.Description
	}
	if in.Visibility != nil {
		v, err := ParseVisibility(*in.Visibility)
		if err != nil {
			return nil, err
		}
		var parent *Group
		if g.ParentID != 0 {
			if parent, err = s.store.Group(ctx, g.ParentID); err != nil {
				return nil, err
			}
		}
		subs, err := s.store.ListGroups(ctx, g.ID, false)
		if err != nil {
			return nil, err
		}
		projects, err := s.directProjects(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		if err := groupVisibilityAllowed(v, parent, subs, projects); err != nil {
			return nil, err
		}
		g.Visibility = v
	}
	if in.Path != nil && *in.Path != g.Path {
		if _, err := s.moveGroup(ctx, g, g.ParentID, *in.Path); err != nil {
			return nil, err
		}
	}
	if err := s.store.UpdateGroup(ctx, g); err != nil {
		return nil, err
	}
	return s.store.Group(ctx, id)
}

func (s *Service) directProjects(ctx context.Context, groupID int64) ([]*Project, error) {
	return s.GroupProjects(ctx, groupID, false)
}

// TransferGroup moves group id below parentID, or to the top level when parentID is 0, with
// everything below it: their projects' tokens, images, packages and repositories follow, since
// all are held by id. As GitLab's transfer service, what is more visible than the new parent is
// lowered to its visibility. It refuses (*errkind.ValidationError) a move below the group
// itself or a taken path.
func (s *Service) TransferGroup(ctx context.Context, id, parentID int64) (*Group, error) {
	g, err := s.store.Group(ctx, id)
	if err != nil {
		return nil, err
	}
	if parentID == g.ParentID {
		return nil, &errkind.ValidationError{Field: "group", Reason: "is already in that namespace"}
	}
	var parent *Group
	if parentID != 0 {
		if parent, err = s.store.Group(ctx, parentID); err != nil {
			return nil, err
		}
	} else if err := validateTopLevelPath("path", g.Path); err != nil {
		return nil, err
	} else if err := pathFree(ctx, "path", g.Path, s.store.UserByUsername); err != nil {
		return nil, err
	}
	if _, err := s.moveGroup(ctx, g, parentID, g.Path); err != nil {
		return nil, err
	}
	if parent != nil {
		if err := s.limitVisibility(ctx, g, parent.Visibility); err != nil {
			return nil, err
		}
	}
	return s.store.Group(ctx, id)
}

// limitVisibility lowers group g, the groups below it and their projects to at most v, as
// GitLab's group transfer does when the new parent is less visible.
func (s *Service) limitVisibility(ctx context.Context, g *Group, v Visibility) error {
	below, err := s.Descendants(ctx, g)
	if err != nil {
		return err
	}
	for _, x := range append([]*Group{g}, below...) {
		if x.Visibility.MoreVisibleThan(v) {
			x.Visibility = v
			if err := s.store.UpdateGroup(ctx, x); err != nil {
				return err
			}
		}
	}
	projects, err := s.GroupProjects(ctx, g.ID, true)
	if err != nil {
		return err
	}
	for _, p := range projects {
		if p.Visibility.MoreVisibleThan(v) {
			p.Visibility = v
			if err := s.store.UpdateProject(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveGroup stores the move and tells the hook of every project that moved with the group.
func (s *Service) moveGroup(ctx context.Context, g *Group, parentID int64, path string) ([]int64, error) {
	check := ValidatePath
	if parentID == 0 {
		check = validateTopLevelPath
	}
	if err := check("path", path); err != nil {
		return nil, err
	}
	moved, err := s.store.MoveGroup(ctx, g.ID, parentID, path)
	switch {
	case errors.Is(err, errkind.ErrConflict):
		return nil, &errkind.ValidationError{Field: "path", Reason: "has already been taken"}
	case errors.Is(err, errkind.ErrInvalid):
		return nil, &errkind.ValidationError{Field: "group", Reason: "cannot be transferred to itself or one of its subgroups"}
	case err != nil:
		return nil, err
	}
	return moved, s.projectsMoved(ctx, moved)
}

func (s *Service) projectsMoved(ctx context.Context, ids []int64) error {
	if s.OnProjectMoved == nil {
		return nil
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.OnProjectMoved(ctx, id))
	}
	return errors.Join(errs...)
}

// UpdateProjectInput holds the attributes a PUT changes; nil leaves one as it is.
type UpdateProjectInput struct {
	Name, Path, Description, Visibility, DefaultBranch *string
}

// UpdateProject changes a project's attributes; a new path renames it in its namespace (its
// images follow). It returns the project as stored, a *errkind.ValidationError, or
// errkind.ErrNotFound.
func (s *Service) UpdateProject(ctx context.Context, id int64, in UpdateProjectInput) (*Project, error) {
	p, err := s.changeableProject(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return nil, &errkind.ValidationError{Field: "name", Reason: "can't be blank"}
		}
		p.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.DefaultBranch != nil {
		if strings.TrimSpace(*in.DefaultBranch) == "" {
			return nil, &errkind.ValidationError{Field: "default_branch", Reason: "can't be blank"}
		}
		p.DefaultBranch = *in.DefaultBranch
	}
	if in.Visibility != nil {
		v, err := ParseVisibility(*in.Visibility)
		if err != nil {
			return nil, err
		}
		if p.GroupID != 0 {
			g, err := s.store.Group(ctx, p.GroupID)
			if err != nil {
				return nil, err
			}
			if err := projectVisibilityAllowed(v, g); err != nil {
				return nil, err
			}
		}
		p.Visibility = v
	}
	if in.Path != nil && *in.Path != p.Path {
		if err := s.moveProject(ctx, p.ID, p.GroupID, p.OwnerUserID, *in.Path); err != nil {
			return nil, err
		}
	}
	if err := s.store.UpdateProject(ctx, p); err != nil {
		return nil, err
	}
	return s.store.Project(ctx, id)
}

// TransferProject moves project id into group groupID or the personal namespace of ownerUserID
// (exactly one set). As GitLab's transfer service, a project more visible than its new group
// takes the group's visibility. Its repository, images, packages and tokens are held by id and
// follow it; image names take the new path.
func (s *Service) TransferProject(ctx context.Context, id, groupID, ownerUserID int64) (*Project, error) {
	p, err := s.changeableProject(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.GroupID == groupID && p.OwnerUserID == ownerUserID {
		return nil, &errkind.ValidationError{Field: "new_namespace", Reason: "Project is already in this namespace."}
	}
	var g *Group
	if groupID != 0 {
		if g, err = s.store.Group(ctx, groupID); err != nil {
			return nil, err
		}
	}
	if err := s.moveProject(ctx, id, groupID, ownerUserID, p.Path); err != nil {
		return nil, err
	}
	if g != nil && p.Visibility.MoreVisibleThan(g.Visibility) {
		p.Visibility = g.Visibility
		if err := s.store.UpdateProject(ctx, p); err != nil {
			return nil, err
		}
	}
	return s.store.Project(ctx, id)
}

// changeableProject reads project id into a copy the caller may change: the store's may be
// shared (Store.Project).
func (s *Service) changeableProject(ctx context.Context, id int64) (*Project, error) {
	p, err := s.store.Project(ctx, id)
	if err != nil {
		return nil, err
	}
	c := *p
	c.GroupAncestry = slices.Clone(p.GroupAncestry)
	return &c, nil
}

func (s *Service) moveProject(ctx context.Context, id, groupID, ownerUserID int64, path string) error {
	if err := ValidatePath("path", path); err != nil {
		return err
	}
	err := s.store.MoveProject(ctx, id, groupID, ownerUserID, path)
	switch {
	case errors.Is(err, errkind.ErrConflict):
		return &errkind.ValidationError{Field: "path", Reason: "has already been taken"}
	case err != nil:
		return err
	}
	return s.projectsMoved(ctx, []int64{id})
}

// DeleteProject removes a project with its repository, images, packages, deploy tokens and
// members; errkind.ErrNotFound when it does not exist.
func (s *Service) DeleteProject(ctx context.Context, id int64) error {
	return s.deleteProject(ctx, id)
}

// DeleteGroup removes a group with its subgroups and their projects (as DeleteProject), as
// GitLab's group deletion does; errkind.ErrNotFound when it does not exist.
func (s *Service) DeleteGroup(ctx context.Context, id int64) error {
	projects, err := s.store.DeleteGroup(ctx, id)
	if err != nil {
		return err
	}
	if s.OnProjectDeleted == nil {
		return nil
	}
	var errs []error
	for _, p := range projects {
		errs = append(errs, s.OnProjectDeleted(ctx, p))
	}
	return errors.Join(errs...)
}

// ShareGroup shares group sh.GroupID with group sh.SharedWithGroupID at sh.Access (GitLab's
// POST /groups/:id/share). It returns a *errkind.ValidationError for a bad access level or a
// group shared with itself, errkind.ErrConflict when already shared, errkind.ErrNotFound for a
// missing group.
func (s *Service) ShareGroup(ctx context.Context, sh GroupShare) error {
	if !sh.Access.Valid() {
		return &errkind.ValidationError{Field: "group_access", Reason: "does not have a valid value"}
	}
	if sh.GroupID == sh.SharedWithGroupID {
		return &errkind.ValidationError{Field: "group_id", Reason: "cannot be the group itself"}
	}
	sh.CreatedAt = s.now()
	return s.store.ShareGroup(ctx, sh)
}

// UnshareGroup removes a share, or answers errkind.ErrNotFound.
func (s *Service) UnshareGroup(ctx context.Context, groupID, sharedWithGroupID int64) error {
	return s.store.UnshareGroup(ctx, groupID, sharedWithGroupID)
}

// GroupShares returns the groups group id is shared with.
func (s *Service) GroupShares(ctx context.Context, id int64) ([]GroupShare, error) {
	return s.store.GroupShares(ctx, id)
}
