package ocihttp

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

const (
	sha  = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sha5 = "sha512:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestParseReference(t *testing.T) {
	for _, s := range []string{"latest", "v1.2.3", "_x", "A-b_c.d", strings.Repeat("a", 128), sha, sha5} {
		if _, err := ParseReference(s); err != nil {
			t.Errorf("ok/%s: %v", s, err)
		}
	}
	for _, s := range []string{"", ".x", "-x", strings.Repeat("a", 129), "a/b", "sha256:abc", "SHA256:" + sha[7:], "a b"} {
		if _, err := ParseReference(s); err == nil {
			t.Errorf("fail/%q accepted", s)
		}
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"latest", "v1.0", sha, sha5, "sha256:baddigeststring", "", "-", "a:b:c", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			return
		}
		if (ref.Tag == "") == (ref.Digest == "") || ref.String() != s {
			t.Fatalf("ParseReference(%q) = %+v", s, ref)
		}
		if ref.Tag != "" && (len(ref.Tag) > oci.MaxTagLength || strings.ContainsAny(ref.Tag, ":/@ ")) {
			t.Fatalf("accepted tag %q", ref.Tag)
		}
	})
}

// Each kind's listed pattern is a path SplitPath parses as that kind, so the routes a protocol
// lists (Routes.Gated) are the paths its dispatcher serves.
func TestPatternParsesAsItsKind(t *testing.T) {
	fill := strings.NewReplacer("{reference}", "latest", "{digest}", sha, "{id}", "abc")
	for k := KindBase; k <= KindReferrers; k++ {
		p := fill.Replace(k.Pattern("group/top"))
		rt, err := SplitPath(p)
		if err != nil || rt.Kind != k || (k > KindCatalog && rt.Name != "group/top") {
			t.Errorf("%v: SplitPath(%q) = %+v, %v", k, p, rt, err)
		}
	}
}
