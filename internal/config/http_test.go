package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestHTTPSettings(t *testing.T) {
	t.Run("ok/defaults", func(t *testing.T) {
		c, err := config.Load(nil, env{}.get)
		if err != nil {
			t.Fatal(err)
		}
		if c.HTTP != config.DefaultHTTP() || c.HTTP.MaxConnsPerIP != 256 || !c.HTTP.ExemptLoopback || c.HTTP.ReadTimeout != time.Minute {
			t.Fatalf("http = %+v", c.HTTP)
		}
	})
	t.Run("ok/file then env", func(t *testing.T) {
		file := writeFile(t, "http:\n  read_timeout: 5s\n  write_timeout: 7s\n  max_conns_per_ip: 9\n")
		c, err := config.Load(nil, env{"GATEHOUSE_CONFIG": file, "GATEHOUSE_HTTP_WRITE_TIMEOUT": "11s",
			"GATEHOUSE_HTTP_IDLE_TIMEOUT": "13s", "GATEHOUSE_HTTP_READ_HEADER_TIMEOUT": "3s",
			"GATEHOUSE_HTTP_MAX_CONNS_PER_IP": "0", "GATEHOUSE_HTTP_EXEMPT_LOOPBACK": "false"}.get)
		if err != nil {
			t.Fatal(err)
		}
		want := config.HTTP{ReadHeaderTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 11 * time.Second,
			IdleTimeout: 13 * time.Second, MaxConnsPerIP: 0, ExemptLoopback: false}
		if c.HTTP != want {
			t.Fatalf("http = %+v, want %+v", c.HTTP, want)
		}
	})
	for _, c := range []struct{ name, key, value, want string }{
		{"fail/zero read timeout", "GATEHOUSE_HTTP_READ_TIMEOUT", "0s", "http.read_timeout"},
		{"fail/negative cap", "GATEHOUSE_HTTP_MAX_CONNS_PER_IP", "-1", "http.max_conns_per_ip"},
		{"fail/bad duration", "GATEHOUSE_HTTP_WRITE_TIMEOUT", "soon", "GATEHOUSE_HTTP_WRITE_TIMEOUT"},
		{"fail/bad bool", "GATEHOUSE_HTTP_EXEMPT_LOOPBACK", "maybe", "GATEHOUSE_HTTP_EXEMPT_LOOPBACK"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Load(nil, env{c.key: c.value}.get)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming %s", err, c.want)
			}
		})
	}
}
