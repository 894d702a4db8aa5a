package jwtauth

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// Limits on what /jwt/auth parses from one request.
const (
	// MaxScopes bounds the scopes of one token request (docker asks for one or two, the
	// conformance suite for a handful).
	MaxScopes = 16
	// MaxScopeLength bounds one scope string.
	MaxScopeLength = 512
	// maxActions bounds the actions of one scope.
	maxActions = 8
)

// Resource types a scope may name.
const (
	RepositoryType = "repository"
	RegistryType   = "registry"
)

// Actions of the Docker token protocol.
const (
	Pull   = "pull"
	Push   = "push"
	Delete = "delete"
	All    = "*"
)

// Scope is one parsed "type[(class)]:name:action[,action…]" access request (the Docker token
// scope grammar). Name may contain ':' (the type ends at the first colon, the actions start after
// the last one). Actions are deduplicated and kept in the order given.
type Scope struct {
	Type    string
	Class   string
	Name    string
	Actions []string
}

// String renders the scope in the wire grammar.
func (s Scope) String() string {
	t := s.Type
	if s.Class != "" {
		t += "(" + s.Class + ")"
	}
	return t + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// ParseScope parses one scope. It fails with oci.ErrInvalid for anything not in the grammar; unknown
// actions are kept (the granting side drops them).
func ParseScope(s string) (Scope, error) {
	if len(s) > MaxScopeLength {
		return Scope{}, fmt.Errorf("%w: scope longer than %d characters", oci.ErrInvalid, MaxScopeLength)
	}
	typ, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i < 0 {
		return Scope{}, fmt.Errorf("%w: scope %q is not type:name:actions", oci.ErrInvalid, truncate(s))
	}
	name, actions := rest[:i], rest[i+1:]
	var sc Scope
	if open := strings.IndexByte(typ, '('); open >= 0 {
		if !strings.HasSuffix(typ, ")") {
			return Scope{}, fmt.Errorf("%w: scope type %q", oci.ErrInvalid, truncate(typ))
		}
		sc.Class = typ[open+1 : len(typ)-1]
		typ = typ[:open]
		if !validWord(sc.Class, false) {
			return Scope{}, fmt.Errorf("%w: scope class %q", oci.ErrInvalid, truncate(sc.Class))
		}
	}
	if !validWord(typ, false) {
		return Scope{}, fmt.Errorf("%w: scope type %q", oci.ErrInvalid, truncate(typ))
	}
	if name == "" || strings.ContainsAny(name, " \t\r\n\x00") {
		return Scope{}, fmt.Errorf("%w: scope name", oci.ErrInvalid)
	}
	sc.Type, sc.Name = typ, name
	for _, a := range strings.Split(actions, ",") {
		if !validWord(a, true) {
			return Scope{}, fmt.Errorf("%w: scope action %q", oci.ErrInvalid, truncate(a))
		}
		dup := false
		for _, x := range sc.Actions {
			dup = dup || x == a
		}
		if !dup {
			if len(sc.Actions) == maxActions {
				return Scope{}, fmt.Errorf("%w: more than %d actions in a scope", oci.ErrInvalid, maxActions)
			}
			sc.Actions = append(sc.Actions, a)
		}
	}
	return sc, nil
}

// validWord accepts 1–32 characters of [a-z0-9_-] (and "*" alone when star is set).
func validWord(s string, star bool) bool {
	if star && s == All {
		return true
	}
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ParseScopes parses the scope query parameters of a token request. Each value may hold
// several scopes separated by spaces (the OCI conformance suite sends them so), and the parameter
// may repeat (skopeo does that). Empty values are ignored. At most MaxScopes are accepted.
func ParseScopes(values []string) ([]Scope, error) {
	var out []Scope
	for _, v := range values {
		if len(v) > MaxScopes*MaxScopeLength {
			return nil, fmt.Errorf("%w: scope parameter too long", oci.ErrInvalid)
		}
		for _, f := range strings.Fields(v) {
			if len(out) == MaxScopes {
				return nil, fmt.Errorf("%w: more than %d scopes", oci.ErrInvalid, MaxScopes)
			}
			sc, err := ParseScope(f)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// ImageAction maps a token action to the access action it needs ("*" is not one action).
func ImageAction(a string) (access.Action, bool) {
	switch a {
	case Pull:
		return access.PullImage, true
	case Push:
		return access.PushImage, true
	case Delete:
		return access.DeleteImage, true
	}
	return "", false
}

// ImageActions lists the token actions on a repository, in canonical order.
var ImageActions = []string{Pull, Push, Delete}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
