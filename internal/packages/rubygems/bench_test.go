package rubygems_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkInstallManyDependencies installs a gem with 50 runtime dependencies with the real
// gem client, into a fresh gem home each time: from Gatehouse with a read-only deploy token in
// the source URL, and, as the baseline, `gem install --local` from a directory holding the same
// 21 .gem files.
func BenchmarkInstallManyDependencies(b *testing.B) {
	e := start(b)
	host := e.projectURL("child")
	dir := b.TempDir()
	var deps [][2]string
	var files []string
	for i := range 50 {
		name := fmt.Sprintf("leaf%02d", i)
		files = append(files, e.buildGem(b, name, "1.0.0", name))
		deps = append(deps, [2]string{name, "~> 1.0"})
	}
	files = append(files, e.buildGem(b, "many", "1.0.0", "many", deps...))
	for _, f := range files {
		e.mustPush(b, host, e.ts.RootToken, f)
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	reader := e.ts.CreateDeployToken(b, e.projectOwner("child"), []string{"read_package_registry"}, nil)
	run := func(b *testing.B, args ...string) {
		for b.Loop() {
			c := newClient(b)
			out, code := c.run(b, dir, e.gem, args...)
			if code != 0 || !strings.Contains(out, "21 gems installed") {
				b.Fatalf("gem %v: exit %d\n%s", args, code, out)
			}
		}
	}
	b.Run("gatehouse", func(b *testing.B) {
		run(b, "install", "--no-document", "--clear-sources", "--source", withAuth(host, reader.Username, reader.Token), "many")
	})
	b.Run("local", func(b *testing.B) {
		run(b, "install", "--no-document", "--local", "many")
	})
}
