package api_test

import (
	"strings"
	"testing"
)

// linkRels parses a Link header into rel → URL, failing on a malformed one.
func linkRels(tb testing.TB, link string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	if link == "" {
		return out
	}
	for _, part := range strings.Split(link, ", ") {
		target, rel, ok := strings.Cut(part, ">; rel=\"")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(rel, `"`) {
			tb.Fatalf("malformed Link %q", link)
		}
		out[strings.TrimSuffix(rel, `"`)] = strings.TrimPrefix(target, "<")
	}
	return out
}
