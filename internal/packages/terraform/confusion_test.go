package terraform_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestDependencyConfusion: a module name belongs to one project of its namespace. Someone who
// may publish only to group/top cannot upload a copy of group/sub/child's module (403, as
// GitLab); and a copy that got there anyway (stored behind the upload's back, or by a race) is
// never served in place of the genuine one: the namespace endpoints answer 409 naming both.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	genuine := archive(t, "genuine")
	if st, body := e.upload(t, "child", "core", "aws", "1.0.0", cred{"Private-Token": e.ts.RootToken}, genuine); st != 201 {
		t.Fatalf("upload: %d %s", st, body)
	}
	attacker := e.token(t, e.project("top"), rw...)
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")

	t.Run("fail/the upload of a copy to another project of the namespace", func(t *testing.T) {
		st, body := e.upload(t, "top", "core", "aws", "1.0.1", basic(attacker), archive(t, "planted"))
		if st != 403 || !strings.Contains(body, "another project of the namespace") || strings.Contains(body, "child") {
			t.Fatalf("planted upload: %d %s", st, body)
		}
	})
	t.Run("ok/another namespace may use the name", func(t *testing.T) {
		if st, body := e.upload(t, "sibling", "core", "aws", "9.0.0", cred{"Private-Token": e.ts.RootToken}, archive(t, "other")); st != 201 {
			t.Fatalf("upload in other/: %d %s", st, body)
		}
	})
	planted := archive(t, "planted")
	if _, err := e.ts.Server.Packages.AddFile(t.Context(), packages.Upload{ProjectID: e.f.Projects["top"].ID, Format: packages.Terraform,
		Name: "core/aws", Version: "1.0.1", Filename: "core-aws-1.0.1.tgz", Size: int64(len(planted)), Body: bytes.NewReader(planted)}); err != nil {
		t.Fatal(err)
	}
	t.Run("fail/two holders are a 409 naming them", func(t *testing.T) {
		for _, p := range []string{"/versions", "/download", "/1.0.1/download", "/1.0.0/download", "/1.0.1/file"} {
			st, _, body := e.do(t, http.MethodGet, e.module("group", "core", "aws")+p, bearer(reader.Token), nil)
			if st != http.StatusConflict || !strings.Contains(body, "group/sub/child") || !strings.Contains(body, "group/top") {
				t.Fatalf("GET %s: %d %s", p, st, body)
			}
		}
	})
	t.Run("ok/the other namespace still serves its own", func(t *testing.T) {
		if st, vs, body := e.versions(t, "other", "core", "aws", cred{"Private-Token": e.ts.RootToken}); st != 200 || strings.Join(vs, ",") != "9.0.0" {
			t.Fatalf("other/: %d %v %s", st, vs, body)
		}
	})
}
