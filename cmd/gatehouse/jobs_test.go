package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// TestJobsRunDeployTokenExpiry drives `gatehouse jobs run deploy-token-expiry` against a server
// that mails through a real SMTP server (mailpit).
func TestJobsRunDeployTokenExpiry(t *testing.T) {
	mp := testbin.StartMailpit(t)
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.SMTP = config.SMTP{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: "none", From: "gatehouse@example.com"}
	})
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	var u struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", "/users", map[string]any{"username": "maint", "email": "maint@example.com",
		"name": "Maint", "password": "password-maint"}, &u)
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/groups/%d/members", f.GroupID),
		map[string]any{"user_id": u.ID, "access_level": 40}, nil)
	var pat struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, http.StatusCreated, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", u.ID),
		map[string]any{"name": "pat", "scopes": []string{"api"}}, &pat)
	expires := ts.Clock.Now().UTC().AddDate(0, 0, 25).Format(time.DateOnly)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"},
		map[string]any{"expires_at": expires})

	// Two recipients: maint, and root, the Owner member of the group it created (as in GitLab).
	out := mustGatehouse(t, "jobs", "run", "deploy-token-expiry", "--url", ts.URL, "--token", ts.RootToken)
	for _, want := range []string{"deploy-token-expiry: sent 2 mail(s) for 1 token(s)",
		fmt.Sprintf("token %d: 30-day notice, 2 recipient(s), 2 mail(s) sent", tok.ID)} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	all := mp.Messages(t)
	var mails []testbin.Mail
	for _, m := range all {
		if len(m.To) == 1 && m.To[0].Address == "maint@example.com" {
			mails = append(mails, m)
		}
	}
	if len(all) != 2 || len(mails) != 1 || !strings.Contains(mails[0].Text, "group/top/-/settings/repository#deploy-tokens") ||
		!strings.Contains(mails[0].HTML, expires) {
		t.Fatalf("mails %+v", all)
	}

	// From the environment, as JSON: the rerun sends nothing.
	t.Setenv("GATEHOUSE_URL", ts.URL)
	t.Setenv("GATEHOUSE_TOKEN", ts.RootToken)
	out = mustGatehouse(t, "jobs", "run", "deploy-token-expiry", "--json")
	var sum struct {
		MailsSent       int  `json:"mails_sent"`
		Tokens          int  `json:"tokens"`
		AlreadyNotified int  `json:"already_notified"`
		SMTPConfigured  bool `json:"smtp_configured"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if sum.MailsSent != 0 || sum.Tokens != 0 || sum.AlreadyNotified != 1 || !sum.SMTPConfigured {
		t.Fatalf("rerun summary %+v", sum)
	}
	if n := len(mp.Messages(t)); n != 2 {
		t.Fatalf("%d mails after the rerun, want 2", n)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/not an admin", []string{"jobs", "run", "deploy-token-expiry", "--token", pat.Token}, "403"},
		{"fail/deploy token", []string{"jobs", "run", "deploy-token-expiry", "--token", tok.Token}, "401"},
		{"fail/unknown job", []string{"jobs", "run", "reindex"}, "unknown job"},
		{"fail/no job", []string{"jobs", "run"}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := gatehouse(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tok.Token) || strings.Contains(err.Error(), pat.Token) {
				t.Fatalf("the error shows a token")
			}
		})
	}
	t.Run("fail/no url", func(t *testing.T) {
		t.Setenv("GATEHOUSE_URL", "")
		if _, _, err := gatehouse(t, "jobs", "run", "deploy-token-expiry"); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_URL") {
			t.Fatalf("error %v", err)
		}
	})
}
