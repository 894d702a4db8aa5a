package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// The project pages a deploy-token user needs (docs/design.md §6.9.1): the read-only repository
// browser (/-/tree, /-/blob, /-/raw, /-/archive), the container registry page and the package
// registry pages. Each page's first decision is the one its protocol makes for the same read
// (read_code, read_repository_files, pull_image, read_package), so the page shows exactly what
// the user could fetch with git, docker or a package client.

// RepositoryDirs locates projects' bare repositories; *git.Repos implements it.
type RepositoryDirs interface {
	Dir(projectID int64) string
}

// RegistryReader is what the container registry page reads and deletes;
// *sqlstore.RegistryStore implements it.
type RegistryReader interface {
	// ProjectRepositories lists the project's container repositories by name.
	ProjectRepositories(ctx context.Context, projectID int64) ([]oci.RepositorySummary, error)
	// TagDetails lists repo's tags by name with digest and size; oci.ErrNotFound when the
	// repository does not exist.
	TagDetails(ctx context.Context, repo oci.Repository) ([]oci.TagDetail, error)
	// DeleteTag removes a tag (the registry's DELETE /v2/<name>/manifests/<tag>), or returns
	// oci.ErrNotFound.
	DeleteTag(ctx context.Context, repo oci.Repository, tag string) error
	// ProjectRegistryBytes is the size of the project's registry (distinct blobs plus manifests).
	ProjectRegistryBytes(ctx context.Context, projectID int64) (int64, error)
}

// PackageBytes sums a project's package files; *sqlstore.PackageStore implements it.
type PackageBytes interface {
	ProjectPackageBytes(ctx context.Context, projectID int64) (int64, error)
}

// The project pages' actions.
const (
	actTree     = "tree"
	actBlob     = "blob"
	actRaw      = "raw"
	actArchive  = "archive"
	actRegistry = "container_registry"
	actPackages = "packages"
	actPackage  = "package"
)

// projectPageActions are the actions handleProjectPage serves.
var projectPageActions = map[string]bool{actTree: true, actBlob: true, actRaw: true, actArchive: true,
	actRegistry: true, actPackages: true, actPackage: true}

func init() {
	uiRoutes = append(uiRoutes, projectPages()...)
	pageNames = append(pageNames, "tree", "container_registry", "packages", "package")
}

// projectPages are the route table's entries of the project pages. The registry page also
// decides delete_image (to show the delete buttons; a POST needs it).
func projectPages() []uiRoute {
	return []uiRoute{
		{projectRoute, actTree, readMethods, gate.Decide(access.ReadCode)},
		{projectRoute, actBlob, readMethods, gate.Decide(access.ReadRepositoryFiles)},
		{projectRoute, actRaw, readMethods, gate.Decide(access.ReadRawFile)},
		{projectRoute, actArchive, readMethods, gate.Decide(access.DownloadArchive)},
		{projectRoute, actRegistry, readPostMethods, gate.Decide(access.PullImage).And(access.DeleteImage)},
		{projectRoute, actPackages, readMethods, gate.Decide(access.ReadPackage)},
		{projectRoute, actPackage, readMethods, gate.Decide(access.ReadPackage)},
	}
}

// parseProjectPage parses the tail (after "/-/") of a project page: tree/<ref>[/<dir>],
// blob/<ref>/<file>, raw/<ref>/<file>, archive/<ref>/<name>.<format>, container_registry,
// packages and packages/<id>. The ref and path are split in the handler, which knows the
// repository's refs (a ref may contain slashes, as GitLab allows).
func parseProjectPage(r route, tail string) (route, bool) {
	if r.kind != projectRoute {
		return route{}, false
	}
	switch tail {
	case actRegistry, actPackages:
		r.action = tail
		return r, true
	}
	act, rest, _ := strings.Cut(tail, "/")
	switch act {
	case actTree, actBlob, actRaw:
		if rest == "" {
			return route{}, false
		}
		r.action, r.rest = act, rest
		return r, true
	case actArchive:
		if i := strings.LastIndex(rest, "/"); i <= 0 || i == len(rest)-1 {
			return route{}, false
		}
		r.action, r.rest = act, rest
		return r, true
	case actPackages:
		id, err := strconv.ParseInt(rest, 10, 64)
		if err == nil && id > 0 && strconv.FormatInt(id, 10) == rest {
			r.action, r.tokenID = actPackage, id
			return r, true
		}
	}
	return route{}, false
}

// handleProjectPage serves the project pages; each first resolves the project with its route's
// decision (404 to whoever it refuses, as for a project they cannot see).
func (h *Handler) handleProjectPage(w http.ResponseWriter, r *http.Request, sess *session, rt route) error {
	p, err := h.loadProject(r, sess, rt.path, uiRouteOf(rt).rule.Action)
	if err != nil {
		return err
	}
	switch rt.action {
	case actTree, actBlob, actRaw, actArchive:
		if h.cfg.Repos == nil {
			return errNotFound
		}
	case actRegistry:
		if h.cfg.Registry == nil {
			return errNotFound
		}
	case actPackages, actPackage:
		if h.cfg.Packages == nil {
			return errNotFound
		}
	}
	switch rt.action {
	case actTree:
		return h.handleTree(w, r, sess, p, rt.rest)
	case actBlob:
		return h.handleBlob(w, r, sess, p, rt.rest)
	case actRaw:
		return h.serveRaw(w, r, p, rt.rest)
	case actArchive:
		return h.serveArchive(w, r, p, rt.rest)
	case actRegistry:
		return h.handleRegistry(w, r, sess, p)
	case actPackages:
		return h.handlePackages(w, r, sess, p)
	default:
		return h.handlePackage(w, r, sess, p, rt.tokenID)
	}
}

// pathEscape escapes each segment of a slash-separated path for a URL path.
func pathEscape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// projectPageURL is the URL of a repository-browser page: /<project>/-/<act>/<ref>[/<path>].
func projectPageURL(p *namespace.Project, act, ref, filePath string) string {
	u := "/" + p.FullPath + "/-/" + act + "/" + pathEscape(ref)
	if filePath != "" {
		u += "/" + pathEscape(filePath)
	}
	return u
}

// registryHost is the registry's host as docker names it: the external URL without scheme.
func (h *Handler) registryHost() string {
	u := h.cfg.ExternalURL
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	return strings.TrimRight(u, "/")
}
