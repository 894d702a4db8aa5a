package config_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestPackagesMaxFileSize(t *testing.T) {
	file := writeFile(t, `
packages:
  max_file_size:
    npm: 1048576
    generic: 2048
`)
	t.Run("ok/default is empty (formats keep their own defaults)", func(t *testing.T) {
		if c := mustLoad(t, nil, env{}); len(c.Packages.MaxFileSize) != 0 {
			t.Fatalf("default max_file_size = %v", c.Packages.MaxFileSize)
		}
	})
	t.Run("ok/file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file})
		if want := map[string]int64{"npm": 1 << 20, "generic": 2048}; !maps.Equal(c.Packages.MaxFileSize, want) {
			t.Fatalf("max_file_size = %v, want %v", c.Packages.MaxFileSize, want)
		}
	})
	t.Run("ok/env overrides file", func(t *testing.T) {
		c := mustLoad(t, nil, env{"GATEHOUSE_CONFIG": file, "GATEHOUSE_PACKAGES_MAX_FILE_SIZE": " npm = 10 ,pypi=20"})
		if want := map[string]int64{"npm": 10, "pypi": 20}; !maps.Equal(c.Packages.MaxFileSize, want) {
			t.Fatalf("max_file_size = %v, want %v", c.Packages.MaxFileSize, want)
		}
	})
	for name, e := range map[string]env{
		"fail/env not format=bytes": {"GATEHOUSE_PACKAGES_MAX_FILE_SIZE": "npm:10"},
		"fail/env not a number":     {"GATEHOUSE_PACKAGES_MAX_FILE_SIZE": "npm=10MiB"},
		"fail/zero size":            {"GATEHOUSE_PACKAGES_MAX_FILE_SIZE": "npm=0"},
		"fail/negative in file":     {"GATEHOUSE_CONFIG": writeFile(t, "packages:\n  max_file_size:\n    npm: -1\n")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load(nil, e.get)
			if err == nil || !strings.Contains(err.Error(), "MAX_FILE_SIZE") && !strings.Contains(err.Error(), "max_file_size") {
				t.Fatalf("err = %v, want a max_file_size error", err)
			}
		})
	}
}
