package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// code is one OCI error code with the status it is answered with.
type code struct {
	name    string
	status  int
	message string
}

// The OCI distribution-spec error codes the proxy answers with.
var (
	codeBlobUnknown      = code{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	codeDigestInvalid    = code{"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"}
	codeManifestUnknown  = code{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"}
	codeNameInvalid      = code{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	codeNameUnknown      = code{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	codeUnauthorized     = code{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	codeDenied           = code{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	codeUnsupported      = code{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	codeNotFound         = code{"UNSUPPORTED", http.StatusNotFound, "no such endpoint"}
	codeTooManyRequests  = code{"TOOMANYREQUESTS", http.StatusTooManyRequests, "the upstream registry is rate-limiting requests"}
	codeUnavailable      = code{"UNAVAILABLE", http.StatusServiceUnavailable, "service unavailable"}
	codeUpstreamDown     = code{"UNAVAILABLE", http.StatusBadGateway, "the upstream registry could not be reached"}
	codeUpstreamCorrupt  = code{"UNAVAILABLE", http.StatusBadGateway, "the upstream registry sent content that does not match its digest"}
	codeUpstreamManifest = code{"MANIFEST_INVALID", http.StatusBadGateway, "the upstream registry sent a manifest Gatehouse does not support"}
)

// Error is a proxy error: an OCI code, an optional safe detail, and optionally the cause, which
// is logged and never shown.
type Error struct {
	code   code
	detail string
	cause  error
}

func (e *Error) Error() string {
	return ocihttp.ErrorString(e.code.name, e.code.message, e.detail, e.cause)
}

func (e *Error) Unwrap() error { return e.cause }

// fail builds an *Error; detail is shown to the client, so it must be safe.
func fail(c code, format string, args ...any) *Error {
	e := &Error{code: c}
	if format != "" {
		e.detail = fmt.Sprintf(format, args...)
	}
	return e
}

// writeError is the proxy's one error writer: it maps error kinds to the OCI {"errors":[…]}
// envelope. Unknown errors become 500 with a generic message; causes of 5xx answers are logged
// with the request ID, never shown.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, blob.ErrInvalidDigest):
		e = &Error{code: codeDigestInvalid, detail: "invalid digest"}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away; nobody to answer
	default:
		httpx.Internal(r.Context(), h.log, err)
		dropBlobHeaders(w)
		ocihttp.WriteInternal(w, r)
		return
	}
	if e.cause != nil && e.code.status >= 500 {
		h.log.WarnContext(r.Context(), "dependency proxy", "request_id", httpx.RequestID(r.Context()),
			"code", e.code.name, "status", e.code.status, "err", e.cause.Error())
	}
	dropBlobHeaders(w)
	ocihttp.WriteError(w, r, e.code.status, e.code.name, e.code.message, e.detail)
}

// dropBlobHeaders removes the blob headers an answer may have set before it failed, so an error
// envelope never carries a blob's digest, range or caching.
func dropBlobHeaders(w http.ResponseWriter) {
	h := w.Header()
	for _, k := range []string{"Docker-Content-Digest", "ETag", "Content-Range", "Accept-Ranges", "Cache-Control"} {
		h.Del(k)
	}
}
