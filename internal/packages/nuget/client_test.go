package nuget_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// client is one nuget.exe user (Debian's nuget 2.8.7 on Mono, which speaks the v2 feed): its own
// HOME and NuGet.Config, pointed only at 127.0.0.1.
type client struct {
	bin    string
	dir    string
	config string
	env    []string
}

// newClient writes a NuGet.Config whose only source is source, with basic-auth credentials
// (GitLab's documented set-up: the deploy token's username and the token as the password).
func newClient(t *testing.T, source, user, secret string) *client {
	t.Helper()
	c := &client{bin: testenv.Binary(t, "nuget"), dir: t.TempDir()}
	creds := ""
	if user != "" {
		creds = fmt.Sprintf(`<packageSourceCredentials><gatehouse><add key="Username" value="%s" /><add key="ClearTextPassword" value="%s" /></gatehouse></packageSourceCredentials>`, user, secret)
	}
	cfg := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources><clear /><add key="gatehouse" value="%s" /></packageSources>
  <disabledPackageSources><clear /></disabledPackageSources>
  <config><add key="http_proxy" value="" /></config>
  %s
</configuration>`, source, creds)
	// nuget.exe 2.x builds its credential provider from the user's own NuGet.Config before it
	// reads -ConfigFile, so the configuration lives there ($XDG_CONFIG_HOME/NuGet on Mono).
	home := filepath.Join(c.dir, "home")
	c.config = filepath.Join(home, ".config", "NuGet", "NuGet.Config")
	if err := os.MkdirAll(filepath.Dir(c.config), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"NUGET_PACKAGES=" + filepath.Join(c.dir, "packages-cache"), "EnableNuGetPackageRestore=true",
		"http_proxy=", "https_proxy=", "no_proxy=*"}
	return c
}

// run runs nuget with args (adding -ConfigFile and -NonInteractive) and returns its output and
// exit code.
func (c *client) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	args = append(args, "-ConfigFile", c.config, "-NonInteractive")
	return testenv.RunClient(t, 2*time.Minute, c.dir, c.env, c.bin, args...)
}

func (c *client) must(t *testing.T, args ...string) string {
	t.Helper()
	out, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("nuget %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// writePkg writes a .nupkg into the client's directory and returns its name (Mono's nuget.exe
// mangles absolute Unix paths, so the client runs there and gets a relative one).
func (c *client) writePkg(t *testing.T, id, version, greeting, deps string) string {
	t.Helper()
	name := id + "." + version + ".nupkg"
	if err := os.WriteFile(filepath.Join(c.dir, name), nupkg(t, id, version, greeting, map[string]string{"@deps": deps}), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestNuGetExePushInstall drives Debian's nuget.exe 2.8.7: push with a write deploy token as
// the API key (to the v2 URL, as GitLab documents for nuget.exe), install with a read-only
// deploy token in NuGet.Config, and the refusals it must show.
func TestNuGetExePushInstall(t *testing.T) {
	e := start(t)
	v2 := e.feed("top") + "/v2"
	writer := e.token(t, e.projectOwner("top"), rw...)
	reader := e.token(t, e.projectOwner("top"), "read_package_registry")

	// As GitLab documents it: the source with the deploy token's username and secret, and the
	// token again as the API key.
	pusher := newClient(t, v2, writer.Username, writer.Token)
	out := pusher.must(t, "push", pusher.writePkg(t, "Gatehouse.Base", "1.0.0", "base", ""), "-Source", v2, "-ApiKey", writer.Token)
	mustContain(t, "nuget push", out, "Your package was pushed")
	pusher.must(t, "push", pusher.writePkg(t, "Gatehouse.Hello", "1.0.0", "hello from gatehouse", "Gatehouse.Base [1.0.0,2.0.0)"), "-Source", v2, "-ApiKey", writer.Token)

	inst := newClient(t, v2, reader.Username, reader.Token)
	out = inst.must(t, "install", "Gatehouse.Hello", "-Version", "1.0.0", "-Source", v2, "-OutputDirectory", "out", "-NoCache")
	for dir, want := range map[string]string{"Gatehouse.Hello.1.0.0": "hello from gatehouse", "Gatehouse.Base.1.0.0": "base"} {
		got, err := os.ReadFile(filepath.Join(inst.dir, "out", dir, "content", "greeting.txt"))
		if err != nil || string(got) != want {
			t.Fatalf("installed %s content %q, %v\n%s", dir, got, err, out)
		}
	}

	t.Run("fail/the same version again", func(t *testing.T) {
		out, code := pusher.run(t, "push", pusher.writePkg(t, "Gatehouse.Hello", "1.0.0", "overwritten", ""), "-Source", v2, "-ApiKey", writer.Token)
		if code == 0 || !strings.Contains(out, "409") && !strings.Contains(out, "Conflict") {
			t.Fatalf("duplicate push: exit %d\n%s", code, out)
		}
	})
	t.Run("fail/read-only token pushes", func(t *testing.T) {
		ro := newClient(t, v2, reader.Username, reader.Token)
		out, code := ro.run(t, "push", ro.writePkg(t, "Gatehouse.Hello", "2.0.0", "x", ""), "-Source", v2, "-ApiKey", reader.Token)
		if code == 0 || !strings.Contains(out, "Forbidden") {
			t.Fatalf("read-only push: exit %d\n%s", code, out)
		}
		if strings.Contains(out, reader.Token) {
			t.Fatal("nuget's output contains the token")
		}
	})
	t.Run("fail/deploy token under another username", func(t *testing.T) {
		c := newClient(t, v2, "someone-else", reader.Token)
		out, code := c.run(t, "install", "Gatehouse.Hello", "-Version", "1.0.0", "-Source", v2, "-OutputDirectory", "out", "-NoCache")
		if code == 0 || strings.Contains(out, "Successfully installed") {
			t.Fatalf("install with the wrong username: exit %d\n%s", code, out)
		}
	})
	if strings.Contains(e.ts.Logs(), writer.Token) || strings.Contains(e.ts.Logs(), reader.Token) {
		t.Fatal("a token's secret is in the server's logs")
	}
}
