package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// These tests drive the UI in real headless Chromium (Debian's chromium package) with chromedp,
// and use what the page shows with the real git client. Screenshots of the main pages are kept
// in screenshotDir.

// screenshotDir is where the PNGs go: $GATEHOUSE_SCREENSHOTS, else artifacts/screenshots at the
// module root under CI=true (for CI to collect), else gatehouse-screenshots in the temp dir.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	switch {
	case dir != "":
	case testenv.InCI():
		dir = filepath.Join("..", "..", "artifacts", "screenshots")
	default:
		dir = filepath.Join(os.TempDir(), "gatehouse-screenshots")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	return abs
}

// browser starts headless Chromium for one test, quiet on a machine without internet access.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := testenv.Binary(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // launches the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shooter writes full-page screenshots as <dir>/<test>-<name>.png.
type shooter struct {
	t   *testing.T
	dir string
}

func (s shooter) shot(name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		file := filepath.Join(s.dir, strings.ReplaceAll(s.t.Name(), "/", "_")+"-"+name+".png")
		s.t.Logf("screenshot %s", file)
		return chromedp.Void{}, os.WriteFile(file, png, 0o644)
	}
}

// run runs steps in order and fails the test at the first error.
func run(t *testing.T, ctx context.Context, step string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// read runs one action that returns a value.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("read %s: %v", what, err)
	}
	return v
}

// pushReadme pushes one commit with README.md to a project as root.
func pushReadme(t *testing.T, ts *testenv.TestServer, fullPath string) {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"commit", "-q", "--allow-empty", "-m", "init"}} {
		if out, err := testenv.RunGit(t, dir, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("hello from "+fullPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "README.md"}, {"commit", "-q", "-m", "readme"},
		{"push", "-q", ts.GitURL(fullPath, "root", ts.RootToken), "main"}} {
		if out, err := testenv.RunGit(t, dir, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args[0], err, out)
		}
	}
}

// cloneWith clones a project with a deploy token and reports whether it worked (and README.md came).
func cloneWith(t *testing.T, ts *testenv.TestServer, fullPath, user, secret string) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	out, err := testenv.RunGit(t, dir, "clone", "-q", ts.GitURL(fullPath, user, secret), "repo")
	if err != nil {
		return false, out
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "README.md")); err != nil {
		t.Fatalf("clone of %s worked but has no README.md: %s", fullPath, out)
	}
	return true, out
}

// signInBrowser signs in through the form, as a person would.
func signInBrowser(t *testing.T, ctx context.Context, ts *testenv.TestServer, shots shooter, login, password string) {
	t.Helper()
	run(t, ctx, "sign in",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		shots.shot("01-sign-in"),
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/users/sign_in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("projects-heading")),
		shots.shot("02-home"),
	)
}

// createInBrowser opens Settings › Repository › Deploy tokens at settingsURL, selects "Add
// token", fills the form and returns the username and token the page shows once.
func createInBrowser(t *testing.T, ctx context.Context, shots shooter, settingsURL, name, username, expires string, scopes ...string) (string, string) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(settingsURL),
		chromedp.WaitVisible(chromedp.ID("deploy-tokens-heading")),
		chromedp.Click(chromedp.CSS(`#add-token > summary`)),
		chromedp.WaitVisible(chromedp.ID("deploy-token-name")),
		chromedp.SendKeys(chromedp.ID("deploy-token-name"), name),
	}
	if username != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("deploy-token-username"), username))
	}
	if expires != "" {
		steps = append(steps, chromedp.SetValue(chromedp.ID("deploy-token-expires-at"), expires))
	}
	for _, s := range scopes {
		steps = append(steps, chromedp.Click(chromedp.ID("deploy-token-scope-"+s)))
	}
	steps = append(steps,
		shots.shot("03-add-token-form"),
		chromedp.Click(chromedp.CSS(`#add-token form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
		// The copy button is the one piece of script: it appears, and answers when pressed.
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy-target="new-token-value"]`)),
		chromedp.Click(chromedp.CSS(`button[data-copy-target="new-token-value"]`)),
	)
	run(t, ctx, "create "+name, steps...)
	copied := read(t, ctx, "copy status", chromedp.Poll[string](
		`(document.getElementById("copy-status").textContent || false)`, chromedp.WithPollingTimeout(10*time.Second)))
	run(t, ctx, "screenshot", shots.shot("04-token-created"))
	gotUser := read(t, ctx, "username", chromedp.Value(chromedp.ID("new-token-username")))
	gotToken := read(t, ctx, "token", chromedp.Value(chromedp.ID("new-token-value")))
	warning := read(t, ctx, "warning", chromedp.Text(chromedp.ID("new-token-warning")))
	if !strings.HasPrefix(gotToken, "gldt-") || gotUser == "" {
		t.Fatalf("created token not shown: user %q, token prefix ok %v", gotUser, strings.HasPrefix(gotToken, "gldt-"))
	}
	if username != "" && gotUser != username {
		t.Fatalf("username = %q, want %q", gotUser, username)
	}
	if !strings.Contains(warning, "cannot see it again") {
		t.Fatalf("warning missing: %q", warning)
	}
	if !strings.Contains(strings.ToLower(copied), "cop") { // "Copied …", or "Could not copy …" where the clipboard is denied
		t.Fatalf("copy button status: %q", copied)
	}
	t.Logf("copy button: %s", copied)
	return gotUser, gotToken
}

// revokeInBrowser revokes the token called name from its Active Deploy Tokens row, through the
// confirmation page, and checks it then sits among the revoked tokens.
func revokeInBrowser(t *testing.T, ctx context.Context, shots shooter, settingsURL, name string) {
	t.Helper()
	run(t, ctx, "settings", chromedp.Navigate(settingsURL), chromedp.WaitVisible(chromedp.ID("active-tokens")))
	if read(t, ctx, "secret shown", chromedp.Evaluate[bool](`document.getElementById("new-token-value") !== null`)) {
		t.Fatal("the token's secret is shown again after a reload")
	}
	run(t, ctx, "revoke "+name,
		chromedp.Click(chromedp.CSS(`#active-tokens a[aria-label="Revoke `+name+`"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-revoke")),
		shots.shot("05-revoke-confirmation"),
	)
	if body := read(t, ctx, "confirmation", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "cannot be undone") {
		t.Fatalf("confirmation page: %q", body)
	}
	run(t, ctx, "confirm",
		chromedp.Click(chromedp.ID("confirm-revoke")),
		chromedp.WaitVisible(chromedp.ID("revoked-tokens")),
		shots.shot("06-revoked"),
	)
	if revoked := read(t, ctx, "revoked list", chromedp.Text(chromedp.ID("revoked-tokens"))); !strings.Contains(revoked, name) || !strings.Contains(revoked, "Revoked") {
		t.Fatalf("revoked list: %q", revoked)
	}
}

func TestBrowserProjectDeployToken(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"].FullPath
	pushReadme(t, ts, top)
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	t.Logf("screenshots in %s", shots.dir)

	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))
	// From the home page to the project, then its deploy-token settings, by links.
	run(t, ctx, "navigate",
		chromedp.Click(chromedp.CSS(`a[href="/`+top+`"]`)),
		chromedp.WaitVisible(chromedp.ID("clone-url")),
		shots.shot("project"),
		chromedp.Click(chromedp.CSS(`a[href="/`+top+`/-/settings/repository"]`)),
		chromedp.WaitVisible(chromedp.ID("deploy-tokens-heading")),
	)
	settings := ts.URL + "/" + top + "/-/settings/repository"
	user, secret := createInBrowser(t, ctx, shots, settings, "clone token", "", "", "read_repository")
	if !strings.HasPrefix(user, "gitlab+deploy-token-") {
		t.Fatalf("default username = %q", user)
	}
	if ok, out := cloneWith(t, ts, top, user, secret); !ok {
		t.Fatalf("ok/clone with the new token failed: %s", out)
	}
	revokeInBrowser(t, ctx, shots, settings, "clone token")
	if ok, _ := cloneWith(t, ts, top, user, secret); ok {
		t.Fatal("fail/clone with the revoked token worked")
	}
}

func TestBrowserGroupDeployToken(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	deep := f.Projects["grandchild"].FullPath
	pushReadme(t, ts, deep)
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}

	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))
	run(t, ctx, "group page",
		chromedp.Navigate(ts.URL+"/groups/group"),
		chromedp.WaitVisible(chromedp.ID("subgroups-heading")),
		shots.shot("group"),
	)
	settings := ts.URL + "/groups/group/-/settings/repository"
	expires := time.Now().UTC().AddDate(1, 0, 0).Format("2006-01-02")
	user, secret := createInBrowser(t, ctx, shots, settings, "group clone", "group-bot", expires, "read_repository", "read_registry")
	run(t, ctx, "settings", chromedp.Navigate(settings))
	active := read(t, ctx, "active tokens", chromedp.Text(chromedp.ID("active-tokens")))
	for _, want := range []string{"group clone", "group-bot", expires, "read_repository, read_registry", "Never"} {
		if !strings.Contains(active, want) {
			t.Errorf("active row lacks %q: %q", want, active)
		}
	}
	// A group token reaches projects at any depth below the group.
	if ok, out := cloneWith(t, ts, deep, user, secret); !ok {
		t.Fatalf("ok/clone with the group token failed: %s", out)
	}
	revokeInBrowser(t, ctx, shots, settings, "group clone")
	if ok, _ := cloneWith(t, ts, deep, user, secret); ok {
		t.Fatal("fail/clone with the revoked group token worked")
	}
}

func TestBrowserBadInput(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"].FullPath
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))
	settings := ts.URL + "/" + top + "/-/settings/repository"

	run(t, ctx, "empty form",
		chromedp.Navigate(settings),
		chromedp.Click(chromedp.CSS(`#add-token > summary`)),
		chromedp.Click(chromedp.CSS(`#add-token form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("error-summary")),
		shots.shot("errors"),
	)
	summary := read(t, ctx, "errors", chromedp.Text(chromedp.ID("error-summary")))
	for _, want := range []string{"Name is missing.", "Select at least one scope."} {
		if !strings.Contains(summary, want) {
			t.Errorf("errors lack %q: %q", want, summary)
		}
	}

	past := time.Now().UTC().AddDate(0, 0, -2).Format("2006-01-02")
	run(t, ctx, "past date",
		chromedp.SendKeys(chromedp.ID("deploy-token-name"), "keep me"),
		chromedp.SetValue(chromedp.ID("deploy-token-expires-at"), past),
		chromedp.Click(chromedp.ID("deploy-token-scope-read_package_registry")),
		chromedp.Click(chromedp.CSS(`#add-token form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("deploy-token-expires-at-error")),
	)
	dateErr := read(t, ctx, "date error", chromedp.Text(chromedp.ID("deploy-token-expires-at-error")))
	name := read(t, ctx, "name", chromedp.Value(chromedp.ID("deploy-token-name")))
	date := read(t, ctx, "date", chromedp.Value(chromedp.ID("deploy-token-expires-at")))
	checked := read(t, ctx, "scope", chromedp.Evaluate[bool](`document.getElementById("deploy-token-scope-read_package_registry").checked`))
	if !strings.Contains(dateErr, "must be in the future") || name != "keep me" || date != past || !checked {
		t.Fatalf("past date: error %q, kept name %q, date %q, scope checked %v", dateErr, name, date, checked)
	}

	// The responsive layout, at a phone's width.
	run(t, ctx, "narrow screen",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(settings),
		chromedp.WaitVisible(chromedp.ID("deploy-tokens-heading")),
		shots.shot("mobile-settings"),
	)
}

// TestBrowserRotateUsageAndAudit rotates a token from its row, reads the new secret from the page
// and clones with it, then opens the token's usage view and the audit events.
func TestBrowserRotateUsageAndAudit(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	pushReadme(t, ts, top.FullPath)
	old := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, map[string]any{"name": "rotating"})
	if ok, out := cloneWith(t, ts, top.FullPath, old.Username, old.Token); !ok {
		t.Fatalf("clone with the first secret: %s", out)
	}
	ts.Server.Usage.Flush() // last used and today's usage reach the store
	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))
	settings := ts.URL + "/" + top.FullPath + "/-/settings/repository"

	run(t, ctx, "rotate",
		chromedp.Navigate(settings),
		chromedp.WaitVisible(chromedp.ID("active-tokens")),
		shots.shot("settings-last-used"),
		chromedp.Click(chromedp.CSS(`#active-tokens a[aria-label="Rotate rotating"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-rotate")),
		chromedp.Click(chromedp.ID("grace-3600")),
		shots.shot("rotate-confirmation"),
		chromedp.Click(chromedp.ID("confirm-rotate")),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy-target="new-token-value"]`)),
		chromedp.Click(chromedp.CSS(`button[data-copy-target="new-token-value"]`)),
	)
	copied := read(t, ctx, "copy status", chromedp.Poll[string](
		`(document.getElementById("copy-status").textContent || false)`, chromedp.WithPollingTimeout(10*time.Second)))
	run(t, ctx, "screenshot", shots.shot("rotated"))
	secret := read(t, ctx, "token", chromedp.Value(chromedp.ID("new-token-value")))
	user := read(t, ctx, "username", chromedp.Value(chromedp.ID("new-token-username")))
	warning := read(t, ctx, "warning", chromedp.Text(chromedp.ID("new-token-warning")))
	notice := read(t, ctx, "notice", chromedp.Text(chromedp.CSS(`p.notice[role=status]`)))
	if !strings.HasPrefix(secret, "gldt-") || secret == old.Token || user != old.Username {
		t.Fatalf("rotated token not shown: user %q, new gldt- secret %v", user, strings.HasPrefix(secret, "gldt-") && secret != old.Token)
	}
	if !strings.Contains(warning, "cannot see it again") || !strings.Contains(notice, "keeps working until") ||
		!strings.Contains(strings.ToLower(copied), "cop") {
		t.Fatalf("warning %q, notice %q, copy status %q", warning, notice, copied)
	}
	if ok, out := cloneWith(t, ts, top.FullPath, user, secret); !ok {
		t.Fatalf("ok/clone with the rotated secret failed: %s", out)
	}
	if ok, out := cloneWith(t, ts, top.FullPath, user, old.Token); !ok {
		t.Fatalf("ok/clone with the old secret within the grace period failed: %s", out)
	}

	today := ts.Clock.Now().UTC().Format("2006-01-02")
	run(t, ctx, "usage",
		chromedp.Navigate(settings),
		chromedp.WaitVisible(chromedp.ID("active-tokens")),
		chromedp.Click(chromedp.CSS(`#active-tokens a[aria-label="Usage of rotating"]`)),
		chromedp.WaitVisible(chromedp.ID("usage-chart")),
		chromedp.Click(chromedp.CSS(`#usage-numbers > summary`)),
		chromedp.WaitVisible(chromedp.ID("usage-table")),
		shots.shot("usage"),
	)
	if first := read(t, ctx, "usage", chromedp.Text(chromedp.CSS(`#usage-table tbody tr`))); !strings.Contains(first, today) {
		t.Fatalf("usage's first row is not today: %q", first)
	}
	if last := read(t, ctx, "last used", chromedp.Text(chromedp.ID("last-used"))); !strings.Contains(last, "127.0.0.1") {
		t.Fatalf("last used: %q", last)
	}

	run(t, ctx, "audit events",
		chromedp.Navigate(settings),
		chromedp.Click(chromedp.ID("audit-events-link")),
		chromedp.WaitVisible(chromedp.ID("audit-events")),
		shots.shot("audit-events"),
	)
	events := read(t, ctx, "audit events", chromedp.Text(chromedp.ID("audit-events")))
	for _, want := range []string{"Deploy token rotated", "Deploy token created", "rotating", old.Username, "grace period 3600s"} {
		if !strings.Contains(events, want) {
			t.Errorf("audit events lack %q: %q", want, events)
		}
	}
	if html := read(t, ctx, "page", chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) || strings.Contains(html, old.Token) {
		t.Fatal("the audit page shows a secret")
	}
}
