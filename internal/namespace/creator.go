package namespace

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// The creator's ownership, shared by the REST API and the web UI (docs/design.md §6.9): whoever
// creates a group owns it, and a group that becomes top-level keeps an owner.

// CreateGroupAs creates a group as CreateGroup does and makes the user creatorID its Owner
// member, as GitLab's create service does: administrators and creators of subgroups too.
func (s *Service) CreateGroupAs(ctx context.Context, creatorID int64, in CreateGroupInput) (*Group, error) {
	g, err := s.CreateGroup(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.AddMember(ctx, Instance, Member{UserID: creatorID, GroupID: g.ID, Role: Owner}); err != nil {
		return nil, err
	}
	return g, nil
}

// TransferGroupAs transfers a group as TransferGroup does; when it becomes top-level without a
// direct Owner member, the user byID becomes one, as GitLab's transfer service does: its owners
// may all have been inherited.
func (s *Service) TransferGroupAs(ctx context.Context, byID, id, parentID int64) (*Group, error) {
	g, err := s.TransferGroup(ctx, id, parentID)
	if err != nil || parentID != 0 {
		return g, err
	}
	return g, s.ensureOwner(ctx, g.ID, byID)
}

// ensureOwner makes userID an Owner member of group id unless it has a direct owner already.
func (s *Service) ensureOwner(ctx context.Context, id, userID int64) error {
	members, err := s.ListMembers(ctx, id, 0)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(members, func(m Member) bool { return m.Role == Owner }) {
		return nil
	}
	err = s.AddMember(ctx, Instance, Member{UserID: userID, GroupID: id, Role: Owner})
	if errors.Is(err, errkind.ErrConflict) {
		// A direct member below Owner already: raise it, as the transfer's owner.
		_, err = s.UpdateMember(ctx, Instance, Member{UserID: userID, GroupID: id, Role: Owner})
	}
	return err
}
