package maven

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzRenderMetadata: every listing SyncMetadata writes is one ParseMetadata accepts for the
// artifact, naming exactly the versions given, whatever valid versions they are.
func FuzzRenderMetadata(f *testing.F) {
	f.Add("com/example/app", "1.0,1.1-SNAPSHOT")
	f.Add("org/x/y-z", "2.0.0+build.1")
	f.Add("a/b", "1.0-SNAPSHOT")
	f.Fuzz(func(t *testing.T, name, list string) {
		if !strings.Contains(name, "/") || validateCoordinates(strings.Split(name, "/")) != nil {
			return
		}
		versions := strings.Split(list, ",")
		for _, v := range versions {
			if ValidateVersion(v) != nil {
				return
			}
		}
		rt := Route{Name: name, Version: MetadataVersion, File: MetadataFile}
		body, err := renderMetadata(rt.GroupID(), rt.ArtifactID(), versions, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		md, _, err := ParseMetadata(bytes.NewReader(body), rt, MaxMetadataSize)
		if err != nil {
			t.Fatalf("the rendered listing does not parse: %v\n%s", err, body)
		}
		if !slices.Equal(md.Versions, versions) || md.GroupID != rt.GroupID() || md.ArtifactID != rt.ArtifactID() {
			t.Fatalf("rendered %+v, want versions %q of %s", md, versions, name)
		}
	})
}

func TestRenderMetadataLatestAndRelease(t *testing.T) {
	for _, c := range []struct {
		versions        []string
		latest, release string
	}{
		{[]string{"1.0", "1.1"}, "1.1", "1.1"},
		{[]string{"1.0", "1.1-SNAPSHOT"}, "1.1-SNAPSHOT", "1.0"},
		{[]string{"2.0-SNAPSHOT"}, "2.0-SNAPSHOT", ""},
	} {
		body, err := renderMetadata("com.example", "app", c.versions, time.Date(2026, 12, 6, 6, 1, 2, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		s := string(body)
		release := "<release>" + c.release + "</release>"
		if c.release == "" {
			release = ""
		}
		if !strings.Contains(s, "<latest>"+c.latest+"</latest>") || (release != "") != strings.Contains(s, "<release>") ||
			!strings.Contains(s, release) || !strings.Contains(s, "<lastUpdated>20261206060102</lastUpdated>") ||
			!strings.HasPrefix(s, "<?xml") {
			t.Fatalf("%v rendered\n%s", c.versions, s)
		}
	}
}
