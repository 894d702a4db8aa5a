package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
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
		ocihttp.WriteInternal(w, r)
		return
	}
	if e.cause != nil && e.code.status >= 500 {
		httpx.Internal(r.Context(), h.log, e.cause)
	}
	ocihttp.WriteError(w, r, e.code.status, e.code.name, e.code.message, e.detail)
}
