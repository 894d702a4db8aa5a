package goproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
)

// This file reads a bare repository with the real git binary, as internal/git serves it: tags
// with their commits and commit times, objects (go.mod files, blobs) through one
// `git cat-file --batch-command` process per request, and trees through `git ls-tree`. Every
// read is bounded; object names come from git itself or are hexadecimal, and paths are module
// subdirectories (module.CheckPath's characters), so nothing a client sends reaches git as an
// option or a pathspec pattern.

// Bounds on what is read from git.
const (
	// maxRefListing bounds the output of for-each-ref (about 50,000 tags).
	maxRefListing = 8 << 20
	// maxTreeListing bounds the output of ls-tree for one module (about 200,000 files).
	maxTreeListing = 64 << 20
	// maxTreeEntries bounds the files of one module.
	maxTreeEntries = 200_000
	// maxCommitObject bounds a commit object read to find its committer time.
	maxCommitObject = 1 << 20
)

var errObjectMissing = errors.New("object missing")

// repo is one bare repository.
type repo struct {
	bin string
	dir string
}

// git runs git on the repository, through gitexec (the server's one way to run git).
func (r *repo) git() gitexec.Git {
	return gitexec.Git{Bin: r.bin, Dir: r.dir, Env: []string{"GIT_DIR=" + r.dir}}
}

// tag is a tag that points (directly or through an annotated tag) at a commit.
type tag struct {
	name   string // without refs/tags/
	commit string
	time   time.Time // the commit's committer time
}

// tags lists the tags under refs/tags/<prefix> (all tags when prefix is empty) that point at
// commits.
func (r *repo) tags(ctx context.Context, prefix string) ([]tag, error) {
	pattern := "refs/tags/"
	if prefix != "" {
		pattern += strings.TrimSuffix(prefix, "/")
	}
	const format = "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(committerdate:unix)" +
		"%00%(*objecttype)%00%(*objectname)%00%(*committerdate:unix)"
	out, err := r.git().Output(ctx, maxRefListing, "for-each-ref", format, "--", pattern)
	if err != nil {
		return nil, err
	}
	var tags []tag
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Split(line, "\x00")
		if len(f) != 7 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		typ, oid, ts := f[1], f[2], f[3]
		if typ == "tag" {
			typ, oid, ts = f[4], f[5], f[6]
		}
		if typ != "commit" {
			continue
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			continue
		}
		tags = append(tags, tag{name: f[0], commit: oid, time: time.Unix(sec, 0).UTC()})
	}
	return tags, nil
}

// isAncestor reports whether commit a is an ancestor of (or equal to) commit b.
func (r *repo) isAncestor(ctx context.Context, a, b string) (bool, error) {
	if !isHex(a) || !isHex(b) {
		return false, nil
	}
	err := r.git().Run(ctx, "merge-base", "--is-ancestor", a, b)
	switch {
	case err == nil:
		return true, nil
	case gitexec.ExitCode(err) == 1:
		return false, nil
	}
	return false, err
}

// treeEntry is one entry of a recursive tree listing.
type treeEntry struct {
	mode string // git's octal mode: 100644, 100755, 120000, 160000
	typ  string // blob or commit
	oid  string
	size int64  // -1 for submodules
	path string // relative to the listed directory
}

// tree lists the files below dir ("" for the root) at commit, recursively, with their sizes.
func (r *repo) tree(ctx context.Context, commit, dir string) ([]treeEntry, error) {
	if !isHex(commit) {
		return nil, errObjectMissing
	}
	args := []string{"ls-tree", "-r", "-l", "-z", "--full-tree", commit}
	if dir != "" {
		args = append(args, "--", dir)
	}
	out, err := r.git().Output(ctx, maxTreeListing, args...)
	if err != nil {
		return nil, err
	}
	var entries []treeEntry
	for rec := range strings.SplitSeq(string(out), "\x00") {
		if rec == "" {
			continue
		}
		meta, p, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			return nil, fmt.Errorf("git ls-tree: unexpected line")
		}
		if dir != "" {
			var under bool
			if p, under = strings.CutPrefix(p, dir+"/"); !under {
				continue
			}
		}
		size := int64(-1)
		if f[3] != "-" {
			if size, err = strconv.ParseInt(f[3], 10, 64); err != nil || size < 0 {
				return nil, fmt.Errorf("git ls-tree: unexpected size")
			}
		}
		if len(entries) == maxTreeEntries {
			return nil, fmt.Errorf("module has more than %d files: %w", maxTreeEntries, gitexec.ErrOutputTooLarge)
		}
		entries = append(entries, treeEntry{mode: f[0], typ: f[1], oid: f[2], size: size, path: p})
	}
	return entries, nil
}

// objects is a `git cat-file --batch-command` process: object lookups and reads on one pipe.
// It serves one goroutine at a time; a reader from open must be closed before the next call.
type objects struct {
	wait   func() error // the process's Wait
	cancel context.CancelFunc
	in     io.WriteCloser
	out    *bufio.Reader
	broken error
}

func (r *repo) objects(ctx context.Context) (*objects, error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := r.git().Command(ctx, "cat-file", "--batch-command")
	cmd.Stderr = io.Discard
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	return &objects{wait: cmd.Wait, cancel: cancel, in: in, out: bufio.NewReaderSize(out, 64<<10)}, nil
}

// Close stops the process.
func (o *objects) Close() {
	_ = o.in.Close()
	o.cancel()
	_ = o.wait()
}

// header sends one command and reads the object header it answers: "<oid> <type> <size>", or
// errObjectMissing for "<name> missing" / "<name> ambiguous".
func (o *objects) header(command, name string) (oid, typ string, size int64, err error) {
	if o.broken != nil {
		return "", "", 0, o.broken
	}
	if strings.ContainsAny(name, "\n\x00") {
		return "", "", 0, errObjectMissing
	}
	if _, err := io.WriteString(o.in, command+" "+name+"\n"); err != nil {
		o.broken = fmt.Errorf("git cat-file: %w", err)
		return "", "", 0, o.broken
	}
	line, err := o.out.ReadString('\n')
	if err != nil {
		o.broken = fmt.Errorf("git cat-file: %w", err)
		return "", "", 0, o.broken
	}
	f := strings.Fields(line)
	if len(f) == 2 && (f[1] == "missing" || f[1] == "ambiguous") {
		return "", "", 0, errObjectMissing
	}
	if len(f) != 3 {
		o.broken = fmt.Errorf("git cat-file: unexpected header")
		return "", "", 0, o.broken
	}
	size, err = strconv.ParseInt(f[2], 10, 64)
	if err != nil || size < 0 {
		o.broken = fmt.Errorf("git cat-file: unexpected size")
		return "", "", 0, o.broken
	}
	return f[0], f[1], size, nil
}

// info looks an object up by name (an object id or "<commit>:<path>").
func (o *objects) info(name string) (oid, typ string, size int64, err error) {
	return o.header("info", name)
}

// open streams an object's content; it must be closed (which reads what is left of it) before
// the next call. wantType guards against reading an object of another kind.
func (o *objects) open(name, wantType string) (io.ReadCloser, int64, error) {
	_, typ, size, err := o.header("contents", name)
	if err != nil {
		return nil, 0, err
	}
	body := &objectReader{o: o, r: io.LimitReader(o.out, size)}
	if typ != wantType {
		body.Close()
		return nil, 0, errObjectMissing
	}
	return body, size, nil
}

// read returns an object's content if it is of wantType and at most limit bytes (errTooBig
// otherwise, without reading it).
func (o *objects) read(name, wantType string, limit int64) ([]byte, error) {
	_, typ, size, err := o.info(name)
	if err != nil {
		return nil, err
	}
	if typ != wantType {
		return nil, errObjectMissing
	}
	if size > limit {
		return nil, &tooBigError{size: size, limit: limit}
	}
	rc, _, err := o.open(name, wantType)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// tooBigError is an object over a read's limit.
type tooBigError struct{ size, limit int64 }

func (e *tooBigError) Error() string {
	return fmt.Sprintf("file of %d bytes exceeds the limit of %d bytes", e.size, e.limit)
}

// objectReader is one object's content on the batch pipe.
type objectReader struct {
	o      *objects
	r      io.Reader
	closed bool
}

func (b *objectReader) Read(p []byte) (int, error) {
	if b.closed {
		return 0, os.ErrClosed
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.o.broken = fmt.Errorf("git cat-file: %w", err)
	}
	return n, err
}

// Close skips the rest of the content and the newline after it.
func (b *objectReader) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if _, err := io.Copy(io.Discard, b.r); err != nil {
		b.o.broken = fmt.Errorf("git cat-file: %w", err)
		return b.o.broken
	}
	if c, err := b.o.out.ReadByte(); err != nil || c != '\n' {
		b.o.broken = fmt.Errorf("git cat-file: missing object terminator")
		return b.o.broken
	}
	return nil
}

// commitTime reads a commit's committer time. name is an object id or a revision such as
// "<hex prefix>^{commit}" (errObjectMissing when it names no commit, or several).
func (o *objects) commitTime(name string) (oid string, t time.Time, err error) {
	oid, typ, _, err := o.info(name)
	if err != nil {
		return "", time.Time{}, err
	}
	if typ != "commit" {
		return "", time.Time{}, errObjectMissing
	}
	raw, err := o.read(oid, "commit", maxCommitObject)
	if err != nil {
		return "", time.Time{}, err
	}
	header, _, _ := strings.Cut(string(raw), "\n\n")
	for line := range strings.SplitSeq(header, "\n") {
		rest, ok := strings.CutPrefix(line, "committer ")
		if !ok {
			continue
		}
		// "Name <email> <unix seconds> <zone>"
		f := strings.Fields(rest[strings.LastIndexByte(rest, '>')+1:])
		if len(f) != 2 {
			break
		}
		sec, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return oid, time.Unix(sec, 0).UTC(), nil
	}
	return "", time.Time{}, fmt.Errorf("commit %s has no committer time", oid)
}

func isHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
