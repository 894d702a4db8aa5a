package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Data for TestTemplatesEscape: every user-provided field of the namespace forms set to evil.

func nsEvilForm(evil string) nsForm {
	return nsForm{Name: evil, Path: evil, Description: evil, Visibility: evil, ParentID: evil, NamespaceID: evil, Confirm: evil}
}

func nsEvilErrors(evil string) formErrors {
	var e formErrors
	for _, f := range []string{"name", "path", "visibility", "namespace_id", "confirm_path", "new_parent_group_id", "new_namespace_id"} {
		e.add(f, evil)
	}
	return e
}

func nsEvilNewGroup(evil string) newGroupData {
	return newGroupData{Form: nsEvilForm(evil), Parent: &namespace.Group{ID: 1, Name: evil, FullPath: evil}, PathPrefix: evil,
		Visibilities: []visOption{{Value: evil, Label: evil, Description: evil, Disabled: true, Reason: evil}}, Errors: nsEvilErrors(evil)}
}

func nsEvilNewProject(evil string) newProjectData {
	return newProjectData{Form: nsEvilForm(evil), Namespaces: []nsChoice{{ID: 1, Label: evil, Max: evil}}, BaseURL: evil,
		Visibilities: []visOption{{Value: evil, Label: evil, Description: evil, Disabled: true, Reason: evil}}, Errors: nsEvilErrors(evil)}
}

func nsEvilSettings(evil, kind string) settingsData {
	return settingsData{Kind: kind, Name: evil, FullPath: evil, Base: "/" + evil, Edit: "/" + evil + "/edit", PathPrefix: evil, Registry: evil,
		CloneURL: evil, CanOwn: true, Section: "transfer", Form: nsEvilForm(evil), Errors: nsEvilErrors(evil), TopLevel: true,
		Visibilities: []visOption{{Value: evil, Label: evil, Description: evil, Checked: true}}, Targets: []nsChoice{{ID: 2, Label: evil}}}
}

// TestNamespacePagesEscape renders the pages that show a group or project with every field evil,
// the empty states included.
func TestNamespacePagesEscape(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	h := New(Config{})
	user := &namespace.User{Username: evil}
	pages := map[string]*page{
		"home":    {Title: evil, User: user, Data: homeData{}},
		"group":   {Title: evil, User: user, Data: groupData{Group: &namespace.Group{Name: evil, FullPath: evil}, Actions: groupActions{CanCreate: true, CanEdit: true}}},
		"project": {Title: evil, User: user, Data: projectData{Project: &namespace.Project{Name: evil, Path: evil, FullPath: evil, DefaultBranch: evil}, CloneURL: evil, Actions: projectActions{CanEdit: true, Empty: true}}},
		"project_edit": {Title: evil, User: user, Data: func() settingsData {
			d := nsEvilSettings(evil, "project")
			d.CanOwn, d.Section = false, "general"
			return d
		}()},
	}
	for name, p := range pages {
		rec := httptest.NewRecorder()
		h.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, name, p)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s: status %d, or markup not escaped:\n%s", name, rec.Code, body)
		}
	}
}

func TestParseNamespaceFormRoutes(t *testing.T) {
	cases := []struct {
		path string
		want route
		ok   bool
	}{
		{"/groups/new", route{kind: newGroupRoute}, true},
		{"/projects/new", route{kind: newProjectRoute}, true},
		{"/groups/a/new", route{kind: groupRoute, path: "a/new"}, true},
		{"/groups/a/-/edit", route{kind: groupRoute, path: "a", action: actEdit}, true},
		{"/groups/a/b/-/transfer", route{kind: groupRoute, path: "a/b", action: actTransfer}, true},
		{"/groups/a/-/path", route{kind: groupRoute, path: "a", action: actPath}, true},
		{"/groups/a/-/delete", route{kind: groupRoute, path: "a", action: actDelete}, true},
		{"/a/b/edit", route{kind: projectRoute, path: "a/b", action: actProjectEdit}, true},
		{"/a/edit", route{kind: projectRoute, path: "a/edit"}, true},
		{"/a/b/-/transfer", route{kind: projectRoute, path: "a/b", action: actTransfer}, true},
		{"/a/b/-/path", route{kind: projectRoute, path: "a/b", action: actPath}, true},
		{"/a/b/-/delete", route{kind: projectRoute, path: "a/b", action: actDelete}, true},
		{"/a/b/-/edit", route{}, false},
		{"/groups/a/edit", route{kind: groupRoute, path: "a/edit"}, true},
		{"/api/v4/edit", route{}, false},
		{"/a/b.git/edit", route{}, false},
		{"/groups/new/x", route{kind: groupRoute, path: "new/x"}, true},
	}
	for _, c := range cases {
		got, ok := parseRoute(c.path)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	for _, rt := range Routes() {
		if strings.Contains(rt.Pattern, "{path}") {
			continue
		}
		// Other placeholders stand for a number or a name, as in a real path.
		p := regexp.MustCompile(`\{[a-z_]*id\}`).ReplaceAllString(rt.Pattern, "1")
		p = regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(p, "someone")
		if _, ok := parseRoute(p); !ok && !strings.HasPrefix(rt.Pattern, "/assets/") && !strings.HasPrefix(rt.Pattern, "/users/") {
			t.Errorf("Routes lists %s, which parseRoute does not read", rt.Pattern)
		}
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"My Group":            "my-group",
		"  Über  Team (ops) ": "ber-team-ops",
		"a--b__c..d":          "a-b__c..d",
		"---x---":             "x",
		"Release 1.2":         "release-1.2",
		"!!!":                 "",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}
