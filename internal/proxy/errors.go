package proxy

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// The proxy's own codes, beside the ones it shares with the registry (ocihttp.Code*): the
// upstream's failures, told apart by status and message.
var (
	codeTooManyRequests  = ocihttp.Code{Name: "TOOMANYREQUESTS", Status: http.StatusTooManyRequests, Message: "the upstream registry is rate-limiting requests"}
	codeUpstreamDown     = ocihttp.Code{Name: "UNAVAILABLE", Status: http.StatusBadGateway, Message: "the upstream registry could not be reached"}
	codeUpstreamCorrupt  = ocihttp.Code{Name: "UNAVAILABLE", Status: http.StatusBadGateway, Message: "the upstream registry sent content that does not match its digest"}
	codeUpstreamManifest = ocihttp.Code{Name: "MANIFEST_INVALID", Status: http.StatusBadGateway, Message: "the upstream registry sent a manifest Gatehouse does not support"}
)

// writeError is the proxy's one error writer (ocihttp.Answer); it first drops the blob headers
// an answer may have set before it failed.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	dropBlobHeaders(w)
	ocihttp.Answer(w, r, h.cfg.Log, err)
}

// dropBlobHeaders removes the blob headers an answer may have set before it failed, so an error
// envelope never carries a blob's digest, range or caching.
func dropBlobHeaders(w http.ResponseWriter) {
	h := w.Header()
	for _, k := range []string{"Docker-Content-Digest", "ETag", "Content-Range", "Accept-Ranges", "Cache-Control"} {
		h.Del(k)
	}
}
