// Package secretscan finds Gatehouse credentials added by a push (docs/design.md §6.2.2): it
// reads the patch text `git log -p` writes for the pushed commits and reports each added line
// that holds something shaped like a deploy token or a personal access token, with its commit,
// file and line. Whether a candidate is live is the caller's question (the token services'); this
// package knows nothing of Git processes, HTTP or storage.
package secretscan

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// LogArgs are the arguments of the `git log` whose output Scan reads, before the commits: every
// commit's patch against its first parent with no context lines, no renames (a renamed file's
// lines count as added: its new path is what is reported), no colours, no external diff or
// text conversion, binary files as the one line git writes for them (they are not scanned, as
// GitLab's secret push protection does not scan them).
var LogArgs = []string{"log", "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
	"--diff-filter=AMCRT", "--format=commit %H"}

// candidate is a deploy token or personal access token as token.GenerateSecret makes them (a
// prefix and 32 base64url characters), also longer ones: a shorter run is not a secret.
var candidate = regexp.MustCompile(`(?:gldt|glpat)-[A-Za-z0-9_-]{20,}`)

// mayHold reports whether b contains a prefix of candidate: a test at memchr's speed that spares
// almost every line the regular expression (BenchmarkScan: 1.1 GB/s with it, 0.35 without).
func mayHold(b []byte) bool {
	return bytes.Contains(b, []byte("gldt-")) || bytes.Contains(b, []byte("glpat-"))
}

// Finding is one candidate on an added line.
type Finding struct {
	Commit string
	Path   string
	Line   int // 1-based, in the file as the commit has it
	Secret token.Secret
}

// ErrLimit is returned when more than the limit of patch text was read: the scan is incomplete.
var ErrLimit = errors.New("secretscan: the pushed changes exceed the scan limit")

// maxLine is the longest line scanned whole; a longer one (minified code, data) is scanned in
// pieces of this size, which may split a candidate at a piece's edge.
const maxLine = 1 << 20

// Scan reads patch text in LogArgs' format from r and calls found for each candidate on an added
// line, in order; found returning false ends the scan early. More than limit bytes of patch text
// is ErrLimit (the findings up to there are reported).
func Scan(r io.Reader, limit int64, found func(Finding) bool) error {
	br := bufio.NewReaderSize(&limitedReader{r: r, left: limit}, maxLine)
	var commit, path string
	line, inHunk := 0, false
	// cont is set while a line longer than the buffer is read in pieces; added says whether
	// that line is an added one, whose later pieces are scanned too.
	cont, added := false, false
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			piece := b
			switch {
			case cont:
				if !added {
					piece = nil
				}
			case bytes.HasPrefix(b, []byte("commit ")):
				commit, path, inHunk = strings.TrimSpace(string(b[len("commit "):])), "", false
				piece = nil
			case bytes.HasPrefix(b, []byte("diff --git ")):
				path, inHunk = "", false
				piece = nil
			case !inHunk && bytes.HasPrefix(b, []byte("+++ ")):
				path = patchPath(strings.TrimRight(string(b[len("+++ "):]), "\n"))
				piece = nil
			case bytes.HasPrefix(b, []byte("@@ ")):
				line, inHunk = hunkStart(b), true
				piece = nil
			case inHunk && b[0] == '+':
				added, piece = true, b[1:]
			default:
				added, piece = false, nil
			}
			if !mayHold(piece) {
				piece = nil
			}
			for _, m := range candidate.FindAll(piece, -1) {
				if !found(Finding{Commit: commit, Path: path, Line: line, Secret: token.NewSecret(string(m))}) {
					return nil
				}
			}
			cont = b[len(b)-1] != '\n'
			if !cont && added {
				line++
			}
			if !cont {
				added = false
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}

// hunkStart is the first new line of a hunk header "@@ -a,b +c,d @@", or 0 when malformed.
func hunkStart(b []byte) int {
	_, after, ok := bytes.Cut(b, []byte(" +"))
	if !ok {
		return 0
	}
	end := bytes.IndexAny(after, ", ")
	if end < 0 {
		return 0
	}
	n, err := strconv.Atoi(string(after[:end]))
	if err != nil {
		return 0
	}
	return n
}

// patchPath is the path of a "+++ " line: "b/<path>", or git's C-quoted "\"b/<path>\"" for a path
// with unusual bytes (shown as git quotes it: it is only named in a message).
func patchPath(s string) string {
	if uq, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		s = uq
	}
	return strings.TrimPrefix(s, "b/")
}

// limitedReader is io.LimitReader that reports ErrLimit instead of a silent EOF.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrLimit
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
