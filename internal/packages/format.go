package packages

import (
	"fmt"
	"sort"
	"strings"
)

// The formats table: one entry per format, holding every rule the core applies for it. Adding a
// format starts here (docs/adding-a-package-format.md).

const (
	kiB = int64(1) << 10
	miB = kiB << 10
	giB = miB << 10
)

// formatSpec is the core's rules for one format.
type formatSpec struct {
	// maxFileSize is the default limit for one uploaded file (GitLab's plan limits).
	maxFileSize int64
	// duplicates decides what re-publishing version/filename does.
	duplicates func(version, filename string) DuplicatePolicy
	// normalize maps a name to its lookup key: two names with the same key are one package.
	normalize func(name string) string
}

func always(p DuplicatePolicy) func(string, string) DuplicatePolicy {
	return func(string, string) DuplicatePolicy { return p }
}

func identity(s string) string { return s }

var formats = map[Format]formatSpec{
	// Generic: a file may be uploaded again and replaces the old one.
	Generic: {maxFileSize: 5 * giB, duplicates: always(ReplaceFile), normalize: identity},
	// npm: a published version is immutable (the registry answers 403/409 to a re-publish).
	NPM: {maxFileSize: 500 * miB, duplicates: always(RefuseVersion), normalize: identity},
	// PyPI: a version gains files (sdist, wheels) but a filename is never re-uploaded; names
	// compare as PEP 503 normalises them.
	PyPI: {maxFileSize: 3 * giB, duplicates: always(RefuseFile), normalize: normalizePyPI},
	// Maven: SNAPSHOT versions and maven-metadata.xml (and its checksums) are re-deployed;
	// release files are not.
	Maven: {maxFileSize: 3 * giB, duplicates: mavenDuplicates, normalize: identity},
	// Go module proxy: a module version's files (.info, .mod, .zip) are immutable.
	GoProxy: {maxFileSize: 100 * miB, duplicates: always(RefuseFile), normalize: identity},
	// NuGet: a version is immutable; ids compare case-insensitively.
	NuGet: {maxFileSize: 500 * miB, duplicates: always(RefuseVersion), normalize: strings.ToLower},
	// Debian: a version gains one .deb per architecture, each filename only once (names are
	// lower case by policy).
	Debian: {maxFileSize: 3 * giB, duplicates: always(RefuseFile), normalize: identity},
	// Helm: a chart version is uploaded again at will and the latest upload to a channel wins,
	// as GitLab allows (docs/helm.md); GitLab's limit is 5 MB.
	Helm: {maxFileSize: 5 * miB, duplicates: always(ReplaceFile), normalize: identity},
	// Composer: a tag's version is immutable; a branch's (dev-main, 1.x-dev) is rebuilt from the
	// branch's new head and replaces the old archive. Names compare in lower case.
	Composer: {maxFileSize: 300 * miB, duplicates: composerDuplicates, normalize: strings.ToLower},
	// Terraform modules: a version is immutable; "name/system" compares case-insensitively, as
	// module registry addresses do.
	Terraform: {maxFileSize: 1 * giB, duplicates: always(RefuseVersion), normalize: strings.ToLower},
	// RubyGems: a version gains one .gem per platform, each pushed once; gem names are
	// case-sensitive (docs/rubygems.md).
	RubyGems: {maxFileSize: 3 * giB, duplicates: always(RefuseFile), normalize: identity},
}

// Formats lists the known formats, sorted.
func Formats() []Format {
	out := make([]Format, 0, len(formats))
	for f := range formats {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// DefaultMaxFileSize is format f's default upload limit in bytes, or 0 for an unknown format.
func DefaultMaxFileSize(f Format) int64 { return formats[f].maxFileSize }

// NormalizeName returns the lookup key of name in format f (name itself for unknown formats).
func NormalizeName(f Format, name string) string {
	if spec, ok := formats[f]; ok {
		return spec.normalize(name)
	}
	return name
}

// Duplicates returns format f's policy for publishing filename into version.
func Duplicates(f Format, version, filename string) DuplicatePolicy {
	if spec, ok := formats[f]; ok {
		return spec.duplicates(version, filename)
	}
	return RefuseVersion
}

// normalizePyPI implements PEP 503: runs of -, _ and . become one -, and letters are lower case.
func normalizePyPI(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

func mavenDuplicates(version, filename string) DuplicatePolicy {
	if strings.HasSuffix(version, "-SNAPSHOT") || strings.HasPrefix(filename, "maven-metadata.xml") {
		return ReplaceFile
	}
	return RefuseFile
}

func composerDuplicates(version, _ string) DuplicatePolicy {
	if strings.HasPrefix(version, "dev-") || strings.HasSuffix(version, "-dev") {
		return ReplaceFile
	}
	return RefuseVersion
}

// limits resolves the per-format upload limits from configured overrides (by format name).
func limits(overrides map[string]int64) (map[Format]int64, error) {
	out := make(map[Format]int64, len(formats))
	for f, spec := range formats {
		out[f] = spec.maxFileSize
	}
	for name, n := range overrides {
		f := Format(name)
		if _, ok := formats[f]; !ok {
			return nil, fmt.Errorf("packages: max file size for unknown format %q (known: %v)", name, Formats())
		}
		if n <= 0 {
			return nil, fmt.Errorf("packages: max file size for %s must be positive", name)
		}
		out[f] = n
	}
	return out, nil
}
