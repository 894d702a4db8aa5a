package errkind_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

func TestValidationErrorIsInvalid(t *testing.T) {
	err := fmt.Errorf("create: %w", &errkind.ValidationError{Field: "name", Reason: "is missing"})
	if !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if errors.Is(err, errkind.ErrNotFound) || errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("%v matches another kind", err)
	}
	var ve *errkind.ValidationError
	if !errors.As(err, &ve) || ve.Error() != "name is missing" {
		t.Fatalf("errors.As: %v, %v", ve, err)
	}
}
