// Package errkind holds the one family of error kinds every Gatehouse package shares
// (docs/architecture.md §7.1; upspin's errors.Kind is the model). Callers wrap them with context
// and test them with errors.Is / errors.As; each protocol's one error writer maps them to its
// wire format.
//
// A package may name a kind for its callers, but only as an alias (packages.ErrNotFound ==
// ErrNotFound) or as a sentinel that wraps one (blob.ErrNotFound, "blob not found"), never as a
// kind of its own: errors.Is(err, ErrNotFound) then holds whichever package said it.
package errkind

import "errors"

// Domain error kinds.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
	// ErrForbidden: the actor is known but the domain's rules refuse what it asks.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: credentials are missing or unusable; protocols answer 401 with their
	// challenge.
	ErrUnauthorized = errors.New("authentication required")
	// ErrTooLarge: a body or document past its configured limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable: a dependency (the database, the blob store) does not answer; protocols
	// answer 503 and the client may retry (docs/operations.md, "Readiness, shutdown and
	// outages").
	ErrUnavailable = errors.New("unavailable")
)

// Kinds lists every kind, for tests that check a wire writer maps each of them.
func Kinds() []error {
	return []error{ErrNotFound, ErrConflict, ErrInvalid, ErrForbidden, ErrUnauthorized, ErrTooLarge, ErrUnavailable}
}

// ValidationError names the field that failed validation and why. It wraps ErrInvalid.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) hold for validation errors.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// ForbiddenError is a refusal by a domain rule, with the reason the client is shown. It wraps
// ErrForbidden.
type ForbiddenError struct {
	Reason string
}

func (e *ForbiddenError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrForbidden) hold for refusals.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }
