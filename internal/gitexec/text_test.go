package gitexec

import (
	"bytes"
	"strings"
	"testing"
)

func TestLooksLikeText(t *testing.T) {
	euro := "€" // three bytes in UTF-8
	// A sequence cut by the 8 KiB sniff boundary is still text; invalid UTF-8 before it is not.
	cut := strings.Repeat("a", textSniffBytes-1) + euro
	for _, c := range []struct {
		name    string
		content []byte
		want    bool
	}{
		{"empty", nil, true},
		{"ascii", []byte("package main\n"), true},
		{"utf-8", []byte("grüße " + euro), true},
		{"nul", []byte("ab\x00cd"), false},
		{"invalid utf-8", []byte("ab\xffcd"), false},
		{"sequence cut at the boundary", []byte(cut), true},
		{"nul after the sniffed bytes", append(bytes.Repeat([]byte("a"), textSniffBytes), 0), true},
		{"invalid before the boundary", append([]byte("\xff"), bytes.Repeat([]byte("a"), textSniffBytes)...), false},
	} {
		if got := LooksLikeText(c.content); got != c.want {
			t.Errorf("%s: LooksLikeText = %v, want %v", c.name, got, c.want)
		}
	}
}
