package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// gatehouse runs the CLI in-process with args and returns what it printed.
func gatehouse(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func mustGatehouse(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := gatehouse(t, args...)
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

var (
	usernameLine = regexp.MustCompile(`(?m)^Username: (\S+)$`)
	tokenLine    = regexp.MustCompile(`(?m)^Token:\s+(gldt-\S+)$`)
	createdLine  = regexp.MustCompile(`(?m)^Created deploy token (\d+) `)
)

// created parses create's output.
func created(t *testing.T, out string) (id int64, username, secret string) {
	t.Helper()
	m1, m2, m3 := createdLine.FindStringSubmatch(out), usernameLine.FindStringSubmatch(out), tokenLine.FindStringSubmatch(out)
	if m1 == nil || m2 == nil || m3 == nil {
		t.Fatalf("create output lacks id, username or token:\n%s", out)
	}
	if !strings.Contains(out, "will not be shown again") {
		t.Fatalf("create output does not warn that the token is shown once:\n%s", out)
	}
	id, _ = strconv.ParseInt(m1[1], 10, 64)
	return id, m2[1], m3[1]
}

// tableRow returns the fields of the list row for id, or nil.
func tableRow(out string, id int64) []string {
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == strconv.FormatInt(id, 10) {
			return fields
		}
	}
	return nil
}

func TestTokenCommands(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	conn := []string{"--url", ts.URL, "--token", ts.RootToken}
	expires := ts.Clock.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")

	// create on a project given by full path, with flags.
	out := mustGatehouse(t, append([]string{"token", "create", "--project", child.FullPath, "--name", "ci-pull",
		"--scopes", "read_repository, read_registry", "--expires-at", expires}, conn...)...)
	projID, projUser, projSecret := created(t, out)
	if projUser != fmt.Sprintf("gitlab+deploy-token-%d", projID) {
		t.Fatalf("username %q is not the default", projUser)
	}
	if !strings.Contains(out, "project group/sub/child") || !strings.Contains(out, "Expires:  "+expires) ||
		!strings.Contains(out, "Scopes:   read_repository,read_registry") {
		t.Fatalf("create output:\n%s", out)
	}

	t.Run("ok/created project token is real", func(t *testing.T) {
		var got struct {
			Username  string   `json:"username"`
			Name      string   `json:"name"`
			Scopes    []string `json:"scopes"`
			ExpiresAt string   `json:"expires_at"`
		}
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", child.ID, projID), nil, &got)
		if got.Username != projUser || got.Name != "ci-pull" || strings.Join(got.Scopes, ",") != "read_repository,read_registry" ||
			got.ExpiresAt != expires+"T00:00:00.000Z" {
			t.Fatalf("API view = %+v", got)
		}
		if _, err := ts.Server.Deploy.Authenticate(context.Background(), projUser, token.NewSecret(projSecret), true); err != nil {
			t.Fatalf("printed secret does not authenticate: %v", err)
		}
		if st := ts.InfoRefs(t, child.FullPath, projUser, projSecret).Status; st != 200 {
			t.Fatalf("git with the printed token = %d", st)
		}
	})

	// create on a group by id, with the environment and a custom username.
	t.Setenv("GATEHOUSE_URL", ts.URL)
	t.Setenv("GATEHOUSE_TOKEN", ts.RootToken)
	out = mustGatehouse(t, "token", "create", "--group", strconv.FormatInt(f.SubID, 10), "--name", "registry",
		"--scopes", "read_registry", "--username", "registry-bot")
	groupID, groupUser, groupSecret := created(t, out)
	if groupUser != "registry-bot" || !strings.Contains(out, "group group/sub") || !strings.Contains(out, "Expires:  never") {
		t.Fatalf("group create output:\n%s", out)
	}

	t.Run("ok/created group token is real", func(t *testing.T) {
		var got struct {
			Username string `json:"username"`
		}
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.SubID, groupID), nil, &got)
		if got.Username != "registry-bot" {
			t.Fatalf("API username = %q", got.Username)
		}
		if _, err := ts.Server.Deploy.Authenticate(context.Background(), groupUser, token.NewSecret(groupSecret), true); err != nil {
			t.Fatalf("printed secret does not authenticate: %v", err)
		}
	})

	t.Run("ok/list shows a table without secrets", func(t *testing.T) {
		out := mustGatehouse(t, "token", "list", "--project", strconv.FormatInt(child.ID, 10))
		if !strings.HasPrefix(out, "ID") || !strings.Contains(strings.Fields(strings.SplitN(out, "\n", 2)[0])[6], "EXPIRED") {
			t.Fatalf("no header:\n%s", out)
		}
		row := tableRow(out, projID)
		want := []string{strconv.FormatInt(projID, 10), "ci-pull", projUser, "read_repository,read_registry", expires, "no", "no"}
		if strings.Join(row, " ") != strings.Join(want, " ") {
			t.Fatalf("row = %q, want %q\n%s", row, want, out)
		}
		if strings.Contains(out, projSecret) || strings.Contains(out, "gldt-") {
			t.Fatalf("list shows a secret")
		}
	})

	t.Run("ok/list marks revoked and filters active", func(t *testing.T) {
		revoked := ts.CreateDeployToken(t, "groups/"+strconv.FormatInt(f.SubID, 10), []string{"read_repository"}, map[string]any{"name": "old"})
		if err := ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
			t.Fatal(err)
		}
		out := mustGatehouse(t, "token", "list", "--group", "group/sub")
		if row := tableRow(out, revoked.ID); len(row) != 7 || row[5] != "yes" || row[6] != "no" {
			t.Fatalf("revoked row = %q\n%s", row, out)
		}
		if row := tableRow(out, groupID); len(row) != 7 || row[4] != "never" || row[5] != "no" {
			t.Fatalf("active row = %q\n%s", row, out)
		}
		out = mustGatehouse(t, "token", "list", "--group", "group/sub", "--active")
		if tableRow(out, revoked.ID) != nil || tableRow(out, groupID) == nil {
			t.Fatalf("--active list:\n%s", out)
		}
		// Without --project or --group: every token of the instance (admin).
		out = mustGatehouse(t, "token", "list")
		for _, id := range []int64{projID, groupID, revoked.ID} {
			if tableRow(out, id) == nil {
				t.Fatalf("instance list lacks %d:\n%s", id, out)
			}
		}
	})

	t.Run("ok/scopes in GitLab's order", func(t *testing.T) {
		out := mustGatehouse(t, "token", "create", "--project", f.Projects["top"].FullPath, "--name", "ordered",
			"--scopes", "write_virtual_registry,read_package_registry,read_repository")
		id, _, _ := created(t, out)
		const want = "read_repository,read_package_registry,write_virtual_registry"
		if !strings.Contains(out, "Scopes:   "+want+"\n") {
			t.Fatalf("create output, want scopes %s:\n%s", want, out)
		}
		out = mustGatehouse(t, "token", "list", "--project", f.Projects["top"].FullPath)
		if row := tableRow(out, id); len(row) != 7 || row[3] != want {
			t.Fatalf("list row = %q, want scopes %s\n%s", row, want, out)
		}
	})

	t.Run("ok/list marks expired", func(t *testing.T) {
		exp := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", f.Projects["top"].ID), []string{"read_repository"},
			map[string]any{"name": "short", "expires_at": ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")})
		ts.Clock.Advance(49 * time.Hour)
		out := mustGatehouse(t, "token", "list", "--project", f.Projects["top"].FullPath)
		if row := tableRow(out, exp.ID); len(row) != 7 || row[5] != "no" || row[6] != "yes" {
			t.Fatalf("expired row = %q\n%s", row, out)
		}
	})

	t.Run("ok/revoke deletes and stops the token", func(t *testing.T) {
		out := mustGatehouse(t, "token", "revoke", "--project", child.FullPath, strconv.FormatInt(projID, 10))
		if !strings.Contains(out, fmt.Sprintf("Revoked deploy token %d", projID)) {
			t.Fatalf("revoke output: %s", out)
		}
		if st := ts.API(t, "GET", fmt.Sprintf("/projects/%d/deploy_tokens/%d", child.ID, projID), nil, nil); st != 404 {
			t.Fatalf("GET after revoke = %d, want 404", st)
		}
		if st := ts.InfoRefs(t, child.FullPath, projUser, projSecret).Status; st != 401 {
			t.Fatalf("git after revoke = %d, want 401", st)
		}
		if _, err := ts.Server.Deploy.Authenticate(context.Background(), projUser, token.NewSecret(projSecret), true); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("revoked token still authenticates: %v", err)
		}
		out = mustGatehouse(t, "token", "revoke", "--group", "group/sub", strconv.FormatInt(groupID, 10))
		if !strings.Contains(out, "Revoked") {
			t.Fatalf("group revoke output: %s", out)
		}
		if st := ts.API(t, "GET", fmt.Sprintf("/groups/%d/deploy_tokens/%d", f.SubID, groupID), nil, nil); st != 404 {
			t.Fatalf("GET group token after revoke = %d, want 404", st)
		}
	})

	t.Run("fail/usage and server errors", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			env  map[string]string
			want string
		}{
			{"no owner", []string{"token", "create", "--name", "x", "--scopes", "read_repository"}, nil, "--project"},
			{"both owners", []string{"token", "list", "--project", "1", "--group", "1"}, nil, "not both"},
			{"no name", []string{"token", "create", "--project", "1", "--scopes", "read_repository"}, nil, "--name"},
			{"no scopes", []string{"token", "create", "--project", "1", "--name", "x", "--scopes", " , "}, nil, "--scopes"},
			{"bad token id", []string{"token", "revoke", "--project", "1", "abc"}, nil, "not a positive number"},
			{"no id", []string{"token", "revoke", "--project", "1"}, nil, "accepts 1 arg"},
			{"no url", []string{"token", "list", "--project", "1"}, map[string]string{"GATEHOUSE_URL": ""}, "GATEHOUSE_URL"},
			{"no pat", []string{"token", "list", "--project", "1"}, map[string]string{"GATEHOUSE_TOKEN": ""}, "GATEHOUSE_TOKEN"},
			{"unknown scope", []string{"token", "create", "--project", child.FullPath, "--name", "x", "--scopes", "read_everything"}, nil, "400: scopes"},
			{"bad expiry", []string{"token", "create", "--group", "group", "--name", "x", "--scopes", "read_repository", "--expires-at", "2001-13-01"}, nil, "expires_at"},
			{"missing project", []string{"token", "create", "--project", "group/nope", "--name", "x", "--scopes", "read_repository"}, nil, "404"},
			{"missing token", []string{"token", "revoke", "--project", child.FullPath, "999999"}, nil, "404"},
			{"wrong pat", []string{"token", "list", "--project", "1", "--token", "glpat-wrong-secret-0000000000"}, nil, "401"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for k, v := range c.env {
					t.Setenv(k, v)
				}
				out, errOut, err := gatehouse(t, c.args...)
				if err == nil {
					t.Fatalf("succeeded:\n%s", out)
				}
				if !strings.Contains(err.Error(), c.want) || !strings.Contains(errOut, c.want) {
					t.Fatalf("error %q (stderr %q) does not mention %q", err, errOut, c.want)
				}
				for _, secret := range []string{ts.RootToken, "glpat-wrong-secret-0000000000"} {
					if strings.Contains(err.Error(), secret) || strings.Contains(errOut, secret) || strings.Contains(out, secret) {
						t.Fatalf("output shows a personal access token")
					}
				}
			})
		}
	})
}
