// Package debian serves Debian (apt) repositories as GitLab does (docs/debian.md):
//
//	project /api/v4/projects/:id/packages/debian/…        upload, dists, pool
//	group   /api/v4/groups/:id/-/packages/debian/…         dists, pool (read)
//	        /api/v4/projects/:id/debian_distributions…     distributions API
//	        /api/v4/groups/:id/-/debian_distributions…
//
// Under each packages prefix: PUT <file>.deb?distribution=&component= uploads (project only);
// dists/<codename>/Release, InRelease and Release.gpg are the distribution's Release file,
// clear-signed and detached-signed with the distribution's OpenPGP key;
// dists/<codename>/<component>/binary-<arch>/Packages is the index; the pool serves .deb files
// at pool/<codename>/<letter>/<name>/<version>/<file> (project) or
// pool/<codename>/<project_id>/<letter>/<name>/<version>/<file> (group).
//
// A group distribution lists the packages of its projects' distributions of the same codename,
// but only names that a single project of the group holds: a copy planted in another project
// (same name, higher version) makes the name unusable at the group level, never served in place
// of the one the client meant.
//
// Credentials: basic auth, with a deploy token's own username (GitLab's rule for Debian, which
// apt's auth.conf sends), or any username with a personal access token.
package debian

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// maxPathLength bounds the escaped request path the parser looks at.
const maxPathLength = 2048

type level int

const (
	levelProject level = iota + 1
	levelGroup
)

type kind int

const (
	kindUpload          kind = iota + 1 // PUT <file>.deb
	kindRelease                         // dists/<codename>/Release
	kindInRelease                       // dists/<codename>/InRelease
	kindReleaseGPG                      // dists/<codename>/Release.gpg
	kindPackages                        // dists/<codename>/<component>/binary-<arch>/Packages
	kindPool                            // pool/<codename>[/<project_id>]/<letter>/<name>/<version>/<file>
	kindDistributions                   // debian_distributions
	kindDistribution                    // debian_distributions/<codename>
	kindDistributionKey                 // debian_distributions/<codename>/key.asc
)

// Route is a parsed Debian path. Every field is unescaped and validated.
type Route struct {
	level level
	kind  kind
	// Ref is the project's or group's :id (numeric or full path), unescaped.
	Ref string
	// Codename, Component and Arch name a distribution's index.
	Codename, Component, Arch string
	// ProjectID is the project a group-level pool path names.
	ProjectID int64
	// Name, Version and Filename name a package file (pool, upload).
	Name, Version, Filename string
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()). A path of another shape is
// packages.ErrNotFound; a codename, component, architecture, name, version or filename that
// breaks GitLab's rules (Gitlab::Regex) is a *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	var rt Route
	var ref, rest string
	var ok, dists bool
	// cut splits after the :id at the packages prefix, or else at the distributions API's.
	cut := func(after, pkgs, distributions string) {
		if ref, rest, ok = strings.Cut(after, pkgs); !ok {
			ref, rest, ok = strings.Cut(after, distributions)
			dists = true
		}
	}
	if after, found := strings.CutPrefix(escaped, "/api/v4/projects/"); found {
		rt.level = levelProject
		cut(after, "/packages/debian/", "/debian_distributions")
	} else if after, found := strings.CutPrefix(escaped, "/api/v4/groups/"); found {
		rt.level = levelGroup
		cut(after, "/-/packages/debian/", "/-/debian_distributions")
	}
	if !ok || ref == "" || strings.Contains(ref, "/") {
		return Route{}, packages.ErrNotFound
	}
	var err error
	if rt.Ref, err = url.PathUnescape(ref); err != nil || rt.Ref == "" {
		return Route{}, packages.ErrNotFound
	}
	if dists {
		return parseDistributions(rt, rest)
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return Route{}, invalid("path", "is not a valid URL path")
		}
	}
	switch {
	case len(segs) == 1 && rt.level == levelProject:
		rt.kind, rt.Filename = kindUpload, segs[0]
		return rt, checkDebFilename(rt.Filename)
	case len(segs) == 3 && segs[0] == "dists":
		switch segs[2] {
		case "Release":
			rt.kind = kindRelease
		case "InRelease":
			rt.kind = kindInRelease
		case "Release.gpg":
			rt.kind = kindReleaseGPG
		default:
			return Route{}, packages.ErrNotFound
		}
		rt.Codename = segs[1]
		return rt, checkCodename(rt.Codename)
	case len(segs) == 5 && segs[0] == "dists" && strings.HasPrefix(segs[3], "binary-") && segs[4] == "Packages":
		rt.kind, rt.Codename, rt.Component, rt.Arch = kindPackages, segs[1], segs[2], strings.TrimPrefix(segs[3], "binary-")
		return rt, firstErr(checkCodename(rt.Codename), checkComponent(rt.Component), checkArch(rt.Arch))
	case segs[0] == "pool" && (len(segs) == 6 && rt.level == levelProject || len(segs) == 7 && rt.level == levelGroup):
		rt.kind, rt.Codename = kindPool, segs[1]
		if rt.level == levelGroup {
			id, err := strconv.ParseInt(segs[2], 10, 64)
			if err != nil || id <= 0 || strconv.FormatInt(id, 10) != segs[2] {
				return Route{}, packages.ErrNotFound
			}
			rt.ProjectID, segs = id, append(segs[:2], segs[3:]...)
		}
		letter := segs[2]
		rt.Name, rt.Version, rt.Filename = segs[3], segs[4], segs[5]
		if err := firstErr(checkCodename(rt.Codename), checkName(rt.Name), checkVersion(rt.Version), checkDebFilename(rt.Filename)); err != nil {
			return Route{}, err
		}
		if letter != poolLetter(rt.Name) {
			return Route{}, packages.ErrNotFound
		}
		return rt, nil
	}
	return Route{}, packages.ErrNotFound
}

func parseDistributions(rt Route, rest string) (Route, error) {
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		rt.kind = kindDistributions
		return rt, nil
	}
	if rest[0] != '/' {
		return Route{}, packages.ErrNotFound
	}
	segs := strings.Split(rest[1:], "/")
	var err error
	if rt.Codename, err = url.PathUnescape(segs[0]); err != nil {
		return Route{}, invalid("codename", "is not a valid URL path")
	}
	switch {
	case len(segs) == 1:
		rt.kind = kindDistribution
	case len(segs) == 2 && segs[1] == "key.asc":
		rt.kind = kindDistributionKey
	default:
		return Route{}, packages.ErrNotFound
	}
	return rt, checkCodename(rt.Codename)
}

// poolLetter is the pool directory of a package name, as Debian's archive (and GitLab) lay it
// out: "libf" for libfoo, else the first letter.
func poolLetter(name string) string {
	if strings.HasPrefix(name, "lib") && len(name) > 3 {
		return name[:4]
	}
	return name[:1]
}

// PoolPath is the path of a file in the pool, relative to the packages prefix: at the group
// level it names the project (projectID != 0).
func PoolPath(codename string, projectID int64, name, version, filename string) string {
	p := "pool/" + codename + "/"
	if projectID != 0 {
		p += strconv.FormatInt(projectID, 10) + "/"
	}
	return p + poolLetter(name) + "/" + name + "/" + url.PathEscape(version) + "/" + filename
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// maxField bounds codenames, components, architectures and names, well under the core's limits.
const maxField = 128

// allowed reports whether s is 1..max bytes, starts with a byte first accepts and continues
// with bytes rest accepts.
func allowed(s string, max int, first, rest func(byte) bool) bool {
	if s == "" || len(s) > max || !first(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !rest(s[i]) {
			return false
		}
	}
	return true
}

func lowerDigit(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func alnum(c byte) bool      { return lowerDigit(c) || c >= 'A' && c <= 'Z' }

// checkCodename: Gitlab::Regex.debian_distribution_regex, [a-z0-9][a-z0-9.-]* (any case).
func checkCodename(s string) error {
	if !allowed(s, maxField, alnum, func(c byte) bool { return alnum(c) || c == '.' || c == '-' }) || strings.Contains(s, "..") {
		return invalid("codename", "must be letters, digits, dots and hyphens, starting with a letter or digit")
	}
	return nil
}

// checkComponent: Gitlab::Regex.debian_component_regex, [a-z-]+.
func checkComponent(s string) error {
	isC := func(c byte) bool { return c >= 'a' && c <= 'z' || c == '-' }
	if !allowed(s, maxField, isC, isC) {
		return invalid("component", "must be lower-case letters and hyphens")
	}
	return nil
}

// checkArch: Gitlab::Regex.debian_architecture_regex, [a-z0-9][-a-z0-9]*.
func checkArch(s string) error {
	if !allowed(s, maxField, lowerDigit, func(c byte) bool { return lowerDigit(c) || c == '-' }) {
		return invalid("architecture", "must be lower-case letters, digits and hyphens, starting with a letter or digit")
	}
	return nil
}

// checkName: Debian policy §5.6.1 (GitLab's debian_package_name_regex), [a-z0-9][a-z0-9+.-]+.
func checkName(s string) error {
	if len(s) < 2 || !allowed(s, maxField, lowerDigit, func(c byte) bool { return lowerDigit(c) || c == '+' || c == '.' || c == '-' }) || strings.Contains(s, "..") {
		return invalid("package name", "must be at least two lower-case letters, digits, +, . or -, starting with a letter or digit")
	}
	return nil
}

// checkVersion: Debian policy §5.6.12, [epoch:]upstream[-revision], the upstream version
// starting with a digit and holding only alphanumerics and . + ~ - (and : with an epoch).
func checkVersion(s string) error {
	bad := invalid("version", "must be [epoch:]upstream[-revision] as Debian policy defines it")
	if s == "" || len(s) > maxField || strings.Contains(s, "..") {
		return bad
	}
	up := s
	if e, rest, ok := strings.Cut(s, ":"); ok {
		if e == "" || !allowed(e, 9, isDigit, isDigit) {
			return bad
		}
		up = rest
	}
	if up == "" || !isDigit(up[0]) {
		return bad
	}
	for i := 0; i < len(up); i++ {
		c := up[i]
		if !alnum(c) && !strings.ContainsRune(".+~-", rune(c)) {
			return bad
		}
	}
	if strings.HasSuffix(up, "-") {
		return bad
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkDebFilename: a binary package file, name_version_arch.deb (the version without its
// epoch, as dpkg-deb names it).
func checkDebFilename(s string) error {
	base, ok := strings.CutSuffix(s, ".deb")
	parts := strings.Split(base, "_")
	if !ok || len(parts) != 3 || checkName(parts[0]) != nil || checkVersion(parts[1]) != nil || strings.Contains(parts[1], ":") || checkArch(parts[2]) != nil {
		return invalid("file name", "must be <name>_<version>_<architecture>.deb")
	}
	return nil
}

// DebFilename is the file name dpkg-deb gives a package: the version without its epoch.
func DebFilename(name, version, arch string) string {
	if _, v, ok := strings.Cut(version, ":"); ok {
		version = v
	}
	return name + "_" + version + "_" + arch + ".deb"
}
