package authn

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// realHeaders are Authorization values as real clients send them.
var realHeaders = []string{
	// git 2.39 (credential from the URL) and curl -u: "Basic " + padded base64.
	basicHeader("gitlab+deploy-token-1", "gldt-q8yPz3Yb2xVb4rW7kF1nTz9s"),
	basicHeader("root", "glpat-xxxxxxxxxxxxxxxxxxxx"),
	// curl -u 'user:' (empty password) and curl -u ':pass'.
	basicHeader("user", ""),
	basicHeader("", "secret"),
	// A password containing colons (only the first colon splits).
	basicHeader("deployer", "a:b:c"),
	// Non-ASCII credentials as UTF-8 (curl, browsers).
	basicHeader("jürgen", "pässwörd"),
	// Some clients omit the padding; some lower-case the scheme.
	"Basic " + base64.RawStdEncoding.EncodeToString([]byte("user:pass1")),
	"basic " + base64.StdEncoding.EncodeToString([]byte("user:pass")),
	// docker/crane send a Bearer after the token dance; npm sends Bearer _authToken.
	"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
	"Basic",
	"Basic ",
	"Basic !!!not-base64!!!",
	"Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon")),
	"Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa\r\nss")),
	"Digest username=\"x\", realm=\"y\"",
	"Basic   " + base64.StdEncoding.EncodeToString([]byte("spaced:out")) + "  ",
}

func TestParseBasic(t *testing.T) {
	long := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+strings.Repeat("p", maxAuthHeader)))
	cases := []struct {
		name       string
		header     string
		user, pass string
		ok         bool
		malformed  bool
	}{
		{"ok/git deploy token", realHeaders[0], "gitlab+deploy-token-1", "gldt-q8yPz3Yb2xVb4rW7kF1nTz9s", true, false},
		{"ok/empty password", basicHeader("user", ""), "user", "", true, false},
		{"ok/empty username", basicHeader("", "secret"), "", "secret", true, false},
		{"ok/password with colons", basicHeader("deployer", "a:b:c"), "deployer", "a:b:c", true, false},
		{"ok/utf-8", basicHeader("jürgen", "pässwörd"), "jürgen", "pässwörd", true, false},
		{"ok/unpadded", realHeaders[6], "user", "pass1", true, false},
		{"ok/lower-case scheme", realHeaders[7], "user", "pass", true, false},
		{"ok/extra spaces", realHeaders[15], "spaced", "out", true, false},
		{"ok/not basic: empty", "", "", "", false, false},
		{"ok/not basic: bearer", realHeaders[8], "", "", false, false},
		{"ok/not basic: digest", realHeaders[14], "", "", false, false},
		{"ok/not basic: scheme only", "Basic", "", "", false, false},
		{"fail/empty credentials", "Basic ", "", "", false, true},
		{"fail/not base64", realHeaders[11], "", "", false, true},
		{"fail/no colon", realHeaders[12], "", "", false, true},
		{"fail/CRLF in password", realHeaders[13], "", "", false, true},
		{"fail/NUL in username", basicHeader("a\x00b", "c"), "", "", false, true},
		{"fail/too long", long, "", "", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user, pass, ok, err := ParseBasic(c.header)
			if c.malformed {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("err = %v, want errMalformed", err)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if ok != c.ok || user != c.user || pass != c.pass {
				t.Fatalf("got (%q, %q, %v), want (%q, %q, %v)", user, pass, ok, c.user, c.pass, c.ok)
			}
		})
	}
}

func FuzzParseBasic(f *testing.F) {
	for _, h := range realHeaders {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		user, pass, ok, err := ParseBasic(header)
		if err != nil {
			if ok || user != "" || pass != "" {
				t.Fatalf("error %v with values (%q, %q, %v)", err, user, pass, ok)
			}
			if !errors.Is(err, errMalformed) {
				t.Fatalf("unexpected error kind %v", err)
			}
			// The error names the kind of problem, never the value.
			if rest := strings.TrimSpace(header[min(len(header), len("Basic ")):]); len(rest) > 3 && strings.Contains(err.Error(), rest) {
				t.Fatalf("error text %q repeats the header", err)
			}
			return
		}
		scheme, _, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Basic") {
			if ok {
				t.Fatalf("non-basic header %q parsed as basic", header)
			}
			return
		}
		if !ok {
			if user != "" || pass != "" {
				t.Fatalf("not ok but values (%q, %q)", user, pass)
			}
			return
		}
		if strings.Contains(user, ":") {
			t.Fatalf("username %q contains a colon", user)
		}
		if strings.ContainsAny(user+pass, "\r\n\x00") {
			t.Fatalf("control characters survived: (%q, %q)", user, pass)
		}
		// Re-encoding what we parsed, as a client would, gives the same credentials.
		u2, p2, ok2, err2 := ParseBasic(basicHeader(user, pass))
		if err2 != nil || !ok2 || u2 != user || p2 != pass {
			t.Fatalf("re-encoded (%q, %q) parsed as (%q, %q, %v, %v)", user, pass, u2, p2, ok2, err2)
		}
		// And net/http, which git servers and clients rely on, agrees (it accepts padded only).
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", basicHeader(user, pass))
		if u3, p3, ok3 := r.BasicAuth(); !ok3 || u3 != user || p3 != pass {
			t.Fatalf("net/http parses the re-encoded header as (%q, %q, %v), want (%q, %q)", u3, p3, ok3, user, pass)
		}
	})
}

func TestParseBearer(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   string
		ok     bool
	}{
		{"ok/jwt", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", true},
		{"ok/lower-case scheme", "bearer glpat-abc", "glpat-abc", true},
		{"ok/surrounding spaces trimmed", "Bearer   glpat-abc  ", "glpat-abc", true},
		{"fail/empty header", "", "", false},
		{"fail/scheme only", "Bearer", "", false},
		{"fail/scheme and space", "Bearer ", "", false},
		{"fail/basic scheme", "Basic dXNlcjpwYXNz", "", false},
		{"fail/no separator", "Bearerglpat-abc", "", false},
		{"fail/two tokens", "Bearer a b", "", false},
		{"fail/newline", "Bearer a\nb", "", false},
		{"fail/NUL", "Bearer a\x00b", "", false},
		{"fail/too long", "Bearer " + strings.Repeat("a", maxAuthHeader+1), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseBearer(c.header)
			if got != c.want || ok != c.ok {
				t.Fatalf("ParseBearer(%q) = (%q, %v), want (%q, %v)", c.header, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSafeUsername(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"gitlab+deploy-token-7", "gitlab+deploy-token-7"},
		{"root", "root"},
		{"gldt-abcdefghijklmnopqrst", "[REDACTED]"},
		{"glpat-abcdefghijklmnopqrst", "[REDACTED]"},
		{strings.Repeat("x", 65), "[REDACTED]"},
	} {
		if got := safeUsername(c.in); got != c.want {
			t.Errorf("safeUsername(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
