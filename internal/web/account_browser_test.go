package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// pushWith pushes a commit with README.md to a project as root with secret (a password or a
// personal access token), and reports whether the push worked.
func pushWith(t *testing.T, ts *testenv.TestServer, fullPath, secret, text string) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"config", "user.email", "root@example.com"}, {"config", "user.name", "root"}} {
		if out, err := testenv.RunGit(t, dir, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "README.md"}, {"commit", "-q", "-m", text}} {
		if out, err := testenv.RunGit(t, dir, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := testenv.RunGit(t, dir, "push", "-q", "--force", ts.GitURL(fullPath, "root", secret), "main")
	return err == nil, out
}

// TestBrowserFirstSignInAndPersonalAccessToken is a new instance's first minutes in Chromium:
// root signs in with the printed password and is sent to set a new one; then creates a personal
// access token from the User settings menu, pushes with it using git and reads GET /api/v4/user
// with it, revokes it, and both are refused.
func TestBrowserFirstSignInAndPersonalAccessToken(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) { c.RootPassword = "" })
	m := printedPassRE.FindStringSubmatch(ts.Logs())
	if m == nil {
		t.Fatal("no initial password printed")
	}
	printed := m[1]
	top := ts.MakeFixture(t).Projects["top"].FullPath
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	t.Logf("screenshots in %s", shots.dir)

	run(t, ctx, "first sign-in",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "root"),
		chromedp.SendKeys(chromedp.ID("password"), printed),
		chromedp.Click(chromedp.CSS(`form[action="/users/sign_in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("password-forced")),
		shots.shot("01-set-up-new-password"),
	)
	if heading := read(t, ctx, "heading", chromedp.Text(chromedp.ID("password-heading"))); heading != "Set up new password" {
		t.Fatalf("forced page heading: %q", heading)
	}
	run(t, ctx, "home still leads to the password page",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("password-forced")),
	)
	const chosen = "root-chose-this-one"
	run(t, ctx, "wrong confirmation",
		chromedp.SendKeys(chromedp.ID("current-password"), printed),
		chromedp.SendKeys(chromedp.ID("new-password"), chosen),
		chromedp.SendKeys(chromedp.ID("password-confirmation"), "something else"),
		chromedp.Click(chromedp.ID("save-password")),
		chromedp.WaitVisible(chromedp.ID("error-summary")),
		shots.shot("02-password-error"),
	)
	if msg := read(t, ctx, "error", chromedp.Text(chromedp.ID("password-confirmation-error"))); !strings.Contains(msg, "doesn't match") {
		t.Fatalf("confirmation error: %q", msg)
	}
	run(t, ctx, "change the password",
		chromedp.SendKeys(chromedp.ID("current-password"), printed),
		chromedp.SendKeys(chromedp.ID("new-password"), chosen),
		chromedp.SendKeys(chromedp.ID("password-confirmation"), chosen),
		chromedp.Click(chromedp.ID("save-password")),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)),
		shots.shot("03-password-changed"),
	)

	// From the header's User settings menu to Access tokens.
	run(t, ctx, "user settings menu",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("projects-heading")),
		chromedp.Click(chromedp.CSS(`.user-menu > summary`)),
		chromedp.WaitVisible(chromedp.CSS(`.user-menu a[href="/-/user_settings/personal_access_tokens"]`)),
		shots.shot("04-user-menu"),
		chromedp.Click(chromedp.CSS(`.user-menu a[href="/-/user_settings/personal_access_tokens"]`)),
		chromedp.WaitVisible(chromedp.ID("active-pats")),
		// root's bootstrap token is listed, so "Add new token" starts closed.
		chromedp.Click(chromedp.CSS(`#add-pat > summary`)),
		chromedp.WaitVisible(chromedp.ID("pat-name")),
		shots.shot("05-access-tokens"),
	)
	const name = "laptop git"
	run(t, ctx, "create a token",
		chromedp.SendKeys(chromedp.ID("pat-name"), name),
		chromedp.Click(chromedp.ID("pat-scope-write_repository")),
		chromedp.Click(chromedp.ID("pat-scope-read_user")),
		shots.shot("06-add-token-form"),
		chromedp.Click(chromedp.ID("create-pat")),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy-target="new-token-value"]`)),
		chromedp.Click(chromedp.CSS(`button[data-copy-target="new-token-value"]`)),
	)
	copied := read(t, ctx, "copy status", chromedp.Poll[string](
		`(document.getElementById("copy-status").textContent || false)`, chromedp.WithPollingTimeout(10*time.Second)))
	run(t, ctx, "screenshot", shots.shot("07-token-created"))
	pat := read(t, ctx, "token", chromedp.Value(chromedp.ID("new-token-value")))
	readonly := read(t, ctx, "read-only", chromedp.Evaluate[bool](`document.getElementById("new-token-value").readOnly`))
	if !strings.HasPrefix(pat, "glpat-") || !readonly || !strings.Contains(strings.ToLower(copied), "cop") {
		t.Fatalf("new token: glpat- %v, read-only %v, copy status %q", strings.HasPrefix(pat, "glpat-"), readonly, copied)
	}
	active := read(t, ctx, "active tokens", chromedp.Text(chromedp.ID("active-pats")))
	for _, want := range []string{name, "read_user, write_repository", "Never"} {
		if !strings.Contains(active, want) {
			t.Errorf("active row lacks %q: %q", want, active)
		}
	}

	// The token works with the real git client and the REST API.
	if ok, out := pushWith(t, ts, top, pat, "pushed with a token made in the browser"); !ok {
		t.Fatalf("ok/push with the new token failed: %s", out)
	}
	var me struct {
		Username string `json:"username"`
	}
	if status := ts.APIAs(t, pat, http.MethodGet, "/user", nil, &me); status != http.StatusOK || me.Username != "root" {
		t.Fatalf("ok/GET /api/v4/user with the new token: %d %q", status, me.Username)
	}
	if ok, _ := pushWith(t, ts, top, printed, "pushed with the printed password"); ok {
		t.Fatal("fail/the printed password still pushes")
	}

	// Rotate: the new secret is shown once, the old one stops working.
	run(t, ctx, "rotate",
		chromedp.Navigate(ts.URL+"/-/user_settings/personal_access_tokens"),
		chromedp.WaitVisible(chromedp.ID("active-pats")),
		chromedp.Click(chromedp.CSS(`#active-pats a[aria-label="Rotate `+name+`"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-rotate")),
		shots.shot("08-rotate-confirmation"),
		chromedp.Click(chromedp.ID("confirm-rotate")),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
		shots.shot("09-rotated"),
	)
	rotated := read(t, ctx, "rotated token", chromedp.Value(chromedp.ID("new-token-value")))
	if !strings.HasPrefix(rotated, "glpat-") || rotated == pat {
		t.Fatal("no new secret after rotation")
	}
	if ok, _ := pushWith(t, ts, top, pat, "pushed with the rotated-away token"); ok {
		t.Fatal("fail/push with the token rotated away worked")
	}
	if ok, out := pushWith(t, ts, top, rotated, "pushed with the rotated token"); !ok {
		t.Fatalf("ok/push with the rotated token failed: %s", out)
	}
	pat = rotated

	run(t, ctx, "revoke",
		chromedp.Navigate(ts.URL+"/-/user_settings/personal_access_tokens"),
		chromedp.WaitVisible(chromedp.ID("active-pats")),
		chromedp.Click(chromedp.CSS(`#active-pats a[aria-label="Revoke `+name+`"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-revoke")),
		shots.shot("10-revoke-confirmation"),
		chromedp.Click(chromedp.ID("confirm-revoke")),
		chromedp.WaitVisible(chromedp.ID("inactive-pats")),
		shots.shot("11-revoked"),
	)
	if inactive := read(t, ctx, "inactive", chromedp.Text(chromedp.ID("inactive-pats"))); strings.Count(inactive, name) != 2 || !strings.Contains(inactive, "Revoked") {
		t.Fatalf("inactive list: %q", inactive)
	}
	if ok, _ := pushWith(t, ts, top, pat, "pushed with a revoked token"); ok {
		t.Fatal("fail/push with the revoked token worked")
	}
	if status := ts.APIAs(t, pat, http.MethodGet, "/user", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("fail/GET /api/v4/user with the revoked token: %d", status)
	}

	run(t, ctx, "narrow screen",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.URL+"/-/user_settings/personal_access_tokens"),
		chromedp.WaitVisible(chromedp.ID("pats-heading")),
		shots.shot("12-mobile-access-tokens"),
		chromedp.Navigate(ts.URL+"/-/user_settings/password/edit"),
		chromedp.WaitVisible(chromedp.ID("password-heading")),
		shots.shot("13-mobile-password"),
	)
}
