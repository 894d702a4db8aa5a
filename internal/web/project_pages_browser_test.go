package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestBrowserProjectPages is a deploy-token user's tour of a project in Chromium: push with git,
// browse the tree, open a file (highlighted with the CSP-safe stylesheet), push an image with
// crane and find its pull command on the Container registry page, publish a generic package and
// find its install snippet on the Package registry page.
func TestBrowserProjectPages(t *testing.T) {
	ts := testenv.StartServer(t, testenv.Localhost)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	base := "/" + top.FullPath
	host := strings.TrimPrefix(ts.URL, "http://")
	pushBrowserRepo(t, ts, top.FullPath)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID),
		[]string{"read_registry", "write_registry", "read_package_registry", "write_package_registry"}, nil)

	crane, home := testenv.GoTool(t, "crane"), t.TempDir()
	testenv.MustRun(t, home, crane, "auth", "login", host, "-u", tok.Username, "-p", tok.Token)
	testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "layer.bin", 3000), "-t", host+"/group/top/app:v1")
	pkgPath := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool/1.0.0/tool.bin", top.ID)
	if status, body := testenv.RawRequest(t, ts.URL, http.MethodPut, pkgPath, tok.Token, []byte("tool bytes")); status != http.StatusCreated {
		t.Fatalf("publish the generic package: %d %s", status, body)
	}

	ctx := browser(t)
	shots := shooter{t: t, dir: screenshotDir(t)}
	signInBrowser(t, ctx, ts, shots, "root", rootPassword(ts))
	run(t, ctx, "overview and tree",
		chromedp.Click(chromedp.CSS(`a[href="`+base+`"]`)),
		chromedp.WaitVisible(chromedp.ID("clone-command")),
		shots.shot("10-project-overview"),
		chromedp.Click(chromedp.CSS(`a[href="`+base+`/-/tree/main"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.tree`)),
		shots.shot("11-tree"),
		chromedp.Click(chromedp.CSS(`a[href="`+base+`/-/tree/main/src"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+base+`/-/blob/main/src/main.go"]`)),
		chromedp.Click(chromedp.CSS(`a[href="`+base+`/-/blob/main/src/main.go"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.chroma .kd`)),
		shots.shot("12-file"),
	)
	// The highlighter's classes are styled: the stylesheet loaded under the CSP.
	color := read(t, ctx, "keyword colour", chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector(".chroma .kd")).color + "|" + getComputedStyle(document.querySelector(".chroma .cl") || document.body).color`))
	if kw, plain, _ := strings.Cut(color, "|"); kw == plain || kw == "" {
		t.Errorf("keywords are not coloured (chroma.css not applied): %q", color)
	}

	run(t, ctx, "switch to a branch with a slash",
		chromedp.Click(chromedp.CSS(`details.ref-switch > summary`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+base+`/-/blob/feature/x/src/main.go"]`)),
		shots.shot("13-ref-switch"),
		chromedp.Click(chromedp.CSS(`a[href="`+base+`/-/blob/feature/x/src/main.go"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.chroma .kd`)),
	)
	if ref := read(t, ctx, "ref", chromedp.Text(chromedp.CSS(`details.ref-switch > summary strong`))); ref != "feature/x" {
		t.Fatalf("ref after switching: %q", ref)
	}

	run(t, ctx, "container registry",
		chromedp.Navigate(ts.URL+base),
		chromedp.Click(chromedp.CSS(`a[href="`+base+`/-/container_registry"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.registry-tags`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy-target="pull-1"]`)),
		chromedp.Click(chromedp.CSS(`button[data-copy-target="pull-1"]`)),
		shots.shot("14-container-registry"),
	)
	if pull := read(t, ctx, "pull command", chromedp.Value(chromedp.ID("pull-1"))); pull != "docker pull "+host+"/group/top/app:v1" {
		t.Fatalf("pull command = %q", pull)
	}
	copied := read(t, ctx, "copy status", chromedp.Poll[string](`(document.getElementById("copy-status").textContent || false)`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if !strings.Contains(strings.ToLower(copied), "cop") {
		t.Errorf("copy status: %q", copied)
	}

	run(t, ctx, "package registry",
		chromedp.Navigate(ts.URL+base),
		chromedp.Click(chromedp.CSS(`a[href="`+base+`/-/packages"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.packages`)),
		shots.shot("15-packages"),
		chromedp.Click(chromedp.CSS(`table.packages a`)),
		chromedp.WaitVisible(chromedp.ID("install-1")),
		shots.shot("16-package"),
	)
	snippet := read(t, ctx, "install snippet", chromedp.Value(chromedp.ID("install-1")))
	want := `curl --header "Deploy-Token: <deploy-token>" --output tool.bin "` + ts.URL + pkgPath + `"`
	if snippet != want {
		t.Fatalf("install snippet = %q, want %q", snippet, want)
	}
	files := read(t, ctx, "files", chromedp.Text(chromedp.CSS(`table.package-files`)))
	if !strings.Contains(files, "tool.bin") || !strings.Contains(files, "10 B") {
		t.Fatalf("files table: %q", files)
	}

	// The phone-sized pictures.
	run(t, ctx, "phone",
		chromedp.EmulateViewport(390, 844),
		shots.shot("17-package-phone"),
		chromedp.Navigate(ts.URL+base+"/-/blob/main/src/main.go"),
		chromedp.WaitVisible(chromedp.CSS(`.chroma .kd`)),
		shots.shot("18-file-phone"),
		chromedp.Navigate(ts.URL+base+"/-/container_registry"),
		chromedp.WaitVisible(chromedp.CSS(`table.registry-tags`)),
		shots.shot("19-container-registry-phone"),
	)
}
