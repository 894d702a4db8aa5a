package rubygems

import "strings"

// CompareVersions orders two valid gem versions as Gem::Version#<=> does: segments are runs of
// digits (numbers) or letters (strings, which sort before numbers: 1.0.a < 1.0), missing
// segments count as 0, and "-" starts a prerelease (1.0-b1 is 1.0.pre.b1).
func CompareVersions(a, b string) int {
	as, bs := segments(a), segments(b)
	for i := 0; i < max(len(as), len(bs)); i++ {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := compareSegment(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// segments splits a version into its runs of digits and of letters, with leading zeros of
// numbers dropped and trailing zero segments removed (Gem::Version#canonical_segments, roughly).
func segments(v string) []string {
	v = strings.ReplaceAll(v, "-", ".pre.")
	var out []string
	for i := 0; i < len(v); {
		j := i
		switch {
		case isDigit(v[i]):
			for j < len(v) && isDigit(v[j]) {
				j++
			}
			n := strings.TrimLeft(v[i:j], "0")
			if n == "" {
				n = "0"
			}
			out = append(out, n)
		case isAlnum(v[i]):
			for j < len(v) && isAlnum(v[j]) && !isDigit(v[j]) {
				j++
			}
			out = append(out, v[i:j])
		default:
			j++
		}
		i = j
	}
	for len(out) > 0 && out[len(out)-1] == "0" {
		out = out[:len(out)-1]
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// compareSegment compares two segments: numbers by value, strings by bytes, strings first.
func compareSegment(x, y string) int {
	xn, yn := isDigit(x[0]), isDigit(y[0])
	switch {
	case xn && !yn:
		return 1
	case !xn && yn:
		return -1
	case xn:
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(x, y)
}
