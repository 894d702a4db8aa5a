package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The project overview's repository, registry and packages part (docs/design.md §6.9.1): how to
// clone with a deploy token, the default branch's README, links to the repository browser and
// the registries, and the storage they take, each shown only to who may read it.

// maxReadme is the largest README shown on the overview (as plain text).
const maxReadme = 256 << 10

type projectOverview struct {
	CanReadCode bool
	// Empty is true when the repository has no commit yet.
	Empty         bool
	DefaultBranch string
	TreeHref      string
	Archives      []archiveLink
	ReadmeName    string
	ReadmeHref    string
	Readme        string
	// Credential is the non-interactive clone command that reads a deploy token from the
	// environment through a credential helper.
	Credential string

	CanRegistry  bool
	RegistryHref string
	CanPackages  bool
	PackagesHref string
	// Storage is drawn as the storage bar (charts.go) when ShowStorage: the kinds the user may
	// read, the others left at zero.
	Storage     StorageUsage
	ShowStorage bool
}

// overview reads what the project page shows beyond its name and clone URL.
func (h *Handler) overview(r *http.Request, sess *session, p *namespace.Project) (*projectOverview, error) {
	o := &projectOverview{}
	cloneURL := h.cfg.ExternalURL + "/" + p.FullPath + ".git"
	o.Credential = `git -c credential.helper='!f() { echo "username=$DEPLOY_TOKEN_USERNAME"; echo "password=$DEPLOY_TOKEN"; }; f' clone ` + cloneURL
	res := access.Resource{Project: p}
	var err error
	if h.cfg.Repos != nil {
		if o.CanReadCode, err = h.allowed(r, sess, res, access.ReadCode); err != nil {
			return nil, err
		}
	}
	if o.CanReadCode {
		if err := h.readmeOf(r, p, o); err != nil {
			return nil, err
		}
	}
	if h.cfg.Registry != nil {
		if o.CanRegistry, err = h.allowed(r, sess, res, access.PullImage); err != nil {
			return nil, err
		}
		if o.CanRegistry {
			o.RegistryHref = "/" + p.FullPath + "/-/container_registry"
			n, err := h.cfg.Registry.ProjectRegistryBytes(r.Context(), p.ID)
			if err != nil {
				return nil, err
			}
			o.Storage.Registry, o.ShowStorage = n, true
		}
	}
	if h.cfg.Packages != nil {
		if o.CanPackages, err = h.allowed(r, sess, res, access.ReadPackage); err != nil {
			return nil, err
		}
		if o.CanPackages {
			o.PackagesHref = "/" + p.FullPath + "/-/packages"
			if h.cfg.PackageBytes != nil {
				n, err := h.cfg.PackageBytes.ProjectPackageBytes(r.Context(), p.ID)
				if err != nil {
					return nil, err
				}
				o.Storage.Packages, o.ShowStorage = n, true
			}
		}
	}
	return o, nil
}

// readmeOf finds the default branch's README (README.md, README, README.txt… in the root, any
// case) and reads it as text.
func (h *Handler) readmeOf(r *http.Request, p *namespace.Project, o *projectOverview) error {
	repo := h.repoOf(p)
	branch := repo.DefaultBranch(r.Context())
	if branch == "" {
		branch = "main"
	}
	o.DefaultBranch = branch
	commit, err := repo.ResolveCommit(r.Context(), branch)
	if err != nil {
		if notFoundGit(err) == errNotFound {
			o.Empty = true
			return nil
		}
		return err
	}
	o.TreeHref = projectPageURL(p, actTree, branch, "")
	o.Archives = h.browser(p, &resolved{Ref: branch, Commit: commit, refs: &refSet{}}, actTree).Archives
	entries, err := repo.Tree(r.Context(), commit, "", false)
	if err != nil {
		if notFoundGit(err) == errNotFound {
			return nil // an empty root tree
		}
		return err
	}
	var readme *gitexec.TreeEntry
	for i, e := range entries {
		if e.Type != "blob" || e.Mode == "120000" {
			continue
		}
		base, ext, _ := strings.Cut(strings.ToLower(e.Name), ".")
		// README.md wins over README, README.txt and the like (entries are in name order).
		if base == "readme" && (ext == "" || ext == "md" || ext == "markdown" || ext == "txt" || ext == "rst") && (readme == nil || ext == "md") {
			readme = &entries[i]
		}
	}
	if readme == nil {
		return nil
	}
	o.ReadmeName, o.ReadmeHref = readme.Name, projectPageURL(p, actBlob, branch, readme.Path)
	content, err := repo.ReadBlob(r.Context(), readme.ID, maxReadme)
	if err != nil {
		if errors.Is(err, gitexec.ErrOutputTooLarge) {
			return nil // too large to show: the link to it stays
		}
		return notFoundGit(err)
	}
	if gitexec.LooksLikeText(content) {
		o.Readme = string(content)
	}
	return nil
}
