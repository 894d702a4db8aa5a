package main

import (
	"regexp"
	"testing"
)

// TestMigrate: the command applies the migrations once; a second run finds none to apply.
func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	first := string(runGatehouse(t, "migrate", "--data-dir", dir))
	if !regexp.MustCompile(`^applied [1-9][0-9]* migration\(s\) to the sqlite database\n$`).MatchString(first) {
		t.Fatalf("first run printed %q", first)
	}
	if again := string(runGatehouse(t, "migrate", "--data-dir", dir)); again != "applied 0 migration(s) to the sqlite database\n" {
		t.Fatalf("second run printed %q", again)
	}
}
