// Package kindtest checks that a protocol's error writer answers every errkind kind with the
// kind's HTTP status. Each wire writer's test calls Check, so a new kind fails every writer
// that does not map it.
package kindtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Statuses is the status of each kind on every HTTP surface.
var Statuses = map[error]int{
	errkind.ErrNotFound:     http.StatusNotFound,
	errkind.ErrConflict:     http.StatusConflict,
	errkind.ErrInvalid:      http.StatusBadRequest,
	errkind.ErrForbidden:    http.StatusForbidden,
	errkind.ErrUnauthorized: http.StatusUnauthorized,
	errkind.ErrTooLarge:     http.StatusRequestEntityTooLarge,
	errkind.ErrUnavailable:  http.StatusServiceUnavailable,
}

// Check has write answer a GET with a wrapped error of each of errkind.Kinds and fails t when
// a kind has no entry in Statuses or is answered with another status.
func Check(t testing.TB, write func(http.ResponseWriter, *http.Request, error)) {
	t.Helper()
	for _, k := range errkind.Kinds() {
		status, ok := Statuses[k]
		if !ok {
			t.Errorf("kind %q has no status: add it to kindtest.Statuses and to every error writer", k)
			continue
		}
		w := httptest.NewRecorder()
		write(w, httptest.NewRequest(http.MethodGet, "/", nil), fmt.Errorf("x: %w", k))
		if w.Code != status {
			t.Errorf("an error of kind %q was answered %d, want %d", k, w.Code, status)
		}
	}
}
