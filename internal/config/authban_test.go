package config_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestAllowPrefixes(t *testing.T) {
	t.Run("ok/CIDRs and bare IPs, spaces trimmed", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_AUTH_BAN_ALLOW_LIST": "10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,2001:db8::1"})
		got, err := c.AuthBan.AllowPrefixes()
		if err != nil {
			t.Fatal(err)
		}
		want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"),
			netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2001:db8::1/128")}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("prefixes %v, want %v", got, want)
		}
	})
	t.Run("ok/empty", func(t *testing.T) {
		if got, err := mustLoad(t, nil, env{}).AuthBan.AllowPrefixes(); err != nil || len(got) != 0 {
			t.Fatalf("prefixes %v, %v", got, err)
		}
	})
	for name, list := range map[string]string{"fail/a name": "10.0.0.0/8,intranet", "fail/an empty entry": "10.0.0.0/8,",
		"fail/bad prefix length": "10.0.0.0/33"} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load(nil, env{"GATEHOUSE_AUTH_BAN_ALLOW_LIST": list}.get)
			bad := list[strings.LastIndex(list, ",")+1:]
			if err == nil || !strings.HasPrefix(err.Error(), "auth_ban.allow_list:") || !strings.Contains(err.Error(), `"`+bad+`"`) {
				t.Fatalf("Load error %v, want one naming the entry %q", err, bad)
			}
		})
	}
}
