package testbin

import "time"

// Eventually calls done until it returns true or timeout has passed, and reports whether it did;
// the caller says what failed. It is for waiting on something real (a process starting, a
// background job, a connection slot): what a clock decides is tested by moving the injected
// clock, never by waiting. The pause between calls grows from 5ms to 100ms.
func Eventually(timeout time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
	return true
}
