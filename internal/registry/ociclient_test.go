package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ociClient is a small Distribution-API client over plain HTTP for tests that need exact
// control (monolithic and chunked uploads, raw answers, many concurrent pushes): it trades
// basic credentials for bearer tokens at /jwt/auth, one per repository and action set.
type ociClient struct {
	base         string // http://localhost:<port>
	user, secret string
	hc           *http.Client
	mu           sync.Mutex
	tokens       map[string]string
}

func newOCIClient(base, user, secret string) *ociClient {
	return &ociClient{base: base, user: user, secret: secret, tokens: map[string]string{},
		hc: &http.Client{Timeout: 2 * time.Minute, CheckRedirect: dropAuthElsewhere}}
}

// dropAuthElsewhere keeps the bearer token from following a redirect to another host:port
// (a presigned URL refuses a second credential), as registry clients do.
func dropAuthElsewhere(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// httpError is a non-success answer.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, tail(e.body, 300)) }

// statusOf returns the HTTP status of an *httpError, or 0.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return 0
}

func (c *ociClient) token(ctx context.Context, scope string) (string, error) {
	c.mu.Lock()
	tok, ok := c.tokens[scope]
	c.mu.Unlock()
	if ok {
		return tok, nil
	}
	q := url.Values{"service": {"container_registry"}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/jwt/auth?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(c.user, c.secret)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", &httpError{resp.StatusCode, string(raw)}
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return "", err
	}
	c.mu.Lock()
	c.tokens[scope] = body.Token
	c.mu.Unlock()
	return body.Token, nil
}

// do sends a request for repo with a token for actions ("pull" or "pull,push"), returning the
// response when its status is one of ok.
func (c *ctxOCI) do(method, path, actions string, body io.Reader, hdr http.Header, ok ...int) (*http.Response, error) {
	scope := "repository:" + c.repo + ":" + actions
	if c.repo == "" {
		scope = "registry:catalog:*"
	}
	tok, err := c.token(c.ctx, scope)
	if err != nil {
		return nil, err
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	req, err := http.NewRequestWithContext(c.ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return nil, &httpError{resp.StatusCode, string(raw)}
}

// ctxOCI is the client bound to one repository and context.
type ctxOCI struct {
	*ociClient
	ctx  context.Context
	repo string
}

func (c *ociClient) repo(ctx context.Context, repo string) *ctxOCI {
	return &ctxOCI{ociClient: c, ctx: ctx, repo: repo}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pushBlobMonolithic uploads b in one POST ?digest=.
func (c *ctxOCI) pushBlobMonolithic(b []byte) error {
	resp, err := c.do(http.MethodPost, "/v2/"+c.repo+"/blobs/uploads/?digest="+url.QueryEscape(digestOf(b)), "pull,push",
		bytes.NewReader(b), http.Header{"Content-Type": {"application/octet-stream"}}, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// startUpload opens an upload session and returns its location.
func (c *ctxOCI) startUpload() (string, error) {
	resp, err := c.do(http.MethodPost, "/v2/"+c.repo+"/blobs/uploads/", "pull,push", nil, nil, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("Location"), nil
}

// patchChunk appends a chunk at offset to the upload at loc and returns the next location.
func (c *ctxOCI) patchChunk(loc string, offset int64, chunk []byte) (string, error) {
	hdr := http.Header{"Content-Type": {"application/octet-stream"},
		"Content-Range": {fmt.Sprintf("%d-%d", offset, offset+int64(len(chunk))-1)}}
	resp, err := c.do(http.MethodPatch, loc, "pull,push", bytes.NewReader(chunk), hdr, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("Location"), nil
}

// pushBlobChunked uploads b in chunks of n bytes (PATCH each, then PUT ?digest=).
func (c *ctxOCI) pushBlobChunked(b []byte, n int) error {
	loc, err := c.startUpload()
	if err != nil {
		return err
	}
	for off := 0; off < len(b); off += n {
		if loc, err = c.patchChunk(loc, int64(off), b[off:min(off+n, len(b))]); err != nil {
			return err
		}
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	resp, err := c.do(http.MethodPut, loc+sep+"digest="+url.QueryEscape(digestOf(b)), "pull,push", nil, nil, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// pushManifest PUTs a manifest under ref (a tag or its digest).
func (c *ctxOCI) pushManifest(ref string, m []byte) error {
	resp, err := c.do(http.MethodPut, "/v2/"+c.repo+"/manifests/"+ref, "pull,push", bytes.NewReader(m),
		http.Header{"Content-Type": {ociManifestType}}, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// get GETs path with pull access and returns the body (following redirects).
func (c *ctxOCI) get(path string, hdr http.Header) ([]byte, http.Header, error) {
	resp, err := c.do(http.MethodGet, path, "pull", nil, hdr, http.StatusOK)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.Header, err
}

// blob GETs a blob and checks its digest (and size, when size >= 0).
func (c *ctxOCI) blob(digest string, size int64) error {
	b, _, err := c.get("/v2/"+c.repo+"/blobs/"+digest, nil)
	if err != nil {
		return fmt.Errorf("blob %s: %w", digest, err)
	}
	if got := digestOf(b); got != digest {
		return fmt.Errorf("blob %s: served bytes have digest %s", digest, got)
	}
	if size >= 0 && int64(len(b)) != size {
		return fmt.Errorf("blob %s: %d bytes, want %d", digest, len(b), size)
	}
	return nil
}

// tags lists the repository's tags.
func (c *ctxOCI) tags() ([]string, error) {
	b, _, err := c.get("/v2/"+c.repo+"/tags/list?n=10000", nil)
	if err != nil {
		return nil, err
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	return body.Tags, json.Unmarshal(b, &body)
}

const (
	ociManifestType = "application/vnd.oci.image.manifest.v1+json"
	ociConfigType   = "application/vnd.oci.image.config.v1+json"
	ociLayerType    = "application/vnd.oci.image.layer.v1.tar"
)

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type imageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// testImage is an image built from random bytes.
type testImage struct {
	config   []byte
	layers   [][]byte
	manifest []byte
	digest   string
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newTestImage builds an image from the given layers and a random config.
func newTestImage(layers ...[]byte) testImage {
	img := testImage{layers: layers}
	img.config = []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"nonce":"` +
		hex.EncodeToString(randomBytes(8)) + `"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
	m := imageManifest{SchemaVersion: 2, MediaType: ociManifestType,
		Config: descriptor{ociConfigType, digestOf(img.config), int64(len(img.config))}}
	for _, l := range layers {
		m.Layers = append(m.Layers, descriptor{ociLayerType, digestOf(l), int64(len(l))})
	}
	img.manifest, _ = json.Marshal(m)
	img.digest = digestOf(img.manifest)
	return img
}

// push uploads the image's blobs (chunked in pieces of chunk bytes, or monolithic when
// chunk is 0) and then its manifest under tag.
func (c *ctxOCI) push(img testImage, tag string, chunk int) error {
	for _, b := range append([][]byte{img.config}, img.layers...) {
		var err error
		if chunk > 0 {
			err = c.pushBlobChunked(b, chunk)
		} else {
			err = c.pushBlobMonolithic(b)
		}
		if err != nil {
			return fmt.Errorf("push blob %s: %w", digestOf(b), err)
		}
	}
	if err := c.pushManifest(tag, img.manifest); err != nil {
		return fmt.Errorf("push manifest %s: %w", img.digest, err)
	}
	return nil
}

// verify pulls ref and checks that the manifest and every blob it names are served whole,
// under their digests. It returns the manifest's digest.
func (c *ctxOCI) verify(ref string) (string, error) {
	raw, hdr, err := c.get("/v2/"+c.repo+"/manifests/"+ref, http.Header{"Accept": {ociManifestType}})
	if err != nil {
		return "", fmt.Errorf("manifest %s:%s: %w", c.repo, ref, err)
	}
	d := digestOf(raw)
	if got := hdr.Get("Docker-Content-Digest"); got != d {
		return "", fmt.Errorf("manifest %s:%s: header digest %s, bytes %s", c.repo, ref, got, d)
	}
	var m imageManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("manifest %s:%s: %w", c.repo, ref, err)
	}
	if len(m.Layers) == 0 {
		return "", fmt.Errorf("manifest %s:%s has no layers", c.repo, ref)
	}
	for _, desc := range append([]descriptor{m.Config}, m.Layers...) {
		if err := c.blob(desc.Digest, desc.Size); err != nil {
			return "", fmt.Errorf("image %s:%s: %w", c.repo, ref, err)
		}
	}
	return d, nil
}

// deleteBlob unlinks a blob from the repository (needs delete access).
func (c *ctxOCI) deleteBlob(digest string) error {
	resp, err := c.do(http.MethodDelete, "/v2/"+c.repo+"/blobs/"+digest, "delete", nil, nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// deleteManifest deletes a manifest by digest (needs delete access).
func (c *ctxOCI) deleteManifest(digest string) error {
	resp, err := c.do(http.MethodDelete, "/v2/"+c.repo+"/manifests/"+digest, "delete", nil, nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// uploadStatus GETs an upload's status and returns the HTTP status.
func (c *ctxOCI) uploadStatus(loc string) (int, error) {
	resp, err := c.do(http.MethodGet, loc, "pull,push", nil, nil, http.StatusNoContent)
	if err != nil {
		if s := statusOf(err); s != 0 {
			return s, nil
		}
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
