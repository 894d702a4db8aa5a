package token_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// TestPersonalTokenLastUsed: a use records the token's last use, at most once per
// LastUsedInterval, as GitLab does.
func TestPersonalTokenLastUsed(t *testing.T) {
	e := newEnv(t)
	svc := token.NewPersonalService(e.store.Tokens, e.digest, e.clock.Now)
	ctx := context.Background()
	tok, sec, err := svc.Create(ctx, token.CreatePersonalInput{UserID: e.user.ID, Name: "laptop", Scopes: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok.LastUsedAt != nil {
		t.Fatal("a new token is already used")
	}
	stored := func() *time.Time {
		t.Helper()
		got, err := svc.Token(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	use := func(at time.Time) {
		t.Helper()
		e.clock.Set(at)
		if _, err := svc.Authenticate(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	first := noon.Add(time.Minute)
	use(first)
	if got := stored(); got == nil || !got.Equal(first) {
		t.Fatalf("ok/first use recorded: %v", got)
	}
	use(first.Add(token.LastUsedInterval - time.Second))
	if got := stored(); got == nil || !got.Equal(first) {
		t.Fatalf("ok/a use within the interval writes nothing: %v", got)
	}
	later := first.Add(token.LastUsedInterval)
	use(later)
	if got := stored(); got == nil || !got.Equal(later) {
		t.Fatalf("ok/a use after the interval is recorded: %v", got)
	}
}
