package token_test

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func TestPersonalTokenOwnershipAndScopesFor(t *testing.T) {
	own := &token.PersonalToken{UserID: 7}
	imp := &token.PersonalToken{UserID: 7, Impersonation: true}
	if !own.OwnedBy(7) || own.OwnedBy(8) || imp.OwnedBy(7) {
		t.Fatal("OwnedBy: own token, another's, or an impersonation token decided wrongly")
	}
	if slices.Contains(token.PersonalScopesFor(false), token.Sudo) || !slices.Contains(token.PersonalScopesFor(true), token.Sudo) {
		t.Fatal("sudo must be offered to administrators only")
	}
}
