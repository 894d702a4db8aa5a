package packages

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// The core's validation is the safety net under every format's own, stricter parser: whatever a
// format accepts, no stored name, version, filename or tag can traverse a path, hide a control
// character or grow without bound. Formats parse into their own rules first (GitLab's regexes);
// the core re-checks only what must hold for all of them.

// Length limits.
const (
	// MaxNameLength bounds package names (Go module paths and Maven group/artifact paths are the
	// longest real ones).
	MaxNameLength = 512
	// MaxVersionLength bounds versions.
	MaxVersionLength = 255
	// MaxFilenameLength bounds filenames (a common filesystem limit).
	MaxFilenameLength = 255
	// MaxTagLength bounds tag names.
	MaxTagLength = 128
	// MaxMetadataSize bounds a version's metadata document.
	MaxMetadataSize = 1 << 20
	// MaxTagsPerUpload bounds the tags one upload may set.
	MaxTagsPerUpload = 32
)

// safeText reports the first reason s is unsafe anywhere: empty, too long, not UTF-8, or holding
// a NUL, another control character or a backslash.
func safeText(s string, max int) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > max:
		return "is too long"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "must not contain NUL"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return "must not contain control characters"
		case r == '\\':
			return "must not contain backslashes"
		case r == '\u2028' || r == '\u2029' || r == '\ufeff':
			return "must not contain line separators or byte-order marks"
		}
	}
	return ""
}

// segment checks one path-like component: no slash, and not "." or "..".
func segment(s string) string {
	switch {
	case strings.Contains(s, "/"):
		return "must not contain slashes"
	case s == "." || s == "..":
		return "must not be . or .."
	case strings.TrimSpace(s) != s:
		return "must not start or end with spaces"
	}
	return ""
}

// ValidateName checks a package name: it may be a slash-separated path (npm @scope/name, Go
// module paths, Maven group/artifact), but every component must be non-empty and neither "." nor
// "..".
func ValidateName(name string) error {
	if why := safeText(name, MaxNameLength); why != "" {
		return invalid("package name", why)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" {
			return invalid("package name", "must not have empty path components")
		}
		if why := segment(part); why != "" {
			return invalid("package name", "components "+why)
		}
	}
	return nil
}

// ValidateVersion checks a version string: one component, no "..".
func ValidateVersion(v string) error {
	if why := safeText(v, MaxVersionLength); why != "" {
		return invalid("version", why)
	}
	if why := segment(v); why != "" {
		return invalid("version", why)
	}
	if strings.Contains(v, "..") {
		return invalid("version", "must not contain ..")
	}
	return nil
}

// ValidateFilename checks a filename: one component, not hidden behind "." or "..".
func ValidateFilename(f string) error {
	if why := safeText(f, MaxFilenameLength); why != "" {
		return invalid("file name", why)
	}
	if why := segment(f); why != "" {
		return invalid("file name", why)
	}
	if strings.ContainsAny(f, "\"<>|:*?") {
		return invalid("file name", "must not contain any of \" < > | : * ?")
	}
	return nil
}

// ValidateTag checks a tag name (npm dist-tag).
func ValidateTag(t string) error {
	if why := safeText(t, MaxTagLength); why != "" {
		return invalid("tag", why)
	}
	if why := segment(t); why != "" {
		return invalid("tag", why)
	}
	return nil
}

// hexLengths are the hex lengths of each checksum.
var hexLengths = [...]struct {
	field string
	n     int
}{{"md5", 32}, {"sha1", 40}, {"sha256", 64}, {"sha512", 128}}

func (c Checksums) fields() [4]string { return [4]string{c.MD5, c.SHA1, c.SHA256, c.SHA512} }

// Validate checks that every given checksum is hex of the right length (empty ones are "not
// given"), and returns them lower-cased.
func (c Checksums) Validate() (Checksums, error) {
	vals := c.fields()
	for i, v := range vals {
		if v == "" {
			continue
		}
		v = strings.ToLower(v)
		if _, err := hex.DecodeString(v); err != nil || len(v) != hexLengths[i].n {
			return Checksums{}, invalid(hexLengths[i].field, "must be hex-encoded")
		}
		vals[i] = v
	}
	return Checksums{MD5: vals[0], SHA1: vals[1], SHA256: vals[2], SHA512: vals[3]}, nil
}

// Mismatch compares expected (lower-case hex; empty fields are not compared) with actual and
// returns a ValidationError naming the first checksum that differs, or nil.
func (c Checksums) Mismatch(actual Checksums) error {
	want, got := c.fields(), actual.fields()
	for i := range want {
		if want[i] != "" && want[i] != got[i] {
			return invalid(hexLengths[i].field, "checksum does not match the uploaded file")
		}
	}
	return nil
}
