package api_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

type usageDay struct {
	Date     string `json:"date"`
	Requests int64  `json:"requests"`
}

type usedToken struct {
	ID         int64   `json:"id"`
	LastUsedAt *string `json:"last_used_at"`
	LastUsedIP *string `json:"last_used_ip"`
}

// todayUsage returns the requests of today (the last entry) from the usage endpoint.
func todayUsage(t *testing.T, ts *testenv.TestServer, path string) int64 {
	t.Helper()
	ts.Server.Usage.Flush()
	var days []usageDay
	ts.MustAPI(t, 200, "GET", path+"?days=7", nil, &days)
	if len(days) != 7 {
		t.Fatalf("%d days, want 7: %+v", len(days), days)
	}
	if want := ts.Clock.Now().UTC().Format("2006-01-02"); days[6].Date != want {
		t.Fatalf("last day %s, want today %s", days[6].Date, want)
	}
	for i, d := range days[:6] {
		if d.Requests != 0 {
			t.Fatalf("day %d (%s) has %d requests before any use", i, d.Date, d.Requests)
		}
		if i > 0 && d.Date <= days[i-1].Date {
			t.Fatalf("days not oldest first: %+v", days)
		}
	}
	return days[6].Requests
}

func testUsage(t *testing.T, ts *testenv.TestServer) {
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	work := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"commit", "-q", "--allow-empty", "-m", "initial"},
		{"push", "-q", ts.GitURL(top.FullPath, "root", ts.RootToken), "main"}} {
		if out, err := testenv.RunGit(t, work, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	projTok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
	groupTok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	projUsage := fmt.Sprintf("/projects/%d/deploy_tokens/%d/usage", top.ID, projTok.ID)
	groupUsage := fmt.Sprintf("/groups/%d/deploy_tokens/%d/usage", f.GroupID, groupTok.ID)

	if n := todayUsage(t, ts, projUsage); n != 0 {
		t.Fatalf("unused token has %d requests", n)
	}
	clone := func(tok testenv.DeployToken) {
		t.Helper()
		dir := t.TempDir()
		if out, err := testenv.RunGit(t, dir, "clone", "-q", ts.GitURL(top.FullPath, tok.Username, tok.Token), filepath.Join(dir, "c")); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
	}
	clone(projTok)
	one := todayUsage(t, ts, projUsage)
	if one < 2 {
		t.Fatalf("a clone counted %d requests, want at least 2 (refs and pack)", one)
	}
	clone(projTok)
	clone(projTok)
	if got := todayUsage(t, ts, projUsage); got != 3*one {
		t.Fatalf("three clones counted %d requests, want %d", got, 3*one)
	}
	// One authenticated request counts one.
	ts.InfoRefs(t, top.FullPath, projTok.Username, projTok.Token)
	if got := todayUsage(t, ts, projUsage); got != 3*one+1 {
		t.Fatalf("after one more request: %d, want %d", got, 3*one+1)
	}
	// The group token's use is its own.
	clone(groupTok)
	if got := todayUsage(t, ts, groupUsage); got != one {
		t.Fatalf("group token: %d requests, want %d", got, one)
	}

	t.Run("ok/last_used_at and last_used_ip in list and get", func(t *testing.T) {
		ts.Server.Usage.Flush()
		check := func(what string, tok usedToken) {
			t.Helper()
			if tok.LastUsedAt == nil || tok.LastUsedIP == nil || *tok.LastUsedIP != "127.0.0.1" {
				t.Fatalf("%s: last_used_at %v last_used_ip %v, want set from 127.0.0.1", what, tok.LastUsedAt, tok.LastUsedIP)
			}
			if _, err := time.Parse(time.RFC3339, *tok.LastUsedAt); err != nil {
				t.Fatalf("%s: last_used_at %q: %v", what, *tok.LastUsedAt, err)
			}
		}
		var one usedToken
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, projTok.ID), nil, &one)
		check("project get", one)
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.GroupID, groupTok.ID), nil, &one)
		check("group get", one)
		for _, path := range []string{fmt.Sprintf("/projects/%d/deploy_tokens", top.ID), fmt.Sprintf("/groups/%d/deploy_tokens", f.GroupID), "/deploy_tokens"} {
			var list []usedToken
			ts.MustAPI(t, 200, "GET", path, nil, &list)
			if len(list) == 0 {
				t.Fatalf("%s: empty", path)
			}
			for _, tok := range list {
				check(path, tok)
			}
		}
		unused := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
		var raw map[string]any
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", top.ID, unused.ID), nil, &raw)
		if v, ok := raw["last_used_ip"]; !ok || v != nil {
			t.Fatalf("unused token's last_used_ip = %v (present %v), want null", v, ok)
		}
	})
	t.Run("fail/bad requests", func(t *testing.T) {
		for _, c := range []struct {
			path string
			want int
		}{
			{projUsage + "?days=0", 400},
			{projUsage + "?days=367", 400},
			{projUsage + "?days=abc", 400},
			{fmt.Sprintf("/projects/%d/deploy_tokens/%d/usage", top.ID, groupTok.ID), 404},
			{fmt.Sprintf("/projects/%d/deploy_tokens/%d/usage", f.Projects["sibling"].ID, projTok.ID), 404},
			{fmt.Sprintf("/groups/%d/deploy_tokens/%d/usage", f.GroupID, projTok.ID), 404},
		} {
			if got := ts.API(t, "GET", c.path, nil, nil); got != c.want {
				t.Errorf("GET %s = %d, want %d", c.path, got, c.want)
			}
		}
		if got := ts.APIAs(t, projTok.Token, "GET", projUsage, nil, nil); got != 401 {
			t.Errorf("deploy token reads usage: %d, want 401", got)
		}
		var days []usageDay
		ts.MustAPI(t, 200, "GET", projUsage, nil, &days)
		if len(days) != 30 || !strings.HasPrefix(days[29].Date, ts.Clock.Now().UTC().Format("2006-")) {
			t.Errorf("default range: %d days", len(days))
		}
	})
}

func TestDeployTokenUsageSQLite(t *testing.T) { testUsage(t, testenv.StartServer(t)) }

func TestDeployTokenUsagePostgres(t *testing.T) {
	testUsage(t, testenv.StartServer(t, testenv.WithPostgres(t)))
}
