package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

const s3Secret = "s3-secret-Zq8vT1"

func TestBlobStoreAndGC(t *testing.T) {
	file := writeFile(t, `
blob_store: s3
s3:
  endpoint: s3.example.com:9000
  bucket: blobs
  access_key: AKIAFILE
  secret_key: `+s3Secret+`
  region: eu-west-1
  use_tls: false
  prefix: gatehouse/
  redirect: true
gc:
  interval: 6h
  grace: 2h
  upload_ttl: 12h
`)
	t.Run("ok/file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		want := config.S3{Endpoint: "s3.example.com:9000", Bucket: "blobs", AccessKey: "AKIAFILE", SecretKey: s3Secret,
			Region: "eu-west-1", UseTLS: false, Prefix: "gatehouse/", Redirect: true}
		if c.BlobStore != "s3" || c.S3 != want {
			t.Fatalf("blob_store %q s3 %+v, want s3 %+v", c.BlobStore, c.S3, want)
		}
		if c.GC != (config.GC{Interval: 6 * time.Hour, Grace: 2 * time.Hour, UploadTTL: 12 * time.Hour}) {
			t.Fatalf("gc %+v", c.GC)
		}
	})
	t.Run("ok/env overrides file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file, "GATEHOUSE_S3_ENDPOINT": "minio:9000",
			"GATEHOUSE_S3_BUCKET": "b2", "GATEHOUSE_S3_ACCESS_KEY": "AKIAENV", "GATEHOUSE_S3_SECRET_KEY": "env-secret",
			"GATEHOUSE_S3_REGION": "us-east-1", "GATEHOUSE_S3_USE_TLS": "true", "GATEHOUSE_S3_PREFIX": "p/",
			"GATEHOUSE_S3_REDIRECT": "false", "GATEHOUSE_GC_INTERVAL": "0", "GATEHOUSE_GC_GRACE": "90m",
			"GATEHOUSE_GC_UPLOAD_TTL": "48h"})
		want := config.S3{Endpoint: "minio:9000", Bucket: "b2", AccessKey: "AKIAENV", SecretKey: "env-secret",
			Region: "us-east-1", UseTLS: true, Prefix: "p/", Redirect: false}
		if c.S3 != want || c.S3.SecretKey.Reveal() != "env-secret" {
			t.Fatalf("s3 %+v, want %+v", c.S3, want)
		}
		if c.GC != (config.GC{Interval: 0, Grace: 90 * time.Minute, UploadTTL: 48 * time.Hour}) {
			t.Fatalf("gc %+v (interval 0 disables the periodic job)", c.GC)
		}
	})
	t.Run("ok/env selects fs again", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file, "GATEHOUSE_BLOB_STORE": "fs"})
		if c.BlobStore != config.BlobStoreFS {
			t.Fatalf("blob_store %q", c.BlobStore)
		}
	})
	s3 := func(c *config.Config) {
		c.BlobStore = "s3"
		c.S3 = config.S3{Endpoint: "minio:9000", Bucket: "b", AccessKey: "a", SecretKey: s3Secret}
	}
	t.Run("ok/minimal s3 validates", func(t *testing.T) {
		c := mustLoad(t, nil, env{})
		s3(&c)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		field  string
	}{
		{"fail/unknown blob store", func(c *config.Config) { c.BlobStore = "gcs" }, "blob_store:"},
		{"fail/s3 without endpoint", func(c *config.Config) { s3(c); c.S3.Endpoint = "" }, "s3.endpoint:"},
		{"fail/s3 endpoint with a scheme", func(c *config.Config) { s3(c); c.S3.Endpoint = "https://s3.example.com" }, "s3.endpoint:"},
		{"fail/s3 without bucket", func(c *config.Config) { s3(c); c.S3.Bucket = "" }, "s3.bucket:"},
		{"fail/s3 without access key", func(c *config.Config) { s3(c); c.S3.AccessKey = "" }, "s3.access_key:"},
		{"fail/s3 without secret key", func(c *config.Config) { s3(c); c.S3.SecretKey = "" }, "s3.secret_key:"},
		{"fail/negative gc interval", func(c *config.Config) { c.GC.Interval = -time.Hour }, "gc.interval:"},
		{"fail/zero grace", func(c *config.Config) { c.GC.Grace = 0 }, "gc.grace:"},
		{"fail/zero upload ttl", func(c *config.Config) { c.GC.UploadTTL = 0 }, "gc.upload_ttl:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, nil, env{})
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
				t.Fatalf("error %v, want one naming %q", err, tc.field)
			}
			if strings.Contains(err.Error(), s3Secret) {
				t.Fatalf("error %q shows the secret key", err)
			}
		})
	}
	t.Run("fail/bad gc duration env", func(t *testing.T) {
		if _, err := config.Load(nil, env{"GATEHOUSE_GC_GRACE": "an hour"}.get); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_GC_GRACE") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestSecretNeverPrints: the S3 secret key does not show in any way a config is printed,
// encoded or logged.
func TestSecretNeverPrints(t *testing.T) {
	c := mustLoad(t, nil, env{"GATEHOUSE_BLOB_STORE": "s3", "GATEHOUSE_S3_ENDPOINT": "minio:9000",
		"GATEHOUSE_S3_BUCKET": "b", "GATEHOUSE_S3_ACCESS_KEY": "a", "GATEHOUSE_S3_SECRET_KEY": s3Secret})
	if c.S3.SecretKey.Reveal() != s3Secret {
		t.Fatal("Reveal does not return the secret")
	}
	var outputs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outputs = append(outputs, fmt.Sprintf(f, c), fmt.Sprintf(f, c.S3.SecretKey))
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("config", "s3", c.S3, "secret", c.S3.SecretKey, "cfg", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "s3", c.S3, "secret", c.S3.SecretKey)
	outputs = append(outputs, string(j), string(y), logs.String())
	for _, out := range outputs {
		if strings.Contains(out, s3Secret) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if !strings.Contains(string(j), "[REDACTED]") || !strings.Contains(logs.String(), "[REDACTED]") {
		t.Fatalf("no redaction marker in %s / %s", j, logs.String())
	}
}
