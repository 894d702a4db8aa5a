package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// code is one OCI error code with the status it is answered with.
type code struct {
	name    string
	status  int
	message string
}

// The OCI distribution-spec error codes (and the statuses Gatehouse answers them with).
var (
	codeBlobUnknown         = code{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	codeBlobUploadUnknown   = code{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"}
	codeRangeInvalid        = code{"BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable, "chunk out of order"}
	codeRangeNotSatisfiable = code{"BLOB_UNKNOWN", http.StatusRequestedRangeNotSatisfiable, "requested range not satisfiable"}
	codeDigestInvalid       = code{"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"}
	codeManifestBlobUnknown = code{"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"}
	codeManifestInvalid     = code{"MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"}
	codeManifestTooLarge    = code{"SIZE_INVALID", http.StatusRequestEntityTooLarge, "manifest too large"}
	codeManifestUnknown     = code{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"}
	codeNameInvalid         = code{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	codeNameUnknown         = code{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	codeSizeInvalid         = code{"SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"}
	codeUnauthorized        = code{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	codeDenied              = code{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	codeUnsupported         = code{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	codeNotFound            = code{"UNSUPPORTED", http.StatusNotFound, "no such endpoint"}
	codeBadRequest          = code{"UNSUPPORTED", http.StatusBadRequest, "the request is not supported"}
	codeTagsTooMany         = code{"UNSUPPORTED", http.StatusRequestURITooLong, "too many tags in one request"}
	codeUnavailable         = code{"UNAVAILABLE", http.StatusServiceUnavailable, "service unavailable"}
)

// Error is a registry error: an OCI code, an optional safe detail, and optionally the cause,
// which is logged and never shown.
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

// writeError is the registry's one error writer: it maps error kinds to the OCI
// {"errors":[…]} envelope. Unknown errors become 500 with a generic message; the cause is
// logged with the request ID.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, oci.ErrMissingReference):
		e = &Error{code: codeManifestBlobUnknown}
		var me *oci.MissingError
		if errors.As(err, &me) && len(me.Digests) > 0 {
			e.detail = me.Digests[0]
		}
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
		httpx.Internal(r.Context(), h.log, e.cause)
	}
	we := wireError{Code: e.code.name, Message: e.code.message}
	if e.detail != "" {
		we.Detail = e.detail
	}
	writeEnvelope(w, r, e.code.status, we)
}

func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, errs ...wireError) {
	body, _ := json.Marshal(map[string][]wireError{"errors": errs})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
