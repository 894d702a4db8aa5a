package packages

import (
	"context"
	"time"
)

// Distribution is a Debian (apt) distribution of a project or a group: the codename apt names in
// its sources line, the components and architectures its Release lists, and its OpenPGP signing
// key (docs/debian.md). Exactly one of ProjectID and GroupID is set.
type Distribution struct {
	ID                 int64
	ProjectID, GroupID int64
	Codename, Suite    string
	// Origin, Label, Version and Description are copied into the Release file when set.
	Origin, Label, Version, Description string
	// ValidTimeDuration, when set, gives the Release file a Valid-Until that far after its Date.
	ValidTimeDuration time.Duration
	Components        []string
	Architectures     []string
	// SealedKey is the OpenPGP private key, sealed (token.Sealer) under the instance key and
	// bound to the distribution's owner and codename; PublicKey is its ASCII-armored public key.
	SealedKey []byte
	PublicKey string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DistributionStore keeps Debian distributions. Create fails with ErrConflict when the owner
// already has the codename; Update and Delete with ErrNotFound when the distribution is gone.
type DistributionStore interface {
	// Distributions lists the distributions of a project (projectID) or a group (groupID),
	// ordered by codename.
	Distributions(ctx context.Context, projectID, groupID int64) ([]*Distribution, error)
	CreateDistribution(ctx context.Context, d *Distribution) error
	UpdateDistribution(ctx context.Context, d *Distribution) error
	DeleteDistribution(ctx context.Context, id int64) error
}
