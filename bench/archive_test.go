package bench

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkArchive measures a repository archive downloaded with a deploy token
// (docs/design.md §6.2.1) against `git archive` of the same commit run locally, for a 100 MiB
// repository and each of tar.gz and zip: the ratio of the two times (goal ≤ 1.1).
func BenchmarkArchive(b *testing.B) {
	work := textRepository(b, 100, 1<<20)
	ts, group := startBenchServer(b)
	id := createBenchProject(b, ts, group, "big", "")
	if out, err := testenv.RunGit(b, work, "push", "-q", ts.GitURL("bench/big", "root", ts.RootToken), "main"); err != nil {
		b.Fatalf("push: %v\n%s", err, out)
	}
	dt := ts.CreateDeployToken(b, fmt.Sprintf("projects/%d", id), []string{"read_repository"}, nil)
	dir := ts.Server.Repos.Dir(id)
	for _, format := range []string{"tar.gz", "zip"} {
		b.Run(format, func(b *testing.B) {
			var served, local time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				req, _ := http.NewRequest(http.MethodGet, ts.URL+"/bench/big/-/archive/main/big-main."+format, nil)
				req.SetBasicAuth(dt.Username, dt.Token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				got, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || got < 50<<20 {
					b.Fatalf("archive: %d, %d bytes", resp.StatusCode, got)
				}
				served += time.Since(start)
				start = time.Now()
				cmd := exec.Command("git", "--git-dir="+dir, "archive", "--format="+format, "--prefix=big-main/", "main")
				cmd.Stdout = io.Discard
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
				local += time.Since(start)
				n++
			}
			b.ReportMetric(served.Seconds()/float64(n), "s/served")
			b.ReportMetric(local.Seconds()/float64(n), "s/local")
			b.ReportMetric(served.Seconds()/local.Seconds(), "ratio")
		})
	}
}
