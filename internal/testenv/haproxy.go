package testenv

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// StartHAProxy runs a real HAProxy in front of backends for the test (testbin.StartHAProxy).
func StartHAProxy(tb testing.TB, source string, backends ...string) string {
	tb.Helper()
	return testbin.StartHAProxy(tb, source, backends...)
}
