package token

import "slices"

// Sudo lets an administrator's personal access token act as another user (the API's Sudo
// header or sudo parameter, as in GitLab). It grants nothing by itself: what the token may do
// stays bounded by its other scopes, so it is kept out of PersonalScopes, the scopes that grant
// access, and ranks after them when scopes are listed.
const Sudo Scope = "sudo"

// PersonalTokenScopes lists every scope a personal access token may carry: PersonalScopes and
// Sudo.
var PersonalTokenScopes = append(slices.Clone(PersonalScopes), Sudo)

// PersonalScopesFor lists the scopes a user may give a token of their own: PersonalScopes, and
// Sudo for an administrator only, as GitLab offers sudo to administrators alone.
func PersonalScopesFor(admin bool) []Scope {
	if admin {
		return PersonalTokenScopes
	}
	return PersonalScopes
}
