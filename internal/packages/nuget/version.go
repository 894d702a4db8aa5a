package nuget

import (
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// maxVersionLength bounds a NuGet version string (nuget.org allows 64; GitLab 255).
const maxVersionLength = 128

// Version is a parsed NuGet version: SemVer 2.0.0 plus NuGet's legacy fourth number
// ("1.2.3.4") and its lenient forms ("1", "1.2", leading zeros).
type Version struct {
	Major, Minor, Patch, Revision int
	// Release is the pre-release label without its "-" ("beta.1"), as given (case kept).
	Release string
	// Metadata is the build metadata without its "+", as given.
	Metadata string
}

// ParseVersion parses a NuGet version. It returns a *packages.ValidationError for anything that
// is not one (NuGet.Versioning's rules: 1 to 4 decimal numbers that fit an int32, then optional
// "-label(.label)*" and "+label(.label)*" of [0-9A-Za-z-]).
func ParseVersion(s string) (Version, error) {
	bad := func(reason string) (Version, error) {
		return Version{}, &packages.ValidationError{Field: "version", Reason: reason}
	}
	switch {
	case s == "":
		return bad("must not be empty")
	case len(s) > maxVersionLength:
		return bad("is too long")
	}
	var v Version
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Metadata = rest[i+1:]
		rest = rest[:i]
		if !validLabels(v.Metadata) {
			return bad("has invalid build metadata (dot-separated [0-9A-Za-z-] labels)")
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		v.Release = rest[i+1:]
		rest = rest[:i]
		if !validLabels(v.Release) {
			return bad("has an invalid pre-release label (dot-separated [0-9A-Za-z-] labels)")
		}
	}
	parts := strings.Split(rest, ".")
	if len(parts) > 4 {
		return bad("must have at most four numbers")
	}
	nums := [4]int{}
	for i, p := range parts {
		if p == "" || len(p) > 10 {
			return bad("must start with 1 to 4 dot-separated numbers")
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return bad("must start with 1 to 4 dot-separated numbers")
			}
		}
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return bad("has a number that is too large")
		}
		nums[i] = int(n)
	}
	v.Major, v.Minor, v.Patch, v.Revision = nums[0], nums[1], nums[2], nums[3]
	return v, nil
}

// validLabels reports whether s is one or more non-empty dot-separated [0-9A-Za-z-] labels.
func validLabels(s string) bool {
	if s == "" {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Normalized is NuGet's normalised form: leading zeros stripped, three numbers (a fourth only
// when it is not zero), the pre-release label, and no build metadata ("1.02.0.0-Beta" →
// "1.2.0-Beta").
func (v Version) Normalized() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(v.Major))
	b.WriteByte('.')
	b.WriteString(strconv.Itoa(v.Minor))
	b.WriteByte('.')
	b.WriteString(strconv.Itoa(v.Patch))
	if v.Revision != 0 {
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(v.Revision))
	}
	if v.Release != "" {
		b.WriteByte('-')
		b.WriteString(v.Release)
	}
	return b.String()
}

// Full is the normalised form with the build metadata, as registration documents show it.
func (v Version) Full() string {
	if v.Metadata == "" {
		return v.Normalized()
	}
	return v.Normalized() + "+" + v.Metadata
}

// Key is the lower-cased normalised form: how Gatehouse stores and compares versions (NuGet
// compares versions case-insensitively and ignores build metadata), and the spelling of the
// flat container's URLs.
func (v Version) Key() string { return strings.ToLower(v.Normalized()) }

// IsPrerelease reports whether the version has a pre-release label.
func (v Version) IsPrerelease() bool { return v.Release != "" }

// Compare orders versions as NuGet does: by the numbers, then a release after its pre-releases,
// then pre-release labels label by label (numeric ones numerically and before alphanumeric
// ones, others case-insensitively). Build metadata is ignored.
func Compare(a, b Version) int {
	for _, d := range [...]int{a.Major - b.Major, a.Minor - b.Minor, a.Patch - b.Patch, a.Revision - b.Revision} {
		if d != 0 {
			return sign(d)
		}
	}
	switch {
	case a.Release == "" && b.Release == "":
		return 0
	case a.Release == "":
		return 1
	case b.Release == "":
		return -1
	}
	al, bl := strings.Split(a.Release, "."), strings.Split(b.Release, ".")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if c := compareLabel(al[i], bl[i]); c != 0 {
			return c
		}
	}
	return sign(len(al) - len(bl))
}

func compareLabel(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func sign(d int) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}
