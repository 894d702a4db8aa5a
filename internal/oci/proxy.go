package oci

import (
	"fmt"
	"strings"
	"time"
)

// ProxyMarker separates a group's full path from an upstream image name in the image names of
// the dependency proxy: <group path>/dependency_proxy/containers/<image> (as GitLab spells them).
const ProxyMarker = "/dependency_proxy/containers/"

// ProxyName is a parsed dependency-proxy image name.
type ProxyName struct {
	// Name is the whole image name, as clients and registry tokens spell it.
	Name Name
	// Group is the full path of the group whose proxy serves it (lower case; group paths are
	// compared case-insensitively).
	Group string
	// Image is the image's name on the upstream registry, as the client wrote it (without the
	// "library/" that Docker Hub adds to one-component names).
	Image Name
}

// IsProxyName reports whether s has the shape of a dependency-proxy image name. Such names
// belong to the proxy, never to the container registry.
func IsProxyName(s string) bool { return strings.Contains(s, ProxyMarker) }

// ParseProxyName parses <group path>/dependency_proxy/containers/<image>: the whole must be a
// valid repository name, and the group path is what comes before the first marker. It fails with
// ErrInvalid otherwise.
func ParseProxyName(s string) (ProxyName, error) {
	n, err := ParseName(s)
	if err != nil {
		return ProxyName{}, err
	}
	i := strings.Index(s, ProxyMarker)
	if i <= 0 {
		return ProxyName{}, fmt.Errorf("%w: %q is not <group>%s<image>", ErrInvalid, truncate(s), ProxyMarker)
	}
	// Both halves are made of whole components of a valid name, so they are valid names too.
	return ProxyName{Name: n, Group: s[:i], Image: Name(s[i+len(ProxyMarker):])}, nil
}

// CachedManifest is a manifest the dependency proxy keeps for a group (its bytes are a blob).
type CachedManifest struct {
	Digest    string
	MediaType string
	Size      int64
	// CreatedAt is when the manifest was first cached for the group.
	CreatedAt time.Time
	// CheckedAt is when the tag that named it was last confirmed with the upstream registry
	// (set for tag lookups and writes; zero for lookups by digest).
	CheckedAt time.Time
}

// CachedBlob is a blob the dependency proxy keeps for a group.
type CachedBlob struct {
	Digest    string
	Size      int64
	CreatedAt time.Time
}
