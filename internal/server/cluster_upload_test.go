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
	"testing"

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
