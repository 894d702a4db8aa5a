package helm_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkDependencyUpdate is the real helm resolving a chart's 50 dependencies: from a
// Gatehouse channel with a deploy token (`helm dependency update` fetches index.yaml once and
// each chart), against the same 50 charts as local file:// directories (helm packages them
// itself, no network): the cost of the repository over the client's offline path.
func BenchmarkDependencyUpdate(b *testing.B) {
	e := &env{helm: testenv.GoTool(b, "helm")}
	e.ts, e.f = testenv.StartWithFixture(b)
	c := &client{bin: e.helm, home: b.TempDir()}
	tok := e.ts.CreateDeployToken(b, e.projectOwner("top"), rw, nil)
	local := b.TempDir()
	var remoteDeps, localDeps strings.Builder
	for i := range 50 {
		name := fmt.Sprintf("dep%d", i)
		mustUpload(b, e.uploadURL("top", "stable"), tok.Username, tok.Token, c.pack(b, name, "1.0.0", name))
		writeChart(b, filepath.Join(local, name), name, "1.0.0", name)
		fmt.Fprintf(&remoteDeps, "  - name: %s\n    version: 1.0.0\n    repository: \"@gh\"\n", name)
		fmt.Fprintf(&localDeps, "  - name: %s\n    version: 1.0.0\n    repository: file://%s\n", name, filepath.Join(local, name))
	}
	c.must(b, "repo", "add", "--username", tok.Username, "--password", tok.Token, "gh", e.repo("top", "stable"))
	for _, name := range []string{"gatehouse", "local"} {
		deps := map[string]string{"gatehouse": remoteDeps.String(), "local": localDeps.String()}[name]
		b.Run(name, func(b *testing.B) {
			app := filepath.Join(b.TempDir(), "app")
			writeChart(b, app, "app", "1.0.0", "app")
			f, err := os.OpenFile(filepath.Join(app, "Chart.yaml"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			f.WriteString("dependencies:\n" + deps)
			f.Close()
			for b.Loop() {
				os.RemoveAll(filepath.Join(app, "charts"))
				os.Remove(filepath.Join(app, "Chart.lock"))
				// helm 4 keeps fetched charts in a content cache: every round fetches again.
				os.RemoveAll(filepath.Join(c.home, "cache", "content"))
				c.must(b, "dependency", "update", app, "--skip-refresh")
				if n := len(must(os.ReadDir(filepath.Join(app, "charts")))); n != 50 {
					b.Fatalf("%d charts resolved, want 50", n)
				}
			}
			if got := strings.Count(e.ts.Logs(), "/charts/dep0-1.0.0.tgz"); name == "gatehouse" && got < b.N {
				b.Fatalf("the server served dep0 %d times in %d rounds: helm used a cache", got, b.N)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
