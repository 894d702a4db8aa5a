package testenv

import (
	"strings"
	"testing"
)

func TestSyncBufferLimitKeepsTheLatestLines(t *testing.T) {
	b := &syncBuffer{limit: 1000}
	for i := range 500 {
		line := strings.Repeat("x", 9) + "\n"
		if i == 499 {
			line = "last line\n"
		}
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	got := b.String()
	if len(got) > 1000 {
		t.Errorf("buffer holds %d bytes, limit 1000", len(got))
	}
	if !strings.HasSuffix(got, "last line\n") {
		t.Errorf("buffer does not end with the latest line: %q", got[max(0, len(got)-40):])
	}

	unbounded := &syncBuffer{}
	for range 500 {
		unbounded.Write([]byte("0123456789"))
	}
	if n := len(unbounded.String()); n != 5000 {
		t.Errorf("unbounded buffer holds %d bytes, want 5000", n)
	}
}
