package oci

import "time"

// Listings of a project's repositories and tags for people (the UI's Container registry page,
// docs/design.md §6.9): what the distribution API's catalog and tag list leave out.

// RepositorySummary is one repository of a project with its tag count.
type RepositorySummary struct {
	Name      Name
	TagCount  int
	CreatedAt time.Time
}

// TagDetail is one tag with the manifest it points at. Size is the manifest's size plus the
// sizes of the blobs it references that are linked in the repository (config and layers; an
// index's children are counted by their own manifests' sizes only).
type TagDetail struct {
	Name      string
	Digest    string
	MediaType string
	Size      int64
	UpdatedAt time.Time
}
