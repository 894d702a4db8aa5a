package jwtauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func TestParseScope(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Scope
	}{
		{"repository:group/top:pull,push", Scope{Type: "repository", Name: "group/top", Actions: []string{"pull", "push"}}},
		{"repository:a:pull,pull,*", Scope{Type: "repository", Name: "a", Actions: []string{"pull", "*"}}},
		{"repository(plugin):a/b:pull", Scope{Type: "repository", Class: "plugin", Name: "a/b", Actions: []string{"pull"}}},
		{"registry:catalog:*", Scope{Type: "registry", Name: "catalog", Actions: []string{"*"}}},
		{"repository:localhost:5000/a:pull", Scope{Type: "repository", Name: "localhost:5000/a", Actions: []string{"pull"}}},
	} {
		got, err := ParseScope(c.in)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ok/%s: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "repository", "repository:a", "repository::pull", "Repository:a:pull", "repository:a:",
		"repository:a:pull,", "repository:a:PULL", "repository(:a:pull", "repository:a b:pull", "repository:a:" + strings.Repeat("x", 40),
		"repository:a:a,b,c,d,e,f,g,h,i", "repository:" + strings.Repeat("a", MaxScopeLength) + ":pull"} {
		if _, err := ParseScope(in); !errors.Is(err, oci.ErrInvalid) {
			t.Errorf("fail/%q: %v", in, err)
		}
	}
}

func TestParseScopes(t *testing.T) {
	// Several in one parameter (the conformance suite) and repeated parameters (skopeo).
	got, err := ParseScopes([]string{"repository:a:pull repository:b:pull,push", "", "repository:c:delete"})
	if err != nil || len(got) != 3 || got[1].Name != "b" || got[2].Actions[0] != "delete" {
		t.Fatalf("ParseScopes = %+v, %v", got, err)
	}
	many := strings.Repeat("repository:a:pull ", MaxScopes+1)
	if _, err := ParseScopes([]string{many}); !errors.Is(err, oci.ErrInvalid) {
		t.Fatalf("fail/too many scopes: %v", err)
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:group/top:pull,push", "registry:catalog:*", "repository(plugin):a:pull",
		"repository:a:b:c", ":::", "repository:a:pull repository:b:push"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			if !errors.Is(err, oci.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		} else {
			if sc.Type == "" || sc.Name == "" || len(sc.Actions) == 0 || len(sc.Actions) > maxActions {
				t.Fatalf("ParseScope(%q) = %+v", s, sc)
			}
			again, err := ParseScope(sc.String())
			if err != nil || fmt.Sprint(again) != fmt.Sprint(sc) {
				t.Fatalf("round trip of %q: %+v %v", s, again, err)
			}
		}
		scopes, err := ParseScopes([]string{s, s})
		if err == nil && len(scopes) > MaxScopes {
			t.Fatalf("ParseScopes returned %d scopes", len(scopes))
		}
	})
}

// memSettings is an in-memory Settings.
type memSettings struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memSettings) Setting(_ context.Context, k string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *memSettings) SetSettingIfAbsent(_ context.Context, k, v string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		return old, nil
	}
	s.m[k] = v
	return v, nil
}

func TestLoadOrCreateKey(t *testing.T) {
	ctx := context.Background()
	st := &memSettings{m: map[string]string{}}
	secret := []byte("instance-secret")
	var wg sync.WaitGroup
	kids := make([]string, 8)
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadOrCreateKey(ctx, st, secret, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = k.KeyID()
		}()
	}
	wg.Wait()
	for _, kid := range kids {
		if kid != kids[0] || kid == "" {
			t.Fatalf("nodes starting together got different keys: %v", kids)
		}
	}
	k, err := LoadOrCreateKey(ctx, st, secret, time.Now())
	if err != nil || k.KeyID() != kids[0] {
		t.Fatalf("reload: %v %v", k, err)
	}
	if _, err := LoadOrCreateKey(ctx, st, []byte("another secret"), time.Now()); err == nil {
		t.Fatal("the key opened with the wrong instance secret")
	}
	// The stored value holds no private key in clear, and the key never prints itself.
	scalar, _ := k.private.Bytes()
	stored := st.m[SettingKey]
	for _, enc := range []string{base64.StdEncoding.EncodeToString(scalar), base64.RawURLEncoding.EncodeToString(scalar), fmt.Sprintf("%x", scalar)} {
		if strings.Contains(stored, enc) {
			t.Fatal("the private key is stored in clear")
		}
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k)
	js, _ := json.Marshal(k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v %#v %v", k, k, *k), string(js), logs.String()} {
		if strings.Contains(s, new(big.Int).SetBytes(scalar).String()) || strings.Contains(s, fmt.Sprintf("%x", scalar)) {
			t.Fatalf("the private key printed itself: %s", s)
		}
	}
}

func TestThumbprint(t *testing.T) {
	// RFC 7638 §3.1 example is RSA; check the EC form against a fixed key instead: the
	// thumbprint is stable for a key and differs between keys.
	k1, _ := GenerateKey(time.Now())
	k2, _ := GenerateKey(time.Now())
	if k1.KeyID() == k2.KeyID() || len(k1.KeyID()) != 43 || thumbprint(k1.Public()) != k1.KeyID() {
		t.Fatalf("thumbprints %q %q", k1.KeyID(), k2.KeyID())
	}
}

func TestIssueVerify(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key, err := GenerateKey(now)
	if err != nil {
		t.Fatal(err)
	}
	iss := NewIssuer(key, Options{Now: clock})
	dt := access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: &token.DeployToken{ID: 7, Username: "gitlab+deploy-token-7"}}
	granted := []ResourceActions{{Type: "repository", Name: "group/top", Actions: []string{"pull", "push"}}}
	tok, err := iss.Issue(ContainerRegistryService, dt, granted)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TTL != 5*time.Minute {
		t.Fatalf("TTL %v", tok.TTL)
	}
	parts := strings.Split(tok.Token, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg, Kid string
		X5c      []string
	}
	if err := json.Unmarshal(hdr, &h); err != nil || h.Alg != "ES256" || h.Kid != key.KeyID() || len(h.X5c) != 1 {
		t.Fatalf("header %s", hdr)
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(body), `"aud":"container_registry"`) || !strings.Contains(string(body), `"deploy_token_id":7`) {
		t.Fatalf("claims %s", body)
	}
	c, err := iss.Verify(tok.Token, ContainerRegistryService)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Allows("repository", "group/top", "push") || c.Allows("repository", "group/top", "delete") || c.Allows("repository", "group", "pull") {
		t.Fatalf("access %+v", c.Access)
	}
	if _, err := iss.Verify(tok.Token, "dependency_proxy"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/other audience: %v", err)
	}
	// A token is still good within the leeway after expiry, and refused after it.
	now = now.Add(5*time.Minute + 20*time.Second)
	if _, err := iss.Verify(tok.Token, ContainerRegistryService); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := iss.Verify(tok.Token, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/expired (cached): %v", err)
	}
	fresh := NewIssuer(key, Options{Now: clock})
	if _, err := fresh.Verify(tok.Token, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/expired: %v", err)
	}
	now = now.Add(-6 * time.Minute)
	other, _ := GenerateKey(now)
	if _, err := NewIssuer(other, Options{Now: clock}).Verify(tok.Token, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/another key: %v", err)
	}
	if _, err := NewIssuer(key, Options{Now: clock, Issuer: "someone-else"}).Verify(tok.Token, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/another issuer: %v", err)
	}
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), `"pull","push"`, `"pull","push","delete"`, 1))) + "." + parts[2]
	if _, err := fresh.Verify(forged, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/forged claims: %v", err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"`+key.KeyID()+`"}`)) + "." + parts[1] + "."
	if _, err := fresh.Verify(none, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fail/alg none: %v", err)
	}
	for _, junk := range []string{"", "a.b.c", "x", strings.Repeat("a.", 10)} {
		if _, err := fresh.Verify(junk, ContainerRegistryService); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("fail/junk %q: %v", junk, err)
		}
	}
	// A user's token names the user and the personal access token.
	u := access.Principal{Kind: access.UserPrincipal, User: &namespace.User{ID: 3, Username: "alice"}, PersonalToken: &token.PersonalToken{ID: 9}}
	tok, _ = iss.Issue(ContainerRegistryService, u, nil)
	if c, err = iss.Verify(tok.Token, ContainerRegistryService); err != nil || c.UserID != 3 || c.PersonalTokenID != 9 ||
		c.DeployTokenID != 0 || c.Subject != "alice" || c.Access == nil {
		t.Fatalf("user token %+v %v", c, err)
	}
}

func TestMergeActions(t *testing.T) {
	if got := strings.Join(mergeActions([]string{"push"}, []string{"delete", "pull", "push"}), ","); got != "pull,push,delete" {
		t.Fatal(got)
	}
}

func BenchmarkIssue(b *testing.B) {
	key, _ := GenerateKey(time.Now())
	iss := NewIssuer(key, Options{})
	p := access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: &token.DeployToken{ID: 7, Username: "u"}}
	g := []ResourceActions{{Type: "repository", Name: "group/top", Actions: []string{"pull", "push"}}}
	for b.Loop() {
		if _, err := iss.Issue(ContainerRegistryService, p, g); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIssueReuse: within one second the same grant to the same credential is the same token;
// another grant, audience, credential or secret, or the next second, is a new one.
func TestIssueReuse(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 100, time.UTC)
	key, err := GenerateKey(now)
	if err != nil {
		t.Fatal(err)
	}
	iss := NewIssuer(key, Options{Now: func() time.Time { return now }})
	dt := func(id int64, digest string) access.Principal {
		return access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: &token.DeployToken{ID: id, Digest: []byte(digest)}}
	}
	user := access.Principal{Kind: access.UserPrincipal, User: &namespace.User{ID: 7, Username: "alice"}}
	pull := []ResourceActions{{Type: "repository", Name: "group/top", Actions: []string{"pull"}}}
	push := []ResourceActions{{Type: "repository", Name: "group/top", Actions: []string{"pull", "push"}}}
	issue := func(service string, p access.Principal, g []ResourceActions) string {
		t.Helper()
		tok, err := iss.Issue(service, p, g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iss.Verify(tok.Token, service); err != nil {
			t.Fatalf("issued token does not verify: %v", err)
		}
		return tok.Token
	}
	first := issue(ContainerRegistryService, dt(7, "a"), pull)
	now = now.Add(900 * time.Millisecond)
	if again := issue(ContainerRegistryService, dt(7, "a"), pull); again != first {
		t.Fatal("ok/same second, same grant: a new token was signed")
	}
	for name, tok := range map[string]string{
		"another grant":       issue(ContainerRegistryService, dt(7, "a"), push),
		"another audience":    issue(DependencyProxyService, dt(7, "a"), pull),
		"another token":       issue(ContainerRegistryService, dt(8, "a"), pull),
		"a rotated secret":    issue(ContainerRegistryService, dt(7, "b"), pull),
		"a user":              issue(ContainerRegistryService, user, pull),
		"no grant, anonymous": issue(ContainerRegistryService, access.AnonymousPrincipal, nil),
	} {
		if tok == first {
			t.Errorf("fail/%s got the first token", name)
		}
	}
	now = now.Add(200 * time.Millisecond)
	if next := issue(ContainerRegistryService, dt(7, "a"), pull); next == first {
		t.Fatal("fail/the next second reuses the last second's token")
	}
}

// TestWriteToken: the token answer is byte for byte what encoding/json writes, with its length,
// whether rendered at issue or (a value that needs escaping) encoded on the spot.
func TestWriteToken(t *testing.T) {
	issuedAt := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for name, tok := range map[string]string{
		"ok/a JWT":          "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_",
		"ok/needs escaping": `a"b<c`,
	} {
		it := Issued{Token: tok, IssuedAt: issuedAt, TTL: 5 * time.Minute}
		it.answer = tokenAnswer(it.response())
		if (it.answer == nil) != (name == "ok/needs escaping") {
			t.Errorf("%s: rendered at issue: %v", name, it.answer != nil)
		}
		rec := httptest.NewRecorder()
		writeToken(rec, it)
		var enc bytes.Buffer
		_ = json.NewEncoder(&enc).Encode(it.response())
		if got := rec.Body.String(); got != enc.String() {
			t.Errorf("%s: body %q, want %q", name, got, enc.String())
		}
		if cl := rec.Header().Get("Content-Length"); it.answer != nil && cl != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("%s: Content-Length %q for %d bytes", name, cl, rec.Body.Len())
		}
	}
}

// BenchmarkMergeActions is the merge of one repository scope's granted actions, as every
// /jwt/auth request with a push,pull scope does it.
func BenchmarkMergeActions(b *testing.B) {
	granted := []string{Push, Pull}
	b.ReportAllocs()
	for b.Loop() {
		_ = mergeActions(nil, granted)
	}
}
