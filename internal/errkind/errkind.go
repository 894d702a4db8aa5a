// Package errkind holds the domain error kinds every Gatehouse domain package shares
// (docs/architecture.md §7.1). Callers wrap them with context and test them with errors.Is /
// errors.As; each protocol's one error writer maps them to its wire format.
package errkind

import "errors"

// Domain error kinds.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
	// ErrForbidden: the actor is known but the domain's rules refuse what it asks.
	ErrForbidden = errors.New("forbidden")
)

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
