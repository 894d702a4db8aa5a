package namespace

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Errors of user administration; the API answers them with GitLab's 409 messages.
var (
	ErrUsernameTaken = fmt.Errorf("username has already been taken: %w", errkind.ErrConflict)
	ErrEmailTaken    = fmt.Errorf("email has already been taken: %w", errkind.ErrConflict)
	// ErrSoleOwner: GitLab refuses to remove the only owner of a group.
	ErrSoleOwner = fmt.Errorf("user is the sole owner of a group: %w", errkind.ErrConflict)
	// ErrUserHasProjects: the store deletes no user while projects remain in their namespace
	// (Service.DeleteUser deletes those first, as GitLab does).
	ErrUserHasProjects = fmt.Errorf("projects remain in the user's namespace: %w", errkind.ErrConflict)
)

// UpdateUserInput is what an administrator changes on a user; nil fields stay as they are.
type UpdateUserInput struct {
	Username, Email, Name, Password *string
	Admin                           *bool
	// Profile sets the ProfileFields it names ("" clears one).
	Profile map[string]string
}

// UpdateUser applies in to user id and returns the user as stored. It fails with a
// *errkind.ValidationError for an invalid field, ErrUsernameTaken or ErrEmailTaken, and
// errkind.ErrNotFound for a missing user. A username that changes while projects live in the
// user's namespace is refused: their paths (and repositories, images, packages) would have to
// move with it.
func (s *Service) UpdateUser(ctx context.Context, id int64, in UpdateUserInput) (*User, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Username != nil && *in.Username != u.Username {
		if err := s.renameUser(ctx, u, *in.Username); err != nil {
			return nil, err
		}
	}
	if in.Email != nil {
		if err := validateEmail(*in.Email); err != nil {
			return nil, err
		}
		u.Email = *in.Email
	}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return nil, &errkind.ValidationError{Field: "name", Reason: "can't be blank"}
		}
		u.Name = strings.TrimSpace(*in.Name)
	}
	if in.Admin != nil {
		u.Admin = *in.Admin
	}
	for k, v := range in.Profile {
		if !slices.Contains(ProfileFields, k) {
			return nil, &errkind.ValidationError{Field: k, Reason: "is not a profile field"}
		}
		if len(v) > 2048 {
			return nil, &errkind.ValidationError{Field: k, Reason: "is too long (maximum is 2048 characters)"}
		}
		if u.Profile == nil {
			u.Profile = map[string]string{}
		}
		if v == "" {
			delete(u.Profile, k)
		} else {
			u.Profile[k] = v
		}
	}
	if in.Password != nil {
		if err := validatePassword(*in.Password); err != nil {
			return nil, err
		}
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			if in.Username != nil {
				if other, lerr := s.store.UserByUsername(ctx, *in.Username); lerr == nil && other.ID != u.ID {
					return nil, ErrUsernameTaken
				}
			}
			return nil, ErrEmailTaken
		}
		return nil, fmt.Errorf("update user: %w", err)
	}
	if in.Password != nil {
		if err := s.SetPassword(ctx, u.ID, *in.Password); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// renameUser checks and sets u's new username.
func (s *Service) renameUser(ctx context.Context, u *User, username string) error {
	if err := validateTopLevelPath("username", username); err != nil {
		return err
	}
	if other, err := s.store.UserByUsername(ctx, username); err == nil && other.ID != u.ID {
		return ErrUsernameTaken
	}
	if !strings.EqualFold(username, u.Username) {
		if err := pathFree(ctx, "username", username, s.store.GroupByPath); err != nil {
			return ErrUsernameTaken
		}
	}
	projects, err := s.store.ListProjects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		if p.OwnerUserID == u.ID {
			return &errkind.ValidationError{Field: "username", Reason: "cannot be changed while projects live in the user's namespace"}
		}
	}
	u.Username = username
	return nil
}

func validateEmail(email string) error {
	if _, err := mail.ParseAddress(email); err != nil || strings.ContainsAny(email, " <>") {
		return &errkind.ValidationError{Field: "email", Reason: "is invalid"}
	}
	return nil
}

// UserStateChange is one of GitLab's state transitions of a user.
type UserStateChange int

// The transitions, as POST /users/:id/block, unblock, ban and unban.
const (
	BlockUser UserStateChange = iota
	UnblockUser
	BanUser
	UnbanUser
)

// ChangeUserState applies change to user id on behalf of by and returns the user and whether
// its state changed. As GitLab: blocking a blocked (or banned) user, or unblocking an active one,
// changes nothing; nobody blocks themselves; only an active user is banned and only a banned
// one unbanned (refusals are *errkind.ForbiddenError with GitLab's message); unblocking a
// banned user makes it active, as GitLab's activate transition does.
func (s *Service) ChangeUserState(ctx context.Context, by Actor, id int64, change UserStateChange) (*User, bool, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return nil, false, err
	}
	switch change {
	case BlockUser:
		if u.ID == by.UserID {
			return nil, false, &errkind.ForbiddenError{Reason: "The API initiating user cannot be blocked by the API"}
		}
		if u.Blocked {
			return u, false, nil
		}
		u.Blocked = true
	case UnblockUser:
		if !u.Blocked {
			return u, false, nil
		}
		u.Blocked, u.Banned = false, false
	case BanUser:
		if u.Blocked {
			return nil, false, &errkind.ForbiddenError{Reason: "You cannot ban " + u.State() + " users."}
		}
		u.Blocked, u.Banned = true, true
	case UnbanUser:
		if !u.Banned {
			return nil, false, &errkind.ForbiddenError{Reason: "You cannot unban " + u.State() + " users."}
		}
		u.Blocked, u.Banned = false, false
	default:
		return nil, false, fmt.Errorf("unknown user state change %d", change)
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, false, fmt.Errorf("change user state: %w", err)
	}
	return u, true, nil
}

// DeleteUser removes user id with their memberships and personal access tokens (revoked by
// their removal) and, as GitLab does, the projects in their personal namespace (as
// DeleteProject). With hardDelete, groups whose only direct owner they are go too (GitLab's
// hard_delete); without, such a group fails the deletion with ErrSoleOwner. A failure part way
// leaves the user in place, to be deleted again. errkind.ErrNotFound for a missing user.
func (s *Service) DeleteUser(ctx context.Context, id int64, hardDelete bool) error {
	if _, err := s.store.User(ctx, id); err != nil {
		return err
	}
	projects, err := s.store.ListProjects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		if p.OwnerUserID == id {
			if err := s.DeleteProject(ctx, p.ID); err != nil && !errors.Is(err, errkind.ErrNotFound) {
				return err
			}
		}
	}
	if hardDelete {
		if err := s.deleteSoleOwnedGroups(ctx, id); err != nil {
			return err
		}
	}
	return s.store.DeleteUser(ctx, id)
}

// deleteSoleOwnedGroups deletes the groups user id is the only active direct owner of.
func (s *Service) deleteSoleOwnedGroups(ctx context.Context, id int64) error {
	memberships, err := s.UserMemberships(ctx, id)
	if err != nil {
		return err
	}
	for _, m := range memberships {
		if m.GroupID == 0 || m.Role != Owner {
			continue
		}
		members, err := s.store.ListMembers(ctx, m.GroupID, 0)
		if err != nil {
			return err
		}
		sole := !slices.ContainsFunc(s.active(members), func(o Member) bool { return o.UserID != id && o.Role == Owner })
		if sole {
			if err := s.DeleteGroup(ctx, m.GroupID); err != nil && !errors.Is(err, errkind.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// UserMemberships returns the user's direct memberships of groups and projects.
func (s *Service) UserMemberships(ctx context.Context, userID int64) ([]Member, error) {
	list, err := s.store.UserMemberships(ctx, userID)
	return s.active(list), err
}
