// Package ocihttp is the HTTP side the OCI Distribution protocols (internal/registry and the
// dependency proxy, internal/proxy) share: the tail-first /v2/ path parser and the dispatcher
// over each protocol's route table, the bearer-token gate (verify, re-check, authorize each
// action, challenge), the error codes both answer with, the Error they return and the one error
// writer (Answer) that puts every error answer in the {"errors":[…]} envelope, the digest headers
// of manifest and blob answers, and the seekable reader blobs are served through. Each protocol
// adds its own codes, routes and handlers.
package ocihttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// Code is one OCI error code with the status Gatehouse answers it with.
type Code struct {
	Name    string
	Status  int
	Message string
}

// The distribution-spec codes the registry and the dependency proxy answer with (and the
// statuses Gatehouse answers them with).
var (
	CodeBlobUnknown     = Code{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	CodeDigestInvalid   = Code{"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"}
	CodeManifestUnknown = Code{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"}
	CodeNameInvalid     = Code{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	CodeNameUnknown     = Code{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	CodeUnauthorized    = Code{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	CodeDenied          = Code{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	CodeUnsupported     = Code{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	CodeNotFound        = Code{"UNSUPPORTED", http.StatusNotFound, "no such endpoint"}
	CodeUnavailable     = Code{"UNAVAILABLE", http.StatusServiceUnavailable, "service unavailable"}

	// The registry's only: uploads, ranges, manifest pushes, tag lists.
	CodeBlobUploadUnknown   = Code{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"}
	CodeRangeInvalid        = Code{"BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable, "chunk out of order"}
	CodeRangeNotSatisfiable = Code{"BLOB_UNKNOWN", http.StatusRequestedRangeNotSatisfiable, "requested range not satisfiable"}
	CodeManifestBlobUnknown = Code{"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"}
	CodeManifestInvalid     = Code{"MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"}
	CodeManifestTooLarge    = Code{"SIZE_INVALID", http.StatusRequestEntityTooLarge, "manifest too large"}
	CodeSizeInvalid         = Code{"SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"}
	CodeBadRequest          = Code{"UNSUPPORTED", http.StatusBadRequest, "the request is not supported"}
	CodeTagsTooMany         = Code{"UNSUPPORTED", http.StatusRequestURITooLong, "too many tags in one request"}
)

// Error is an OCI error: a code, an optional detail shown to the client (so it must be safe),
// and optionally the cause, which is logged and never shown.
type Error struct {
	Code   Code
	Detail string
	Cause  error
}

// Error is the text for logs (never the wire form): the code, its message, then the detail
// and the cause when there are any.
func (e *Error) Error() string {
	s := e.Code.Name + ": " + e.Code.Message
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// Fail builds an *Error with a detail from format and args (none when format is empty).
func Fail(c Code, format string, args ...any) *Error {
	e := &Error{Code: c}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}

// kindCodes are the codes of errkind's kinds, for errors no handler gave a code of its own
// (BLOB_UNKNOWN, MANIFEST_INVALID …). The spec has no generic codes for some kinds; those answer
// UNSUPPORTED or SIZE_INVALID at the kind's status.
var kindCodes = []struct {
	kind error
	code Code
}{
	{errkind.ErrUnauthorized, CodeUnauthorized},
	{errkind.ErrForbidden, CodeDenied},
	{errkind.ErrNotFound, CodeNameUnknown},
	{errkind.ErrInvalid, Code{"UNSUPPORTED", http.StatusBadRequest, "the request is invalid"}},
	{errkind.ErrConflict, Code{"UNSUPPORTED", http.StatusConflict, "the request conflicts with the registry's state"}},
	{errkind.ErrTooLarge, Code{"SIZE_INVALID", http.StatusRequestEntityTooLarge, "content too large"}},
	{errkind.ErrUnavailable, Code{"UNAVAILABLE", http.StatusServiceUnavailable, "storage does not answer, try again"}},
}

// KindError is err as an *Error with its kind's code and err as the cause (never shown), or nil
// when err is of no errkind kind. The registry's and the proxy's error writers answer with it
// what they do not map more precisely.
func KindError(err error) *Error {
	for _, kc := range kindCodes {
		if errors.Is(err, kc.kind) {
			return &Error{Code: kc.code, Cause: err}
		}
	}
	return nil
}

// Answer is the error writer of the registry and the dependency proxy (docs/architecture.md
// §7.1): an *Error as it is, an invalid digest as DIGEST_INVALID, errkind's kinds through
// KindError, nothing when the client went away, and any other error 500 without detail, logged
// with the request ID. The cause of a 5xx answer is logged, never shown.
func Answer(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, blob.ErrInvalidDigest):
		e = &Error{Code: CodeDigestInvalid, Detail: "invalid digest"}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away; nobody to answer
	default:
		if e = KindError(err); e == nil {
			httpx.Internal(r.Context(), log, err)
			WriteInternal(w, r)
			return
		}
	}
	if e.Cause != nil && e.Code.Status >= 500 {
		log.WarnContext(r.Context(), "OCI error answer", "request_id", httpx.RequestID(r.Context()),
			"code", e.Code.Name, "status", e.Code.Status, "err", e.Cause.Error())
	}
	WriteError(w, r, e)
}

// Deleted answers a DELETE whose store call returned err: 202 without a body; unknown
// (BLOB_UNKNOWN, MANIFEST_UNKNOWN) when there was nothing to delete; else writeErr's answer.
func Deleted(w http.ResponseWriter, r *http.Request, err error, unknown Code, writeErr func(http.ResponseWriter, *http.Request, error)) {
	switch {
	case errors.Is(err, errkind.ErrNotFound):
		writeErr(w, r, Fail(unknown, ""))
	case err != nil:
		writeErr(w, r, err)
	default:
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	}
}

// WriteError answers with e in the envelope, at its code's status; the detail is left out when
// empty and the cause never written.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	we := wireError{Code: e.Code.Name, Message: e.Code.Message}
	if e.Detail != "" {
		we.Detail = e.Detail
	}
	writeEnvelope(w, r, e.Code.Status, we)
}

// WriteInternal answers 500 UNKNOWN with a generic message; the caller logs the cause.
func WriteInternal(w http.ResponseWriter, r *http.Request) {
	writeEnvelope(w, r, http.StatusInternalServerError, wireError{Code: "UNKNOWN", Message: "internal server error"})
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
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
