package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The package registries' metadata (packages.Store): packages, versions, files and tags. The
// duplicate policy arrives decided (packages.NewFile.Duplicates); the SQL only applies it
// atomically, with the unique indexes as the arbiter between concurrent uploads.

// PackageStore keeps packages, their versions, files and tags, for every format.
type PackageStore struct{ *conn }

var _ packages.Store = (*PackageStore)(nil)

const packageCols = `id, project_id, format, name, normalized_name, created_at, updated_at`

func scanPackage(row scanner) (*packages.Package, error) {
	var p packages.Package
	var format string
	var created, updated int64
	if err := row.Scan(&p.ID, &p.ProjectID, &format, &p.Name, &p.NormalizedName, &created, &updated); err != nil {
		return nil, err
	}
	p.Format, p.CreatedAt, p.UpdatedAt = packages.Format(format), fromUnix(created), fromUnix(updated)
	return &p, nil
}

const versionCols = `id, package_id, version, metadata, status, created_at, updated_at`

func scanVersion(row scanner) (*packages.Version, error) {
	var v packages.Version
	var meta sql.NullString
	var status string
	var created, updated int64
	if err := row.Scan(&v.ID, &v.PackageID, &v.Version, &meta, &status, &created, &updated); err != nil {
		return nil, err
	}
	if meta.Valid {
		v.Metadata = []byte(meta.String)
	}
	v.Status, v.CreatedAt, v.UpdatedAt = packages.Status(status), fromUnix(created), fromUnix(updated)
	return &v, nil
}

const fileCols = `f.id, f.version_id, f.filename, f.size, f.md5, f.sha1, f.sha256, f.sha512, f.blob_digest, f.created_at`

func scanFile(row scanner) (packages.File, error) {
	var f packages.File
	var digest string
	var created int64
	err := row.Scan(&f.ID, &f.VersionID, &f.Filename, &f.Size, &f.MD5, &f.SHA1, &f.SHA256, &f.SHA512, &digest, &created)
	f.Blob, f.CreatedAt = blob.Digest(digest), fromUnix(created)
	return f, err
}

// PutPackageFile implements packages.FileStore.
func (s *PackageStore) PutPackageFile(ctx context.Context, f *packages.NewFile) (*packages.Recorded, error) {
	var rec packages.Recorded
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := unixTime(f.Now)
		pkg, err := scanPackage(tx.QueryRowContext(ctx, s.q(`INSERT INTO packages (project_id, format, name, normalized_name, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, format, normalized_name) DO UPDATE SET updated_at = excluded.updated_at
			RETURNING `+packageCols), f.ProjectID, string(f.Format), f.Name, f.NormalizedName, now, now))
		if err != nil {
			return s.classify(err)
		}
		var meta sql.NullString
		if f.Metadata != nil {
			meta = sql.NullString{String: string(f.Metadata), Valid: true}
		}
		insertVersion := `INSERT INTO package_versions (package_id, version, metadata, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`
		if f.Duplicates != packages.RefuseVersion {
			insertVersion += ` ON CONFLICT (package_id, version) DO UPDATE SET status = excluded.status,
				metadata = COALESCE(excluded.metadata, package_versions.metadata), updated_at = excluded.updated_at`
		}
		v, err := scanVersion(tx.QueryRowContext(ctx, s.q(insertVersion+` RETURNING `+versionCols),
			pkg.ID, f.Version, meta, string(f.Status), now, now))
		if err != nil {
			return s.classify(err)
		}
		insertFile := `INSERT INTO package_files (version_id, filename, size, md5, sha1, sha256, sha512, blob_digest, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if f.Duplicates == packages.ReplaceFile {
			insertFile += ` ON CONFLICT (version_id, filename) DO UPDATE SET size = excluded.size, md5 = excluded.md5,
				sha1 = excluded.sha1, sha256 = excluded.sha256, sha512 = excluded.sha512,
				blob_digest = excluded.blob_digest, created_at = excluded.created_at`
		}
		file, err := scanFile(tx.QueryRowContext(ctx, s.q(insertFile+` RETURNING `+fileColsBare), v.ID, f.Filename, f.Size,
			f.Checksums.MD5, f.Checksums.SHA1, f.Checksums.SHA256, f.Checksums.SHA512, string(f.Blob), now))
		if err != nil {
			return s.classify(err)
		}
		for _, t := range f.Tags {
			if err := s.setPackageTag(ctx, tx, pkg.ID, t, v.ID, now); err != nil {
				return err
			}
		}
		v.Files = []packages.File{file}
		rec = packages.Recorded{Package: *pkg, Version: *v, File: file}
		return nil
	})
	if err != nil {
		return nil, kindErr("put package file", err)
	}
	return &rec, nil
}

// fileColsBare are fileCols without the table alias, for RETURNING.
const fileColsBare = `id, version_id, filename, size, md5, sha1, sha256, sha512, blob_digest, created_at`

func (s *PackageStore) setPackageTag(ctx context.Context, tx *sql.Tx, packageID int64, tag string, versionID, now int64) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO package_tags (package_id, name, version_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (package_id, name) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`),
		packageID, tag, versionID, now)
	return s.classify(err)
}

// RemovePackageFile implements packages.FileStore.
func (s *PackageStore) RemovePackageFile(ctx context.Context, id int64, d blob.Digest) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var versionID, packageID int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT f.version_id, v.package_id FROM package_files f
			JOIN package_versions v ON v.id = f.version_id WHERE f.id = ? AND f.blob_digest = ?`), id, string(d)).
			Scan(&versionID, &packageID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM package_files WHERE id = ?`), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM package_versions WHERE id = ?
			AND NOT EXISTS (SELECT 1 FROM package_files WHERE version_id = ?)`), versionID, versionID); err != nil {
			return err
		}
		return s.deleteEmptyPackage(ctx, tx, packageID)
	})
	return kindErr("remove package file", err)
}

func (s *PackageStore) deleteEmptyPackage(ctx context.Context, tx *sql.Tx, packageID int64) error {
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM packages WHERE id = ?
		AND NOT EXISTS (SELECT 1 FROM package_versions WHERE package_id = ?)`), packageID, packageID)
	return err
}

// Package implements packages.Catalog.
func (s *PackageStore) Package(ctx context.Context, projectID int64, format packages.Format, normalizedName string) (*packages.Package, error) {
	key := cacheKey{kind: "package", id: projectID, text: string(format), text2: normalizedName}
	return cached(s.cache, key, clonePackage, func() (*packages.Package, error) {
		p, err := scanPackage(s.db.QueryRowContext(ctx, s.q(`SELECT `+packageCols+` FROM packages
			WHERE project_id = ? AND format = ? AND normalized_name = ?`), projectID, string(format), normalizedName))
		return p, kindErr("package", s.classify(err))
	})
}

// ListPackages implements packages.Catalog.
func (s *PackageStore) ListPackages(ctx context.Context, projectID int64, format packages.Format) ([]*packages.Package, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+packageCols+` FROM packages
		WHERE project_id = ? AND format = ? ORDER BY normalized_name`), projectID, string(format))
	list, err := collect(rows, err, scanPackage)
	return list, kindErr("list packages", err)
}

// PackageVersions implements packages.Catalog.
func (s *PackageStore) PackageVersions(ctx context.Context, packageID int64) ([]*packages.Version, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+versionCols+` FROM package_versions WHERE package_id = ? ORDER BY id`), packageID)
	out, err := collect(rows, err, scanVersion)
	if err != nil {
		return nil, kindErr("versions", err)
	}
	byID := make(map[int64]*packages.Version, len(out))
	for _, v := range out {
		byID[v.ID] = v
	}
	err = s.files(ctx, `JOIN package_versions v ON v.id = f.version_id WHERE v.package_id = ?`, packageID, func(f packages.File) {
		if v := byID[f.VersionID]; v != nil {
			v.Files = append(v.Files, f)
		}
	})
	return out, kindErr("versions", err)
}

// files calls fn for each file matched by where (which joins or filters package_files f), by id.
func (s *PackageStore) files(ctx context.Context, where string, arg int64, fn func(packages.File)) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+fileCols+` FROM package_files f `+where+` ORDER BY f.id`), arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return err
		}
		fn(f)
	}
	return rows.Err()
}

// PackageVersion implements packages.Catalog.
func (s *PackageStore) PackageVersion(ctx context.Context, packageID int64, version string) (*packages.Version, error) {
	return cached(s.cache, cacheKey{kind: "package version", id: packageID, text: version}, cloneVersion, func() (*packages.Version, error) {
		return s.packageVersion(ctx, packageID, version)
	})
}

func (s *PackageStore) packageVersion(ctx context.Context, packageID int64, version string) (*packages.Version, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx, s.q(`SELECT `+versionCols+` FROM package_versions
		WHERE package_id = ? AND version = ?`), packageID, version))
	if err != nil {
		return nil, kindErr("version", s.classify(err))
	}
	err = s.files(ctx, `WHERE f.version_id = ?`, v.ID, func(f packages.File) { v.Files = append(v.Files, f) })
	return v, kindErr("version", err)
}

// PackageProjects implements packages.Catalog.
func (s *PackageStore) PackageProjects(ctx context.Context, format packages.Format, normalizedName string) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT project_id FROM packages WHERE format = ? AND normalized_name = ?
		ORDER BY updated_at DESC, id DESC`), string(format), normalizedName)
	if err != nil {
		return nil, kindErr("package projects", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, kindErr("package projects", err)
		}
		out = append(out, id)
	}
	return out, kindErr("package projects", rows.Err())
}

// DeletePackageVersion implements packages.Remover.
func (s *PackageStore) DeletePackageVersion(ctx context.Context, packageID int64, version string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM package_versions WHERE package_id = ? AND version = ?`), packageID, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = errNoRows
			}
			return err
		}
		return s.deleteEmptyPackage(ctx, tx, packageID)
	})
	return kindErr("delete version", err)
}

// DeletePackage implements packages.Remover.
func (s *PackageStore) DeletePackage(ctx context.Context, packageID int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM packages WHERE id = ?`), packageID)
	if err != nil {
		return kindErr("delete package", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = errNoRows
		}
		return kindErr("delete package", err)
	}
	return nil
}

// PackageTags implements packages.TagStore.
func (s *PackageStore) PackageTags(ctx context.Context, packageID int64) ([]packages.Tag, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.name, v.version FROM package_tags t
		JOIN package_versions v ON v.id = t.version_id WHERE t.package_id = ? ORDER BY t.name`), packageID)
	if err != nil {
		return nil, kindErr("tags", err)
	}
	defer rows.Close()
	out := []packages.Tag{}
	for rows.Next() {
		var t packages.Tag
		if err := rows.Scan(&t.Name, &t.Version); err != nil {
			return nil, kindErr("tags", err)
		}
		out = append(out, t)
	}
	return out, kindErr("tags", rows.Err())
}

// SetPackageTag implements packages.TagStore.
func (s *PackageStore) SetPackageTag(ctx context.Context, packageID int64, tag, version string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var versionID int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM package_versions WHERE package_id = ? AND version = ?`),
			packageID, version).Scan(&versionID); err != nil {
			return s.classify(err)
		}
		return s.setPackageTag(ctx, tx, packageID, tag, versionID, unixTime(now))
	})
	return kindErr("set tag", err)
}

// DeletePackageTag implements packages.TagStore.
func (s *PackageStore) DeletePackageTag(ctx context.Context, packageID int64, tag string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM package_tags WHERE package_id = ? AND name = ?`), packageID, tag)
	if err != nil {
		return kindErr("delete tag", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = errNoRows
		}
		return kindErr("delete tag", err)
	}
	return nil
}

// PackageReferences is the package registries' side of garbage collection's mark phase: the
// blob digests their files name (gc.Referencer, gc.Checker; checked in packages_test.go).
type PackageReferences struct{ s *conn }

// PackageReferences returns the package registries' blob references.
func (s *PackageStore) References() PackageReferences { return PackageReferences{s.conn} }

// packageRefColumns hold the blob digests package files need.
var packageRefColumns = []refColumn{{"package_files", "blob_digest"}}

// ReferencedBlobs calls fn for every digest a package file names, stopping at fn's first error.
func (r PackageReferences) ReferencedBlobs(ctx context.Context, fn func(digest string) error) error {
	return r.s.referencedBlobs(ctx, "package references", packageRefColumns, fn)
}

// ReferencedAmong reports which of digests a package file names, by index lookups.
func (r PackageReferences) ReferencedAmong(ctx context.Context, digests []string) (map[string]bool, error) {
	return r.s.referencedAmong(ctx, "package references", packageRefColumns, digests)
}

// The REST API's view across packages (packages.Index): versions by filter and by id, and
// single-file deletion.

const listedCols = `p.id, p.project_id, p.format, p.name, p.normalized_name, p.created_at, p.updated_at,
	v.id, v.package_id, v.version, v.metadata, v.status, v.created_at, v.updated_at`

func scanListed(row scanner) (packages.ListedVersion, error) {
	var lv packages.ListedVersion
	var format, status string
	var meta sql.NullString
	var pc, pu, vc, vu int64
	err := row.Scan(&lv.Package.ID, &lv.Package.ProjectID, &format, &lv.Package.Name, &lv.Package.NormalizedName, &pc, &pu,
		&lv.Version.ID, &lv.Version.PackageID, &lv.Version.Version, &meta, &status, &vc, &vu)
	if err != nil {
		return lv, err
	}
	lv.Package.Format, lv.Package.CreatedAt, lv.Package.UpdatedAt = packages.Format(format), fromUnix(pc), fromUnix(pu)
	if meta.Valid {
		lv.Version.Metadata = []byte(meta.String)
	}
	lv.Version.Status, lv.Version.CreatedAt, lv.Version.UpdatedAt = packages.Status(status), fromUnix(vc), fromUnix(vu)
	return lv, nil
}

// likeContains is a LIKE pattern (with ESCAPE '\') matching values that contain s, lower-cased
// in ASCII only, as SQLite's lower() and PostgreSQL's under the "C" collation do.
func likeContains(s string) string {
	var b strings.Builder
	b.WriteByte('%')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' || c == '_' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('%')
	return b.String()
}

// FindPackageVersions implements packages.Index.
func (s *PackageStore) FindPackageVersions(ctx context.Context, f packages.VersionFilter) ([]packages.ListedVersion, error) {
	out := []packages.ListedVersion{}
	for start := 0; start < len(f.ProjectIDs); start += inChunk {
		chunk := f.ProjectIDs[start:min(start+inChunk, len(f.ProjectIDs))]
		args := make([]any, 0, len(chunk)+3)
		for _, id := range chunk {
			args = append(args, id)
		}
		query := `SELECT ` + listedCols + ` FROM package_versions v JOIN packages p ON p.id = v.package_id
			WHERE p.project_id IN (` + placeholders(len(chunk)) + `)`
		if f.Format != "" {
			query += ` AND p.format = ?`
			args = append(args, string(f.Format))
		}
		if f.NameContains != "" {
			query += ` AND LOWER(p.name) LIKE ? ESCAPE '\'`
			args = append(args, likeContains(f.NameContains))
		}
		if f.Version != "" {
			query += ` AND v.version = ?`
			args = append(args, f.Version)
		}
		rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY v.id`), args...)
		found, err := collect(rows, err, scanListed)
		if err != nil {
			return nil, kindErr("find versions", err)
		}
		out = append(out, found...)
	}
	if len(f.ProjectIDs) > inChunk {
		slices.SortFunc(out, func(a, b packages.ListedVersion) int { return cmp.Compare(a.Version.ID, b.Version.ID) })
	}
	return out, nil
}

// PackageVersionByID implements packages.Index.
func (s *PackageStore) PackageVersionByID(ctx context.Context, id int64) (*packages.Package, *packages.Version, error) {
	lv, err := scanListed(s.db.QueryRowContext(ctx, s.q(`SELECT `+listedCols+` FROM package_versions v
		JOIN packages p ON p.id = v.package_id WHERE v.id = ?`), id))
	if err != nil {
		return nil, nil, kindErr("version", s.classify(err))
	}
	v := lv.Version
	err = s.files(ctx, `WHERE f.version_id = ?`, v.ID, func(f packages.File) { v.Files = append(v.Files, f) })
	if err != nil {
		return nil, nil, kindErr("version", err)
	}
	return &lv.Package, &v, nil
}

// DeletePackageFile implements packages.Index.
func (s *PackageStore) DeletePackageFile(ctx context.Context, versionID, fileID int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var packageID int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT v.package_id FROM package_files f
			JOIN package_versions v ON v.id = f.version_id WHERE f.id = ? AND f.version_id = ?`), fileID, versionID).
			Scan(&packageID)
		if err != nil {
			return s.classify(err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM package_files WHERE id = ?`), fileID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM package_versions WHERE id = ?
			AND NOT EXISTS (SELECT 1 FROM package_files WHERE version_id = ?)`), versionID, versionID); err != nil {
			return err
		}
		return s.deleteEmptyPackage(ctx, tx, packageID)
	})
	return kindErr("delete package file", err)
}
