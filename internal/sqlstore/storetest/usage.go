package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func testDeployTokenUsage(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	a, b := f.deploy("usage-a", "", token.Owner{ProjectID: f.project.ID}, nil), f.deploy("usage-b", "", token.Owner{GroupID: f.group.ID}, nil)
	must(t, s.Tokens.CreateDeployToken(ctx(), a))
	must(t, s.Tokens.CreateDeployToken(ctx(), b))
	day := func(d int) time.Time { return time.Date(2031, time.March, d, 0, 0, 0, 0, time.UTC) }
	t.Run("ok/batches add up per token and day", func(t *testing.T) {
		must(t, s.Tokens.AddDeployTokenUsage(ctx(), []token.DailyUsage{{TokenID: a.ID, Day: day(1), Requests: 3}, {TokenID: a.ID, Day: day(2), Requests: 1}, {TokenID: b.ID, Day: day(2), Requests: 7}}))
		must(t, s.Tokens.AddDeployTokenUsage(ctx(), []token.DailyUsage{{TokenID: a.ID, Day: day(2), Requests: 4}, {TokenID: a.ID, Day: day(31), Requests: 2}}))
		got, err := s.Tokens.DeployTokenUsage(ctx(), a.ID, day(1), day(31))
		must(t, err)
		want := []token.DailyUsage{{TokenID: a.ID, Day: day(1), Requests: 3}, {TokenID: a.ID, Day: day(2), Requests: 5}, {TokenID: a.ID, Day: day(31), Requests: 2}}
		if len(got) != len(want) {
			t.Fatalf("usage = %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i].TokenID != want[i].TokenID || !got[i].Day.Equal(want[i].Day) || got[i].Requests != want[i].Requests {
				t.Fatalf("usage[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
	t.Run("ok/range is inclusive and per token", func(t *testing.T) {
		got, err := s.Tokens.DeployTokenUsage(ctx(), a.ID, day(2), day(2))
		must(t, err)
		if len(got) != 1 || got[0].Requests != 5 {
			t.Fatalf("usage of day 2 = %+v, want 5 requests", got)
		}
		got, err = s.Tokens.DeployTokenUsage(ctx(), b.ID, day(1), day(31))
		must(t, err)
		if len(got) != 1 || got[0].Requests != 7 {
			t.Fatalf("usage of b = %+v", got)
		}
	})
	t.Run("ok/deleted tokens are skipped and their counters go", func(t *testing.T) {
		must(t, s.Tokens.DeleteDeployToken(ctx(), b.ID))
		must(t, s.Tokens.AddDeployTokenUsage(ctx(), []token.DailyUsage{{TokenID: b.ID, Day: day(3), Requests: 1}, {TokenID: a.ID, Day: day(3), Requests: 1}}))
		got, err := s.Tokens.DeployTokenUsage(ctx(), b.ID, day(1), day(31))
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("usage of a deleted token = %+v", got)
		}
		got, err = s.Tokens.DeployTokenUsage(ctx(), a.ID, day(3), day(3))
		must(t, err)
		if len(got) != 1 || got[0].Requests != 1 {
			t.Fatalf("the batch lost a's count: %+v", got)
		}
	})
}

func testExternalAuthorization(t *testing.T, s *sqlstore.Stores) {
	_, ok, err := s.Settings.ExternalAuthorizationSettings(ctx())
	must(t, err)
	if ok {
		t.Fatal("settings present before any save")
	}
	for _, want := range []access.ExternalSettings{
		{Enabled: true, ServiceURL: "https://authz.example.com/", Timeout: 2500 * time.Millisecond, DefaultLabel: "internal"},
		{Enabled: false, ServiceURL: "", Timeout: 500 * time.Millisecond, DefaultLabel: ""},
	} {
		must(t, s.Settings.SaveExternalAuthorizationSettings(ctx(), want, t0))
		got, ok, err := s.Settings.ExternalAuthorizationSettings(ctx())
		must(t, err)
		if !ok || got != want {
			t.Fatalf("settings = %+v (%v), want %+v", got, ok, want)
		}
	}
	g := mustGroup(t, s, "classified", 0)
	p := mustProject(t, s, "app", g.ID, 0)
	label, err := s.Settings.ProjectClassificationLabel(ctx(), p.ID)
	must(t, err)
	if label != "" {
		t.Fatalf("label before any set = %q", label)
	}
	for _, want := range []string{"secret", "top-secret", ""} {
		must(t, s.Settings.SetProjectClassificationLabel(ctx(), p.ID, want, t0))
		got, err := s.Settings.ProjectClassificationLabel(ctx(), p.ID)
		must(t, err)
		if got != want {
			t.Fatalf("label = %q, want %q", got, want)
		}
	}
	wantErr(t, s.Settings.SetProjectClassificationLabel(ctx(), p.ID+1000, "x", t0), errkind.ErrNotFound)
}
