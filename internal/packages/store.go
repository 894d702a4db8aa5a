package packages

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The persistence the service consumes, as role interfaces; *sqlstore.PackageStore implements
// them all. Methods return ErrNotFound and ErrConflict as the kinds.

// NewFile is one file to record, with the package and version it belongs to. The store creates
// the package and the version when missing, inside one transaction with the file.
type NewFile struct {
	ProjectID      int64
	Format         Format
	Name           string
	NormalizedName string
	Version        string
	// Metadata replaces the version's metadata when non-nil.
	Metadata []byte
	Status   Status
	// Duplicates is the format's policy for this version and filename: RefuseVersion fails
	// with ErrConflict when the version exists; RefuseFile when the version has a file of this
	// name; ReplaceFile replaces that file's row.
	Duplicates DuplicatePolicy
	Filename   string
	Size       int64
	Checksums  Checksums
	Blob       blob.Digest
	// PackageTags are pointed at the version in the same transaction.
	Tags []string
	Now  time.Time
}

// FileStore records and removes files.
type FileStore interface {
	// PutPackageFile records f atomically (see NewFile) and returns what was stored.
	PutPackageFile(ctx context.Context, f *NewFile) (*Recorded, error)
	// RemovePackageFile deletes the file row id if it still names blob d, then its version when
	// that has no file left, and the package when it has no version left. It undoes a
	// PutPackageFile whose blob did not survive garbage collection; an absent row is not an error.
	RemovePackageFile(ctx context.Context, id int64, d blob.Digest) error
}

// Catalog reads packages.
type Catalog interface {
	// Package returns a project's package by format and normalised name, or ErrNotFound. The
	// package may be shared with other callers (a read cache): callers must not change it.
	Package(ctx context.Context, projectID int64, format Format, normalizedName string) (*Package, error)
	// ListPackages returns a project's packages of a format, by name.
	ListPackages(ctx context.Context, projectID int64, format Format) ([]*Package, error)
	// PackageVersions returns a package's versions, oldest first, each with its files.
	PackageVersions(ctx context.Context, packageID int64) ([]*Version, error)
	// PackageVersion returns one version with its files, or ErrNotFound. The version and its
	// files may be shared, as Package's.
	PackageVersion(ctx context.Context, packageID int64, version string) (*Version, error)
	// PackageProjects returns the ids of the projects holding a package of this format and
	// normalised name, most recently updated first (for group- and instance-level endpoints).
	PackageProjects(ctx context.Context, format Format, normalizedName string) ([]int64, error)
}

// Remover deletes versions and packages (their files' bytes stay until garbage collection).
type Remover interface {
	// DeletePackageVersion removes a version with its files and tags, and the package when it was
	// its last version; ErrNotFound when absent.
	DeletePackageVersion(ctx context.Context, packageID int64, version string) error
	// DeletePackage removes a package with everything under it; ErrNotFound when absent.
	DeletePackage(ctx context.Context, packageID int64) error
}

// TagStore keeps tags.
type TagStore interface {
	// PackageTags returns a package's tags by name.
	PackageTags(ctx context.Context, packageID int64) ([]Tag, error)
	// SetPackageTag points tag at version (creating or moving it); ErrNotFound when the version
	// does not exist.
	SetPackageTag(ctx context.Context, packageID int64, tag, version string, now time.Time) error
	// DeletePackageTag removes a tag; ErrNotFound when absent.
	DeletePackageTag(ctx context.Context, packageID int64, tag string) error
}

// Index finds versions across packages, by filter or by id (the REST API's view, where a
// GitLab "package" is one version), and removes single files.
type Index interface {
	// FindPackageVersions returns the versions f selects with their packages, by version id,
	// without files.
	FindPackageVersions(ctx context.Context, f VersionFilter) ([]ListedVersion, error)
	// PackageVersionByID returns a version with its files and its package, or ErrNotFound.
	PackageVersionByID(ctx context.Context, id int64) (*Package, *Version, error)
	// DeletePackageFile removes file fileID of version versionID, then the version when it has
	// no file left and the package when it has no version left; ErrNotFound when the version
	// has no such file.
	DeletePackageFile(ctx context.Context, versionID, fileID int64) error
}

// Store is everything the service needs.
type Store interface {
	FileStore
	Catalog
	Remover
	TagStore
	Index
}

// Namespaces resolves the projects and groups in package URLs; *namespace.Service implements
// it. Lookups by path are case-insensitive; unknown ones return errkind.ErrNotFound. Projects
// may be shared with other callers: read-only.
type Namespaces interface {
	Project(ctx context.Context, id int64) (*namespace.Project, error)
	ProjectByPath(ctx context.Context, fullPath string) (*namespace.Project, error)
	Group(ctx context.Context, id int64) (*namespace.Group, error)
	GroupByPath(ctx context.Context, fullPath string) (*namespace.Group, error)
}

// Fence is garbage collection's writers' side (*gc.Fence): after a file row naming a blob is
// stored, Survived reports whether the blob's bytes are still there (a concurrent sweep may
// have deleted an old, unreferenced copy of the same content).
type Fence interface {
	Survived(ctx context.Context, d blob.Digest) (bool, error)
}
