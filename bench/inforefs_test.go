package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/git"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// infoRefsProjects is how many of the seeded projects get a repository on disk; requests
// cycle over every token that reaches one of them.
const infoRefsProjects = 256

// clientsPerCPU is passed to b.SetParallelism: concurrent Git clients per GOMAXPROCS.
const clientsPerCPU = 4

// BenchmarkInfoRefs measures authenticated `GET /<project>.git/info/refs?service=git-upload-pack`
// over real HTTP against a server booted by testenv.StartServer on the seeded dataset, with
// concurrent clients. Each backend is set up once and measured with the Git-Protocol header git
// sends by default (protocol=v2: capabilities only) and without it (protocol=v0: the full ref
// advertisement of a repository with 41 refs). The git-only baseline runs the same git command
// the server runs, with the same concurrency, without HTTP, authentication or a database.
func BenchmarkInfoRefs(b *testing.B) {
	b.Run("git-only", benchGitOnly)
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			opts := []testenv.ServerOption{func(c *config.Config) { c.SecretKey = benchKey }}
			if backend == "postgres" {
				opts = append(opts, testenv.WithPostgres(b))
			}
			ts := testenv.StartServer(b, opts...)
			st := ts.Server.Store
			ds := seedStore(b, st.SQL(), st.Dialect() == "postgres")
			sel := ds.sample(infoRefsProjects)
			ids := make([]int64, len(sel))
			for i, p := range sel {
				ids[i] = p.id
			}
			makeRepos(b, ts.Server.Repos, ids)
			reqs := ds.requests(sel)
			client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256,
				DisableCompression: true}}
			b.Cleanup(client.CloseIdleConnections)
			for _, proto := range []string{"v2", "v0"} {
				b.Run("protocol="+proto, func(b *testing.B) {
					if err := infoRefs(client, ts.URL, reqs[0], proto); err != nil {
						b.Fatal(err)
					}
					var next atomic.Uint64
					b.SetParallelism(clientsPerCPU)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							r := reqs[next.Add(1)%uint64(len(reqs))]
							if err := infoRefs(client, ts.URL, r, proto); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				})
			}
		})
	}
}

// infoRefs does what git does first when it clones or fetches, and checks the answer.
func infoRefs(client *http.Client, base string, r request, proto string) error {
	req, err := http.NewRequest(http.MethodGet, base+"/"+r.project+".git/info/refs?service=git-upload-pack", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(r.username, r.secret.Reveal())
	req.Header.Set("User-Agent", "git/2.39.5")
	if proto == "v2" {
		req.Header.Set("Git-Protocol", "version=2")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	want := "001e# service=git-upload-pack\n0000"
	if proto == "v2" {
		want = "000eversion 2\n"
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte(want)) {
		return fmt.Errorf("info/refs of %s as %s: status %d, body %.60q", r.project, r.username, resp.StatusCode, body)
	}
	return nil
}

// makeRepos gives each project id a copy of one small bare repository: a commit on main,
// 20 branches and 20 tags, written by git fast-import.
func makeRepos(b *testing.B, repos *git.Repos, ids []int64) {
	b.Helper()
	tmpl := filepath.Join(b.TempDir(), "template.git")
	run := func(stdin string, args ...string) {
		cmd := exec.CommandContext(context.Background(), repos.GitBin, args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v: %s", args[0], err, out)
		}
	}
	run("", "init", "--bare", "--quiet", "--initial-branch=main", tmpl)
	var s strings.Builder
	readme := "Gatehouse benchmark repository\n"
	fmt.Fprintf(&s, "commit refs/heads/main\nmark :1\n")
	fmt.Fprintf(&s, "committer Bench <bench@example.invalid> 1700000000 +0000\ndata 7\ninitial\n")
	fmt.Fprintf(&s, "M 100644 inline README\ndata %d\n%s\n", len(readme), readme)
	for i := range 20 {
		fmt.Fprintf(&s, "reset refs/heads/feature-%02d\nfrom :1\n\n", i)
		fmt.Fprintf(&s, "reset refs/tags/v1.%d.0\nfrom :1\n\n", i)
	}
	run(s.String(), "-C", tmpl, "fast-import", "--quiet")
	src := os.DirFS(tmpl)
	for _, id := range ids {
		if err := os.CopyFS(repos.Dir(id), src); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGitOnly is the baseline for BenchmarkInfoRefs: `git upload-pack --stateless-rpc
// --advertise-refs` on the same repositories, run directly in the environment the server gives
// git, with the same number of concurrent callers.
func benchGitOnly(b *testing.B) {
	repos := &git.Repos{Root: b.TempDir(), GitBin: "git"}
	ids := make([]int64, infoRefsProjects)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	makeRepos(b, repos, ids)
	for _, proto := range []string{"v2", "v0"} {
		b.Run("protocol="+proto, func(b *testing.B) {
			var next atomic.Uint64
			b.SetParallelism(clientsPerCPU)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[next.Add(1)%uint64(len(ids))]
					cmd := exec.Command(repos.GitBin, "upload-pack", "--stateless-rpc", "--advertise-refs", repos.Dir(id))
					cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1",
						"GIT_CONFIG_GLOBAL=/dev/null", "LANG=C"}
					if proto == "v2" {
						cmd.Env = append(cmd.Env, "GIT_PROTOCOL=version=2")
					}
					out, err := cmd.Output()
					if err != nil || len(out) == 0 {
						b.Errorf("git upload-pack: %v (%d bytes)", err, len(out))
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
