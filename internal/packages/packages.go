// Package packages is the package registries' shared domain: one model for every format
// (generic files, npm, PyPI, Maven, Go proxy, NuGet …), the service that stores uploads, and the
// per-format rules (size limits, duplicate-version policy, name normalisation). It knows no HTTP
// and no SQL: formats live in packages/<format> (parser + dispatcher), the metadata in a Store
// (sqlstore), and the bytes in a blob.Store under their SHA-256 digest.
//
// The model:
//
//	Package (project, format, name, normalised name)
//	  └─ Version (version string, metadata JSON, status default/hidden)
//	       └─ File (filename, size, md5, sha1, sha256, sha512, blob digest, created)
//	  └─ Tag (name → version; npm dist-tags)
//
// Uploads are invisible until stored and verified: Service.AddFile streams the body once into
// a blob writer while computing all four checksums, commits the blob (SHA-256 verified), and only
// then records the rows in one transaction. On any error the writer is cancelled and nothing is
// recorded. Blobs are shared by content; deleting a file removes its row, and garbage
// collection removes bytes nothing references (the Store is a gc.Referencer in sqlstore).
//
// docs/adding-a-package-format.md is the recipe for a new format.
package packages

import (
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Error kinds: errkind's, under the names the formats use (aliases, so a Store's
// errkind.ErrNotFound is packages.ErrNotFound). Formats map them to their wire errors with
// errors.Is.
var (
	// ErrNotFound: no such project, package, version, file or tag, or one the requester may not
	// know about.
	ErrNotFound = errkind.ErrNotFound
	// ErrConflict: the format does not allow publishing this version (or file) again.
	ErrConflict = errkind.ErrConflict
	// ErrInvalid: a name, version, filename, checksum or document that is not acceptable. The
	// error is usually a *ValidationError naming the field.
	ErrInvalid = errkind.ErrInvalid
	// ErrTooLarge: the upload is larger than the format's configured limit (errkind.ErrTooLarge).
	ErrTooLarge = fmt.Errorf("file %w", errkind.ErrTooLarge)
)

// ValidationError names the field that failed validation. It wraps ErrInvalid. Its text is
// safe to show the client: it never quotes the offending value.
type ValidationError = errkind.ValidationError

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// Format names a package format; it is also the URL segment (/packages/<format>/).
type Format string

// The formats Gatehouse knows (docs/design.md §6.6). Each has an entry in the formats table
// (format.go).
const (
	Generic Format = "generic"
	NPM     Format = "npm"
	PyPI    Format = "pypi"
	Maven   Format = "maven"
	GoProxy Format = "golang"
	NuGet   Format = "nuget"
	Debian  Format = "debian"
	Helm    Format = "helm"
	// Composer is PHP's Composer, built from a project's Git tags and branches.
	Composer Format = "composer"
	// Terraform is GitLab's package_type for Terraform module registry packages.
	Terraform Format = "terraform_module"
	// RubyGems is GitLab's "rubygems" package type.
	RubyGems Format = "rubygems"
)

// Status is a version's visibility in listings. Hidden versions can still be downloaded by
// exact name (GitLab's "hidden" status) but are left out of indexes and metadata documents.
type Status string

// The statuses; default is the zero choice.
const (
	StatusDefault Status = "default"
	StatusHidden  Status = "hidden"
)

// ParseStatus validates s; empty means default.
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case "":
		return StatusDefault, nil
	case StatusDefault, StatusHidden:
		return Status(s), nil
	}
	return "", invalid("status", "must be default or hidden")
}

// Package is one named package of one format in one project.
type Package struct {
	ID        int64
	ProjectID int64
	Format    Format
	// Name is the name as first published; NormalizedName is the lookup key (format.go).
	Name           string
	NormalizedName string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Version is one version of a package, with its files.
type Version struct {
	ID        int64
	PackageID int64
	Version   string
	// Metadata is the format's JSON document for the version (npm: the version's package.json
	// as published), or nil.
	Metadata  []byte
	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time
	// Files are the version's files, oldest first, when the read loads them.
	Files []File
}

// File returns the version's file named filename, or nil.
func (v *Version) File(filename string) *File {
	for i := range v.Files {
		if v.Files[i].Filename == filename {
			return &v.Files[i]
		}
	}
	return nil
}

// Checksums are a file's digests as lower-case hex. In an expectation, empty means "not given".
type Checksums struct {
	MD5    string
	SHA1   string
	SHA256 string
	SHA512 string
}

// File is one stored file of a version; its bytes are the blob Blob.
type File struct {
	ID        int64
	VersionID int64
	Filename  string
	Size      int64
	Checksums
	Blob      blob.Digest
	CreatedAt time.Time
}

// Tag points a name (npm dist-tag such as "latest") at a version of a package.
type Tag struct {
	Name    string
	Version string
}

// Recorded is what AddFile stored: the file and the package and version it belongs to.
type Recorded struct {
	Package Package
	Version Version
	File    File
}

// DuplicatePolicy says what publishing an existing version or filename does.
type DuplicatePolicy int

// The policies (see the formats table).
const (
	// ReplaceFile: a version may gain files; a file with an existing name replaces the old one
	// (generic, Maven SNAPSHOT and maven-metadata.xml).
	ReplaceFile DuplicatePolicy = iota + 1
	// RefuseFile: a version may gain files, but a filename can be published only once (PyPI,
	// Maven releases).
	RefuseFile
	// RefuseVersion: a version, once published, is immutable (npm, NuGet).
	RefuseVersion
)

func (p DuplicatePolicy) String() string {
	switch p {
	case ReplaceFile:
		return "replace-file"
	case RefuseFile:
		return "refuse-file"
	case RefuseVersion:
		return "refuse-version"
	}
	return fmt.Sprintf("DuplicatePolicy(%d)", int(p))
}
