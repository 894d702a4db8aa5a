//go:build !unix

package testenv

import "time"

// CPUTime is unknown here: 0, so CPU-per-operation metrics read 0.
func CPUTime() time.Duration { return 0 }
