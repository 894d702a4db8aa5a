package testenv

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	goToolMu    sync.Mutex
	goToolPaths = map[string]string{}
)

// GoTool returns the path of a client pinned in go.mod as a Go tool (crane, oras, regctl …),
// built once into the Go build cache by `go tool -n` and remembered for the test binary.
func GoTool(tb testing.TB, name string) string {
	tb.Helper()
	goToolMu.Lock()
	defer goToolMu.Unlock()
	if p, ok := goToolPaths[name]; ok {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("no caller information")
	}
	cmd := exec.Command(Binary(tb, "go"), "tool", "-n", name)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..") // the module root
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go tool -n %s: %v", name, err)
	}
	p := strings.TrimSpace(string(out))
	goToolPaths[name] = p
	return p
}
