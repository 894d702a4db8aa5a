package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// ProxyStore keeps the dependency proxy's metadata: each group's setting, and the manifests,
// tags and blobs it has cached (the bytes are in the shared blob store). The consumer interfaces
// live in internal/proxy; the compile-time checks are in proxy_test.go (sqlstore may not import
// protocol packages).
type ProxyStore struct{ *conn }

// DependencyProxyEnabled reports whether the group's dependency proxy is enabled (it is unless
// it was turned off).
func (s *ProxyStore) DependencyProxyEnabled(ctx context.Context, groupID int64) (bool, error) {
	var enabled bool
	err := s.db.QueryRowContext(ctx, s.q(`SELECT enabled FROM dependency_proxy_group_settings WHERE group_id = ?`), groupID).Scan(&enabled)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("dependency proxy setting: %w", err)
	}
	return enabled, nil
}

// SetDependencyProxyEnabled turns the group's dependency proxy on or off.
func (s *ProxyStore) SetDependencyProxyEnabled(ctx context.Context, groupID int64, enabled bool, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dependency_proxy_group_settings (group_id, enabled, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (group_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`),
		groupID, enabled, unixTime(now))
	if err != nil {
		return kindErr("set dependency proxy setting", s.classify(err))
	}
	return nil
}

// ProxyManifest returns the manifest that ref (a tag, or a digest: digests contain a colon)
// names in the group's cache of image, or oci.ErrNotFound. A tag lookup sets CheckedAt.
func (s *ProxyStore) ProxyManifest(ctx context.Context, groupID int64, image, ref string) (oci.CachedManifest, error) {
	var m oci.CachedManifest
	var created, checked int64
	var err error
	if strings.Contains(ref, ":") {
		err = s.db.QueryRowContext(ctx, s.q(`SELECT digest, media_type, size, created_at FROM dependency_proxy_manifests
			WHERE group_id = ? AND image = ? AND digest = ?`), groupID, image, ref).Scan(&m.Digest, &m.MediaType, &m.Size, &created)
	} else {
		err = s.db.QueryRowContext(ctx, s.q(`SELECT m.digest, m.media_type, m.size, m.created_at, t.checked_at
			FROM dependency_proxy_tags t JOIN dependency_proxy_manifests m
			ON m.group_id = t.group_id AND m.image = t.image AND m.digest = t.digest
			WHERE t.group_id = ? AND t.image = ? AND t.tag = ?`), groupID, image, ref).
			Scan(&m.Digest, &m.MediaType, &m.Size, &created, &checked)
		m.CheckedAt = fromUnix(checked)
	}
	if err != nil {
		return oci.CachedManifest{}, kindErr("cached manifest", s.classify(err))
	}
	m.CreatedAt = fromUnix(created)
	return m, nil
}

// PutProxyManifest records m in the group's cache of image (keeping an existing record) and,
// when tag is not empty, points tag at it as checked at m.CheckedAt; in one transaction. The
// manifest's bytes must be committed to the blob store first.
func (s *ProxyStore) PutProxyManifest(ctx context.Context, groupID int64, image string, m oci.CachedManifest, tag string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO dependency_proxy_manifests (group_id, image, digest, media_type, size, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, image, digest) DO NOTHING`),
			groupID, image, m.Digest, m.MediaType, m.Size, unixTime(m.CreatedAt)); err != nil {
			return err
		}
		if tag == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO dependency_proxy_tags (group_id, image, tag, digest, checked_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (group_id, image, tag) DO UPDATE SET digest = excluded.digest, checked_at = excluded.checked_at`),
			groupID, image, tag, m.Digest, unixTime(m.CheckedAt))
		return err
	})
	return kindErr("cache manifest", s.classify(err))
}

// TouchProxyTag records that the upstream confirmed tag still names digest at checkedAt. It
// changes nothing (and returns nil) when the tag has meanwhile moved or gone.
func (s *ProxyStore) TouchProxyTag(ctx context.Context, groupID int64, image, tag, digest string, checkedAt time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE dependency_proxy_tags SET checked_at = ?
		WHERE group_id = ? AND image = ? AND tag = ? AND digest = ? AND checked_at < ?`),
		unixTime(checkedAt), groupID, image, tag, digest, unixTime(checkedAt))
	return kindErr("touch cached tag", err)
}

// DeleteProxyManifest removes a cached manifest of image and the tags naming it, or returns
// oci.ErrNotFound.
func (s *ProxyStore) DeleteProxyManifest(ctx context.Context, groupID int64, image, digest string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dependency_proxy_manifests WHERE group_id = ? AND image = ? AND digest = ?`),
		groupID, image, digest)
	return kindErr("delete cached manifest", affected(res, err))
}

// DeleteProxyTag removes a cached tag of image, or returns oci.ErrNotFound.
func (s *ProxyStore) DeleteProxyTag(ctx context.Context, groupID int64, image, tag string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dependency_proxy_tags WHERE group_id = ? AND image = ? AND tag = ?`),
		groupID, image, tag)
	return kindErr("delete cached tag", affected(res, err))
}

// ProxyBlob returns the group's cached blob digest, or oci.ErrNotFound.
func (s *ProxyStore) ProxyBlob(ctx context.Context, groupID int64, digest string) (oci.CachedBlob, error) {
	b := oci.CachedBlob{Digest: digest}
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT size, created_at FROM dependency_proxy_blobs WHERE group_id = ? AND digest = ?`),
		groupID, digest).Scan(&b.Size, &created)
	if err != nil {
		return oci.CachedBlob{}, kindErr("cached blob", s.classify(err))
	}
	b.CreatedAt = fromUnix(created)
	return b, nil
}

// PutProxyBlob records a committed blob in the group's cache, idempotently.
func (s *ProxyStore) PutProxyBlob(ctx context.Context, groupID int64, b oci.CachedBlob) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dependency_proxy_blobs (group_id, digest, size, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (group_id, digest) DO NOTHING`), groupID, b.Digest, b.Size, unixTime(b.CreatedAt))
	return kindErr("cache blob", s.classify(err))
}

// DeleteProxyBlob removes a blob from the group's cache, or returns oci.ErrNotFound.
func (s *ProxyStore) DeleteProxyBlob(ctx context.Context, groupID int64, digest string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dependency_proxy_blobs WHERE group_id = ? AND digest = ?`), groupID, digest)
	return kindErr("delete cached blob", affected(res, err))
}

// PurgeDependencyProxy removes everything the group's dependency proxy has cached (the bytes
// stay for garbage collection), in one transaction.
func (s *ProxyStore) PurgeDependencyProxy(ctx context.Context, groupID int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"dependency_proxy_tags", "dependency_proxy_manifests", "dependency_proxy_blobs"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE group_id = ?`), groupID); err != nil {
				return err
			}
		}
		return nil
	})
	return kindErr("purge dependency proxy", err)
}

// ProxyReferences is the dependency proxy's side of garbage collection's mark phase: the
// digests its cached manifests and blobs name (gc.Referencer, gc.Checker).
type ProxyReferences struct{ s *conn }

// ProxyReferences returns the dependency proxy's blob references.
func (s *ProxyStore) References() ProxyReferences { return ProxyReferences{s.conn} }

// proxyRefTables are the tables whose digest column names blobs the proxy needs.
var proxyRefTables = []refColumn{{"dependency_proxy_manifests", "digest"}, {"dependency_proxy_blobs", "digest"}}

// ReferencedBlobs calls fn for every digest a cached manifest or blob names (a digest may come
// more than once), stopping at fn's first error.
func (r ProxyReferences) ReferencedBlobs(ctx context.Context, fn func(digest string) error) error {
	return r.s.referencedBlobs(ctx, "dependency proxy references", proxyRefTables, fn)
}

// ReferencedAmong reports which of digests a cached manifest or blob names, by index lookups.
func (r ProxyReferences) ReferencedAmong(ctx context.Context, digests []string) (map[string]bool, error) {
	return r.s.referencedAmong(ctx, "dependency proxy references", proxyRefTables, digests)
}
