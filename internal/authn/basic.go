// Package authn turns a request into an access.Principal. It is the only reader of
// Authorization, PRIVATE-TOKEN and Deploy-Token headers, and never logs them.
package authn

import (
	"encoding/base64"
	"errors"
	"strings"
)

// maxAuthHeader bounds the Authorization header we decode.
const maxAuthHeader = 4096

// smallAuthHeader is the longest credential decoded or digested in a buffer on the stack;
// a deploy token's basic auth is about 100 bytes.
const smallAuthHeader = 512

// errMalformed is returned for an Authorization header that is not valid basic auth. Its text
// names the kind of problem, never the value.
var errMalformed = errors.New("malformed basic auth")

// ParseBasic decodes an HTTP basic Authorization header value ("Basic base64(user:pass)").
// It returns ok false with no error when the header is not basic auth at all, and errMalformed
// when it claims to be but is not well formed.
func ParseBasic(header string) (username, password string, ok bool, err error) {
	if header == "" {
		return "", "", false, nil
	}
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	rest = strings.TrimSpace(rest)
	if len(rest) > maxAuthHeader {
		return "", "", false, errMalformed
	}
	// A usual header is decoded on the stack: the one allocation is then the string user and
	// pass are cut from.
	var src, dst [smallAuthHeader]byte
	var in, out []byte
	if len(rest) <= len(src) {
		in, out = src[:copy(src[:], rest)], dst[:]
	} else {
		in, out = []byte(rest), make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
	}
	n, derr := base64.StdEncoding.Decode(out, in)
	if derr != nil {
		// Some clients omit padding.
		n, derr = base64.RawStdEncoding.Decode(out, in)
		if derr != nil {
			return "", "", false, errMalformed
		}
	}
	user, pass, found := strings.Cut(string(out[:n]), ":")
	if !found || strings.ContainsAny(user, "\r\n\x00") || strings.ContainsAny(pass, "\r\n\x00") {
		return "", "", false, errMalformed
	}
	return user, pass, true, nil
}

// ParseBearer returns the token of an "Authorization: Bearer <token>" header value.
func ParseBearer(header string) (string, bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if rest == "" || len(rest) > maxAuthHeader || strings.ContainsAny(rest, " \r\n\x00") {
		return "", false
	}
	return rest, true
}

// looksSecret reports whether a value presented as a username is really a token, so it is
// never written to the audit log or logs.
func looksSecret(s string) bool {
	return strings.HasPrefix(s, "gldt-") || strings.HasPrefix(s, "glpat-") || len(s) > 64
}

// safeUsername returns a username fit for the audit log.
func safeUsername(s string) string {
	if looksSecret(s) {
		return "[REDACTED]"
	}
	return s
}
