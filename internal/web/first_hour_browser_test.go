package web_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestBrowserFirstHour is a new instance's first hour, done in Chromium by a person who never
// touches the API (issue 15): root signs in with the printed password and must change it; creates
// a group, a subgroup and a project through the forms; makes a personal access token and pushes
// with it using git; creates a deploy token and clones with it; creates a user in the Admin area
// and invites them as Reporter; the member signs in and sees exactly what a Reporter may; root
// revokes the deploy token (the clone is refused) and deletes the project. Every page on the way
// is checked by checkPage (axe-core, desktop and phone screenshots, no sideways scrolling).
func TestBrowserFirstHour(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) { c.RootPassword = "" })
	m := printedPassRE.FindStringSubmatch(ts.Logs())
	if m == nil {
		t.Fatal("no initial password printed")
	}
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	t.Logf("screenshots in %s", shots.dir)

	// 1. First sign-in: the printed password must be replaced before anything else.
	const rootPass = "a-password-root-chose"
	run(t, ctx, "first sign-in",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "root"),
		chromedp.SendKeys(chromedp.ID("password"), m[1]),
		chromedp.Click(chromedp.CSS(`form[action="/users/sign_in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("password-forced")))
	checkPage(t, ctx, shots, "01-set-up-new-password")
	run(t, ctx, "change the password",
		chromedp.SendKeys(chromedp.ID("current-password"), m[1]),
		chromedp.SendKeys(chromedp.ID("new-password"), rootPass),
		chromedp.SendKeys(chromedp.ID("password-confirmation"), rootPass),
		chromedp.Click(chromedp.ID("save-password")),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("new-group")))
	checkPage(t, ctx, shots, "02-empty-home")

	// 2. Group, subgroup and project through the forms.
	run(t, ctx, "new group",
		chromedp.Click(chromedp.ID("new-group")),
		chromedp.WaitVisible(chromedp.ID("group-name")),
		chromedp.SendKeys(chromedp.ID("group-name"), "Acme"))
	checkPage(t, ctx, shots, "03-new-group")
	run(t, ctx, "create group", chromedp.Click(chromedp.ID("create-group")), chromedp.WaitVisible(chromedp.ID("group-empty")))
	checkPage(t, ctx, shots, "04-empty-group")
	run(t, ctx, "new subgroup",
		chromedp.Click(chromedp.ID("new-subgroup")),
		chromedp.WaitVisible(chromedp.ID("group-name")),
		chromedp.SendKeys(chromedp.ID("group-name"), "Apps"),
		chromedp.Click(chromedp.ID("create-group")),
		chromedp.WaitVisible(chromedp.ID("group-empty")))
	run(t, ctx, "new project",
		chromedp.Click(chromedp.ID("new-project")),
		chromedp.WaitVisible(chromedp.ID("project-name")),
		chromedp.SendKeys(chromedp.ID("project-name"), "Web Shop"))
	checkPage(t, ctx, shots, "05-new-project")
	run(t, ctx, "create project", chromedp.Click(chromedp.ID("create-project")), chromedp.WaitVisible(chromedp.ID("empty-repository")))
	checkPage(t, ctx, shots, "06-empty-project")
	const project = "acme/apps/web-shop"
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/"+project) {
		t.Fatalf("the new project is at %s, want /%s", loc, project)
	}
	// A second project the member will not be invited to.
	run(t, ctx, "second project",
		chromedp.Navigate(ts.URL+"/groups/acme"),
		chromedp.WaitVisible(chromedp.ID("new-project")),
		chromedp.Click(chromedp.ID("new-project")),
		chromedp.WaitVisible(chromedp.ID("project-name")),
		chromedp.SendKeys(chromedp.ID("project-name"), "Secret"),
		chromedp.Click(chromedp.ID("create-project")),
		chromedp.WaitVisible(chromedp.ID("empty-repository")))

	// 3. A personal access token made in User settings pushes with git.
	run(t, ctx, "access tokens",
		chromedp.Click(chromedp.CSS(`.user-menu > summary`)),
		chromedp.Click(chromedp.CSS(`.user-menu a[href="/-/user_settings/personal_access_tokens"]`)),
		chromedp.WaitVisible(chromedp.ID("pats-heading")))
	if read(t, ctx, "form closed", chromedp.Evaluate[bool](`!document.getElementById("add-pat").open`)) {
		run(t, ctx, "open the form", chromedp.Click(chromedp.CSS(`#add-pat > summary`)))
	}
	run(t, ctx, "create a token",
		chromedp.WaitVisible(chromedp.ID("pat-name")),
		chromedp.SendKeys(chromedp.ID("pat-name"), "laptop"),
		chromedp.Click(chromedp.ID("pat-scope-write_repository")),
		chromedp.Click(chromedp.ID("create-pat")),
		chromedp.WaitVisible(chromedp.ID("new-token-value")))
	checkPage(t, ctx, shots, "07-token-created")
	pat := read(t, ctx, "token", chromedp.Value(chromedp.ID("new-token-value")))
	if ok, out := pushWith(t, ts, project, pat, "first commit"); !ok {
		t.Fatalf("push with the token made in the browser: %s", out)
	}
	run(t, ctx, "pushed", chromedp.Navigate(ts.URL+"/"+project), chromedp.WaitVisible(chromedp.ID("repository-heading")),
		chromedp.WaitNotPresent(chromedp.ID("empty-repository")))
	checkPage(t, ctx, shots, "08-project")

	// 4. A deploy token clones.
	settings := ts.URL + "/" + project + "/-/settings/repository"
	dtUser, dtToken := createInBrowser(t, ctx, shots, settings, "ci clone", "", "", "read_repository")
	checkPage(t, ctx, shots, "09-deploy-token-created")
	if ok, out := cloneWith(t, ts, project, dtUser, dtToken); !ok {
		t.Fatalf("clone with the deploy token made in the browser: %s", out)
	}

	// 5. A user made in the Admin area joins the project as Reporter.
	run(t, ctx, "create a user",
		chromedp.Navigate(ts.URL+"/admin/users/new"),
		chromedp.WaitVisible(chromedp.ID("new-user-form")),
		chromedp.SendKeys(chromedp.ID("user-name"), "Dana Reporter"),
		chromedp.SendKeys(chromedp.ID("user-username"), "dana"),
		chromedp.SendKeys(chromedp.ID("user-email"), "dana@example.com"),
		chromedp.SendKeys(chromedp.ID("user-password"), "dana-password"),
		chromedp.Click(chromedp.ID("create-user")),
		chromedp.WaitVisible(chromedp.ID("user-facts")))
	checkPage(t, ctx, shots, "10-user-created")
	run(t, ctx, "invite",
		chromedp.Navigate(ts.URL+"/"+project),
		chromedp.Click(chromedp.ID("members-link")),
		chromedp.WaitVisible(chromedp.ID("invite-form")),
		chromedp.SendKeys(chromedp.ID("invite-username"), "dana"),
		chromedp.SetValue(chromedp.ID("invite-access-level"), "20"),
		chromedp.Click(chromedp.ID("invite-submit")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-username="dana"]`)))
	checkPage(t, ctx, shots, "11-members")

	// 6. The Reporter sees the project and its code, not its settings, and not the other project.
	signInAs(t, ctx, ts, shots, "12-member-home", "dana", "dana-password")
	home := read(t, ctx, "member's home", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(home, project) || strings.Contains(home, "acme/secret") {
		t.Fatalf("the member's home page lists: %q", home)
	}
	run(t, ctx, "member's project", chromedp.Click(chromedp.CSS(`a[href="/`+project+`"]`)), chromedp.WaitVisible(chromedp.ID("clone-url")))
	checkPage(t, ctx, shots, "13-member-project")
	for _, sel := range []string{`a[href$="/-/settings/repository"]`, `#project-settings`} {
		if read(t, ctx, "control "+sel, chromedp.Evaluate[bool](`document.querySelector('`+sel+`') !== null`)) {
			t.Errorf("a Reporter is shown %s", sel)
		}
	}
	run(t, ctx, "member browses the code", chromedp.Navigate(ts.URL+"/"+project+"/-/blob/main/README.md"), chromedp.WaitVisible(chromedp.ID("content")))
	if body := read(t, ctx, "file", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "first commit") {
		t.Errorf("the Reporter's file view lacks the README: %q", body)
	}
	checkPage(t, ctx, shots, "14-member-file")
	session := read(t, ctx, "cookies", chromedp.Evaluate[string](`document.cookie`)) // HttpOnly: empty
	if session != "" {
		t.Errorf("the session cookie is readable by script: %q", session)
	}
	for path, want := range map[string]int{
		"/" + project + "/-/settings/repository": http.StatusNotFound, // as GitLab: settings are not shown to Reporters
		"/" + project + "/edit":                  http.StatusForbidden,
		"/acme/secret":                           http.StatusNotFound,
		"/admin":                                 http.StatusNotFound,
	} {
		run(t, ctx, "member opens "+path, chromedp.Navigate(ts.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if body := read(t, ctx, "page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "Error "+strconv.Itoa(want)) {
			t.Errorf("a Reporter opening %s sees %q, want error %d", path, body, want)
		}
	}

	// 7. Root revokes the deploy token (the next clone is refused) and deletes the project.
	signInAs(t, ctx, ts, shots, "15-root-again", "root", rootPass)
	revokeInBrowser(t, ctx, shots, settings, "ci clone")
	if ok, _ := cloneWith(t, ts, project, dtUser, dtToken); ok {
		t.Fatal("the revoked deploy token still clones")
	}
	run(t, ctx, "delete the project",
		chromedp.Navigate(ts.URL+"/"+project+"/edit"),
		chromedp.WaitVisible(chromedp.ID("confirm-delete")),
		chromedp.SendKeys(chromedp.ID("confirm-delete"), project),
		chromedp.Click(chromedp.ID("delete-project")),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	checkPage(t, ctx, shots, "16-deleted")
	if _, status := apiGetProject(t, ts, project); status != http.StatusNotFound {
		t.Fatalf("the deleted project answers %d through the API", status)
	}
	if ok, _ := pushWith(t, ts, project, pat, "after deletion"); ok {
		t.Fatal("a push to the deleted project worked")
	}
}
