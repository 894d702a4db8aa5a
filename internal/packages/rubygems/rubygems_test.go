package rubygems_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling) and Debian's real gem client.
type env struct {
	ts   *testenv.TestServer
	f    testenv.Fixture
	gem  string
	ruby string
}

func start(t testing.TB, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{gem: testenv.Binary(t, "gem"), ruby: testenv.Binary(t, "ruby")}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	return e
}

// projectURL is a project's RubyGems URL (gem push --host, gem install --source).
func (e *env) projectURL(project string) string {
	return fmt.Sprintf("http://%s/api/v4/projects/%d/packages/rubygems", e.ts.Host(), e.f.Projects[project].ID)
}

func (e *env) token(t testing.TB, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) projectOwner(name string) string {
	return fmt.Sprintf("projects/%d", e.f.Projects[name].ID)
}

var rw = []string{"read_package_registry", "write_package_registry"}

// client is a private HOME and gem home for the gem client: no ~/.gemrc, no default source.
type client struct {
	home, gemHome string
	env           []string
}

func newClient(t testing.TB) *client {
	dir := t.TempDir()
	c := &client{home: filepath.Join(dir, "home"), gemHome: filepath.Join(dir, "gems")}
	for _, d := range []string{c.home, c.gemHome} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "GEM_HOME=" + c.gemHome, "GEM_PATH=" + c.gemHome,
		"GEM_SPEC_CACHE=" + filepath.Join(dir, "specs"), "NO_COLOR=1", "TERM=dumb", "LANG=C.UTF-8"}
	return c
}

func (c *client) run(t testing.TB, dir, bin string, args ...string) (string, int) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return testenv.RunClient(t, 3*time.Minute, dir, c.env, bin, args...)
}

// credentials writes ~/.gem/credentials with key for host, as GitLab documents.
func (c *client) credentials(t testing.TB, host, key string) {
	t.Helper()
	dir := filepath.Join(c.home, ".gem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte("---\n"+host+": '"+key+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// push runs `gem push --host host file` with key in ~/.gem/credentials.
func (e *env) push(t testing.TB, host, key, file string) (string, int) {
	t.Helper()
	c := newClient(t)
	c.credentials(t, host, key)
	return c.run(t, "", e.gem, "push", "--host", host, file)
}

func (e *env) mustPush(t testing.TB, host, key, file string) {
	t.Helper()
	if out, code := e.push(t, host, key, file); code != 0 || !strings.Contains(out, "Successfully registered gem") {
		t.Fatalf("gem push: exit %d\n%s", code, out)
	}
}

// withAuth puts basic-auth credentials into a source URL, as GitLab documents for gem install.
func withAuth(u, user, secret string) string {
	return strings.Replace(u, "http://", "http://"+url.PathEscape(user)+":"+url.PathEscape(secret)+"@", 1) + "/"
}

// install runs `gem install` of name from source only, into c's gem home.
func (e *env) install(t testing.TB, c *client, source string, name ...string) (string, int) {
	t.Helper()
	args := append([]string{"install", "--no-document", "--clear-sources", "--source", source}, name...)
	return c.run(t, "", e.gem, args...)
}

// greeting is what requiring lib in c's gem home prints (the installed gem's GREETING).
func (e *env) greeting(t testing.TB, c *client, lib, constant string) string {
	t.Helper()
	out, code := c.run(t, "", e.ruby, "-r"+lib, "-e", "puts "+constant)
	if code != 0 {
		t.Fatalf("ruby -r%s: exit %d\n%s", lib, code, out)
	}
	return strings.TrimSpace(out)
}

// buildGem runs the real `gem build` for a gem name at version whose lib/<name>.rb defines
// the constant <Module>::GREETING, with runtime dependencies deps ("name", ">= 1"). A greeting
// "platform:<p>" builds a gem for platform p.
func (e *env) buildGem(t testing.TB, name, version, greeting string, deps ...[2]string) string {
	t.Helper()
	dir := t.TempDir()
	mod := strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "-", "_")
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	lib := fmt.Sprintf("module %s\n  GREETING = %q\nend\n", mod, greeting)
	var b strings.Builder
	fmt.Fprintf(&b, "Gem::Specification.new do |s|\n  s.name = %q\n  s.version = %q\n  s.summary = \"A test gem\"\n", name, version)
	if platform, ok := strings.CutPrefix(greeting, "platform:"); ok {
		fmt.Fprintf(&b, "  s.platform = %q\n", platform)
	}
	b.WriteString("  s.authors = [\"Gatehouse\"]\n  s.licenses = [\"MIT\"]\n  s.files = [\"lib/" + name + ".rb\"]\n")
	for _, d := range deps {
		fmt.Fprintf(&b, "  s.add_runtime_dependency %q, %q\n", d[0], d[1])
	}
	b.WriteString("end\n")
	for f, s := range map[string]string{"lib/" + name + ".rb": lib, name + ".gemspec": b.String()} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t)
	if out, code := c.run(t, dir, e.gem, "build", name+".gemspec"); code != 0 {
		t.Fatalf("gem build: exit %d\n%s", code, out)
	}
	if platform, ok := strings.CutPrefix(greeting, "platform:"); ok {
		return filepath.Join(dir, name+"-"+version+"-"+platform+".gem")
	}
	return filepath.Join(dir, name+"-"+version+".gem")
}

// TestPushAndInstall pushes gems with a project deploy token in ~/.gem/credentials, and
// installs one with a dependency (resolved through the dependency API) with a read-only
// token in the source URL, as GitLab documents.
func TestPushAndInstall(t *testing.T) {
	e := start(t)
	writer := e.token(t, e.projectOwner("child"), rw...)
	host := e.projectURL("child")
	e.mustPush(t, host, writer.Token, e.buildGem(t, "greeter-base", "1.0.0", "base"))
	e.mustPush(t, host, writer.Token, e.buildGem(t, "greeter", "1.0.0", "hello", [2]string{"greeter-base", ">= 1.0"}))
	e.mustPush(t, host, writer.Token, e.buildGem(t, "greeter", "1.1.0.beta1", "beta"))

	reader := e.token(t, e.projectOwner("child"), "read_package_registry")
	t.Run("ok/install with its dependency through the dependency API", func(t *testing.T) {
		c := newClient(t)
		out, code := e.install(t, c, withAuth(host, reader.Username, reader.Token), "greeter")
		if code != 0 || !strings.Contains(out, "greeter-base-1.0.0") || !strings.Contains(out, "greeter-1.0.0") {
			t.Fatalf("gem install: exit %d\n%s", code, out)
		}
		if got := e.greeting(t, c, "greeter", "Greeter::GREETING"); got != "hello" {
			t.Fatalf("installed greeter prints %q", got)
		}
		if got := e.greeting(t, c, "greeter-base", "Greeter_base::GREETING"); got != "base" {
			t.Fatalf("installed greeter-base prints %q", got)
		}
		if strings.Contains(out, reader.Token) {
			t.Fatal("gem printed the token")
		}
	})
	t.Run("ok/a prerelease when asked for", func(t *testing.T) {
		c := newClient(t)
		if out, code := e.install(t, c, withAuth(host, reader.Username, reader.Token), "greeter", "--pre", "-v", "1.1.0.beta1", "--ignore-dependencies"); code != 0 {
			t.Fatalf("gem install --pre: exit %d\n%s", code, out)
		}
		if got := e.greeting(t, c, "greeter", "Greeter::GREETING"); got != "beta" {
			t.Fatalf("installed greeter prints %q", got)
		}
	})
	t.Run("fail/a re-push is refused", func(t *testing.T) {
		out, code := e.push(t, host, writer.Token, e.buildGem(t, "greeter", "1.0.0", "again"))
		if code == 0 || !strings.Contains(out, "409") {
			t.Fatalf("gem push again: exit %d\n%s", code, out)
		}
	})
	t.Run("fail/a read-only token cannot push", func(t *testing.T) {
		out, code := e.push(t, host, reader.Token, e.buildGem(t, "other", "1.0.0", "x"))
		if code == 0 || !strings.Contains(out, "403") || !strings.Contains(out, "write_package_registry") {
			t.Fatalf("gem push with a read token: exit %d\n%s", code, out)
		}
	})
	t.Run("fail/another project's token finds nothing", func(t *testing.T) {
		other := e.token(t, e.projectOwner("sibling"), rw...)
		c := newClient(t)
		out, code := e.install(t, c, withAuth(host, other.Username, other.Token), "greeter")
		if code == 0 || strings.Contains(out, "Successfully installed") {
			t.Fatalf("gem install with another project's token: exit %d\n%s", code, out)
		}
	})
	if logs := e.ts.Logs(); strings.Contains(logs, writer.Token) || strings.Contains(logs, reader.Token) {
		t.Fatal("a token appears in the server's logs")
	}
}

// TestDependencyConfusion plants a newer copy of a gem in a sibling project of the same group
// (someone who may push only to group/top): installing from the project the client chose
// never sees it, with a group deploy token that may read both.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	e.mustPush(t, e.projectURL("child"), e.ts.RootToken, e.buildGem(t, "core", "1.0.0", "genuine"))
	top := e.token(t, e.projectOwner("top"), rw...)
	e.mustPush(t, e.projectURL("top"), top.Token, e.buildGem(t, "core", "9.0.0", "planted"))
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	c := newClient(t)
	if out, code := e.install(t, c, withAuth(e.projectURL("child"), reader.Username, reader.Token), "core"); code != 0 || !strings.Contains(out, "core-1.0.0") {
		t.Fatalf("gem install: exit %d\n%s", code, out)
	}
	if got := e.greeting(t, c, "core", "Core::GREETING"); got != "genuine" {
		t.Fatalf("installed core prints %q", got)
	}
	if out, code := e.install(t, newClient(t), withAuth(e.projectURL("child"), reader.Username, reader.Token), "core", "-v", "9.0.0"); code == 0 {
		t.Fatalf("gem install of the planted version from the chosen project: exit 0\n%s", out)
	}
}

// TestBundleInstall installs a Gemfile's gems, with a dependency, through the real Bundler,
// whose source URL carries a read-only deploy token; bundle exec then loads the gem.
func TestBundleInstall(t *testing.T) {
	e := start(t)
	bundle := testenv.Binary(t, "bundle")
	host := e.projectURL("child")
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "bundled-base", "1.0.0", "base"))
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "bundled", "2.0.0", "bundled", [2]string{"bundled-base", "~> 1.0"}))
	reader := e.token(t, e.projectOwner("child"), "read_package_registry")
	c := newClient(t)
	dir := t.TempDir()
	gemfile := "source " + fmt.Sprintf("%q", withAuth(host, reader.Username, reader.Token)) + "\n\ngem \"bundled\", \"~> 2.0\"\n"
	if err := os.WriteFile(filepath.Join(dir, "Gemfile"), []byte(gemfile), 0o644); err != nil {
		t.Fatal(err)
	}
	c.env = append(c.env, "BUNDLE_PATH="+filepath.Join(dir, "vendor"), "BUNDLE_USER_HOME="+filepath.Join(c.home, ".bundle"),
		"BUNDLE_APP_CONFIG="+filepath.Join(dir, ".bundle"), "BUNDLE_SILENCE_ROOT_WARNING=1", "BUNDLE_RETRY=0")
	out, code := c.run(t, dir, bundle, "install")
	if code != 0 || !strings.Contains(out, "Installing bundled 2.0.0") || !strings.Contains(out, "Installing bundled-base 1.0.0") {
		t.Fatalf("bundle install: exit %d\n%s", code, out)
	}
	if strings.Contains(out, reader.Token) {
		t.Fatal("bundle printed the token")
	}
	out, code = c.run(t, dir, bundle, "exec", "ruby", "-e", "require \"bundled\"; puts Bundled::GREETING")
	if code != 0 || strings.TrimSpace(out) != "bundled" {
		t.Fatalf("bundle exec: exit %d\n%s", code, out)
	}
}

// TestPlatformGems pushes a pure-Ruby gem and the same version for this machine's platform:
// gem install picks the platform gem, as it does from rubygems.org.
func TestPlatformGems(t *testing.T) {
	e := start(t)
	host := e.projectURL("top")
	c := newClient(t)
	platform, code := c.run(t, "", e.ruby, "-e", "print Gem::Platform.local.to_s")
	if code != 0 {
		t.Fatalf("ruby: %s", platform)
	}
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "native", "1.0.0", "ruby"))
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "native", "1.0.0", "platform:"+platform))
	out, code := e.install(t, c, withAuth(host, "root", e.ts.RootToken), "native")
	if code != 0 || !strings.Contains(out, "native-1.0.0-"+platform) {
		t.Fatalf("gem install: exit %d\n%s", code, out)
	}
	if got := e.greeting(t, c, "native", "Native::GREETING"); got != "platform:"+platform {
		t.Fatalf("installed native prints %q", got)
	}
}
