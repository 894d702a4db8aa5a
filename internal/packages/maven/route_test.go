package maven

import (
	"bufio"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route maps to an access action and a handler; reads need ReadPackage,
// writes WritePackage; only the project level takes writes; nothing else is routed.
func TestRouteTable(t *testing.T) {
	want := map[level]map[string]access.Action{
		levelProject:  {http.MethodGet: access.ReadPackage, http.MethodHead: access.ReadPackage, http.MethodPut: access.WritePackage},
		levelGroup:    {http.MethodGet: access.ReadPackage, http.MethodHead: access.ReadPackage},
		levelInstance: {http.MethodGet: access.ReadPackage, http.MethodHead: access.ReadPackage},
	}
	if len(routes) != len(want) {
		t.Fatalf("routes has %d levels, want %d", len(routes), len(want))
	}
	for lv, methods := range routes {
		if len(methods) != len(want[lv]) {
			t.Errorf("%s: %d methods routed, want %d", lv, len(methods), len(want[lv]))
		}
		for m, ep := range methods {
			if ep.action == "" || ep.serve == nil {
				t.Errorf("%s %s: route without access action or handler", lv, m)
			}
			if ep.action != want[lv][m] {
				t.Errorf("%s %s needs %q, want %q", lv, m, ep.action, want[lv][m])
			}
		}
		for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPatch, "MKCOL", "PROPFIND"} {
			if _, ok := methods[m]; ok {
				t.Errorf("%s %s is routed", lv, m)
			}
		}
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/maven/"
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/release jar", p + "com/example/app/1.0/app-1.0.jar",
			Route{level: levelProject, Ref: "7", Name: "com/example/app", Version: "1.0", File: "app-1.0.jar"}, nil},
		{"ok/escaped project path", "/api/v4/projects/group%2Fsub%2Fchild/packages/maven/com/example/app/1.0/app-1.0.pom",
			Route{level: levelProject, Ref: "group/sub/child", Name: "com/example/app", Version: "1.0", File: "app-1.0.pom"}, nil},
		{"ok/timestamped snapshot with classifier", p + "org/acme/lib-core/2.1.0-SNAPSHOT/lib-core-2.1.0-20240101.120000-3-sources.jar",
			Route{level: levelProject, Ref: "7", Name: "org/acme/lib-core", Version: "2.1.0-SNAPSHOT", File: "lib-core-2.1.0-20240101.120000-3-sources.jar"}, nil},
		{"ok/sha1 of a jar", p + "com/example/app/1.0/app-1.0.jar.sha1",
			Route{level: levelProject, Ref: "7", Name: "com/example/app", Version: "1.0", File: "app-1.0.jar", Checksum: SHA1}, nil},
		{"ok/sha512 of a signature", p + "com/example/app/1.0/app-1.0.jar.asc.sha512",
			Route{level: levelProject, Ref: "7", Name: "com/example/app", Version: "1.0", File: "app-1.0.jar.asc", Checksum: SHA512}, nil},
		{"ok/artifact metadata", p + "com/example/app/maven-metadata.xml",
			Route{level: levelProject, Ref: "7", Name: "com/example/app", Version: MetadataVersion, File: MetadataFile}, nil},
		{"ok/artifact metadata md5", p + "com/example/app/maven-metadata.xml.md5",
			Route{level: levelProject, Ref: "7", Name: "com/example/app", Version: MetadataVersion, File: MetadataFile, Checksum: MD5}, nil},
		{"ok/snapshot metadata", p + "com/example/app/1.0-SNAPSHOT/maven-metadata.xml.sha256",
			Route{level: levelProject, Ref: "7", Name: "com/example/app", Version: "1.0-SNAPSHOT", File: MetadataFile, Checksum: SHA256}, nil},
		{"ok/metadata in a release directory is that directory's (GitLab's rule)", p + "com/example/app/1.0/maven-metadata.xml",
			Route{level: levelProject, Ref: "7", Name: "com/example/app/1.0", Version: MetadataVersion, File: MetadataFile}, nil},
		{"ok/group level", "/api/v4/groups/group%2Fsub/-/packages/maven/com/example/app/1.0/app-1.0.jar",
			Route{level: levelGroup, Ref: "group/sub", Name: "com/example/app", Version: "1.0", File: "app-1.0.jar"}, nil},
		{"ok/instance level", "/api/v4/packages/maven/com/example/app/1.0/app-1.0.jar.md5",
			Route{level: levelInstance, Name: "com/example/app", Version: "1.0", File: "app-1.0.jar", Checksum: MD5}, nil},
		{"ok/two-part groupId and plus in version", p + "a/b/c/1.0+build.5/c-1.0+build.5.jar",
			Route{level: levelProject, Ref: "7", Name: "a/b/c", Version: "1.0+build.5", File: "c-1.0+build.5.jar"}, nil},

		{"fail/too short", p + "app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/no file", p + "com/example", Route{}, packages.ErrNotFound},
		{"fail/empty file", p + "com/example/app/1.0/", Route{}, packages.ErrInvalid},
		{"fail/metadata of a bare groupId component", p + "com/maven-metadata.xml", Route{}, packages.ErrNotFound},
		{"fail/other format", "/api/v4/projects/7/packages/npm/com/example/app/1.0/app-1.0.jar", Route{}, packages.ErrNotFound},
		{"fail/group without dash", "/api/v4/groups/5/packages/maven/com/example/app/1.0/app-1.0.jar", Route{}, packages.ErrNotFound},
		{"fail/empty id", "/api/v4/projects//packages/maven/com/example/app/1.0/app-1.0.jar", Route{}, packages.ErrNotFound},
		{"fail/bad escape in id", "/api/v4/projects/%zz/packages/maven/com/example/app/1.0/app-1.0.jar", Route{}, packages.ErrNotFound},
		{"fail/file of another artifact", p + "com/example/app/1.0/other-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/groupId dot-dot", p + "com/../app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/groupId encoded dot-dot", p + "com/%2e%2e/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/groupId dot", p + "com/%2e/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/encoded slash", p + "com/a%2f..%2fb/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/backslash", p + "com/..%5cetc/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/NUL", p + "com/a%00b/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/newline", p + "com/ab/app/1.0%0a/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/space", p + "com/a%20b/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/empty component", p + "com//app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/version dot-dot", p + "com/example/app/1..0/app-1..0.jar", Route{}, packages.ErrInvalid},
		{"fail/version with at (the metadata marker)", p + "com/example/app/@maven-metadata/app-1.jar", Route{}, packages.ErrInvalid},
		{"fail/version tilde", p + "com/example/app/1~2/app-1.jar", Route{}, packages.ErrInvalid},
		{"fail/file encoded traversal", p + "com/example/app/1.0/app-..%2f..%2fsecret", Route{}, packages.ErrInvalid},
		{"fail/file dot-dot", p + "com/example/app/1.0/..", Route{}, packages.ErrInvalid},
		{"fail/file bad escape", p + "com/example/app/1.0/app-%g0", Route{}, packages.ErrInvalid},
		{"fail/file quote", p + "com/example/app/1.0/app-%22.jar", Route{}, packages.ErrInvalid},
		{"fail/bare checksum name", p + "com/example/app/1.0/.sha1", Route{}, packages.ErrInvalid},
		{"fail/absurd component", p + "com/" + strings.Repeat("a", 200) + "/app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/absurd version", p + "com/example/app/" + strings.Repeat("1", 300) + "/app-1.jar", Route{}, packages.ErrInvalid},
		{"fail/absurd name", p + strings.Repeat("abcdefghij/", 50) + "app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/too many components", p + strings.Repeat("a/", 70) + "app/1.0/app-1.0.jar", Route{}, packages.ErrInvalid},
		{"fail/absurd path", p + strings.Repeat("a/", 3000), Route{}, packages.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePath(c.path)
			if c.kind != nil {
				if !errors.Is(err, c.kind) {
					t.Fatalf("err = %v, want %v", err, c.kind)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParsePath = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestRouteCoordinates(t *testing.T) {
	rt, err := ParsePath("/api/v4/projects/7/packages/maven/com/example/app/1.0/app-1.0.jar")
	if err != nil {
		t.Fatal(err)
	}
	if rt.GroupID() != "com.example" || rt.ArtifactID() != "app" || rt.Path() != "com/example/app/1.0" {
		t.Fatalf("coordinates of %+v: %s %s %s", rt, rt.GroupID(), rt.ArtifactID(), rt.Path())
	}
	md, err := ParsePath("/api/v4/projects/7/packages/maven/com/example/app/maven-metadata.xml")
	if err != nil || md.Path() != "com/example/app" || !md.Metadata() {
		t.Fatalf("metadata route %+v, %v", md, err)
	}
}

func TestParseChecksum(t *testing.T) {
	sha1 := "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	for body, want := range map[string]string{
		sha1:                            sha1,
		strings.ToUpper(sha1) + "\n":    sha1,
		sha1 + "  app-1.0.jar\n":        sha1,
		"\r\n  " + sha1 + " *app.jar\n": sha1,
	} {
		if got, err := ParseChecksum(strings.NewReader(body), SHA1); err != nil || got != want {
			t.Errorf("%q: %q, %v", body, got, err)
		}
	}
	for name, body := range map[string]string{
		"empty":       "",
		"blank":       " \n",
		"not hex":     strings.Repeat("z", 40),
		"md5 as sha1": "d41d8cd98f00b204e9800998ecf8427e",
		"too long":    sha1 + strings.Repeat(" ", MaxChecksumBody),
	} {
		if _, err := ParseChecksum(strings.NewReader(body), SHA1); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func mustRoute(t testing.TB, p string) Route {
	t.Helper()
	rt, err := ParsePath("/api/v4/projects/7/packages/maven/" + p)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestParseMetadata(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	snapshot := read("snapshot-maven-metadata-mvn387.xml")
	artifact := read("artifact-maven-metadata-mvn387.xml")
	t.Run("ok/mvn's snapshot metadata", func(t *testing.T) {
		md, b, err := ParseMetadata(strings.NewReader(snapshot), mustRoute(t, "com/example/hello/1.0-SNAPSHOT/maven-metadata.xml"), MaxMetadataSize)
		if err != nil || md.GroupID != "com.example" || md.ArtifactID != "hello" || md.Version != "1.0-SNAPSHOT" || string(b) != snapshot {
			t.Fatalf("%+v, %v", md, err)
		}
	})
	t.Run("ok/mvn's artifact metadata", func(t *testing.T) {
		md, _, err := ParseMetadata(strings.NewReader(artifact), mustRoute(t, "com/example/hello/maven-metadata.xml"), MaxMetadataSize)
		if err != nil || len(md.Versions) != 1 || md.Versions[0] != "1.0-SNAPSHOT" {
			t.Fatalf("%+v, %v", md, err)
		}
	})
	t.Run("ok/plugin group metadata names no artifact", func(t *testing.T) {
		doc := `<metadata><plugins><plugin><name>x</name><prefix>x</prefix><artifactId>x-maven-plugin</artifactId></plugin></plugins></metadata>`
		if _, _, err := ParseMetadata(strings.NewReader(doc), mustRoute(t, "org/acme/maven-metadata.xml"), MaxMetadataSize); err != nil {
			t.Fatal(err)
		}
	})
	for name, c := range map[string]struct{ doc, path string }{
		"another artifact":   {artifact, "com/example/other/maven-metadata.xml"},
		"another groupId":    {artifact, "org/example/hello/maven-metadata.xml"},
		"another version":    {snapshot, "com/example/hello/2.0-SNAPSHOT/maven-metadata.xml"},
		"not XML":            {"{}", "com/example/hello/maven-metadata.xml"},
		"another root":       {"<project/>", "com/example/hello/maven-metadata.xml"},
		"truncated":          {snapshot[:len(snapshot)/2], "com/example/hello/1.0-SNAPSHOT/maven-metadata.xml"},
		"foreign charset":    {`<?xml version="1.0" encoding="ISO-8859-1"?><metadata/>`, "com/example/hello/maven-metadata.xml"},
		"entity nonsense":    {`<!DOCTYPE m [<!ENTITY a "aaaa">]><metadata><groupId>&a;</groupId></metadata>`, "com/example/hello/maven-metadata.xml"},
		"two roots (second)": {`<metadata/><project/>`, "com/example/hello/maven-metadata.xml"},
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			_, _, err := ParseMetadata(strings.NewReader(c.doc), mustRoute(t, c.path), MaxMetadataSize)
			if name == "two roots (second)" {
				// Decode reads the first element only; trailing junk is stored as sent. Only the
				// first document is what Maven reads.
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("fail/too large", func(t *testing.T) {
		doc := "<metadata>" + strings.Repeat(" ", 2000) + "</metadata>"
		if _, _, err := ParseMetadata(strings.NewReader(doc), mustRoute(t, "com/example/hello/maven-metadata.xml"), 1000); !errors.Is(err, packages.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

// deploySeeds are the requests a real `mvn deploy` (Maven 3.8.7) sent, captured once.
func deploySeeds(f *testing.F) []string {
	fh, err := os.Open("testdata/deploy-requests-mvn387.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if _, p, ok := strings.Cut(sc.Text(), " "); ok {
			out = append(out, p)
		}
	}
	return out
}

func FuzzParseMavenPath(f *testing.F) {
	for _, s := range deploySeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{
		"/api/v4/groups/group%2Fsub/-/packages/maven/com/example/app/1.0/app-1.0.jar.sha1",
		"/api/v4/packages/maven/com/example/app/maven-metadata.xml.sha512",
		"/api/v4/projects/7/packages/maven/com/%2e%2e/app/1.0/app-1.0.jar",
		"/api/v4/projects/7/packages/maven/com/example/app/1.0/app-..%2f..%2fetc%2fpasswd",
		"/api/v4/projects/7/packages/maven/a%00/b/1/b-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		// Whatever parses is safe for the core.
		if packages.ValidateName(rt.Name) != nil || packages.ValidateVersion(rt.Version) != nil || packages.ValidateFilename(rt.File) != nil {
			t.Fatalf("parsed %+v fails the core's validation", rt)
		}
		for _, s := range append(strings.Split(rt.Name, "/"), rt.Version, rt.File) {
			if s == "" || strings.ContainsAny(s, "/\\\x00") || s == "." || s == ".." {
				t.Fatalf("unsafe component %q in %+v", s, rt)
			}
		}
		if rt.level == levelInstance && rt.Ref != "" || rt.level != levelInstance && rt.Ref == "" {
			t.Fatalf("ref %q at level %s", rt.Ref, rt.level)
		}
		// It round-trips.
		file := rt.File
		if rt.Checksum != NoChecksum {
			file += "." + string(rt.Checksum)
		}
		var prefix string
		switch rt.level {
		case levelProject:
			prefix = "/api/v4/projects/" + url.PathEscape(rt.Ref) + "/packages/maven/"
		case levelGroup:
			prefix = "/api/v4/groups/" + url.PathEscape(rt.Ref) + "/-/packages/maven/"
		default:
			prefix = "/api/v4/packages/maven/"
		}
		again, err := ParsePath(prefix + rt.Path() + "/" + file)
		if err != nil || again != rt {
			t.Fatalf("round trip of %+v: %+v, %v", rt, again, err)
		}
	})
}

func FuzzParseMavenMetadata(f *testing.F) {
	for _, name := range []string{"snapshot-maven-metadata-mvn387.xml", "artifact-maven-metadata-mvn387.xml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`<metadata><plugins/></metadata>`)
	rts := []Route{mustRoute(f, "com/example/hello/maven-metadata.xml"), mustRoute(f, "com/example/hello/1.0-SNAPSHOT/maven-metadata.xml")}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, rt := range rts {
			md, b, err := ParseMetadata(strings.NewReader(doc), rt, 1<<16)
			if err != nil {
				if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
					t.Fatalf("error of an unknown kind: %v", err)
				}
				continue
			}
			if string(b) != doc {
				t.Fatal("the stored document differs from the upload")
			}
			if (md.GroupID != "" && md.GroupID != rt.GroupID()) || (md.ArtifactID != "" && md.ArtifactID != rt.ArtifactID()) {
				t.Fatalf("accepted %+v for %s", md, rt.Path())
			}
		}
	})
}
