package api

// GitLab's Packages API: list, get and delete packages and package files of every format.
//
// GitLab's "package" is one name and version; Gatehouse's core keeps a package (name) with
// versions. A GitLab package is therefore a core version: its id is the version's id, and its
// package files are the version's files (ids are the files' own). Deleting a GitLab package
// deletes the version (and the core package with its last version); deleting a version's last
// file deletes the version too. The bytes stay in the blob store until garbage collection finds
// them unreferenced.
//
// Reads need access.ReadPackage (reporter+, or any reader of a public or internal project);
// deletes need access.DeletePackage (maintainer+, personal access tokens with the api scope).

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

type packageLinksJSON struct {
	WebPath string `json:"web_path"`
	// DeleteAPIPath is shown only to those who may delete the package, as GitLab does.
	DeleteAPIPath string `json:"delete_api_path,omitempty"`
}

type packageVersionJSON struct {
	ID        int64  `json:"id"`
	Version   string `json:"version"`
	CreatedAt string `json:"created_at"`
}

type packageJSON struct {
	ID          int64            `json:"id"`
	Name        string           `json:"name"`
	Version     *string          `json:"version"` // null for a versionless package
	PackageType string           `json:"package_type"`
	Status      string           `json:"status"`
	Links       packageLinksJSON `json:"_links"`
	CreatedAt   string           `json:"created_at"`
	// LastDownloadedAt is always null: downloads are not tracked.
	LastDownloadedAt *string `json:"last_downloaded_at"`
	// ProjectID and ProjectPath are shown in group listings.
	ProjectID   int64  `json:"project_id,omitempty"`
	ProjectPath string `json:"project_path,omitempty"`
	// Versions are the package's other listed versions, in GET of one package only.
	Versions []packageVersionJSON `json:"versions,omitempty"`
}

type packageFileJSON struct {
	ID         int64  `json:"id"`
	PackageID  int64  `json:"package_id"`
	CreatedAt  string `json:"created_at"`
	FileName   string `json:"file_name"`
	Size       int64  `json:"size"`
	FileMD5    string `json:"file_md5"`
	FileSHA1   string `json:"file_sha1"`
	FileSHA256 string `json:"file_sha256"`
}

// gitlabPackageTypes are the package_type values GitLab accepts; those Gatehouse does not serve
// select nothing.
var gitlabPackageTypes = map[string]bool{"conan": true, "maven": true, "npm": true, "pypi": true, "composer": true,
	"nuget": true, "helm": true, "terraform_module": true, "golang": true, "generic": true, "debian": true,
	"rubygems": true, "rpm": true, "ml_model": true, "cargo": true}

// servedPackageTypes are the formats Gatehouse serves, by package_type.
var servedPackageTypes = map[string]packages.Format{"generic": packages.Generic, "npm": packages.NPM, "pypi": packages.PyPI,
	"maven": packages.Maven, "golang": packages.GoProxy, "nuget": packages.NuGet,
	"debian": packages.Debian, "helm": packages.Helm, "composer": packages.Composer,
	"terraform_module": packages.Terraform, "rubygems": packages.RubyGems}

// gitlabPackageStatuses are the status values GitLab accepts; Gatehouse keeps default and
// hidden, so the others select nothing.
var gitlabPackageStatuses = map[string]bool{"default": true, "hidden": true, "processing": true, "error": true,
	"pending_destruction": true, "deprecated": true}

// The Packages API's parameters, as GitLab's lib/api/project_packages.rb and group_packages.rb
// declare them.
var (
	projectPackagesParams = params{
		{name: "package_type", typ: tString},
		{name: "status", typ: tString},
		{name: "package_name", typ: tString},
		{name: "package_version", typ: tString},
		{name: "include_versionless", typ: tBool},
		{name: "order_by", typ: tString},
		{name: "sort", typ: tString, values: []string{"asc", "desc"}},
	}.with(pagingParams)
	groupPackagesParams = projectPackagesParams.with(params{{name: "exclude_subgroups", typ: tBool}})
	packageFilesParams  = params{
		{name: "order_by", typ: tString, values: []string{"id", "file_name", "created_at"}},
		{name: "sort", typ: tString, values: []string{"asc", "desc"}},
	}.with(pagingParams)
)

// invalidValue is Grape's "<name> does not have a valid value".
func invalidValue(name string) error {
	return &paramsError{[]string{name + " does not have a valid value"}}
}

// listedPackage is one row of a listing with the project it belongs to.
type listedPackage struct {
	packages.ListedVersion
	project *namespace.Project
}

// packageQuery reads the list filters. none reports a valid filter that selects nothing (a
// package type or status Gatehouse does not have).
func packageQuery(r *request, group bool) (q packages.VersionQuery, orderBy string, desc, none bool, err error) {
	spec := projectPackagesParams
	if group {
		spec = groupPackagesParams
	}
	if err := spec.check(r); err != nil {
		return q, "", false, false, err
	}
	if t := r.params.Get("package_type"); t != "" {
		if !gitlabPackageTypes[t] {
			return q, "", false, false, invalidValue("package_type")
		}
		f, ok := servedPackageTypes[t]
		none = none || !ok
		q.Format = f
	}
	q.Status = packages.StatusDefault
	if s := r.params.Get("status"); s != "" {
		if !gitlabPackageStatuses[s] {
			return q, "", false, false, invalidValue("status")
		}
		q.Status = packages.Status(s)
		none = none || (q.Status != packages.StatusDefault && q.Status != packages.StatusHidden)
	}
	q.NameContains = r.params.Get("package_name")
	q.Version = r.params.Get("package_version")
	q.IncludeVersionless = boolParam(r, "include_versionless")
	orderBy = cmp.Or(r.params.Get("order_by"), "created_at")
	switch orderBy {
	case "created_at", "name", "version", "type":
	case "project_path":
		if !group {
			return q, "", false, false, invalidValue("order_by")
		}
	default:
		return q, "", false, false, invalidValue("order_by")
	}
	desc, err = sortParam(r)
	return q, orderBy, desc, none, err
}

// sortParam reads sort=asc|desc (asc by default).
func sortParam(r *request) (desc bool, err error) {
	switch r.params.Get("sort") {
	case "", "asc":
		return false, nil
	case "desc":
		return true, nil
	}
	return false, invalidValue("sort")
}

// sortPackages orders a listing by GitLab's order_by, ties broken by id in the same direction.
func sortPackages(list []listedPackage, orderBy string, desc bool) {
	slices.SortStableFunc(list, func(a, b listedPackage) int {
		var c int
		switch orderBy {
		case "name":
			c = strings.Compare(a.Package.Name, b.Package.Name)
		case "version":
			c = strings.Compare(a.Version.Version, b.Version.Version)
		case "type":
			c = strings.Compare(string(a.Package.Format), string(b.Package.Format))
		case "project_path":
			c = strings.Compare(a.project.FullPath, b.project.FullPath)
		default:
			c = a.Version.CreatedAt.Compare(b.Version.CreatedAt)
		}
		c = cmp.Or(c, cmp.Compare(a.Version.ID, b.Version.ID))
		if desc {
			return -c
		}
		return c
	})
}

// mayDelete reports, once per project, whether the principal may delete its packages (for
// _links.delete_api_path).
type mayDelete struct {
	h     *Handler
	r     *request
	cache map[int64]bool
}

func (m *mayDelete) project(p *namespace.Project) (bool, error) {
	if ok, seen := m.cache[p.ID]; seen {
		return ok, nil
	}
	ok, err := m.h.cfg.Gate.Permits(ctxOf(m.r), m.r.Request, m.r.principal, access.Resource{Project: p}, access.DeletePackage)
	if err != nil {
		return false, err
	}
	m.cache[p.ID] = ok
	return ok, nil
}

func (h *Handler) packageView(r *request, p *namespace.Project, pkg *packages.Package, v *packages.Version, canDelete, group bool) packageJSON {
	out := packageJSON{ID: v.ID, Name: pkg.Name, PackageType: string(pkg.Format), Status: string(v.Status),
		CreatedAt: isoTime(v.CreatedAt)}
	if !v.Versionless() {
		version := v.Version
		out.Version = &version
	} else {
		out.Status = string(packages.StatusDefault)
	}
	out.Links.WebPath = "/" + p.FullPath + "/-/packages/" + strconv.FormatInt(v.ID, 10)
	if canDelete {
		out.Links.DeleteAPIPath = externalPath(r, &url.URL{Path: "/api/v4/projects/" + strconv.FormatInt(p.ID, 10) +
			"/packages/" + strconv.FormatInt(v.ID, 10)})
	}
	if group {
		out.ProjectID, out.ProjectPath = p.ID, p.FullPath
	}
	return out
}

// writePackages filters, orders and pages the packages of projects.
func (h *Handler) writePackages(w http.ResponseWriter, r *request, projects []*namespace.Project, group bool) error {
	q, orderBy, desc, none, err := packageQuery(r, group)
	if err != nil {
		return err
	}
	byID := map[int64]*namespace.Project{}
	if !none {
		for _, p := range projects {
			q.ProjectIDs = append(q.ProjectIDs, p.ID)
			byID[p.ID] = p
		}
	}
	found, err := h.cfg.Packages.ListVersions(ctxOf(r), q)
	if err != nil {
		return err
	}
	list := make([]listedPackage, 0, len(found))
	for _, lv := range found {
		list = append(list, listedPackage{ListedVersion: lv, project: byID[lv.Package.ProjectID]})
	}
	sortPackages(list, orderBy, desc)
	may := &mayDelete{h: h, r: r, cache: map[int64]bool{}}
	out := make([]packageJSON, 0, len(list))
	for _, l := range list {
		canDelete, err := may.project(l.project)
		if err != nil {
			return err
		}
		out = append(out, h.packageView(r, l.project, &l.Package, &l.Version, canDelete, group))
	}
	paginate(w, r, out)
	return nil
}

func (h *Handler) listProjectPackages(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadPackage)
	if err != nil {
		return err
	}
	return h.writePackages(w, r, []*namespace.Project{p}, false)
}

// listGroupPackages lists the packages of the group's projects (and its subgroups', unless
// exclude_subgroups) whose packages the principal may read.
func (h *Handler) listGroupPackages(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	all, err := h.cfg.Namespaces.ListProjects(ctxOf(r))
	if err != nil {
		return err
	}
	exclude := boolParam(r, "exclude_subgroups")
	var readable []*namespace.Project
	for _, p := range all {
		if (exclude && p.GroupID != g.ID) || (!exclude && !p.InGroup(g.ID)) {
			continue
		}
		ok, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Project: p}, access.ReadPackage)
		if err != nil {
			return err
		}
		if ok {
			readable = append(readable, p)
		}
	}
	return h.writePackages(w, r, readable, true)
}

// projectPackage authorizes act on the project and loads {package_id} in it.
func (h *Handler) projectPackage(r *request, act access.Action) (*namespace.Project, *packages.Package, *packages.Version, error) {
	p, err := h.project(r, act)
	if err != nil {
		return nil, nil, nil, err
	}
	id, err := pathInt(r, "package_id")
	if err != nil {
		return nil, nil, nil, invalidParam("package_id")
	}
	pkg, v, err := h.cfg.Packages.VersionByID(ctxOf(r), p.ID, id)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, nil, nil, notFound("Package")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return p, pkg, v, nil
}

func (h *Handler) getProjectPackage(w http.ResponseWriter, r *request) error {
	p, pkg, v, err := h.projectPackage(r, access.ReadPackage)
	if err != nil {
		return err
	}
	canDelete, err := (&mayDelete{h: h, r: r, cache: map[int64]bool{}}).project(p)
	if err != nil {
		return err
	}
	out := h.packageView(r, p, pkg, v, canDelete, false)
	others, err := h.cfg.Packages.Versions(ctxOf(r), pkg, false)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != v.ID && !o.Versionless() {
			out.Versions = append(out.Versions, packageVersionJSON{ID: o.ID, Version: o.Version, CreatedAt: isoTime(o.CreatedAt)})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) listPackageFiles(w http.ResponseWriter, r *request) error {
	_, _, v, err := h.projectPackage(r, access.ReadPackage)
	if err != nil {
		return err
	}
	if err := packageFilesParams.check(r); err != nil {
		return err
	}
	orderBy := cmp.Or(r.params.Get("order_by"), "id")
	if orderBy != "id" && orderBy != "file_name" && orderBy != "created_at" {
		return invalidValue("order_by")
	}
	desc, err := sortParam(r)
	if err != nil {
		return err
	}
	files := slices.Clone(v.Files)
	slices.SortStableFunc(files, func(a, b packages.File) int {
		var c int
		switch orderBy {
		case "file_name":
			c = strings.Compare(a.Filename, b.Filename)
		case "created_at":
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		c = cmp.Or(c, cmp.Compare(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	out := make([]packageFileJSON, 0, len(files))
	for _, f := range files {
		out = append(out, packageFileJSON{ID: f.ID, PackageID: v.ID, CreatedAt: isoTime(f.CreatedAt), FileName: f.Filename,
			Size: f.Size, FileMD5: f.MD5, FileSHA1: f.SHA1, FileSHA256: f.SHA256})
	}
	paginate(w, r, out)
	return nil
}

func (h *Handler) deleteProjectPackage(w http.ResponseWriter, r *request) error {
	_, pkg, v, err := h.projectPackage(r, access.DeletePackage)
	if err != nil {
		return err
	}
	err = h.cfg.Packages.DeleteVersion(ctxOf(r), pkg, v.Version)
	if errors.Is(err, packages.ErrNotFound) {
		return notFound("Package")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deletePackageFile(w http.ResponseWriter, r *request) error {
	_, _, v, err := h.projectPackage(r, access.DeletePackage)
	if err != nil {
		return err
	}
	id, err := pathInt(r, "package_file_id")
	if err != nil {
		return invalidParam("package_file_id")
	}
	err = h.cfg.Packages.DeleteFile(ctxOf(r), v, id)
	if errors.Is(err, packages.ErrNotFound) {
		return notFound("Package File")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
