package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// DeployTokenExpiryJob runs the deploy-token expiry notifications once (*notify.Job).
type DeployTokenExpiryJob interface {
	// Run runs the job; notify.ErrBusy while another run (on any node) holds its lease.
	Run(ctx context.Context) (notify.Summary, error)
}

// jobSummaryJSON is the answer of POST /api/v4/admin/jobs/deploy-token-expiry/run.
type jobSummaryJSON struct {
	Job             string       `json:"job"`
	SMTPConfigured  bool         `json:"smtp_configured"`
	TokensExamined  int          `json:"tokens_examined"`
	Tokens          int          `json:"tokens"`
	MailsSent       int          `json:"mails_sent"`
	MailsFailed     int          `json:"mails_failed"`
	MailsLogged     int          `json:"mails_logged"`
	AlreadyNotified int          `json:"already_notified"`
	NoRecipients    int          `json:"no_recipients"`
	Retry           int          `json:"retry"`
	Errors          int          `json:"errors"`
	Message         string       `json:"message"`
	StartedAt       string       `json:"started_at"`
	FinishedAt      string       `json:"finished_at"`
	Notices         []noticeJSON `json:"notices"`
}

type noticeJSON struct {
	TokenID      int64 `json:"token_id"`
	IntervalDays int   `json:"interval_days"`
	Recipients   int   `json:"recipients"`
	MailsSent    int   `json:"mails_sent"`
}

// runDeployTokenExpiry runs the expiry notifications now (admins only); 409 while a run holds
// the lease.
func (h *Handler) runDeployTokenExpiry(w http.ResponseWriter, r *request) error {
	if err := h.authorize(r, access.Resource{}, access.AdministerInstance, ""); err != nil {
		return err
	}
	// The run outlives a client that hangs up: a half-done run would only be finished tomorrow.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctxOf(r)), 30*time.Minute)
	defer cancel()
	sum, err := h.cfg.ExpiryJob.Run(ctx)
	if errors.Is(err, notify.ErrBusy) {
		return &apiError{http.StatusConflict, "409 Conflict: " + notify.JobName + " is already running"}
	}
	if err != nil {
		return err
	}
	out := jobSummaryJSON{Job: notify.JobName, SMTPConfigured: sum.SMTPConfigured, TokensExamined: sum.Examined,
		Tokens: sum.Tokens, MailsSent: sum.MailsSent, MailsFailed: sum.MailsFailed, MailsLogged: sum.MailsLogged,
		AlreadyNotified: sum.AlreadyNotified, NoRecipients: sum.NoRecipients, Retry: sum.Retry, Errors: sum.Errors,
		Message: sum.Message(), StartedAt: isoTime(sum.StartedAt), FinishedAt: isoTime(sum.FinishedAt),
		Notices: []noticeJSON{}}
	for _, n := range sum.Notices {
		out.Notices = append(out.Notices, noticeJSON{TokenID: n.TokenID, IntervalDays: n.IntervalDays,
			Recipients: n.Recipients, MailsSent: n.Sent})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
