package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func TestCIEnv(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	var tok testenv.DeployToken
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/groups/%d/deploy_tokens", f.GroupID),
		map[string]any{"name": "gitlab-deploy-token", "scopes": []string{"read_repository"}}, &tok)

	out := mustGatehouse(t, "ci", "env", "--url", ts.URL, "--token", ts.RootToken, top.FullPath)
	// The output is meant for eval: run it through a real shell and read the variables back.
	sh := exec.Command("bash", "-c", `eval "$(cat)"; printf '%s\n' "$CI_DEPLOY_USER" "$CI_DEPLOY_PASSWORD" "$CI_PROJECT_PATH" "$CI_SERVER_URL"`)
	sh.Stdin = strings.NewReader(out)
	got, err := sh.Output()
	if err != nil {
		t.Fatalf("eval of ci env output failed: %v\n%s", err, out)
	}
	want := strings.Join([]string{tok.Username, tok.Token, top.FullPath, ts.URL}, "\n") + "\n"
	if string(got) != want {
		t.Fatalf("variables after eval:\n%s\nwant:\n%s", got, want)
	}
	if st := ts.InfoRefs(t, top.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
		t.Fatalf("the exposed credentials do not open Git: %d", st)
	}
	if !strings.Contains(out, "export CI_REGISTRY_IMAGE='") {
		t.Fatalf("no CI_REGISTRY_IMAGE line:\n%s", out)
	}

	t.Run("fail/no token", func(t *testing.T) {
		if _, _, err := gatehouse(t, "ci", "env", "--url", ts.URL, top.FullPath); err == nil {
			t.Fatal("ci env without a token succeeded")
		}
	})
	t.Run("ok/shell quoting survives quotes", func(t *testing.T) {
		if q := shellQuote(`it's "x"`); q != `'it'\''s "x"'` {
			t.Fatalf("shellQuote = %s", q)
		}
	})
}
