package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// ciVars fetches a project's predefined CI variables as root and returns them by key.
func ciVars(t *testing.T, ts *testenv.TestServer, projectID int64) map[string]ciVar {
	t.Helper()
	var list []ciVar
	ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/projects/%d/ci/variables/predefined", projectID), nil, &list)
	out := map[string]ciVar{}
	for _, v := range list {
		out[v.Key] = v
	}
	return out
}

type ciVar struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Masked bool   `json:"masked"`
}

func createCIToken(t *testing.T, ts *testenv.TestServer, owner string, extra map[string]any) testenv.DeployToken {
	t.Helper()
	body := map[string]any{"name": "gitlab-deploy-token", "scopes": []string{"read_repository", "read_registry"}}
	for k, v := range extra {
		body[k] = v
	}
	var tok testenv.DeployToken
	ts.MustAPI(t, http.StatusCreated, "POST", "/"+owner+"/deploy_tokens", body, &tok)
	return tok
}

func TestCIVariables(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top, child := f.Projects["top"], f.Projects["child"]

	t.Run("ok/no token: the other variables, no deploy credentials", func(t *testing.T) {
		vars := ciVars(t, ts, top.ID)
		host := strings.TrimPrefix(ts.URL, "http://")
		want := map[string]string{"CI_SERVER_URL": ts.URL, "CI_API_V4_URL": ts.URL + "/api/v4",
			"CI_PROJECT_PATH": top.FullPath, "CI_REGISTRY": host, "CI_REGISTRY_IMAGE": host + "/" + top.FullPath}
		for k, v := range want {
			if vars[k].Value != v {
				t.Errorf("%s = %q, want %q", k, vars[k].Value, v)
			}
		}
		if _, ok := vars["CI_DEPLOY_USER"]; ok {
			t.Fatalf("CI_DEPLOY_USER present without a gitlab-deploy-token")
		}
	})

	groupTok := createCIToken(t, ts, fmt.Sprintf("groups/%d", f.GroupID), nil)
	t.Run("ok/a group token reaches the group's immediate child projects", func(t *testing.T) {
		vars := ciVars(t, ts, top.ID)
		if vars["CI_DEPLOY_USER"].Value != groupTok.Username || vars["CI_DEPLOY_PASSWORD"].Value != groupTok.Token {
			t.Fatalf("top project got %q, want the group token %q", vars["CI_DEPLOY_USER"].Value, groupTok.Username)
		}
		if !vars["CI_DEPLOY_PASSWORD"].Masked || vars["CI_DEPLOY_USER"].Masked {
			t.Fatalf("only CI_DEPLOY_PASSWORD must be masked: %+v", vars)
		}
	})
	t.Run("fail/not projects in its subgroups", func(t *testing.T) {
		if v, ok := ciVars(t, ts, child.ID)["CI_DEPLOY_USER"]; ok {
			t.Fatalf("a project in a subgroup got the parent group's CI token %q", v.Value)
		}
	})
	t.Run("ok/the exposed values log into the registry and clone the repository", func(t *testing.T) {
		pushREADME(t, ts, top.FullPath)
		vars := ciVars(t, ts, top.ID)
		user, pass := vars["CI_DEPLOY_USER"].Value, vars["CI_DEPLOY_PASSWORD"].Value
		dst := filepath.Join(t.TempDir(), "c")
		if out, err := testenv.RunGit(t, "", "clone", "-q", ts.GitURL(top.FullPath, user, pass), dst); err != nil {
			t.Fatalf("clone with CI_DEPLOY_USER/PASSWORD: %v\n%s", err, out)
		}
		if actions := registryLogin(t, ts, user, pass, top.FullPath); strings.Join(actions, ",") != "pull" {
			t.Fatalf("registry token for the CI credentials grants %v, want [pull]", actions)
		}
	})

	projectTok := createCIToken(t, ts, fmt.Sprintf("projects/%d", top.ID), nil)
	t.Run("ok/a project token wins over the group's", func(t *testing.T) {
		if got := ciVars(t, ts, top.ID)["CI_DEPLOY_USER"].Value; got != projectTok.Username {
			t.Fatalf("CI_DEPLOY_USER = %q, want the project token %q", got, projectTok.Username)
		}
	})
	t.Run("ok/revoked project token falls back to the group's", func(t *testing.T) {
		if err := ts.Server.Deploy.Revoke(context.Background(), projectTok.ID); err != nil {
			t.Fatal(err)
		}
		if got := ciVars(t, ts, top.ID)["CI_DEPLOY_USER"].Value; got != groupTok.Username {
			t.Fatalf("CI_DEPLOY_USER = %q after revoking the project token, want %q", got, groupTok.Username)
		}
	})
	t.Run("fail/expired tokens are never exposed", func(t *testing.T) {
		now := ts.Clock.Now()
		exp := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 2)
		p := f.Projects["sibling"]
		tok := createCIToken(t, ts, fmt.Sprintf("projects/%d", p.ID), map[string]any{"expires_at": exp.Format("2006-01-02")})
		if got := ciVars(t, ts, p.ID)["CI_DEPLOY_USER"].Value; got != tok.Username {
			t.Fatalf("before expiry: CI_DEPLOY_USER = %q, want %q", got, tok.Username)
		}
		ts.Clock.SetTo(exp.Add(time.Second))
		defer ts.Clock.SetTo(now)
		if v, ok := ciVars(t, ts, p.ID)["CI_DEPLOY_USER"]; ok {
			t.Fatalf("expired token exposed as %q", v.Value)
		}
	})
	t.Run("fail/only admins read CI variables", func(t *testing.T) {
		m := newUser(t, ts, "maint")
		addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), m, 40)
		st := ts.APIAs(t, m.PAT, "GET", fmt.Sprintf("/projects/%d/ci/variables/predefined", top.ID), nil, nil)
		if st != http.StatusForbidden {
			t.Fatalf("maintainer: status %d, want 403", st)
		}
		dt := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
		if st := ts.APIAs(t, dt.Token, "GET", fmt.Sprintf("/projects/%d/ci/variables/predefined", top.ID), nil, nil); st != http.StatusUnauthorized {
			t.Fatalf("deploy token: status %d, want 401", st)
		}
	})
	t.Run("ok/the secret is stored sealed, never in clear; other tokens are digest-only", func(t *testing.T) {
		other := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
		ctx := context.Background()
		if st, err := ts.Server.Deploy.Get(ctx, other.ID); err != nil || len(st.SealedSecret) != 0 {
			t.Fatalf("a token not named gitlab-deploy-token has a sealed secret (err %v)", err)
		}
		if st, err := ts.Server.Deploy.Get(ctx, groupTok.ID); err != nil || len(st.SealedSecret) == 0 {
			t.Fatalf("the CI token has no sealed secret (err %v)", err)
		}
		var raw []byte
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(filepath.Join(ts.Server.Config.DataDir, "gatehouse.db"+suffix))
			if err == nil {
				raw = append(raw, b...)
			}
		}
		if len(raw) == 0 {
			t.Fatal("read nothing of the SQLite database")
		}
		for _, secret := range []string{groupTok.Token, projectTok.Token, other.Token} {
			if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(strings.TrimPrefix(secret, "gldt-"))) {
				t.Fatalf("a deploy-token secret is stored in clear in the database")
			}
		}
	})
}

// registryLogin does what `docker login` + a pull does at /jwt/auth and returns the actions the
// issued token grants on repository.
func registryLogin(t *testing.T, ts *testenv.TestServer, user, pass, repository string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+"/jwt/auth?service=container_registry&scope=repository:"+repository+":pull,push", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/jwt/auth: status %d", resp.StatusCode)
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(body.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Access []struct {
			Type, Name string
			Actions    []string
		} `json:"access"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, a := range claims.Access {
		if a.Type == "repository" && a.Name == repository {
			return a.Actions
		}
	}
	return nil
}

// pushREADME pushes one commit to the project as root.
func pushREADME(t *testing.T, ts *testenv.TestServer, fullPath string) {
	t.Helper()
	work := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main", work}, {"-C", work, "commit", "-q", "--allow-empty", "-m", "init"},
		{"-C", work, "push", "-q", ts.GitURL(fullPath, "root", ts.RootToken), "main"}} {
		if out, err := testenv.RunGit(t, "", args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}
