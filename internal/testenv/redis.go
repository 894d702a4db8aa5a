package testenv

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// RedisURL is the Redis the tests use (GATEHOUSE_TEST_REDIS, or the machine's local one), after
// checking it answers PING; without it the test is skipped (failed under CI). Tests share its
// database, so each keeps its keys under a prefix of its own (RandomPrefix).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("GATEHOUSE_TEST_REDIS: %v", err)
	}
	c, err := net.DialTimeout("tcp", p.Host, 5*time.Second)
	if err != nil {
		Missing(tb, "redis at %s: %v", p.Host, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// An unauthenticated PING answers +PONG or -NOAUTH: either way a Redis listens.
	line := ""
	_, err = c.Write([]byte("PING\r\n"))
	if err == nil {
		line, err = bufio.NewReader(c).ReadString('\n')
	}
	if err != nil || (!strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH")) {
		Missing(tb, "redis at %s does not answer PING: %q %v", p.Host, line, err)
	}
	return u
}

// RandomPrefix returns a key prefix no other test uses.
func RandomPrefix() string { return "gatehouse-test:" + randomHex(8) + ":" }
