package server_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestClusterChunkedUpload: a registry upload started on node A continues on node B (PATCH),
// is finished on B (PUT) and is pulled from A, with two nodes sharing PostgreSQL and MinIO (no
// shared disk for blobs): the upload's state lives in the database and S3, not in a process.
func TestClusterChunkedUpload(t *testing.T) {
	endpoint, user, pass := testenv.StartMinio(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	bucket := "cluster-" + hex.EncodeToString(b)
	db := testenv.PostgresURL(t)
	s3 := func(c *config.Config) {
		c.DatabaseURL = db
		c.BlobStore = config.BlobStoreS3
		c.S3 = config.S3{Endpoint: endpoint, Bucket: bucket, AccessKey: user, SecretKey: config.Secret(pass)}
	}
	// Separate data directories: only the instance key is shared, as a cluster shares it.
	key := func(c *config.Config) { c.SecretKey = "cluster-test-instance-key-0123456789abcdef" }
	a := testenv.StartServer(t, s3, key)
	bnode := testenv.StartServer(t, s3, key)
	f := a.MakeFixture(t)
	repo := f.Projects["top"].FullPath

	q := url.Values{"service": {"container_registry"}, "scope": {"repository:" + repo + ":push,pull"}}
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/jwt/auth?"+q.Encode(), nil)
	req.SetBasicAuth("root", a.RootToken)
	r := do(t, "token from A", req)
	var tok struct {
		Token string `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &tok) != nil {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	send := func(node *testenv.TestServer, method, path string, body []byte, hdr map[string]string) response {
		t.Helper()
		if !strings.HasPrefix(path, "http") {
			path = node.URL + path
		} else { // a Location from the other node: same path on this one
			u, _ := url.Parse(path)
			path = node.URL + u.RequestURI()
		}
		req, err := http.NewRequest(method, path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return do(t, method+" "+path, req)
	}
	data := make([]byte, 6<<20) // more than one S3 part
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	half := len(data) / 2

	start := send(a, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if start.status != http.StatusAccepted {
		t.Fatalf("start on A: %d %s", start.status, start.body)
	}
	loc := start.header.Get("Location")
	p1 := send(a, http.MethodPatch, loc, data[:half], map[string]string{"Content-Type": "application/octet-stream",
		"Content-Range": fmt.Sprintf("0-%d", half-1)})
	if p1.status != http.StatusAccepted {
		t.Fatalf("first chunk on A: %d %s", p1.status, p1.body)
	}
	st := send(bnode, http.MethodGet, p1.header.Get("Location"), nil, nil)
	if st.status != http.StatusNoContent || st.header.Get("Range") != fmt.Sprintf("0-%d", half-1) {
		t.Fatalf("status on B: %d range %q", st.status, st.header.Get("Range"))
	}
	p2 := send(bnode, http.MethodPatch, p1.header.Get("Location"), data[half:], map[string]string{"Content-Type": "application/octet-stream",
		"Content-Range": fmt.Sprintf("%d-%d", half, len(data)-1)})
	if p2.status != http.StatusAccepted {
		t.Fatalf("second chunk on B: %d %s", p2.status, p2.body)
	}
	loc = p2.header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	put := send(bnode, http.MethodPut, loc+sep+"digest="+digest, nil, nil)
	if put.status != http.StatusCreated {
		t.Fatalf("finish on B: %d %s", put.status, put.body)
	}
	req, _ = http.NewRequest(http.MethodGet, a.URL+"/v2/"+repo+"/blobs/"+digest, nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("pull from A: %d, %d bytes, equal %v", resp.StatusCode, len(got), bytes.Equal(got, data))
	}
}

// slowBody hands out its bytes in pieces with a pause before each, so a request's body takes a
// while and two such requests overlap on the server.
type slowBody struct {
	data  []byte
	piece int
	pause time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(p[:min(len(p), s.piece)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestClusterConcurrentChunks: two different chunks for the same range of one upload, sent at
// once to two nodes on PostgreSQL (blobs on one shared data directory, or on MinIO), are
// serialised across the nodes: one is accepted (202), the other refused with 416 (the upload no
// longer ends where it starts, as the distribution spec answers an out-of-order chunk), and the
// finished blob is exactly the accepted chunk. Without a lock both nodes append at the same
// offset under their own hash state, and both answer 202.
func TestClusterConcurrentChunks(t *testing.T) {
	t.Run("fs", func(t *testing.T) { testConcurrentChunks(t, startCluster(t, 2)) })
	t.Run("s3", func(t *testing.T) {
		endpoint, user, pass := testenv.StartMinio(t)
		db, key := testenv.PostgresURL(t), config.Secret("cluster-chunks-key-"+rand.Text())
		bucket := "chunks-" + strings.ToLower(rand.Text()[:12])
		s3 := func(c *config.Config) {
			c.DatabaseURL, c.SecretKey = db, key
			c.BlobStore = config.BlobStoreS3
			c.S3 = config.S3{Endpoint: endpoint, Bucket: bucket, AccessKey: user, SecretKey: config.Secret(pass)}
		}
		testConcurrentChunks(t, startNodes(t, 2, s3))
	})
}

func testConcurrentChunks(t *testing.T, nodes []*testenv.TestServer) {
	a, b := nodes[0], nodes[1]
	f := a.MakeFixture(t)
	repo := f.Projects["top"].FullPath
	st, tok, _ := testenv.RegistryToken(t, a.URL, "container_registry", "root", a.RootToken, "repository:"+repo+":push,pull")
	if st != http.StatusOK {
		t.Fatalf("token: %d", st)
	}
	send := func(node *testenv.TestServer, method, loc string, body io.Reader, n int) (*http.Response, error) {
		u, _ := url.Parse(loc)
		req, err := http.NewRequest(method, node.URL+u.RequestURI(), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if n > 0 {
			req.ContentLength = int64(n)
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Content-Range", fmt.Sprintf("0-%d", n-1))
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	// A chunk no larger than what net/http drains of an unread body (256 KiB), so the refused
	// one ends in a 416 on a connection kept open, never in a reset that could lose the answer.
	const size = 192 << 10
	for round := range 3 {
		start, err := send(a, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, 0)
		if err != nil || start.StatusCode != http.StatusAccepted {
			t.Fatalf("round %d: start: %v %v", round, err, start)
		}
		loc := start.Header.Get("Location")
		chunks := [2][]byte{make([]byte, size), make([]byte, size)}
		for _, c := range chunks {
			_, _ = rand.Read(c)
		}
		var wg sync.WaitGroup
		resps, errs := [2]*http.Response{}, [2]error{}
		for i, node := range []*testenv.TestServer{a, b} {
			wg.Go(func() {
				// 48 pieces 8 ms apart: at least a third of a second each, so they overlap.
				resps[i], errs[i] = send(node, http.MethodPatch, loc, &slowBody{data: chunks[i], piece: 4 << 10, pause: 8 * time.Millisecond}, size)
			})
		}
		wg.Wait()
		winner := -1
		for i := range 2 {
			switch {
			case errs[i] != nil:
				t.Fatalf("round %d: chunk %d: %v", round, i, errs[i])
			case resps[i].StatusCode == http.StatusAccepted && winner == -1:
				winner = i
			case resps[i].StatusCode == http.StatusAccepted:
				t.Fatalf("round %d: both nodes accepted a chunk for bytes 0-%d of one upload", round, size-1)
			case resps[i].StatusCode != http.StatusRequestedRangeNotSatisfiable:
				t.Fatalf("round %d: chunk %d: %d, want 202 or 416 (other: %d)", round, i, resps[i].StatusCode, resps[1-i].StatusCode)
			case resps[i].Header.Get("Range") != fmt.Sprintf("0-%d", size-1):
				t.Fatalf("round %d: the 416 says Range %q", round, resps[i].Header.Get("Range"))
			}
		}
		if winner == -1 {
			t.Fatalf("round %d: no chunk accepted", round)
		}
		sum := sha256.Sum256(chunks[winner])
		digest := "sha256:" + hex.EncodeToString(sum[:])
		// Finished through the node that refused, pulled through the one that accepted.
		loc = resps[winner].Header.Get("Location")
		put, err := send(nodes[1-winner], http.MethodPut, loc+"&digest="+digest, nil, 0)
		if err != nil || put.StatusCode != http.StatusCreated {
			t.Fatalf("round %d: finish: %v %v", round, err, put)
		}
		req, _ := http.NewRequest(http.MethodGet, nodes[winner].URL+"/v2/"+repo+"/blobs/"+digest, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		got := do(t, "pull", req)
		if got.status != http.StatusOK || got.body != string(chunks[winner]) {
			t.Fatalf("round %d: pulled %d, %d bytes, equal to the accepted chunk: %v", round, got.status, len(got.body), got.body == string(chunks[winner]))
		}
		t.Logf("round %d: chunk through node %d accepted, the other refused with 416; blob %s intact", round, winner, digest[:19])
	}
}
