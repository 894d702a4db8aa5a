// Package oci is Gatehouse's model of OCI content, free of HTTP and SQL: repository names,
// tag-or-digest references, manifests (a pure, bounded parser) and the registry metadata records
// the container registry keeps (blob links, manifests, tags, referrers). The registry and the
// dependency proxy speak the wire protocol; sqlstore stores these records.
package oci

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Error kinds: errkind's, under the names the OCI code uses (aliases). Parse errors wrap
// ErrInvalid; stores return ErrNotFound.
var (
	ErrInvalid  = errkind.ErrInvalid
	ErrNotFound = errkind.ErrNotFound
)

// MaxNameLength bounds a repository name (OCI clients limit host + "/" + name to 255).
const MaxNameLength = 255

// Name is a validated OCI repository name: lower-case path components separated by '/', each
// matching [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, at most MaxNameLength bytes in all.
type Name string

// ParseName validates s as a repository name.
func ParseName(s string) (Name, error) {
	if s == "" || len(s) > MaxNameLength {
		return "", fmt.Errorf("%w: repository name must be 1 to %d characters", ErrInvalid, MaxNameLength)
	}
	for rest := s; ; {
		comp, tail, more := strings.Cut(rest, "/")
		if !validComponent(comp) {
			return "", fmt.Errorf("%w: repository name component %q", ErrInvalid, truncate(comp))
		}
		if !more {
			break
		}
		rest = tail
	}
	return Name(s), nil
}

// String returns the name as text.
func (n Name) String() string { return string(n) }

// validComponent reports whether s matches [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func validComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// ProjectPaths lists the project paths an image name may belong to, longest first: the name
// itself and each of its '/'-prefixes (docs/design.md §6.4: images are
// <project path>[/<sub name>]).
func (n Name) ProjectPaths() []string {
	s := string(n)
	out := []string{s}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == '/' {
			out = append(out, s[:i])
		}
	}
	return out
}
