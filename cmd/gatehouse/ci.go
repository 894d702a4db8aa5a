package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ciCmd serves what a CI runner would inject into jobs.
func ciCmd() *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{Use: "ci", Short: "CI job variables (what a runner would inject)"}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", "", "Gatehouse server URL (env GATEHOUSE_URL)")
	pf.StringVar(&f.pat, "token", "", "admin personal access token (env GATEHOUSE_TOKEN)")
	env := &cobra.Command{Use: "env PROJECT",
		Short: "Print a project's predefined CI variables as shell export lines",
		Long: `Print CI_DEPLOY_USER, CI_DEPLOY_PASSWORD (while a gitlab-deploy-token applies), CI_REGISTRY,
CI_REGISTRY_IMAGE, CI_PROJECT_PATH, CI_SERVER_URL and CI_API_V4_URL for a project, as shell-quoted
export lines: eval "$(gatehouse ci env group/project)". The output contains a secret.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			vars, err := c.PredefinedCIVariables(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, v := range vars {
				fmt.Fprintf(cmd.OutOrStdout(), "export %s=%s\n", v.Key, shellQuote(v.Value))
			}
			return nil
		}}
	cmd.AddCommand(env)
	return cmd
}

// shellQuote quotes s for POSIX shells: single quotes, with embedded ones closed and escaped.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
