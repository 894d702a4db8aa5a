package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestSecretsNeverLeak runs every failure path of Git and the API with real secrets and checks
// that no secret appears in any response (headers and body), in the server's logs and printed
// output, or in any audit event, while the failures themselves are audited
// (docs/architecture.md §7.2).
func TestSecretsNeverLeak(t *testing.T) {
	ts := testenv.StartServer(t)
	ctx := context.Background()
	f := ts.MakeFixture(t)
	grandchild, sibling := f.Projects["grandchild"], f.Projects["sibling"]
	for _, p := range []testenv.Project{grandchild, sibling} {
		pushInitial(t, ts, p.FullPath, "root", ts.RootToken)
	}
	projectOwner := fmt.Sprintf("projects/%d", grandchild.ID)
	groupOwner := fmt.Sprintf("groups/%d", f.GroupID)

	projTok := ts.CreateDeployToken(t, projectOwner, []string{"read_repository"}, nil)
	groupTok := ts.CreateDeployToken(t, groupOwner, []string{"read_repository", "read_package_registry"}, nil)
	registryTok := ts.CreateDeployToken(t, groupOwner, []string{"read_registry"}, nil)
	revokedTok := ts.CreateDeployToken(t, projectOwner, []string{"read_repository"}, nil)
	deletedTok := ts.CreateDeployToken(t, projectOwner, []string{"read_repository"}, nil)
	now := ts.Clock.Now().UTC()
	expiry := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 2)
	expiringTok := ts.CreateDeployToken(t, projectOwner, []string{"read_repository"},
		map[string]any{"expires_at": expiry.Format("2006-01-02")})

	var root struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", "/user", nil, &root)
	var pat struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", root.ID),
		map[string]any{"name": "read-only", "scopes": []string{"read_api"}}, &pat)
	if !strings.HasPrefix(pat.Token, "glpat-") {
		t.Fatalf("personal access token without the glpat- prefix")
	}

	// Each of these works (so the failures below are about the path, not a broken credential).
	mustCloneReadme(t, ts, grandchild.FullPath, projTok.Username, projTok.Token)
	mustCloneReadme(t, ts, grandchild.FullPath, groupTok.Username, groupTok.Token)
	mustCloneReadme(t, ts, grandchild.FullPath, revokedTok.Username, revokedTok.Token)
	mustCloneReadme(t, ts, grandchild.FullPath, expiringTok.Username, expiringTok.Token)
	if st := ts.APIAs(t, pat.Token, "GET", "/user", nil, nil); st != http.StatusOK {
		t.Fatalf("read_api token cannot read the API: %d", st)
	}

	if err := ts.Server.Deploy.Revoke(ctx, revokedTok.ID); err != nil { // the UI's Revoke: kept, revoked
		t.Fatal(err)
	}
	ts.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/%s/deploy_tokens/%d", projectOwner, deletedTok.ID), nil, nil)

	secrets := map[string]string{
		"project token": projTok.Token, "group token": groupTok.Token, "registry token": registryTok.Token,
		"revoked token": revokedTok.Token, "deleted token": deletedTok.Token, "expiring token": expiringTok.Token,
		"personal token": pat.Token, "root token": ts.RootToken, "root password": ts.Server.Config.RootPassword.Reveal(),
	}
	// forbidden are the strings that must appear nowhere: each secret, its random part without
	// the prefix, and every credential we put in a header in encoded form.
	forbidden := map[string]string{}
	for name, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("%s is suspiciously short", name)
		}
		forbidden[name] = s
		if _, body, ok := strings.Cut(s, "-"); ok && strings.HasPrefix(s, "gl") {
			forbidden[name+" without prefix"] = body
		}
	}

	var responses []response
	var expectations []string
	expect := func(r response, status int, note string) {
		t.Helper()
		responses = append(responses, r)
		if r.status != status {
			t.Errorf("%s: status %d, want %d (%s): %s", r.what, r.status, status, note, r.body)
		}
		expectations = append(expectations, r.what)
	}
	newReq := func(method, path string, header map[string]string) *http.Request {
		t.Helper()
		// Each failure in its own aggregation window, so each is audited in a row of its own
		// and every failure path's row is checked for secrets below.
		ts.Clock.Advance(audit.AggregateWindow + time.Second)
		req, err := http.NewRequest(method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
			if k == "Authorization" {
				if _, cred, ok := strings.Cut(v, " "); ok && len(cred) >= 16 {
					forbidden[fmt.Sprintf("credential of header %s #%d", k, len(forbidden))] = cred
				}
			}
		}
		return req
	}
	basic := func(user, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	}
	gitRefs := "/" + grandchild.FullPath + ".git/info/refs?service=git-upload-pack"
	git := func(what, path string, header map[string]string, status int, note string) {
		t.Helper()
		expect(do(t, "git: "+what, newReq("GET", path, header)), status, note)
	}

	// Git smart HTTP failure paths.
	git("right secret, wrong username", gitRefs, map[string]string{"Authorization": basic("someone-else", projTok.Token)}, 401, "username must match")
	git("right password, wrong username", gitRefs, map[string]string{"Authorization": basic("admin", ts.Server.Config.RootPassword.Reveal())}, 401, "unknown user")
	git("revoked (kept) token", gitRefs, map[string]string{"Authorization": basic(revokedTok.Username, revokedTok.Token)}, 401, "revoked")
	git("revoked (deleted) token", gitRefs, map[string]string{"Authorization": basic(deletedTok.Username, deletedTok.Token)}, 401, "deleted")
	git("token without read_repository", gitRefs, map[string]string{"Authorization": basic(registryTok.Username, registryTok.Token)}, 403, "wrong scope")
	git("project token on another project", "/"+sibling.FullPath+".git/info/refs?service=git-upload-pack",
		map[string]string{"Authorization": basic(projTok.Username, projTok.Token)}, 404, "other project")
	git("group token on another group's project", "/"+sibling.FullPath+".git/info/refs?service=git-upload-pack",
		map[string]string{"Authorization": basic(groupTok.Username, groupTok.Token)}, 404, "other group")
	git("malformed basic: raw secret", gitRefs, map[string]string{"Authorization": "Basic " + projTok.Token}, 401, "not base64")
	git("malformed basic: no colon", gitRefs, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(projTok.Token))}, 401, "no colon")
	git("secret as username, no password", gitRefs, map[string]string{"Authorization": basic(projTok.Token, "")}, 401, "secret as username")
	git("secret as username, other password", gitRefs, map[string]string{"Authorization": basic(groupTok.Token, "x")}, 401, "secret as username")
	git("secret as username and password", gitRefs, map[string]string{"Authorization": basic(projTok.Token, projTok.Token)}, 401, "secret as username")
	git("personal token without read_repository", gitRefs, map[string]string{"Authorization": basic("root", pat.Token)}, 403, "PAT scope")
	git("personal token with a wrong suffix", gitRefs, map[string]string{"Authorization": basic("root", pat.Token+"x")}, 401, "unknown PAT")
	git("secret in the query string", gitRefs+"&private_token="+projTok.Token+"&password="+groupTok.Token, nil, 401, "no credentials")
	git("push advertisement with a deploy token", "/"+grandchild.FullPath+".git/info/refs?service=git-receive-pack",
		map[string]string{"Authorization": basic(groupTok.Username, groupTok.Token)}, 403, "deploy tokens never push")
	pushReq := newReq("POST", "/"+grandchild.FullPath+".git/git-receive-pack", map[string]string{
		"Authorization": basic(projTok.Username, projTok.Token), "Content-Type": "application/x-git-receive-pack-request"})
	expect(do(t, "git: push RPC with a deploy token", pushReq), 403, "deploy tokens never push")

	// A real git push with a deploy token is refused too.
	work, out, err := clone(t, ts.GitURL(grandchild.FullPath, projTok.Username, projTok.Token))
	if err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(work, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "x")
	if out, err := testenv.RunGit(t, work, "push", "-q", "origin", "main"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("git push with a deploy token: err=%v, want a 403\n%s", err, out)
	}

	// REST API failure paths: deploy tokens never open the API, however presented.
	api := func(what string, header map[string]string, status int) {
		t.Helper()
		path := fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", grandchild.ID)
		expect(do(t, "api: "+what, newReq("GET", path, header)), status, what)
	}
	api("deploy token as PRIVATE-TOKEN", map[string]string{"PRIVATE-TOKEN": projTok.Token}, 401)
	api("deploy token as Bearer", map[string]string{"Authorization": "Bearer " + groupTok.Token}, 401)
	api("deploy token as basic", map[string]string{"Authorization": basic(projTok.Username, projTok.Token)}, 401)
	api("deploy token as Deploy-Token header", map[string]string{"Deploy-Token": groupTok.Token}, 401)
	api("deploy token as Deploy-Token beside a valid PAT", map[string]string{"Deploy-Token": projTok.Token, "PRIVATE-TOKEN": ts.RootToken}, 401)
	api("personal token with a wrong suffix", map[string]string{"PRIVATE-TOKEN": pat.Token + "x"}, 401)
	api("root token with a wrong suffix as Bearer", map[string]string{"Authorization": "Bearer " + ts.RootToken + "x"}, 401)
	api("malformed basic carrying a secret", map[string]string{"Authorization": "Basic " + projTok.Token}, 401)
	expect(do(t, "api: secret in the query string", newReq("GET", "/api/v4/user?private_token="+projTok.Token, nil)), 401, "query tokens are not read")
	createReq := newReq("POST", fmt.Sprintf("/api/v4/projects/%d/deploy_tokens", grandchild.ID), map[string]string{"PRIVATE-TOKEN": pat.Token})
	expect(do(t, "api: read_api token creating a deploy token", createReq), 403, "read_api cannot write")

	// Expired: from 00:00 UTC on the expiry date.
	ts.Clock.SetTo(expiry.Add(time.Second))
	git("expired token", gitRefs, map[string]string{"Authorization": basic(expiringTok.Username, expiringTok.Token)}, 401, "expired")
	expiredAt := ts.Clock.Now()
	ts.Clock.SetTo(now)

	if t.Failed() {
		t.FailNow() // a path that did not fail as expected makes the leak check below meaningless
	}

	// Nothing leaked into a response.
	for _, r := range responses {
		var sb strings.Builder
		for k, vs := range r.header {
			sb.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
		}
		sb.WriteString(r.body)
		for name, s := range forbidden {
			if strings.Contains(sb.String(), s) {
				t.Errorf("%s: the response contains the %s", r.what, name)
			}
		}
	}
	// Nothing leaked into the logs, and the logs did record these requests.
	logs := ts.Logs()
	for name, s := range forbidden {
		if strings.Contains(logs, s) {
			t.Errorf("the server logs contain the %s", name)
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n < len(expectations) {
		t.Errorf("only %d access-log lines for %d failure requests: the logs checked are not the server's", n, len(expectations))
	}
	if !strings.Contains(logs, `"path":"/`+grandchild.FullPath+`.git/info/refs"`) {
		t.Errorf("the access log lacks the git requests")
	}

	// Audit events: never a secret in any field; failures and refusals recorded with IP and time.
	events, err := ts.Server.Audit.List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var failed, refused []*audit.Event
	redactedActor, refusedExpired := false, false
	for _, e := range events {
		dump := fmt.Sprintf("%+v", *e)
		for name, s := range forbidden {
			if strings.Contains(dump, s) {
				t.Errorf("audit event %d (%s) contains the %s", e.ID, e.Type, name)
			}
		}
		switch e.Type {
		case audit.AuthenticationFailed:
			failed = append(failed, e)
			redactedActor = redactedActor || e.ActorName == "[REDACTED]"
		case audit.DeployTokenRefused:
			refused = append(refused, e)
			if e.TargetID == expiringTok.ID && strings.Contains(e.Details, "expired") {
				refusedExpired = true
				if d := e.CreatedAt.Sub(expiredAt); d < -time.Minute || d > time.Minute {
					t.Errorf("expired refusal recorded at %v, want the server clock's %v", e.CreatedAt, expiredAt)
				}
			}
		}
	}
	// 401s on Git: wrong username ×2, deleted, malformed ×2, secret as username ×3, PAT suffix (9);
	// on the API: two wrong-suffix personal tokens (2).
	if len(failed) < 11 {
		t.Errorf("%d authentication_failed events, want at least 11", len(failed))
	}
	// Refused deploy tokens: revoked, wrong scope, two other projects, two pushes, expired (7).
	if len(refused) < 7 {
		t.Errorf("%d deploy_token_refused events, want at least 7", len(refused))
	}
	for _, e := range append(failed, refused...) {
		if e.IP != "127.0.0.1" || e.CreatedAt.IsZero() {
			t.Errorf("audit event %d (%s) lacks the IP or time: IP %q at %v", e.ID, e.Type, e.IP, e.CreatedAt)
		}
	}
	if !redactedActor {
		t.Error("no failed-authentication event shows a secret-shaped username as [REDACTED]")
	}
	if !refusedExpired {
		t.Error("the expired token's refusal was not audited")
	}
	for _, want := range []struct {
		id     int64
		reason string
	}{{revokedTok.ID, "revoked"}, {registryTok.ID, "scope"}, {projTok.ID, "reach"}, {groupTok.ID, "reach"}} {
		found := false
		for _, e := range refused {
			found = found || (e.TargetID == want.id && strings.Contains(e.Details, want.reason))
		}
		if !found {
			t.Errorf("no deploy_token_refused event for token %d mentioning %q", want.id, want.reason)
		}
	}
}
