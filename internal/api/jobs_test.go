package api_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

const expiryRunPath = "/admin/jobs/deploy-token-expiry/run"

type jobSummaryView struct {
	Job             string `json:"job"`
	SMTPConfigured  bool   `json:"smtp_configured"`
	TokensExamined  int    `json:"tokens_examined"`
	Tokens          int    `json:"tokens"`
	MailsSent       int    `json:"mails_sent"`
	MailsLogged     int    `json:"mails_logged"`
	AlreadyNotified int    `json:"already_notified"`
	NoRecipients    int    `json:"no_recipients"`
	Message         string `json:"message"`
	StartedAt       string `json:"started_at"`
	Notices         []struct {
		TokenID      int64 `json:"token_id"`
		IntervalDays int   `json:"interval_days"`
		Recipients   int   `json:"recipients"`
		MailsSent    int   `json:"mails_sent"`
	} `json:"notices"`
}

// TestRunDeployTokenExpiryJob: admins run the expiry job and get its summary; without SMTP the
// notice is logged and recorded, not sent; a rerun finds it already notified.
func TestRunDeployTokenExpiryJob(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	maint := newUser(t, ts, "jobmaint")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), maint, 40)
	dev := newUser(t, ts, "jobdev")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), dev, 30)
	expires := ts.Clock.Now().UTC().AddDate(0, 0, 5).Format(time.DateOnly)
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_repository"},
		map[string]any{"expires_at": expires})

	r := asPAT(t, ts, ts.RootToken, "POST", expiryRunPath, nil)
	mustStatus(t, r, http.StatusOK, "admin run")
	var sum jobSummaryView
	r.json(t, &sum)
	// Two recipients: the maintainer, and root, Owner of the group it created (as in GitLab).
	if sum.Job != "deploy-token-expiry" || sum.SMTPConfigured || sum.Tokens != 1 || sum.MailsSent != 0 ||
		sum.MailsLogged != 2 || sum.TokensExamined != 1 || !strings.Contains(sum.Message, "SMTP is not configured") ||
		len(sum.Notices) != 1 || sum.Notices[0].TokenID != tok.ID || sum.Notices[0].IntervalDays != 7 ||
		sum.Notices[0].Recipients != 2 || sum.StartedAt == "" {
		t.Fatalf("summary %s", r.body)
	}
	if !strings.Contains(ts.Logs(), "SMTP is not configured") || !strings.Contains(ts.Logs(), "jobmaint") {
		t.Fatalf("the unsent notice is not logged")
	}
	if strings.Contains(ts.Logs(), tok.Token) || strings.Contains(string(r.body), tok.Token) {
		t.Fatalf("the token secret leaked")
	}

	r = asPAT(t, ts, ts.RootToken, "POST", expiryRunPath, nil)
	mustStatus(t, r, http.StatusOK, "admin rerun")
	sum = jobSummaryView{}
	r.json(t, &sum)
	if sum.Tokens != 0 || sum.MailsLogged != 0 || sum.AlreadyNotified != 1 || sum.Notices == nil {
		t.Fatalf("rerun summary %s", r.body)
	}
}

func TestRunDeployTokenExpiryJobRefused(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	owner := newUser(t, ts, "jobowner")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), owner, 50)
	readAPI := newUser(t, ts, "jobreader", "read_api")
	tok := ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(tok.Username+":"+tok.Token))
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"fail/anonymous", nil, http.StatusUnauthorized},
		{"fail/group owner, not admin", map[string]string{"PRIVATE-TOKEN": owner.PAT}, http.StatusForbidden},
		{"fail/read_api token", map[string]string{"PRIVATE-TOKEN": readAPI.PAT}, http.StatusForbidden},
		{"fail/deploy token as PRIVATE-TOKEN", map[string]string{"PRIVATE-TOKEN": tok.Token}, http.StatusUnauthorized},
		{"fail/deploy token as basic auth", map[string]string{"Authorization": basic}, http.StatusUnauthorized},
		{"fail/deploy token header", map[string]string{"Deploy-Token": tok.Token}, http.StatusUnauthorized},
		{"fail/bad personal token", map[string]string{"PRIVATE-TOKEN": "glpat-not-a-real-token-000000"}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, ts, call{method: "POST", path: expiryRunPath, headers: tc.headers})
			mustStatus(t, r, tc.want, tc.name)
		})
	}
	r := do(t, ts, call{method: "GET", path: expiryRunPath, headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
	if r.status == http.StatusOK {
		t.Fatalf("GET runs the job")
	}
}
