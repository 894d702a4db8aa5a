package packages

import (
	"context"
	"fmt"
	"strings"
)

// Listing across packages: the REST API's package list, where GitLab's "package" is one name
// and version. A Version's ID is that package's id; its files keep their own ids.

// VersionlessPrefix starts the version under which a format stores what GitLab keeps in a
// package without a version (Maven's artifact-level maven-metadata.xml, maven.MetadataVersion).
// No format's real versions can start with it.
const VersionlessPrefix = "@"

// Versionless reports whether v stands for a package without a version (VersionlessPrefix).
func (v *Version) Versionless() bool { return strings.HasPrefix(v.Version, VersionlessPrefix) }

// VersionFilter selects versions across packages; the Store applies it.
type VersionFilter struct {
	// ProjectIDs are the projects whose packages are listed; empty lists nothing.
	ProjectIDs []int64
	// Format, when set, keeps one format.
	Format Format
	// NameContains, when set, keeps packages whose name contains it, ignoring ASCII case
	// (GitLab's fuzzy package_name).
	NameContains string
	// Version, when set, keeps that exact version.
	Version string
}

// ListedVersion is one version (without its files) with the package it belongs to.
type ListedVersion struct {
	Package Package
	Version Version
}

// VersionQuery is a listing request: the store's filter plus the rules on status and
// versionless packages the service applies.
type VersionQuery struct {
	VersionFilter
	// Status, when set, keeps versions of that status; empty keeps every status. A versionless
	// package counts as StatusDefault: the status hides it from its format's own listings only.
	Status Status
	// IncludeVersionless keeps versionless packages (left out otherwise, and whenever Version is
	// set).
	IncludeVersionless bool
}

// ListVersions returns the versions q selects, by version id (oldest first), without files.
// A versionless package's Status is reported as StatusDefault.
func (s *Service) ListVersions(ctx context.Context, q VersionQuery) ([]ListedVersion, error) {
	if len(q.ProjectIDs) == 0 {
		return []ListedVersion{}, nil
	}
	all, err := s.store.FindPackageVersions(ctx, q.VersionFilter)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	out := all[:0]
	for _, lv := range all {
		if lv.Version.Versionless() {
			if !q.IncludeVersionless || q.Version != "" {
				continue
			}
			lv.Version.Status = StatusDefault
		}
		if q.Status != "" && lv.Version.Status != q.Status {
			continue
		}
		out = append(out, lv)
	}
	return out, nil
}

// VersionByID returns version id of a package in project projectID, with its files and its
// package, or ErrNotFound (also when the version belongs to another project).
func (s *Service) VersionByID(ctx context.Context, projectID, id int64) (*Package, *Version, error) {
	pkg, v, err := s.store.PackageVersionByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if pkg.ProjectID != projectID {
		return nil, nil, fmt.Errorf("version %d: %w", id, ErrNotFound)
	}
	return pkg, v, nil
}

// DeleteFile removes file fileID of version v, then the version when it has no file left and
// its package when it has no version left (the bytes stay until garbage collection);
// ErrNotFound when the file is not v's.
func (s *Service) DeleteFile(ctx context.Context, v *Version, fileID int64) error {
	return s.store.DeletePackageFile(ctx, v.ID, fileID)
}
