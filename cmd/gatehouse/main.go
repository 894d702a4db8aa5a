// Command gatehouse runs the Gatehouse server and talks to its API.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{Use: "gatehouse", Short: "Git, registry and package hosting guarded by deploy tokens",
		SilenceUsage: true}
	root.AddCommand(serveCmd(), migrateCmd(), versionCmd(), tokenCmd(), registryCmd(), ciCmd(), gcCmd())
	root.AddCommand(jobsCmd())
	return root
}

func loadConfig(cmd *cobra.Command) (config.Config, error) {
	return config.Load(cmd.Flags(), os.Getenv)
}

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "serve", Short: "Run the server (SQLite + local disk under ./data by default)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := server.New(ctx, cfg, server.Options{})
			if err != nil {
				return err
			}
			defer srv.Close()
			l, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return err
			}
			srv.Log.Info("listening", "addr", l.Addr().String(), "tls", cfg.TLS(), "external_url", cfg.ExternalURL,
				"database", srv.Store.Dialect(), "data_dir", cfg.DataDir, "version", server.Version)
			return srv.Serve(ctx, l)
		}}
	config.Flags(cmd.Flags())
	return cmd
}

func migrateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Apply database migrations and exit",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			n, dialect, err := server.Migrate(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s) to the %s database\n", n, dialect)
			return nil
		}}
	config.Flags(cmd.Flags())
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s (%s)\n", server.Version, server.Revision)
		}}
}
