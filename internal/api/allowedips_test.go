package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func TestDeployTokenIPAllowList(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	p := f.Projects["child"]
	pushREADME(t, ts, p.FullPath)
	owner := fmt.Sprintf("groups/%d", f.GroupID)
	scopes := []string{"read_repository", "read_registry"}

	t.Run("ok/inside the allow-list", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, owner, scopes, map[string]any{"allowed_ips": []string{"10.0.0.0/8", "127.0.0.1"}})
		if st := ts.InfoRefs(t, p.FullPath, tok.Username, tok.Token).Status; st != http.StatusOK {
			t.Fatalf("git from 127.0.0.1 with 127.0.0.1 allowed: %d", st)
		}
		var raw struct {
			AllowedIPs []string `json:"allowed_ips"`
		}
		ts.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/%s/deploy_tokens/%d", owner, tok.ID), nil, &raw)
		if strings.Join(raw.AllowedIPs, ",") != "10.0.0.0/8,127.0.0.1/32" {
			t.Fatalf("allowed_ips = %v", raw.AllowedIPs)
		}
		if got := registryLogin(t, ts, tok.Username, tok.Token, p.FullPath); strings.Join(got, ",") != "pull" {
			t.Fatalf("registry grants %v, want [pull]", got)
		}
	})
	t.Run("fail/outside the allow-list: refused and audited", func(t *testing.T) {
		tok := ts.CreateDeployToken(t, owner, scopes, map[string]any{"allowed_ips": "192.0.2.0/24, 2001:db8::/32"})
		if st := ts.InfoRefs(t, p.FullPath, tok.Username, tok.Token).Status; st != http.StatusForbidden {
			t.Fatalf("git from 127.0.0.1 outside the allow-list: %d, want 403", st)
		}
		if got := registryLogin(t, ts, tok.Username, tok.Token, p.FullPath); len(got) != 0 {
			t.Fatalf("registry token outside the allow-list grants %v, want nothing", got)
		}
		events, err := ts.Server.Audit.List(context.Background(), "project", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Type == audit.DeployTokenRefused && e.ActorID == tok.ID && strings.Contains(e.Details, "allow-list") && e.IP == "127.0.0.1" {
				return
			}
		}
		t.Fatal("no deploy_token_refused audit event naming the allow-list")
	})
	t.Run("fail/invalid entries are a 400 naming the field", func(t *testing.T) {
		var msg struct {
			Message string `json:"message"`
		}
		st := ts.API(t, "POST", "/"+owner+"/deploy_tokens", map[string]any{"name": "x", "scopes": scopes,
			"allowed_ips": []string{"not-an-ip"}}, &msg)
		if st != http.StatusBadRequest || !strings.Contains(msg.Message, "allowed_ips") {
			t.Fatalf("status %d message %q", st, msg.Message)
		}
	})
}
