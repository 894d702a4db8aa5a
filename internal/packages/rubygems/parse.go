package rubygems

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The pure, bounded parsers of the RubyGems format: request paths, gem names, versions,
// platforms and file names (gem.go reads a pushed .gem). Every error is packages.ErrNotFound (no
// such route), packages.ErrTooLarge, or a *packages.ValidationError whose text never quotes
// input.

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

const (
	// MaxNameLength bounds gem names (GitLab's package name column).
	MaxNameLength = 255
	// maxPathLength bounds the escaped request path the parser looks at.
	maxPathLength = 4096
	// maxFilenameDashes bounds the candidate gem names read from a file name.
	maxFilenameDashes = 32
	// MaxDependencyNames bounds the names one dependency API request may ask for.
	MaxDependencyNames = 200
)

// ValidateName checks a gem name as RubyGems does (Gem::Specification::VALID_NAME_PATTERN):
// letters, digits and . _ -, starting with a letter or digit, without "..".
func ValidateName(s string) error {
	if s == "" || len(s) > MaxNameLength {
		return invalid("gem name", "must be 1 to 255 characters")
	}
	if !isAlnum(s[0]) || strings.Contains(s, "..") {
		return invalid("gem name", "must start with a letter or digit and must not contain ..")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return invalid("gem name", "may contain only letters, digits and . _ -")
		}
	}
	return nil
}

// versionRE is Gem::Version::ANCHORED_VERSION_PATTERN.
var versionRE = regexp.MustCompile(`^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// ValidateVersion checks a gem version (Gem::Version's pattern).
func ValidateVersion(v string) error {
	if v == "" || len(v) > packages.MaxVersionLength {
		return invalid("version", "must be 1 to 255 characters")
	}
	if !versionRE.MatchString(v) {
		return invalid("version", "must be a RubyGems version")
	}
	return nil
}

// Prerelease reports whether a (valid) version is a prerelease: it holds a letter, as
// Gem::Version#prerelease? says.
func Prerelease(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			return true
		}
	}
	return false
}

// Ruby is the platform of pure-Ruby gems.
const Ruby = "ruby"

// ValidatePlatform checks a platform ("ruby", "x86_64-linux", "java"): letters, digits and
// _ . -, not starting with . or -, without "..".
func ValidatePlatform(p string) error {
	if p == "" || len(p) > 64 {
		return invalid("platform", "must be 1 to 64 characters")
	}
	if !isAlnum(p[0]) || strings.Contains(p, "..") {
		return invalid("platform", "must start with a letter or digit and must not contain ..")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return invalid("platform", "may contain only letters, digits and . _ -")
		}
	}
	return nil
}

// FullName is a gem's full name, as Gem::Specification#full_name: name-version, then
// -platform unless the platform is ruby.
func FullName(name, version, platform string) string {
	if platform == "" || platform == Ruby {
		return name + "-" + version
	}
	return name + "-" + version + "-" + platform
}

// ValidateFilename checks a .gem file name (or, with suffix ".gemspec.rz", a quick index
// file name): a full name's characters, then the suffix.
func ValidateFilename(f, suffix string) error {
	if f == "" || len(f) > packages.MaxFilenameLength {
		return invalid("file name", "must be 1 to 255 characters")
	}
	stem, ok := strings.CutSuffix(f, suffix)
	if !ok || stem == "" {
		return invalid("file name", "must end in "+suffix)
	}
	if !isAlnum(stem[0]) || !isAlnum(stem[len(stem)-1]) || strings.Contains(f, "..") || !strings.Contains(stem, "-") {
		return invalid("file name", "must be a gem's full name")
	}
	for i := 0; i < len(stem); i++ {
		if c := stem[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return invalid("file name", "may contain only letters, digits and . _ -")
		}
	}
	return nil
}

// FilenameGems are the gem names a (valid) file name can belong to: its prefixes before each
// "-" ("my-gem-1.0.gem" → my, my-gem). A pushed gem's file name is its full name, so downloads
// find the file by these names alone.
func FilenameGems(filename string) []string {
	var out []string
	for i := 1; i < len(filename) && len(out) < maxFilenameDashes; i++ {
		if filename[i] == '-' {
			out = append(out, filename[:i])
		}
	}
	return out
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// kind is an endpoint of GitLab's RubyGems API.
type kind int

const (
	kindPush         kind = iota + 1 // api/v1/gems (POST): gem push
	kindDependencies                 // api/v1/dependencies?gems=a,b
	kindSpecs                        // specs.4.8.gz
	kindLatestSpecs                  // latest_specs.4.8.gz
	kindPrerelease                   // prerelease_specs.4.8.gz
	kindQuickSpec                    // quick/Marshal.4.8/:full_name.gemspec.rz
	kindGem                          // gems/:full_name.gem
)

func (k kind) String() string {
	return [...]string{"", "push", "dependencies", "specs", "latest specs", "prerelease specs", "quick spec", "gem"}[k]
}

// Route is a parsed RubyGems request path. Every field is unescaped and validated.
type Route struct {
	kind kind
	// Ref is the project's :id: a numeric id or a full path.
	Ref string
	// Filename is the .gem file a gem or quick spec request is for ("a-1.0.gem").
	Filename string
}

const prefix = "/api/v4/projects/"

// ParsePath parses an escaped request path (r.URL.EscapedPath()):
//
//	/api/v4/projects/:id/packages/rubygems/api/v1/gems                       push
//	/api/v4/projects/:id/packages/rubygems/api/v1/dependencies               dependency API
//	/api/v4/projects/:id/packages/rubygems/specs.4.8.gz                      all versions
//	/api/v4/projects/:id/packages/rubygems/latest_specs.4.8.gz               latest versions
//	/api/v4/projects/:id/packages/rubygems/prerelease_specs.4.8.gz           prereleases
//	/api/v4/projects/:id/packages/rubygems/quick/Marshal.4.8/:name.gemspec.rz one gemspec
//	/api/v4/projects/:id/packages/rubygems/gems/:name.gem                    a gem
//
// A path of another shape is packages.ErrNotFound; a bad file name is a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength || !strings.HasPrefix(escaped, prefix) {
		return Route{}, packages.ErrNotFound
	}
	id, rest, ok := strings.Cut(strings.TrimPrefix(escaped, prefix), "/")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	rest, ok = strings.CutPrefix(rest, "packages/rubygems/")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	ref, err := url.PathUnescape(id)
	if err != nil || ref == "" {
		return Route{}, packages.ErrNotFound
	}
	rt := Route{Ref: ref}
	switch rest {
	case "api/v1/gems":
		rt.kind = kindPush
	case "api/v1/dependencies":
		rt.kind = kindDependencies
	case "specs.4.8.gz":
		rt.kind = kindSpecs
	case "latest_specs.4.8.gz":
		rt.kind = kindLatestSpecs
	case "prerelease_specs.4.8.gz":
		rt.kind = kindPrerelease
	default:
		var seg, suffix string
		if seg, ok = strings.CutPrefix(rest, "quick/Marshal.4.8/"); ok {
			rt.kind, suffix = kindQuickSpec, ".gemspec.rz"
		} else if seg, ok = strings.CutPrefix(rest, "gems/"); ok {
			rt.kind, suffix = kindGem, ".gem"
		} else {
			return Route{}, packages.ErrNotFound
		}
		if strings.Contains(seg, "/") {
			return Route{}, packages.ErrNotFound
		}
		name, err := url.PathUnescape(seg)
		if err != nil {
			return Route{}, invalid("file name", "is not a valid URL path segment")
		}
		if err := ValidateFilename(name, suffix); err != nil {
			return Route{}, err
		}
		rt.Filename = strings.TrimSuffix(name, suffix) + ".gem"
	}
	return rt, nil
}

// ParseDependencyNames reads the dependency API's gems= query value: comma-separated gem
// names. Names that are not valid gem names are left out (no gem can have them), and at most
// MaxDependencyNames are read.
func ParseDependencyNames(q string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(q, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] || ValidateName(n) != nil {
			continue
		}
		if len(out) == MaxDependencyNames {
			return nil, invalid("gems", "names too many gems")
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}
