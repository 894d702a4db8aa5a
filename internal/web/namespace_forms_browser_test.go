package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestBrowserNamespaceForms is the day-one flow of docs/design.md §6.9 in Chromium: create a
// group, a subgroup and a project in it through the forms (the path following the name as it is
// typed), push to the empty project as its page says, rename it, transfer it, and delete it and
// the group with the path typed to confirm (a wrong text refused first).
func TestBrowserNamespaceForms(t *testing.T) {
	ts := testenv.StartServer(t)
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))

	// New group, from the home page's button; the slug follows the name.
	run(t, ctx, "new group",
		chromedp.Click(chromedp.ID("new-group")),
		chromedp.WaitVisible(chromedp.ID("group-name")),
		chromedp.SendKeys(chromedp.ID("group-name"), "Platform Team"),
	)
	if slug := read(t, ctx, "group slug", chromedp.Value(chromedp.ID("group-path"))); slug != "platform-team" {
		t.Fatalf("group slug = %q, want platform-team", slug)
	}
	run(t, ctx, "create group",
		shots.shot("10-new-group"),
		chromedp.Click(chromedp.ID("create-group")),
		chromedp.WaitVisible(chromedp.ID("group-empty")),
		shots.shot("11-empty-group"),
	)
	if notice := read(t, ctx, "notice", chromedp.Text(chromedp.CSS(".notice"))); !strings.Contains(notice, "Group 'Platform Team' was successfully created.") {
		t.Fatalf("notice = %q", notice)
	}

	// New subgroup: the parent is private, so public and internal are not offered.
	run(t, ctx, "new subgroup",
		chromedp.Click(chromedp.ID("new-subgroup")),
		chromedp.WaitVisible(chromedp.ID("group-name")),
		chromedp.SendKeys(chromedp.ID("group-name"), "Backend Services"),
	)
	if !read(t, ctx, "public disabled", chromedp.Evaluate[bool](`document.getElementById("visibility-public").disabled`)) {
		t.Fatal("public offered below a private group")
	}
	run(t, ctx, "create subgroup",
		shots.shot("12-new-subgroup"),
		chromedp.Click(chromedp.ID("create-group")),
		chromedp.WaitVisible(chromedp.ID("group-empty")),
	)
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/groups/platform-team/backend-services?created=1") {
		t.Fatalf("subgroup page at %s", loc)
	}

	// New project in the subgroup, from its button.
	run(t, ctx, "new project",
		chromedp.Click(chromedp.ID("new-project")),
		chromedp.WaitVisible(chromedp.ID("project-name")),
		chromedp.SendKeys(chromedp.ID("project-name"), "Billing API"),
	)
	if slug := read(t, ctx, "project slug", chromedp.Value(chromedp.ID("project-path"))); slug != "billing-api" {
		t.Fatalf("project slug = %q, want billing-api", slug)
	}
	run(t, ctx, "create project",
		shots.shot("13-new-project"),
		chromedp.Click(chromedp.ID("create-project")),
		chromedp.WaitVisible(chromedp.ID("empty-repository")),
		shots.shot("14-empty-project"),
	)
	commands := read(t, ctx, "push commands", chromedp.Text(chromedp.ID("empty-repository")))
	clone := ts.URL + "/platform-team/backend-services/billing-api.git"
	if !strings.Contains(commands, "git remote add origin "+clone) || !strings.Contains(commands, "git push --set-upstream origin --all") {
		t.Fatalf("push commands:\n%s", commands)
	}
	// Pushing as the page says ends the empty state.
	pushReadme(t, ts, "platform-team/backend-services/billing-api")
	run(t, ctx, "pushed",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("project-settings")),
		chromedp.WaitNotPresent(chromedp.ID("empty-repository")),
	)

	// Rename in Settings › General.
	run(t, ctx, "rename",
		chromedp.Click(chromedp.ID("project-settings")),
		chromedp.WaitVisible(chromedp.ID("project-name")),
		shots.shot("15-project-settings"),
		chromedp.Clear(chromedp.ID("project-name")),
		chromedp.SendKeys(chromedp.ID("project-name"), "Billing Service"),
		chromedp.Click(chromedp.ID("save-general")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice := read(t, ctx, "notice", chromedp.Text(chromedp.CSS(".notice"))); !strings.Contains(notice, "'Billing Service' was successfully updated") {
		t.Fatalf("rename notice = %q", notice)
	}

	// Transfer to the parent group: a wrong confirmation is refused and keeps the choice.
	target := read(t, ctx, "target", chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("#new-namespace option")).find(o => o.text === "platform-team").value`))
	run(t, ctx, "transfer refused",
		chromedp.SetValue(chromedp.ID("new-namespace"), target),
		chromedp.SendKeys(chromedp.ID("confirm-transfer"), "billing-api"),
		chromedp.Click(chromedp.ID("transfer-project")),
		chromedp.WaitVisible(chromedp.ID("confirm-transfer-error")),
		shots.shot("16-transfer-refused"),
	)
	if v := read(t, ctx, "kept choice", chromedp.Value(chromedp.ID("new-namespace"))); v != target {
		t.Fatalf("the transfer target was not kept: %q", v)
	}
	run(t, ctx, "transfer",
		chromedp.Clear(chromedp.ID("confirm-transfer")),
		chromedp.SendKeys(chromedp.ID("confirm-transfer"), "platform-team/backend-services/billing-api"),
		chromedp.Click(chromedp.ID("transfer-project")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/platform-team/billing-api/edit?transferred=1") {
		t.Fatalf("after the transfer at %s", loc)
	}
	if ok, out := cloneWith(t, ts, "platform-team/billing-api", "root", ts.RootToken); !ok {
		t.Fatalf("clone at the new path: %s", out)
	}

	// Delete: wrong text refused, then the path typed.
	run(t, ctx, "delete refused",
		chromedp.SendKeys(chromedp.ID("confirm-delete"), "Platform-Team/billing-api"),
		chromedp.Click(chromedp.ID("delete-project")),
		chromedp.WaitVisible(chromedp.ID("confirm-delete-error")),
	)
	run(t, ctx, "delete",
		chromedp.Clear(chromedp.ID("confirm-delete")),
		chromedp.SendKeys(chromedp.ID("confirm-delete"), "platform-team/billing-api"),
		shots.shot("17-delete-project"),
		chromedp.Click(chromedp.ID("delete-project")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice := read(t, ctx, "notice", chromedp.Text(chromedp.CSS(".notice"))); notice != "The project was deleted." {
		t.Fatalf("delete notice = %q", notice)
	}

	// The group's settings at phone width, then the group deleted with what is below it.
	run(t, ctx, "group settings",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.URL+"/groups/platform-team/-/edit"),
		chromedp.WaitVisible(chromedp.ID("delete-group")),
		shots.shot("18-group-settings-phone"),
		chromedp.EmulateViewport(1280, 900),
		chromedp.SendKeys(chromedp.ID("confirm-delete"), "platform-team"),
		chromedp.Click(chromedp.ID("delete-group")),
		chromedp.WaitVisible(chromedp.ID("home-empty")),
		shots.shot("19-home-after-delete"),
	)
}
