package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// tofu runs `tofu init` in a fresh directory whose main.tf uses source (a registry address) at
// version, with token (if any) as the host's credentials in a private CLI configuration, and
// the test CA trusted through SSL_CERT_FILE. It returns the directory, the output and the exit
// code. A host with a port cannot be named in a TF_TOKEN_<host> variable, so the token goes in a
// credentials block, which tofu sends the same way (Authorization: Bearer).
func (e *env) tofu(t *testing.T, bin, source, version, token string) (string, string, int) {
	t.Helper()
	home, dir := t.TempDir(), t.TempDir()
	cfg := filepath.Join(home, "tofurc")
	creds := ""
	if token != "" {
		creds = fmt.Sprintf("credentials %q {\n  token = %q\n}\n", tofuHost(e), token)
	}
	if err := os.WriteFile(cfg, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf("module \"m\" {\n  source  = %q\n  version = %q\n}\n", source, version)
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PATH=/usr/bin:/bin", "TF_CLI_CONFIG_FILE=" + cfg, "SSL_CERT_FILE=" + e.ca.File,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_REGISTRY_DISCOVERY_RETRY=0", "TF_REGISTRY_CLIENT_TIMEOUT=20"}
	out, code := testenv.RunClient(t, 3*time.Minute, dir, env, bin, "init", "-no-color", "-input=false", "-backend=false")
	return dir, out, code
}

// tofuHost is the registry host tofu is given: its module addresses need a host name with a dot,
// which localhost has not, so the loopback address (the test certificate names it too).
func tofuHost(e *env) string { return strings.Replace(e.ts.Host(), "localhost", "127.0.0.1", 1) }

// installed is main.tf of the module tofu installed in dir.
func installed(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".terraform", "modules", "m", "main.tf"))
	if err != nil {
		t.Fatalf("installed module: %v", err)
	}
	return string(b)
}

// TestTofu installs modules with the real OpenTofu client over HTTPS: service discovery, the
// version list, the download and the archive through the sealed X-Terraform-Get link, with a
// group deploy token; and refusals for a token of another group and a revoked token.
func TestTofu(t *testing.T) {
	bin := testenv.Binary(t, "tofu")
	e := start(t)
	writer := e.token(t, e.project("child"), rw...)
	for v, marker := range map[string]string{"1.0.0": "one", "1.1.0": "two", "2.0.0": "three"} {
		if st, body := e.upload(t, "child", "vpc", "aws", v, basic(writer), archive(t, marker)); st != 201 {
			t.Fatalf("upload %s: %d %s", v, st, body)
		}
	}
	source := tofuHost(e) + "/group/vpc/aws"
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")

	t.Run("ok/init picks the highest version the constraint allows", func(t *testing.T) {
		dir, out, code := e.tofu(t, bin, source, "~> 1.0", reader.Token)
		if code != 0 || !strings.Contains(installed(t, dir), `"two"`) {
			t.Fatalf("tofu init: exit %d\n%s", code, out)
		}
		if strings.Contains(out, reader.Token) {
			t.Fatal("the token appears in tofu's output")
		}
		// tofu followed X-Terraform-Get to the archive (a HEAD, then the GET).
		if !strings.Contains(e.ts.Logs(), `"method":"GET","path":"/api/v4/packages/terraform/modules/v1/group/vpc/aws/1.1.0/file","status":200`) {
			t.Fatal("no archive download in the server's log")
		}
	})
	t.Run("ok/init with an exact version and the project's own token", func(t *testing.T) {
		dir, out, code := e.tofu(t, bin, source, "1.0.0", writer.Token)
		if code != 0 || !strings.Contains(installed(t, dir), `"one"`) {
			t.Fatalf("tofu init: exit %d\n%s", code, out)
		}
	})
	t.Run("fail/a token of another group does not find the module", func(t *testing.T) {
		other := e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), "read_package_registry")
		_, out, code := e.tofu(t, bin, source, "~> 1.0", other.Token)
		if code == 0 || !strings.Contains(strings.ToLower(out), "not found") && !strings.Contains(out, "404") {
			t.Fatalf("tofu init with another group's token: exit %d\n%s", code, out)
		}
	})
	t.Run("fail/a revoked token", func(t *testing.T) {
		tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
		if err := e.ts.Server.Deploy.Revoke(t.Context(), tok.ID); err != nil {
			t.Fatal(err)
		}
		_, out, code := e.tofu(t, bin, source, "~> 1.0", tok.Token)
		if code == 0 || !strings.Contains(out, "401") {
			t.Fatalf("tofu init with a revoked token: exit %d\n%s", code, out)
		}
	})
	if logs := e.ts.Logs(); strings.Contains(logs, reader.Token) || strings.Contains(logs, writer.Token) {
		t.Fatal("a deploy token appears in the server's logs")
	}
}

// BenchmarkTofuInit is `tofu init` of a root module that uses 50 modules: from this registry
// (discovery, versions, download and archive per module, with a group deploy token over HTTPS)
// against the same 50 modules as local directories (no network; tofu copies nothing).
func BenchmarkTofuInit(b *testing.B) {
	bin := testenv.Binary(b, "tofu")
	e := start(b)
	writer := e.token(b, e.project("child"), rw...)
	reader := e.token(b, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	const n = 50
	home := b.TempDir()
	cfg := filepath.Join(home, "tofurc")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "credentials %q {\n  token = %q\n}\n", tofuHost(e), reader.Token), 0o600); err != nil {
		b.Fatal(err)
	}
	var registry, local strings.Builder
	mods := b.TempDir()
	for i := range n {
		name := fmt.Sprintf("mod%02d", i)
		if st, body := e.upload(b, "child", name, "aws", "1.0.0", basic(writer), archive(b, name)); st != 201 {
			b.Fatalf("upload: %d %s", st, body)
		}
		fmt.Fprintf(&registry, "module %q {\n  source  = \"%s/group/%s/aws\"\n  version = \"~> 1.0\"\n}\n", name, tofuHost(e), name)
		if err := os.MkdirAll(filepath.Join(mods, name), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mods, name, "main.tf"), []byte("output \"marker\" {\n  value = \""+name+"\"\n}\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&local, "module %q {\n  source = %q\n}\n", name, filepath.Join(mods, name))
	}
	env := []string{"HOME=" + home, "PATH=/usr/bin:/bin", "TF_CLI_CONFIG_FILE=" + cfg, "SSL_CERT_FILE=" + e.ca.File, "TF_IN_AUTOMATION=1"}
	run := func(b *testing.B, main string) {
		for b.Loop() {
			dir := b.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
				b.Fatal(err)
			}
			if out, code := testenv.RunClient(b, 5*time.Minute, dir, env, bin, "init", "-no-color", "-input=false", "-backend=false"); code != 0 {
				b.Fatalf("tofu init: exit %d\n%s", code, out)
			}
		}
	}
	b.Run("registry", func(b *testing.B) { run(b, registry.String()) })
	b.Run("local", func(b *testing.B) { run(b, local.String()) })
}
