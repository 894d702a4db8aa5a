package registry

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// BlobLinks records which blobs each repository may serve: a blob is reachable only from the
// repositories that pushed or mounted it. Links are inserted only after the blob is committed.
type BlobLinks interface {
	// BlobLink returns the link of digest in repository repo, or oci.ErrNotFound.
	BlobLink(ctx context.Context, repo oci.Repository, digest string) (oci.BlobLink, error)
	// LinkBlob links a committed blob into repo (creating the repository), idempotently.
	LinkBlob(ctx context.Context, repo oci.Repository, link oci.BlobLink) error
	// UnlinkBlob removes digest from repo, or returns oci.ErrNotFound.
	UnlinkBlob(ctx context.Context, repo oci.Repository, digest string) error
	// ProjectBlobLink finds digest linked in any repository of the project, or oci.ErrNotFound
	// (cross-repository mounts without a "from").
	ProjectBlobLink(ctx context.Context, projectID int64, digest string) (oci.BlobLink, error)
}

// Manifests keeps manifests, tags and the referrers (subject) index of each repository.
type Manifests interface {
	// Manifest returns the manifest that ref (a tag, or a digest: digests contain a colon) names
	// in repo, or oci.ErrNotFound.
	Manifest(ctx context.Context, repo oci.Repository, ref string) (oci.ManifestRecord, error)
	// PutManifest stores m in repo (creating the repository) and points tags at it, in one
	// transaction that also checks m.Blobs are linked in repo and m.Children are manifests of
	// repo (an *oci.MissingError otherwise, and nothing is stored).
	PutManifest(ctx context.Context, repo oci.Repository, m oci.ManifestRecord, tags []string) error
	// DeleteManifest removes a manifest and the tags pointing at it, or returns oci.ErrNotFound.
	DeleteManifest(ctx context.Context, repo oci.Repository, digest string) error
	// DeleteTag removes a tag, or returns oci.ErrNotFound.
	DeleteTag(ctx context.Context, repo oci.Repository, tag string) error
	// Tags lists up to n tags of repo after last, in byte order; oci.ErrNotFound when the
	// repository does not exist.
	Tags(ctx context.Context, repo oci.Repository, last string, n int) ([]string, error)
	// Referrers lists up to n manifests of repo whose subject is subject (optionally only those
	// of artifactType), after the digest last, in digest order.
	Referrers(ctx context.Context, repo oci.Repository, subject, artifactType, last string, n int) ([]oci.Descriptor, error)
}

// Catalog lists repositories.
type Catalog interface {
	// Repositories lists up to n repository names after last, in byte order.
	Repositories(ctx context.Context, last string, n int) ([]string, error)
}

// Store is the registry's metadata store; *sqlstore.RegistryStore implements it.
type Store interface {
	BlobLinks
	Manifests
	Catalog
}

// Principals re-reads the credential behind a bearer token at request time (access.Recheck),
// so a revoked deploy token (or a blocked user) is refused on its next request, not when its
// JWT expires. sqlstore.Credentials implements it.
type Principals = access.Credentials

// BlobFence coordinates pushes with garbage collection (*gc.Fence implements it). After a push
// has made a blob reachable (a blob link or a manifest row), Survived reports whether the
// blob's bytes are still stored, waiting out a deletion in progress; when they are not, the
// push removes what it wrote and fails, so no reference outlives its blob.
type BlobFence interface {
	Survived(ctx context.Context, d blob.Digest) (bool, error)
}
