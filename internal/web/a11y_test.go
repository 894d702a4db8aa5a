package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The accessibility harness of the browser tests (docs/design.md §6.9): checkPage looks at the
// page the browser is on at a desktop's and a phone's size, keeps a screenshot of each, and runs
// axe-core (from the npm registry, pinned in testdata/axe/package-lock.json; .ci/run installs it
// with npm ci) in the page, failing the test on every violation of serious or critical impact.

// axeScript is testdata/axe/node_modules/axe-core/axe.min.js, read once.
var axeScript = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
})

// axeSource returns axe-core's script, skipping the test without it (failing it under CI=true).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := axeScript()
	if err != nil {
		testenv.Missing(t, "axe-core is not installed (run npm ci in internal/web/testdata/axe): %v", err)
	}
	return string(b)
}

// viewports are the sizes every page is looked at: a laptop's and a phone's (390×844).
var viewports = []struct {
	name          string
	width, height int64
}{{"phone", 390, 844}, {"desktop", 1280, 800}}

// axeViolation is what the test prints of one axe-core violation.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// wideElements names the outermost elements that reach past the viewport's right edge.
const wideElements = `(function () {
  var w = document.documentElement.clientWidth;
  function clipped(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") { return true; }
    }
    return false;
  }
  return Array.prototype.filter.call(document.querySelectorAll("body *"), function (el) {
    return el.getBoundingClientRect().right > w + 1 && !clipped(el);
  }).slice(0, 8).map(function (el) {
    var r = el.getBoundingClientRect();
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "") +
      " (" + Math.round(r.left) + "–" + Math.round(r.right) + " px)";
  }).join(", ");
})()`

// axeRun runs axe-core over the whole document and returns the serious and critical violations.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  return JSON.stringify(r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; }).map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, nodes: v.nodes.map(function (n) {
      return {target: n.target, html: n.html, summary: n.failureSummary};
    })};
  }));
})`

// checkPage checks the page the browser shows: at each viewport it saves a full-page screenshot
// (<test>-<name>-<viewport>.png), fails when the page is wider than a phone's screen (wide
// content must scroll in its own container), and fails on any serious or critical axe-core
// violation, printing the rule, its help and the offending nodes. It leaves the browser at the
// desktop size.
func checkPage(t *testing.T, ctx context.Context, shots shooter, name string) {
	t.Helper()
	src := axeSource(t)
	for _, vp := range viewports {
		run(t, ctx, name+" at "+vp.name, chromedp.EmulateViewport(vp.width, vp.height), shots.shot(name+"-"+vp.name))
		if vp.name == "phone" {
			width := read(t, ctx, "page width", chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
			if width > vp.width {
				wide := read(t, ctx, "wide elements", chromedp.Evaluate[string](wideElements))
				t.Errorf("%s: the page is %d px wide on a %d px phone screen (it scrolls sideways): %s", name, width, vp.width, wide)
			}
		}
		if !read(t, ctx, "axe loaded", chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
			run(t, ctx, "inject axe-core", chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := chromedp.Evaluate[any](src+"\n;true")(ctx, tg)
				return chromedp.Void{}, err
			}))
		}
		out := read(t, ctx, "axe-core", chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
		var violations []axeViolation
		if err := json.Unmarshal([]byte(out), &violations); err != nil {
			t.Fatalf("axe-core result: %v: %s", err, out)
		}
		for _, v := range violations {
			var b strings.Builder
			fmt.Fprintf(&b, "%s at %s: axe-core %s violation %q: %s (%s)", name, vp.name, v.Impact, v.ID, v.Help, v.HelpURL)
			for _, n := range v.Nodes {
				fmt.Fprintf(&b, "\n    %v %s\n      %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      "))
			}
			t.Error(b.String())
		}
	}
}

// TestBrowserAccessibility walks every page of the UI in Chromium as root, with content on each
// (a token with usage, refusals and an allow-list; audit events; a form with errors), and checks
// each with checkPage.
func TestBrowserAccessibility(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	pushReadme(t, ts, top.FullPath)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository", "read_registry"},
		map[string]any{"name": "ci pull", "allowed_ips": []string{"127.0.0.1/32", "10.0.0.0/8"}})
	if ok, out := cloneWith(t, ts, top.FullPath, tok.Username, tok.Token); !ok {
		t.Fatalf("clone: %s", out)
	}
	registryOnly := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_registry"}, map[string]any{"name": "registry only"})
	if ok, _ := cloneWith(t, ts, top.FullPath, registryOnly.Username, registryOnly.Token); ok {
		t.Fatal("a read_registry token cloned")
	}
	// Out of its reach: a refusal, counted on the token's usage.
	if ok, _ := cloneWith(t, ts, f.Projects["sibling"].FullPath, tok.Username, tok.Token); ok {
		t.Fatal("a project token cloned another group's project")
	}
	ts.Server.Usage.Flush()
	if err := ts.Server.Audit.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	pkg, err := ts.Server.Packages.AddFile(context.Background(), packages.Upload{ProjectID: top.ID, Format: packages.Generic,
		Name: "my-tool", Version: "1.2.3", Filename: "tool.tar.gz", Size: -1, Body: strings.NewReader("tool bytes")})
	if err != nil {
		t.Fatal(err)
	}
	packageID := pkg.Version.ID
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	base := ts.URL + "/" + top.FullPath

	run(t, ctx, "sign-in page", chromedp.Navigate(ts.URL+"/users/sign_in"), chromedp.WaitVisible(chromedp.ID("login")))
	checkPage(t, ctx, shots, "sign-in")
	run(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("login"), "root"),
		chromedp.SendKeys(chromedp.ID("password"), rootPassword(ts)),
		chromedp.Click(chromedp.CSS(`form[action="/users/sign_in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("projects-heading")))
	checkPage(t, ctx, shots, "home")

	pages := []struct{ name, url, ready string }{
		{"group", ts.URL + "/groups/group", "subgroups-heading"},
		{"project", base, "clone-url"},
		{"deploy-tokens", base + "/-/settings/repository", "active-tokens"},
		{"revoke", ts.URL + revokePath("/"+top.FullPath, tok.ID), "confirm-revoke"},
		{"rotate", ts.URL + rotatePath("/"+top.FullPath, tok.ID), "confirm-rotate"},
		{"usage", ts.URL + usagePath("/"+top.FullPath, tok.ID), "usage-chart"},
		{"audit-events", ts.URL + auditPath("/"+top.FullPath), "audit-events"},
		{"group-deploy-tokens", ts.URL + "/groups/group/-/settings/repository", "deploy-tokens-heading"},
		{"error-404", ts.URL + "/group/no-such-project", "content"},
		// User settings, the new forms and settings, members, the Admin area and the project pages.
		{"personal-access-tokens", ts.URL + "/-/user_settings/personal_access_tokens", "pats-heading"},
		{"password", ts.URL + "/-/user_settings/password/edit", "password-heading"},
		{"group-new", ts.URL + "/groups/new", "group-name"},
		{"subgroup-new", ts.URL + fmt.Sprintf("/groups/new?parent_id=%d", f.GroupID), "group-name"},
		{"project-new", ts.URL + "/projects/new", "project-name"},
		{"group-edit", ts.URL + "/groups/group/-/edit", "group-name"},
		{"project-edit", base + "/edit", "project-name"},
		{"group-members", ts.URL + "/groups/group/-/group_members", "invite-form"},
		{"project-members", base + "/-/project_members", "invite-form"},
		{"admin", ts.URL + "/admin", "admin-counts"},
		{"admin-users", ts.URL + "/admin/users", "users"},
		{"admin-user-new", ts.URL + "/admin/users/new", "new-user-form"},
		{"admin-user", ts.URL + "/admin/users/root", "password-heading"},
		{"admin-settings", ts.URL + "/admin/application_settings", "settings-form"},
		{"admin-system-info", ts.URL + "/admin/system_info", "jobs"},
		{"tree", base + "/-/tree/main", "content"},
		{"blob", base + "/-/blob/main/README.md", "content"},
		{"container-registry", base + "/-/container_registry", "content"},
		{"packages", base + "/-/packages", "content"},
		{"package", base + fmt.Sprintf("/-/packages/%d", packageID), "files-heading"},
	}
	for _, p := range pages {
		run(t, ctx, p.name, chromedp.Navigate(p.url), chromedp.WaitVisible(chromedp.ID(p.ready)))
		checkPage(t, ctx, shots, p.name)
	}

	// The disclosures open: the add-token form with its errors, and the usage numbers.
	run(t, ctx, "form errors",
		chromedp.Navigate(base+"/-/settings/repository"),
		chromedp.Click(chromedp.CSS(`#add-token > summary`)),
		chromedp.Click(chromedp.CSS(`#add-token form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("error-summary")))
	checkPage(t, ctx, shots, "deploy-tokens-errors")
	run(t, ctx, "usage numbers",
		chromedp.Navigate(ts.URL+usagePath("/"+top.FullPath, tok.ID)),
		chromedp.Click(chromedp.CSS(`#usage-numbers > summary`)),
		chromedp.WaitVisible(chromedp.ID("usage-table")))
	checkPage(t, ctx, shots, "usage-numbers")
	today := read(t, ctx, "today's numbers", chromedp.Text(chromedp.CSS(`#usage-table tbody tr`)))
	if f := strings.Fields(today); len(f) != 3 || f[1] == "0" || f[2] != "1" {
		t.Errorf("today's requests and refusals: %q, want some requests and 1 refusal", today)
	}
	run(t, ctx, "90 days", chromedp.Click(chromedp.CSS(`.range-switch a[href$="?days=90"]`)), chromedp.WaitVisible(chromedp.ID("usage-chart")))
	if n := read(t, ctx, "days drawn", chromedp.Evaluate[int](`document.querySelectorAll("#usage-chart g.chart-day").length`)); n != 90 {
		t.Errorf("the 90-day chart draws %d days", n)
	}
	checkPage(t, ctx, shots, "usage-90-days")
}
