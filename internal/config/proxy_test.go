package config_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

const upstreamSecret = "upstream-secret-Hq3nW7"

func TestDependencyProxy(t *testing.T) {
	file := writeFile(t, `
dependency_proxy:
  upstream_url: https://mirror.example.com
  upstream_username: puller
  upstream_password: `+upstreamSecret+`
  tag_ttl: 6h
`)
	t.Run("ok/file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		want := config.DependencyProxy{UpstreamURL: "https://mirror.example.com", UpstreamUsername: "puller",
			UpstreamPassword: upstreamSecret, TagTTL: 6 * time.Hour}
		if c.DependencyProxy != want {
			t.Fatalf("dependency_proxy %+v, want %+v", c.DependencyProxy, want)
		}
	})
	t.Run("ok/env overrides file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file,
			"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_URL":      "http://127.0.0.1:5000/",
			"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_USERNAME": "env-user",
			"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_PASSWORD": "env-pass",
			"GATEHOUSE_DEPENDENCY_PROXY_TAG_TTL":           "30m"})
		want := config.DependencyProxy{UpstreamURL: "http://127.0.0.1:5000/", UpstreamUsername: "env-user",
			UpstreamPassword: "env-pass", TagTTL: 30 * time.Minute}
		if c.DependencyProxy != want || c.DependencyProxy.UpstreamPassword.Reveal() != "env-pass" {
			t.Fatalf("dependency_proxy %+v, want %+v", c.DependencyProxy, want)
		}
	})
	t.Run("ok/the upstream password never prints", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		js, _ := json.Marshal(c)
		for _, s := range []string{fmt.Sprintf("%v %+v %#v", c, c, c), string(js)} {
			if strings.Contains(s, upstreamSecret) {
				t.Fatalf("the upstream password printed itself: %s", s)
			}
		}
	})
	for name, e := range map[string]env{
		"fail/not http":               {"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_URL": "ftp://mirror.example.com"},
		"fail/credentials in the URL": {"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_URL": "https://u:" + upstreamSecret + "@mirror.example.com"},
		"fail/a path":                 {"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_URL": "https://mirror.example.com/v2"},
		"fail/a query":                {"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_URL": "https://mirror.example.com?x=1"},
		"fail/password alone":         {"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_PASSWORD": upstreamSecret},
		"fail/username alone":         {"GATEHOUSE_DEPENDENCY_PROXY_UPSTREAM_USERNAME": "puller"},
		"fail/negative TTL":           {"GATEHOUSE_DEPENDENCY_PROXY_TAG_TTL": "-1h"},
		"fail/bad TTL":                {"GATEHOUSE_DEPENDENCY_PROXY_TAG_TTL": "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load(nil, e.get)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			if !strings.Contains(err.Error(), "dependency_proxy") && !strings.Contains(err.Error(), "DEPENDENCY_PROXY") {
				t.Fatalf("error %q does not name the field", err)
			}
			if strings.Contains(err.Error(), upstreamSecret) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}
