package main

import "github.com/spf13/cobra"

// tokenCmd manages deploy tokens over the REST API.
func tokenCmd() *cobra.Command {
	return &cobra.Command{Use: "token", Short: "Manage deploy tokens over the API"}
}
