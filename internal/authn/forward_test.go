package authn

import (
	"net/http/httptest"
	"testing"
)

// What PackageCredentials takes from one request, WithPackageCredentials puts on another, in
// place of that request's own credentials; other headers are left alone.
func TestForwardPackageCredentials(t *testing.T) {
	from := httptest.NewRequest("GET", "/a", nil)
	from.Header.Set("Authorization", "Bearer gldt-one")
	from.Header.Set("Accept", "application/json")
	creds := PackageCredentials(from)
	if len(creds) != 1 || creds["Authorization"] != "Bearer gldt-one" {
		t.Fatalf("credentials = %v", creds)
	}
	to := httptest.NewRequest("GET", "/b", nil)
	to.Header.Set("Private-Token", "glpat-other")
	to.Header.Set("User-Agent", "tofu")
	got := WithPackageCredentials(to, creds)
	if got.Header.Get("Authorization") != "Bearer gldt-one" || got.Header.Get("Private-Token") != "" || got.Header.Get("User-Agent") != "tofu" {
		t.Fatalf("headers = %v", got.Header)
	}
	if to.Header.Get("Private-Token") != "glpat-other" {
		t.Fatal("the original request was changed")
	}
	if len(PackageCredentials(httptest.NewRequest("GET", "/", nil))) != 0 {
		t.Fatal("credentials from a request without any")
	}
}
