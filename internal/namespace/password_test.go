package namespace_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

func TestChangePassword(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, namespace.CreateUserInput{Username: "root", Email: "root@example.com", Name: "Root",
		Password: "printed-secret", Admin: true, PasswordChangeRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	if !u.PasswordChangeRequired {
		t.Fatal("flag not set at creation")
	}
	for _, c := range []struct {
		name, current, next string
		want                func(error) bool
	}{
		{"fail/wrong current", "guess", "a-new-password", func(err error) bool { return errors.Is(err, namespace.ErrWrongPassword) }},
		{"fail/empty current", "", "a-new-password", func(err error) bool { return errors.Is(err, namespace.ErrWrongPassword) }},
		// The current password is checked first: a guess with a bad new password learns nothing.
		{"fail/wrong current and short new", "guess", "short", func(err error) bool { return errors.Is(err, namespace.ErrWrongPassword) }},
		{"fail/short new", "printed-secret", "short", func(err error) bool {
			var ve *errkind.ValidationError
			return errors.As(err, &ve) && ve.Field == "password" && !errors.Is(err, namespace.ErrWrongPassword)
		}},
		{"fail/same as current", "printed-secret", "printed-secret", func(err error) bool {
			var ve *errkind.ValidationError
			return errors.As(err, &ve) && ve.Field == "password"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := svc.ChangePassword(ctx, u.ID, c.current, c.next); !c.want(err) {
				t.Fatalf("error = %v", err)
			}
			if got, _ := svc.User(ctx, u.ID); !got.PasswordChangeRequired {
				t.Fatal("a refused change cleared the flag")
			}
		})
	}
	t.Run("ok/change", func(t *testing.T) {
		if err := svc.ChangePassword(ctx, u.ID, "printed-secret", "chosen-by-root"); err != nil {
			t.Fatal(err)
		}
		got, err := svc.CheckPassword(ctx, "root", "chosen-by-root")
		if err != nil || got.PasswordChangeRequired {
			t.Fatalf("after the change: %+v %v", got, err)
		}
		if _, err := svc.CheckPassword(ctx, "root", "printed-secret"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("the old password still works: %v", err)
		}
	})
	t.Run("fail/missing user", func(t *testing.T) {
		if err := svc.ChangePassword(ctx, 999999, "x", "a-new-password"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("error = %v", err)
		}
	})
}
