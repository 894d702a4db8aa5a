package proxy

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// Manifests is the per-group cache of manifests and tags; *sqlstore.ProxyStore implements it.
type Manifests interface {
	// ProxyManifest returns the manifest ref (a tag, or a digest: digests contain a colon) names
	// in the group's cache of image, or oci.ErrNotFound. A tag lookup sets CheckedAt.
	ProxyManifest(ctx context.Context, groupID int64, image, ref string) (oci.CachedManifest, error)
	// PutProxyManifest records m (whose bytes are committed) for image and, when tag is not
	// empty, points tag at it as checked at m.CheckedAt.
	PutProxyManifest(ctx context.Context, groupID int64, image string, m oci.CachedManifest, tag string) error
	// TouchProxyTag records that the upstream confirmed tag still names digest at checkedAt.
	TouchProxyTag(ctx context.Context, groupID int64, image, tag, digest string, checkedAt time.Time) error
	// DeleteProxyManifest removes a manifest and the tags naming it, or returns oci.ErrNotFound.
	DeleteProxyManifest(ctx context.Context, groupID int64, image, digest string) error
	// DeleteProxyTag removes a tag, or returns oci.ErrNotFound.
	DeleteProxyTag(ctx context.Context, groupID int64, image, tag string) error
}

// Blobs is the per-group cache of blobs; *sqlstore.ProxyStore implements it.
type Blobs interface {
	// ProxyBlob returns the group's cached blob, or oci.ErrNotFound.
	ProxyBlob(ctx context.Context, groupID int64, digest string) (oci.CachedBlob, error)
	// PutProxyBlob records a committed blob in the group's cache, idempotently.
	PutProxyBlob(ctx context.Context, groupID int64, b oci.CachedBlob) error
	// DeleteProxyBlob removes a blob from the group's cache, or returns oci.ErrNotFound.
	DeleteProxyBlob(ctx context.Context, groupID int64, digest string) error
}

// Store is the proxy's metadata store; *sqlstore.ProxyStore implements it.
type Store interface {
	Manifests
	Blobs
}

// SettingsStore keeps each group's dependency-proxy setting; *sqlstore.ProxyStore implements it.
type SettingsStore interface {
	// DependencyProxyEnabled reports whether the group's proxy is on (it is unless turned off).
	DependencyProxyEnabled(ctx context.Context, groupID int64) (bool, error)
	// SetDependencyProxyEnabled turns the group's proxy on or off.
	SetDependencyProxyEnabled(ctx context.Context, groupID int64, enabled bool, now time.Time) error
	// PurgeDependencyProxy removes everything the group's proxy has cached.
	PurgeDependencyProxy(ctx context.Context, groupID int64) error
}

// Groups resolves group paths; *namespace.Service implements it.
type Groups interface {
	// GroupByPath returns the group with that full path (compared case-insensitively), or an
	// error wrapping errkind.ErrNotFound.
	GroupByPath(ctx context.Context, fullPath string) (*namespace.Group, error)
}

// Principals re-reads the credential behind a bearer token at request time (access.Recheck),
// so a revoked deploy token (or a blocked user) is refused on its next request.
// sqlstore.Credentials implements it.
type Principals = access.Credentials

// Fence coordinates the cache with garbage collection (*gc.Fence implements it): after a
// cache record is written, Survived reports whether the blob's bytes are still stored.
type Fence interface {
	Survived(ctx context.Context, d blob.Digest) (bool, error)
}
