package nuget

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The documents the feeds serve, built from stored versions. base is the feed's absolute URL
// prefix (".../packages/nuget", no trailing slash).

// entry is one stored version with the manifest it was published with.
type entry struct {
	pkg     *packages.Package
	ver     *packages.Version
	spec    Nuspec
	version Version
	file    *packages.File
}

// entries turns stored versions into entries, newest version last (NuGet's order), skipping
// any whose metadata does not parse (none should: the push stored it).
func entries(pkg *packages.Package, versions []*packages.Version) []entry {
	out := make([]entry, 0, len(versions))
	for _, v := range versions {
		e := entry{pkg: pkg, ver: v}
		if json.Unmarshal(v.Metadata, &e.spec) != nil {
			continue
		}
		pv, err := ParseVersion(e.spec.FullVersion)
		if err != nil {
			continue
		}
		e.version = pv
		if len(v.Files) > 0 {
			e.file = &v.Files[len(v.Files)-1]
		}
		if e.spec.ID == "" {
			e.spec.ID = pkg.Name
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return Compare(out[i].version, out[j].version) < 0 })
	return out
}

func lowerID(e entry) string { return strings.ToLower(e.spec.ID) }

func contentURL(base string, e entry) string {
	id, v := lowerID(e), e.version.Key()
	return base + "/download/" + id + "/" + v + "/" + id + "." + v + ".nupkg"
}

func registrationURL(base, id string) string {
	return base + "/metadata/" + strings.ToLower(id) + "/index.json"
}

func leafURL(base string, e entry) string {
	return base + "/metadata/" + lowerID(e) + "/" + e.version.Key() + ".json"
}

// resource is one service index entry.
type resource struct {
	ID      string `json:"@id"`
	Type    string `json:"@type"`
	Comment string `json:"comment,omitempty"`
}

// serviceIndex is the v3 service index (GitLab's resources plus the newer type versions
// current clients look for). Group feeds have no PackagePublish.
func serviceIndex(base string, publish bool) map[string]any {
	var rs []resource
	add := func(id, comment string, types ...string) {
		for _, t := range types {
			rs = append(rs, resource{ID: id, Type: t, Comment: comment})
		}
	}
	add(base+"/download/", "Get package content (.nupkg).", "PackageBaseAddress/3.0.0")
	add(base+"/query", "Filter and search for packages by keyword.",
		"SearchQueryService", "SearchQueryService/3.0.0-beta", "SearchQueryService/3.0.0-rc", "SearchQueryService/3.5.0")
	if publish {
		add(base, "Push packages.", "PackagePublish/2.0.0")
	}
	add(base+"/metadata/", "Get package metadata.",
		"RegistrationsBaseUrl", "RegistrationsBaseUrl/3.0.0-beta", "RegistrationsBaseUrl/3.0.0-rc", "RegistrationsBaseUrl/3.6.0")
	return map[string]any{"version": "3.0.0", "resources": rs}
}

type dependencyJSON struct {
	ID    string `json:"@id"`
	Type  string `json:"@type"`
	Name  string `json:"id"`
	Range string `json:"range,omitempty"`
}

type dependencyGroupJSON struct {
	ID              string           `json:"@id"`
	Type            string           `json:"@type"`
	TargetFramework string           `json:"targetFramework,omitempty"`
	Dependencies    []dependencyJSON `json:"dependencies"`
}

type catalogEntryJSON struct {
	ID               string                `json:"@id"`
	Type             string                `json:"@type"`
	PackageID        string                `json:"id"`
	Version          string                `json:"version"`
	Title            string                `json:"title"`
	Authors          string                `json:"authors"`
	Description      string                `json:"description"`
	Summary          string                `json:"summary"`
	ReleaseNotes     string                `json:"releaseNotes,omitempty"`
	Tags             []string              `json:"tags"`
	ProjectURL       string                `json:"projectUrl,omitempty"`
	LicenseURL       string                `json:"licenseUrl,omitempty"`
	LicenseExpr      string                `json:"licenseExpression,omitempty"`
	IconURL          string                `json:"iconUrl,omitempty"`
	Listed           bool                  `json:"listed"`
	Published        string                `json:"published"`
	PackageContent   string                `json:"packageContent"`
	DependencyGroups []dependencyGroupJSON `json:"dependencyGroups"`
}

type leafJSON struct {
	ID             string           `json:"@id"`
	Type           string           `json:"@type"`
	CatalogEntry   catalogEntryJSON `json:"catalogEntry"`
	PackageContent string           `json:"packageContent"`
	Registration   string           `json:"registration"`
}

func tagList(s string) []string {
	out := strings.Fields(strings.ReplaceAll(s, ",", " "))
	if out == nil {
		out = []string{}
	}
	return out
}

func leaf(base string, e entry) leafJSON {
	u := leafURL(base, e)
	groups := make([]dependencyGroupJSON, 0, len(e.spec.DependencyGroups))
	for _, g := range e.spec.DependencyGroups {
		gid := u + "#dependencygroup"
		if g.TargetFramework != "" {
			gid += "/" + strings.ToLower(g.TargetFramework)
		}
		deps := make([]dependencyJSON, 0, len(g.Dependencies))
		for _, d := range g.Dependencies {
			deps = append(deps, dependencyJSON{ID: gid + "/" + strings.ToLower(d.ID), Type: "PackageDependency", Name: d.ID, Range: d.Range})
		}
		groups = append(groups, dependencyGroupJSON{ID: gid, Type: "PackageDependencyGroup", TargetFramework: g.TargetFramework, Dependencies: deps})
	}
	s := e.spec
	return leafJSON{ID: u, Type: "Package", PackageContent: contentURL(base, e), Registration: registrationURL(base, s.ID),
		CatalogEntry: catalogEntryJSON{ID: u, Type: "PackageDetails", PackageID: s.ID, Version: s.FullVersion, Title: s.Title,
			Authors: s.Authors, Description: s.Description, Summary: s.Summary, ReleaseNotes: s.ReleaseNotes, Tags: tagList(s.Tags),
			ProjectURL: s.ProjectURL, LicenseURL: s.LicenseURL, LicenseExpr: s.License, IconURL: s.IconURL, Listed: true,
			Published: stamp(e.ver.CreatedAt), PackageContent: contentURL(base, e), DependencyGroups: groups}}
}

// registrationIndex is the registration index with one inlined page holding every version.
func registrationIndex(base string, es []entry) map[string]any {
	u := registrationURL(base, es[0].spec.ID)
	items := make([]leafJSON, 0, len(es))
	for _, e := range es {
		items = append(items, leaf(base, e))
	}
	lower, upper := es[0].version.Normalized(), es[len(es)-1].version.Normalized()
	page := map[string]any{"@id": u + "#page/" + lower + "/" + upper, "@type": "catalog:CatalogPage", "count": len(items),
		"lower": lower, "upper": upper, "parent": u, "items": items}
	return map[string]any{"@id": u, "@type": []string{"catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"},
		"count": 1, "items": []any{page}}
}

// flatVersions is the flat container's version list: lower-case normalised, ascending.
func flatVersions(es []entry) map[string]any {
	vs := make([]string, 0, len(es))
	for _, e := range es {
		vs = append(vs, e.version.Key())
	}
	return map[string]any{"versions": vs}
}

type searchVersionJSON struct {
	ID        string `json:"@id"`
	Version   string `json:"version"`
	Downloads int    `json:"downloads"`
}

type searchResultJSON struct {
	ID             string              `json:"@id"`
	Type           string              `json:"@type"`
	Registration   string              `json:"registration"`
	PackageID      string              `json:"id"`
	Version        string              `json:"version"`
	Description    string              `json:"description"`
	Summary        string              `json:"summary"`
	Title          string              `json:"title"`
	IconURL        string              `json:"iconUrl,omitempty"`
	LicenseURL     string              `json:"licenseUrl,omitempty"`
	ProjectURL     string              `json:"projectUrl,omitempty"`
	Tags           []string            `json:"tags"`
	Authors        []string            `json:"authors"`
	TotalDownloads int                 `json:"totalDownloads"`
	Verified       bool                `json:"verified"`
	Versions       []searchVersionJSON `json:"versions"`
}

// searchResult describes one package's listed versions (es non-empty, ascending).
func searchResult(base string, es []entry) searchResultJSON {
	latest := es[len(es)-1]
	s := latest.spec
	vs := make([]searchVersionJSON, 0, len(es))
	for _, e := range es {
		vs = append(vs, searchVersionJSON{ID: leafURL(base, e), Version: e.spec.FullVersion})
	}
	authors := []string{}
	for _, a := range strings.Split(s.Authors, ",") {
		if a = strings.TrimSpace(a); a != "" {
			authors = append(authors, a)
		}
	}
	title := s.Title
	if title == "" {
		title = s.ID
	}
	return searchResultJSON{ID: registrationURL(base, s.ID), Type: "Package", Registration: registrationURL(base, s.ID),
		PackageID: s.ID, Version: s.FullVersion, Description: s.Description, Summary: s.Summary, Title: title,
		IconURL: s.IconURL, LicenseURL: s.LicenseURL, ProjectURL: s.ProjectURL, Tags: tagList(s.Tags), Authors: authors,
		Versions: vs}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// The v2 (OData/Atom) feed, enough for nuget.exe 2.x: the service document, $metadata, and
// V2FeedPackage entries.

const (
	atomNS = "http://www.w3.org/2005/Atom"
	dNS    = "http://schemas.microsoft.com/ado/2007/08/dataservices"
	mNS    = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
)

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func v2ServiceDocument(v2base string) string {
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<service xml:base="` + xmlText(v2base) + `" xmlns="http://www.w3.org/2007/app" xmlns:atom="` + atomNS + `">` +
		`<workspace><atom:title type="text">Default</atom:title>` +
		`<collection href="Packages"><atom:title type="text">Packages</atom:title></collection></workspace></service>`
}

// v2Metadata is the EDM model: V2FeedPackage keyed by Id and Version, the Packages set and
// FindPackagesById.
func v2Metadata() string {
	props := []struct{ name, typ string }{
		{"Id", "Edm.String"}, {"Version", "Edm.String"}, {"NormalizedVersion", "Edm.String"}, {"Title", "Edm.String"},
		{"Authors", "Edm.String"}, {"Description", "Edm.String"}, {"Summary", "Edm.String"}, {"Tags", "Edm.String"},
		{"Dependencies", "Edm.String"}, {"ProjectUrl", "Edm.String"}, {"LicenseUrl", "Edm.String"}, {"IconUrl", "Edm.String"},
		{"ReleaseNotes", "Edm.String"}, {"PackageHash", "Edm.String"}, {"PackageHashAlgorithm", "Edm.String"},
		{"PackageSize", "Edm.Int64"}, {"DownloadCount", "Edm.Int32"}, {"VersionDownloadCount", "Edm.Int32"},
		{"IsLatestVersion", "Edm.Boolean"}, {"IsAbsoluteLatestVersion", "Edm.Boolean"}, {"IsPrerelease", "Edm.Boolean"},
		{"Listed", "Edm.Boolean"}, {"RequireLicenseAcceptance", "Edm.Boolean"}, {"Published", "Edm.DateTime"},
		{"Created", "Edm.DateTime"}, {"LastUpdated", "Edm.DateTime"},
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` +
		`<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">` +
		`<edmx:DataServices m:DataServiceVersion="2.0" m:MaxDataServiceVersion="2.0" xmlns:m="` + mNS + `">` +
		`<Schema Namespace="NuGetGallery.OData" xmlns="http://schemas.microsoft.com/ado/2006/04/edm">` +
		`<EntityType Name="V2FeedPackage" m:HasStream="true"><Key><PropertyRef Name="Id"/><PropertyRef Name="Version"/></Key>`)
	for _, p := range props {
		nullable := ""
		if p.typ != "Edm.String" || p.name == "Id" || p.name == "Version" {
			nullable = ` Nullable="false"`
		}
		b.WriteString(`<Property Name="` + p.name + `" Type="` + p.typ + `"` + nullable + `/>`)
	}
	b.WriteString(`</EntityType></Schema>` +
		`<Schema Namespace="NuGetGallery" xmlns="http://schemas.microsoft.com/ado/2006/04/edm">` +
		`<EntityContainer Name="V2FeedContext" m:IsDefaultEntityContainer="true">` +
		`<EntitySet Name="Packages" EntityType="NuGetGallery.OData.V2FeedPackage"/>` +
		`<FunctionImport Name="FindPackagesById" ReturnType="Collection(NuGetGallery.OData.V2FeedPackage)" EntitySet="Packages">` +
		`<Parameter Name="id" Type="Edm.String" FixedLength="false" Unicode="false"/></FunctionImport>` +
		`</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`)
	return b.String()
}

// v2Dependencies is the v2 feed's "id:range:framework|…" form.
func v2Dependencies(groups []DependencyGroup) string {
	var parts []string
	for _, g := range groups {
		if len(g.Dependencies) == 0 {
			parts = append(parts, "::"+g.TargetFramework)
		}
		for _, d := range g.Dependencies {
			parts = append(parts, d.ID+":"+d.Range+":"+g.TargetFramework)
		}
	}
	return strings.Join(parts, "|")
}

func v2Entry(b *strings.Builder, v2base string, e entry, latest, absoluteLatest bool) {
	s := e.spec
	key := "Packages(Id='" + s.ID + "',Version='" + s.Version + "')"
	published := e.ver.CreatedAt.UTC().Format("2006-01-02T15:04:05.000")
	b.WriteString(`<entry><id>` + xmlText(v2base+"/"+key) + `</id>` +
		`<category term="NuGetGallery.OData.V2FeedPackage" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/>` +
		`<link rel="edit" title="V2FeedPackage" href="` + xmlText(key) + `"/>` +
		`<title type="text">` + xmlText(s.ID) + `</title>` +
		`<summary type="text">` + xmlText(s.Summary) + `</summary>` +
		`<updated>` + e.ver.UpdatedAt.UTC().Format(time.RFC3339) + `</updated>` +
		`<author><name>` + xmlText(s.Authors) + `</name></author>` +
		`<content type="application/zip" src="` + xmlText(v2base+"/download/"+lowerID(e)+"/"+e.version.Key()) + `"/>` +
		`<m:properties>`)
	str := func(name, v string) { b.WriteString(`<d:` + name + `>` + xmlText(v) + `</d:` + name + `>`) }
	typed := func(name, typ, v string) {
		b.WriteString(`<d:` + name + ` m:type="` + typ + `">` + v + `</d:` + name + `>`)
	}
	str("Id", s.ID)
	str("Version", s.Version)
	str("NormalizedVersion", s.Version)
	str("Title", s.Title)
	str("Authors", s.Authors)
	str("Description", s.Description)
	str("Summary", s.Summary)
	str("Tags", s.Tags)
	str("Dependencies", v2Dependencies(s.DependencyGroups))
	str("ProjectUrl", s.ProjectURL)
	str("LicenseUrl", s.LicenseURL)
	str("IconUrl", s.IconURL)
	str("ReleaseNotes", s.ReleaseNotes)
	if e.file != nil {
		if raw, err := hex.DecodeString(e.file.SHA512); err == nil {
			str("PackageHash", base64.StdEncoding.EncodeToString(raw))
			str("PackageHashAlgorithm", "SHA512")
		}
		typed("PackageSize", "Edm.Int64", strconv.FormatInt(e.file.Size, 10))
	}
	typed("DownloadCount", "Edm.Int32", "0")
	typed("VersionDownloadCount", "Edm.Int32", "0")
	typed("IsLatestVersion", "Edm.Boolean", strconv.FormatBool(latest))
	typed("IsAbsoluteLatestVersion", "Edm.Boolean", strconv.FormatBool(absoluteLatest))
	typed("IsPrerelease", "Edm.Boolean", strconv.FormatBool(e.version.IsPrerelease()))
	typed("Listed", "Edm.Boolean", "true")
	typed("RequireLicenseAcceptance", "Edm.Boolean", "false")
	typed("Published", "Edm.DateTime", published)
	typed("Created", "Edm.DateTime", published)
	typed("LastUpdated", "Edm.DateTime", e.ver.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000"))
	b.WriteString(`</m:properties></entry>`)
}

const v2EntryOpen = `xmlns="` + atomNS + `" xmlns:d="` + dNS + `" xmlns:m="` + mNS + `"`

// v2Feed is an Atom feed of entries (FindPackagesById); single is one entry alone
// (Packages(Id,Version)).
func v2Feed(v2base, title string, es []entry, all []entry, single bool) string {
	latestRelease, latestAny := -1, len(all)-1
	for i, e := range all {
		if !e.version.IsPrerelease() {
			latestRelease = i
		}
	}
	isLatest := func(e entry) (bool, bool) {
		key := e.version.Key()
		rel := latestRelease >= 0 && all[latestRelease].version.Key() == key
		return rel, latestAny >= 0 && all[latestAny].version.Key() == key
	}
	var updated time.Time
	for _, e := range es {
		if e.ver.UpdatedAt.After(updated) {
			updated = e.ver.UpdatedAt
		}
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	if single {
		var inner strings.Builder
		l, a := isLatest(es[0])
		v2Entry(&inner, v2base, es[0], l, a)
		return b.String() + strings.Replace(inner.String(), "<entry>", `<entry xml:base="`+xmlText(v2base)+`" `+v2EntryOpen+`>`, 1)
	}
	b.WriteString(`<feed xml:base="` + xmlText(v2base) + `" ` + v2EntryOpen + `>` +
		`<id>` + xmlText(v2base+"/"+title) + `</id><title type="text">` + xmlText(title) + `</title>` +
		`<updated>` + updated.UTC().Format(time.RFC3339) + `</updated>` +
		`<link rel="self" title="` + xmlText(title) + `" href="` + xmlText(title) + `"/>`)
	for _, e := range es {
		l, a := isLatest(e)
		v2Entry(&b, v2base, e, l, a)
	}
	b.WriteString(`</feed>`)
	return b.String()
}
