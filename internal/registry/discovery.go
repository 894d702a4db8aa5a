package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// Page sizes of the listing endpoints.
const (
	maxPage       = 10000 // tags and catalog: the most returned in one answer
	referrersPage = 1000
)

// pageSize reads the n parameter: absent means the whole list (up to maxPage, then paged with a
// Link header); larger values are capped likewise.
func pageSize(q url.Values) (int, error) {
	v := q.Get("n")
	if v == "" {
		return maxPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, ocihttp.Fail(ocihttp.CodeBadRequest, "n must be a non-negative integer")
	}
	return min(n, maxPage), nil
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// nextLink sets the RFC 5988 Link header of the next page.
func nextLink(w http.ResponseWriter, path string, params url.Values) {
	w.Header().Set("Link", "<"+path+"?"+params.Encode()+`>; rel="next"`)
}

// serveTags answers GET /v2/<name>/tags/list[?n=&last=]: tags in byte order.
func (h *Handler) serveTags(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	q := r.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	last := q.Get("last")
	tags, err := h.cfg.Store.Tags(r.Context(), g.repo(rt), last, n+1)
	if errors.Is(err, oci.ErrNotFound) {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeNameUnknown, ""))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(tags) > n {
		tags = tags[:n]
		if n > 0 {
			nextLink(w, "/v2/"+rt.Name.String()+"/tags/list", url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}})
		}
	}
	if tags == nil {
		tags = []string{}
	}
	writeJSON(w, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.Name.String(), tags})
}

// serveReferrers answers GET /v2/<name>/referrers/<digest>[?artifactType=]: an image index of
// the manifests whose subject is digest (empty, never 404, when there are none).
func (h *Handler) serveReferrers(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	q := r.URL.Query()
	at := q.Get("artifactType")
	last := q.Get("last")
	refs, err := h.cfg.Store.Referrers(r.Context(), g.repo(rt), string(rt.Digest), at, last, referrersPage+1)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if at != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if len(refs) > referrersPage {
		refs = refs[:referrersPage]
		params := url.Values{"last": {refs[referrersPage-1].Digest}}
		if at != "" {
			params.Set("artifactType", at)
		}
		nextLink(w, "/v2/"+rt.Name.String()+"/referrers/"+string(rt.Digest), params)
	}
	if refs == nil {
		refs = []oci.Descriptor{}
	}
	writeJSON(w, oci.MediaTypeOCIIndex, struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Manifests     []oci.Descriptor `json:"manifests"`
	}{2, oci.MediaTypeOCIIndex, refs})
}

// serveCatalog answers GET /v2/_catalog[?n=&last=] (administrators only).
func (h *Handler) serveCatalog(w http.ResponseWriter, r *http.Request, _ route, _ grant) {
	q := r.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	repos, err := h.cfg.Store.Repositories(r.Context(), q.Get("last"), n+1)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(repos) > n {
		repos = repos[:n]
		if n > 0 {
			nextLink(w, "/v2/_catalog", url.Values{"n": {strconv.Itoa(n)}, "last": {repos[n-1]}})
		}
	}
	if repos == nil {
		repos = []string{}
	}
	writeJSON(w, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
}
