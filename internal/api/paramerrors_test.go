package api_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestParamErrorBodies (item 4): the endpoints written before the params layer answer a
// parameter problem in Grape's {"error": …} shape, as GitLab does, and a refused setting as a
// model validation, {"message": {"<field>": ["<reason>"]}}.
func TestParamErrorBodies(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	root := map[string]string{"PRIVATE-TOKEN": ts.RootToken}
	g := fmt.Sprintf("/groups/%d", f.GroupID)
	p := fmt.Sprintf("/projects/%d", f.Projects["top"].ID)
	cases := []struct {
		method, path, body, want string
	}{
		{"GET", "/audit_events?entity_type=Pipeline", "", `{"error":"entity_type does not have a valid value"}`},
		{"GET", "/audit_events?entity_id=1", "", `{"error":"entity_type is missing"}`},
		{"GET", "/audit_events?created_after=yesterday", "", `{"error":"created_after is invalid"}`},
		{"GET", "/audit_events/abc", "", `{"error":"audit_event_id is invalid"}`},
		{"GET", "/audit_events?entity_id=x&author_id=1", "", `{"error":"entity_id is invalid, author_id is not supported by Gatehouse"}`},
		{"GET", p + "/audit_events?entity_type=Project", "", `{"error":"entity_type is not supported by Gatehouse"}`},
		{"GET", g + "/audit_events?created_before=later", "", `{"error":"created_before is invalid"}`},
		{"PUT", g, `{"colour":"blue"}`, `{"error":"colour is not supported by Gatehouse"}`},
		{"POST", "/groups", `{}`, `{"error":"name is missing, path is missing"}`},
		{"POST", "/projects", `{"name":"n","initialize_with_readme":true}`, `{"error":"initialize_with_readme is not supported by Gatehouse"}`},
		{"POST", "/projects", `{"name":"n","namespace_id":"x","visibility":"secret"}`,
			`{"error":"namespace_id is invalid, visibility does not have a valid value"}`},
		{"POST", "/users", `{"username":"u","email":"u@example.com","name":"U","password":"password-u1","reset_password":true}`,
			`{"error":"reset_password is not supported by Gatehouse"}`},
		{"POST", "/users/1/personal_access_tokens", `{"name":"t","scopes":["api"],"description":"d"}`,
			`{"error":"description is not supported by Gatehouse"}`},
		{"POST", "/groups", `{"name":"n","path":"n","visibility":"secret","lfs_enabled":true}`,
			`{"error":"visibility does not have a valid value, lfs_enabled is not supported by Gatehouse"}`},
		{"DELETE", g + "?permanently_remove=true", "", `{"error":"permanently_remove is not supported by Gatehouse"}`},
		{"POST", g + "/share", `{}`, `{"error":"group_id is missing, group_access is missing"}`},
		{"POST", g + "/share", `{"group_id":"x","group_access":30}`, `{"error":"group_id is invalid"}`},
		{"POST", g + "/share", fmt.Sprintf(`{"group_id":%d,"group_access":0}`, f.OtherGroupID), `{"error":"group_access does not have a valid value"}`},
		{"POST", g + "/share", fmt.Sprintf(`{"group_id":%d,"group_access":30,"member_role_id":3}`, f.OtherGroupID),
			`{"error":"member_role_id is not supported by Gatehouse"}`},
		{"POST", g + "/share", fmt.Sprintf(`{"group_id":%d,"group_access":30,"expires_at":"soon"}`, f.OtherGroupID),
			`{"error":"expires_at is invalid"}`},
		{"DELETE", g + "/share/abc", "", `{"error":"group_id is invalid"}`},
		{"POST", g + "/transfer", `{"group_id":"x","namespace":"y"}`, `{"error":"group_id is invalid, namespace is not supported by Gatehouse"}`},
		{"PUT", p, `{}`, `{"error":"id, name, path, description, visibility, default_branch, external_authorization_classification_label are missing, at least one parameter must be provided"}`},
		{"PUT", p, `{"topics":"x"}`, `{"error":"topics is not supported by Gatehouse"}`},
		{"PUT", p, `{"external_authorization_classification_label":"two\nlines"}`,
			`{"message":{"external_authorization_classification_label":["a classification label is at most 255 characters on one line"]}}`},
		{"PUT", "/application/settings", `{"external_authorization_service_timeout":"soon"}`, `{"error":"external_authorization_service_timeout is invalid"}`},
		{"PUT", "/application/settings", `{"external_authorization_service_url":"file:///etc/passwd"}`,
			`{"message":{"external_authorization_service_url":["must be an http(s) URL without credentials"]}}`},
		{"PUT", "/application/settings", `{"external_authorization_service_default_label":"two\nlines"}`,
			`{"message":{"external_authorization_service_default_label":["a classification label is at most 255 characters on one line"]}}`},
		{"PUT", p + "/transfer", `{}`, `{"error":"namespace is missing"}`},
		{"GET", p + "/groups?with_shared=true", "", `{"error":"with_shared is not supported by Gatehouse: Gatehouse shares no groups with projects"}`},
		{"GET", p + "/groups?with_shared=perhaps", "", `{"error":"with_shared is invalid"}`},
		{"GET", p + "/groups?skip_groups=a", "", `{"error":"skip_groups is invalid"}`},
		{"GET", "/personal_access_tokens?state=x", "", `{"error":"state does not have a valid value"}`},
		{"GET", "/personal_access_tokens?revoked=maybe", "", `{"error":"revoked is invalid"}`},
		{"GET", "/personal_access_tokens?created_after=soon", "", `{"error":"created_after is invalid"}`},
		{"GET", "/personal_access_tokens/abc", "", `{"error":"id is invalid"}`},
		{"GET", "/users/1/memberships?type=Group", "", `{"error":"type does not have a valid value"}`},
		{"GET", "/users/1/impersonation_tokens?state=x", "", `{"error":"state does not have a valid value"}`},
		{"GET", "/users/1/impersonation_tokens/abc", "", `{"error":"impersonation_token_id is invalid"}`},
		{"POST", p + "/variables", `{}`, `{"error":"key is missing, value is missing"}`},
		{"POST", p + "/variables", `{"key":"K","value":"v","variable_type":"x"}`, `{"error":"variable_type does not have a valid value"}`},
		{"POST", p + "/variables", `{"key":"K","value":"v","masked":"maybe"}`, `{"error":"masked is invalid"}`},
		{"GET", p + "/members/all/abc", "", `{"error":"user_id is invalid"}`},
		{"POST", p + "/members", `{"user_id":1}`, `{"error":"access_level is missing"}`},
		{"POST", p + "/members", `{"access_level":30}`, `{"error":"user_id is missing"}`},
		{"GET", p + "/repository/branches?pagination=none", "", `{"error":"pagination does not have a valid value"}`},
		{"GET", p + "/repository/branches?page_token=main", "", `{"error":"page_token is not supported by Gatehouse: only with pagination=keyset"}`},
		{"GET", p + "/repository/branches?sort=x", "", `{"error":"sort does not have a valid value"}`},
		{"GET", p + "/repository/tags?order_by=x", "", `{"error":"order_by does not have a valid value"}`},
		{"GET", p + "/repository/tags?sort=x", "", `{"error":"sort does not have a valid value"}`},
		{"GET", p + "/repository/archive?exclude_paths=dir", "", `{"error":"exclude_paths is not supported by Gatehouse"}`},
		{"GET", p + "/repository/archive?format=rar", "", `{"error":"format does not have a valid value"}`},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			r := do(t, ts, call{method: c.method, path: c.path, headers: root, body: c.body, ctype: "application/json"})
			mustStatus(t, r, 400, c.method+" "+c.path)
			if r.text() != c.want {
				t.Fatalf("body %s, want %s", r.text(), c.want)
			}
		})
	}
}
