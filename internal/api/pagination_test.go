package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
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

// TestEveryListPaginates enumerates the route table: every GET route that answers a JSON array
// answers it through the one pagination helper, with GitLab's headers and per_page honoured,
// so a list added later is covered without being named here.
func TestEveryListPaginates(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository"}, nil)
	ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", f.GroupID), []string{"read_repository"}, nil)
	lists := 0
	for _, rt := range api.Routes() {
		if rt.Method != http.MethodGet {
			continue
		}
		path := strings.TrimPrefix(rt.Pattern, "/api/v4")
		switch {
		case strings.HasPrefix(path, "/projects/{id}"):
			path = strings.Replace(path, "{id}", strconv.FormatInt(top.ID, 10), 1)
		case strings.HasPrefix(path, "/groups/{id}"):
			path = strings.Replace(path, "{id}", strconv.FormatInt(f.GroupID, 10), 1)
		}
		path = strings.ReplaceAll(strings.ReplaceAll(path, "{id}", "1"), "{user_id}", "1")
		if strings.Contains(path, "{") {
			continue // needs an object the fixture does not make
		}
		r := asPAT(t, ts, ts.RootToken, "GET", path+"?per_page=1", nil)
		if r.status != http.StatusOK || !bytes.HasPrefix(bytes.TrimSpace(r.body), []byte("[")) {
			continue
		}
		lists++
		t.Run("ok/"+rt.Pattern, func(t *testing.T) {
			for _, h := range []string{"X-Page", "X-Per-Page", "X-Total", "X-Total-Pages", "Link"} {
				if r.header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if _, ok := r.header["X-Prev-Page"]; !ok {
				t.Errorf("no X-Prev-Page header")
			}
			var items []json.RawMessage
			r.json(t, &items)
			if len(items) > 1 || r.header.Get("X-Per-Page") != "1" {
				t.Errorf("per_page=1 gave %d items, X-Per-Page %q", len(items), r.header.Get("X-Per-Page"))
			}
		})
	}
	if lists < 10 {
		t.Fatalf("only %d list routes answered; the enumeration is not reaching the lists", lists)
	}
}
