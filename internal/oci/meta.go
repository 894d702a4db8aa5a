package oci

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// ErrMissingReference: a manifest points at blobs or manifests its repository does not have.
// Its kind is errkind.ErrInvalid: the manifest is not acceptable in that repository.
var ErrMissingReference = fmt.Errorf("%w: manifest references unknown content", errkind.ErrInvalid)

// MissingError lists what a manifest references that is not in its repository. It wraps
// ErrMissingReference.
type MissingError struct {
	Digests []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("manifest references %d unknown blob(s) or manifest(s): %s", len(e.Digests),
		strings.Join(e.Digests[:min(len(e.Digests), 5)], ", "))
}

// Unwrap makes errors.Is(err, ErrMissingReference) hold.
func (e *MissingError) Unwrap() error { return ErrMissingReference }

// Repository identifies a repository and the project that owns it.
type Repository struct {
	ProjectID int64
	Name      Name
}

// BlobLink records that a blob is reachable from a repository (pushed or mounted there). A blob
// is only served from repositories that link it.
type BlobLink struct {
	Digest string
	Size   int64
	// CreatedAt is when the link was made (set by the caller; the store keeps the first).
	CreatedAt time.Time
}

// ManifestRecord is what the registry keeps about a stored manifest (its bytes are a blob).
type ManifestRecord struct {
	Digest       string
	MediaType    string
	Size         int64
	ArtifactType string
	// Subject is the digest of the manifest this one refers to, or "".
	Subject string
	// Annotations are kept for the referrers API (only for manifests with a subject).
	Annotations map[string]string
	// Blobs must be linked in the repository and Children must be manifests in it when the
	// record is stored; the store checks both in the same transaction.
	Blobs    []string
	Children []string
	// CreatedAt is when the manifest was pushed (set by the caller).
	CreatedAt time.Time
}
