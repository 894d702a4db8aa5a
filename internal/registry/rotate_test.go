package registry_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRotatedSecretEndsItsJWTs: a registry JWT lives no longer than the deploy-token secret it
// was minted with. Rotating without a grace period refuses it on the next request, although
// the JWT has minutes left; with a grace period it works until the grace ends, as the old
// secret itself does.
func TestRotatedSecretEndsItsJWTs(t *testing.T) {
	e := newClientEnv(t)
	e.pushApp(t)
	top := "/projects/" + itoa(e.f.Projects["top"].ID)

	head := func(t *testing.T, jwt string) *http.Response {
		t.Helper()
		return regRequest(t, http.MethodHead, e.ts.URL+"/v2/group/top/app/manifests/v1", jwt, nil, "")
	}
	mint := func(t *testing.T, user, secret string) string {
		t.Helper()
		status, jwt := tokenFor(t, e.ts.URL, user, secret, "repository:group/top/app:pull")
		if status != http.StatusOK {
			t.Fatalf("token: %d", status)
		}
		if resp := head(t, jwt); resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh JWT: %d", resp.StatusCode)
		}
		return jwt
	}
	rotate := func(t *testing.T, id int64, body map[string]any) string {
		t.Helper()
		var v struct{ Token string }
		e.ts.MustAPI(t, http.StatusOK, "POST", top+"/deploy_tokens/"+itoa(id)+"/rotate", body, &v)
		return v.Token
	}
	refused := func(t *testing.T, jwt, when string) {
		t.Helper()
		resp := head(t, jwt)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%s: %d %q, want 401 with error=invalid_token", when, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}

	t.Run("fail/rotation without grace refuses the old JWT at once", func(t *testing.T) {
		dt := e.ts.CreateDeployToken(t, top[1:], []string{"read_registry"}, nil)
		old := mint(t, dt.Username, dt.Token)
		secret := rotate(t, dt.ID, nil)
		refused(t, old, "JWT of the rotated secret")
		if resp := head(t, mint(t, dt.Username, secret)); resp.StatusCode != http.StatusOK {
			t.Fatalf("JWT of the new secret: %d", resp.StatusCode)
		}
	})
	t.Run("ok/rotation with grace keeps the old JWT until the grace ends", func(t *testing.T) {
		dt := e.ts.CreateDeployToken(t, top[1:], []string{"read_registry"}, nil)
		before := mint(t, dt.Username, dt.Token)
		secret := rotate(t, dt.ID, map[string]any{"grace_period": 60})
		during := mint(t, dt.Username, dt.Token) // minted with the old secret during the grace
		fresh := mint(t, dt.Username, secret)
		for _, jwt := range []string{before, during} {
			if resp := head(t, jwt); resp.StatusCode != http.StatusOK {
				t.Fatalf("old secret's JWT within the grace period: %d", resp.StatusCode)
			}
		}
		now := e.ts.Clock.Now()
		e.ts.Clock.Advance(61 * time.Second) // past the grace, well within the JWTs' 5 minutes
		defer e.ts.Clock.SetTo(now)
		refused(t, before, "JWT minted before the rotation, after the grace")
		refused(t, during, "JWT minted with the old secret during the grace, after it")
		if resp := head(t, fresh); resp.StatusCode != http.StatusOK {
			t.Fatalf("new secret's JWT after the grace: %d", resp.StatusCode)
		}
	})
}
