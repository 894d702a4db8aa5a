package oci

// MaxTagLength is the longest tag (OCI: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}).
const MaxTagLength = 128

// ValidTag reports whether s matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}: the one tag grammar of
// the registry and the dependency proxy.
func ValidTag(s string) bool {
	if s == "" || len(s) > MaxTagLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			(i > 0 && (c == '.' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}
