//go:build linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// maxAnswer bounds any answer during an outage: a PostgreSQL connect gives up after 5 s and the
// S3 client retries for seconds (docs/operations.md, "Outages of PostgreSQL and S3").
const maxAnswer = 20 * time.Second

// probe is one raw request through the load balancer during the fault test.
type probe struct {
	kind   string
	at     time.Time
	took   time.Duration
	status int    // 0: no answer
	body   string // for a refusal
	err    error
}

// prober sends raw requests of every kind in a loop and keeps every answer.
type prober struct {
	mu     sync.Mutex
	probes []probe
}

func (p *prober) add(pr probe) {
	p.mu.Lock()
	p.probes = append(p.probes, pr)
	p.mu.Unlock()
}

// between returns the probes sent in [from, to).
func (p *prober) between(from, to time.Time) []probe {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []probe
	for _, pr := range p.probes {
		if !pr.at.Before(from) && pr.at.Before(to) {
			out = append(out, pr)
		}
	}
	return out
}

// TestFaultsDuringLoad: under the same mixed load as the rolling restart, PostgreSQL is stopped
// (pg_ctl stop -m fast) and started again, then MinIO is killed and started again, with no node
// restarted. While a dependency is down every answer is 200/201 or a 503 that says to try
// again, never a 500, never later than maxAnswer; while MinIO is down registry and package
// writes get 503 but Git clones and pushes keep working; afterwards writes succeed again and
// everything acknowledged is there.
func TestFaultsDuringLoad(t *testing.T) {
	c := startCluster(t)
	w := makeWorld(t, c)
	repo := w.project.FullPath + "/raw"
	status, bearer, _ := testenv.RegistryToken(t, c.URL, "container_registry", w.token.Username, w.token.Token, "repository:"+repo+":push,pull")
	if status != http.StatusOK {
		t.Fatalf("registry token: %d", status)
	}
	l := newLoad(w)
	pr := &prober{}

	// The raw requests: each returns the status and body of its last step.
	apiGet := func() (int, string, error) {
		b, _, err := request(http.MethodGet, fmt.Sprintf("%s/api/v4/projects/%d", c.URL, w.project.ID), nil,
			map[string]string{"PRIVATE-TOKEN": c.RootToken}, http.StatusOK)
		return answer(http.StatusOK, b, err)
	}
	infoRefs := func() (int, string, error) {
		u := fmt.Sprintf("%s/%s.git/info/refs?service=git-upload-pack", c.URL, w.project.FullPath)
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.SetBasicAuth(w.token.Username, w.token.Token)
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b), err
	}
	genericDownload := func() (int, string, error) {
		b, _, err := request(http.MethodGet, w.generic("base"), nil, map[string]string{"Deploy-Token": w.token.Token}, http.StatusOK)
		return answer(http.StatusOK, b, err)
	}
	genericUpload := func() (int, string, error) {
		v := "probe-" + randomHex(4)
		data := randomBytes(8 << 10)
		s, err := genericPut(w.generic(v), w.token.Token, data)
		if err == nil {
			l.acked(func() { l.files[v] = s })
		}
		return answer(http.StatusCreated, nil, err)
	}
	registryUpload := func() (int, string, error) {
		auth := map[string]string{"Authorization": "Bearer " + bearer}
		data := randomBytes(8 << 10)
		b, h, err := request(http.MethodPost, c.URL+"/v2/"+repo+"/blobs/uploads/", nil, auth, http.StatusAccepted)
		if err != nil {
			return answer(http.StatusAccepted, b, err)
		}
		loc, perr := url.Parse(h.Get("Location"))
		if perr != nil {
			return 0, "", perr
		}
		q := loc.Query()
		q.Set("digest", "sha256:"+sha(data))
		loc.RawQuery = q.Encode()
		auth["Content-Type"] = "application/octet-stream"
		b, _, err = request(http.MethodPut, c.URL+loc.RequestURI(), data, auth, http.StatusCreated)
		return answer(http.StatusCreated, b, err)
	}
	kinds := map[string]func() (int, string, error){"api": apiGet, "git info/refs": infoRefs,
		"generic download": genericDownload, "generic upload": genericUpload, "registry upload": registryUpload}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)

	ctx, cancel := context.WithCancel(context.Background())
	wait := l.run(ctx, t)
	// One prober per kind, so a slow answer of one kind does not starve the others.
	var pwg sync.WaitGroup
	for _, k := range names {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for ctx.Err() == nil {
				at := time.Now()
				st, body, err := kinds[k]()
				pr.add(probe{kind: k, at: at, took: time.Since(at), status: st, body: body, err: err})
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	defer func() { cancel(); wait(); pwg.Wait() }() // on a failure too: no client outlives the test

	start := time.Now()
	// recovered waits until every kind of raw request succeeds again and says when.
	recovered := func(what string, since time.Time) time.Time {
		t.Helper()
		if !testenv.Eventually(60*time.Second, func() bool {
			for _, k := range names {
				if st, _, err := kinds[k](); err != nil || (st != http.StatusOK && st != http.StatusCreated) {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("service did not resume within 60s after %s came back", what)
		}
		t.Logf("service resumed %v after %s came back (no node restarted)", time.Since(since).Round(time.Millisecond), what)
		return time.Now()
	}
	pause := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}

	pause(5 * time.Second)
	pgDown := time.Now()
	c.pg.Stop(t)
	pause(4 * time.Second)
	c.pg.Start(t)
	pgUp := time.Now()
	pgOK := recovered("PostgreSQL", pgUp)

	pause(5 * time.Second)
	s3Down := time.Now()
	c.minio.Stop()
	// Git works while S3 is down: a clone and a push through the load balancer, right now.
	pause(2 * time.Second)
	if _, err := gitClone(gitURL(c.URL, w.project.FullPath, w.token.Username, w.token.Token), w.project.FullPath); err != nil {
		t.Errorf("git clone while MinIO is down: %v", err)
	}
	if commit, err := gitPush(gitURL(c.URL, w.project.FullPath, "root", c.RootToken), w.project.FullPath, "during-s3-outage.txt"); err != nil {
		t.Errorf("git push while MinIO is down: %v", err)
	} else {
		l.acked(func() { l.commits = append(l.commits, commit) })
	}
	// Longer than the S3 client's retries (about 10 s), so writes are answered 503, not held
	// until MinIO is back.
	pause(time.Until(s3Down.Add(15 * time.Second)))
	s3Stopped := time.Now()
	c.minio.Start()
	s3Up := time.Now()
	s3OK := recovered("MinIO", s3Up)
	pause(5 * time.Second)
	cancel()
	wait()
	pwg.Wait()

	// Every raw answer: a success or a 503 that says to try again, within maxAnswer.
	refusals := map[string]int{}
	var worst time.Duration
	for _, p := range pr.between(start, time.Now()) {
		worst = max(worst, p.took)
		switch {
		case p.err != nil:
			t.Errorf("%s at +%v: no answer after %v: %v", p.kind, p.at.Sub(start).Round(time.Millisecond), p.took.Round(time.Millisecond), p.err)
		case p.took > maxAnswer:
			t.Errorf("%s at +%v: answered %d after %v, want within %v", p.kind, p.at.Sub(start).Round(time.Millisecond), p.status, p.took, maxAnswer)
		case p.status == http.StatusServiceUnavailable:
			if !strings.Contains(p.body, "try again") {
				t.Errorf("%s at +%v: 503 without the message: %q", p.kind, p.at.Sub(start).Round(time.Millisecond), tail(p.body))
			}
			refusals[p.kind]++
		case p.status != http.StatusOK && p.status != http.StatusCreated:
			t.Errorf("%s at +%v: %d %q, want 200/201 or 503", p.kind, p.at.Sub(start).Round(time.Millisecond), p.status, tail(p.body))
		}
	}
	t.Logf("raw requests: %d, slowest answer %v, 503s by kind %v", len(pr.between(start, time.Now())), worst.Round(time.Millisecond), refusals)

	summary := func(ps []probe) map[string]map[int]int {
		m := map[string]map[int]int{}
		for _, p := range ps {
			if m[p.kind] == nil {
				m[p.kind] = map[int]int{}
			}
			m[p.kind][p.status]++
		}
		return m
	}
	t.Logf("answers while PostgreSQL was down (kind → status → count): %v", summary(pr.between(pgDown, pgUp)))
	t.Logf("answers while MinIO was down: %v", summary(pr.between(s3Down, s3Stopped)))

	// While MinIO was down (once the nodes could notice), writes were refused and Git was not.
	during := pr.between(s3Down.Add(time.Second), s3Stopped)
	for _, k := range []string{"generic upload", "registry upload"} {
		n := 0
		for _, p := range during {
			if p.kind == k && p.status == http.StatusServiceUnavailable {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no %s got 503 while MinIO was down", k)
		}
	}
	for _, p := range during {
		if p.kind == "git info/refs" && p.status != http.StatusOK {
			t.Errorf("git info/refs while MinIO was down: %d %q", p.status, tail(p.body))
		}
	}
	if n := len(pr.between(pgDown.Add(time.Second), pgUp)); n == 0 {
		t.Error("no raw request was answered while PostgreSQL was down: the test proves nothing")
	}

	// The real clients: a failure is excused only while a dependency was down or coming back
	// (an operation that overlapped the outage), and never for Git while only MinIO was down.
	l.allowFail = func(kind string, from, to time.Time) bool {
		overlaps := func(a, b time.Time) bool { return from.Before(b.Add(2*time.Second)) && to.After(a) }
		if overlaps(pgDown, pgOK) {
			return true
		}
		return overlaps(s3Down, s3OK) && !strings.HasPrefix(kind, "git ")
	}
	fail(t, "failed outside an outage", l.report(t), start)
	l.verify(t)
	noServerErrors(t, c)
}

// answer turns request's result into a status and body: a wrong status is an answer, not an
// error.
func answer(ok int, body []byte, err error) (int, string, error) {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status, se.Body, nil
	}
	if err != nil {
		return 0, "", err
	}
	return ok, string(body), nil
}
