package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// signInAs signs in through the form as login, after signing out whoever is signed in; shot
// prefixes the screenshots' names.
func signInAs(t *testing.T, ctx context.Context, ts *testenv.TestServer, shots shooter, shot, login, password string) {
	t.Helper()
	signOut(t, ctx, ts)
	run(t, ctx, "sign in as "+login,
		chromedp.Navigate(ts.URL+"/users/sign_in"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/users/sign_in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("projects-heading")),
		shots.shot(shot),
	)
}

// signOut presses "Sign out" when someone is signed in.
func signOut(t *testing.T, ctx context.Context, ts *testenv.TestServer) {
	t.Helper()
	run(t, ctx, "home", chromedp.Navigate(ts.URL+"/"), chromedp.WaitReady(chromedp.CSS("main")))
	if read(t, ctx, "signed in", chromedp.Evaluate[bool](`document.querySelector('form[action="/users/sign_out"]') !== null`)) {
		run(t, ctx, "sign out",
			chromedp.Click(chromedp.CSS(`form[action="/users/sign_out"] button`)),
			chromedp.WaitVisible(chromedp.ID("login")))
	}
}

// TestBrowserMembers: the group's owner opens Members from the project page, invites a user as
// Reporter, changes them to Developer; the member signs in and sees the project but not its
// settings.
func TestBrowserMembers(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	bob := ts.CreateUser(t, "bob")
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}

	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))
	members := ts.URL + "/" + top.FullPath + "/-/project_members"
	run(t, ctx, "members page",
		chromedp.Navigate(ts.URL+"/"+top.FullPath),
		chromedp.WaitVisible(chromedp.ID("members-link")),
		chromedp.Click(chromedp.ID("members-link")),
		chromedp.WaitVisible(chromedp.ID("invite-form")),
		shots.shot("members"),
		chromedp.SendKeys(chromedp.ID("invite-username"), "bob"),
		chromedp.SetValue(chromedp.ID("invite-access-level"), "20"),
		shots.shot("invite-form"),
		chromedp.Click(chromedp.ID("invite-submit")),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#role-%d`, bob.ID))),
		shots.shot("invited"),
	)
	row := read(t, ctx, "bob's row", chromedp.Text(chromedp.CSS(fmt.Sprintf(`tr[data-user-id="%d"]`, bob.ID))))
	role := read(t, ctx, "bob's role", chromedp.Value(chromedp.ID(fmt.Sprintf("role-%d", bob.ID))))
	if !strings.Contains(row, "@bob") || !strings.Contains(row, "Direct member") || role != "20" {
		t.Fatalf("invited row %q, role %q", row, role)
	}
	if inherited := read(t, ctx, "root's row", chromedp.Text(chromedp.CSS(`tr[data-username="root"]`))); !strings.Contains(inherited, "Inherited from group") {
		t.Fatalf("root's row: %q", inherited)
	}

	run(t, ctx, "change to Developer",
		chromedp.SetValue(chromedp.ID(fmt.Sprintf("role-%d", bob.ID)), "30"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Save role and expiration of bob"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)),
		shots.shot("changed"),
	)
	if role := read(t, ctx, "bob's role", chromedp.Value(chromedp.ID(fmt.Sprintf("role-%d", bob.ID)))); role != "30" {
		t.Fatalf("role after change = %q", role)
	}
	if notice := read(t, ctx, "notice", chromedp.Text(chromedp.CSS(`p.notice`))); !strings.Contains(notice, "saved") {
		t.Fatalf("notice %q", notice)
	}

	// The last owner cannot be removed: the page says why.
	run(t, ctx, "group members",
		chromedp.Navigate(ts.URL+"/groups/group/-/group_members"),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Remove root"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Remove root"]`)),
		chromedp.WaitVisible(chromedp.ID("error-summary")),
		shots.shot("last-owner"),
	)
	if msg := read(t, ctx, "error", chromedp.Text(chromedp.ID("error-summary"))); !strings.Contains(msg, "last owner") {
		t.Fatalf("last owner error: %q", msg)
	}

	// Bob, now a Developer, sees the project and its members, but neither its settings nor the
	// invite form.
	signInAs(t, ctx, ts, shots, "bob-home", "bob", "password-bob")
	run(t, ctx, "bob opens the project",
		chromedp.Click(chromedp.CSS(`a[href="/`+top.FullPath+`"]`)),
		chromedp.WaitVisible(chromedp.ID("clone-url")),
		shots.shot("bob-project"),
	)
	if settings := read(t, ctx, "settings link", chromedp.Evaluate[bool](`document.querySelector('a[href$="/-/settings/repository"]') !== null`)); settings {
		t.Fatal("a developer sees the settings link")
	}
	run(t, ctx, "bob's members view", chromedp.Navigate(members), chromedp.WaitVisible(chromedp.ID("members")), shots.shot("bob-members"))
	if invite := read(t, ctx, "invite form", chromedp.Evaluate[bool](`document.getElementById("invite-form") !== null`)); invite {
		t.Fatal("a developer sees the invite form")
	}
	run(t, ctx, "bob opens the settings", chromedp.Navigate(ts.URL+"/"+top.FullPath+"/-/settings/repository"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if h := read(t, ctx, "heading", chromedp.Text(chromedp.CSS("main h1"))); !strings.Contains(h, "not found") && !strings.Contains(h, "Forbidden") {
		t.Fatalf("a developer opened the settings: %q", h)
	}
	run(t, ctx, "phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(members), chromedp.WaitVisible(chromedp.ID("members")), shots.shot("mobile-members"))
}

// TestBrowserAdminUsers: root creates a user in the Admin area, blocks them (their sign-in is
// refused), and unblocks them (it works again).
func TestBrowserAdminUsers(t *testing.T) {
	ts := testenv.StartServer(t)
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))

	run(t, ctx, "create user",
		chromedp.Click(chromedp.CSS(`a.admin-link`)),
		chromedp.WaitVisible(chromedp.ID("admin-counts")),
		shots.shot("admin"),
		chromedp.Navigate(ts.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.ID("users")),
		shots.shot("users"),
		chromedp.Click(chromedp.ID("new-user-link")),
		chromedp.WaitVisible(chromedp.ID("new-user-form")),
		chromedp.SendKeys(chromedp.ID("user-name"), "Frank Example"),
		chromedp.SendKeys(chromedp.ID("user-username"), "frank"),
		chromedp.SendKeys(chromedp.ID("user-email"), "frank@example.com"),
		chromedp.SendKeys(chromedp.ID("user-password"), "frank-password"),
		shots.shot("new-user"),
		chromedp.Click(chromedp.ID("create-user")),
		chromedp.WaitVisible(chromedp.ID("user-facts")),
		shots.shot("user-created"),
	)
	if state := read(t, ctx, "state", chromedp.Text(chromedp.ID("user-state"))); state != "active" {
		t.Fatalf("new user's state %q", state)
	}
	run(t, ctx, "block",
		chromedp.Click(chromedp.ID("block-user")),
		chromedp.WaitVisible(chromedp.ID("unblock-user")),
		shots.shot("blocked"),
	)
	if state := read(t, ctx, "state", chromedp.Text(chromedp.ID("user-state"))); state != "blocked" {
		t.Fatalf("state after block %q", state)
	}

	signOut(t, ctx, ts)
	run(t, ctx, "blocked sign-in",
		chromedp.SendKeys(chromedp.ID("login"), "frank"),
		chromedp.SendKeys(chromedp.ID("password"), "frank-password"),
		chromedp.Click(chromedp.CSS(`form[action="/users/sign_in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("sign-in-error")),
		shots.shot("blocked-sign-in"),
	)

	signInAs(t, ctx, ts, shots, "root-again", "root", rootPassword(ts))
	run(t, ctx, "unblock",
		chromedp.Navigate(ts.URL+"/admin/users?search=frank"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/users/frank"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin/users/frank"]`)),
		chromedp.WaitVisible(chromedp.ID("unblock-user")),
		chromedp.Click(chromedp.ID("unblock-user")),
		chromedp.WaitVisible(chromedp.ID("block-user")),
	)
	signInAs(t, ctx, ts, shots, "frank-home", "frank", "frank-password")
	if admin := read(t, ctx, "admin link", chromedp.Evaluate[bool](`document.querySelector("a.admin-link") !== null`)); admin {
		t.Fatal("a regular user sees the Admin link")
	}

	signInAs(t, ctx, ts, shots, "root-last", "root", rootPassword(ts))
	run(t, ctx, "settings and system info",
		chromedp.Navigate(ts.URL+"/admin/application_settings"),
		chromedp.WaitVisible(chromedp.ID("config-settings")),
		shots.shot("settings"),
		chromedp.Navigate(ts.URL+"/admin/system_info"),
		chromedp.WaitVisible(chromedp.ID("jobs")),
		shots.shot("system-info"),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.ID("users")),
		shots.shot("mobile-users"),
	)
}
