// Package goproxy serves GitLab's Go module proxy: the GOPROXY protocol for the modules that
// live in a project's Git repository, at
//
//	GET /api/v4/projects/:id/packages/go/<module>/@v/list
//	GET /api/v4/projects/:id/packages/go/<module>/@v/<version>.info
//	GET /api/v4/projects/:id/packages/go/<module>/@v/<version>.mod
//	GET /api/v4/projects/:id/packages/go/<module>/@v/<version>.zip
//	GET /api/v4/projects/:id/packages/go/<module>/@latest
//
// A module's path is the instance's host name (without the port: Go module paths carry none)
// followed by the project's full path, optionally with a subdirectory holding its own go.mod
// and a major-version suffix: 127.0.0.1/group/sub/child, 127.0.0.1/group/sub/child/tool,
// 127.0.0.1/group/sub/child/v2. Versions are the repository's semantic-version tags (tagged
// "tool/v1.0.0" for the tool subdirectory), resolved as the go command resolves them when it
// talks to Git directly. Nothing is stored: every answer is derived from the repository.
package goproxy

import (
	"net/url"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Bounds on what the parser looks at.
const (
	// maxPathLength bounds the escaped request path.
	maxPathLength = 4096
	// maxModulePathLength bounds a module path, escaped (the go command has none; the core's
	// name limit is plenty).
	maxModulePathLength = packages.MaxNameLength
	// maxVersionLength bounds a version, escaped.
	maxVersionLength = packages.MaxVersionLength
)

// Kind is the GOPROXY endpoint a request asks for.
type Kind int

// The endpoints of the GOPROXY protocol.
const (
	List   Kind = iota + 1 // @v/list: the known versions, one a line
	Info                   // @v/<version>.info: {"Version", "Time"}
	Mod                    // @v/<version>.mod: the go.mod file
	Zip                    // @v/<version>.zip: the module zip
	Latest                 // @latest: the .info of the latest version
)

func (k Kind) String() string {
	switch k {
	case List:
		return "list"
	case Info:
		return "info"
	case Mod:
		return "mod"
	case Zip:
		return "zip"
	case Latest:
		return "latest"
	}
	return "unknown"
}

// Route is a parsed Go proxy path. Every field is unescaped and validated.
type Route struct {
	// Project is the :id, a numeric id or a full path (which the URL carries escaped).
	Project string
	// Module is the module path (module.CheckPath passes).
	Module string
	Kind   Kind
	// Version is set for Info, Mod and Zip: a canonical semantic version (module.Check passes
	// for Module and Version).
	Version string
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()). A path of another shape is
// packages.ErrNotFound; a module path or version that the go command could never send is a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	rest, ok := strings.CutPrefix(escaped, "/api/v4/projects/")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	id, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	rest, ok = strings.CutPrefix(rest, "packages/go/")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	var rt Route
	var err error
	if rt.Project, err = url.PathUnescape(id); err != nil || rt.Project == "" {
		return Route{}, packages.ErrNotFound
	}
	// Module paths cannot contain "@" (module.CheckPath), so the first "/@" ends the module.
	escMod, tail, ok := strings.Cut(rest, "/@")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	var escVersion string
	switch {
	case tail == "latest":
		rt.Kind = Latest
	case tail == "v/list":
		rt.Kind = List
	case strings.HasPrefix(tail, "v/"):
		file := tail[len("v/"):]
		for _, e := range []struct {
			suffix string
			kind   Kind
		}{{".info", Info}, {".mod", Mod}, {".zip", Zip}} {
			if v, ok := strings.CutSuffix(file, e.suffix); ok {
				escVersion, rt.Kind = v, e.kind
				break
			}
		}
		if rt.Kind == 0 {
			return Route{}, packages.ErrNotFound
		}
	default:
		return Route{}, packages.ErrNotFound
	}
	if rt.Module, err = parseModule(escMod); err != nil {
		return Route{}, err
	}
	if rt.Kind == Info || rt.Kind == Mod || rt.Kind == Zip {
		if rt.Version, err = parseVersion(rt.Module, escVersion); err != nil {
			return Route{}, err
		}
	}
	return rt, nil
}

// parseModule undoes the URL escaping and then Go's case-encoding ("!" before a lower-case
// letter for an upper-case one) and checks the result is a module path.
func parseModule(esc string) (string, error) {
	if len(esc) > maxModulePathLength {
		return "", invalid("module path", "is too long")
	}
	s, err := url.PathUnescape(esc)
	if err != nil {
		return "", invalid("module path", "is not a valid URL path")
	}
	p, err := module.UnescapePath(s)
	if err != nil {
		return "", invalid("module path", "is not a valid escaped module path")
	}
	if err := module.CheckPath(p); err != nil {
		return "", invalid("module path", "is not a valid module path")
	}
	return p, nil
}

// parseVersion undoes the escaping of a version and checks that it is a canonical semantic
// version that module path p may have (major-version suffix rules, +incompatible).
func parseVersion(p, esc string) (string, error) {
	if esc == "" || len(esc) > maxVersionLength {
		return "", invalid("version", "must be a semantic version")
	}
	s, err := url.PathUnescape(esc)
	if err != nil {
		return "", invalid("version", "is not a valid URL path segment")
	}
	v, err := module.UnescapeVersion(s)
	if err != nil || !semver.IsValid(v) || module.CanonicalVersion(v) != v {
		return "", invalid("version", "must be a canonical semantic version")
	}
	if err := module.Check(p, v); err != nil {
		return "", invalid("version", "does not match the module path's major version")
	}
	return v, nil
}

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}
