//go:build race

package namespace_test

// raceEnabled: under the race detector sync.Pool drops items on purpose, so code that pools
// (regexp's matchers) allocates now and then, and allocation counts mean nothing.
const raceEnabled = true
