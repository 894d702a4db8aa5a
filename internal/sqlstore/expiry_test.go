package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The expiry job's consumer interfaces are implemented by the store.
var (
	_ notify.Store     = (*sqlstore.ExpiryStore)(nil)
	_ notify.Leases    = (*sqlstore.LeaseStore)(nil)
	_ notify.Directory = (*sqlstore.NamespaceStore)(nil)
)

func TestExpiryStoreSQLite(t *testing.T) {
	runExpirySuite(t, func(t *testing.T) (*sqlstore.Stores, func(t *testing.T) *sqlstore.Stores) {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		open := func(t *testing.T) *sqlstore.Stores {
			s := openSQLite(t, path)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		return open(t), open
	})
}

func TestExpiryStorePostgres(t *testing.T) {
	runExpirySuite(t, func(t *testing.T) (*sqlstore.Stores, func(t *testing.T) *sqlstore.Stores) {
		url := testenv.PostgresURL(t)
		open := func(t *testing.T) *sqlstore.Stores {
			db, err := sqlstore.Open(context.Background(), url)
			mustDo(t, err)
			s := sqlstore.New(db)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		return open(t), open
	})
}

// runExpirySuite runs the expiry store tests; setup returns a store on a fresh database and a
// function opening more connections (other "nodes") to the same database.
func runExpirySuite(t *testing.T, setup func(t *testing.T) (*sqlstore.Stores, func(t *testing.T) *sqlstore.Stores)) {
	migrated := func(t *testing.T) (*sqlstore.Stores, func(t *testing.T) *sqlstore.Stores) {
		s, open := setup(t)
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s, open
	}
	t.Run("concurrent_lease", func(t *testing.T) { testConcurrentLease(t, migrated) })
	t.Run("expiring_tokens", func(t *testing.T) { s, _ := migrated(t); testExpiringTokens(t, s) })
	t.Run("notice_claims", func(t *testing.T) { s, _ := migrated(t); testNoticeClaims(t, s) })
	t.Run("concurrent_claims", func(t *testing.T) { testConcurrentClaims(t, migrated) })
}

var e0 = time.Date(2031, 3, 10, 1, 0, 0, 0, time.UTC)

// testConcurrentLease: the lease every scheduled job runs under (garbage collection, the expiry
// mail), taken by several nodes at once.
func testConcurrentLease(t *testing.T, migrated func(t *testing.T) (*sqlstore.Stores, func(t *testing.T) *sqlstore.Stores)) {
	ctx := context.Background()
	s, open := migrated(t)
	acquire := func(s *sqlstore.Stores, holder string, now time.Time) bool {
		t.Helper()
		ok, err := s.Leases.AcquireLease(ctx, "deploy-token-expiry", holder, now, now.Add(10*time.Minute), now)
		mustDo(t, err)
		return ok
	}
	if !acquire(s, "a", e0) {
		t.Fatal("a could not take a never-taken lease")
	}
	if acquire(s, "b", e0.Add(time.Minute)) || acquire(s, "a", e0.Add(time.Minute)) {
		t.Fatal("the lease was taken while held")
	}
	if ok, err := s.Leases.AcquireLease(ctx, "other-job", "b", e0, e0.Add(time.Minute), e0); err != nil || !ok {
		t.Fatalf("another job's lease is independent: %v %v", ok, err)
	}
	mustDo(t, s.Leases.ReleaseLease(ctx, "deploy-token-expiry", "b", e0, false)) // not b's: no effect
	if acquire(s, "b", e0.Add(2*time.Minute)) {
		t.Fatal("a release by a non-holder freed the lease")
	}
	mustDo(t, s.Leases.ReleaseLease(ctx, "deploy-token-expiry", "a", e0, false))
	if !acquire(s, "b", e0.Add(3*time.Minute)) {
		t.Fatal("b could not take a released lease")
	}
	if !acquire(s, "c", e0.Add(3*time.Minute+10*time.Minute)) {
		t.Fatal("c could not take an expired lease")
	}

	// Many nodes at once: exactly one wins.
	nodes := make([]*sqlstore.Stores, 4)
	for i := range nodes {
		nodes[i] = open(t)
	}
	at := e0.Add(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i, n := range nodes {
		for j := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := n.Leases.AcquireLease(ctx, "race", fmt.Sprintf("node%d-%d", i, j), at, at.Add(time.Minute), at)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d holders took the lease at once, want 1", wins)
	}
}

// expiryFixture creates a project and a group with deploy tokens expiring at the given days
// after e0's date (nil: never); it returns the tokens by label.
func expiryFixture(t *testing.T, s *sqlstore.Stores, days map[string]*int) map[string]*token.DeployToken {
	ctx := context.Background()
	u := &namespace.User{Username: "owner", Email: "owner@example.com", Name: "Owner", PasswordHash: "x", CreatedAt: e0}
	mustDo(t, s.Namespaces.CreateUser(ctx, u))
	g := &namespace.Group{Name: "g", Path: "g", CreatedAt: e0}
	mustDo(t, s.Namespaces.CreateGroup(ctx, g))
	p := &namespace.Project{Name: "p", Path: "p", GroupID: g.ID, Visibility: namespace.Private, CreatedAt: e0}
	mustDo(t, s.Namespaces.CreateProject(ctx, p))
	out := map[string]*token.DeployToken{}
	i := 0
	for label, d := range days {
		i++
		tk := &token.DeployToken{Name: label, Scopes: token.Scopes{token.ReadRepository}, CreatedAt: e0, CreatorID: u.ID,
			Owner: token.Owner{ProjectID: p.ID}, Digest: []byte(fmt.Sprintf("digest-%032d", i))}
		if i%2 == 0 {
			tk.Owner = token.Owner{GroupID: g.ID}
		}
		if d != nil {
			exp := time.Date(2031, 3, 10+*d, 0, 0, 0, 0, time.UTC)
			tk.ExpiresAt = &exp
		}
		mustDo(t, s.Tokens.CreateDeployToken(ctx, tk))
		out[label] = tk
	}
	return out
}

func days(n int) *int { return &n }

func testExpiringTokens(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	toks := expiryFixture(t, s, map[string]*int{"d5": days(5), "d60": days(60), "d61": days(61), "never": nil,
		"expired": days(-1), "today": days(0), "revoked": days(7)})
	mustDo(t, s.Tokens.RevokeDeployToken(ctx, toks["revoked"].ID))
	got, err := s.Expiry.DeployTokensExpiringBetween(ctx, e0, time.Date(2031, 3, 10+60, 0, 0, 0, 0, time.UTC))
	mustDo(t, err)
	var names []string
	for _, tk := range got {
		names = append(names, tk.Name)
	}
	want := []string{toks["d5"].Name, toks["d60"].Name}
	if toks["d5"].ID > toks["d60"].ID {
		want = []string{want[1], want[0]}
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("expiring tokens %v, want %v (by id)", names, want)
	}
	if got[0].ExpiresAt == nil || got[0].Owner == (token.Owner{}) {
		t.Fatalf("scanned token lacks fields: %+v", got[0])
	}
}

func testNoticeClaims(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	toks := expiryFixture(t, s, map[string]*int{"a": days(5), "b": days(25)})
	a := toks["a"].ID
	claim := func(holder string, interval int, now time.Time) bool {
		t.Helper()
		ok, err := s.Expiry.ClaimExpiryNotice(ctx, a, interval, holder, now, now.Add(-time.Hour))
		mustDo(t, err)
		return ok
	}
	if !claim("n1", 7, e0) {
		t.Fatal("first claim failed")
	}
	if claim("n2", 7, e0.Add(time.Minute)) {
		t.Fatal("a fresh unfinished claim was taken over")
	}
	if !claim("n2", 30, e0) {
		t.Fatal("another interval of the same token is a separate notice")
	}
	// A release by the holder lets the next run claim again; a release by another does nothing.
	mustDo(t, s.Expiry.ReleaseExpiryNotice(ctx, a, 7, "n2"))
	if claim("n3", 7, e0.Add(2*time.Minute)) {
		t.Fatal("a non-holder's release freed the claim")
	}
	mustDo(t, s.Expiry.ReleaseExpiryNotice(ctx, a, 7, "n1"))
	if !claim("n3", 7, e0.Add(3*time.Minute)) {
		t.Fatal("a released claim could not be claimed again")
	}
	// Completed by the holder: never claimable again, not even long after.
	if ok, err := s.Expiry.CompleteExpiryNotice(ctx, a, 7, "n1", e0.Add(4*time.Minute), 3); err != nil || ok {
		t.Fatalf("a non-holder completed the claim: %v %v", ok, err)
	}
	if ok, err := s.Expiry.CompleteExpiryNotice(ctx, a, 7, "n3", e0.Add(4*time.Minute), 3); err != nil || !ok {
		t.Fatalf("complete: %v %v", ok, err)
	}
	mustDo(t, s.Expiry.ReleaseExpiryNotice(ctx, a, 7, "n3")) // a completed notice is not released
	if claim("n4", 7, e0.Add(48*time.Hour)) {
		t.Fatal("a completed notice was claimed again")
	}
	// An unfinished claim older than the timeout (its node died) is taken over.
	if !claim("n5", 30, e0.Add(2*time.Hour)) {
		t.Fatal("a stale unfinished claim was not taken over")
	}
	if ok, _ := s.Expiry.CompleteExpiryNotice(ctx, a, 30, "n2", e0.Add(2*time.Hour), 1); ok {
		t.Fatal("the dead node completed a claim taken over by another")
	}
	notices, err := s.Expiry.ExpiryNotices(ctx, a)
	mustDo(t, err)
	if len(notices) != 2 || notices[0].IntervalDays != 7 || notices[0].SentAt == nil || notices[0].Recipients != 3 ||
		!notices[0].SentAt.Equal(e0.Add(4*time.Minute)) || notices[1].IntervalDays != 30 || notices[1].SentAt != nil ||
		notices[1].Holder != "n5" {
		t.Fatalf("notices %+v", notices)
	}
	// Deleting the token (the API's DELETE) deletes its notices; claiming for a gone token fails softly.
	mustDo(t, s.Tokens.DeleteDeployToken(ctx, a))
	if n, _ := s.Expiry.ExpiryNotices(ctx, a); len(n) != 0 {
		t.Fatalf("notices of a deleted token survive: %+v", n)
	}
	if ok, err := s.Expiry.ClaimExpiryNotice(ctx, a, 7, "n6", e0, e0); err != nil || ok {
		t.Fatalf("claim for a deleted token: %v %v, want false, nil", ok, err)
	}
}

// testConcurrentClaims: many nodes claim the same notices at once; each is claimed exactly once.
func testConcurrentClaims(t *testing.T, migrated func(t *testing.T) (*sqlstore.Stores, func(t *testing.T) *sqlstore.Stores)) {
	ctx := context.Background()
	s, open := migrated(t)
	toks := expiryFixture(t, s, map[string]*int{"a": days(5), "b": days(25), "c": days(55)})
	nodes := []*sqlstore.Stores{s, open(t), open(t)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for round := range 3 {
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, tk := range toks {
					for _, interval := range []int{7, 30, 60} {
						ok, err := n.Expiry.ClaimExpiryNotice(ctx, tk.ID, interval, fmt.Sprintf("node%d-%d", i, round), e0, e0.Add(-time.Hour))
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							mu.Lock()
							wins[fmt.Sprint(tk.ID, "/", interval)]++
							mu.Unlock()
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	if len(wins) != 9 {
		t.Fatalf("%d notices claimed, want 9: %v", len(wins), wins)
	}
	for k, n := range wins {
		if n != 1 {
			t.Errorf("notice %s claimed %d times", k, n)
		}
	}
}
