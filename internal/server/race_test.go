//go:build race

package server_test

// raceEnabled: under the race detector sync.Pool drops items on purpose, so code that pools
// allocates now and then, and allocation counts mean nothing.
const raceEnabled = true
