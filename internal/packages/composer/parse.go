package composer

import (
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Bounds on what the parser looks at.
const (
	// maxPathLength bounds the escaped request path.
	maxPathLength = 2048
	// maxNameLength bounds a package name (vendor/package), GitLab's limit on package names.
	maxNameLength = 255
	// maxVersionLength bounds a version built from a tag or branch.
	maxVersionLength = 128
	// MaxManifestSize bounds composer.json: it becomes the version's metadata.
	MaxManifestSize = 512 << 10
	// maxFormSize bounds the publish form (tag= or branch=).
	maxFormSize = 8 << 10
)

type level int

const (
	levelProject level = iota + 1
	levelGroup
)

type kind int

const (
	kindPublish  kind = iota + 1 // POST the project prefix
	kindArchive                  // archives/<vendor>/<package>.zip?sha=…
	kindPackages                 // packages.json
	kindMetadata                 // p2/<vendor>/<package>.json and p2/<vendor>/<package>~dev.json
)

// Route is a parsed Composer path. Every field is unescaped and validated.
type Route struct {
	level level
	kind  kind
	// Ref is the project's or group's :id (numeric or full path), unescaped.
	Ref string
	// Prefix is the escaped path up to and including ".../composer" (no trailing slash).
	Prefix string
	// Name is the package name (vendor/package, lower case) for archives and metadata.
	Name string
	// Dev marks p2/<name>~dev.json: the branch versions, not the tagged ones.
	Dev bool
}

// nameRE is Composer's rule for package names (its JSON schema), lower case only.
var nameRE = regexp.MustCompile(`^[a-z0-9]([_.-]?[a-z0-9]+)*/[a-z0-9](([_.]?|-{0,2})[a-z0-9]+)*$`)

// ValidName reports whether name is a Composer package name: vendor/package in lower case, as
// Composer's schema requires, at most maxNameLength bytes.
func ValidName(name string) bool {
	return len(name) <= maxNameLength && nameRE.MatchString(name)
}

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()). A path of another shape is
// packages.ErrNotFound; a package name that breaks Composer's rule is a
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
		ref, rest, ok = strings.Cut(rest, "/packages/composer")
	} else if rest, ok = strings.CutPrefix(escaped, "/api/v4/group/"); ok {
		rt.level = levelGroup
		ref, rest, ok = strings.Cut(rest, "/-/packages/composer")
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
			return Route{}, invalid("path", "is not a valid URL path")
		}
	}
	switch {
	case rest == "" && rt.level == levelProject:
		rt.kind = kindPublish
		return rt, nil
	case len(segs) == 1 && segs[0] == "packages.json" && rt.level == levelGroup:
		rt.kind = kindPackages
		return rt, nil
	case len(segs) == 3 && segs[0] == "archives" && strings.HasSuffix(segs[2], ".zip") && rt.level == levelProject:
		rt.kind = kindArchive
		rt.Name = segs[1] + "/" + strings.TrimSuffix(segs[2], ".zip")
	case len(segs) == 3 && segs[0] == "p2" && strings.HasSuffix(segs[2], ".json") && rt.level == levelGroup:
		rt.kind = kindMetadata
		base := strings.TrimSuffix(segs[2], ".json")
		base, rt.Dev = strings.CutSuffix(base, "~dev")
		rt.Name = segs[1] + "/" + base
	default:
		return Route{}, packages.ErrNotFound
	}
	if !ValidName(rt.Name) {
		return Route{}, invalid("package_name", "must be vendor/package in lower case (Composer's naming rule)")
	}
	return rt, nil
}

// ValidSHA reports whether s is a full Git commit id (SHA-1 or SHA-256), as archive URLs carry.
func ValidSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Source is what a publish builds from: a tag or a branch of the project's repository, and the
// Composer version it becomes.
type Source struct {
	// Tag is set for a tag, false for a branch; Ref is the tag's or branch's name.
	Tag     bool
	Ref     string
	Version string
}

// tagVersionRE is a tag that names a Composer version (an optional leading v dropped): numbers
// and then an optional suffix such as -beta.1 or -RC2 (Composer's VersionParser ignores tags
// that are not versions, so Gatehouse refuses them rather than store one no client resolves).
var tagVersionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,3}([-+]?[A-Za-z][A-Za-z0-9]*(\.?[0-9]+)*)?$`)

// branchRE is a branch whose name can be part of a version and of the archive's file name (no
// slash, quote or other character the core refuses in a file name).
var branchRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// branchNumberRE is a branch named like a version line: 1.x, 2.1 (GitLab's rule for
// their -dev versions).
var branchNumberRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)*)(\.x)?$`)

// ParsePublish reads the publish form's values (tag= or branch=, exactly one) into the Source
// it names, as GitLab names versions: tag v1.2.0 is 1.2.0; branch 1.x is 1.x-dev, branch 2.1 is
// 2.1.x-dev, any other branch b is dev-b. A ref that is no valid Git ref name, a tag that is no
// version, or a branch of other characters than letters, digits, '.', '_' and '-' (its name
// becomes part of the version and of a file name) is a *packages.ValidationError.
func ParsePublish(tag, branch string) (Source, error) {
	switch {
	case tag != "" && branch != "":
		return Source{}, invalid("tag", "and branch cannot both be given")
	case tag != "":
		if !gitexec.ValidRef(tag) || len(tag) > maxVersionLength {
			return Source{}, invalid("tag", "is not a valid tag name")
		}
		v := strings.TrimPrefix(tag, "v")
		if !tagVersionRE.MatchString(v) {
			return Source{}, invalid("tag", "must name a version, such as v1.0.0 or 1.0.0-beta.1")
		}
		return Source{Tag: true, Ref: tag, Version: v}, nil
	case branch != "":
		if !gitexec.ValidRef(branch) || len(branch) > maxVersionLength || !branchRE.MatchString(branch) {
			return Source{}, invalid("branch", "must be a branch name of letters, digits, '.', '_' and '-'")
		}
		if m := branchNumberRE.FindStringSubmatch(branch); m != nil {
			return Source{Ref: branch, Version: m[1] + ".x-dev"}, nil
		}
		return Source{Ref: branch, Version: "dev-" + branch}, nil
	}
	return Source{}, invalid("tag", "or branch is required")
}

// Manifest is a parsed composer.json: its name, and the document itself (an object), which is
// served back in the package's metadata.
type Manifest struct {
	Name string
	JSON map[string]json.RawMessage
}

// ParseManifest reads composer.json from r, at most limit bytes. It must be one JSON object
// whose "name" is a valid Composer package name; anything else is a *packages.ValidationError
// (ErrTooLarge past the limit).
func ParseManifest(r io.Reader, limit int64) (Manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return Manifest{}, invalid("composer.json", "could not be read")
	}
	if int64(len(b)) > limit {
		return Manifest{}, packages.ErrTooLarge
	}
	var doc map[string]json.RawMessage
	if !json.Valid(b) || json.Unmarshal(b, &doc) != nil || doc == nil {
		return Manifest{}, invalid("composer.json", "must be a JSON object")
	}
	var name string
	if raw, ok := doc["name"]; !ok || json.Unmarshal(raw, &name) != nil {
		return Manifest{}, invalid("composer.json", `must have a "name" (vendor/package)`)
	}
	if !ValidName(name) {
		return Manifest{}, invalid("composer.json", `"name" must be vendor/package in lower case (Composer's naming rule)`)
	}
	// Composer takes the version from the tag or branch, never from the file (as GitLab does).
	delete(doc, "version")
	return Manifest{Name: name, JSON: doc}, nil
}
