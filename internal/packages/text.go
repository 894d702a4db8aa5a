package packages

import "strings"

// ClipText keeps at most max runes of s as valid UTF-8 without NULs: how formats keep the
// free texts of a package's metadata (summaries, descriptions) that clients send.
func ClipText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}
