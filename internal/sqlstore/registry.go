package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// RegistryStore keeps the container registry's metadata: repositories, per-repository blob
// links, manifests with their references and subject, and tags. Compile-time checks against the
// consumer interfaces live in the registry tests (sqlstore may not import protocol packages).
type RegistryStore struct{ *conn }

// inChunk bounds the placeholders of one IN (…) list.
const inChunk = 500

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// A repository is always found by its project and its name together (migration 0016), never by
// name alone: a project can never reach another project's repository of the same name.

// repoWhere selects the repository repo; its arguments are repoArgs(repo).
const repoWhere = `project_id = ? AND name = ?`

func repoArgs(repo oci.Repository) []any { return []any{repo.ProjectID, string(repo.Name)} }

// ensureRepository returns the id of repository repo, creating it.
func (s *RegistryStore) ensureRepository(ctx context.Context, tx *sql.Tx, repo oci.Repository, now time.Time) (int64, error) {
	id, err := s.repositoryID(ctx, tx, repo)
	if !errors.Is(err, errNoRows) {
		return id, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO registry_repositories (project_id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (project_id, name) DO NOTHING`), repo.ProjectID, string(repo.Name), unixTime(now)); err != nil {
		return 0, s.classify(err)
	}
	return s.repositoryID(ctx, tx, repo)
}

// repositoryID returns the id of repository repo, or errNoRows.
func (s *RegistryStore) repositoryID(ctx context.Context, ex execer, repo oci.Repository) (int64, error) {
	var id int64
	err := ex.QueryRowContext(ctx, s.q(`SELECT id FROM registry_repositories WHERE `+repoWhere), repoArgs(repo)...).Scan(&id)
	return id, s.classify(err)
}

// BlobLink returns the link of digest in repo, or oci.ErrNotFound.
func (s *RegistryStore) BlobLink(ctx context.Context, repo oci.Repository, digest string) (oci.BlobLink, error) {
	l := oci.BlobLink{Digest: digest}
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT l.size, l.created_at FROM registry_blob_links l
		JOIN registry_repositories r ON r.id = l.repository_id WHERE r.project_id = ? AND r.name = ? AND l.digest = ?`),
		repo.ProjectID, string(repo.Name), digest).
		Scan(&l.Size, &created)
	if err != nil {
		return oci.BlobLink{}, kindErr("blob link", s.classify(err))
	}
	l.CreatedAt = fromUnix(created)
	return l, nil
}

// LinkBlob links a committed blob into repo (creating the repository), idempotently.
func (s *RegistryStore) LinkBlob(ctx context.Context, repo oci.Repository, link oci.BlobLink) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		id, err := s.ensureRepository(ctx, tx, repo, link.CreatedAt)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO registry_blob_links (repository_id, digest, size, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (repository_id, digest) DO NOTHING`), id, link.Digest, link.Size, unixTime(link.CreatedAt))
		return err
	})
	return kindErr("link blob", s.classify(err))
}

// UnlinkBlob removes digest from repo, or returns oci.ErrNotFound.
func (s *RegistryStore) UnlinkBlob(ctx context.Context, repo oci.Repository, digest string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM registry_blob_links
		WHERE repository_id = (SELECT id FROM registry_repositories WHERE `+repoWhere+`) AND digest = ?`), append(repoArgs(repo), digest)...)
	return kindErr("unlink blob", affected(res, err))
}

// affected turns "no row changed" into errNoRows.
func affected(res sql.Result, err error) error {
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

// ProjectBlobLink finds digest linked in any repository of the project, or oci.ErrNotFound.
func (s *RegistryStore) ProjectBlobLink(ctx context.Context, projectID int64, digest string) (oci.BlobLink, error) {
	l := oci.BlobLink{Digest: digest}
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT l.size, l.created_at FROM registry_blob_links l
		JOIN registry_repositories r ON r.id = l.repository_id WHERE r.project_id = ? AND l.digest = ? LIMIT 1`), projectID, digest).
		Scan(&l.Size, &created)
	if err != nil {
		return oci.BlobLink{}, kindErr("project blob link", s.classify(err))
	}
	l.CreatedAt = fromUnix(created)
	return l, nil
}

const manifestCols = `m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.created_at`

func scanManifest(row scanner) (oci.ManifestRecord, error) {
	var m oci.ManifestRecord
	var subject sql.NullString
	var created int64
	if err := row.Scan(&m.Digest, &m.MediaType, &m.Size, &m.ArtifactType, &subject, &created); err != nil {
		return oci.ManifestRecord{}, err
	}
	m.Subject, m.CreatedAt = subject.String, fromUnix(created)
	return m, nil
}

// Manifest returns the manifest ref (a tag, or a digest: digests contain a colon) names in
// repo, or oci.ErrNotFound.
func (s *RegistryStore) Manifest(ctx context.Context, repo oci.Repository, ref string) (oci.ManifestRecord, error) {
	var row *sql.Row
	if strings.Contains(ref, ":") {
		row = s.db.QueryRowContext(ctx, s.q(`SELECT `+manifestCols+` FROM registry_manifests m
			JOIN registry_repositories r ON r.id = m.repository_id WHERE r.project_id = ? AND r.name = ? AND m.digest = ?`),
			repo.ProjectID, string(repo.Name), ref)
	} else {
		row = s.db.QueryRowContext(ctx, s.q(`SELECT `+manifestCols+` FROM registry_tags t
			JOIN registry_repositories r ON r.id = t.repository_id
			JOIN registry_manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
			WHERE r.project_id = ? AND r.name = ? AND t.name = ?`), repo.ProjectID, string(repo.Name), ref)
	}
	m, err := scanManifest(row)
	return m, kindErr("manifest", s.classify(err))
}

// present returns which of digests exist in table (registry_blob_links or registry_manifests)
// for the repository.
func (s *RegistryStore) present(ctx context.Context, tx *sql.Tx, table string, repoID int64, digests []string) (map[string]bool, error) {
	found := map[string]bool{}
	for start := 0; start < len(digests); start += inChunk {
		chunk := digests[start:min(start+inChunk, len(digests))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, repoID)
		for _, d := range chunk {
			args = append(args, d)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT digest FROM `+table+` WHERE repository_id = ? AND digest IN (`+placeholders(len(chunk))+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, err
			}
			found[d] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func unique(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, x := range l {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// PutManifest stores m in repo and points tags at it, in one transaction that first checks that
// m.Blobs are linked in repo and m.Children are manifests of repo (*oci.MissingError otherwise).
func (s *RegistryStore) PutManifest(ctx context.Context, repo oci.Repository, m oci.ManifestRecord, tags []string) error {
	var annotations sql.NullString
	if m.Subject != "" && len(m.Annotations) > 0 {
		b, err := json.Marshal(m.Annotations)
		if err != nil {
			return err
		}
		annotations = sql.NullString{String: string(b), Valid: true}
	}
	subject := sql.NullString{String: m.Subject, Valid: m.Subject != ""}
	blobs, children := unique(m.Blobs), unique(m.Children)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		id, err := s.ensureRepository(ctx, tx, repo, m.CreatedAt)
		if err != nil {
			return err
		}
		var missing []string
		for _, check := range []struct {
			table   string
			digests []string
		}{{"registry_blob_links", blobs}, {"registry_manifests", children}} {
			found, err := s.present(ctx, tx, check.table, id, check.digests)
			if err != nil {
				return err
			}
			for _, d := range check.digests {
				if !found[d] {
					missing = append(missing, d)
				}
			}
		}
		if len(missing) > 0 {
			return &oci.MissingError{Digests: missing}
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO registry_manifests (repository_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository_id, digest) DO NOTHING`),
			id, m.Digest, m.MediaType, m.Size, m.ArtifactType, subject, annotations, unixTime(m.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			refs := unique(blobs, children)
			for start := 0; start < len(refs); start += inChunk / 3 {
				chunk := refs[start:min(start+inChunk/3, len(refs))]
				args := make([]any, 0, 3*len(chunk))
				values := make([]string, len(chunk))
				for i, ref := range chunk {
					args = append(args, id, m.Digest, ref)
					values[i] = "(?, ?, ?)"
				}
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO registry_manifest_references (repository_id, digest, reference) VALUES `+
					strings.Join(values, ", ")+` ON CONFLICT DO NOTHING`), args...); err != nil {
					return err
				}
			}
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO registry_tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`),
				id, t, m.Digest, unixTime(m.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	var me *oci.MissingError
	if errors.As(err, &me) {
		return me
	}
	return kindErr("put manifest", s.classify(err))
}

// DeleteManifest removes a manifest of repo with its tags and references, or returns
// oci.ErrNotFound.
func (s *RegistryStore) DeleteManifest(ctx context.Context, repo oci.Repository, digest string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM registry_manifests
		WHERE repository_id = (SELECT id FROM registry_repositories WHERE `+repoWhere+`) AND digest = ?`), append(repoArgs(repo), digest)...)
	return kindErr("delete manifest", affected(res, err))
}

// DeleteTag removes a tag of repo, or returns oci.ErrNotFound.
func (s *RegistryStore) DeleteTag(ctx context.Context, repo oci.Repository, tag string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM registry_tags
		WHERE repository_id = (SELECT id FROM registry_repositories WHERE `+repoWhere+`) AND name = ?`), append(repoArgs(repo), tag)...)
	return kindErr("delete tag", affected(res, err))
}

// Tags lists up to n tags of repo after last in byte order; oci.ErrNotFound when the repository
// does not exist.
func (s *RegistryStore) Tags(ctx context.Context, repo oci.Repository, last string, n int) ([]string, error) {
	id, err := s.repositoryID(ctx, s.db, repo)
	if err != nil {
		return nil, kindErr("tags", err)
	}
	return s.names(ctx, `SELECT name FROM registry_tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?`, id, last, n)
}

// Repositories lists up to n repository names after last in byte order.
func (s *RegistryStore) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	return s.names(ctx, `SELECT DISTINCT name FROM registry_repositories WHERE name > ? ORDER BY name LIMIT ?`, last, n)
}

func (s *RegistryStore) names(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Referrers lists up to n manifests of repo whose subject is subject (only those of
// artifactType when it is set), after the digest last, in digest order.
func (s *RegistryStore) Referrers(ctx context.Context, repo oci.Repository, subject, artifactType, last string, n int) ([]oci.Descriptor, error) {
	query := `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM registry_manifests m
		JOIN registry_repositories r ON r.id = m.repository_id WHERE r.project_id = ? AND r.name = ? AND m.subject = ? AND m.digest > ?`
	args := []any{repo.ProjectID, string(repo.Name), subject, last}
	if artifactType != "" {
		query += ` AND m.artifact_type = ?`
		args = append(args, artifactType)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY m.digest LIMIT ?`), append(args, n)...)
	if err != nil {
		return nil, kindErr("referrers", err)
	}
	defer rows.Close()
	var out []oci.Descriptor
	for rows.Next() {
		var d oci.Descriptor
		var ann sql.NullString
		if err := rows.Scan(&d.Digest, &d.MediaType, &d.Size, &d.ArtifactType, &ann); err != nil {
			return nil, err
		}
		if ann.Valid && ann.String != "" {
			if err := json.Unmarshal([]byte(ann.String), &d.Annotations); err != nil {
				return nil, fmt.Errorf("referrers: annotations of %s: %w", d.Digest, err)
			}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RegistryReferences is the container registry's side of garbage collection's mark phase: the
// digests its blob links, manifests and manifest references name (gc.Referencer, gc.Checker).
type RegistryReferences struct{ s *conn }

// RegistryReferences returns the registry's blob references.
func (s *RegistryStore) References() RegistryReferences { return RegistryReferences{s.conn} }

// registryRefColumns are the columns holding blob digests the registry needs.
var registryRefColumns = []refColumn{
	{"registry_blob_links", "digest"},
	{"registry_manifests", "digest"},
	{"registry_manifest_references", "reference"},
}

// ReferencedBlobs calls fn for every digest a blob link, manifest or manifest reference names
// (a digest may come more than once), stopping at fn's first error.
func (r RegistryReferences) ReferencedBlobs(ctx context.Context, fn func(digest string) error) error {
	return r.s.referencedBlobs(ctx, "registry references", registryRefColumns, fn)
}

// ReferencedAmong reports which of digests a blob link, manifest or manifest reference names,
// by index lookups.
func (r RegistryReferences) ReferencedAmong(ctx context.Context, digests []string) (map[string]bool, error) {
	return r.s.referencedAmong(ctx, "registry references", registryRefColumns, digests)
}
