package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestPythonGitlabVariables manages project and group CI/CD variables with python-gitlab, on
// SQLite and PostgreSQL, and checks that no value reaches the database in plain text.
func TestPythonGitlabVariables(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var opts []testenv.ServerOption
			if backend == "postgres" {
				opts = append(opts, testenv.WithPostgres(t))
			}
			ts := testenv.StartServer(t, opts...)
			f := ts.MakeFixture(t)
			child := f.Projects["child"]
			maint, dev, gmaint := newUser(t, ts, "maint"), newUser(t, ts, "dev"), newUser(t, ts, "gmaint")
			addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), maint, 40)
			addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), dev, 30)
			addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), gmaint, 40)
			const secret = "s3cr3t-Value-9f8e7d6c5b4a"
			out := runPythonScript(t, ts, "pythongitlab_variables.py", "MAINT_TOKEN="+maint.PAT, "DEV_TOKEN="+dev.PAT,
				"GMAINT_TOKEN="+gmaint.PAT, fmt.Sprintf("PROJECT_ID=%d", child.ID), fmt.Sprintf("GROUP_ID=%d", f.GroupID), "SECRET="+secret)

			for key, want := range map[string]string{
				"create":           `{"key":"DEPLOY_KEY","value":"` + secret + `","variable_type":"env_var","protected":true,"masked":true,"raw":false,"environment_scope":"*"}`,
				"create_file":      `{"key":"KUBECONFIG","value":"apiVersion: v1\n","variable_type":"file","protected":false,"masked":false,"raw":false,"environment_scope":"*"}`,
				"create_scoped":    `{"key":"DEPLOY_KEY","value":"staging-value-1","variable_type":"env_var","protected":false,"masked":false,"raw":false,"environment_scope":"staging"}`,
				"list":             `[["DEPLOY_KEY","*"],["DEPLOY_KEY","staging"],["KUBECONFIG","*"]]`,
				"get_filtered":     `"` + secret + `"`,
				"get_file":         `{"key":"KUBECONFIG","value":"apiVersion: v1\n","variable_type":"file","protected":false,"masked":false,"raw":false,"environment_scope":"*"}`,
				"updated":          `{"key":"KUBECONFIG","value":"apiVersion: v2\n","variable_type":"file","protected":true,"masked":false,"raw":false,"environment_scope":"*"}`,
				"group_create":     `{"key":"GROUP_TOKEN","value":"group-secret-value","variable_type":"env_var","protected":false,"masked":true,"raw":false,"environment_scope":"*"}`,
				"group_get":        `"group-secret-value-2"`,
				"group_list":       `["GROUP_TOKEN"]`,
				"group_list_after": `[]`,
			} {
				var got, w any
				pyStep(t, out, key, &got)
				if err := json.Unmarshal([]byte(want), &w); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				g, _ := json.Marshal(got)
				ws, _ := json.Marshal(w)
				if string(g) != string(ws) {
					t.Errorf("%s = %s, want %s", key, g, ws)
				}
			}
			for _, c := range []struct {
				key     string
				code    int
				message string
			}{
				{"create_taken", 400, "(DEPLOY_KEY) has already been taken"},
				{"create_bad_mask", 400, "value"},
				{"create_bad_mask_chars", 400, "value"},
				{"create_bad_key", 400, "can contain only letters, digits and '_'."},
				{"create_bad_type", 400, "variable_type does not have a valid value"},
				{"get_ambiguous", 409, "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"},
				{"update_missing", 404, "404 Variable Not Found"},
				{"get_deleted", 404, "404 Variable Not Found"},
				{"dev_list", 403, "403"},
				{"gmaint_list", 403, "403"},
			} {
				var o pyOutcome
				pyStep(t, out, c.key, &o)
				if o.Code != c.code || !strings.Contains(o.Message, c.message) {
					t.Errorf("%s: %d %q, want %d with %q", c.key, o.Code, o.Message, c.code, c.message)
				}
			}

			// The values are sealed: neither the table nor (on SQLite) the database files hold
			// them in plain text.
			rows, err := ts.Server.Store.SQL().QueryContext(t.Context(), `SELECT sealed_value FROM ci_variables`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var sealed []byte
				if err := rows.Scan(&sealed); err != nil {
					t.Fatal(err)
				}
				n++
				for _, plain := range []string{secret, "staging-value-1"} {
					if bytes.Contains(sealed, []byte(plain)) {
						t.Errorf("a stored value holds %q in plain text", plain)
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%d variables stored, want 2 (DEPLOY_KEY in two scopes)", n)
			}
			if backend == "sqlite" {
				files, _ := filepath.Glob(filepath.Join(ts.Server.Config.DataDir, "gatehouse.db*"))
				if len(files) == 0 {
					t.Fatal("no SQLite database files to search")
				}
				for _, name := range files {
					b, err := os.ReadFile(name)
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(b, []byte(secret)) {
						t.Errorf("%s holds the variable's value in plain text", filepath.Base(name))
					}
				}
			}
		})
	}
}
