package secretscan

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

const live = "gldt-AbCdEfGhIjKlMnOpQrStUvWxYz012345"

// patch is `git log -p -U0` output of two commits: one adds a file with a token on its third
// line and changes another file (the token in a removed line and a context-free header that
// looks like an added line), one adds a binary file and a quoted path.
var patch = "commit 1111111111111111111111111111111111111111\n" +
	"\n" +
	"diff --git a/ci.env b/ci.env\n" +
	"new file mode 100644\n" +
	"index 0000000..e69de29\n" +
	"--- /dev/null\n" +
	"+++ b/ci.env\n" +
	"@@ -0,0 +1,3 @@\n" +
	"+A=1\n" +
	"+B=2\n" +
	"+TOKEN=" + live + "\n" +
	"diff --git a/old.txt b/old.txt\n" +
	"index 1..2 100644\n" +
	"--- a/old.txt\n" +
	"+++ b/old.txt\n" +
	"@@ -7 +7 @@\n" +
	"-glpat-RemovedRemovedRemovedRemoved00\n" +
	"++++ glpat-ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ\n" +
	"commit 2222222222222222222222222222222222222222\n" +
	"\n" +
	"diff --git a/bin.dat b/bin.dat\n" +
	"new file mode 100644\n" +
	"Binary files /dev/null and b/bin.dat differ\n" +
	"diff --git \"a/sp\\303\\251c.txt\" \"b/sp\\303\\251c.txt\"\n" +
	"--- /dev/null\n" +
	"+++ \"b/sp\\303\\251c.txt\"\n" +
	"@@ -0,0 +12,2 @@\n" +
	"+short gldt-tooShort\n" +
	"+x glpat-abcdefghijklmnopqrstuvwxyz012345 y\n"

func TestScanReportsAddedCandidates(t *testing.T) {
	var got []string
	err := Scan(strings.NewReader(patch), 1<<20, func(f Finding) bool {
		got = append(got, f.Commit[:4]+" "+f.Path+":"+itoa(f.Line)+" "+f.Secret.Reveal())
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1111 ci.env:3 " + live,
		"1111 old.txt:7 glpat-ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
		"2222 spéc.txt:13 glpat-abcdefghijklmnopqrstuvwxyz012345",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestScanStopsWhenAsked(t *testing.T) {
	n := 0
	if err := Scan(strings.NewReader(patch), 1<<20, func(Finding) bool { n++; return false }); err != nil || n != 1 {
		t.Fatalf("err %v after %d findings, want one", err, n)
	}
}

func TestScanLimit(t *testing.T) {
	n := 0
	err := Scan(strings.NewReader(patch), int64(strings.Index(patch, "commit 2222")), func(Finding) bool { n++; return true })
	if !errors.Is(err, ErrLimit) || n != 2 {
		t.Fatalf("err %v with %d findings, want ErrLimit after the first commit's 2", err, n)
	}
}

func TestScanLongLine(t *testing.T) {
	long := "commit 3333\ndiff --git a/x b/x\n+++ b/x\n@@ -0,0 +1,2 @@\n+" + strings.Repeat("a", maxLine+10) + " " + live + "\n+next\n"
	var got []Finding
	if err := Scan(strings.NewReader(long), 1<<30, func(f Finding) bool { got = append(got, f); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Line != 1 || got[0].Secret.Reveal() != live {
		t.Fatalf("long line: %+v", got)
	}
}

func FuzzScan(f *testing.F) {
	f.Add(patch)
	f.Add("@@ +\n+gldt-\n")
	f.Fuzz(func(t *testing.T, s string) {
		_ = Scan(strings.NewReader(s), int64(len(s)), func(fd Finding) bool {
			if !strings.HasPrefix(fd.Secret.Reveal(), "gldt-") && !strings.HasPrefix(fd.Secret.Reveal(), "glpat-") {
				t.Fatalf("finding without a token prefix: %q", fd.Secret.Reveal())
			}
			return true
		})
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkScan measures the scan of patch text without candidates (lines of base64), the
// common case of a large push.
func BenchmarkScan(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("commit 4444\ndiff --git a/x b/x\n+++ b/x\n@@ -0,0 +1,100000 @@\n")
	for i := range 100000 {
		sb.WriteString("+" + strings.Repeat(string(rune('A'+i%26)), 75) + "\n")
	}
	patch := sb.String()
	b.SetBytes(int64(len(patch)))
	for b.Loop() {
		if err := Scan(strings.NewReader(patch), 1<<30, func(Finding) bool { return true }); err != nil {
			b.Fatal(err)
		}
	}
}
