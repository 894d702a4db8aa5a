package authn

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func TestStatic(t *testing.T) {
	a := &Authenticator{Ban: ban.New(nil, ban.Options{MaxFailures: 3, Window: time.Minute, Duration: time.Hour}, nil, nil)}
	want := token.NewSecret("metrics-scrape-token")
	check := func(addr, bearer string) (bool, error) {
		r := httptest.NewRequest("GET", "/-/metrics", nil)
		r.RemoteAddr = addr + ":5000"
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		return a.Static(t.Context(), r, want, "metrics token")
	}
	if ok, err := check("192.0.2.1", ""); ok || err != nil {
		t.Fatalf("no token: %v %v, want (false, nil)", ok, err)
	}
	if ok, err := check("192.0.2.1", "metrics-scrape-token"); !ok || err != nil {
		t.Fatalf("right token: %v %v", ok, err)
	}
	if ok, err := a.Static(t.Context(), httptest.NewRequest("GET", "/", nil), token.NewSecret(""), "x"); ok || err != nil {
		t.Fatalf("no token and none configured: %v %v", ok, err)
	}
	for i := 1; i <= 3; i++ {
		ok, err := check("198.51.100.7", "guess")
		wantErr := ErrInvalidCredentials
		if i == 3 {
			wantErr = ErrBanned
		}
		if ok || !errors.Is(err, wantErr) {
			t.Fatalf("wrong token %d: %v %v, want %v", i, ok, err, wantErr)
		}
	}
	// The address is banned now: even the right token is refused from it, not from others.
	if ok, err := check("198.51.100.7", "metrics-scrape-token"); ok || !errors.Is(err, ErrBanned) {
		t.Fatalf("banned address with the right token: %v %v", ok, err)
	}
	if ok, err := check("192.0.2.1", "metrics-scrape-token"); !ok || err != nil {
		t.Fatalf("another address: %v %v", ok, err)
	}
}
