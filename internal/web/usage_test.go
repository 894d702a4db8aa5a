package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestUsageChartOverHTTP: the usage view draws requests and refusals per day as an SVG chart
// for 30 days, or 90 with ?days=90 (anything else: 30), with the numbers in a table; the Active
// Deploy Tokens list has a sparkline per token; token names are escaped in every chart.
func TestUsageChartOverHTTP(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := "/" + top.FullPath
	const name = `<script>x</script>"&`
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, map[string]any{"name": name})
	for range 2 {
		if st := ts.InfoRefs(t, top.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
			t.Fatalf("git: %d", st)
		}
	}
	// Refused three times out of its reach: one audit row, then a summary of two. Refused
	// requests are requests too (the token authenticated them).
	for range 3 {
		if st := ts.InfoRefs(t, f.Projects["sibling"].FullPath, tok.Username, tok.Token).Status; st == http.StatusOK {
			t.Fatal("a project token read another group's project")
		}
	}
	ts.Server.Usage.Flush()
	if err := ts.Server.Audit.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	u, _ := signIn(t, ts, "root", rootPassword(ts))
	today := ts.Clock.Now().UTC().Format("2006-01-02")

	r := u.get(usagePath(base, tok.ID))
	if r.status != http.StatusOK {
		t.Fatalf("usage: %d", r.status)
	}
	mustContain(t, "usage chart", r.body,
		`<svg class="chart usage-chart" viewBox="0 0 720 220" role="img" aria-labelledby="usage-chart-title usage-chart-desc"`,
		`<title id="usage-chart-title">Requests and refusals per day of &lt;script&gt;x&lt;/script&gt;&#34;&amp;, last 30 days</title>`,
		`<desc id="usage-chart-desc">5 requests and 3 refusals in all.`,
		`<title>`+today+`: 5 requests, 3 refusals</title>`,
		`<a class="btn btn-current" href="`+usagePath(base, tok.ID)+`?days=30" aria-current="page">30 days</a>`,
		`<details class="numbers" id="usage-numbers">`,
		`<td class="num">5</td><td class="num">3</td></tr>`, "5 in all, of which 3 were refused")
	if strings.Contains(r.body, "<script>x") {
		t.Error("the token's name is not escaped")
	}
	if n := strings.Count(r.body, `<g class="chart-day"`); n != 30 {
		t.Errorf("30-day chart draws %d days", n)
	}
	for query, want := range map[string]int{"?days=90": 90, "?days=7": 30, "?days=x": 30} {
		r := u.get(usagePath(base, tok.ID) + query)
		if n := strings.Count(r.body, `<g class="chart-day"`); r.status != http.StatusOK || n != want {
			t.Errorf("%s: %d, %d days drawn, want %d", query, r.status, n, want)
		}
	}

	list := u.get(settingsPath(top.FullPath))
	mustContain(t, "sparkline", list.body,
		`<a class="sparkline-link" href="`+usagePath(base, tok.ID)+`"><svg class="chart sparkline"`,
		`aria-label="Requests with &lt;script&gt;x&lt;/script&gt;&#34;&amp;: 5 requests in the last 30 days, at most 5 a day"`)
	if strings.Contains(list.body, "<script>x") {
		t.Error("the token's name is not escaped in the list")
	}

	t.Run("fail/developer", func(t *testing.T) {
		dev := createUser(t, ts, "dev", "password-1234")
		addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), dev, 30)
		d, _ := signIn(t, ts, "dev", "password-1234")
		for _, p := range []string{usagePath(base, tok.ID) + "?days=90", settingsPath(top.FullPath)} {
			if r := d.get(p); r.status != http.StatusNotFound || strings.Contains(r.body, "chart") {
				t.Errorf("%s: %d", p, r.status)
			}
		}
	})
	t.Run("fail/anonymous", func(t *testing.T) {
		if r := newUIClient(t, ts).get(usagePath(base, tok.ID) + "?days=90"); r.status != http.StatusSeeOther {
			t.Errorf("%d", r.status)
		}
	})
}
