package namespace

import (
	"context"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// ErrWrongPassword refuses a password change whose current password is wrong. The caller counts it
// as a failed authentication (docs/design.md §7.1), as a wrong password at sign-in.
var ErrWrongPassword = &errkind.ValidationError{Field: "current_password", Reason: "is invalid"}

// ChangePassword is a user changing their own password (docs/design.md §6.9): current must be the
// password they have now, and next must pass the rules of CreateUser and differ from current. It
// clears PasswordChangeRequired. Errors: ErrWrongPassword (checked first, so a guess learns
// nothing about next), a *errkind.ValidationError on "password", errkind.ErrNotFound.
func (s *Service) ChangePassword(ctx context.Context, userID int64, current, next string) error {
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return err
	}
	if current == "" || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		return ErrWrongPassword
	}
	if err := validatePassword(next); err != nil {
		return err
	}
	if next == current {
		return &errkind.ValidationError{Field: "password", Reason: "must be different from the current password"}
	}
	if err := s.SetPassword(ctx, userID, next); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}
