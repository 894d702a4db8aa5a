package packages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Options configure a Service.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxFileSize overrides formats' upload limits in bytes, keyed by format name ("npm");
	// formats not listed keep their defaults. An unknown name or a non-positive size is an
	// error from NewService.
	MaxFileSize map[string]int64
	// Fence, when set, is asked after each upload is recorded whether its blob survived a
	// concurrent garbage collection.
	Fence Fence
	// AfterVersionDeleted holds formats' follow-ups to DeleteVersion (the core may not import
	// a format): Maven rewrites the artifact's maven-metadata.xml.
	AfterVersionDeleted map[Format]VersionDeleted
}

// VersionDeleted is a format's follow-up to the deletion of one of pkg's versions. It runs
// after the deletion is committed; now is the service's clock.
type VersionDeleted func(ctx context.Context, s *Service, pkg *Package, now time.Time) error

// Service stores and reads packages of every format.
type Service struct {
	store  Store
	blobs  blob.Store
	ns     Namespaces
	now    func() time.Time
	limits map[Format]int64
	fence  Fence
	small  *blob.SmallCache
	after  map[Format]VersionDeleted
}

// NewService returns a Service. It fails only on invalid Options.
func NewService(store Store, blobs blob.Store, ns Namespaces, opts Options) (*Service, error) {
	lim, err := limits(opts.MaxFileSize)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, blobs: blobs, ns: ns, now: opts.Now, limits: lim, fence: opts.Fence,
		small: blob.NewSmallCache(smallFileMax, smallFilesMax), after: opts.AfterVersionDeleted}, nil
}

// Files up to smallFileMax bytes, smallFilesMax in all, are kept in memory once downloaded:
// package metadata and small artifacts are requested far more often than they change.
const (
	smallFileMax  = 64 << 10
	smallFilesMax = 64 << 20
)

// MaxFileSize is the upload limit of format f in bytes (0 for an unknown format).
func (s *Service) MaxFileSize(f Format) int64 { return s.limits[f] }

// Upload is one file to add to a package version.
type Upload struct {
	ProjectID int64
	Format    Format
	Name      string
	Version   string
	Filename  string
	// Metadata is the version's JSON document (replacing any stored one), or nil.
	Metadata []byte
	// Status of the version after the upload; empty means default.
	Status Status
	// Tags to point at the version in the same transaction (npm dist-tags).
	Tags []string
	// Expected are checksums the client declared (hex; empty ones are not checked). A
	// mismatch refuses the upload.
	Expected Checksums
	// Size is the declared length (Content-Length), or -1 when unknown. A larger declared size
	// than the limit is refused before reading; a body of another length is refused after.
	Size int64
	Body io.Reader
}

// AddFile validates u, streams its body once into the blob store while computing MD5, SHA-1,
// SHA-256 and SHA-512, commits the blob under its verified SHA-256 digest, and then records the
// package, version and file in one transaction. Until then nothing is visible; on any error the
// blob upload is cancelled and nothing is recorded.
//
// Errors: *ValidationError (ErrInvalid) for bad input, a checksum mismatch or an interrupted
// body; ErrTooLarge past the format's limit; ErrConflict when the format refuses the duplicate;
// ErrNotFound for an unknown project. Anything else is an internal error.
func (s *Service) AddFile(ctx context.Context, u Upload) (*Recorded, error) {
	nf, err := s.check(u)
	if err != nil {
		return nil, err
	}
	limit := s.limits[u.Format]
	if u.Size > limit {
		return nil, tooLarge(u.Format, limit)
	}
	if err := s.refuseEarly(ctx, nf); err != nil {
		return nil, err
	}

	w, err := s.blobs.Create(ctx)
	if err != nil {
		return nil, fmt.Errorf("add package file: %w", err)
	}
	// A no-op after a successful Commit; on every other path it discards the upload, even when
	// ctx was cancelled by a client that went away.
	defer func() { _ = w.Cancel(context.WithoutCancel(ctx)) }()
	h := NewHasher()
	body := &readTracker{r: io.LimitReader(u.Body, limit+1)}
	n, err := io.Copy(io.MultiWriter(w, h), body)
	switch {
	case body.err != nil:
		return nil, &ValidationError{Field: "file", Reason: "upload was interrupted"}
	case err != nil:
		return nil, fmt.Errorf("add package file: write blob: %w", err)
	case n > limit:
		return nil, tooLarge(u.Format, limit)
	case u.Size >= 0 && n != u.Size:
		return nil, invalid("file", "is shorter than its declared size")
	}
	sums := h.Sums()
	if err := nf.Checksums.Mismatch(sums); err != nil {
		return nil, err
	}
	digest := blob.Digest("sha256:" + sums.SHA256)
	if _, err := w.Commit(ctx, digest); err != nil {
		return nil, fmt.Errorf("add package file: commit blob: %w", err)
	}
	nf.Checksums, nf.Size, nf.Blob, nf.Now = sums, n, digest, s.now()
	rec, err := s.store.PutPackageFile(ctx, nf)
	if err != nil {
		return nil, fmt.Errorf("add package file: %w", err)
	}
	if s.fence != nil {
		ok, err := s.fence.Survived(ctx, digest)
		if err != nil || !ok {
			if rerr := s.store.RemovePackageFile(context.WithoutCancel(ctx), rec.File.ID, digest); rerr != nil {
				return nil, fmt.Errorf("add package file: undo after garbage collection: %w", rerr)
			}
			if err == nil {
				err = errors.New("the file's bytes were removed by a concurrent garbage collection; upload again")
			}
			return nil, fmt.Errorf("add package file: %w", err)
		}
	}
	return rec, nil
}

// check validates u and turns it into the record to store (without the sums).
func (s *Service) check(u Upload) (*NewFile, error) {
	spec, ok := formats[u.Format]
	if !ok {
		return nil, invalid("format", "is not supported")
	}
	if err := ValidateName(u.Name); err != nil {
		return nil, err
	}
	if err := ValidateVersion(u.Version); err != nil {
		return nil, err
	}
	if err := ValidateFilename(u.Filename); err != nil {
		return nil, err
	}
	status, err := ParseStatus(string(u.Status))
	if err != nil {
		return nil, err
	}
	if u.Metadata != nil && (len(u.Metadata) > MaxMetadataSize || !json.Valid(u.Metadata)) {
		return nil, invalid("metadata", "must be a JSON document of at most "+strconv.Itoa(MaxMetadataSize)+" bytes")
	}
	if len(u.Tags) > MaxTagsPerUpload {
		return nil, invalid("tags", "are too many")
	}
	for _, t := range u.Tags {
		if err := ValidateTag(t); err != nil {
			return nil, err
		}
	}
	expected, err := u.Expected.Validate()
	if err != nil {
		return nil, err
	}
	if u.Body == nil {
		return nil, invalid("file", "is missing")
	}
	return &NewFile{ProjectID: u.ProjectID, Format: u.Format, Name: u.Name, NormalizedName: spec.normalize(u.Name),
		Version: u.Version, Metadata: u.Metadata, Status: status, Duplicates: spec.duplicates(u.Version, u.Filename),
		Filename: u.Filename, Checksums: expected, Tags: u.Tags}, nil
}

// refuseEarly answers ErrConflict before reading the body when the duplicate policy will refuse
// the upload anyway. The store checks again atomically.
func (s *Service) refuseEarly(ctx context.Context, nf *NewFile) error {
	if nf.Duplicates == ReplaceFile {
		return nil
	}
	pkg, err := s.store.Package(ctx, nf.ProjectID, nf.Format, nf.NormalizedName)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("add package file: %w", err)
	}
	v, err := s.store.PackageVersion(ctx, pkg.ID, nf.Version)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("add package file: %w", err)
	}
	if nf.Duplicates == RefuseVersion {
		return fmt.Errorf("%s %s version %s: %w", nf.Format, nf.Name, nf.Version, ErrConflict)
	}
	if v.File(nf.Filename) != nil {
		return fmt.Errorf("%s %s version %s file %s: %w", nf.Format, nf.Name, nf.Version, nf.Filename, ErrConflict)
	}
	return nil
}

func tooLarge(f Format, limit int64) error {
	return fmt.Errorf("%w: the %s limit is %d bytes", ErrTooLarge, f, limit)
}

// readTracker remembers the error of the body it reads, to tell a client's broken upload from
// a failure to store it.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// Package returns a project's package by format and name (normalised for the lookup), or
// ErrNotFound. Package, Version and File return values the store may share: read-only
// (Catalog).
func (s *Service) Package(ctx context.Context, projectID int64, f Format, name string) (*Package, error) {
	return s.store.Package(ctx, projectID, f, NormalizeName(f, name))
}

// Packages lists a project's packages of format f.
func (s *Service) Packages(ctx context.Context, projectID int64, f Format) ([]*Package, error) {
	return s.store.ListPackages(ctx, projectID, f)
}

// Versions returns a package's versions, oldest first, each with its files; hidden ones only
// when includeHidden is set.
func (s *Service) Versions(ctx context.Context, pkg *Package, includeHidden bool) ([]*Version, error) {
	all, err := s.store.PackageVersions(ctx, pkg.ID)
	if err != nil || includeHidden {
		return all, err
	}
	out := all[:0]
	for _, v := range all {
		if v.Status != StatusHidden {
			out = append(out, v)
		}
	}
	return out, nil
}

// Version returns one version of a package with its files (hidden ones too), or ErrNotFound.
func (s *Service) Version(ctx context.Context, pkg *Package, version string) (*Version, error) {
	return s.store.PackageVersion(ctx, pkg.ID, version)
}

// File finds a project's file by format, package name, version and filename, or ErrNotFound.
// Hidden versions are found: hiding keeps a version out of listings, not out of reach.
func (s *Service) File(ctx context.Context, projectID int64, f Format, name, version, filename string) (*File, error) {
	pkg, err := s.Package(ctx, projectID, f, name)
	if err != nil {
		return nil, err
	}
	v, err := s.store.PackageVersion(ctx, pkg.ID, version)
	if err != nil {
		return nil, err
	}
	if file := v.File(filename); file != nil {
		return file, nil
	}
	return nil, fmt.Errorf("file %s: %w", filename, ErrNotFound)
}

// Open returns a reader of a file's bytes from offset, or ErrNotFound when the blob is gone.
func (s *Service) Open(ctx context.Context, f *File, offset int64) (io.ReadCloser, error) {
	rc, err := s.small.Open(ctx, s.blobs, f.Blob, f.Size, offset)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("file %s: %w", f.Filename, ErrNotFound)
	}
	return rc, err
}

// DeleteVersion removes a version with its files and tags (the package too if it was the last
// version); ErrNotFound when absent. Then it runs the format's follow-up, if any: an error
// there is returned, though the version is gone.
func (s *Service) DeleteVersion(ctx context.Context, pkg *Package, version string) error {
	if err := s.store.DeletePackageVersion(ctx, pkg.ID, version); err != nil {
		return err
	}
	if after := s.after[pkg.Format]; after != nil {
		if err := after(ctx, s, pkg, s.now()); err != nil {
			return fmt.Errorf("%s %s: after deleting version %s: %w", pkg.Format, pkg.Name, version, err)
		}
	}
	return nil
}

// DeletePackage removes a package with all its versions; ErrNotFound when absent.
func (s *Service) DeletePackage(ctx context.Context, pkg *Package) error {
	return s.store.DeletePackage(ctx, pkg.ID)
}

// Tags returns a package's tags by name.
func (s *Service) Tags(ctx context.Context, pkg *Package) ([]Tag, error) {
	return s.store.PackageTags(ctx, pkg.ID)
}

// SetTag points tag at version; ErrNotFound when the version does not exist.
func (s *Service) SetTag(ctx context.Context, pkg *Package, tag, version string) error {
	if err := ValidateTag(tag); err != nil {
		return err
	}
	if err := ValidateVersion(version); err != nil {
		return err
	}
	return s.store.SetPackageTag(ctx, pkg.ID, tag, version, s.now())
}

// DeleteTag removes a tag; ErrNotFound when absent.
func (s *Service) DeleteTag(ctx context.Context, pkg *Package, tag string) error {
	return s.store.DeletePackageTag(ctx, pkg.ID, tag)
}

// Project resolves a URL's :id, a numeric id or a full path (already unescaped), or returns
// ErrNotFound.
func (s *Service) Project(ctx context.Context, ref string) (*namespace.Project, error) {
	var p *namespace.Project
	var err error
	if id, ok := numericID(ref); ok {
		p, err = s.ns.Project(ctx, id)
	} else if ref != "" && len(ref) <= MaxNameLength {
		p, err = s.ns.ProjectByPath(ctx, ref)
	} else {
		err = fmt.Errorf("project: %w", ErrNotFound)
	}
	return p, err
}

// Group resolves a group's :id, a numeric id or a full path, or returns ErrNotFound.
func (s *Service) Group(ctx context.Context, ref string) (*namespace.Group, error) {
	var g *namespace.Group
	var err error
	if id, ok := numericID(ref); ok {
		g, err = s.ns.Group(ctx, id)
	} else if ref != "" && len(ref) <= MaxNameLength {
		g, err = s.ns.GroupByPath(ctx, ref)
	} else {
		err = fmt.Errorf("group: %w", ErrNotFound)
	}
	return g, err
}

func numericID(ref string) (int64, bool) {
	if ref == "" || len(ref) > 19 {
		return 0, false
	}
	for i := 0; i < len(ref); i++ {
		if ref[i] < '0' || ref[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	return id, err == nil
}

// ProjectsHolding returns the projects inside group within (at any depth) that hold a package
// of format f named name, most recently updated first. The caller authorizes before serving any
// of them, and refuses to choose when there are several (pkghttp.Holder).
func (s *Service) ProjectsHolding(ctx context.Context, f Format, name string, within *namespace.Group) ([]*namespace.Project, error) {
	if within == nil {
		// No endpoint may look for a package anywhere on the instance: any user's project
		// could answer (dependency confusion). The instance level goes through a name.
		return nil, fmt.Errorf("projects holding %s %s: no group given", f, name)
	}
	ids, err := s.store.PackageProjects(ctx, f, NormalizeName(f, name))
	if err != nil {
		return nil, err
	}
	var out []*namespace.Project
	for _, id := range ids {
		p, err := s.ns.Project(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if p.InGroup(within.ID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// ProjectsNamedBy returns the projects that the package path name itself names and that hold a
// package of format f named name: those whose full path is name, or begins it up to a "/"
// ("com/acme/core" is held by project com/acme/core, or com/acme), longest path first. This is
// the instance-level rule for Maven (docs/maven.md): a package is found through its path, so
// only the owners of that namespace can publish what the instance serves under it. Paths
// compare as the namespace compares them. More than one project is only possible while a
// project and a group share a path; the caller refuses to choose then.
func (s *Service) ProjectsNamedBy(ctx context.Context, f Format, name string) ([]*namespace.Project, error) {
	norm := NormalizeName(f, name)
	var out []*namespace.Project
	for p := name; len(p) <= MaxNameLength && strings.Contains(p, "/"); p = p[:strings.LastIndexByte(p, '/')] {
		proj, err := s.ns.ProjectByPath(ctx, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := s.store.Package(ctx, proj.ID, f, norm); errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, proj)
	}
	return out, nil
}
