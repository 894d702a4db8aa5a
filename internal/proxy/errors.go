package proxy

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
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

// writeError is the proxy's one error writer: it maps error kinds to the OCI {"errors":[…]}
// envelope (errkind's through ocihttp.KindError). Unknown errors become 500 with a generic message;
// causes of 5xx answers are logged with the request ID, never shown.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *ocihttp.Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, blob.ErrInvalidDigest):
		e = &ocihttp.Error{Code: ocihttp.CodeDigestInvalid, Detail: "invalid digest"}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away; nobody to answer
	default:
		if e = ocihttp.KindError(err); e == nil {
			httpx.Internal(r.Context(), h.log, err)
			dropBlobHeaders(w)
			ocihttp.WriteInternal(w, r)
			return
		}
	}
	if e.Cause != nil && e.Code.Status >= 500 {
		h.log.WarnContext(r.Context(), "dependency proxy", "request_id", httpx.RequestID(r.Context()),
			"code", e.Code.Name, "status", e.Code.Status, "err", e.Cause.Error())
	}
	dropBlobHeaders(w)
	ocihttp.WriteError(w, r, e)
}

// dropBlobHeaders removes the blob headers an answer may have set before it failed, so an error
// envelope never carries a blob's digest, range or caching.
func dropBlobHeaders(w http.ResponseWriter) {
	h := w.Header()
	for _, k := range []string{"Docker-Content-Digest", "ETag", "Content-Range", "Accept-Ranges", "Cache-Control"} {
		h.Del(k)
	}
}
