package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The Debian distributions live beside the packages (migration 0040): PackageStore serves them.
var _ packages.DistributionStore = (*PackageStore)(nil)

const distributionCols = `id, project_id, group_id, codename, suite, origin, label, version, description, valid_time_seconds,
	components, architectures, sealed_key, public_key, created_at, updated_at`

func scanDistribution(row scanner) (*packages.Distribution, error) {
	var d packages.Distribution
	var project, group sql.NullInt64
	var valid, created, updated int64
	var components, architectures string
	if err := row.Scan(&d.ID, &project, &group, &d.Codename, &d.Suite, &d.Origin, &d.Label, &d.Version, &d.Description, &valid,
		&components, &architectures, &d.SealedKey, &d.PublicKey, &created, &updated); err != nil {
		return nil, err
	}
	d.ProjectID, d.GroupID = project.Int64, group.Int64
	d.ValidTimeDuration = time.Duration(valid) * time.Second
	d.Components, d.Architectures = strings.Fields(components), strings.Fields(architectures)
	d.CreatedAt, d.UpdatedAt = fromUnix(created), fromUnix(updated)
	return &d, nil
}

// Distributions implements packages.DistributionStore.
func (s *PackageStore) Distributions(ctx context.Context, projectID, groupID int64) ([]*packages.Distribution, error) {
	col, id := "project_id", projectID
	if projectID == 0 {
		col, id = "group_id", groupID
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+distributionCols+` FROM debian_distributions WHERE `+col+` = ? ORDER BY codename`), id)
	list, err := collect(rows, err, scanDistribution)
	return list, kindErr("list debian distributions", err)
}

// CreateDistribution implements packages.DistributionStore.
func (s *PackageStore) CreateDistribution(ctx context.Context, d *packages.Distribution) error {
	id, err := s.insertID(ctx, s.db, `INSERT INTO debian_distributions (project_id, group_id, codename, suite, origin, label, version,
		description, valid_time_seconds, components, architectures, sealed_key, public_key, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, nullID(d.ProjectID), nullID(d.GroupID), d.Codename, d.Suite,
		d.Origin, d.Label, d.Version, d.Description, int64(d.ValidTimeDuration/time.Second), strings.Join(d.Components, " "),
		strings.Join(d.Architectures, " "), d.SealedKey, d.PublicKey, unixTime(d.CreatedAt), unixTime(d.UpdatedAt))
	if err != nil {
		return kindErr("create debian distribution", s.classify(err))
	}
	d.ID = id
	return nil
}

// UpdateDistribution implements packages.DistributionStore: everything but the owner, the
// codename and the key.
func (s *PackageStore) UpdateDistribution(ctx context.Context, d *packages.Distribution) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE debian_distributions SET suite = ?, origin = ?, label = ?, version = ?, description = ?,
		valid_time_seconds = ?, components = ?, architectures = ?, updated_at = ? WHERE id = ?`),
		d.Suite, d.Origin, d.Label, d.Version, d.Description, int64(d.ValidTimeDuration/time.Second),
		strings.Join(d.Components, " "), strings.Join(d.Architectures, " "), unixTime(d.UpdatedAt), d.ID)
	return kindErr("update debian distribution", affectedOne(res, s.classify(err)))
}

// DeleteDistribution implements packages.DistributionStore.
func (s *PackageStore) DeleteDistribution(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM debian_distributions WHERE id = ?`), id)
	return kindErr("delete debian distribution", affectedOne(res, err))
}
