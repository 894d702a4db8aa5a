package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/web"
)

// webConfigSettings are the instance settings the Admin area shows read-only (docs/design.md
// §6.9, "Admin area"): the failed-auth ban and the metrics allow-list are read from the configuration at
// start-up only.
func (s *Server) webConfigSettings() []web.ConfigSetting {
	c := s.Config
	ban := c.AuthBan
	return []web.ConfigSetting{
		{Key: "auth_ban.max_failures", Env: "GATEHOUSE_AUTH_BAN_MAX_FAILURES", Value: fmt.Sprint(ban.MaxFailures),
			Doc: "Failed authentications per client address and per identity before a ban"},
		{Key: "auth_ban.window", Env: "GATEHOUSE_AUTH_BAN_WINDOW", Value: ban.Window.String(), Doc: "Window the failures are counted in"},
		{Key: "auth_ban.duration", Env: "GATEHOUSE_AUTH_BAN_DURATION", Value: ban.Duration.String(), Doc: "How long a ban lasts"},
		{Key: "auth_ban.exempt_loopback", Env: "GATEHOUSE_AUTH_BAN_EXEMPT_LOOPBACK", Value: fmt.Sprint(ban.ExemptLoopback),
			Doc: "Loopback is never banned"},
		{Key: "auth_ban.allow_list", Env: "GATEHOUSE_AUTH_BAN_ALLOW_LIST", Value: listOrNone(ban.AllowList), Doc: "Addresses never banned"},
		{Key: "metrics.allow", Env: "GATEHOUSE_METRICS_ALLOW", Value: listOrNone(c.Metrics.Allow),
			Doc: "Addresses that may read /-/metrics without the token"},
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

// webSystemInfo is the Admin area's system information: version, database, blob store, uptime
// since started, and the last completed run of each scheduled job (their leases).
func (s *Server) webSystemInfo(started time.Time) func(ctx context.Context) (web.SystemInfo, error) {
	return func(ctx context.Context) (web.SystemInfo, error) {
		info := web.SystemInfo{Version: Version, Revision: Revision, Database: s.Store.Dialect(), StartedAt: started}
		q := "SELECT sqlite_version()"
		if info.Database == "postgres" {
			q = "SHOW server_version"
		}
		if err := s.Store.SQL().QueryRowContext(ctx, q).Scan(&info.DatabaseVersion); err != nil {
			return info, fmt.Errorf("database version: %w", err)
		}
		if s.Config.BlobStore == config.BlobStoreS3 {
			info.BlobStore, info.BlobLocation = "S3", s.Config.S3.Endpoint+"/"+s.Config.S3.Bucket
		} else {
			info.BlobStore, info.BlobLocation = "filesystem", filepath.Join(s.Config.DataDir, "blobs")
		}
		gcEvery := "off"
		if s.Config.GC.Interval > 0 {
			gcEvery = "every " + s.Config.GC.Interval.String()
		}
		jobs := []web.JobRun{
			{Name: notify.JobName, Schedule: "daily, 01:00 UTC", Doc: "Mails deploy tokens' expiry notices (POST /api/v4/admin/jobs/deploy-token-expiry/run runs it now)"},
			{Name: audit.RetentionJobName, Schedule: "daily, after " + notify.JobName, Doc: "Deletes audit events older than audit.retention"},
			{Name: gc.LeaseName, Schedule: gcEvery, Doc: "Collects unreferenced blobs and abandoned uploads"},
		}
		for i := range jobs {
			t, err := s.Store.Leases.LastRun(ctx, jobs[i].Name)
			if err != nil {
				return info, err
			}
			jobs[i].LastRun = t
		}
		info.Jobs = jobs
		return info, nil
	}
}
