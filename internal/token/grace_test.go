package token_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func TestRotationGrace(t *testing.T) {
	cases := []struct {
		name    string
		seconds int64
		want    time.Duration
		ok      bool
	}{
		{"ok/none", 0, 0, true},
		{"ok/one hour", 3600, time.Hour, true},
		{"ok/seven days", 7 * 24 * 3600, token.MaxRotationGrace, true},
		{"fail/negative", -1, 0, false},
		{"fail/beyond seven days", 7*24*3600 + 1, 0, false},
		// 18446744074 s overflows to about 0.29 s as a Duration: it must not slip through.
		{"fail/overflowing", 18446744074, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := token.RotationGrace(c.seconds)
			var ve *errkind.ValidationError
			switch {
			case c.ok && (err != nil || got != c.want):
				t.Fatalf("RotationGrace(%d) = %v, %v; want %v", c.seconds, got, err, c.want)
			case !c.ok && (!errors.As(err, &ve) || ve.Field != "grace_period"):
				t.Fatalf("RotationGrace(%d) error = %v; want a grace_period errkind.ValidationError", c.seconds, err)
			}
		})
	}
}
