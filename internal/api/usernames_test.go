package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestDeployTokenUsernamesNeverNameAUser: a custom deploy-token username may not equal a user's
// (in any case), a user may not take a custom deploy-token username, and a registry token's
// "sub" for a deploy token can never be a user's username.
func TestDeployTokenUsernamesNeverNameAUser(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	owner := fmt.Sprintf("/projects/%d/deploy_tokens", f.Projects["top"].ID)
	create := func(t *testing.T, username string) result {
		t.Helper()
		return asPAT(t, ts, ts.RootToken, "POST", owner, map[string]any{"name": "n-" + username,
			"username": username, "scopes": []string{"read_registry"}})
	}

	for _, name := range []string{"root", "ROOT", "Root"} {
		t.Run("fail/custom username "+name+" of the user root", func(t *testing.T) {
			r := create(t, name)
			mustStatus(t, r, http.StatusBadRequest, "deploy token named like a user")
			if msg := r.message(t); msg != "Username has already been taken" {
				t.Fatalf("message %q", msg)
			}
		})
	}
	t.Run("fail/user named like a custom deploy-token username", func(t *testing.T) {
		mustStatus(t, create(t, "release-bot"), http.StatusCreated, "deploy token release-bot")
		for _, name := range []string{"release-bot", "Release-BOT"} {
			r := asPAT(t, ts, ts.RootToken, "POST", "/users", map[string]any{"username": name,
				"email": strings.ToLower(name) + "@example.com", "name": "R", "password": "password-release"})
			mustStatus(t, r, http.StatusBadRequest, "user named like a deploy token")
			if msg := r.message(t); !strings.HasPrefix(msg, "username") || !strings.Contains(msg, "taken") {
				t.Fatalf("message %q", msg)
			}
		}
	})
	t.Run("ok/registry token subject of a deploy token is its default username", func(t *testing.T) {
		r := create(t, "ci-pusher")
		mustStatus(t, r, http.StatusCreated, "deploy token ci-pusher")
		var dt deployTokenView
		r.json(t, &dt)
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/jwt/auth?"+url.Values{"service": {"container_registry"},
			"scope": {"repository:group/top:pull"}}.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("ci-pusher", *dt.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/jwt/auth: %d %v", resp.StatusCode, err)
		}
		parts := strings.Split(body.Token, ".")
		if len(parts) != 3 {
			t.Fatal("not a JWT")
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Sub string `json:"sub"`
		}
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("gitlab+deploy-token-%d", dt.ID); claims.Sub != want {
			t.Fatalf("sub = %q, want %q (a '+' no user's username holds)", claims.Sub, want)
		}
	})
}
