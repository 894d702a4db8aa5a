package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The container registry and package registry pages (docs/design.md §6.9.1).

type registryTag struct {
	oci.TagDetail
	// Short is the digest's algorithm and first 12 hex digits, as the table shows it.
	Short  string
	Size   string
	Pull   string
	FormID string
}

type registryRepo struct {
	Name    string
	Anchor  string
	Tags    []registryTag
	Missing bool
}

type registryData struct {
	Project   *namespace.Project
	Host      string
	Repos     []registryRepo
	CanDelete bool
	// Login is the docker login command with the deploy-token placeholders.
	Login string
	Push  string
}

// handleRegistry shows the project's container repositories with their tags (digest, size and a
// pull command); a POST deletes one tag, for who may delete images (the registry's own
// DELETE /v2/<name>/manifests/<tag> rule), and shows the page again.
func (h *Handler) handleRegistry(w http.ResponseWriter, r *http.Request, sess *session, p *namespace.Project) error {
	canDelete, err := h.allowed(r, sess, access.Resource{Project: p}, access.DeleteImage)
	if err != nil {
		return err
	}
	notice := ""
	if r.Method == http.MethodPost {
		if !canDelete {
			return errForbidden
		}
		name, err := oci.ParseName(r.PostFormValue("repository"))
		if err != nil {
			return errNotFound
		}
		tag := r.PostFormValue("tag")
		if err := h.cfg.Registry.DeleteTag(r.Context(), oci.Repository{ProjectID: p.ID, Name: name}, tag); err != nil {
			if errors.Is(err, oci.ErrNotFound) || errors.Is(err, errkind.ErrNotFound) {
				return errNotFound
			}
			return err
		}
		notice = "Tag " + tag + " of " + string(name) + " was deleted."
	}
	repos, err := h.cfg.Registry.ProjectRepositories(r.Context(), p.ID)
	if err != nil {
		return err
	}
	host := h.registryHost()
	d := registryData{Project: p, Host: host, CanDelete: canDelete,
		Login: "docker login " + host + " --username <deploy-token-username> --password-stdin",
		Push:  "docker push " + host + "/" + strings.ToLower(p.FullPath) + ":latest"}
	n := 0
	for i, rs := range repos {
		rr := registryRepo{Name: string(rs.Name), Anchor: "repository-" + strconv.Itoa(i+1)}
		tags, err := h.cfg.Registry.TagDetails(r.Context(), oci.Repository{ProjectID: p.ID, Name: rs.Name})
		if err != nil && !errors.Is(err, oci.ErrNotFound) && !errors.Is(err, errkind.ErrNotFound) {
			return err
		}
		for _, t := range tags {
			n++
			short := t.Digest
			if i := strings.IndexByte(short, ':'); i >= 0 && len(short) > i+13 {
				short = short[:i+13]
			}
			rr.Tags = append(rr.Tags, registryTag{TagDetail: t, Short: short, Size: formatBytes(t.Size),
				Pull: "docker pull " + host + "/" + string(rs.Name) + ":" + t.Name, FormID: "pull-" + strconv.Itoa(n)})
		}
		d.Repos = append(d.Repos, rr)
	}
	h.render(w, r, http.StatusOK, "container_registry", &page{Title: "Container registry · " + p.Name, User: sess.user,
		CSRF: sess.csrfToken(), Notice: notice,
		Breadcrumbs: append(projectCrumbs(p), crumb{Label: "Container registry", Href: "/" + p.FullPath + "/-/container_registry"}), Data: d})
	return nil
}

type packageRow struct {
	ID        int64
	Name      string
	Version   string
	Format    packages.Format
	Published string
	Href      string
}

type packagesData struct {
	Project  *namespace.Project
	Packages []packageRow
	// APIBase is the project's API URL, for the empty state's publish example.
	APIBase string
}

// handlePackages lists the project's packages, one row per name and version, newest first.
func (h *Handler) handlePackages(w http.ResponseWriter, r *http.Request, sess *session, p *namespace.Project) error {
	// Hidden versions are a format's bookkeeping (Maven's metadata holder): GitLab's UI leaves
	// them out too.
	found, err := h.cfg.Packages.ListVersions(r.Context(), packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: []int64{p.ID}},
		Status: packages.StatusDefault})
	if err != nil {
		return err
	}
	d := packagesData{Project: p, APIBase: h.cfg.ExternalURL + "/api/v4/projects/" + strconv.FormatInt(p.ID, 10)}
	for _, lv := range slices.Backward(found) {
		d.Packages = append(d.Packages, packageRow{ID: lv.Version.ID, Name: lv.Package.Name, Version: lv.Version.Version,
			Format: lv.Package.Format, Published: lv.Version.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"),
			Href: "/" + p.FullPath + "/-/packages/" + strconv.FormatInt(lv.Version.ID, 10)})
	}
	h.render(w, r, http.StatusOK, "packages", &page{Title: "Package registry · " + p.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: append(projectCrumbs(p), crumb{Label: "Package registry", Href: "/" + p.FullPath + "/-/packages"}), Data: d})
	return nil
}

type packageFile struct {
	Name   string
	Size   string
	SHA256 string
}

// snippet is one block of the Installation panel.
type snippet struct {
	ID    string
	Label string
	Text  string
	Lines int
}

type packageData struct {
	Project      *namespace.Project
	Package      *packages.Package
	Version      *packages.Version
	Files        []packageFile
	Installation []snippet
}

// handlePackage shows one package version: its files and, per format, how a client installs it
// with a deploy token (GitLab's Installation panel, with the placeholders <deploy-token-username>
// and <deploy-token>).
func (h *Handler) handlePackage(w http.ResponseWriter, r *http.Request, sess *session, p *namespace.Project, id int64) error {
	pkg, v, err := h.cfg.Packages.VersionByID(r.Context(), p.ID, id)
	if errors.Is(err, packages.ErrNotFound) || errors.Is(err, errkind.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if v.Versionless() || v.Status == packages.StatusHidden {
		return errNotFound
	}
	d := packageData{Project: p, Package: pkg, Version: v, Installation: h.installation(p, pkg, v)}
	for _, f := range v.Files {
		d.Files = append(d.Files, packageFile{Name: f.Filename, Size: formatBytes(f.Size), SHA256: f.SHA256})
	}
	h.render(w, r, http.StatusOK, "package", &page{Title: pkg.Name + " " + v.Version + " · " + p.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: append(projectCrumbs(p), crumb{Label: "Package registry", Href: "/" + p.FullPath + "/-/packages"},
			crumb{Label: pkg.Name + " " + v.Version, Href: "/" + p.FullPath + "/-/packages/" + strconv.FormatInt(v.ID, 10)}), Data: d})
	return nil
}

// installation is the Installation panel of a package version for its format.
func (h *Handler) installation(p *namespace.Project, pkg *packages.Package, v *packages.Version) []snippet {
	api := h.cfg.ExternalURL + "/api/v4/projects/" + strconv.FormatInt(p.ID, 10) + "/packages/"
	host := h.registryHost()
	var out []snippet
	add := func(label, text string) {
		out = append(out, snippet{ID: "install-" + strconv.Itoa(len(out)+1), Label: label, Text: text, Lines: strings.Count(text, "\n") + 1})
	}
	switch pkg.Format {
	case packages.Generic:
		for _, f := range v.Files {
			add("Download "+f.Filename, `curl --header "Deploy-Token: <deploy-token>" --output `+shellQuote(f.Filename)+` "`+
				api+"generic/"+pathEscape(pkg.Name)+"/"+pathEscape(v.Version)+"/"+pathEscape(f.Filename)+`"`)
		}
	case packages.NPM:
		registry := api + "npm/"
		_, hostPath, _ := strings.Cut(registry, "://")
		cfg := "registry=" + registry
		if scope, _, ok := strings.Cut(pkg.Name, "/"); ok && strings.HasPrefix(scope, "@") {
			cfg = scope + ":registry=" + registry
		}
		add("npm command", "npm i "+pkg.Name+"@"+v.Version)
		add("Registry setup (.npmrc)", cfg+"\n//"+hostPath+":_authToken=<deploy-token>")
	case packages.Maven:
		group, artifact := path2maven(pkg.Name)
		add("Maven XML (pom.xml)", "<dependency>\n  <groupId>"+group+"</groupId>\n  <artifactId>"+artifact+"</artifactId>\n  <version>"+
			v.Version+"</version>\n</dependency>")
		add("Registry setup (pom.xml)", "<repositories>\n  <repository>\n    <id>gatehouse-maven</id>\n    <url>"+api+"maven</url>\n  </repository>\n</repositories>")
		add("Credentials (settings.xml)", "<settings>\n  <servers>\n    <server>\n      <id>gatehouse-maven</id>\n      <configuration>\n"+
			"        <httpHeaders>\n          <property>\n            <name>Deploy-Token</name>\n            <value><deploy-token></value>\n"+
			"          </property>\n        </httpHeaders>\n      </configuration>\n    </server>\n  </servers>\n</settings>")
	case packages.PyPI:
		scheme, rest, _ := strings.Cut(api, "://")
		add("Pip command", "pip install "+pkg.Name+"=="+v.Version+" --index-url "+scheme+"://<deploy-token-username>:<deploy-token>@"+rest+"pypi/simple")
		add("Registry setup (~/.pypirc)", "[gatehouse]\nrepository = "+api+"pypi\nusername = <deploy-token-username>\npassword = <deploy-token>")
	case packages.NuGet:
		add("Add the source", `dotnet nuget add source "`+api+`nuget/index.json" --name gatehouse --username <deploy-token-username> --password <deploy-token>`)
		add("dotnet command", "dotnet add package "+pkg.Name+" --version "+v.Version)
	case packages.Debian:
		add("Signing key", `curl --user "<deploy-token-username>:<deploy-token>" --output /etc/apt/keyrings/gatehouse.asc "`+
			strings.TrimSuffix(api, "packages/")+`debian_distributions/<codename>/key.asc"`)
		add("Source (/etc/apt/sources.list.d/gatehouse.list)", "deb [signed-by=/etc/apt/keyrings/gatehouse.asc] "+api+"debian <codename> <component>")
		add("Credentials (/etc/apt/auth.conf.d/gatehouse.conf)", "machine "+api+"debian\nlogin <deploy-token-username>\npassword <deploy-token>")
		add("apt command", "apt-get update && apt-get install "+pkg.Name+"="+v.Version)
	case packages.Helm:
		// A chart's files are stored per channel as "<channel>@<file>" (docs/helm.md).
		channel := "stable"
		if len(v.Files) > 0 {
			if c, _, ok := strings.Cut(v.Files[0].Filename, "@"); ok {
				channel = c
			}
		}
		add("Add the repository", "helm repo add --username <deploy-token-username> --password <deploy-token> gatehouse "+api+"helm/"+pathEscape(channel))
		add("Helm command", "helm install my-release gatehouse/"+pkg.Name+" --version "+v.Version)
	case packages.Composer:
		// The project's own group: the narrowest group endpoint that serves it (docs/composer.md).
		if i := strings.LastIndex(p.FullPath, "/"); i > 0 {
			add("Registry setup", "composer config repositories.gatehouse composer "+h.cfg.ExternalURL+"/api/v4/group/"+url.PathEscape(p.FullPath[:i])+
				"/-/packages/composer/packages.json\ncomposer config http-basic."+host+" <deploy-token-username> <deploy-token>")
		}
		add("Composer command", "composer require "+pkg.Name+":"+v.Version)
	case packages.RubyGems:
		scheme, rest, _ := strings.Cut(api, "://")
		add("gem command", "gem install "+pkg.Name+" -v "+v.Version+" --clear-sources --source "+scheme+"://<deploy-token-username>:<deploy-token>@"+rest+"rubygems/")
		add("Push credentials (~/.gem/credentials)", "---\n"+api+"rubygems: '<deploy-token>'")
	case packages.GoProxy:
		add("Credentials (~/.netrc)", "machine "+strings.Split(host, ":")[0]+" login <deploy-token-username> password <deploy-token>")
		add("Go command", "GOPROXY="+api+"go,https://proxy.golang.org,direct GONOSUMDB="+pkg.Name+" go get "+pkg.Name+"@"+v.Version)
	case packages.Terraform:
		// The module's namespace is the project's top-level group (docs/terraform.md).
		ns, _, _ := strings.Cut(p.FullPath, "/")
		name, _, _ := strings.Cut(pkg.Name, "/")
		add("Module block", "module \""+name+"\" {\n  source  = \""+host+"/"+ns+"/"+pkg.Name+"\"\n  version = \""+v.Version+"\"\n}")
		add("Credentials (~/.tofurc or ~/.terraformrc)", "credentials \""+host+"\" {\n  token = \"<deploy-token>\"\n}")
	}
	return out
}

// path2maven splits a Maven package name ("com/example/app") into groupId and artifactId.
func path2maven(name string) (group, artifact string) {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return "", name
	}
	return strings.ReplaceAll(name[:i], "/", "."), name[i+1:]
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+/") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
