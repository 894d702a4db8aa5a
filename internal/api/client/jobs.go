package client

import (
	"context"
	"net/http"
	"time"
)

// JobSummary is what one run of a background job did (POST /admin/jobs/:name/run).
type JobSummary struct {
	Job             string      `json:"job"`
	SMTPConfigured  bool        `json:"smtp_configured"`
	TokensExamined  int         `json:"tokens_examined"`
	Tokens          int         `json:"tokens"`
	MailsSent       int         `json:"mails_sent"`
	MailsFailed     int         `json:"mails_failed"`
	MailsLogged     int         `json:"mails_logged"`
	AlreadyNotified int         `json:"already_notified"`
	NoRecipients    int         `json:"no_recipients"`
	Retry           int         `json:"retry"`
	Errors          int         `json:"errors"`
	Message         string      `json:"message"`
	StartedAt       time.Time   `json:"started_at"`
	FinishedAt      time.Time   `json:"finished_at"`
	Notices         []JobNotice `json:"notices"`
}

// JobNotice is one expiry notice a run recorded.
type JobNotice struct {
	TokenID      int64 `json:"token_id"`
	IntervalDays int   `json:"interval_days"`
	Recipients   int   `json:"recipients"`
	MailsSent    int   `json:"mails_sent"`
}

// RunJob runs the background job name ("deploy-token-expiry") now and returns its summary
// (admin token required). A 409 *Error means the job is already running on some node.
func (c *Client) RunJob(ctx context.Context, name string) (*JobSummary, error) {
	var out JobSummary
	if err := c.do(ctx, http.MethodPost, "/admin/jobs/"+ref(name)+"/run", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
