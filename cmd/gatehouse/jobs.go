package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/api/client"
)

// jobNames are the background jobs `gatehouse jobs run` knows.
var jobNames = []string{"deploy-token-expiry"}

// jobsCmd runs the server's background jobs on demand over the API.
func jobsCmd() *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{Use: "jobs", Short: "Run the server's background jobs now (admin)",
		Long: `Run one of the server's scheduled background jobs now, through the REST API, and print what
it did. The server runs them on its own too (deploy-token-expiry daily at 01:00 UTC, on one node
of a cluster at a time).

The server URL comes from --url or GATEHOUSE_URL, and an admin's personal access token (scope api)
from --token or GATEHOUSE_TOKEN.`}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", "", "Gatehouse server URL (env GATEHOUSE_URL)")
	pf.StringVar(&f.pat, "token", "", "admin personal access token (env GATEHOUSE_TOKEN)")
	var asJSON bool
	run := &cobra.Command{Use: "run JOB",
		Short: "Run a job now: deploy-token-expiry (mail owners and maintainers about tokens expiring in 60, 30 and 7 days)",
		Args:  cobra.ExactArgs(1), ValidArgs: jobNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			known := false
			for _, n := range jobNames {
				known = known || n == args[0]
			}
			if !known {
				return fmt.Errorf("unknown job %q (known: %v)", args[0], jobNames)
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			sum, err := c.RunJob(cmd.Context(), args[0])
			if client.StatusCode(err) == http.StatusConflict {
				return fmt.Errorf("%s is already running (on this or another node); try again later", args[0])
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			fmt.Fprintf(out, "%s: %s\n", sum.Job, sum.Message)
			fmt.Fprintf(out, "tokens examined: %d, notified: %d, already notified: %d, without recipients: %d\n",
				sum.TokensExamined, sum.Tokens, sum.AlreadyNotified, sum.NoRecipients)
			fmt.Fprintf(out, "mails sent: %d, failed: %d, logged (no SMTP): %d; retried next run: %d; errors: %d\n",
				sum.MailsSent, sum.MailsFailed, sum.MailsLogged, sum.Retry, sum.Errors)
			for _, n := range sum.Notices {
				fmt.Fprintf(out, "token %d: %d-day notice, %d recipient(s), %d mail(s) sent\n",
					n.TokenID, n.IntervalDays, n.Recipients, n.MailsSent)
			}
			return nil
		}}
	run.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	cmd.AddCommand(run)
	return cmd
}
