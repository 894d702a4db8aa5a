//go:build linux

package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// world is what the load works on: a project with a Git repository, an image, a generic
// package and an npm package, and a deploy token that may read and write them all.
type world struct {
	c       *cluster
	project testenv.Project
	token   testenv.DeployToken
	crane   string // the crane binary
	npm     string // the npm binary
}

const npmPackage = "@group/load"

// makeWorld creates the world through the load balancer.
func makeWorld(t *testing.T, c *cluster) *world {
	t.Helper()
	scratch = t.TempDir()
	lb := c.server(c.URL)
	f := lb.MakeFixture(t)
	w := &world{c: c, project: f.Projects["top"], crane: testenv.GoTool(t, "crane"), npm: testenv.Binary(t, "npm")}
	testenv.Binary(t, "node")
	if err := gitInit(gitURL(c.URL, w.project.FullPath, "root", c.RootToken), w.project.FullPath); err != nil {
		t.Fatal(err)
	}
	w.token = lb.CreateDeployToken(t, fmt.Sprintf("projects/%d", w.project.ID), []string{"read_repository",
		"read_registry", "write_registry", "read_package_registry", "write_package_registry"}, nil)
	cr, err := newCrane(w.crane, w.token.Username, w.token.Token, c.LBHost())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cr.push(w.image("base")); err != nil {
		t.Fatal(err)
	}
	n, err := newNPM(w.npm, c.URL, c.URL, w.project.ID, w.token.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.publish(npmPackage, "1.0.0", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := genericPut(w.generic("base"), w.token.Token, []byte("base file")); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) image(tag string) string {
	return w.c.LBHost() + "/" + w.project.FullPath + "/app:" + tag
}

func (w *world) generic(version string) string {
	return genericURL(w.c.URL, w.project.ID, "load", version, "file.bin")
}

// failure is one client operation that failed.
type failure struct {
	kind  string
	start time.Time
	took  time.Duration
	err   string
}

// load runs client operations through the load balancer and keeps count of every one, every
// failure and everything a push or publish acknowledged.
type load struct {
	w     *world
	mu    sync.Mutex
	ops   map[string]int
	fails []failure
	// What was acknowledged, to check afterwards that none of it was lost.
	commits  []string
	images   map[string]string // tag → digest
	files    map[string]string // version → sha256
	versions []string          // npm
	// allowFail, when set, says whether a failed operation that ran from start to end is
	// acceptable (a fault was on then); nil: no failure is.
	allowFail func(kind string, start, end time.Time) bool
}

func newLoad(w *world) *load {
	return &load{w: w, ops: map[string]int{}, images: map[string]string{}, files: map[string]string{}}
}

// do runs one operation and counts it.
func (l *load) do(kind string, f func() error) {
	start := time.Now()
	err := f()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops[kind]++
	if err != nil {
		l.fails = append(l.fails, failure{kind: kind, start: start, took: time.Since(start), err: err.Error()})
	}
}

func (l *load) acked(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// run starts the workers, which loop until ctx ends; the returned wait waits for them.
func (l *load) run(ctx context.Context, t *testing.T) (wait func()) {
	t.Helper()
	w := l.w
	lbGit := gitURL(w.c.URL, w.project.FullPath, w.token.Username, w.token.Token)
	rootGit := gitURL(w.c.URL, w.project.FullPath, "root", w.c.RootToken)
	cr, err := newCrane(w.crane, w.token.Username, w.token.Token, w.c.LBHost())
	if err != nil {
		t.Fatal(err)
	}
	n, err := newNPM(w.npm, w.c.URL, w.c.URL, w.project.ID, w.token.Token)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	worker := func(step func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				step(i)
			}
		}()
	}
	// Git: clones with the deploy token; every other round a push as root.
	worker(func(i int) {
		l.do("git clone", func() error { _, err := gitClone(lbGit, w.project.FullPath); return err })
		if i%2 == 1 {
			l.do("git push", func() error {
				c, err := gitPush(rootGit, w.project.FullPath, fmt.Sprintf("load-%d-%s.txt", i, randomHex(3)))
				if err == nil {
					l.acked(func() { l.commits = append(l.commits, c) })
				}
				return err
			})
		}
	})
	// Registry: pulls of the base image, and new images pushed.
	worker(func(i int) {
		l.do("crane pull", func() error { return cr.pull(w.image("base")) })
		tag := fmt.Sprintf("load-%d-%s", i, randomHex(3))
		l.do("crane push", func() error {
			d, err := cr.push(w.image(tag))
			if err == nil {
				l.acked(func() { l.images[tag] = d })
			}
			return err
		})
	})
	// Generic packages: uploads of new versions, and downloads of the base file and the last upload.
	worker(func(i int) {
		v := fmt.Sprintf("1.%d.%s", i, randomHex(2))
		data := randomBytes(64<<10 + i)
		l.do("generic upload", func() error {
			s, err := genericPut(w.generic(v), w.token.Token, data)
			if err == nil {
				l.acked(func() { l.files[v] = s })
			}
			return err
		})
		l.do("generic download", func() error { return genericGet(w.generic("base"), w.token.Token, sha([]byte("base file"))) })
		l.mu.Lock()
		s, ok := l.files[v]
		l.mu.Unlock()
		if ok {
			l.do("generic download", func() error { return genericGet(w.generic(v), w.token.Token, s) })
		}
	})
	// npm: installs, and every third round a new version published.
	worker(func(i int) {
		if i%3 == 2 {
			v := fmt.Sprintf("1.0.%d", i)
			l.do("npm publish", func() error {
				err := n.publish(npmPackage, v, "v"+v)
				if err == nil {
					l.acked(func() { l.versions = append(l.versions, v) })
				}
				return err
			})
		}
		l.do("npm install", func() error {
			got, err := n.install(npmPackage+"@1.0.0", npmPackage)
			if err == nil && got != "v1.0.0" {
				err = fmt.Errorf("installed module prints %q", got)
			}
			return err
		})
	})
	return wg.Wait
}

// report logs the counts and returns the failures allowFail does not excuse.
func (l *load) report(t *testing.T) []failure {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	kinds := make([]string, 0, len(l.ops))
	total := 0
	for k, n := range l.ops {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	failed := map[string]int{}
	var bad []failure
	for _, f := range l.fails {
		failed[f.kind]++
		if l.allowFail == nil || !l.allowFail(f.kind, f.start, f.start.Add(f.took)) {
			bad = append(bad, f)
		}
	}
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %d/%d failed;", k, failed[k], l.ops[k])
	}
	t.Logf("load: %d client operations, %d failed (%d not excused):%s acknowledged: %d commits, %d images, %d files, %d npm versions",
		total, len(l.fails), len(bad), b.String(), len(l.commits), len(l.images), len(l.files), len(l.versions))
	return bad
}

// verify checks that everything acknowledged is there, whole, through the load balancer.
func (l *load) verify(t *testing.T) {
	t.Helper()
	w := l.w
	if err := gitHas(gitURL(w.c.URL, w.project.FullPath, w.token.Username, w.token.Token), w.project.FullPath, l.commits); err != nil {
		t.Error(err)
	}
	cr, err := newCrane(w.crane, w.token.Username, w.token.Token, w.c.LBHost())
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range l.images {
		if got, err := cr.digest(w.image(tag)); err != nil || got != want {
			t.Errorf("image %s: digest %q, %v; pushed %s", tag, got, err, want)
			continue
		}
		if err := cr.pull(w.image(tag)); err != nil {
			t.Errorf("image %s: %v", tag, err)
		}
	}
	for v, s := range l.files {
		if err := genericGet(w.generic(v), w.token.Token, s); err != nil {
			t.Errorf("generic %s: %v", v, err)
		}
	}
	n, err := newNPM(w.npm, w.c.URL, w.c.URL, w.project.ID, w.token.Token)
	if err != nil {
		t.Fatal(err)
	}
	have, err := n.versions(npmPackage)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range l.versions {
		if !slices.Contains(have, v) {
			t.Errorf("npm %s@%s published but not listed (have %v)", npmPackage, v, have)
		}
	}
	if len(l.versions) > 0 {
		v := l.versions[len(l.versions)-1]
		if got, err := n.install(npmPackage+"@"+v, npmPackage); err != nil || got != "v"+v {
			t.Errorf("npm install %s@%s: %q, %v", npmPackage, v, got, err)
		}
	}
}

// noServerErrors fails the test for each 500 (or other non-503 5xx) and unexpected error any
// node logged: a client that retried through one (crane does) must not hide it.
func noServerErrors(t *testing.T, c *cluster) {
	t.Helper()
	lines := c.serverErrors(t)
	// Error-level lines first: they say why.
	sort.SliceStable(lines, func(i, j int) bool {
		return strings.Contains(lines[i], `"level":"ERROR"`) && !strings.Contains(lines[j], `"level":"ERROR"`)
	})
	for i, line := range lines {
		if i == 20 {
			t.Error("… and more")
			break
		}
		t.Errorf("server error: %s", tail(line))
	}
}

// fail reports each failure (at most 20) and fails the test.
func fail(t *testing.T, what string, fs []failure, since time.Time) {
	t.Helper()
	if len(fs) == 0 {
		return
	}
	for i, f := range fs {
		if i == 20 {
			t.Errorf("… and %d more", len(fs)-20)
			break
		}
		t.Errorf("%s: %s at +%v (took %v): %s", what, f.kind, f.start.Sub(since).Round(time.Millisecond), f.took.Round(time.Millisecond), f.err)
	}
}
