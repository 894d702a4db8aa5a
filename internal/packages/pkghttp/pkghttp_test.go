package pkghttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/kindtest"
)

func TestClassify(t *testing.T) {
	denied := func(d access.Denial, reason string, p access.Principal) error {
		return Denied(access.Decision{Denial: d, Reason: reason}, p)
	}
	user := access.Principal{Kind: access.UserPrincipal}
	cases := []struct {
		name   string
		err    error
		status int
		line   string
	}{
		{"ok/invalid credentials", fmt.Errorf("x: %w", authn.ErrInvalidCredentials), 401, "401 Unauthorized"},
		{"ok/anonymous refused", denied(access.Unauthenticated, "authentication required", access.AnonymousPrincipal), 401, "401 Unauthorized - authentication required"},
		{"ok/forbidden with reason", denied(access.Forbidden, "the token is read-only", user), 403, "403 Forbidden - the token is read-only"},
		{"ok/not found says nothing", fmt.Errorf("file: %w", packages.ErrNotFound), 404, "404 Not Found"},
		{"ok/validation error", fmt.Errorf("parse: %w", &packages.ValidationError{Field: "name", Reason: "is bad"}), 400, "400 Bad Request - name is bad"},
		{"ok/bare invalid", packages.ErrInvalid, 400, "400 Bad Request"},
		{"ok/too large names the limit", fmt.Errorf("%w: the limit is 5 bytes", packages.ErrTooLarge), 413, "413 Request Entity Too Large - " + packages.ErrTooLarge.Error() + ": the limit is 5 bytes"},
		{"ok/conflict", fmt.Errorf("x: %w", packages.ErrConflict), 409, "409 Conflict"},
		{"ok/method", ErrMethod, 405, "405 Method Not Allowed"},
		{"ok/ambiguous names the readable holders and counts the others",
			fmt.Errorf("x: %w", &AmbiguousError{Name: "com/acme/core", Projects: []string{"acme/core", "evil/core"}, Hidden: 1}), 409,
			"409 Conflict - com/acme/core is held by 3 projects here (acme/core, evil/core and 1 you cannot read); " +
				"this endpoint does not choose between them: use the project-level endpoint of the one you mean"},
		{"ok/unknown is a bare 500", errors.New("db is down at 10.0.0.1"), 500, "500 Internal Server Error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Classify(c.err)
			if p.Status != c.status || p.Line() != c.line {
				t.Fatalf("Classify(%v) = %d %q, want %d %q", c.err, p.Status, p.Line(), c.status, c.line)
			}
		})
	}
}

func TestProblemWriteText(t *testing.T) {
	t.Run("ok/401 carries the Basic challenge", func(t *testing.T) {
		w := httptest.NewRecorder()
		Classify(authn.ErrInvalidCredentials).WriteText(w, httptest.NewRequest(http.MethodGet, "/", nil), nil)
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Basic realm="Gatehouse"` || w.Body.String() != "401 Unauthorized\n" {
			t.Fatalf("%d %q %q", w.Code, w.Header(), w.Body)
		}
	})
	t.Run("ok/500 hides the error", func(t *testing.T) {
		w := httptest.NewRecorder()
		Classify(errors.New("secret detail")).WriteText(w, httptest.NewRequest(http.MethodGet, "/", nil), nil)
		if w.Code != 500 || w.Header().Get("WWW-Authenticate") != "" || w.Body.String() != "500 Internal Server Error\n" {
			t.Fatalf("%d %q %q", w.Code, w.Header(), w.Body)
		}
	})
}

func TestZeroGrant(t *testing.T) {
	var g Grant
	if g.Project() != nil || len(g.Projects()) != 0 {
		t.Fatal("the zero Grant holds a project")
	}
}

func TestDenied(t *testing.T) {
	user := access.Principal{Kind: access.UserPrincipal, User: &namespace.User{ID: 1}}
	cases := []struct {
		name string
		d    access.Denial
		p    access.Principal
		kind error
	}{
		{"unauthenticated", access.Unauthenticated, user, errkind.ErrUnauthorized},
		{"forbidden", access.Forbidden, user, errkind.ErrForbidden},
		{"not found", access.NotFound, user, errkind.ErrNotFound},
		{"not found for anonymous asks for credentials", access.NotFound, access.AnonymousPrincipal, errkind.ErrUnauthorized},
	}
	for _, c := range cases {
		err := Denied(access.Decision{Denial: c.d, Reason: "because"}, c.p)
		var de *DeniedError
		if !errors.Is(err, c.kind) || !errors.As(err, &de) || de.Reason != "because" {
			t.Errorf("%s: Denied = %v, want %v", c.name, err, c.kind)
		}
	}
}

func TestClassifyMapsEveryKind(t *testing.T) {
	kindtest.Check(t, func(w http.ResponseWriter, r *http.Request, err error) { Classify(err).WriteText(w, r, nil) })
}

// TestRoutes: a table of level → kind → method is listed whole, sorted, at each level's prefix,
// with the rule of its level (a holder's decision also filters).
func TestRoutes(t *testing.T) {
	table := map[Level]map[string]map[string]access.Action{
		ProjectLevel:  {"file": {http.MethodPut: access.WritePackage, http.MethodGet: access.ReadPackage}},
		GroupLevel:    {"file": {http.MethodGet: access.ReadPackage}},
		InstanceLevel: {"index": {http.MethodGet: ""}},
	}
	paths := map[string]string{"file": "/{file}", "index": "/index"}
	got := Routes("fmt", table, func(l Level) Level { return l }, paths, func(l Level, act access.Action) gate.Rule {
		if act == "" {
			return gate.Public("no data")
		}
		return l.Decide(act)
	})
	want := []gate.Route{
		{Method: http.MethodGet, Pattern: "/api/v4/groups/{id}/-/packages/fmt/{file}", Rule: gate.Decide(access.ReadPackage).Filtered(access.ReadPackage)},
		{Method: http.MethodGet, Pattern: "/api/v4/packages/fmt/index", Rule: gate.Public("no data")},
		{Method: http.MethodGet, Pattern: "/api/v4/projects/{id}/packages/fmt/{file}", Rule: gate.Decide(access.ReadPackage)},
		{Method: http.MethodPut, Pattern: "/api/v4/projects/{id}/packages/fmt/{file}", Rule: gate.Decide(access.WritePackage)},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Routes = %+v\nwant %+v", got, want)
	}
}
