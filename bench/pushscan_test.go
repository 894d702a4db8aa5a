package bench

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkPushProtection measures what secret push protection (docs/design.md §6.2.2) adds to
// a push: a real `git push` of one commit with 100 MiB of new text (100 files of 1 MiB of
// random base64 in lines of 76 characters: no delta compression helps git) to a server with the
// check on and to one with it off, each run to a new project. It reports both times and the
// overhead as a percentage of the push without the check (goal ≤ 5 %).
func BenchmarkPushProtection(b *testing.B) {
	work := textRepository(b, 100, 1<<20)
	on := testenv.StartServer(b, func(c *config.Config) { c.SecretKey = benchKey })
	off := testenv.StartServer(b, func(c *config.Config) { c.SecretKey = benchKey; c.SecretPushProtection = false })
	push := func(ts *testenv.TestServer, n int) time.Duration {
		var p struct {
			FullPath string `json:"path_with_namespace"`
		}
		ts.MustAPI(b, 201, "POST", "/projects", map[string]any{"name": fmt.Sprintf("p%d", n), "path": fmt.Sprintf("p%d", n)}, &p)
		start := time.Now()
		if out, err := testenv.RunGit(b, work, "push", "-q", ts.GitURL(p.FullPath, "root", ts.RootToken), "main"); err != nil {
			b.Fatalf("push: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	var withCheck, without time.Duration
	n := 0
	for b.Loop() {
		// Alternate which goes first, so that neither always meets a warmer page cache.
		if n%2 == 0 {
			withCheck += push(on, n)
			without += push(off, n)
		} else {
			without += push(off, n)
			withCheck += push(on, n)
		}
		n++
	}
	b.ReportMetric(withCheck.Seconds()/float64(n), "s/push-checked")
	b.ReportMetric(without.Seconds()/float64(n), "s/push-unchecked")
	b.ReportMetric(100*(withCheck.Seconds()-without.Seconds())/without.Seconds(), "%overhead")
}

// textRepository makes a repository with one commit of files files of size bytes of random
// base64 in lines of 76 characters (text that no delta or compression shrinks much), and
// returns its directory.
func textRepository(b *testing.B, files, size int) string {
	work := b.TempDir()
	testenv.Git(b, work, "init", "-q", "-b", "main")
	raw := make([]byte, size*3/4)
	for i := range files {
		_, _ = rand.Read(raw)
		enc := base64.StdEncoding.EncodeToString(raw)
		var text []byte
		for len(enc) > 0 {
			n := min(76, len(enc))
			text = append(append(text, enc[:n]...), '\n')
			enc = enc[n:]
		}
		if err := os.WriteFile(filepath.Join(work, fmt.Sprintf("data-%03d.txt", i)), text, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	testenv.Git(b, work, "add", "-A")
	testenv.Git(b, work, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-q", "-m", "text")
	return work
}
