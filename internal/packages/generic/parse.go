// Package generic serves GitLab's generic package registry: any file, stored under a package
// name and version, at
//
//	PUT|GET /api/v4/projects/:id/packages/generic/:package_name/:package_version/:file_name
//
// PUT takes the raw body (curl --upload-file), with ?status=default|hidden and
// ?select=package_file (answer the stored file's JSON instead of 201). Optional X-Checksum-Md5,
// X-Checksum-Sha1, X-Checksum-Sha256 and X-Checksum-Sha512 request headers make the upload fail
// unless the bytes match. GET answers the file with its checksums in the same headers. Errors
// are GitLab's {"message": "..."}.
package generic

import (
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// maxPathLength bounds the escaped request path the parser looks at.
const maxPathLength = 4096

// Route is a parsed generic package path. Every field is unescaped and validated.
type Route struct {
	// Project is the :id, a numeric id or a full path (which the URL carries escaped).
	Project string
	Name    string
	Version string
	File    string
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()). A path of another shape is
// packages.ErrNotFound; a name, version or filename that breaks GitLab's rules is a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, notFound()
	}
	rest, ok := strings.CutPrefix(escaped, "/api/v4/projects/")
	if !ok {
		return Route{}, notFound()
	}
	// :id / packages / generic / name / version / file, cut into an array: a download parses
	// one path per request.
	var parts [6]string
	for i := range parts {
		var more bool
		parts[i], rest, more = strings.Cut(rest, "/")
		if more != (i < len(parts)-1) {
			return Route{}, notFound() // too few or too many segments
		}
	}
	if parts[1] != "packages" || parts[2] != "generic" {
		return Route{}, notFound()
	}
	var rt Route
	var err error
	if rt.Project, err = url.PathUnescape(parts[0]); err != nil || rt.Project == "" {
		return Route{}, notFound()
	}
	if rt.Name, err = segment(parts[3], "package name"); err != nil {
		return Route{}, err
	}
	if rt.Version, err = segment(parts[4], "version"); err != nil {
		return Route{}, err
	}
	if rt.File, err = segment(parts[5], "file name"); err != nil {
		return Route{}, err
	}
	if err := ValidateName(rt.Name); err != nil {
		return Route{}, err
	}
	if err := ValidateVersion(rt.Version); err != nil {
		return Route{}, err
	}
	if err := ValidateFilename(rt.File); err != nil {
		return Route{}, err
	}
	return rt, nil
}

func notFound() error { return packages.ErrNotFound }

// segment unescapes one path segment.
func segment(s, field string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", &packages.ValidationError{Field: field, Reason: "is not a valid URL path segment"}
	}
	return v, nil
}

// GitLab's rules: names and filenames are [A-Za-z0-9._+-]+ (filenames also "~", which Debian
// versions need); versions are [A-Za-z0-9_.+-]+ without "..". None may be "." or "..".

// ValidateName checks a generic package name.
func ValidateName(s string) error {
	return check(s, "package name", packages.MaxNameLength, func(c byte) bool { return isWord(c) || c == '.' || c == '-' || c == '+' })
}

// ValidateVersion checks a generic package version.
func ValidateVersion(s string) error {
	if err := check(s, "version", packages.MaxVersionLength, func(c byte) bool { return isWord(c) || c == '.' || c == '-' || c == '+' }); err != nil {
		return err
	}
	if strings.Contains(s, "..") {
		return &packages.ValidationError{Field: "version", Reason: "must not contain .."}
	}
	return nil
}

// ValidateFilename checks a generic file name.
func ValidateFilename(s string) error {
	return check(s, "file name", packages.MaxFilenameLength, func(c byte) bool {
		return isWord(c) || c == '.' || c == '-' || c == '+' || c == '~'
	})
}

func isWord(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
}

func check(s, field string, max int, allowed func(byte) bool) error {
	switch {
	case s == "":
		return &packages.ValidationError{Field: field, Reason: "must not be empty"}
	case len(s) > max:
		return &packages.ValidationError{Field: field, Reason: "is too long"}
	case s == "." || s == "..":
		return &packages.ValidationError{Field: field, Reason: "must not be . or .."}
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return &packages.ValidationError{Field: field, Reason: "may contain only letters, digits and . _ - +" + tilde(field)}
		}
	}
	return nil
}

func tilde(field string) string {
	if field == "file name" {
		return " ~"
	}
	return ""
}

// Query are the PUT options.
type Query struct {
	Status packages.Status
	// SelectFile answers the stored file's JSON (select=package_file).
	SelectFile bool
}

// ParseQuery reads status and select; other parameters are ignored, as GitLab does.
func ParseQuery(q url.Values) (Query, error) {
	st, err := packages.ParseStatus(q.Get("status"))
	if err != nil {
		return Query{}, err
	}
	out := Query{Status: st}
	switch q.Get("select") {
	case "":
	case "package_file":
		out.SelectFile = true
	default:
		return Query{}, &packages.ValidationError{Field: "select", Reason: "does not have a valid value"}
	}
	return out, nil
}
