// Package namespace holds users, groups (nested to any depth), projects and memberships, and
// answers "which project is this path" and "what role has this user here". No HTTP, no SQL.
package namespace

import (
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Role is a member's access level, with GitLab's numbers.
type Role int

// The five roles, weakest first (docs/design.md §1.2).
const (
	NoRole     Role = 0
	Guest      Role = 10
	Reporter   Role = 20
	Developer  Role = 30
	Maintainer Role = 40
	Owner      Role = 50
)

// Valid reports whether r is one of the five roles.
func (r Role) Valid() bool {
	switch r {
	case Guest, Reporter, Developer, Maintainer, Owner:
		return true
	}
	return false
}

// Visibility of a project.
type Visibility string

// The three visibilities; private is the default.
const (
	Private  Visibility = "private"
	Internal Visibility = "internal"
	Public   Visibility = "public"
)

// ParseVisibility validates v; empty means private.
func ParseVisibility(v string) (Visibility, error) {
	switch Visibility(v) {
	case "":
		return Private, nil
	case Private, Internal, Public:
		return Visibility(v), nil
	}
	return "", &errkind.ValidationError{Field: "visibility", Reason: "does not have a valid value"}
}

// level orders visibilities as GitLab's visibility_level numbers do: private < internal < public.
func (v Visibility) level() int {
	switch v {
	case Internal:
		return 10
	case Public:
		return 20
	}
	return 0
}

// MoreVisibleThan reports whether v lets more people see than w.
func (v Visibility) MoreVisibleThan(w Visibility) bool { return v.level() > w.level() }

// User is a human account (docs/design.md §1.2). It is never a deploy token.
type User struct {
	ID           int64
	Username     string
	Email        string
	Name         string
	PasswordHash string
	Admin        bool
	// Blocked users cannot authenticate. A banned user is blocked too (GitLab's "banned" state).
	Blocked bool
	Banned  bool
	// PasswordChangeRequired: the user must choose a new password before using the web UI (root's
	// printed initial password, docs/design.md §6.9); setting a password clears it.
	PasswordChangeRequired bool
	// NamespaceID is the id of the user's personal namespace: drawn from the groups' ids, so it
	// never equals a group's id (GitLab's namespaces), and it is what a project in the personal
	// namespace shows as namespace.id.
	NamespaceID int64
	CreatedAt   time.Time
	// Profile holds the free-text fields of ProfileFields that are set.
	Profile map[string]string
}

// ProfileFields are GitLab's free-text profile attributes of a user that Gatehouse keeps and
// shows, deciding nothing with them.
var ProfileFields = []string{"bio", "location", "organization", "job_title", "pronouns", "website_url",
	"public_email", "skype", "linkedin", "twitter", "discord"}

// State is the user's state as GitLab names it: "active", "blocked" or "banned".
func (u *User) State() string {
	switch {
	case u.Banned:
		return "banned"
	case u.Blocked:
		return "blocked"
	}
	return "active"
}

// Group is a namespace, nested to any depth.
type Group struct {
	ID       int64
	Name     string
	Path     string
	ParentID int64 // 0 for a top-level group
	FullPath string
	// Ancestry lists the ids of the group's ancestors from the root down, ending with its own id.
	Ancestry    []int64
	Visibility  Visibility
	Description string
	CreatedAt   time.Time
}

// Project lives in a group or a user's namespace and owns a repository, images and packages.
type Project struct {
	ID          int64
	Name        string
	Path        string
	GroupID     int64 // 0 when in a user namespace
	OwnerUserID int64 // set when in a user namespace
	FullPath    string
	Visibility  Visibility
	// GroupAncestry is the ancestry of the project's group (root first, the group last); empty
	// for a user-namespace project.
	GroupAncestry []int64
	Description   string
	DefaultBranch string
	CreatedAt     time.Time
}

// InGroup reports whether the project is in group id or any of its subgroups.
func (p *Project) InGroup(id int64) bool {
	for _, g := range p.GroupAncestry {
		if g == id {
			return true
		}
	}
	return false
}

// NamespacePath is the full path of the namespace the project lives in.
func (p *Project) NamespacePath() string {
	if i := strings.LastIndexByte(p.FullPath, '/'); i >= 0 {
		return p.FullPath[:i]
	}
	return ""
}

// GroupShare shares group GroupID with group SharedWithGroupID (GitLab's group links): the
// latter's members get min(their role there, Access) on GroupID, below it and on its projects,
// until ExpiresAt (nil: never).
type GroupShare struct {
	GroupID           int64
	SharedWithGroupID int64
	Access            Role
	ExpiresAt         *time.Time
	CreatedAt         time.Time
}

// Member is a role of a user on a group or a project (exactly one source id set).
type Member struct {
	UserID    int64
	GroupID   int64
	ProjectID int64
	Role      Role
	CreatedAt time.Time
	// ExpiresAt, when set, ends the membership at 00:00 UTC on that date (GitLab's expires_at).
	ExpiresAt *time.Time
}

// Active reports whether the membership still grants its role at now.
func (m Member) Active(now time.Time) bool { return m.ExpiresAt == nil || now.Before(*m.ExpiresAt) }

var pathRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$`)

// ValidatePath checks one path segment of a group, project or user. Segments ending in ".git"
// or ".atom", or made only of dots, would be ambiguous in URLs and are refused.
func ValidatePath(field, p string) error {
	if !pathRE.MatchString(p) || strings.HasSuffix(p, ".git") || strings.HasSuffix(p, ".atom") ||
		strings.Trim(p, ".") == "" || strings.Contains(p, "..") {
		return &errkind.ValidationError{Field: field, Reason: "can contain only letters, digits, '_', '-' and '.', cannot start with '-' or end in '.git'"}
	}
	return nil
}

// validateTopLevelPath also refuses the top-level URL segments Gatehouse serves itself.
func validateTopLevelPath(field, p string) error {
	if err := ValidatePath(field, p); err != nil {
		return err
	}
	if reservedPaths[strings.ToLower(p)] {
		return &errkind.ValidationError{Field: field, Reason: "is a reserved name"}
	}
	return nil
}

// reservedPaths are top-level URL segments Gatehouse serves itself ("new": the UI's /groups/new, docs/design.md §6.9).
var reservedPaths = map[string]bool{"api": true, "v2": true, "jwt": true, "-": true, "users": true,
	"metrics": true, "assets": true, "groups": true, "projects": true, "admin": true, "help": true,
	"login": true, "logout": true, "new": true}
