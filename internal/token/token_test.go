package token_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func TestGenerateSecret(t *testing.T) {
	for _, prefix := range []string{token.DeployTokenPrefix, token.PersonalTokenPrefix} {
		t.Run("ok/"+prefix, func(t *testing.T) {
			const n = 5000
			seen := make(map[string]bool, n)
			var lengths = map[int]bool{}
			// chars[i] collects the characters seen at position i of the random part; a
			// CSPRNG fills every position with many values.
			var chars []map[byte]bool
			for range n {
				s, err := token.GenerateSecret(prefix)
				if err != nil {
					t.Fatal(err)
				}
				raw := s.Reveal()
				if !strings.HasPrefix(raw, prefix) || !s.HasPrefix(prefix) {
					t.Fatalf("secret does not start with %q", prefix)
				}
				random := strings.TrimPrefix(raw, prefix)
				b, err := base64.RawURLEncoding.DecodeString(random)
				if err != nil {
					t.Fatalf("random part is not base64url: %v", err)
				}
				if bits := len(b) * 8; bits < 160 {
					t.Fatalf("random part carries %d bits, want ≥ 160", bits)
				}
				if seen[raw] {
					t.Fatal("duplicate secret generated")
				}
				seen[raw] = true
				lengths[len(raw)] = true
				if chars == nil {
					chars = make([]map[byte]bool, len(random))
					for i := range chars {
						chars[i] = map[byte]bool{}
					}
				}
				for i := range min(len(random), len(chars)) {
					chars[i][random[i]] = true
				}
			}
			if len(lengths) != 1 {
				t.Errorf("secret lengths vary: %v", lengths)
			}
			// The last character of unpadded base64 of 24 bytes carries all 6 bits; 5000
			// draws from 64 values leave none unseen except with negligible probability.
			for i, c := range chars {
				if len(c) < 60 {
					t.Errorf("position %d of the random part took only %d distinct values", i, len(c))
				}
			}
		})
	}
}

type holder struct {
	Name   string
	Secret token.Secret
	Ptr    *token.Secret
}

// private holds secrets where fmt cannot call their methods: it prints the fields itself.
type private struct {
	name   string
	secret token.Secret
	ptr    *token.Secret
}

func TestSecretNeverPrints(t *testing.T) {
	const raw = "gldt-VerySecretValue1234567890abcdef"
	s := token.NewSecret(raw)
	h := holder{Name: "n", Secret: s, Ptr: &s}
	var outputs = map[string]string{}
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10.3s", "%-8v"} {
		outputs["fmt "+verb+" value"] = fmt.Sprintf(verb, s)
		outputs["fmt "+verb+" pointer"] = fmt.Sprintf(verb, &s)
		outputs["fmt "+verb+" struct"] = fmt.Sprintf(verb, h)
		outputs["fmt "+verb+" slice"] = fmt.Sprintf(verb, []token.Secret{s})
		outputs["fmt "+verb+" map"] = fmt.Sprintf(verb, map[string]token.Secret{"k": s})
	}
	// fmt cannot call methods on unexported fields: those outputs need only hide the value.
	hidden := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		hidden["fmt "+verb+" unexported field"] = fmt.Sprintf(verb, private{"n", s, &s})
	}
	outputs["Sprint"] = fmt.Sprint(s, &s, h)
	outputs["Sprintln"] = fmt.Sprintln(s)
	outputs["String"] = s.String()
	outputs["GoString"] = s.GoString()
	outputs["error wrap"] = fmt.Errorf("bad token %v: %w", s, errors.New("x")).Error()
	for name, v := range map[string]any{"json value": s, "json pointer": &s, "json struct": h, "json map": map[string]token.Secret{"k": s}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		outputs[name] = string(b)
	}
	text, err := encoding.TextMarshaler(s).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	outputs["MarshalText"] = string(text)
	for _, handler := range []string{"json", "text"} {
		var buf bytes.Buffer
		var log *slog.Logger
		if handler == "json" {
			log = slog.New(slog.NewJSONHandler(&buf, nil))
		} else {
			log = slog.New(slog.NewTextHandler(&buf, nil))
		}
		log.Info("auth", "secret", s, "ptr", &s, "holder", h, slog.Any("any", s), slog.Group("g", "s", s),
			"private", private{"n", s, &s})
		log.Info(fmt.Sprint(s))
		outputs["slog "+handler] = buf.String()
	}
	for name, out := range hidden {
		if strings.Contains(out, "VerySecret") || strings.Contains(out, fmt.Sprintf("%x", "VerySecret")) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	for name, out := range outputs {
		if strings.Contains(out, raw) || strings.Contains(out, "VerySecretValue") {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("%s does not show [REDACTED]: %s", name, out)
		}
	}
	if s.Reveal() != raw {
		t.Fatalf("Reveal = %q, want the raw value", s.Reveal())
	}
	if s.IsZero() || !(token.Secret{}).IsZero() || !token.NewSecret("").IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func TestDigester(t *testing.T) {
	key := []byte("instance key")
	d := token.NewDigester(key)
	s := token.NewSecret("gldt-abc")
	want := hmac.New(sha256.New, []byte("instance key"))
	want.Write([]byte("gldt-abc"))
	digest := d.Digest(s)

	t.Run("ok/is HMAC-SHA-256 of the secret", func(t *testing.T) {
		if !bytes.Equal(digest, want.Sum(nil)) {
			t.Fatalf("Digest = %x, want HMAC-SHA-256 %x", digest, want.Sum(nil))
		}
	})
	t.Run("ok/deterministic", func(t *testing.T) {
		if !bytes.Equal(d.Digest(token.NewSecret("gldt-abc")), digest) {
			t.Fatal("same secret digests differently")
		}
	})
	t.Run("ok/key copied", func(t *testing.T) {
		key[0] = 'X'
		if !bytes.Equal(d.Digest(s), digest) {
			t.Fatal("mutating the caller's key slice changed the digester")
		}
	})
	t.Run("ok/key matters", func(t *testing.T) {
		if bytes.Equal(token.NewDigester([]byte("other key")).Digest(s), digest) {
			t.Fatal("different keys give the same digest")
		}
	})
	t.Run("ok/matches", func(t *testing.T) {
		if !d.Matches(s, digest) {
			t.Fatal("Matches rejects the right digest")
		}
	})
	fails := map[string][]byte{
		"fail/nil":        nil,
		"fail/empty":      {},
		"fail/prefix":     digest[:31],
		"fail/extended":   append(append([]byte{}, digest...), 0),
		"fail/last bit":   flip(digest, 31),
		"fail/first bit":  flip(digest, 0),
		"fail/other text": d.Digest(token.NewSecret("gldt-abd")),
	}
	for name, other := range fails {
		t.Run(name, func(t *testing.T) {
			if d.Matches(s, other) {
				t.Fatalf("Matches accepted %x", other)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte{}, b...)
	out[i] ^= 1
	return out
}

// TestMatchesIsConstantTime reads SameDigest's and Matches' source: timing cannot be measured reliably in a
// unit test, but the comparison it uses can be checked (docs/design.md §2.5: compared in constant
// time).
func TestMatchesIsConstantTime(t *testing.T) {
	f, err := parser.ParseFile(gotoken.NewFileSet(), "token.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body, matches *ast.BlockStmt
	for _, decl := range f.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && fn.Name.Name == "SameDigest" && fn.Recv == nil {
			body = fn.Body
		} else if ok && fn.Name.Name == "Matches" && fn.Recv != nil {
			matches = fn.Body
		}
	}
	if body == nil || matches == nil {
		t.Fatal("SameDigest or Digester.Matches not found in token.go")
	}
	callsSameDigest := false
	ast.Inspect(matches, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "SameDigest" {
				callsSameDigest = true
			}
		}
		return true
	})
	if !callsSameDigest {
		t.Fatal("Digester.Matches must compare with SameDigest")
	}
	constant, variable := false, ""
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				switch id.Name + "." + n.Sel.Name {
				case "subtle.ConstantTimeCompare", "hmac.Equal":
					constant = true
				case "bytes.Equal", "bytes.Compare", "reflect.DeepEqual":
					variable = id.Name + "." + n.Sel.Name
				}
			}
		case *ast.BinaryExpr:
			if call, ok := n.X.(*ast.CallExpr); ok && (n.Op.String() == "==" || n.Op.String() == "!=") {
				if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "string" {
					variable = "string comparison"
				}
			}
		}
		return true
	})
	if !constant || variable != "" {
		t.Fatalf("SameDigest must compare with subtle.ConstantTimeCompare or hmac.Equal (constant=%v, variable-time %q)", constant, variable)
	}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseExpiry(t *testing.T) {
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	ok := []struct {
		name, in string
		want     time.Time
	}{
		{"ok/date tomorrow", "2030-06-16", date(2030, 6, 16)},
		{"ok/date far", "2099-12-31", date(2099, 12, 31)},
		{"ok/date surrounded by spaces", " 2030-07-01 ", date(2030, 7, 1)},
		{"ok/rfc3339 utc", "2030-06-20T15:04:05Z", date(2030, 6, 20)},
		{"ok/rfc3339 nanos", "2030-06-20T23:59:59.999999999Z", date(2030, 6, 20)},
		{"ok/rfc3339 midnight", "2030-06-20T00:00:00Z", date(2030, 6, 20)},
		{"ok/positive offset moves to previous utc date", "2030-06-21T01:30:00+03:00", date(2030, 6, 20)},
		{"ok/negative offset moves to next utc date", "2030-06-20T22:00:00-05:00", date(2030, 6, 21)},
		{"ok/offset makes tomorrow", "2030-06-15T23:00:00-02:00", date(2030, 6, 16)},
		{"ok/no zone means utc", "2030-06-20T10:00:00", date(2030, 6, 20)},
		{"ok/leap day", "2032-02-29", date(2032, 2, 29)},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.ParseExpiry(tc.in, now)
			if err != nil {
				t.Fatalf("ParseExpiry(%q): %v", tc.in, err)
			}
			if got == nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("ParseExpiry(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	for _, in := range []string{"", "   ", "\t\n"} {
		t.Run(fmt.Sprintf("ok/empty %q means never", in), func(t *testing.T) {
			got, err := token.ParseExpiry(in, now)
			if err != nil || got != nil {
				t.Fatalf("ParseExpiry(%q) = %v, %v; want nil, nil", in, got, err)
			}
		})
	}
	fail := []struct {
		name, in string
		now      time.Time
	}{
		{"fail/today", "2030-06-15", now},
		{"fail/today late", "2030-06-15T23:59:59Z", now},
		{"fail/yesterday", "2030-06-14", now},
		{"fail/long past", "1999-01-01", now},
		{"fail/offset maps to today", "2030-06-16T01:00:00+02:00", now},
		{"fail/at exactly midnight of the date", "2030-06-16", date(2030, 6, 16)},
		{"fail/tomorrow locally but today in utc", "2030-06-16", time.Date(2030, 6, 15, 23, 0, 0, 0, time.FixedZone("EST", -5*3600))},
		{"fail/word", "tomorrow", now},
		{"fail/month 13", "2030-13-01", now},
		{"fail/february 30", "2030-02-30", now},
		{"fail/day first", "16-06-2030", now},
		{"fail/slashes", "2030/06/16", now},
		{"fail/compact", "20300616", now},
		{"fail/no padding", "2030-6-16", now},
		{"fail/hour 25", "2030-06-16T25:00:00Z", now},
		{"fail/trailing junk", "2030-06-16x", now},
		{"fail/date then junk", "2030-06-16 garbage", now},
		{"fail/unix seconds", "1908000000", now},
		{"fail/zone name", "2030-06-16T10:00:00 UTC", now},
	}
	for _, tc := range fail {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.ParseExpiry(tc.in, tc.now)
			if err == nil {
				t.Fatalf("ParseExpiry(%q) = %v, want an error", tc.in, got)
			}
			var ve *errkind.ValidationError
			if !errors.As(err, &ve) || ve.Field != "expires_at" || !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("ParseExpiry(%q) error = %v, want a errkind.ValidationError on expires_at", tc.in, err)
			}
		})
	}
}

func TestExpiredBoundary(t *testing.T) {
	exp := date(2030, 6, 16)
	tok := &token.DeployToken{ExpiresAt: &exp}
	cases := []struct {
		name   string
		now    time.Time
		active bool
	}{
		{"ok/day before", date(2030, 6, 15).Add(23*time.Hour + 59*time.Minute + 59*time.Second), true},
		{"ok/one nanosecond before", exp.Add(-time.Nanosecond), true},
		{"fail/at midnight", exp, false},
		{"fail/at noon", exp.Add(12 * time.Hour), false},
		{"fail/in another zone after utc midnight", time.Date(2030, 6, 15, 20, 0, 0, 0, time.FixedZone("X", -5*3600)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tok.Active(tc.now) != tc.active || tok.Expired(tc.now) == tc.active {
				t.Fatalf("at %v: Active=%v Expired=%v, want active %v", tc.now, tok.Active(tc.now), tok.Expired(tc.now), tc.active)
			}
		})
	}
	never := &token.DeployToken{}
	if !never.Active(date(9999, 1, 1)) {
		t.Error("token without expiry expired")
	}
	revoked := &token.DeployToken{Revoked: true}
	if revoked.Active(date(2000, 1, 1)) {
		t.Error("revoked token active")
	}
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"", "2030-06-16", "2030-06-20T15:04:05Z", "2030-06-21T01:30:00+03:00",
		"2030-06-20T10:00:00", "2030-02-30", "tomorrow", "9999-12-31T23:59:59.999999999-23:59", "0000-01-01",
		"2030-06-16T25:00:00Z", " 2030-06-16 "} {
		f.Add(s, int64(1907928000))
	}
	f.Fuzz(func(t *testing.T, s string, nowUnix int64) {
		now := time.Unix(nowUnix%(1<<36), 0)
		got, err := token.ParseExpiry(s, now)
		if err != nil {
			var ve *errkind.ValidationError
			if got != nil || !errors.As(err, &ve) || ve.Field != "expires_at" || !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("ParseExpiry(%q) = %v, %v: failure must be a errkind.ValidationError on expires_at and no time", s, got, err)
			}
			return
		}
		if got == nil {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("ParseExpiry(%q) = nil, nil for a non-empty input", s)
			}
			return
		}
		if got.Location() != time.UTC || got.Hour() != 0 || got.Minute() != 0 || got.Second() != 0 || got.Nanosecond() != 0 {
			t.Fatalf("ParseExpiry(%q) = %v, not midnight UTC", s, got)
		}
		if !now.Before(*got) {
			t.Fatalf("ParseExpiry(%q) = %v accepted at %v: not in the future", s, got, now)
		}
		if !token.ExpiryDate(*got).Equal(*got) {
			t.Fatalf("ParseExpiry(%q) = %v is not normalised", s, got)
		}
	})
}

func TestParseScopes(t *testing.T) {
	cases := []struct {
		name    string
		in      []string
		allowed []token.Scope
		want    string
	}{
		{"ok/single", []string{"read_repository"}, token.DeployScopes, "read_repository"},
		{"ok/all seven in canonical order", []string{"write_package_registry", "read_package_registry", "write_virtual_registry",
			"read_virtual_registry", "write_registry", "read_registry", "read_repository"}, token.DeployScopes,
			"read_repository,read_registry,write_registry,read_package_registry,write_package_registry,read_virtual_registry,write_virtual_registry"},
		{"ok/duplicates collapse", []string{"read_registry", "read_registry", "read_repository", "read_registry"}, token.DeployScopes, "read_repository,read_registry"},
		{"ok/spaces trimmed", []string{" read_registry ", "read_registry"}, token.DeployScopes, "read_registry"},
		{"ok/personal api", []string{"read_repository", "api"}, token.PersonalScopes, "api,read_repository"},
		{"ok/personal write_repository", []string{"write_repository"}, token.PersonalScopes, "write_repository"},
		{"fail/nil", nil, token.DeployScopes, ""},
		{"fail/empty", []string{}, token.DeployScopes, ""},
		{"fail/empty name", []string{""}, token.DeployScopes, ""},
		{"fail/unknown", []string{"read_repository", "admin"}, token.DeployScopes, ""},
		{"fail/wrong case", []string{"READ_REPOSITORY"}, token.DeployScopes, ""},
		{"fail/personal-only scope on deploy token", []string{"api"}, token.DeployScopes, ""},
		{"fail/write_repository is not a deploy scope", []string{"write_repository"}, token.DeployScopes, ""},
		{"fail/deploy-only scope on personal token", []string{"read_virtual_registry"}, token.PersonalScopes, ""},
		{"fail/comma list in one element", []string{"read_repository,read_registry"}, token.DeployScopes, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.ParseScopes(tc.in, tc.allowed)
			if tc.want == "" {
				var ve *errkind.ValidationError
				if err == nil || !errors.As(err, &ve) || ve.Field != "scopes" || !errors.Is(err, errkind.ErrInvalid) {
					t.Fatalf("ParseScopes(%q) = %v, %v; want a errkind.ValidationError on scopes", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScopes(%q): %v", tc.in, err)
			}
			if s := strings.Join(got.Strings(), ","); s != tc.want {
				t.Fatalf("ParseScopes(%q) = %s, want %s", tc.in, s, tc.want)
			}
		})
	}
}

func TestScopesSet(t *testing.T) {
	s := token.Scopes{token.ReadRegistry, token.WriteRegistry}
	if !s.Has(token.ReadRegistry) || s.Has(token.ReadRepository) {
		t.Error("Has wrong")
	}
	if !s.HasAny(token.ReadRepository, token.WriteRegistry) || s.HasAny(token.ReadRepository, token.API) || s.HasAny() {
		t.Error("HasAny wrong")
	}
	if len(token.DeployScopes) != 7 {
		t.Errorf("%d deploy scopes, docs/design.md §2.3 lists 7", len(token.DeployScopes))
	}
}

// TestDefaultUsername: a token created without a username is GitLab's gitlab+deploy-token-{id}
// (docs/design.md §2.4), which ValidateUsername refuses as a custom name.
func TestDefaultUsername(t *testing.T) {
	for id, want := range map[int64]string{1: "gitlab+deploy-token-1", 42: "gitlab+deploy-token-42", 1234567890123: "gitlab+deploy-token-1234567890123"} {
		if got := token.DefaultUsername(id); got != want {
			t.Errorf("DefaultUsername(%d) = %q, want %q", id, got, want)
		}
		if token.ValidateUsername(want) == nil {
			t.Errorf("ValidateUsername(%q) accepted the default username as a custom one", want)
		}
	}
}

func TestValidateUsername(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"ok/letters", "deployer", true},
		{"ok/every allowed character", "CI.bot+prod_1-a", true},
		{"ok/255 characters", strings.Repeat("a", 255), true},
		{"ok/prefix in other case is not the reserved prefix", "GitLab+Deploy-Token-7", true},
		{"ok/contains the prefix later", "x-gitlab+deploy-token-1", true},
		{"fail/empty", "", false},
		{"fail/256 characters", strings.Repeat("a", 256), false},
		{"fail/space", "deploy er", false},
		{"fail/colon breaks basic auth", "user:pass", false},
		{"fail/slash", "a/b", false},
		{"fail/at sign", "bot@example.com", false},
		{"fail/non-ascii", "déployeur", false},
		{"fail/newline", "bot\n", false},
		{"fail/reserved default prefix", "gitlab+deploy-token-1", false},
		{"fail/reserved prefix alone", "gitlab+deploy-token-", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := token.ValidateUsername(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateUsername(%q): %v", tc.in, err)
				}
				return
			}
			var ve *errkind.ValidationError
			if !errors.As(err, &ve) || ve.Field != "username" || !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("ValidateUsername(%q) = %v, want a errkind.ValidationError on username", tc.in, err)
			}
		})
	}
}

// TestScopesStringsInGitLabOrder: scopes render in GitLab's order however they were stored (a
// token created before that order was followed keeps its stored order in the database).
func TestScopesStringsInGitLabOrder(t *testing.T) {
	stored := token.Scopes{token.WriteVirtualRegistry, token.ReadVirtualRegistry, token.WritePackageRegistry,
		token.ReadPackageRegistry, token.WriteRegistry, token.ReadRegistry, token.ReadRepository}
	want := "read_repository,read_registry,write_registry,read_package_registry,write_package_registry,read_virtual_registry,write_virtual_registry"
	if got := strings.Join(stored.Strings(), ","); got != want {
		t.Fatalf("Strings() = %s, want %s", got, want)
	}
	if stored[0] != token.WriteVirtualRegistry {
		t.Fatal("Strings() reordered the set it was called on")
	}
	if got := strings.Join(token.Scopes{token.ReadRepository, token.API}.Strings(), ","); got != "api,read_repository" {
		t.Fatalf("personal scopes = %s, want api first", got)
	}
}
