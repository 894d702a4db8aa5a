package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// TokenStore keeps deploy tokens (with their last use and daily usage) and personal access
// tokens.
type TokenStore struct{ *conn }

var (
	_ token.DeployStore   = (*TokenStore)(nil)
	_ token.UsageStore    = (*TokenStore)(nil)
	_ token.PersonalStore = (*TokenStore)(nil)
)

func encodeScopes(s token.Scopes) string { return strings.Join(s.Strings(), ",") }

func decodeScopes(v string) token.Scopes {
	var out token.Scopes
	for _, p := range strings.Split(v, ",") {
		if p != "" {
			out = append(out, token.Scope(p))
		}
	}
	return out
}

const deployCols = `id, name, username, scopes, expires_at, revoked, created_at, creator_id, last_used_at, project_id, group_id, digest, sealed_secret, previous_digest, previous_valid_until, allowed_ips, last_used_ip`

func scanDeploy(row scanner) (*token.DeployToken, error) {
	var t token.DeployToken
	var scopes string
	var exp, last, project, group, prevUntil sql.NullInt64
	var created int64
	var allowed, lastIP string
	if err := row.Scan(&t.ID, &t.Name, &t.Username, &scopes, &exp, &t.Revoked, &created, &t.CreatorID, &last, &project, &group,
		&t.Digest, &t.SealedSecret, &t.PreviousDigest, &prevUntil, &allowed, &lastIP); err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(lastIP); err == nil {
		t.LastUsedIP = ip
	}
	for _, a := range strings.Split(allowed, ",") {
		if p, err := netip.ParsePrefix(a); err == nil {
			t.AllowedIPs = append(t.AllowedIPs, p)
		}
	}
	t.PreviousValidUntil = timePtr(prevUntil)
	t.Scopes = decodeScopes(scopes)
	t.ExpiresAt, t.LastUsedAt = timePtr(exp), timePtr(last)
	t.CreatedAt = fromUnix(created)
	t.Owner = token.Owner{ProjectID: project.Int64, GroupID: group.Int64}
	return &t, nil
}

// CreateDeployToken implements token.DeployStore. A token without a username gets
// token.DefaultUsername of its id in the same transaction.
func (s *TokenStore) CreateDeployToken(ctx context.Context, t *token.DeployToken) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		username := t.Username
		if username == "" {
			// A placeholder unique to this digest, replaced below once the id is known.
			username = "pending-" + strconv.FormatInt(time.Now().UnixNano(), 36) + fmt.Sprintf("-%x", t.Digest[:8])
		}
		if t.Username != "" {
			// A custom username must not name a user, whatever the case (the reverse is
			// checked in CreateUser), so no credential's username can pass for a person's.
			if err := s.usernameFree(ctx, tx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(?))`, t.Username); err != nil {
				return err
			}
		}
		allowed := make([]string, len(t.AllowedIPs))
		for i, p := range t.AllowedIPs {
			allowed[i] = p.String()
		}
		id, err := s.insertID(ctx, tx, `INSERT INTO deploy_tokens (name, username, scopes, expires_at, revoked, created_at, creator_id, project_id, group_id, digest, sealed_secret, allowed_ips)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Name, username, encodeScopes(t.Scopes), nullTime(t.ExpiresAt), false, unixTime(t.CreatedAt), t.CreatorID,
			nullID(t.Owner.ProjectID), nullID(t.Owner.GroupID), t.Digest, t.SealedSecret, strings.Join(allowed, ","))
		if err != nil {
			return err
		}
		if t.Username == "" {
			username = token.DefaultUsername(id)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE deploy_tokens SET username = ? WHERE id = ?`), username, id); err != nil {
				return s.classify(err)
			}
		}
		t.ID, t.Username = id, username
		return nil
	})
	return kindErr("create deploy token", s.classify(err))
}

// DeployToken implements token.DeployStore.
func (s *TokenStore) DeployToken(ctx context.Context, id int64) (*token.DeployToken, error) {
	t, err := scanDeploy(s.db.QueryRowContext(ctx, s.q(`SELECT `+deployCols+` FROM deploy_tokens WHERE id = ?`), id))
	return t, kindErr("deploy token", s.classify(err))
}

// DeployTokenByDigest implements token.DeployStore.
func (s *TokenStore) DeployTokenByDigest(ctx context.Context, digest []byte) (*token.DeployToken, error) {
	return cached(s.cache, cacheKey{kind: "deploy token by digest", text: string(digest)}, cloneDeployToken, func() (*token.DeployToken, error) {
		return s.deployTokenByDigest(ctx, digest)
	})
}

func (s *TokenStore) deployTokenByDigest(ctx context.Context, digest []byte) (*token.DeployToken, error) {
	t, err := scanDeploy(s.db.QueryRowContext(ctx, s.q(`SELECT `+deployCols+` FROM deploy_tokens WHERE digest = ?`), digest))
	if errors.Is(err, sql.ErrNoRows) {
		// A secret replaced by a rotation: the service decides whether its grace period holds.
		t, err = scanDeploy(s.db.QueryRowContext(ctx, s.q(`SELECT `+deployCols+` FROM deploy_tokens WHERE previous_digest = ?`), digest))
	}
	return t, kindErr("deploy token", s.classify(err))
}

// RotateDeployToken implements token.DeployStore.
func (s *TokenStore) RotateDeployToken(ctx context.Context, t *token.DeployToken) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE deploy_tokens SET digest = ?, sealed_secret = ?, previous_digest = ?, previous_valid_until = ? WHERE id = ? AND revoked = ?`),
		t.Digest, t.SealedSecret, t.PreviousDigest, nullTime(t.PreviousValidUntil), t.ID, false)
	return kindErr("rotate deploy token", affectedOne(res, s.classify(err)))
}

// ListDeployTokens implements token.DeployStore.
func (s *TokenStore) ListDeployTokens(ctx context.Context, f token.DeployFilter) ([]*token.DeployToken, error) {
	query := `SELECT ` + deployCols + ` FROM deploy_tokens WHERE 1=1`
	var args []any
	if f.ProjectID != 0 {
		query += ` AND project_id = ?`
		args = append(args, f.ProjectID)
	}
	if f.GroupID != 0 {
		query += ` AND group_id = ?`
		args = append(args, f.GroupID)
	}
	if !f.ActiveAt.IsZero() {
		query += ` AND revoked = ? AND (expires_at IS NULL OR expires_at > ?)`
		args = append(args, false, unixTime(f.ActiveAt))
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	list, err := collect(rows, err, scanDeploy)
	return list, kindErr("list deploy tokens", err)
}

// RevokeDeployToken implements token.DeployStore.
func (s *TokenStore) RevokeDeployToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE deploy_tokens SET revoked = ? WHERE id = ?`), true, id)
	return kindErr("revoke deploy token", affectedOne(res, err))
}

// DeleteDeployToken implements token.DeployStore.
func (s *TokenStore) DeleteDeployToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM deploy_tokens WHERE id = ?`), id)
	return kindErr("delete deploy token", affectedOne(res, err))
}

// TouchDeployToken implements token.DeployStore.
func (s *TokenStore) TouchDeployToken(ctx context.Context, id int64, at time.Time, ip netip.Addr) error {
	addr := ""
	if ip.IsValid() {
		addr = ip.String()
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE deploy_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?`), unixTime(at), addr, id)
	return kindErr("touch deploy token", err)
}

// usageDay is the DATE literal of a UTC day; both dialects compare and store it as a date.
func usageDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// AddDeployTokenUsage implements token.DeployStore: one upsert per (token, day) in a single
// transaction; entries of tokens deleted meanwhile are skipped rather than failing the batch.
func (s *TokenStore) AddDeployTokenUsage(ctx context.Context, usage []token.DailyUsage) error {
	if len(usage) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		exists := s.q(`SELECT COUNT(*) FROM deploy_tokens WHERE id = ?`)
		upsert := s.q(`INSERT INTO deploy_token_usage (deploy_token_id, day, requests) VALUES (?, ?, ?)
			ON CONFLICT (deploy_token_id, day) DO UPDATE SET requests = deploy_token_usage.requests + excluded.requests`)
		known := map[int64]bool{}
		for _, u := range usage {
			if u.Requests <= 0 {
				continue
			}
			ok, seen := known[u.TokenID]
			if !seen {
				var n int
				if err := tx.QueryRowContext(ctx, exists, u.TokenID).Scan(&n); err != nil {
					return err
				}
				ok = n > 0
				known[u.TokenID] = ok
			}
			if !ok {
				continue
			}
			if _, err := tx.ExecContext(ctx, upsert, u.TokenID, usageDay(u.Day), u.Requests); err != nil {
				return err
			}
		}
		return nil
	})
	return kindErr("add deploy token usage", s.classify(err))
}

// DeployTokenUsage implements token.DeployStore.
func (s *TokenStore) DeployTokenUsage(ctx context.Context, id int64, from, to time.Time) ([]token.DailyUsage, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT CAST(day AS TEXT), requests FROM deploy_token_usage
		WHERE deploy_token_id = ? AND day >= ? AND day <= ? ORDER BY day`), id, usageDay(from), usageDay(to))
	if err != nil {
		return nil, kindErr("deploy token usage", err)
	}
	defer rows.Close()
	var out []token.DailyUsage
	for rows.Next() {
		var day string
		u := token.DailyUsage{TokenID: id}
		if err := rows.Scan(&day, &u.Requests); err != nil {
			return nil, err
		}
		if u.Day, err = time.Parse(time.DateOnly, day); err != nil {
			return nil, fmt.Errorf("deploy token usage: day %q: %w", day, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

const personalCols = `id, user_id, name, scopes, expires_at, revoked, created_at, last_used_at, digest, impersonation`

// CreatePersonalToken implements token.PersonalStore.
func (s *TokenStore) CreatePersonalToken(ctx context.Context, t *token.PersonalToken) error {
	id, err := s.insertPersonal(ctx, s.db, t)
	if err != nil {
		return kindErr("create personal token", s.classify(err))
	}
	t.ID = id
	return nil
}

func (s *TokenStore) insertPersonal(ctx context.Context, ex execer, t *token.PersonalToken) (int64, error) {
	return s.insertID(ctx, ex, `INSERT INTO personal_tokens (user_id, name, scopes, expires_at, revoked, created_at, digest, impersonation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.UserID, t.Name, encodeScopes(t.Scopes), nullTime(t.ExpiresAt), false, unixTime(t.CreatedAt), t.Digest, t.Impersonation)
}

// ListPersonalTokens implements token.PersonalStore.
func (s *TokenStore) ListPersonalTokens(ctx context.Context, userID int64) ([]*token.PersonalToken, error) {
	query, args := `SELECT `+personalCols+` FROM personal_tokens`, []any{}
	if userID != 0 {
		query, args = query+` WHERE user_id = ?`, append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	list, err := collect(rows, err, scanPersonal)
	return list, kindErr("list personal tokens", err)
}

// RevokePersonalToken implements token.PersonalStore.
func (s *TokenStore) RevokePersonalToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE personal_tokens SET revoked = ? WHERE id = ?`), true, id)
	return kindErr("revoke personal token", affectedOne(res, s.classify(err)))
}

// RotatePersonalToken implements token.PersonalStore: the old token is revoked only if it still
// was not, so two concurrent rotations cannot both succeed.
func (s *TokenStore) RotatePersonalToken(ctx context.Context, oldID int64, next *token.PersonalToken) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE personal_tokens SET revoked = ? WHERE id = ? AND revoked = ?`), true, oldID, false)
		if err := affectedOne(res, err); err != nil {
			var exists bool
			if qerr := tx.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM personal_tokens WHERE id = ?)`), oldID).Scan(&exists); qerr != nil {
				return qerr
			}
			if exists {
				return fmt.Errorf("%w: already revoked", errUnique)
			}
			return err
		}
		id, err := s.insertPersonal(ctx, tx, next)
		next.ID = id
		return err
	})
	return kindErr("rotate personal token", s.classify(err))
}

// TouchPersonalToken implements token.PersonalStore.
func (s *TokenStore) TouchPersonalToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE personal_tokens SET last_used_at = ? WHERE id = ?`), unixTime(at), id)
	return kindErr("touch personal token", affectedOne(res, s.classify(err)))
}

// PersonalTokenByDigest implements token.PersonalStore.
func (s *TokenStore) PersonalTokenByDigest(ctx context.Context, digest []byte) (*token.PersonalToken, error) {
	t, err := scanPersonal(s.db.QueryRowContext(ctx, s.q(`SELECT `+personalCols+` FROM personal_tokens WHERE digest = ?`), digest))
	return t, kindErr("personal token", s.classify(err))
}

// PersonalToken returns a personal access token by id, or errkind.ErrNotFound (the registry
// re-checks the token behind a bearer JWT on every request).
func (s *TokenStore) PersonalToken(ctx context.Context, id int64) (*token.PersonalToken, error) {
	t, err := scanPersonal(s.db.QueryRowContext(ctx, s.q(`SELECT `+personalCols+` FROM personal_tokens WHERE id = ?`), id))
	return t, kindErr("personal token", s.classify(err))
}

func scanPersonal(row scanner) (*token.PersonalToken, error) {
	var t token.PersonalToken
	var scopes string
	var exp, last sql.NullInt64
	var created int64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &scopes, &exp, &t.Revoked, &created, &last, &t.Digest, &t.Impersonation); err != nil {
		return nil, err
	}
	t.Scopes, t.ExpiresAt, t.LastUsedAt, t.CreatedAt = decodeScopes(scopes), timePtr(exp), timePtr(last), fromUnix(created)
	return &t, nil
}
