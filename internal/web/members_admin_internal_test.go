package web

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// membersAdminEscapePages are the members and Admin area pages for TestTemplatesEscape, with
// evil in every user-provided field they show.
func membersAdminEscapePages(evil string, user *namespace.User, now time.Time) map[string]*page {
	u := &namespace.User{Username: evil, Name: evil, Email: evil, CreatedAt: now}
	return map[string]*page{
		"members": {Title: evil, User: user, Data: membersData{Kind: "group", Name: evil, FullPath: evil, Base: "/groups/" + evil,
			CanManage: true, Usernames: []string{evil}, Form: inviteForm{Username: evil, ExpiresAt: evil}, Error: evil, ErrorUser: 1,
			Members: []memberRow{{UserID: 1, Username: evil, Name: evil, State: evil, RoleName: evil, ExpiresAt: evil, Direct: true},
				{UserID: 2, Username: evil, Name: evil, State: "active", RoleName: evil, SourceName: evil, SourceHref: "/groups/" + evil}}}},
		"admin":             {Title: evil, User: user, Data: adminOverviewData{Latest: []*namespace.User{u}}},
		"admin_users":       {Title: evil, User: user, Data: adminUsersData{Search: evil, Users: []*namespace.User{u}}},
		"admin_user_new":    {Title: evil, User: user, Data: adminNewUserData{Form: newUserForm{Username: evil, Name: evil, Email: evil}, Error: evil}},
		"admin_user":        {Title: evil, User: user, Data: adminUserData{U: u, Password: evil, Error: evil}},
		"admin_settings":    {Title: evil, User: user, Data: adminSettingsData{Available: true, Error: evil, External: settingsForm{ServiceURL: evil, Timeout: evil, DefaultLabel: evil}, Config: []ConfigSetting{{Key: evil, Env: evil, Value: evil, Doc: evil}}}},
		"admin_system_info": {Title: evil, User: user, Data: adminSystemData{Info: SystemInfo{Version: evil, Database: evil, DatabaseVersion: evil, BlobStore: evil, BlobLocation: evil, Jobs: []JobRun{{Name: evil, Doc: evil, Schedule: evil}}}}},
	}
}

func TestParseMembersAndAdminRoutes(t *testing.T) {
	cases := []struct {
		path string
		want route
		ok   bool
	}{
		{"/groups/a/b/-/group_members", route{kind: groupRoute, path: "a/b", action: actGroupMembers}, true},
		{"/groups/a/-/group_members/7", route{kind: groupRoute, path: "a", action: actGroupMemberUpdate, userID: 7}, true},
		{"/groups/a/-/group_members/7/remove", route{kind: groupRoute, path: "a", action: actGroupMemberRemove, userID: 7}, true},
		{"/a/b/-/project_members", route{kind: projectRoute, path: "a/b", action: actProjectMembers}, true},
		{"/a/b/-/project_members/3", route{kind: projectRoute, path: "a/b", action: actProjectMemberUpdate, userID: 3}, true},
		{"/a/b/-/project_members/3/remove", route{kind: projectRoute, path: "a/b", action: actProjectMemberRemove, userID: 3}, true},
		{"/a/b/-/group_members", route{}, false},
		{"/groups/a/-/project_members", route{}, false},
		{"/a/b/-/project_members/03", route{}, false},
		{"/a/b/-/project_members/0", route{}, false},
		{"/a/b/-/project_members/3/x", route{}, false},
		{"/admin", route{kind: adminRoute, action: actAdmin}, true},
		{"/admin/users", route{kind: adminRoute, action: actAdminUsers}, true},
		{"/admin/users/new", route{kind: adminRoute, action: actAdminUserNew}, true},
		{"/admin/users/jo.e", route{kind: adminRoute, action: actAdminUser, path: "jo.e"}, true},
		{"/admin/users/joe/block", route{kind: adminRoute, action: actAdminBlock, path: "joe"}, true},
		{"/admin/users/joe/password", route{kind: adminRoute, action: actAdminPassword, path: "joe"}, true},
		{"/admin/application_settings", route{kind: adminRoute, action: actAdminSettings}, true},
		{"/admin/system_info", route{kind: adminRoute, action: actAdminSystem}, true},
		{"/admin/", route{}, false},
		{"/admin/users/", route{}, false},
		{"/admin/users/joe/delete", route{}, false},
		{"/admin/x/y", route{}, false},
	}
	for _, c := range cases {
		got, ok := parseRoute(c.path)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}
