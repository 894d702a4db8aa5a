package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// gcCmd runs garbage collection once.
func gcCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{Use: "gc", Short: "Delete unreferenced blobs and abandoned uploads once",
		Long: `Delete blobs that no repository, manifest (or other owner) references any more and that are
older than the grace period (gc.grace), and uploads untouched for longer than gc.upload_ttl.
Safe while servers run and pushes are in flight: one collection runs at a time across the
cluster (a lease in the database), and pushes that re-use a blob being deleted are fenced.
Servers also collect periodically (gc.interval).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := server.NewLogger(cmd.ErrOrStderr(), cfg.LogLevel)
			rep, err := server.CollectGarbage(cmd.Context(), cfg, log, dryRun)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if rep.Skipped {
				fmt.Fprintln(out, "another garbage collection is running; nothing done")
				return nil
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			for _, b := range rep.Deleted {
				fmt.Fprintf(out, "%s %s (%d bytes)\n", verb, b.Digest, b.Size)
			}
			fmt.Fprintf(out, "%s %d blob(s), %d bytes; %d referenced, %d stored, %d unreferenced kept (younger than %s), %d kept (referenced meanwhile), %d deferred\n",
				verb, len(rep.Deleted), rep.DeletedBytes, rep.Referenced, rep.Scanned, rep.KeptFresh, cfg.GC.Grace,
				rep.KeptReferenced, rep.Deferred)
			if dryRun {
				fmt.Fprintln(out, "abandoned uploads are not counted in a dry run")
			} else {
				fmt.Fprintf(out, "purged %d abandoned upload(s) (untouched for %s)\n", rep.UploadsPurged, cfg.GC.UploadTTL)
			}
			return nil
		}}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only print what would be deleted")
	config.Flags(cmd.Flags())
	return cmd
}
