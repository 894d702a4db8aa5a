package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Store is the persistence the namespace service needs.
type Store interface {
	// CreateUser inserts u and assigns its ID; errkind.ErrConflict for a taken email, or a
	// username that another user, a top-level group or a deploy token's custom username holds
	// (compared case-insensitively).
	CreateUser(ctx context.Context, u *User) error
	// User returns a user by id, or errkind.ErrNotFound.
	User(ctx context.Context, id int64) (*User, error)
	// UserByNamespaceID returns the user whose personal namespace has id nsID, or
	// errkind.ErrNotFound.
	UserByNamespaceID(ctx context.Context, nsID int64) (*User, error)
	// UserByUsername returns a user by username (case-insensitive), or errkind.ErrNotFound.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// ListUsers returns all users by id.
	ListUsers(ctx context.Context) ([]*User, error)
	// SetUserPassword replaces a user's password hash and clears PasswordChangeRequired.
	SetUserPassword(ctx context.Context, id int64, hash string) error
	// UpdateUser stores u's username, email, name, admin, blocked and banned; when the username
	// changes, its top-level path moves with it. errkind.ErrConflict for a username or email
	// another account holds, errkind.ErrNotFound for a missing user.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes a user with their memberships and personal access tokens, in one
	// transaction; ErrUserHasProjects while projects live in their namespace, ErrSoleOwner while
	// they are the only owner of a group, errkind.ErrNotFound for a missing user.
	DeleteUser(ctx context.Context, id int64) error
	// UserMemberships returns every direct membership of a user, groups first.
	UserMemberships(ctx context.Context, userID int64) ([]Member, error)

	// CreateGroup inserts g under g.ParentID, assigning ID, FullPath and Ancestry; errkind.ErrConflict
	// when any user, group or project holds the full path (case-insensitively, enforced by the
	// store itself so that concurrent creates cannot both win), errkind.ErrNotFound for a missing
	// parent.
	CreateGroup(ctx context.Context, g *Group) error
	// Group returns a group by id, or errkind.ErrNotFound.
	Group(ctx context.Context, id int64) (*Group, error)
	// GroupByPath returns a group by full path (case-insensitive), or errkind.ErrNotFound.
	GroupByPath(ctx context.Context, fullPath string) (*Group, error)
	// ListGroups returns the groups with parent parentID (0: top level), or all when all is set.
	ListGroups(ctx context.Context, parentID int64, all bool) ([]*Group, error)

	// CreateProject inserts p, assigning ID, FullPath and GroupAncestry; errkind.ErrConflict when
	// any user, group or project holds the full path, as for CreateGroup.
	CreateProject(ctx context.Context, p *Project) error
	// DeleteProject removes a project with its deploy tokens, packages, registry repositories,
	// members and route, or answers errkind.ErrNotFound.
	DeleteProject(ctx context.Context, id int64) error
	// DeleteGroup removes a group, its subgroups and their projects (as DeleteProject), with
	// their deploy tokens, members and dependency-proxy caches, in one transaction. It returns
	// the ids of the projects removed, or errkind.ErrNotFound.
	DeleteGroup(ctx context.Context, id int64) ([]int64, error)
	// UpdateGroup stores g's name, description and visibility; errkind.ErrNotFound when missing.
	UpdateGroup(ctx context.Context, g *Group) error
	// UpdateProject stores p's name, description, visibility and default branch.
	UpdateProject(ctx context.Context, p *Project) error
	// MoveProject puts project id in group groupID or the personal namespace of ownerUserID
	// (exactly one set) under path, renaming its route and registry image names with it;
	// errkind.ErrConflict when the new full path is taken, errkind.ErrNotFound for a missing
	// project or namespace.
	MoveProject(ctx context.Context, id, groupID, ownerUserID int64, path string) error
	// MoveGroup gives group id the parent parentID (0: top level) and path, and every group
	// and project below it its new full path, ancestry, route and image names. It returns the
	// ids of the projects below it; errkind.ErrConflict for a taken path, errkind.ErrInvalid
	// when parentID is the group itself or below it.
	MoveGroup(ctx context.Context, id, parentID int64, path string) ([]int64, error)
	// Project returns a project by id, or errkind.ErrNotFound. The project may be shared with
	// other callers (a read cache): callers must not change it.
	Project(ctx context.Context, id int64) (*Project, error)
	// ProjectByPath returns a project by full path (case-insensitive), or errkind.ErrNotFound.
	// The project may be shared, as Project's.
	ProjectByPath(ctx context.Context, fullPath string) (*Project, error)
	// ListProjects returns all projects by id.
	ListProjects(ctx context.Context) ([]*Project, error)

	// AddMember inserts a membership; errkind.ErrConflict when the user is already a direct
	// member there, errkind.ErrNotFound for a missing user, group or project.
	AddMember(ctx context.Context, m Member) error
	// ChangeMember sets the role of the existing membership m.UserID has on m's group or project
	// to m.Role, or removes it when m.Role is NoRole, once decide approves. It reads and writes
	// in one transaction that excludes every other ChangeMember in the same top-level group (or
	// personal project), so two concurrent changes cannot both count on the other's owner.
	// decide gets the current membership and how many owners remain apart from it: Owner
	// members of the group and its ancestors, or of the project, its group and their ancestors,
	// plus the owner of a personal project's namespace. It returns the membership as it was
	// before, errkind.ErrNotFound when there is none, or decide's error.
	ChangeMember(ctx context.Context, m Member, decide func(old Member, otherOwners int) error) (Member, error)
	// ListMembers returns the direct members of a group (groupID) or a project (projectID).
	ListMembers(ctx context.Context, groupID, projectID int64) ([]Member, error)
	// MemberRoles returns the user's direct roles on the project (if projectID != 0) and on each
	// of groupIDs, and the roles groupIDs' shares give them, leaving out memberships and shares
	// expired at at.
	MemberRoles(ctx context.Context, userID, projectID int64, groupIDs []int64, at time.Time) ([]Role, error)

	// ShareGroup stores a share; errkind.ErrConflict when the group is already shared with that
	// group, errkind.ErrNotFound for a missing group.
	ShareGroup(ctx context.Context, s GroupShare) error
	// UnshareGroup removes a share, or answers errkind.ErrNotFound.
	UnshareGroup(ctx context.Context, groupID, sharedWithGroupID int64) error
	// GroupShares returns the shares of group groupID, by the other group's id.
	GroupShares(ctx context.Context, groupID int64) ([]GroupShare, error)
}

// Service manages users, groups, projects and members.
type Service struct {
	store Store
	now   func() time.Time
	// OnProjectCreated, when set, is called after a project is stored (the server uses it to
	// create the bare repository). An error deletes the project again and is returned to the
	// creator.
	OnProjectCreated func(ctx context.Context, p *Project) error
	// OnProjectDeleted, when set, is called once a project's removal has committed (the server
	// uses it to tell every node's caches, docs/architecture.md §4.5).
	OnProjectDeleted func(ctx context.Context, id int64) error
	// OnProjectMoved, when set, is called once a project's new path has committed (the server
	// uses it to tell every node's caches that resolve image names).
	OnProjectMoved func(ctx context.Context, id int64) error
}

// NewService returns a Service over store; now may be nil for time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// bcryptCost is bcrypt's default; tests may not lower it, so logins cost what they will in production.
const bcryptCost = bcrypt.DefaultCost

// CreateUserInput is what an admin supplies for a new user.
type CreateUserInput struct {
	Username string
	Email    string
	Name     string
	Password string
	Admin    bool
	// PasswordChangeRequired makes the user choose a new password at first sign-in.
	PasswordChangeRequired bool
}

// CreateUser validates in and stores a user with a bcrypt password hash.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*User, error) {
	if err := validateTopLevelPath("username", in.Username); err != nil {
		return nil, err
	}
	if err := validateEmail(in.Email); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Name) == "" {
		return nil, &errkind.ValidationError{Field: "name", Reason: "is missing"}
	}
	if err := validatePassword(in.Password); err != nil {
		return nil, err
	}
	if err := pathFree(ctx, "username", in.Username, s.store.GroupByPath); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), bcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u := &User{Username: in.Username, Email: in.Email, Name: in.Name, PasswordHash: string(hash),
		Admin: in.Admin, CreatedAt: s.now(), PasswordChangeRequired: in.PasswordChangeRequired}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return nil, &errkind.ValidationError{Field: "username", Reason: "or email has already been taken"}
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// pathFree refuses a top-level path another kind of namespace already holds: users and
// top-level groups share one namespace of paths, compared case-insensitively, as in GitLab.
// lookup finds the other kind by path (ErrNotFound when free); field names the refused input.
func pathFree[T any](ctx context.Context, field, path string, lookup func(context.Context, string) (T, error)) error {
	_, err := lookup(ctx, path)
	switch {
	case err == nil:
		return &errkind.ValidationError{Field: field, Reason: "has already been taken"}
	case errors.Is(err, errkind.ErrNotFound):
		return nil
	default:
		return fmt.Errorf("check %s: %w", field, err)
	}
}

// validatePassword applies the same length rules to new and changed passwords.
func validatePassword(p string) error {
	if len(p) < 8 {
		return &errkind.ValidationError{Field: "password", Reason: "is too short (minimum is 8 characters)"}
	}
	if len(p) > 72 {
		return &errkind.ValidationError{Field: "password", Reason: "is too long (maximum is 72 characters)"}
	}
	return nil
}

// SetPassword replaces a user's password; it fails with a *errkind.ValidationError on "password" for
// one CreateUser would refuse, and errkind.ErrNotFound for a missing user.
func (s *Service) SetPassword(ctx context.Context, userID int64, password string) error {
	if err := validatePassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.store.SetUserPassword(ctx, userID, string(hash))
}

// CheckPassword returns the active user with username and password, or errkind.ErrNotFound.
func (s *Service) CheckPassword(ctx context.Context, username, password string) (*User, error) {
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			// Spend the same time as a real check so usernames cannot be probed by timing.
			_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		}
		return nil, err
	}
	// A blocked user is refused after the comparison, so timing does not reveal the state.
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || u.Blocked {
		return nil, errkind.ErrNotFound
	}
	return u, nil
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("gatehouse-timing-equaliser"), bcryptCost)

// User returns a user by id.
func (s *Service) User(ctx context.Context, id int64) (*User, error) { return s.store.User(ctx, id) }

// UserByNamespaceID returns the user whose personal namespace has id nsID.
func (s *Service) UserByNamespaceID(ctx context.Context, nsID int64) (*User, error) {
	return s.store.UserByNamespaceID(ctx, nsID)
}

// UserByUsername returns a user by username.
func (s *Service) UserByUsername(ctx context.Context, username string) (*User, error) {
	return s.store.UserByUsername(ctx, username)
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]*User, error) { return s.store.ListUsers(ctx) }

// CreateGroupInput is what a creator supplies for a group.
type CreateGroupInput struct {
	Name        string
	Path        string
	ParentID    int64
	Description string
	// Visibility is "private", "internal" or "public"; "" is private, as GitLab's default.
	Visibility string
}

// CreateGroup validates in and stores a group.
func (s *Service) CreateGroup(ctx context.Context, in CreateGroupInput) (*Group, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, &errkind.ValidationError{Field: "name", Reason: "is missing"}
	}
	check := ValidatePath
	if in.ParentID == 0 {
		check = validateTopLevelPath
	}
	if err := check("path", in.Path); err != nil {
		return nil, err
	}
	vis, err := ParseVisibility(in.Visibility)
	if err != nil {
		return nil, err
	}
	if in.ParentID == 0 {
		if err := pathFree(ctx, "path", in.Path, s.store.UserByUsername); err != nil {
			return nil, err
		}
	} else if parent, err := s.store.Group(ctx, in.ParentID); err == nil {
		if err := groupVisibilityAllowed(vis, parent, nil, nil); err != nil {
			return nil, err
		}
	}
	g := &Group{Name: strings.TrimSpace(in.Name), Path: in.Path, ParentID: in.ParentID, Visibility: vis,
		Description: in.Description, CreatedAt: s.now()}
	if err := s.store.CreateGroup(ctx, g); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return nil, &errkind.ValidationError{Field: "path", Reason: "has already been taken"}
		}
		if errors.Is(err, errkind.ErrNotFound) {
			return nil, &errkind.ValidationError{Field: "parent_id", Reason: "does not exist"}
		}
		return nil, fmt.Errorf("create group: %w", err)
	}
	return g, nil
}

// Group returns a group by id.
func (s *Service) Group(ctx context.Context, id int64) (*Group, error) { return s.store.Group(ctx, id) }

// GroupByPath returns a group by full path.
func (s *Service) GroupByPath(ctx context.Context, p string) (*Group, error) {
	return s.store.GroupByPath(ctx, p)
}

// ListGroups returns all groups.
func (s *Service) ListGroups(ctx context.Context) ([]*Group, error) {
	return s.store.ListGroups(ctx, 0, true)
}

// Subgroups returns the immediate subgroups of id.
func (s *Service) Subgroups(ctx context.Context, id int64) ([]*Group, error) {
	return s.store.ListGroups(ctx, id, false)
}

// CreateProjectInput is what a creator supplies for a project. Exactly one of GroupID and
// OwnerUserID is set.
type CreateProjectInput struct {
	Name        string
	Path        string
	GroupID     int64
	OwnerUserID int64
	Visibility  string
	Description string
	// DefaultBranch is "" for main.
	DefaultBranch string
}

// CreateProject validates in, stores the project, then runs OnProjectCreated; when that fails
// the project is deleted again and the hook's error returned.
func (s *Service) CreateProject(ctx context.Context, in CreateProjectInput) (*Project, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, &errkind.ValidationError{Field: "name", Reason: "is missing"}
	}
	if err := ValidatePath("path", in.Path); err != nil {
		return nil, err
	}
	vis, err := ParseVisibility(in.Visibility)
	if err != nil {
		return nil, err
	}
	if in.GroupID != 0 {
		// As GitLab's create service: a project more visible than its group gets the group's.
		if g, err := s.store.Group(ctx, in.GroupID); err == nil && vis.MoreVisibleThan(g.Visibility) {
			vis = g.Visibility
		}
	}
	branch := in.DefaultBranch
	if branch == "" {
		branch = "main"
	}
	p := &Project{Name: strings.TrimSpace(in.Name), Path: in.Path, GroupID: in.GroupID,
		OwnerUserID: in.OwnerUserID, Visibility: vis, Description: in.Description, DefaultBranch: branch, CreatedAt: s.now()}
	if err := s.store.CreateProject(ctx, p); err != nil {
		if errors.Is(err, errkind.ErrConflict) {
			return nil, &errkind.ValidationError{Field: "path", Reason: "has already been taken"}
		}
		if errors.Is(err, errkind.ErrNotFound) {
			return nil, &errkind.ValidationError{Field: "namespace_id", Reason: "does not exist"}
		}
		return nil, fmt.Errorf("create project: %w", err)
	}
	if s.OnProjectCreated != nil {
		if err := s.OnProjectCreated(ctx, p); err != nil {
			// Undo the row, even when ctx is what failed the hook: no project without its repository.
			if derr := s.deleteProject(context.WithoutCancel(ctx), p.ID); derr != nil {
				err = errors.Join(err, fmt.Errorf("undo: %w", derr))
			}
			return nil, fmt.Errorf("create project %s: %w", p.FullPath, err)
		}
	}
	return p, nil
}

// deleteProject removes project id, then runs OnProjectDeleted.
func (s *Service) deleteProject(ctx context.Context, id int64) error {
	if err := s.store.DeleteProject(ctx, id); err != nil {
		return err
	}
	if s.OnProjectDeleted == nil {
		return nil
	}
	return s.OnProjectDeleted(ctx, id)
}

// Project returns a project by id; read-only, as the Store's.
func (s *Service) Project(ctx context.Context, id int64) (*Project, error) {
	return s.store.Project(ctx, id)
}

// ProjectByPath returns a project by full path; read-only, as the Store's.
func (s *Service) ProjectByPath(ctx context.Context, p string) (*Project, error) {
	return s.store.ProjectByPath(ctx, p)
}

// ListProjects returns all projects.
func (s *Service) ListProjects(ctx context.Context) ([]*Project, error) {
	return s.store.ListProjects(ctx)
}

// Actor is the user who asks for a membership change; an admin acts as an owner everywhere.
type Actor struct {
	UserID int64
	Admin  bool
}

// Instance is Gatehouse itself acting (setup, making a top-level group's creator its owner),
// bound by no member's role.
var Instance = Actor{Admin: true}

// actorRole is the actor's role on m's group or project; errkind.ErrNotFound when that is missing.
func (s *Service) actorRole(ctx context.Context, by Actor, m Member) (Role, error) {
	if m.GroupID != 0 {
		g, err := s.store.Group(ctx, m.GroupID)
		if err != nil || by.Admin {
			return Owner, err
		}
		return s.GroupRole(ctx, by.UserID, g)
	}
	p, err := s.store.Project(ctx, m.ProjectID)
	if err != nil || by.Admin {
		return Owner, err
	}
	return s.ProjectRole(ctx, by.UserID, p)
}

// memberRule is one of GitLab's membership rules: when applies holds, the change is refused
// with reason.
type memberRule struct {
	applies func(actor, old, new Role, otherOwners int) bool
	reason  string
}

// memberRules are checked in order on every add, change and removal (old is NoRole for an add,
// new is NoRole for a removal; actor is the actor's own role there).
var memberRules = []memberRule{
	{func(actor, _, new Role, _ int) bool { return new > actor },
		"cannot grant a role above your own"},
	{func(actor, old, _ Role, _ int) bool { return old == Owner && actor < Owner },
		"only an owner can change or remove an owner"},
	{func(_, old, new Role, owners int) bool { return old == Owner && new != Owner && owners == 0 },
		"the last owner cannot be demoted or removed; make another member an owner first"},
}

// checkMemberChange applies memberRules; a refusal is an *errkind.ForbiddenError.
func checkMemberChange(actor, old, new Role, otherOwners int) error {
	for _, r := range memberRules {
		if r.applies(actor, old, new, otherOwners) {
			return &errkind.ForbiddenError{Reason: r.reason}
		}
	}
	return nil
}

// AddMember gives a user who is not yet a direct member of m's group or project the role m.Role.
// It returns a *errkind.ValidationError for a bad role or a missing user, errkind.ErrConflict
// when the user is already a member (changing a role is UpdateMember's), an
// *errkind.ForbiddenError when the role is above the actor's own, and errkind.ErrNotFound for a
// missing group or project.
func (s *Service) AddMember(ctx context.Context, by Actor, m Member) error {
	if !m.Role.Valid() {
		return &errkind.ValidationError{Field: "access_level", Reason: "is not a valid access level"}
	}
	if err := s.checkExpiry(m); err != nil {
		return err
	}
	if _, err := s.store.User(ctx, m.UserID); err != nil {
		if errors.Is(err, errkind.ErrNotFound) {
			return &errkind.ValidationError{Field: "user_id", Reason: "does not exist"}
		}
		return err
	}
	actor, err := s.actorRole(ctx, by, m)
	if err != nil {
		return err
	}
	if err := checkMemberChange(actor, NoRole, m.Role, 0); err != nil {
		return err
	}
	m.CreatedAt = s.now()
	return s.store.AddMember(ctx, m)
}

// UpdateMember sets the role of an existing direct member, as GitLab's rules allow: only an
// owner changes an owner's role, nobody grants a role above their own, and the last owner is not
// demoted. It returns the membership as changed, a *errkind.ValidationError for a bad role, an
// *errkind.ForbiddenError for a refusal, or errkind.ErrNotFound when there is no such member.
func (s *Service) UpdateMember(ctx context.Context, by Actor, m Member) (Member, error) {
	if !m.Role.Valid() {
		return Member{}, &errkind.ValidationError{Field: "access_level", Reason: "is not a valid access level"}
	}
	if err := s.checkExpiry(m); err != nil {
		return Member{}, err
	}
	old, err := s.changeMember(ctx, by, m)
	if err != nil {
		return Member{}, err
	}
	old.Role = m.Role
	return old, nil
}

// checkExpiry refuses an expiry date before today (UTC), with GitLab's message.
func (s *Service) checkExpiry(m Member) error {
	if m.ExpiresAt == nil {
		return nil
	}
	now := s.now().UTC()
	if m.ExpiresAt.Before(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)) {
		return &errkind.ValidationError{Field: "expires_at", Reason: "cannot be a date in the past"}
	}
	return nil
}

// RemoveMember removes a direct member of m's group or project (m.Role is ignored): only an owner
// removes an owner, and never the last one. It returns an *errkind.ForbiddenError for a refusal,
// or errkind.ErrNotFound when there is no such member.
func (s *Service) RemoveMember(ctx context.Context, by Actor, m Member) error {
	m.Role = NoRole
	_, err := s.changeMember(ctx, by, m)
	return err
}

// changeMember applies the rules to a change or removal, inside the store's transaction.
func (s *Service) changeMember(ctx context.Context, by Actor, m Member) (Member, error) {
	actor, err := s.actorRole(ctx, by, m)
	if err != nil {
		return Member{}, err
	}
	return s.store.ChangeMember(ctx, m, func(old Member, otherOwners int) error {
		return checkMemberChange(actor, old.Role, m.Role, otherOwners)
	})
}

// ListMembers returns the direct members of a group or project whose membership has not
// expired (GitLab removes expired members).
func (s *Service) ListMembers(ctx context.Context, groupID, projectID int64) ([]Member, error) {
	list, err := s.store.ListMembers(ctx, groupID, projectID)
	return s.active(list), err
}

// active drops the expired memberships of list.
func (s *Service) active(list []Member) []Member {
	now := s.now()
	return slices.DeleteFunc(list, func(m Member) bool { return !m.Active(now) })
}

// ProjectRole returns the user's highest role on p, direct or inherited from its groups.
func (s *Service) ProjectRole(ctx context.Context, userID int64, p *Project) (Role, error) {
	if c := roleCacheOf(ctx); c != nil {
		return s.cachedProjectRoleOf(ctx, c, userID, p)
	}
	roles, err := s.store.MemberRoles(ctx, userID, p.ID, p.GroupAncestry, s.now())
	if err != nil {
		return NoRole, err
	}
	best := NoRole
	if p.OwnerUserID == userID && userID != 0 {
		best = Owner
	}
	for _, r := range roles {
		best = max(best, r)
	}
	return best, nil
}

// GroupRole returns the user's highest role on g, direct or inherited from its ancestors.
func (s *Service) GroupRole(ctx context.Context, userID int64, g *Group) (Role, error) {
	if c := roleCacheOf(ctx); c != nil {
		return s.cachedGroupRole(ctx, c, userID, g.Ancestry)
	}
	roles, err := s.store.MemberRoles(ctx, userID, 0, g.Ancestry, s.now())
	if err != nil {
		return NoRole, err
	}
	best := NoRole
	for _, r := range roles {
		best = max(best, r)
	}
	return best, nil
}

// IsProjectPath reports whether fullPath could name a project: a namespace path and the
// project's own, every segment valid and the first none Gatehouse serves itself. It says nothing
// of whether the project exists.
func IsProjectPath(fullPath string) bool {
	// Segment by segment, without allocating: the server asks this of requests it routes.
	first, rest, ok := strings.Cut(fullPath, "/")
	if !ok || validateTopLevelPath("path", first) != nil {
		return false
	}
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if ValidatePath("path", seg) != nil {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// SplitRepoPath splits a URL path like "/group/sub/project.git/info/refs" into the project's
// full path ("group/sub/project") and the rest ("info/refs"). ok is false when no ".git/" segment
// or a malformed path segment is present.
func SplitRepoPath(urlPath string) (project, rest string, ok bool) {
	p := strings.TrimPrefix(urlPath, "/")
	i := strings.Index(p, ".git/")
	if i <= 0 {
		return "", "", false
	}
	project, rest = p[:i], p[i+len(".git/"):]
	for _, seg := range strings.Split(project, "/") {
		if ValidatePath("path", seg) != nil {
			return "", "", false
		}
	}
	return project, rest, true
}
