package helm

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Every route names its access: reads ReadPackage, the upload WritePackage; nothing else is
// routed.
func TestRouteTable(t *testing.T) {
	want := map[kind]map[string]access.Action{
		kindIndex:  {http.MethodGet: access.ReadPackage, http.MethodHead: access.ReadPackage},
		kindChart:  {http.MethodGet: access.ReadPackage, http.MethodHead: access.ReadPackage},
		kindUpload: {http.MethodPost: access.WritePackage},
	}
	got := map[kind]map[string]access.Action{}
	for k, methods := range routes {
		got[k] = map[string]access.Action{}
		for m, ep := range methods {
			if ep.serve == nil {
				t.Errorf("kind %d %s has no handler", k, m)
			}
			got[k][m] = ep.action
		}
		if paths[k] == "" {
			t.Errorf("kind %d has no pattern", k)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("route table = %v, want %v", got, want)
	}
	if n := len(Routes()); n != 5 {
		t.Fatalf("Routes() lists %d routes, want 5", n)
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/"
	ok := []struct {
		name, path string
		want       Route
	}{
		{"ok/index", p + "42/packages/helm/stable/index.yaml",
			Route{Ref: "42", Prefix: p + "42/packages/helm", Channel: "stable", kind: kindIndex}},
		{"ok/index of an escaped project path", p + "group%2Fsub%2Fapp/packages/helm/my_chan.1/index.yaml",
			Route{Ref: "group/sub/app", Prefix: p + "group%2Fsub%2Fapp/packages/helm", Channel: "my_chan.1", kind: kindIndex}},
		{"ok/upload", p + "42/packages/helm/api/stable/charts",
			Route{Ref: "42", Prefix: p + "42/packages/helm", Channel: "stable", kind: kindUpload}},
		{"ok/channel named api", p + "42/packages/helm/api/index.yaml",
			Route{Ref: "42", Prefix: p + "42/packages/helm", Channel: "api", kind: kindIndex}},
		{"ok/chart", p + "42/packages/helm/stable/charts/my-chart-1.2.3.tgz",
			Route{Ref: "42", Prefix: p + "42/packages/helm", Channel: "stable", kind: kindChart, File: "my-chart-1.2.3.tgz",
				Candidates: []Candidate{{"my-chart", "1.2.3"}}}},
		{"ok/chart with ambiguous name", p + "42/packages/helm/stable/charts/a-1-2.0.0.tgz",
			Route{Ref: "42", Prefix: p + "42/packages/helm", Channel: "stable", kind: kindChart, File: "a-1-2.0.0.tgz",
				Candidates: []Candidate{{"a", "1-2.0.0"}, {"a-1", "2.0.0"}}}},
		{"ok/chart with v and build", p + "42/packages/helm/stable/charts/app-v1.0.0-rc.1%2Bb5.tgz",
			Route{Ref: "42", Prefix: p + "42/packages/helm", Channel: "stable", kind: kindChart, File: "app-v1.0.0-rc.1+b5.tgz",
				Candidates: []Candidate{{"app", "v1.0.0-rc.1+b5"}}}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
	fail := []struct {
		name, path string
		invalid    bool // a *ValidationError rather than not found
	}{
		{"fail/other format", p + "42/packages/npm/stable/index.yaml", false},
		{"fail/no channel", p + "42/packages/helm/index.yaml", false},
		{"fail/extra segment", p + "42/packages/helm/stable/index.yaml/x", false},
		{"fail/upload with a file", p + "42/packages/helm/api/stable/charts/x.tgz", false},
		{"fail/empty project", p + "/packages/helm/stable/index.yaml", false},
		{"fail/traversal channel", p + "42/packages/helm/%2e%2e/index.yaml", true},
		{"fail/slash in channel", p + "42/packages/helm/a%2fb/index.yaml", true},
		{"fail/backslash in channel", p + "42/packages/helm/a%5cb/index.yaml", true},
		{"fail/NUL in channel", p + "42/packages/helm/a%00/index.yaml", true},
		{"fail/newline in channel", p + "42/packages/helm/a%0a/index.yaml", true},
		{"fail/channel ends with a separator", p + "42/packages/helm/stable-/index.yaml", true},
		{"fail/channel too long", p + "42/packages/helm/" + strings.Repeat("a", 64) + "/index.yaml", true},
		{"fail/traversal file", p + "42/packages/helm/stable/charts/..%2f..%2fapp-1.0.0.tgz", true},
		{"fail/encoded dots file", p + "42/packages/helm/stable/charts/%2e%2e.tgz", true},
		{"fail/file not tgz", p + "42/packages/helm/stable/charts/app-1.0.0.tar", true},
		{"fail/file without version", p + "42/packages/helm/stable/charts/app.tgz", true},
		{"fail/file with bad version", p + "42/packages/helm/stable/charts/app-01.0.0.tgz", true},
		{"fail/file with NUL", p + "42/packages/helm/stable/charts/app%00-1.0.0.tgz", true},
		{"fail/absurd length", p + "42/packages/helm/stable/charts/" + strings.Repeat("a", 5000) + "-1.0.0.tgz", false},
	}
	for _, c := range fail {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePath(c.path)
			if err == nil {
				t.Fatal("parsed")
			}
			var ve *packages.ValidationError
			if c.invalid != errors.As(err, &ve) || !c.invalid && !errors.Is(err, packages.ErrNotFound) {
				t.Fatalf("err = %v, want invalid=%v", err, c.invalid)
			}
		})
	}
}

func TestValidateVersion(t *testing.T) {
	for _, v := range []string{"1.0.0", "v1.2.3", "0.1.0-rc.1", "1.0.0+build.5", "1.0.0-alpha-1+b.2", "1", "1.2", "10.20.30"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("ok/%s: %v", v, err)
		}
	}
	for _, v := range []string{"", "01.0.0", "1.0.0.0", "1..0", "1.0.0-", "1.0.0+", "1.0.0+a+b", "1.0.0-a..b", "latest",
		"1.0.0/..", "1.0.0 ", strings.Repeat("1", 65)} {
		if ValidateVersion(v) == nil {
			t.Errorf("fail/%q validated", v)
		}
	}
}
