package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// NamespaceStore keeps users, groups, projects, their members and the routes (full paths)
// that name them.
type NamespaceStore struct{ *conn }

var _ namespace.Store = (*NamespaceStore)(nil)

// kindErr says what failed and maps a missing row or reference to errkind.ErrNotFound and a
// taken unique key to errkind.ErrConflict: the one mapping of every domain the store serves
// (namespace, token, packages, the registry and the dependency proxy).
func kindErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNoRows):
		return fmt.Errorf("%s: %w", what, errkind.ErrNotFound)
	case errors.Is(err, errUnique):
		return fmt.Errorf("%s: %w", what, errkind.ErrConflict)
	case errors.Is(err, errReference):
		return fmt.Errorf("%s: %w", what, errkind.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

const userCols = `id, username, email, name, password_hash, admin, blocked, created_at, COALESCE(namespace_id, 0), banned, profile, password_change_required`

func scanUser(row scanner) (*namespace.User, error) {
	var u namespace.User
	var created int64
	var profile string
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &u.PasswordHash, &u.Admin, &u.Blocked, &created, &u.NamespaceID, &u.Banned, &profile,
		&u.PasswordChangeRequired); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(profile), &u.Profile); err != nil {
		return nil, fmt.Errorf("user %d profile: %w", u.ID, err)
	}
	if len(u.Profile) == 0 {
		u.Profile = nil
	}
	u.CreatedAt = fromUnix(created)
	return &u, nil
}

// CreateUser implements namespace.Store.
func (s *NamespaceStore) CreateUser(ctx context.Context, u *namespace.User) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// A deploy token's custom username is not a user's to take (see CreateDeployToken).
		if err := s.usernameFree(ctx, tx, `SELECT EXISTS (SELECT 1 FROM deploy_tokens WHERE lower(username) = lower(?))`, u.Username); err != nil {
			return err
		}
		nsID, err := s.nextNamespaceID(ctx, tx)
		if err != nil {
			return err
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO users (username, email, name, password_hash, admin, blocked, created_at, namespace_id, password_change_required) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.Username, u.Email, u.Name, u.PasswordHash, u.Admin, u.Blocked, unixTime(u.CreatedAt), nsID, u.PasswordChangeRequired)
		if err != nil {
			return err
		}
		u.ID, u.NamespaceID = id, nsID
		// A username is a top-level path, shared with top-level groups.
		return s.insertRoute(ctx, tx, u.Username, routeUser, id)
	})
	if err != nil {
		u.ID, u.NamespaceID = 0, 0
	}
	return kindErr("create user", s.classify(err))
}

// nextNamespaceID takes the next id of the groups' own counter for a personal namespace
// (migration 0026), so no group ever gets it.
func (s *conn) nextNamespaceID(ctx context.Context, tx *sql.Tx) (int64, error) {
	var id int64
	if s.dialect.name == "postgres" {
		err := tx.QueryRowContext(ctx, `SELECT nextval(pg_get_serial_sequence('namespace_groups', 'id'))`).Scan(&id)
		return id, err
	}
	// AUTOINCREMENT hands out max(seq, largest id) + 1, so a taken seq is never a group's id.
	if _, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = max(seq, (SELECT COALESCE(max(id), 0) FROM namespace_groups)) + 1 WHERE name = 'namespace_groups'`); err != nil {
		return 0, err
	}
	err := tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'namespace_groups'`).Scan(&id)
	return id, err
}

// UserByNamespaceID implements namespace.Store.
func (s *NamespaceStore) UserByNamespaceID(ctx context.Context, nsID int64) (*namespace.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE namespace_id = ?`), nsID))
	return u, kindErr("user", s.classify(err))
}

// usernameFree runs exists, a SELECT EXISTS query over the other kind of username, and answers
// errUnique when it finds username there: users and custom deploy-token usernames share one
// case-insensitive namespace.
func (s *conn) usernameFree(ctx context.Context, tx *sql.Tx, exists, username string) error {
	var taken bool
	if err := tx.QueryRowContext(ctx, s.q(exists), username).Scan(&taken); err != nil {
		return s.classify(err)
	}
	if taken {
		return fmt.Errorf("%w: username held by another kind of account", errUnique)
	}
	return nil
}

// User implements namespace.Store.
func (s *NamespaceStore) User(ctx context.Context, id int64) (*namespace.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE id = ?`), id))
	return u, kindErr("user", s.classify(err))
}

// UserByUsername implements namespace.Store.
func (s *NamespaceStore) UserByUsername(ctx context.Context, username string) (*namespace.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE lower(username) = lower(?)`), username))
	return u, kindErr("user", s.classify(err))
}

// ListUsers implements namespace.Store.
func (s *NamespaceStore) ListUsers(ctx context.Context) ([]*namespace.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	users, err := collect(rows, err, scanUser)
	return users, kindErr("list users", err)
}

// SetUserPassword implements namespace.Store; the new password is the user's own, so it also
// clears password_change_required.
func (s *NamespaceStore) SetUserPassword(ctx context.Context, id int64, hash string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, password_change_required = ? WHERE id = ?`), hash, false, id)
	return kindErr("set password", affectedOne(res, err))
}

// UpdateUser implements namespace.Store. A changed username moves the user's route in the same
// transaction, so the unique index on routes refuses a path a group holds.
func (s *NamespaceStore) UpdateUser(ctx context.Context, u *namespace.User) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var old string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT username FROM users WHERE id = ?`), u.ID).Scan(&old); err != nil {
			return err
		}
		if old != u.Username {
			if err := s.usernameFree(ctx, tx, `SELECT EXISTS (SELECT 1 FROM deploy_tokens WHERE lower(username) = lower(?))`, u.Username); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE routes SET path = ? WHERE source_type = ? AND source_id = ?`), u.Username, routeUser, u.ID); err != nil {
				return s.classify(err)
			}
		}
		profile, err := json.Marshal(u.Profile)
		if err != nil || u.Profile == nil {
			profile = []byte("{}")
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET username = ?, email = ?, name = ?, admin = ?, blocked = ?, banned = ?, profile = ? WHERE id = ?`),
			u.Username, u.Email, u.Name, u.Admin, u.Blocked, u.Banned, string(profile), u.ID)
		return affectedOne(res, s.classify(err))
	})
	return kindErr("update user", s.classify(err))
}

// DeleteUser implements namespace.Store.
func (s *NamespaceStore) DeleteUser(ctx context.Context, id int64) error {
	var refused error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var exists, projects bool
		if err := tx.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM users WHERE id = ?), EXISTS (SELECT 1 FROM projects WHERE owner_user_id = ?)`), id, id).
			Scan(&exists, &projects); err != nil {
			return err
		}
		switch {
		case !exists:
			return errNoRows
		case projects:
			refused = namespace.ErrUserHasProjects
			return refused
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT g.ancestry FROM group_members m JOIN namespace_groups g ON g.id = m.group_id WHERE m.user_id = ? AND m.role = ?`), id, int(namespace.Owner))
		owned, err := collect(rows, err, func(r scanner) (string, error) {
			var a string
			return a, r.Scan(&a)
		})
		if err != nil {
			return err
		}
		for _, a := range owned {
			ancestry := decodeIDs(a)
			args := []any{int(namespace.Owner), id}
			for _, g := range ancestry {
				args = append(args, g)
			}
			var others int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM group_members WHERE role = ? AND user_id <> ?
				AND (expires_at IS NULL OR expires_at > `+s.dialect.nowMicros+`) AND group_id IN (`+placeholders(len(ancestry))+`)`), args...).
				Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				refused = namespace.ErrSoleOwner
				return refused
			}
		}
		for _, stmt := range []string{`DELETE FROM group_members WHERE user_id = ?`, `DELETE FROM project_members WHERE user_id = ?`,
			`DELETE FROM personal_tokens WHERE user_id = ?`, `DELETE FROM web_sessions WHERE user_id = ?`} {
			if _, err := tx.ExecContext(ctx, s.q(stmt), id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routes WHERE source_type = ? AND source_id = ?`), routeUser, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id)
		return affectedOne(res, err)
	})
	if refused != nil {
		return refused
	}
	return kindErr("delete user", s.classify(err))
}

// UserMemberships implements namespace.Store.
func (s *NamespaceStore) UserMemberships(ctx context.Context, userID int64) ([]namespace.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT group_id, 0, role, created_at, expires_at FROM group_members WHERE user_id = ?
		UNION ALL SELECT 0, project_id, role, created_at, expires_at FROM project_members WHERE user_id = ? ORDER BY 2, 1`), userID, userID)
	list, err := collect(rows, err, func(r scanner) (namespace.Member, error) {
		m := namespace.Member{UserID: userID}
		var role int
		var created int64
		var expires sql.NullInt64
		err := r.Scan(&m.GroupID, &m.ProjectID, &role, &created, &expires)
		m.Role, m.CreatedAt, m.ExpiresAt = namespace.Role(role), fromUnix(created), timePtr(expires)
		return m, err
	})
	return list, kindErr("user memberships", err)
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRows
	}
	return nil
}

func encodeIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, "/")
}

func decodeIDs(s string) []int64 {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "/")
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err == nil {
			out = append(out, id)
		}
	}
	return out
}

const groupCols = `id, name, path, parent_id, full_path, ancestry, created_at, visibility, description`

func scanGroup(row scanner) (*namespace.Group, error) {
	var g namespace.Group
	var parent sql.NullInt64
	var ancestry, vis string
	var created int64
	if err := row.Scan(&g.ID, &g.Name, &g.Path, &parent, &g.FullPath, &ancestry, &created, &vis, &g.Description); err != nil {
		return nil, err
	}
	g.Visibility = namespace.Visibility(vis)
	g.ParentID = parent.Int64
	g.Ancestry = decodeIDs(ancestry)
	g.CreatedAt = fromUnix(created)
	return &g, nil
}

// CreateGroup implements namespace.Store: full path and ancestry come from the parent, read in
// the same transaction.
func (s *NamespaceStore) CreateGroup(ctx context.Context, g *namespace.Group) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fullPath, ancestry := g.Path, []int64{}
		if g.ParentID != 0 {
			parent, err := scanGroup(tx.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE id = ?`), g.ParentID))
			if err != nil {
				return s.classify(err)
			}
			fullPath = parent.FullPath + "/" + g.Path
			ancestry = append(ancestry, parent.Ancestry...)
		}
		if g.Visibility == "" {
			g.Visibility = namespace.Private
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO namespace_groups (name, path, parent_id, full_path, ancestry, created_at, visibility, description) VALUES (?, ?, ?, ?, '', ?, ?, ?)`,
			g.Name, g.Path, nullID(g.ParentID), fullPath, unixTime(g.CreatedAt), string(g.Visibility), g.Description)
		if err != nil {
			return err
		}
		if err := s.insertRoute(ctx, tx, fullPath, routeGroup, id); err != nil {
			return err
		}
		ancestry = append(ancestry, id)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE namespace_groups SET ancestry = ? WHERE id = ?`), encodeIDs(ancestry), id); err != nil {
			return err
		}
		g.ID, g.FullPath, g.Ancestry = id, fullPath, ancestry
		return nil
	})
	return kindErr("create group", s.classify(err))
}

// Group implements namespace.Store.
func (s *NamespaceStore) Group(ctx context.Context, id int64) (*namespace.Group, error) {
	g, err := scanGroup(s.db.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE id = ?`), id))
	return g, kindErr("group", s.classify(err))
}

// GroupByPath implements namespace.Store.
func (s *NamespaceStore) GroupByPath(ctx context.Context, fullPath string) (*namespace.Group, error) {
	g, err := scanGroup(s.db.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE lower(full_path) = lower(?)`), fullPath))
	return g, kindErr("group", s.classify(err))
}

// ListGroups implements namespace.Store.
func (s *NamespaceStore) ListGroups(ctx context.Context, parentID int64, all bool) ([]*namespace.Group, error) {
	var rows *sql.Rows
	var err error
	switch {
	case all:
		rows, err = s.db.QueryContext(ctx, `SELECT `+groupCols+` FROM namespace_groups ORDER BY id`)
	case parentID == 0:
		rows, err = s.db.QueryContext(ctx, `SELECT `+groupCols+` FROM namespace_groups WHERE parent_id IS NULL ORDER BY id`)
	default:
		rows, err = s.db.QueryContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE parent_id = ? ORDER BY id`), parentID)
	}
	groups, err := collect(rows, err, scanGroup)
	return groups, kindErr("list groups", err)
}

const projectCols = `p.id, p.name, p.path, p.group_id, p.owner_user_id, p.full_path, p.visibility, p.created_at, COALESCE(g.ancestry, ''), p.description, p.default_branch`
const projectFrom = ` FROM projects p LEFT JOIN namespace_groups g ON g.id = p.group_id`

func scanProject(row scanner) (*namespace.Project, error) {
	var p namespace.Project
	var group, owner sql.NullInt64
	var vis, ancestry string
	var created int64
	if err := row.Scan(&p.ID, &p.Name, &p.Path, &group, &owner, &p.FullPath, &vis, &created, &ancestry, &p.Description, &p.DefaultBranch); err != nil {
		return nil, err
	}
	p.GroupID, p.OwnerUserID = group.Int64, owner.Int64
	p.Visibility = namespace.Visibility(vis)
	p.GroupAncestry = decodeIDs(ancestry)
	p.CreatedAt = fromUnix(created)
	return &p, nil
}

// CreateProject implements namespace.Store.
func (s *NamespaceStore) CreateProject(ctx context.Context, p *namespace.Project) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var nsPath string
		var ancestry []int64
		switch {
		case p.GroupID != 0:
			g, err := scanGroup(tx.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE id = ?`), p.GroupID))
			if err != nil {
				return s.classify(err)
			}
			nsPath, ancestry = g.FullPath, g.Ancestry
		case p.OwnerUserID != 0:
			if err := tx.QueryRowContext(ctx, s.q(`SELECT username FROM users WHERE id = ?`), p.OwnerUserID).Scan(&nsPath); err != nil {
				return s.classify(err)
			}
		default:
			return errNoRows
		}
		fullPath := nsPath + "/" + p.Path
		if p.DefaultBranch == "" {
			p.DefaultBranch = "main"
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO projects (name, path, group_id, owner_user_id, full_path, visibility, created_at, description, default_branch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.Name, p.Path, nullID(p.GroupID), nullID(p.OwnerUserID), fullPath, string(p.Visibility), unixTime(p.CreatedAt), p.Description, p.DefaultBranch)
		if err != nil {
			return err
		}
		if err := s.insertRoute(ctx, tx, fullPath, routeProject, id); err != nil {
			return err
		}
		p.ID, p.FullPath, p.GroupAncestry = id, fullPath, ancestry
		return nil
	})
	return kindErr("create project", s.classify(err))
}

// DeleteProject implements namespace.Store: the project's deploy tokens, packages, registry
// repositories, members and route go in the same transaction (the cascades take their usage,
// files, manifests and tags; blobs nothing references any more are the collector's).
func (s *NamespaceStore) DeleteProject(ctx context.Context, id int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return s.deleteProject(ctx, tx, id) })
	return kindErr("delete project", s.classify(err))
}

// projectDependents are the tables whose rows belong to one project (project_id), deleted with it.
var projectDependents = []string{"deploy_tokens", "packages", "registry_repositories", "project_members", "project_classification_labels"}

func (s *NamespaceStore) deleteProject(ctx context.Context, tx *sql.Tx, id int64) error {
	for _, table := range projectDependents {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE project_id = ?`), id); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routes WHERE source_type = ? AND source_id = ?`), routeProject, id); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM projects WHERE id = ?`), id)
	return affectedOne(res, err)
}

// groupDependents are the tables whose rows belong to one group (group_id), deleted with it.
var groupDependents = []string{"deploy_tokens", "group_members", "group_shares", "dependency_proxy_group_settings",
	"dependency_proxy_tags", "dependency_proxy_manifests", "dependency_proxy_blobs"}

// DeleteGroup implements namespace.Store: the group, its subgroups and every project in them,
// with what DeleteProject removes, in one transaction.
func (s *NamespaceStore) DeleteGroup(ctx context.Context, id int64) ([]int64, error) {
	var projects []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		groups, err := s.subtree(ctx, tx, id)
		if err != nil {
			return err
		}
		projects, err = s.projectsIn(ctx, tx, groups)
		if err != nil {
			return err
		}
		for _, p := range projects {
			if err := s.deleteProject(ctx, tx, p); err != nil {
				return err
			}
		}
		// Deepest first: a group's parent_id references its parent.
		slices.SortFunc(groups, func(a, b *namespace.Group) int { return len(b.Ancestry) - len(a.Ancestry) })
		for _, g := range groups {
			for _, table := range groupDependents {
				if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE group_id = ?`), g.ID); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM group_shares WHERE shared_with_group_id = ?`), g.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routes WHERE source_type = ? AND source_id = ?`), routeGroup, g.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM namespace_groups WHERE id = ?`), g.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, kindErr("delete group", s.classify(err))
	}
	return projects, nil
}

// subtree returns group id and every group below it (errNoRows when id is missing).
func (s *NamespaceStore) subtree(ctx context.Context, tx *sql.Tx, id int64) ([]*namespace.Group, error) {
	g, err := scanGroup(tx.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE id = ?`), id))
	if err != nil {
		return nil, err
	}
	a := encodeIDs(g.Ancestry)
	rows, err := tx.QueryContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE ancestry = ? OR ancestry LIKE ? ORDER BY id`), a, a+"/%")
	return collect(rows, err, scanGroup)
}

// projectsIn returns the ids of the projects directly in groups.
func (s *NamespaceStore) projectsIn(ctx context.Context, tx *sql.Tx, groups []*namespace.Group) ([]int64, error) {
	var out []int64
	for _, g := range groups {
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM projects WHERE group_id = ? ORDER BY id`), g.ID)
		ids, err := collect(rows, err, func(r scanner) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// UpdateGroup implements namespace.Store.
func (s *NamespaceStore) UpdateGroup(ctx context.Context, g *namespace.Group) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE namespace_groups SET name = ?, description = ?, visibility = ? WHERE id = ?`),
		g.Name, g.Description, string(g.Visibility), g.ID)
	return kindErr("update group", s.classify(affectedOne(res, err)))
}

// UpdateProject implements namespace.Store.
func (s *NamespaceStore) UpdateProject(ctx context.Context, p *namespace.Project) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE projects SET name = ?, description = ?, visibility = ?, default_branch = ? WHERE id = ?`),
		p.Name, p.Description, string(p.Visibility), p.DefaultBranch, p.ID)
	return kindErr("update project", s.classify(affectedOne(res, err)))
}

// MoveProject implements namespace.Store: the project's row, its route and its registry
// repositories' names change in one transaction; its repository on disk is named by id and stays.
func (s *NamespaceStore) MoveProject(ctx context.Context, id, groupID, ownerUserID int64, path string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var oldPath string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT full_path FROM projects WHERE id = ?`), id).Scan(&oldPath); err != nil {
			return err
		}
		var nsPath string
		if groupID != 0 {
			if err := tx.QueryRowContext(ctx, s.q(`SELECT full_path FROM namespace_groups WHERE id = ?`), groupID).Scan(&nsPath); err != nil {
				return err
			}
		} else if err := tx.QueryRowContext(ctx, s.q(`SELECT username FROM users WHERE id = ?`), ownerUserID).Scan(&nsPath); err != nil {
			return err
		}
		newPath := nsPath + "/" + path
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE projects SET group_id = ?, owner_user_id = ?, path = ?, full_path = ? WHERE id = ?`),
			nullID(groupID), nullID(ownerUserID), path, newPath, id); err != nil {
			return err
		}
		return s.moveProjectPath(ctx, tx, id, oldPath, newPath)
	})
	return kindErr("move project", s.classify(err))
}

// moveProjectPath renames project id's route and its registry repositories from oldPath to
// newPath. Image names are the project's path in lower case followed by the image's own part.
func (s *NamespaceStore) moveProjectPath(ctx context.Context, tx *sql.Tx, id int64, oldPath, newPath string) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE projects SET full_path = ? WHERE id = ?`), newPath, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE routes SET path = ? WHERE source_type = ? AND source_id = ?`), newPath, routeProject, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`UPDATE registry_repositories SET name = CAST(? AS TEXT) || substr(name, CAST(? AS INTEGER)) WHERE project_id = ?`),
		strings.ToLower(newPath), len(oldPath)+1, id)
	return err
}

// MoveGroup implements namespace.Store: the group takes parent parentID (0: top level) and path;
// every group and project below it gets its new full path, ancestry, route and image names in
// the same transaction. errkind.ErrInvalid when parentID is the group or below it.
func (s *NamespaceStore) MoveGroup(ctx context.Context, id, parentID int64, path string) ([]int64, error) {
	var moved []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		groups, err := s.subtree(ctx, tx, id)
		if err != nil {
			return err
		}
		g := groups[slices.IndexFunc(groups, func(x *namespace.Group) bool { return x.ID == id })]
		newFull, newAncestry := path, []int64{}
		if parentID != 0 {
			parent, err := scanGroup(tx.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE id = ?`), parentID))
			if err != nil {
				return err
			}
			if slices.Contains(parent.Ancestry, id) {
				return fmt.Errorf("%w: a group cannot move below itself", errkind.ErrInvalid)
			}
			newFull, newAncestry = parent.FullPath+"/"+path, parent.Ancestry
		}
		depth := len(g.Ancestry) - 1 // ancestors of g, replaced by newAncestry
		oldFull := g.FullPath
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE namespace_groups SET parent_id = ?, path = ? WHERE id = ?`), nullID(parentID), path, id); err != nil {
			return err
		}
		for _, sg := range groups {
			full := newFull + sg.FullPath[len(oldFull):]
			ancestry := append(slices.Clone(newAncestry), sg.Ancestry[depth:]...)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE namespace_groups SET full_path = ?, ancestry = ? WHERE id = ?`), full, encodeIDs(ancestry), sg.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE routes SET path = ? WHERE source_type = ? AND source_id = ?`), full, routeGroup, sg.ID); err != nil {
				return err
			}
		}
		moved, err = s.projectsIn(ctx, tx, groups)
		if err != nil {
			return err
		}
		for _, pid := range moved {
			var old string
			if err := tx.QueryRowContext(ctx, s.q(`SELECT full_path FROM projects WHERE id = ?`), pid).Scan(&old); err != nil {
				return err
			}
			if err := s.moveProjectPath(ctx, tx, pid, old, newFull+old[len(oldFull):]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, kindErr("move group", s.classify(err))
	}
	return moved, nil
}

// Project implements namespace.Store.
func (s *NamespaceStore) Project(ctx context.Context, id int64) (*namespace.Project, error) {
	return cached(s.cache, cacheKey{kind: "project", id: id}, cloneProject, func() (*namespace.Project, error) {
		p, err := scanProject(s.db.QueryRowContext(ctx, s.q(`SELECT `+projectCols+projectFrom+` WHERE p.id = ?`), id))
		return p, kindErr("project", s.classify(err))
	})
}

// ProjectByPath implements namespace.Store.
func (s *NamespaceStore) ProjectByPath(ctx context.Context, fullPath string) (*namespace.Project, error) {
	return cached(s.cache, cacheKey{kind: "project by path", text: fullPath}, cloneProject, func() (*namespace.Project, error) {
		p, err := scanProject(s.db.QueryRowContext(ctx, s.q(`SELECT `+projectCols+projectFrom+` WHERE lower(p.full_path) = lower(?)`), fullPath))
		return p, kindErr("project", s.classify(err))
	})
}

// ListProjects implements namespace.Store.
func (s *NamespaceStore) ListProjects(ctx context.Context) ([]*namespace.Project, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+projectCols+projectFrom+` ORDER BY p.id`)
	projects, err := collect(rows, err, scanProject)
	return projects, kindErr("list projects", err)
}

// AddMember implements namespace.Store.
func (s *NamespaceStore) AddMember(ctx context.Context, m namespace.Member) error {
	var err error
	if m.GroupID != 0 {
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO group_members (group_id, user_id, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
			m.GroupID, m.UserID, int(m.Role), unixTime(m.CreatedAt), nullTime(m.ExpiresAt))
	} else {
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO project_members (project_id, user_id, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
			m.ProjectID, m.UserID, int(m.Role), unixTime(m.CreatedAt), nullTime(m.ExpiresAt))
	}
	return kindErr("add member", s.classify(err))
}

// ChangeMember implements namespace.Store. On SQLite every write transaction excludes the others
// (BEGIN IMMEDIATE); on PostgreSQL the top-level group's row (or a personal project's) is locked
// first, so changes in one tree run one after the other and each counts the owners the last one
// left.
func (s *NamespaceStore) ChangeMember(ctx context.Context, m namespace.Member, decide func(old namespace.Member, otherOwners int) error) (namespace.Member, error) {
	old := namespace.Member{UserID: m.UserID, GroupID: m.GroupID, ProjectID: m.ProjectID}
	var refused error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		table, col, source := "group_members", "group_id", m.GroupID
		var ancestry []int64
		personal := false
		if m.GroupID != 0 {
			g, err := scanGroup(tx.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM namespace_groups WHERE id = ?`), m.GroupID))
			if err != nil {
				return err
			}
			ancestry = g.Ancestry
		} else {
			table, col, source = "project_members", "project_id", m.ProjectID
			p, err := scanProject(tx.QueryRowContext(ctx, s.q(`SELECT `+projectCols+projectFrom+` WHERE p.id = ?`), m.ProjectID))
			if err != nil {
				return err
			}
			ancestry, personal = p.GroupAncestry, p.OwnerUserID != 0
		}
		if s.dialect.name == "postgres" {
			lock := `SELECT id FROM namespace_groups WHERE id = ? FOR UPDATE`
			id := int64(0)
			if len(ancestry) > 0 {
				id = ancestry[0]
			} else {
				lock, id = `SELECT id FROM projects WHERE id = ? FOR UPDATE`, m.ProjectID
			}
			if _, err := tx.ExecContext(ctx, s.q(lock), id); err != nil {
				return err
			}
		}
		var role int
		var created int64
		var expires sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT role, created_at, expires_at FROM `+table+` WHERE `+col+` = ? AND user_id = ?`), source, m.UserID).
			Scan(&role, &created, &expires); err != nil {
			return err
		}
		old.Role, old.CreatedAt, old.ExpiresAt = namespace.Role(role), fromUnix(created), timePtr(expires)
		owners := 0
		if personal {
			owners++ // the namespace's owner, who is no member row
		}
		// An expired membership is no owner (the database's clock: no caller's now reaches here).
		active := ` AND (expires_at IS NULL OR expires_at > ` + s.dialect.nowMicros + `)`
		query := `SELECT COUNT(*) FROM ` + table + ` WHERE ` + col + ` = ? AND role = ? AND user_id <> ?` + active
		args := []any{source, int(namespace.Owner), m.UserID}
		if m.ProjectID != 0 && len(ancestry) > 0 {
			query = `SELECT (` + query + `) + (SELECT COUNT(*) FROM group_members WHERE role = ?` + active + ` AND group_id IN (` + placeholders(len(ancestry)) + `))`
			args = append(args, int(namespace.Owner))
		} else if m.GroupID != 0 && len(ancestry) > 1 {
			query = `SELECT (` + query + `) + (SELECT COUNT(*) FROM group_members WHERE role = ?` + active + ` AND group_id IN (` + placeholders(len(ancestry)-1) + `))`
			args = append(args, int(namespace.Owner))
			ancestry = ancestry[:len(ancestry)-1] // the group's own row is counted above
		} else {
			ancestry = nil
		}
		for _, id := range ancestry {
			args = append(args, id)
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q(query), args...).Scan(&n); err != nil {
			return err
		}
		if refused = decide(old, owners+n); refused != nil {
			return refused
		}
		var res sql.Result
		var err error
		if m.Role == namespace.NoRole {
			res, err = tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE `+col+` = ? AND user_id = ?`), source, m.UserID)
		} else {
			res, err = tx.ExecContext(ctx, s.q(`UPDATE `+table+` SET role = ?, expires_at = ? WHERE `+col+` = ? AND user_id = ?`),
				int(m.Role), nullTime(m.ExpiresAt), source, m.UserID)
		}
		return affectedOne(res, err)
	})
	if refused != nil {
		return namespace.Member{}, refused
	}
	if err != nil {
		return namespace.Member{}, kindErr("change member", s.classify(err))
	}
	return old, nil
}

// ListMembers implements namespace.Store.
func (s *NamespaceStore) ListMembers(ctx context.Context, groupID, projectID int64) ([]namespace.Member, error) {
	var rows *sql.Rows
	var err error
	if groupID != 0 {
		rows, err = s.db.QueryContext(ctx, s.q(`SELECT user_id, role, created_at, expires_at FROM group_members WHERE group_id = ? ORDER BY user_id`), groupID)
	} else {
		rows, err = s.db.QueryContext(ctx, s.q(`SELECT user_id, role, created_at, expires_at FROM project_members WHERE project_id = ? ORDER BY user_id`), projectID)
	}
	if err != nil {
		return nil, kindErr("list members", err)
	}
	defer rows.Close()
	var out []namespace.Member
	for rows.Next() {
		m := namespace.Member{GroupID: groupID, ProjectID: projectID}
		var role int
		var created int64
		var expires sql.NullInt64
		if err := rows.Scan(&m.UserID, &role, &created, &expires); err != nil {
			return nil, err
		}
		m.Role, m.CreatedAt, m.ExpiresAt = namespace.Role(role), fromUnix(created), timePtr(expires)
		out = append(out, m)
	}
	return out, rows.Err()
}

// MemberRoles implements namespace.Store in one round trip, leaving out memberships expired at
// at. A share gives the user's role in the shared-with group (a direct membership there or in one
// of its ancestors, found in its ancestry), capped at the share's access, while neither the share
// nor that membership has expired.
func (s *NamespaceStore) MemberRoles(ctx context.Context, userID, projectID int64, groupIDs []int64, at time.Time) ([]namespace.Role, error) {
	const active = ` AND (expires_at IS NULL OR expires_at > ?)`
	now := unixTime(at)
	query := `SELECT role FROM project_members WHERE user_id = ? AND project_id = ?` + active
	args := []any{userID, projectID, now}
	if len(groupIDs) > 0 {
		in := `(?` + strings.Repeat(", ?", len(groupIDs)-1) + `)`
		query += ` UNION ALL SELECT role FROM group_members WHERE user_id = ?` + active + ` AND group_id IN ` + in +
			` UNION ALL SELECT CASE WHEN gm.role < l.group_access THEN gm.role ELSE l.group_access END FROM group_shares l
			JOIN namespace_groups w ON w.id = l.shared_with_group_id
			JOIN group_members gm ON gm.user_id = ? AND ('/' || w.ancestry || '/') LIKE ('%/' || CAST(gm.group_id AS TEXT) || '/%')
				AND (gm.expires_at IS NULL OR gm.expires_at > ?)
			WHERE l.group_id IN ` + in + ` AND (l.expires_at IS NULL OR l.expires_at > ?)`
		args = append(args, userID, now)
		for _, id := range groupIDs {
			args = append(args, id)
		}
		args = append(args, userID, now)
		for _, id := range groupIDs {
			args = append(args, id)
		}
		args = append(args, now)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, kindErr("member roles", err)
	}
	defer rows.Close()
	var out []namespace.Role
	for rows.Next() {
		var r int
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, namespace.Role(r))
	}
	return out, rows.Err()
}

// ProjectByLongestPath returns the project whose full path is the longest of paths (compared
// case-insensitively), or errkind.ErrNotFound. One query, for image-name resolution.
func (s *NamespaceStore) ProjectByLongestPath(ctx context.Context, paths []string) (*namespace.Project, error) {
	if len(paths) == 0 || len(paths) > inChunk {
		return nil, fmt.Errorf("project by path: %w", errkind.ErrNotFound)
	}
	args := make([]any, len(paths))
	conds := make([]string, len(paths))
	for i, p := range paths {
		args[i] = p
		conds[i] = "lower(?)"
	}
	p, err := scanProject(s.db.QueryRowContext(ctx, s.q(`SELECT `+projectCols+projectFrom+
		` WHERE lower(p.full_path) IN (`+strings.Join(conds, ", ")+`) ORDER BY length(p.full_path) DESC LIMIT 1`), args...))
	return p, kindErr("project by path", s.classify(err))
}

// ShareGroup implements namespace.Store.
func (s *NamespaceStore) ShareGroup(ctx context.Context, sh namespace.GroupShare) error {
	var exp sql.NullInt64
	if sh.ExpiresAt != nil {
		exp = sql.NullInt64{Int64: unixTime(*sh.ExpiresAt), Valid: true}
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO group_shares (group_id, shared_with_group_id, group_access, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`),
		sh.GroupID, sh.SharedWithGroupID, int(sh.Access), exp, unixTime(sh.CreatedAt))
	return kindErr("share group", s.classify(err))
}

// UnshareGroup implements namespace.Store.
func (s *NamespaceStore) UnshareGroup(ctx context.Context, groupID, sharedWithGroupID int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM group_shares WHERE group_id = ? AND shared_with_group_id = ?`), groupID, sharedWithGroupID)
	return kindErr("unshare group", s.classify(affectedOne(res, err)))
}

// GroupShares implements namespace.Store.
func (s *NamespaceStore) GroupShares(ctx context.Context, groupID int64) ([]namespace.GroupShare, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT group_id, shared_with_group_id, group_access, expires_at, created_at FROM group_shares WHERE group_id = ? ORDER BY shared_with_group_id`), groupID)
	shares, err := collect(rows, err, func(r scanner) (namespace.GroupShare, error) {
		var sh namespace.GroupShare
		var access int
		var exp sql.NullInt64
		var created int64
		if err := r.Scan(&sh.GroupID, &sh.SharedWithGroupID, &access, &exp, &created); err != nil {
			return sh, err
		}
		sh.Access, sh.CreatedAt = namespace.Role(access), fromUnix(created)
		if exp.Valid {
			t := fromUnix(exp.Int64)
			sh.ExpiresAt = &t
		}
		return sh, nil
	})
	return shares, kindErr("group shares", err)
}
