package debian

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// BuildAr returns an ar archive of the members (name, content), as dpkg-deb writes one.
func BuildAr(tb testing.TB, members ...[2]string) []byte {
	tb.Helper()
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m[0], 0, 0, 0, "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func tarGz(tb testing.TB, files map[string]string) string {
	tb.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// BuildDeb returns a binary package (control.tar.gz, data.tar.gz) of name, version and arch.
// extra adds control fields; its "@extra" key is appended to the control file as written, "@pad"
// adds a file of that content to control.tar, and "@data" is the one data file's content.
func BuildDeb(tb testing.TB, name, version, arch string, extra map[string]string) []byte {
	tb.Helper()
	var c strings.Builder
	fmt.Fprintf(&c, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Gatehouse Tests <tests@example.com>\n", name, version, arch)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "@") {
			fmt.Fprintf(&c, "%s: %s\n", k, extra[k])
		}
	}
	c.WriteString("Description: a package for Gatehouse's Debian tests\n It holds one text file.\n")
	c.WriteString(extra["@extra"])
	control := map[string]string{"./control": c.String()}
	if pad, ok := extra["@pad"]; ok {
		control["./0pad"] = pad // before ./control in the tar
	}
	data := extra["@data"]
	if data == "" {
		data = "hello from " + name + " " + version + "\n"
	}
	return BuildAr(tb, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.gz", tarGz(tb, control)},
		[2]string{"data.tar.gz", tarGz(tb, map[string]string{"./usr/share/doc/" + name + "/hello.txt": data})})
}
