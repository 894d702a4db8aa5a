package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// Reads for the UI's project pages (docs/design.md §6.9): a project's container repositories
// with their tags, and the bytes its registry and package files take.

// ProjectRepositories lists the container repositories of project projectID by name, with how
// many tags each has.
func (s *RegistryStore) ProjectRepositories(ctx context.Context, projectID int64) ([]oci.RepositorySummary, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT r.name, r.created_at, (SELECT COUNT(*) FROM registry_tags t WHERE t.repository_id = r.id)
		FROM registry_repositories r WHERE r.project_id = ? ORDER BY r.name`), projectID)
	out, err := collect(rows, err, func(row scanner) (oci.RepositorySummary, error) {
		var rs oci.RepositorySummary
		var name string
		var created int64
		if err := row.Scan(&name, &created, &rs.TagCount); err != nil {
			return rs, err
		}
		rs.Name, rs.CreatedAt = oci.Name(name), fromUnix(created)
		return rs, nil
	})
	return out, kindErr("project repositories", err)
}

// TagDetails lists every tag of repo by name with its manifest's digest, media type and size
// (the manifest plus the blobs it references that are linked in repo); oci.ErrNotFound when the
// repository does not exist.
func (s *RegistryStore) TagDetails(ctx context.Context, repo oci.Repository) ([]oci.TagDetail, error) {
	id, err := s.repositoryID(ctx, s.db, repo)
	if err != nil {
		return nil, kindErr("tag details", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.name, t.digest, m.media_type, t.updated_at,
		m.size + COALESCE((SELECT SUM(l.size) FROM registry_manifest_references mr
			JOIN registry_blob_links l ON l.repository_id = mr.repository_id AND l.digest = mr.reference
			WHERE mr.repository_id = t.repository_id AND mr.digest = t.digest), 0)
		FROM registry_tags t JOIN registry_manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
		WHERE t.repository_id = ? ORDER BY t.name`), id)
	out, err := collect(rows, err, func(row scanner) (oci.TagDetail, error) {
		var td oci.TagDetail
		var updated int64
		if err := row.Scan(&td.Name, &td.Digest, &td.MediaType, &updated, &td.Size); err != nil {
			return td, err
		}
		td.UpdatedAt = fromUnix(updated)
		return td, nil
	})
	return out, kindErr("tag details", err)
}

// ProjectRegistryBytes is the size of the distinct blobs linked in project projectID's
// repositories plus its manifests (a layer shared by two of its repositories counts once).
func (s *RegistryStore) ProjectRegistryBytes(ctx context.Context, projectID int64) (int64, error) {
	var blobs, manifests sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT SUM(size) FROM (SELECT l.digest, MAX(l.size) AS size FROM registry_blob_links l
		JOIN registry_repositories r ON r.id = l.repository_id WHERE r.project_id = ? GROUP BY l.digest) d`), projectID).Scan(&blobs)
	if err != nil {
		return 0, kindErr("project registry bytes", err)
	}
	err = s.db.QueryRowContext(ctx, s.q(`SELECT SUM(m.size) FROM registry_manifests m
		JOIN registry_repositories r ON r.id = m.repository_id WHERE r.project_id = ?`), projectID).Scan(&manifests)
	return blobs.Int64 + manifests.Int64, kindErr("project registry bytes", err)
}

// ProjectPackageBytes is the size of every package file of project projectID.
func (s *PackageStore) ProjectPackageBytes(ctx context.Context, projectID int64) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT SUM(f.size) FROM package_files f
		JOIN package_versions v ON v.id = f.version_id JOIN packages p ON p.id = v.package_id WHERE p.project_id = ?`), projectID).Scan(&n)
	return n.Int64, kindErr("project package bytes", err)
}
