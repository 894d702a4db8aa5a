package testbin

import (
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// serve starts cmd (a server the tests use), collecting its output, and waits up to timeout
// for ready. It stops the server when the test ends, or earlier through the stop it returns
// (which may be called any number of times); when it exits first or is not ready in time it is
// stopped and the error shows its output.
func serve(tb testing.TB, cmd *exec.Cmd, timeout time.Duration, ready func() bool) (stop func(), err error) {
	tb.Helper()
	name := cmd.Path
	dieWithParent(cmd)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	var exitErr error
	died := false
	ok := Eventually(timeout, func() bool {
		select {
		case exitErr = <-exited:
			died = true
			exited <- exitErr // for stop
			return true
		default:
		}
		return ready()
	})
	switch {
	case died:
		stop()
		return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", name, exitErr, out.String())
	case !ok:
		stop()
		return nil, fmt.Errorf("%s not ready after %v:\n%s", name, timeout, out.String())
	}
	tb.Cleanup(stop)
	return stop, nil
}
