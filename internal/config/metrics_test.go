package config_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestMetricsSettings(t *testing.T) {
	t.Run("ok/loopback by default, no token", func(t *testing.T) {
		c := mustLoad(t, nil, env{})
		got, err := c.Metrics.AllowPrefixes()
		want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("prefixes %v, %v; want %v", got, err, want)
		}
		if c.Metrics.Token != "" {
			t.Fatal("a metrics token is set by default")
		}
	})
	t.Run("ok/environment, token never printed", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_METRICS_ALLOW": "10.1.0.0/16, 192.0.2.9", "GATEHOUSE_METRICS_TOKEN": "scrape-secret-1234"})
		got, err := c.Metrics.AllowPrefixes()
		want := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.0.2.9/32")}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("prefixes %v, %v; want %v", got, err, want)
		}
		if c.Metrics.Token.Reveal() != "scrape-secret-1234" {
			t.Fatal("GATEHOUSE_METRICS_TOKEN not read")
		}
		if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "scrape-secret-1234") {
			t.Fatal("the metrics token is printed")
		}
	})
	t.Run("ok/an empty list in the file leaves only the token", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": writeFile(t, "metrics:\n  allow: []\n  token: from-file-token\n")})
		if got, err := c.Metrics.AllowPrefixes(); err != nil || len(got) != 0 || c.Metrics.Token.Reveal() != "from-file-token" {
			t.Fatalf("prefixes %v, %v, token set %v", got, err, c.Metrics.Token != "")
		}
	})
	t.Run("fail/a bad entry is named", func(t *testing.T) {
		_, err := config.Load(nil, env{"GATEHOUSE_METRICS_ALLOW": "127.0.0.1,prometheus"}.get)
		if err == nil || !strings.HasPrefix(err.Error(), "metrics.allow:") || !strings.Contains(err.Error(), `"prometheus"`) {
			t.Fatalf("Load error %v, want one naming the entry", err)
		}
	})
}
