package testenv

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// StartMinio runs a real MinIO server for the test (testbin.StartMinio).
func StartMinio(tb testing.TB) (endpoint, accessKey, secretKey string) {
	tb.Helper()
	return testbin.StartMinio(tb)
}
