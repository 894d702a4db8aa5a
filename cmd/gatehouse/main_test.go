package main

import (
	"os"
	"testing"
)

// runMainEnv, set in a child's environment, makes the test binary run main() with its
// arguments instead of the tests: a real gatehouse process without a separate build.
const runMainEnv = "RUN_GATEHOUSE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
