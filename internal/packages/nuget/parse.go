// Package nuget serves NuGet feeds as GitLab does, for nuget.exe and dotnet nuget:
//
//	project /api/v4/projects/:id/packages/nuget/…   v3 feed, v2 feed, push
//	group   /api/v4/groups/:id/-/packages/nuget/…   v3 feed (read) of the group's projects
//
// At the group level, a package is served from the one project of the group (at any depth) that
// holds its id: when several do, its feed and content answer 409 naming them, never versions
// merged from projects the client did not choose. Search lists the ids of every project the
// credential may read.
//
// Under each prefix (v3): index.json (service index), query (search), download/<id>/index.json
// (flat container versions), download/<id>/<version>/<id>.<version>.nupkg (content),
// metadata/<id>/index.json and metadata/<id>/<version>.json (registrations). Project level
// only: PUT to the prefix (or v2, as nuget.exe 2.x does) pushes a multipart .nupkg; v2 (service
// document), v2/$metadata, v2/FindPackagesById()?id='x', v2/Packages(Id='x',Version='y') and
// v2/download/<id>/<version> serve the v2 (OData) feed old clients read.
//
// The v3 service index and v2/$metadata are the same for every :id and hold no data, so they
// are answered without credentials, as GitLab does (dotnet nuget push reads index.json before
// it pushes with only an API key). Everything else is authorized once per request, the v2
// service document (the source URL itself) included: nuget.exe 2.x asks for credentials only
// when that first request is refused, and sends none to the feed's other URLs otherwise. Credentials: basic auth with the deploy token's own username (GitLab's rule for
// NuGet) or any username with a personal access token, or the token in X-NuGet-ApiKey.
// Errors are a status with a short text, as nuget.org answers.
package nuget

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// maxPathLength bounds the escaped request path the parser looks at.
const maxPathLength = 2048

// maxIDLength is NuGet's limit on package ids.
const maxIDLength = 100

type level int

const (
	levelProject level = iota + 1
	levelGroup
)

type kind int

const (
	kindServiceIndex     kind = iota + 1 // index.json
	kindPublish                          // PUT prefix, PUT v2
	kindSearch                           // query
	kindVersions                         // download/<id>/index.json
	kindContent                          // download/<id>/<version>/<file>.nupkg
	kindRegistration                     // metadata/<id>/index.json
	kindRegistrationLeaf                 // metadata/<id>/<version>.json
	kindV2Service                        // v2 (GET)
	kindV2Metadata                       // v2/$metadata
	kindV2FindByID                       // v2/FindPackagesById()
	kindV2Entry                          // v2/Packages(Id='x',Version='y')
	kindV2Download                       // v2/download/<id>/<version>
)

// Route is a parsed NuGet path. Every field is unescaped and validated.
type Route struct {
	level level
	kind  kind
	// Ref is the project's or group's :id (numeric or full path), unescaped.
	Ref string
	// Prefix is the escaped path up to and including ".../nuget" (no trailing slash).
	Prefix string
	// ID is the package id as the URL spells it (any case).
	ID string
	// Version is the parsed version, when the route names one.
	Version Version
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()). A path of another shape is
// packages.ErrNotFound; an id or version that breaks NuGet's rules is a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	var rt Route
	var ref, rest string
	var ok bool
	if rest, ok = strings.CutPrefix(escaped, "/api/v4/projects/"); ok {
		rt.level = levelProject
		ref, rest, ok = strings.Cut(rest, "/packages/nuget")
	} else if rest, ok = strings.CutPrefix(escaped, "/api/v4/groups/"); ok {
		rt.level = levelGroup
		ref, rest, ok = strings.Cut(rest, "/-/packages/nuget")
	}
	if !ok || ref == "" || strings.Contains(ref, "/") {
		return Route{}, packages.ErrNotFound
	}
	var err error
	if rt.Ref, err = url.PathUnescape(ref); err != nil || rt.Ref == "" {
		return Route{}, packages.ErrNotFound
	}
	rt.Prefix = escaped[:len(escaped)-len(rest)]
	if rest != "" && rest[0] != '/' {
		return Route{}, packages.ErrNotFound
	}
	rest = strings.TrimPrefix(rest, "/")
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return Route{}, &packages.ValidationError{Field: "path", Reason: "is not a valid URL path"}
		}
	}
	switch {
	case rest == "":
		rt.kind = kindPublish
	case len(segs) == 1 && segs[0] == "index.json":
		rt.kind = kindServiceIndex
	case len(segs) == 1 && segs[0] == "query":
		rt.kind = kindSearch
	case len(segs) == 3 && segs[0] == "download" && segs[2] == "index.json":
		rt.kind = kindVersions
		err = rt.setID(segs[1])
	case len(segs) == 4 && segs[0] == "download":
		rt.kind = kindContent
		err = rt.setContent(segs[1], segs[2], segs[3], ".nupkg")
	case len(segs) == 3 && segs[0] == "metadata" && segs[2] == "index.json":
		rt.kind = kindRegistration
		err = rt.setID(segs[1])
	case len(segs) == 3 && segs[0] == "metadata" && strings.HasSuffix(segs[2], ".json"):
		rt.kind = kindRegistrationLeaf
		if err = rt.setID(segs[1]); err == nil {
			err = rt.setVersion(strings.TrimSuffix(segs[2], ".json"))
		}
	case segs[0] == "v2" && rt.level == levelProject:
		err = rt.parseV2(segs[1:])
	default:
		return Route{}, packages.ErrNotFound
	}
	if err != nil {
		return Route{}, err
	}
	return rt, nil
}

func (rt *Route) parseV2(segs []string) error {
	switch {
	case len(segs) == 0 || len(segs) == 1 && segs[0] == "":
		// GET v2 is the service document, PUT v2 (nuget.exe 2.x: "v2/") a push.
		rt.kind = kindV2Service
	case len(segs) == 1 && segs[0] == "$metadata":
		rt.kind = kindV2Metadata
	case len(segs) == 1 && segs[0] == "FindPackagesById()":
		rt.kind = kindV2FindByID
	case len(segs) == 1 && strings.HasPrefix(segs[0], "Packages(") && strings.HasSuffix(segs[0], ")"):
		rt.kind = kindV2Entry
		id, version, ok := parseEntryKey(strings.TrimSuffix(strings.TrimPrefix(segs[0], "Packages("), ")"))
		if !ok {
			return packages.ErrNotFound
		}
		if err := rt.setID(id); err != nil {
			return err
		}
		return rt.setVersion(version)
	case len(segs) == 3 && segs[0] == "download":
		rt.kind = kindV2Download
		if err := rt.setID(segs[1]); err != nil {
			return err
		}
		return rt.setVersion(segs[2])
	default:
		return packages.ErrNotFound
	}
	return nil
}

// parseEntryKey parses OData's "Id='x',Version='y'".
func parseEntryKey(s string) (id, version string, ok bool) {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return "", "", false
	}
	id, ok1 := quotedParam(a, "Id")
	version, ok2 := quotedParam(b, "Version")
	return id, version, ok1 && ok2
}

func quotedParam(s, name string) (string, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(s), name+"=")
	if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", false
	}
	return v[1 : len(v)-1], true
}

// ParseODataID reads FindPackagesById's ?id='x' (quotes optional) and validates it.
func ParseODataID(q url.Values) (string, error) {
	id := q.Get("id")
	if len(id) >= 2 && id[0] == '\'' && id[len(id)-1] == '\'' {
		id = id[1 : len(id)-1]
	}
	return id, ValidateID(id)
}

func (rt *Route) setID(s string) error {
	if err := ValidateID(s); err != nil {
		return err
	}
	rt.ID = s
	return nil
}

func (rt *Route) setVersion(s string) error {
	v, err := ParseVersion(s)
	if err != nil {
		return err
	}
	rt.Version = v
	return nil
}

// setContent checks download/<id>/<version>/<id>.<version>.nupkg: the file name must be the id
// and the version (as the URL spells it, or normalised) in any case.
func (rt *Route) setContent(id, version, file, ext string) error {
	if err := rt.setID(id); err != nil {
		return err
	}
	if err := rt.setVersion(version); err != nil {
		return err
	}
	lf := strings.ToLower(file)
	for _, v := range []string{strings.ToLower(version), rt.Version.Key()} {
		if lf == strings.ToLower(id)+"."+v+ext {
			return nil
		}
	}
	return packages.ErrNotFound
}

// ValidateID checks a package id: NuGet's rule, ASCII letters, digits and "_" in runs joined by
// single "." or "-", at most 100 characters.
func ValidateID(s string) error {
	bad := func(reason string) error { return &packages.ValidationError{Field: "package id", Reason: reason} }
	switch {
	case s == "":
		return bad("must not be empty")
	case len(s) > maxIDLength:
		return bad("is too long")
	}
	sep := true // at the start a separator is not allowed either
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			sep = false
		case (c == '.' || c == '-') && !sep:
			sep = true
		default:
			return bad("may contain only letters, digits and _, joined by single . or -")
		}
	}
	if sep {
		return bad("must not end with . or -")
	}
	return nil
}

// Limits bound what ParseNupkg reads.
type Limits struct {
	// MaxNuspec bounds the .nuspec, compressed and uncompressed.
	MaxNuspec int64
	// MaxEntries bounds the archive's entries.
	MaxEntries int
	// MaxUncompressed bounds the archive's declared total uncompressed size.
	MaxUncompressed uint64
	// MaxRatio bounds one entry's declared compression ratio, for entries over 1 MiB.
	MaxRatio uint64
}

// DefaultLimits are Gatehouse's bounds: a .nuspec of 256 KiB (its JSON copy must stay under
// the core's 1 MiB metadata limit), 20,000 entries, 4 GiB uncompressed and a 1000:1 ratio.
func DefaultLimits() Limits {
	return Limits{MaxNuspec: 256 << 10, MaxEntries: 20000, MaxUncompressed: 4 << 30, MaxRatio: 1000}
}

// Dependency is one <dependency id="…" version="…"/>.
type Dependency struct {
	ID    string `json:"id"`
	Range string `json:"range,omitempty"`
}

// DependencyGroup is one <group targetFramework="…"> (TargetFramework "" for the ungrouped
// form).
type DependencyGroup struct {
	TargetFramework string       `json:"targetFramework,omitempty"`
	Dependencies    []Dependency `json:"dependencies"`
}

// Nuspec is what Gatehouse keeps of a package's manifest. It is stored as the version's
// metadata JSON.
type Nuspec struct {
	ID string `json:"id"`
	// Version is the normalised version as the package spells it; FullVersion adds the build
	// metadata.
	Version          string            `json:"version"`
	FullVersion      string            `json:"fullVersion"`
	Title            string            `json:"title,omitempty"`
	Authors          string            `json:"authors,omitempty"`
	Description      string            `json:"description,omitempty"`
	Summary          string            `json:"summary,omitempty"`
	ReleaseNotes     string            `json:"releaseNotes,omitempty"`
	Tags             string            `json:"tags,omitempty"`
	ProjectURL       string            `json:"projectUrl,omitempty"`
	LicenseURL       string            `json:"licenseUrl,omitempty"`
	IconURL          string            `json:"iconUrl,omitempty"`
	License          string            `json:"license,omitempty"`
	DependencyGroups []DependencyGroup `json:"dependencyGroups,omitempty"`

	version Version
}

// ParsedVersion is the package's version, parsed.
func (n *Nuspec) ParsedVersion() Version { return n.version }

// Field bounds for the manifest.
const (
	maxTextField     = 4000
	maxLongText      = 64 << 10
	maxDependencies  = 1000
	maxRangeLength   = 256
	maxFrameworkName = 128
)

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// ParseNupkg reads a .nupkg (a zip archive of size bytes) and returns its manifest. It refuses,
// as *packages.ValidationError, anything but a zip whose entry names are relative paths without
// "..", backslashes or control characters, with exactly one .nuspec at its root that ParseNuspec
// accepts, and with declared sizes inside lim (zip bombs). Only the .nuspec is decompressed, and
// only up to lim.MaxNuspec bytes.
func ParseNupkg(r io.ReaderAt, size int64, lim Limits) (*Nuspec, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, invalid("package", "is not a valid .nupkg (zip) archive")
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, invalid("package", "has too many entries")
	}
	var nuspec *zip.File
	seen := make(map[string]bool, len(zr.File))
	var total uint64
	for _, f := range zr.File {
		if why := entryName(f.Name); why != "" {
			return nil, invalid("package entry name", why)
		}
		key := strings.ToLower(strings.TrimSuffix(f.Name, "/"))
		if seen[key] {
			return nil, invalid("package", "has two entries with the same name")
		}
		seen[key] = true
		total += f.UncompressedSize64
		if total > lim.MaxUncompressed || total < f.UncompressedSize64 {
			return nil, invalid("package", "declares too much uncompressed data")
		}
		if f.UncompressedSize64 > 1<<20 && (f.CompressedSize64 == 0 || f.UncompressedSize64/f.CompressedSize64 > lim.MaxRatio) {
			return nil, invalid("package", "has an entry compressed beyond any real package (zip bomb)")
		}
		if !strings.Contains(f.Name, "/") && strings.HasSuffix(strings.ToLower(f.Name), ".nuspec") {
			if nuspec != nil {
				return nil, invalid("package", "has more than one .nuspec")
			}
			nuspec = f
		}
	}
	if nuspec == nil {
		return nil, invalid("package", "has no .nuspec at its root")
	}
	if nuspec.UncompressedSize64 > uint64(lim.MaxNuspec) || nuspec.CompressedSize64 > uint64(lim.MaxNuspec) {
		return nil, invalid("nuspec", "is too large")
	}
	rc, err := nuspec.Open()
	if err != nil {
		return nil, invalid("nuspec", "cannot be read")
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, lim.MaxNuspec+1))
	switch {
	case err != nil:
		return nil, invalid("nuspec", "cannot be decompressed")
	case int64(len(b)) > lim.MaxNuspec:
		return nil, invalid("nuspec", "is too large")
	}
	return ParseNuspec(b)
}

// entryName returns why a zip entry name is unsafe, or "".
func entryName(name string) string {
	switch {
	case name == "" || len(name) > 1024:
		return "must be 1 to 1024 bytes"
	case !utf8.ValidString(name):
		return "must be UTF-8"
	case strings.HasPrefix(name, "/"):
		return "must be relative"
	case strings.ContainsAny(name, "\\:"):
		return "must not contain backslashes or colons"
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "must not contain control characters"
		}
	}
	for _, part := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if part == "" || part == "." || part == ".." {
			return "must not contain empty, . or .. components"
		}
	}
	return ""
}

type xmlDependency struct {
	ID      string `xml:"id,attr"`
	Version string `xml:"version,attr"`
}

type xmlNuspec struct {
	XMLName  xml.Name `xml:"package"`
	Metadata struct {
		ID           string `xml:"id"`
		Version      string `xml:"version"`
		Title        string `xml:"title"`
		Authors      string `xml:"authors"`
		Description  string `xml:"description"`
		Summary      string `xml:"summary"`
		ReleaseNotes string `xml:"releaseNotes"`
		Tags         string `xml:"tags"`
		ProjectURL   string `xml:"projectUrl"`
		LicenseURL   string `xml:"licenseUrl"`
		IconURL      string `xml:"iconUrl"`
		License      struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"license"`
		Dependencies struct {
			Dependencies []xmlDependency `xml:"dependency"`
			Groups       []struct {
				TargetFramework string          `xml:"targetFramework,attr"`
				Dependencies    []xmlDependency `xml:"dependency"`
			} `xml:"group"`
		} `xml:"dependencies"`
		PackageTypes struct {
			Types []struct {
				Name string `xml:"name,attr"`
			} `xml:"packageType"`
		} `xml:"packageTypes"`
	} `xml:"metadata"`
}

// ParseNuspec parses a manifest (UTF-8 XML whose root is <package>, in any of NuGet's schema
// namespaces). It requires a valid id and version and bounds every field; anything else is a
// *packages.ValidationError. Symbol packages are refused (Gatehouse has no symbol server).
func ParseNuspec(b []byte) (*Nuspec, error) {
	var x xmlNuspec
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return input, nil
		}
		return nil, errors.New("unsupported charset")
	}
	if err := d.Decode(&x); err != nil {
		return nil, invalid("nuspec", "is not valid XML with a <package> root")
	}
	m := &x.Metadata
	if err := ValidateID(m.ID); err != nil {
		return nil, err
	}
	v, err := ParseVersion(strings.TrimSpace(m.Version))
	if err != nil {
		return nil, err
	}
	for _, t := range m.PackageTypes.Types {
		if strings.EqualFold(t.Name, "SymbolsPackage") {
			return nil, invalid("package", "is a symbol package, which this registry does not store")
		}
	}
	n := &Nuspec{ID: m.ID, Version: v.Normalized(), FullVersion: v.Full(), version: v}
	texts := []struct {
		dst   *string
		src   string
		field string
		max   int
	}{
		{&n.Title, m.Title, "title", maxTextField},
		{&n.Authors, m.Authors, "authors", maxTextField},
		{&n.Description, m.Description, "description", maxLongText},
		{&n.Summary, m.Summary, "summary", maxLongText},
		{&n.ReleaseNotes, m.ReleaseNotes, "releaseNotes", maxLongText},
		{&n.Tags, m.Tags, "tags", maxTextField},
	}
	for _, t := range texts {
		s := strings.TrimSpace(t.src)
		if len(s) > t.max {
			return nil, invalid(t.field, "is too long")
		}
		*t.dst = s
	}
	n.ProjectURL, n.LicenseURL, n.IconURL = webURL(m.ProjectURL), webURL(m.LicenseURL), webURL(m.IconURL)
	if lic := strings.TrimSpace(m.License.Value); m.License.Type == "expression" && len(lic) <= maxTextField {
		n.License = lic
	}
	count := 0
	add := func(tfm string, deps []xmlDependency) error {
		if len(tfm) > maxFrameworkName || !safeToken(tfm) {
			return invalid("dependency group", "has an invalid targetFramework")
		}
		g := DependencyGroup{TargetFramework: tfm, Dependencies: []Dependency{}}
		for _, dep := range deps {
			count++
			if count > maxDependencies {
				return invalid("dependencies", "are too many")
			}
			if err := ValidateID(dep.ID); err != nil {
				return invalid("dependency id", "is not a valid package id")
			}
			rng := strings.TrimSpace(dep.Version)
			if len(rng) > maxRangeLength || !validRange(rng) {
				return invalid("dependency version", "is not a version range")
			}
			g.Dependencies = append(g.Dependencies, Dependency{ID: dep.ID, Range: rng})
		}
		n.DependencyGroups = append(n.DependencyGroups, g)
		return nil
	}
	if len(m.Dependencies.Dependencies) > 0 {
		if err := add("", m.Dependencies.Dependencies); err != nil {
			return nil, err
		}
	}
	for _, g := range m.Dependencies.Groups {
		if err := add(strings.TrimSpace(g.TargetFramework), g.Dependencies); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// webURL keeps an http(s) URL of sane length and drops anything else (clients open these).
func webURL(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2048 || !safeToken(s) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// safeToken reports whether s has no whitespace, control characters, quotes or angle brackets.
func safeToken(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '"' || r == '<' || r == '>' || r == '\\' || r == '`' {
			return false
		}
	}
	return utf8.ValidString(s)
}

// validRange accepts a NuGet version range's characters: versions, brackets, commas and spaces
// ("1.0", "[1.0,2.0)", "(, 3.0]", "1.*"). Clients parse the range itself.
func validRange(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			strings.IndexByte(".-+*,[]() ", c) >= 0) {
			return false
		}
	}
	return true
}

// Multipart bounds for LocatePackage.
const (
	maxPartHeaders = 8 << 10
	maxParts       = 8
)

// LocatePackage finds the pushed .nupkg in a multipart/form-data body of size bytes: the first
// part named "package" or carrying a filename (nuget.exe and dotnet send one such part). It
// returns the part's offset and length. Lines may end in CRLF or, as Mono's nuget.exe 2.x ends
// the last one, in a bare LF. Anything else is a *packages.ValidationError.
func LocatePackage(r io.ReaderAt, size int64, contentType string) (off, n int64, err error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" || len(params["boundary"]) > 70 {
		return 0, 0, invalid("body", "must be multipart/form-data with the package")
	}
	bad := func() (int64, int64, error) { return 0, 0, invalid("body", "is not a valid multipart/form-data body") }
	dash := []byte("--" + params["boundary"])
	// The first delimiter starts the body or a line after a preamble.
	pos, err := indexFrom(r, 0, size, dash)
	if err != nil || pos < 0 || (pos > 0 && !endsLine(r, pos)) {
		return bad()
	}
	pos += int64(len(dash))
	for range maxParts {
		head := make([]byte, min(int64(maxPartHeaders), size-pos))
		if _, err := r.ReadAt(head, pos); err != nil && err != io.EOF {
			return bad()
		}
		if bytes.HasPrefix(head, []byte("--")) {
			break // the closing delimiter
		}
		// The rest of the delimiter line, then headers up to an empty line.
		lines := 0
		var disposition string
		i := 0
		for {
			j := bytes.IndexByte(head[i:], '\n')
			if j < 0 {
				return bad()
			}
			line := strings.TrimRight(string(head[i:i+j]), "\r")
			i += j + 1
			if lines > 0 && line == "" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Disposition") {
				disposition = strings.TrimSpace(v)
			}
			lines++
		}
		start := pos + int64(i)
		end, err := indexFrom(r, start, size, append([]byte("\n"), dash...))
		if err != nil || end < 0 {
			return bad()
		}
		next := end + 1 + int64(len(dash))
		if end > start && endsCR(r, end) {
			end--
		}
		if _, p, err := mime.ParseMediaType(disposition); err == nil && (p["name"] == "package" || p["filename"] != "") {
			if end <= start {
				return 0, 0, invalid("package", "is empty")
			}
			return start, end - start, nil
		}
		pos = next
	}
	return 0, 0, invalid("body", "has no package file part")
}

func endsLine(r io.ReaderAt, pos int64) bool {
	b := make([]byte, 1)
	_, err := r.ReadAt(b, pos-1)
	return err == nil && b[0] == '\n'
}

func endsCR(r io.ReaderAt, pos int64) bool {
	b := make([]byte, 1)
	_, err := r.ReadAt(b, pos-1)
	return err == nil && b[0] == '\r'
}

// indexFrom returns the offset of the first pat at or after start, or -1.
func indexFrom(r io.ReaderAt, start, size int64, pat []byte) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+len(pat))
	for off := start; off < size; off += chunk {
		n := min(int64(len(buf)), size-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil && err != io.EOF {
			return -1, err
		}
		if i := bytes.Index(buf[:n], pat); i >= 0 {
			return off + int64(i), nil
		}
	}
	return -1, nil
}
