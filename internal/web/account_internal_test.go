package web

import "testing"

func TestParseUserSettingsRoute(t *testing.T) {
	cases := []struct {
		path string
		want route
		ok   bool
	}{
		{"/-/user_settings/personal_access_tokens", route{kind: userSettingsRoute, action: actPATs}, true},
		{"/-/user_settings/personal_access_tokens/7/revoke", route{kind: userSettingsRoute, action: actPATRevoke, tokenID: 7}, true},
		{"/-/user_settings/personal_access_tokens/8/rotate", route{kind: userSettingsRoute, action: actPATRotate, tokenID: 8}, true},
		{"/-/user_settings/password/edit", route{kind: userSettingsRoute, action: actPasswordEdit}, true},
		{"/-/user_settings/password", route{kind: userSettingsRoute, action: actPassword}, true},
		{"/-/user_settings/personal_access_tokens/", route{}, false},
		{"/-/user_settings/personal_access_tokens/8", route{}, false},
		{"/-/user_settings/personal_access_tokens/0/revoke", route{}, false},
		{"/-/user_settings/personal_access_tokens/08/revoke", route{}, false},
		{"/-/user_settings/personal_access_tokens/8/revoke/x", route{}, false},
		{"/-/user_settings/password/new", route{}, false},
		{"/-/user_settings/profile", route{}, false},
		{"/-/user_settings", route{}, false},
		// "-" is never a namespace: no group or project path can reach these pages, nor they one.
		{"/-/personal_access_tokens", route{}, false},
	}
	for _, c := range cases {
		got, ok := parseRoute(c.path)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	for _, u := range userSettingsPages {
		if pageSuffix[u.action] == "" || basePath(u.kind, "{path}") != "" {
			t.Errorf("%s: no path for the route table", u.action)
		}
	}
}
