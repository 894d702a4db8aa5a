package proxy_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestClusterPullsFetchOnce: three nodes on one PostgreSQL database and one data directory,
// twelve clients pulling the same uncached blob through them at once (four per node): the
// upstream serves the blob once. Each node de-duplicates its own requests; across the nodes the
// fetch takes a lock in the database, and the nodes that waited find the blob in the shared
// store and only ask the upstream to confirm it (a HEAD each).
func TestClusterPullsFetchOnce(t *testing.T) {
	up := startUpstream(t)
	_, layer := up.push(t, "group/pub/big:v1", 2<<20)
	db, dir := testenv.PostgresURL(t), t.TempDir()
	opt := func(c *config.Config) {
		c.DatabaseURL, c.DataDir = db, dir
		c.DependencyProxy.UpstreamURL = up.spy.srv.URL
	}
	nodes := []*testenv.TestServer{testenv.StartServer(t, opt), testenv.StartServer(t, opt), testenv.StartServer(t, opt)}
	f := nodes[0].MakeFixture(t)
	tok := nodes[0].CreateDeployToken(t, "groups/"+itoa(f.GroupID), []string{"read_virtual_registry"}, nil)
	status, jwt, _ := testenv.RegistryToken(t, nodes[0].URL, "dependency_proxy", tok.Username, tok.Token,
		"repository:group/dependency_proxy/containers/group/pub/big:pull")
	if status != http.StatusOK {
		t.Fatalf("token: %d", status)
	}
	up.spy.set(func(s *spy) { s.delay = 300 * time.Millisecond })
	var wg sync.WaitGroup
	errs := make(chan string, 12)
	start := time.Now()
	for i := range 12 {
		node := nodes[i%len(nodes)]
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, node.URL+"/v2/group/dependency_proxy/containers/group/pub/big/blobs/"+layer, nil)
			req.Header.Set("Authorization", "Bearer "+jwt)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || sha256Hex(body) != layer {
				errs <- node.URL + ": " + resp.Status
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a concurrent pull failed: %s", err)
	}
	gets, heads := up.spy.count("GET", "/blobs/"+layer), up.spy.count("HEAD", "/blobs/"+layer)
	t.Logf("12 pulls through 3 nodes in %v: %d blob GETs and %d HEADs reached the upstream", time.Since(start), gets, heads)
	if gets != 1 {
		t.Fatalf("12 concurrent pulls through 3 nodes fetched the blob %d times from the upstream, want 1", gets)
	}
}
