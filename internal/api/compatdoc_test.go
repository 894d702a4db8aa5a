package api_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/api"
)

// TestCompatibilityDocListsEveryRoute keeps docs/gitlab-compatibility.md true: its table of
// implemented endpoints has exactly one row per route of the API's route table, written GitLab's
// way (":id" for "{id}"), and names no route the table lacks.
func TestCompatibilityDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/gitlab-compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(GET|HEAD|POST|PUT|PATCH|DELETE) (/api/v4/[^` ]*)` \\|")
	documented := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]+" "+m[2]]++
	}
	param := regexp.MustCompile(`\{([a-z_]+)\.*\}`)
	var want []string
	for _, rt := range api.Routes() {
		if rt.Method == "" {
			continue // the catch-all
		}
		want = append(want, rt.Method+" "+param.ReplaceAllString(rt.Pattern, ":$1"))
	}
	var missing []string
	for _, w := range want {
		switch documented[w] {
		case 0:
			missing = append(missing, "| `"+w+"` |")
		case 1:
		default:
			t.Errorf("%s: %d rows in the doc, want one", w, documented[w])
		}
	}
	if len(missing) > 0 {
		t.Errorf("routes missing from docs/gitlab-compatibility.md's table:\n%s", strings.Join(missing, "\n"))
	}
	for d := range documented {
		if !slices.Contains(want, d) {
			t.Errorf("docs/gitlab-compatibility.md lists %s, which no route serves", d)
		}
	}
}
