// Package testbin finds and runs the real programs tests need (client binaries, a MinIO
// server). It is the part of testenv that does not boot Gatehouse, so the tests of packages
// the server imports (blob/s3blob) can use it without an import cycle. Under CI=true a missing
// program fails the test instead of skipping it.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI, where nothing may be skipped for want of a part.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("CI=true and a required part is missing: "+format, args...)
	}
	tb.Skipf("skipping: "+format, args...)
}

// Binary returns the path of a real client on PATH or in Go's bin directory (where .ci/run
// installs Go-built servers such as minio), skipping (or failing in CI) without it.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := goBin(name); p != "" {
		return p
	}
	Missing(tb, "%s not installed (run .ci/run once to install test dependencies)", name)
	return ""
}

// goBin finds name in $GOBIN or $GOPATH/bin (default ~/go/bin).
func goBin(name string) string {
	dirs := []string{os.Getenv("GOBIN")}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gp)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
