package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// ExpiryStore keeps the deploy-token expiry notifications (docs/design.md §4), run under a lease
// (lease.go): the expiring-token scan and the per-(token, interval) notice records.
type ExpiryStore struct{ *conn }

var _ notify.Store = (*ExpiryStore)(nil)

// DeployTokensExpiringBetween returns the unrevoked deploy tokens whose expiry instant is after
// after and at or before until, by id. Tokens without an expiry never match.
func (s *ExpiryStore) DeployTokensExpiringBetween(ctx context.Context, after, until time.Time) ([]*token.DeployToken, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+deployCols+` FROM deploy_tokens
		WHERE revoked = ? AND expires_at IS NOT NULL AND expires_at > ? AND expires_at <= ? ORDER BY id`),
		false, unixTime(after), unixTime(until))
	list, err := collect(rows, err, scanDeploy)
	if err != nil {
		return nil, fmt.Errorf("list expiring deploy tokens: %w", err)
	}
	return list, nil
}

// ClaimExpiryNotice claims the notice of deploy token tokenID for intervalDays for holder, at
// now. It succeeds when the notice was never claimed, or when an earlier claim was never
// completed and was made at or before staleBefore (its node died between claim and send). One
// atomic upsert decides, so of several nodes claiming at once exactly one succeeds. It reports
// whether holder got the claim.
func (s *ExpiryStore) ClaimExpiryNotice(ctx context.Context, tokenID int64, intervalDays int, holder string, now, staleBefore time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO deploy_token_expiry_notices (token_id, interval_days, holder, claimed_at, sent_at, recipients)
		VALUES (?, ?, ?, ?, NULL, 0)
		ON CONFLICT (token_id, interval_days) DO UPDATE SET holder = excluded.holder, claimed_at = excluded.claimed_at
		WHERE deploy_token_expiry_notices.sent_at IS NULL AND deploy_token_expiry_notices.claimed_at <= ?`),
		tokenID, intervalDays, holder, unixTime(now), unixTime(staleBefore))
	if err != nil && s.dialect.isReference(err) {
		return false, nil // the token was deleted meanwhile: nothing to notify
	}
	return changedOne("claim expiry notice", res, err)
}

// CompleteExpiryNotice records that holder's claimed notice was handled at now, for recipients
// people. It reports false when holder no longer holds the claim.
func (s *ExpiryStore) CompleteExpiryNotice(ctx context.Context, tokenID int64, intervalDays int, holder string, now time.Time, recipients int) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE deploy_token_expiry_notices SET sent_at = ?, recipients = ?
		WHERE token_id = ? AND interval_days = ? AND holder = ? AND sent_at IS NULL`),
		unixTime(now), recipients, tokenID, intervalDays, holder)
	return changedOne("complete expiry notice", res, err)
}

// ReleaseExpiryNotice drops holder's claim of a notice not yet completed, so that a later run
// claims it again.
func (s *ExpiryStore) ReleaseExpiryNotice(ctx context.Context, tokenID int64, intervalDays int, holder string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM deploy_token_expiry_notices
		WHERE token_id = ? AND interval_days = ? AND holder = ? AND sent_at IS NULL`), tokenID, intervalDays, holder); err != nil {
		return fmt.Errorf("release expiry notice: %w", err)
	}
	return nil
}

// ExpiryNotice is the record of one (token, interval) notice.
type ExpiryNotice struct {
	IntervalDays int
	Holder       string
	ClaimedAt    time.Time
	SentAt       *time.Time // nil while claimed and not yet completed
	Recipients   int
}

// ExpiryNotices returns the notice records of deploy token tokenID, by interval.
func (s *ExpiryStore) ExpiryNotices(ctx context.Context, tokenID int64) ([]ExpiryNotice, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT interval_days, holder, claimed_at, sent_at, recipients
		FROM deploy_token_expiry_notices WHERE token_id = ? ORDER BY interval_days`), tokenID)
	if err != nil {
		return nil, fmt.Errorf("expiry notices: %w", err)
	}
	defer rows.Close()
	var out []ExpiryNotice
	for rows.Next() {
		var n ExpiryNotice
		var claimed int64
		var sent sql.NullInt64
		if err := rows.Scan(&n.IntervalDays, &n.Holder, &claimed, &sent, &n.Recipients); err != nil {
			return nil, fmt.Errorf("expiry notices: %w", err)
		}
		n.ClaimedAt, n.SentAt = fromUnix(claimed), timePtr(sent)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expiry notices: %w", err)
	}
	return out, nil
}
