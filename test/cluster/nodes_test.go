//go:build linux

package cluster

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestClusterNodes: with three real nodes on one PostgreSQL, one MinIO bucket and one
// repositories directory, what one node does the others see. A deploy token created through A
// clones through B; revoked through C, C refuses it on the next request and A and B within a
// second (the delays are logged). An image pushed through A pulls through B; a chunked upload
// started on A continues and ends on B; an npm package published on B installs on C.
func TestClusterNodes(t *testing.T) {
	c := startCluster(t)
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	scratch = t.TempDir()
	f := c.server(a.URL()).MakeFixture(t)
	p := f.Projects["top"]
	if err := gitInit(gitURL(a.URL(), p.FullPath, "root", c.RootToken), p.FullPath); err != nil {
		t.Fatal(err)
	}

	t.Run("revocation", func(t *testing.T) {
		tok := c.server(a.URL()).CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
		if _, err := gitClone(gitURL(b.URL(), p.FullPath, tok.Username, tok.Token), p.FullPath); err != nil {
			t.Fatalf("clone through B with the token created through A: %v", err)
		}
		if st := c.api(t, cn.URL(), http.MethodDelete, fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil); st != http.StatusNoContent {
			t.Fatalf("revoke through C: %d", st)
		}
		revoked := time.Now()
		if st := c.server(cn.URL()).InfoRefs(t, p.FullPath, tok.Username, tok.Token).Status; st != http.StatusUnauthorized {
			t.Fatalf("C after its own revocation: %d, want 401", st)
		}
		for _, n := range []*node{a, b} {
			var st int
			if !testenv.Eventually(time.Second, func() bool {
				st = c.server(n.URL()).InfoRefs(t, p.FullPath, tok.Username, tok.Token).Status
				return st == http.StatusUnauthorized
			}) {
				t.Fatalf("%s still answers %d a second after the revocation through C", n.name, st)
			}
			t.Logf("revocation through C refused by %s after %v", n.name, time.Since(revoked).Round(time.Microsecond))
		}
		if _, err := gitClone(gitURL(c.URL, p.FullPath, tok.Username, tok.Token), p.FullPath); err == nil {
			t.Fatal("the revoked token still clones through the load balancer")
		}
	})

	rw := c.server(a.URL()).CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_registry", "write_registry",
		"read_package_registry", "write_package_registry"}, nil)

	t.Run("image", func(t *testing.T) {
		cr, err := newCrane(testenv.GoTool(t, "crane"), rw.Username, rw.Token, a.Host(), b.Host())
		if err != nil {
			t.Fatal(err)
		}
		pushed, err := cr.push(a.Host() + "/" + p.FullPath + "/app:v1")
		if err != nil {
			t.Fatalf("push through A: %v", err)
		}
		onB := b.Host() + "/" + p.FullPath + "/app:v1"
		if got, err := cr.digest(onB); err != nil || got != pushed {
			t.Fatalf("digest through B: %q, %v; pushed %s through A", got, err, pushed)
		}
		if err := cr.pull(onB); err != nil {
			t.Fatalf("pull through B: %v", err)
		}
	})

	t.Run("chunked upload", func(t *testing.T) {
		repo := p.FullPath + "/chunked"
		status, tok, _ := testenv.RegistryToken(t, a.URL(), "container_registry", rw.Username, rw.Token, "repository:"+repo+":push,pull")
		if status != http.StatusOK {
			t.Fatalf("registry token from A: %d", status)
		}
		auth := map[string]string{"Authorization": "Bearer " + tok}
		data := randomBytes(6 << 20) // more than one S3 part
		half := len(data) / 2
		digest := "sha256:" + sha(data)
		on := func(n *node, loc string) string { // a Location, on node n
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			return n.URL() + u.RequestURI()
		}
		with := func(h map[string]string) map[string]string {
			m := map[string]string{"Content-Type": "application/octet-stream"}
			for k, v := range auth {
				m[k] = v
			}
			for k, v := range h {
				m[k] = v
			}
			return m
		}
		_, h, err := request(http.MethodPost, a.URL()+"/v2/"+repo+"/blobs/uploads/", nil, auth, http.StatusAccepted)
		if err != nil {
			t.Fatalf("start on A: %v", err)
		}
		_, h, err = request(http.MethodPatch, on(a, h.Get("Location")), data[:half], with(map[string]string{"Content-Range": fmt.Sprintf("0-%d", half-1)}), http.StatusAccepted)
		if err != nil {
			t.Fatalf("first chunk on A: %v", err)
		}
		_, h, err = request(http.MethodPatch, on(b, h.Get("Location")), data[half:], with(map[string]string{"Content-Range": fmt.Sprintf("%d-%d", half, len(data)-1)}), http.StatusAccepted)
		if err != nil {
			t.Fatalf("second chunk on B: %v", err)
		}
		loc := on(b, h.Get("Location"))
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		if _, _, err := request(http.MethodPut, loc+sep+"digest="+digest, nil, auth, http.StatusCreated); err != nil {
			t.Fatalf("finish on B: %v", err)
		}
		got, _, err := request(http.MethodGet, cn.URL()+"/v2/"+repo+"/blobs/"+digest, nil, auth, http.StatusOK)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("pull from C: %d bytes, equal %v, %v", len(got), bytes.Equal(got, data), err)
		}
	})

	t.Run("npm", func(t *testing.T) {
		npm := testenv.Binary(t, "npm")
		testenv.Binary(t, "node")
		onB, err := newNPM(npm, b.URL(), c.URL, p.ID, rw.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := onB.publish("@group/across", "1.0.0", "published on B"); err != nil {
			t.Fatalf("publish on B: %v", err)
		}
		onC, err := newNPM(npm, cn.URL(), c.URL, p.ID, rw.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := onC.install("@group/across", "@group/across"); err != nil || got != "published on B" {
			t.Fatalf("install on C: %q, %v", got, err)
		}
	})
}
