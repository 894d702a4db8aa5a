package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
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
	s := e.code.name + ": " + e.code.message
	if e.detail != "" {
		s += ": " + e.detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
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

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
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
		writeEnvelope(w, r, http.StatusInternalServerError, wireError{Code: "UNKNOWN", Message: "internal server error"})
		return
	}
	if e.cause != nil && e.code.status >= 500 {
		h.log.WarnContext(r.Context(), "dependency proxy", "request_id", httpx.RequestID(r.Context()),
			"code", e.code.name, "status", e.code.status, "err", e.cause.Error())
	}
	we := wireError{Code: e.code.name, Message: e.code.message}
	if e.detail != "" {
		we.Detail = e.detail
	}
	writeEnvelope(w, r, e.code.status, we)
}

func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, errs ...wireError) {
	body, _ := json.Marshal(map[string][]wireError{"errors": errs})
	h := w.Header()
	for _, k := range []string{"Docker-Content-Digest", "ETag", "Content-Range", "Accept-Ranges", "Cache-Control"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
