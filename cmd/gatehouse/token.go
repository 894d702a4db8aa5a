package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/api/client"
)

// tokenFlags are the flags every token subcommand shares.
type tokenFlags struct {
	url     string
	pat     string
	project string
	group   string
}

// tokenCmd manages deploy tokens over the REST API.
func tokenCmd() *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{Use: "token", Short: "Manage deploy tokens over the API",
		Long: `Create, list and revoke the deploy tokens of a project or a group through the REST API.

The server URL comes from --url or GATEHOUSE_URL, and the personal access token (scope api; read_api
is enough to list) from --token or GATEHOUSE_TOKEN. Prefer the environment variable for the token:
command-line arguments are visible to other users of the machine.`}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", "", "Gatehouse server URL (env GATEHOUSE_URL)")
	pf.StringVar(&f.pat, "token", "", "personal access token (env GATEHOUSE_TOKEN)")
	pf.StringVar(&f.project, "project", "", "project id or full path (group/sub/project)")
	pf.StringVar(&f.group, "group", "", "group id or full path (group/sub)")
	cmd.AddCommand(tokenCreateCmd(f), tokenListCmd(f), tokenRevokeCmd(f))
	return cmd
}

// client builds the API client from the flags, falling back to the environment.
func (f *tokenFlags) client() (*client.Client, error) {
	u, pat := f.url, f.pat
	if u == "" {
		u = os.Getenv("GATEHOUSE_URL")
	}
	if pat == "" {
		pat = os.Getenv("GATEHOUSE_TOKEN")
	}
	if u == "" {
		return nil, errors.New("no server URL: pass --url or set GATEHOUSE_URL")
	}
	if pat == "" {
		return nil, errors.New("no personal access token: pass --token or set GATEHOUSE_TOKEN")
	}
	return client.New(u, pat)
}

// owner returns which of --project and --group was given; exactly one must be unless
// allowNeither (list across the instance).
func (f *tokenFlags) owner(allowNeither bool) (kind, ref string, err error) {
	switch {
	case f.project != "" && f.group != "":
		return "", "", errors.New("pass either --project or --group, not both")
	case f.project != "":
		return "project", f.project, nil
	case f.group != "":
		return "group", f.group, nil
	case allowNeither:
		return "", "", nil
	}
	return "", "", errors.New("pass --project <id or path> or --group <id or path>")
}

func tokenCreateCmd(f *tokenFlags) *cobra.Command {
	var name, scopes, expiresAt, username string
	cmd := &cobra.Command{Use: "create (--project P | --group G) --name NAME --scopes S1,S2",
		Short: "Create a deploy token and print its secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, ref, err := f.owner(false)
			if err != nil {
				return err
			}
			if strings.TrimSpace(name) == "" {
				return errors.New("--name is required")
			}
			list := splitList(scopes)
			if len(list) == 0 {
				return errors.New("--scopes is required (for example read_repository,read_registry)")
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			opts := client.CreateDeployTokenOptions{Name: name, Scopes: list, ExpiresAt: expiresAt, Username: username}
			var t *client.DeployToken
			var where string
			if kind == "project" {
				p, err := c.GetProject(cmd.Context(), ref)
				if err != nil {
					return err
				}
				where = "project " + p.PathWithNamespace
				t, err = c.CreateProjectDeployToken(cmd.Context(), strconv.FormatInt(p.ID, 10), opts)
				if err != nil {
					return err
				}
			} else {
				g, err := c.GetGroup(cmd.Context(), ref)
				if err != nil {
					return err
				}
				where = "group " + g.FullPath
				t, err = c.CreateGroupDeployToken(cmd.Context(), strconv.FormatInt(g.ID, 10), opts)
				if err != nil {
					return err
				}
			}
			if t.Token.IsZero() {
				return fmt.Errorf("the server created deploy token %d but returned no secret", t.ID)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created deploy token %d (%s) on %s.\n", t.ID, t.Name, where)
			fmt.Fprintf(out, "Username: %s\n", t.Username)
			fmt.Fprintf(out, "Token:    %s\n", t.Token.Reveal())
			fmt.Fprintf(out, "Scopes:   %s\n", strings.Join(t.Scopes, ","))
			fmt.Fprintf(out, "Expires:  %s\n", expiry(t))
			fmt.Fprintln(out, "Save the token now: it will not be shown again.")
			return nil
		}}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "token name (required; gitlab-deploy-token is handed to CI jobs)")
	fl.StringVar(&scopes, "scopes", "", "comma-separated scopes: read_repository, read_registry, write_registry, "+
		"read_virtual_registry, write_virtual_registry, read_package_registry, write_package_registry")
	fl.StringVar(&expiresAt, "expires-at", "", "expiry date YYYY-MM-DD (the token stops at 00:00 UTC that day); default never")
	fl.StringVar(&username, "username", "", "username (default gitlab+deploy-token-{id})")
	return cmd
}

func tokenListCmd(f *tokenFlags) *cobra.Command {
	var active bool
	cmd := &cobra.Command{Use: "list [--project P | --group G]",
		Short: "List deploy tokens (without --project or --group: every token; administrators only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, ref, err := f.owner(true)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			opts := client.ListDeployTokensOptions{Active: active}
			var list []client.DeployToken
			switch kind {
			case "project":
				list, err = c.ListProjectDeployTokens(cmd.Context(), ref, opts)
			case "group":
				list, err = c.ListGroupDeployTokens(cmd.Context(), ref, opts)
			default:
				list, err = c.ListAllDeployTokens(cmd.Context(), opts)
			}
			if err != nil {
				return err
			}
			return writeTable(cmd.OutOrStdout(), list)
		}}
	cmd.Flags().BoolVar(&active, "active", false, "only tokens that are neither revoked nor expired")
	return cmd
}

func tokenRevokeCmd(f *tokenFlags) *cobra.Command {
	return &cobra.Command{Use: "revoke (--project P | --group G) TOKEN_ID",
		Short: "Revoke a deploy token: it stops working at once and is removed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, ref, err := f.owner(false)
			if err != nil {
				return err
			}
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("token id %q is not a positive number", args[0])
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if kind == "project" {
				err = c.DeleteProjectDeployToken(cmd.Context(), ref, id)
			} else {
				err = c.DeleteGroupDeployToken(cmd.Context(), ref, id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked deploy token %d of %s %s.\n", id, kind, ref)
			return nil
		}}
}

// writeTable prints tokens as an aligned table.
func writeTable(w io.Writer, list []client.DeployToken) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tUSERNAME\tSCOPES\tEXPIRES\tREVOKED\tEXPIRED")
	for i := range list {
		t := &list[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Username, strings.Join(t.Scopes, ","),
			expiry(t), yesNo(t.Revoked), yesNo(t.Expired))
	}
	return tw.Flush()
}

func expiry(t *client.DeployToken) string {
	if t.ExpiresAt == nil {
		return "never"
	}
	return t.ExpiresAt.UTC().Format("2006-01-02")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
