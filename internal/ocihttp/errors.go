// Package ocihttp is the HTTP side the OCI Distribution protocols (internal/registry and the
// dependency proxy, internal/proxy) share: the {"errors":[…]} envelope every error answer is
// written in, and the seekable reader blobs are served through. Each protocol keeps its own
// error codes and decides how an error is logged; this package only writes.
package ocihttp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ErrorString is the text of an OCI error (for logs; never the wire form): the code, its
// message, then the detail and the cause when there are any.
func ErrorString(code, message, detail string, cause error) string {
	s := code + ": " + message
	if detail != "" {
		s += ": " + detail
	}
	if cause != nil {
		s += ": " + cause.Error()
	}
	return s
}

// WriteError answers with one OCI error in the envelope; detail is shown to the client (so it
// must be safe) and left out when empty.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, message, detail string) {
	we := wireError{Code: code, Message: message}
	if detail != "" {
		we.Detail = detail
	}
	writeEnvelope(w, r, status, we)
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
