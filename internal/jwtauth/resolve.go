package jwtauth

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// Projects finds the project an image name belongs to. *sqlstore.NamespaceStore implements it.
type Projects interface {
	// ProjectByLongestPath returns the project whose full path (compared case-insensitively) is
	// the longest of paths, or errkind.ErrNotFound when none is a project.
	ProjectByLongestPath(ctx context.Context, paths []string) (*namespace.Project, error)
}

// ResolveProject returns the project that owns image name n — the longest prefix of n that is a
// project path — or an error wrapping errkind.ErrNotFound.
func ResolveProject(ctx context.Context, projects Projects, n oci.Name) (*namespace.Project, error) {
	p, err := projects.ProjectByLongestPath(ctx, n.ProjectPaths())
	if err != nil {
		return nil, fmt.Errorf("resolve image name: %w", err)
	}
	return p, nil
}

// projectTTL is how long a resolved image name is remembered. Project paths change rarely; a
// second of staleness saves a query on every request of a pull or push.
const projectTTL = time.Second

// ProjectCache resolves image names to their projects (ResolveProject), remembering each
// project found for a second. Names that resolve to no project are not remembered, so a project
// created a moment later is found at once. It is safe for concurrent use.
type ProjectCache struct {
	projects Projects
	cache    *cachebus.Cache[oci.Name, *namespace.Project]
}

// NewProjectCache returns a cache over projects; now may be nil for time.Now.
func NewProjectCache(projects Projects, now func() time.Time) *ProjectCache {
	return &ProjectCache{projects: projects,
		cache: cachebus.NewCache[oci.Name, *namespace.Project](cachebus.CacheOptions{TTL: projectTTL, Now: now})}
}

// Resolve returns the project owning n, or an error wrapping errkind.ErrNotFound. The
// returned project is shared and must not be modified.
func (c *ProjectCache) Resolve(ctx context.Context, n oci.Name) (*namespace.Project, error) {
	return c.cache.Load(ctx, n, func(ctx context.Context) (*namespace.Project, error) {
		return ResolveProject(ctx, c.projects, n)
	})
}

// Follow makes the cache forget everything when any node changes a project's path or removes
// one (topic cachebus.Projects), and read through while bus is down. Call it before serving.
func (c *ProjectCache) Follow(bus cachebus.Bus) {
	c.cache.Follow(bus, cachebus.Projects, nil)
}
