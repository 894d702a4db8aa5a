package terraform

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"net/url"
	"path"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The pure, bounded parsers of the Terraform module registry: request paths (names, systems,
// namespaces and versions) and the uploaded module archive. Every error is packages.ErrNotFound
// (no such route) or a *packages.ValidationError whose text never quotes input.

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// MaxNameLength bounds a module name and a module system (the module registry protocol's 64).
const MaxNameLength = 64

// maxNamespaceLength is GitLab's limit on a group path.
const maxNamespaceLength = 255

// maxVersionLength bounds a version string.
const maxVersionLength = 128

type level int

const (
	levelProject level = iota
	levelInstance
)

type kind int

const (
	kindUpload kind = iota + 1
	kindVersions
	kindDownload
	kindDownloadLatest
	kindFile
)

// Route is a parsed request path.
type Route struct {
	level level
	kind  kind
	// Ref is the project's :id (project level) or the module namespace, the top-level group's
	// path (instance level).
	Ref string
	// Name and System are the module's; Version is empty for versions and download-latest.
	Name, System, Version string
}

// Package is the package name the module is stored under: "name/system", as GitLab names it.
func (rt Route) Package() string { return rt.Name + "/" + rt.System }

// Filename is the stored archive's name (GitLab's "<name>-<system>-<version>.tgz").
func (rt Route) Filename() string { return rt.Name + "-" + rt.System + "-" + rt.Version + ".tgz" }

// Prefixes of the two levels; docs/terraform.md lists the endpoints.
const (
	projectPrefix  = "/api/v4/projects/"
	projectInfix   = "/packages/terraform/modules/"
	instancePrefix = "/api/v4/packages/terraform/modules/v1/"
)

// maxSegments bounds how many path segments are looked at.
const maxSegments = 8

// ParsePath parses an escaped request path:
//
//	/api/v4/projects/:id/packages/terraform/modules/:name/:system/:version/file       upload
//	/api/v4/packages/terraform/modules/v1/:namespace/:name/:system/versions           versions
//	/api/v4/packages/terraform/modules/v1/:namespace/:name/:system/download           latest
//	/api/v4/packages/terraform/modules/v1/:namespace/:name/:system/:version/download  download
//	/api/v4/packages/terraform/modules/v1/:namespace/:name/:system/:version/file      archive
//
// A path of another shape is packages.ErrNotFound; a bad segment a *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	var rt Route
	var rest []string
	switch {
	case strings.HasPrefix(escaped, instancePrefix):
		rt.level = levelInstance
		rest = strings.SplitN(escaped[len(instancePrefix):], "/", maxSegments)
		if len(rest) < 4 {
			return Route{}, packages.ErrNotFound
		}
		ns, err := unescape(rest[0])
		if err != nil {
			return Route{}, err
		}
		if !ValidNamespace(ns) {
			return Route{}, invalid("namespace", "must be a top-level group path")
		}
		rt.Ref, rest = ns, rest[1:]
		switch {
		case len(rest) == 3 && rest[2] == "versions":
			rt.kind = kindVersions
		case len(rest) == 3 && rest[2] == "download":
			rt.kind = kindDownloadLatest
		case len(rest) == 4 && rest[3] == "download":
			rt.kind = kindDownload
		case len(rest) == 4 && rest[3] == "file":
			rt.kind = kindFile
		default:
			return Route{}, packages.ErrNotFound
		}
	case strings.HasPrefix(escaped, projectPrefix):
		id, after, ok := strings.Cut(escaped[len(projectPrefix):], "/")
		if !ok || id == "" || !strings.HasPrefix("/"+after, projectInfix) {
			return Route{}, packages.ErrNotFound
		}
		ref, err := url.PathUnescape(id)
		if err != nil || ref == "" {
			return Route{}, packages.ErrNotFound
		}
		rt.level, rt.kind, rt.Ref = levelProject, kindUpload, ref
		rest = strings.SplitN(("/" + after)[len(projectInfix):], "/", maxSegments)
		if len(rest) != 4 || rest[3] != "file" {
			return Route{}, packages.ErrNotFound
		}
	default:
		return Route{}, packages.ErrNotFound
	}
	var err error
	if rt.Name, err = segment(rest[0], "module_name", ValidName); err != nil {
		return Route{}, err
	}
	if rt.System, err = segment(rest[1], "module_system", ValidName); err != nil {
		return Route{}, err
	}
	if rt.kind == kindUpload || rt.kind == kindDownload || rt.kind == kindFile {
		if rt.Version, err = segment(rest[2], "module_version", ValidVersion); err != nil {
			return Route{}, err
		}
	}
	return rt, nil
}

func unescape(s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", invalid("path", "has a malformed escape")
	}
	return v, nil
}

func segment(s, field string, valid func(string) bool) (string, error) {
	v, err := unescape(s)
	if err != nil {
		return "", err
	}
	if !valid(v) {
		switch field {
		case "module_version":
			return "", invalid(field, "must be a semantic version (semver.org) without a leading v")
		}
		return "", invalid(field, "must be 1 to 64 letters, digits, '-' or '_', starting and ending with a letter or digit")
	}
	return v, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ValidName reports whether s is a module name or system as the module registry protocol
// allows: letters, digits, '-' and '_', at most 64, starting and ending with a letter or digit.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLength || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// ValidNamespace reports whether s can be a top-level group path: letters, digits, '_', '-' and
// '.', starting with a letter, digit or '_', not ending in '.', and never "..".
func ValidNamespace(s string) bool {
	if s == "" || len(s) > maxNamespaceLength || !(isAlnum(s[0]) || s[0] == '_') || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// ValidVersion reports whether v is a full semantic version (MAJOR.MINOR.PATCH, optional
// pre-release and build) without a leading "v", as GitLab requires of module versions.
func ValidVersion(v string) bool {
	if v == "" || len(v) > maxVersionLength || strings.Count(strings.SplitN(strings.SplitN(v, "+", 2)[0], "-", 2)[0], ".") != 2 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != '.' && c != '-' && c != '+' {
			return false
		}
	}
	return semver.IsValid("v" + v)
}

// Compare orders two valid versions by semantic-version precedence (build metadata ignored).
func Compare(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// Latest returns the highest release of versions, or the highest pre-release when there is no
// release ("" for none): what `download` without a version serves, as GitLab picks it.
func Latest(versions []string) string {
	best, bestPre := "", ""
	for _, v := range versions {
		if semver.Prerelease("v"+v) == "" {
			if best == "" || Compare(v, best) > 0 {
				best = v
			}
		} else if bestPre == "" || Compare(v, bestPre) > 0 {
			bestPre = v
		}
	}
	if best != "" {
		return best
	}
	return bestPre
}

// Limits bound the archive check.
type Limits struct {
	// MaxUnpacked is the most the archive may unpack to; MaxEntries the most entries it may hold.
	MaxUnpacked int64
	MaxEntries  int
}

// DefaultLimits are the archive limits for a module archive of at most maxArchive bytes.
func DefaultLimits(maxArchive int64) Limits {
	return Limits{MaxUnpacked: max(maxArchive*20, 64<<20), MaxEntries: 100000}
}

var errTooMuch = errors.New("archive unpacks to more than the limit")

// boundedReader fails once more than left bytes were read, so a gzip bomb stops early.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Exactly at the limit is fine if the stream ends here.
		var one [1]byte
		if n, err := b.r.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, errTooMuch
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// CheckArchive verifies that r is a gzip-compressed tar archive, as `tofu init` unpacks a
// module: intact (the gzip checksum included), within lim, holding at least one regular file,
// and with no entry whose path is absolute or leaves the module directory, nor a link that
// points outside it. It reads r to its end.
func CheckArchive(r io.Reader, lim Limits) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return invalid("file", "is not a gzip-compressed tar archive (.tgz)")
	}
	gz.Multistream(false)
	br := &boundedReader{r: gz, left: lim.MaxUnpacked}
	tr := tar.NewReader(br)
	files, entries := 0, 0
	fail := func(err error) error {
		if errors.Is(err, errTooMuch) {
			return invalid("file", "unpacks to more than the limit")
		}
		return invalid("file", "is not a valid tar archive")
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if entries++; entries > lim.MaxEntries {
			return invalid("file", "has too many entries")
		}
		if !insideModule(h.Name) {
			return invalid("file", "has an entry outside the module directory")
		}
		switch h.Typeflag {
		case tar.TypeReg:
			files++
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return invalid("file", "has a device or pipe entry")
		case tar.TypeSymlink, tar.TypeLink:
			target := h.Linkname
			if h.Typeflag == tar.TypeSymlink && !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(h.Name), target)
			}
			if !insideModule(target) {
				return invalid("file", "has a link that points outside the module directory")
			}
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fail(err)
		}
	}
	// Drain what follows the tar's end marker, so gzip checks its CRC and length.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fail(err)
	}
	if files == 0 {
		return invalid("file", "holds no files")
	}
	return nil
}

// insideModule reports whether the archive path p stays inside the directory it unpacks to.
func insideModule(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	clean := path.Clean(p)
	return clean != ".." && !strings.HasPrefix(clean, "../")
}
