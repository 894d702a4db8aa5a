package testenv

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// What the container registry's and the dependency proxy's tests share: a server whose token
// realm the real clients accept, and a token from /jwt/auth.

// Localhost makes the server's external URL (and so the token realm) use "localhost": crane and
// oras refuse a loopback token realm that is not on the registry's own host
// (docs/architecture.md §6.4).
func Localhost(c *config.Config) {
	c.ExternalURL = strings.Replace(c.ExternalURL, "://127.0.0.1:", "://localhost:", 1)
}

// RegistryToken asks /jwt/auth of base for a token for service and scopes as user:secret (empty
// user: anonymous). It returns the status, and for a 200 the token and the access it grants
// ("type:name:actions" per entry).
func RegistryToken(tb testing.TB, base, service, user, secret string, scopes ...string) (int, string, []string) {
	tb.Helper()
	q := url.Values{"service": {service}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	req, err := http.NewRequest(http.MethodGet, base+"/jwt/auth?"+q.Encode(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", nil
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		tb.Fatalf("decode token answer: %v", err)
	}
	parts := strings.Split(body.Token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token is not a JWT")
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Access []struct {
			Type, Name string
			Actions    []string
		} `json:"access"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		tb.Fatal(err)
	}
	var access []string
	for _, a := range c.Access {
		access = append(access, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	return resp.StatusCode, body.Token, access
}
