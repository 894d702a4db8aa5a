package gitexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file reads a bare repository for the REST API (branches, tags, trees, blobs, archives).
// What a client sends reaches git only as checked data: a ref passes ValidRef and is resolved by
// `rev-parse --verify --end-of-options`, a path passes CleanPath and follows "--" (literal, as
// Env sets GIT_LITERAL_PATHSPECS), and everything else given to git is an object id git printed.

// ErrNotFound is a ref, commit, path or object that is not in the repository, or a malformed one
// (which no repository can hold).
var ErrNotFound = errors.New("not found in the repository")

// Bounds on what is read from git.
const (
	// maxRefListing bounds for-each-ref's output (branches or tags with their commits).
	maxRefListing = 32 << 20
	// maxTreeListing bounds ls-tree's output.
	maxTreeListing = 64 << 20
	// maxSmall bounds one-line answers (rev-parse, log -1, symbolic-ref).
	maxSmall = 64 << 10
	// maxRefLen bounds a ref name, as git's own limit on a path component set is far beyond what
	// a branch needs.
	maxRefLen = 1024
	// maxPathLen bounds a repository path (PATH_MAX).
	maxPathLen = 4096
	// readTimeout bounds every read but the streamed ones.
	readTimeout = 30 * time.Second
)

// Repo reads one bare repository.
type Repo struct {
	git Git
}

// Open returns the reader of the bare repository dir, run with the git binary bin ("" for
// DefaultBinary).
func Open(bin, dir string) Repo {
	return Repo{git: Git{Bin: bin, Dir: dir, Env: []string{"GIT_DIR=" + dir}, Timeout: readTimeout}}
}

// ValidRef reports whether ref may name a branch, a tag or a commit: git's ref-name rules
// (git-check-ref-format) plus no leading '-' (never an option) and no revision syntax (~ ^ : @{
// and the like), so a ref is a name, not an expression for git to evaluate.
func ValidRef(ref string) bool {
	if ref == "" || len(ref) > maxRefLen || ref[0] == '-' || ref == "@" {
		return false
	}
	if strings.Contains(ref, "..") || strings.Contains(ref, "@{") || strings.Contains(ref, "//") ||
		strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, "/") || strings.HasPrefix(ref, "/") {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return false
		}
	}
	for part := range strings.SplitSeq(ref, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	return true
}

// CleanPath returns p as a path inside a tree: without leading or trailing slashes, and ok false
// when it has an empty, "." or ".." segment, a NUL or a newline, or is too long. "" (the root)
// is ok.
func CleanPath(p string) (string, bool) {
	p = strings.Trim(p, "/")
	if len(p) > maxPathLen || strings.ContainsAny(p, "\x00\n") {
		return "", false
	}
	if p == "" {
		return "", true
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	return path.Clean(p), true
}

// notFound maps git's "no such object / ref / path" exits, and a repository that is not on
// disk (none was ever created, or it was just removed), to ErrNotFound.
func (r Repo) notFound(err error) error {
	if code := ExitCode(err); code == 1 || code == 128 || !r.Exists() {
		return fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	return err
}

// ResolveCommit returns the commit ref names (a branch, a tag, a full or abbreviated commit id),
// or ErrNotFound.
func (r Repo) ResolveCommit(ctx context.Context, ref string) (string, error) {
	if !ValidRef(ref) {
		return "", ErrNotFound
	}
	out, err := r.git.Output(ctx, maxSmall, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return "", r.notFound(err)
	}
	oid := strings.TrimSpace(string(out))
	if !isHex(oid) {
		return "", fmt.Errorf("git rev-parse: unexpected answer")
	}
	return oid, nil
}

// DefaultBranch is the branch HEAD names ("" when HEAD is detached or the repository is missing).
func (r Repo) DefaultBranch(ctx context.Context) string {
	out, err := r.git.Output(ctx, maxSmall, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Commit is a commit as the REST API shows it.
type Commit struct {
	ID             string
	ParentIDs      []string
	Title, Message string
	AuthorName     string
	AuthorEmail    string
	AuthoredDate   time.Time
	CommitterName  string
	CommitterEmail string
	CommittedDate  time.Time
}

// Ref is a branch or a tag with the commit it points at.
type Ref struct {
	Name   string // without refs/heads/ or refs/tags/
	Target string // the object the ref points at: the commit, or an annotated tag
	// Annotated tags only: the tag's message and date.
	Annotated  bool
	TagMessage string
	TagDate    time.Time
	Commit     Commit
}

// commitFields are for-each-ref's atoms of the commit a ref points at; peel prefixes them with
// "*" for an annotated tag's commit.
func commitFields(peel string) []string {
	var out []string
	for _, f := range []string{"objectname", "parent", "authorname", "authoremail:trim", "authordate:iso-strict",
		"committername", "committeremail:trim", "committerdate:iso-strict", "contents:subject", "contents"} {
		out = append(out, "%("+peel+f+")")
	}
	return out
}

// refSep ends each record of a listing: a byte no ref name, person or message in UTF-8 text holds.
const refSep = "\x1e\x1f"

// refs lists the refs under prefix (refs/heads/ or refs/tags/), sorted by name.
func (r Repo) refs(ctx context.Context, prefix string) ([]Ref, error) {
	fields := []string{"%(refname)", "%(objecttype)", "%(objectname)", "%(contents)", "%(creatordate:iso-strict)"}
	fields = append(fields, commitFields("")...)
	fields = append(fields, commitFields("*")...)
	format := strings.Join(fields, "%00") + "%1e%1f"
	out, err := r.git.Output(ctx, maxRefListing, "for-each-ref", "--sort=refname", "--format="+format, "--", prefix)
	if err != nil {
		if !r.Exists() { // no repository on disk lists nothing
			return nil, nil
		}
		return nil, err
	}
	var refs []Ref
	for rec := range strings.SplitSeq(string(out), refSep) {
		rec = strings.TrimPrefix(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "\x00")
		if len(f) != 25 {
			return nil, fmt.Errorf("git for-each-ref: unexpected record")
		}
		ref := Ref{Name: strings.TrimPrefix(f[0], prefix), Target: f[2]}
		c := f[5:15]
		switch f[1] {
		case "commit":
		case "tag":
			ref.Annotated, ref.TagMessage = true, f[3]
			ref.TagDate, _ = time.Parse(time.RFC3339, f[4])
			c = f[15:25]
			if c[0] == "" { // a tag of a tree or a blob: not listed, as GitLab
				continue
			}
		default:
			continue
		}
		ref.Commit = parseCommit(c)
		refs = append(refs, ref)
	}
	return refs, nil
}

func parseCommit(f []string) Commit {
	c := Commit{ID: f[0], AuthorName: f[2], AuthorEmail: f[3], CommitterName: f[5], CommitterEmail: f[6],
		Title: f[8], Message: f[9], ParentIDs: []string{}}
	if f[1] != "" {
		c.ParentIDs = strings.Fields(f[1])
	}
	c.AuthoredDate, _ = time.Parse(time.RFC3339, f[4])
	c.CommittedDate, _ = time.Parse(time.RFC3339, f[7])
	return c
}

// Branches lists the branches by name.
func (r Repo) Branches(ctx context.Context) ([]Ref, error) { return r.refs(ctx, "refs/heads/") }

// Tags lists the tags (of commits) by name.
func (r Repo) Tags(ctx context.Context) ([]Ref, error) { return r.refs(ctx, "refs/tags/") }

// lookup returns the one ref named name under prefix, or ErrNotFound.
func (r Repo) lookup(ctx context.Context, prefix, name string) (Ref, error) {
	if !ValidRef(name) {
		return Ref{}, ErrNotFound
	}
	refs, err := r.refs(ctx, prefix)
	if err != nil {
		return Ref{}, err
	}
	for _, ref := range refs {
		if ref.Name == name {
			return ref, nil
		}
	}
	return Ref{}, ErrNotFound
}

// Branch returns the branch name, or ErrNotFound.
func (r Repo) Branch(ctx context.Context, name string) (Ref, error) {
	return r.lookup(ctx, "refs/heads/", name)
}

// Tag returns the tag name, or ErrNotFound.
func (r Repo) Tag(ctx context.Context, name string) (Ref, error) {
	return r.lookup(ctx, "refs/tags/", name)
}

// TreeEntry is one entry of a tree listing.
type TreeEntry struct {
	ID   string
	Name string
	Type string // blob, tree or commit (a submodule)
	Path string // from the repository's root
	Mode string // git's octal mode, e.g. 100644
	Size int64  // blobs only; -1 otherwise
}

// Tree lists the directory dir (CleanPath's form, "" for the root) at commit, with every
// subdirectory's entries too when recursive. A dir that is not a directory is ErrNotFound; so is
// a commit with an empty root tree asked for its root.
func (r Repo) Tree(ctx context.Context, commit, dir string, recursive bool) ([]TreeEntry, error) {
	if !isHex(commit) {
		return nil, ErrNotFound
	}
	args := []string{"ls-tree", "-z", "--full-tree"}
	if recursive {
		args = append(args, "-r", "-t")
	}
	args = append(args, commit)
	if dir != "" {
		args = append(args, "--", dir+"/")
	}
	out, err := r.git.Output(ctx, maxTreeListing, args...)
	if err != nil {
		return nil, r.notFound(err)
	}
	entries, err := parseTree(out, false)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		// -t also lists the trees on the way to dir, dir itself included.
		entries = slices.DeleteFunc(entries, func(e TreeEntry) bool { return !strings.HasPrefix(e.Path, dir+"/") })
	}
	if len(entries) == 0 {
		return nil, ErrNotFound
	}
	return entries, nil
}

// parseTree parses `ls-tree -z` output (with sizes when long, -l).
func parseTree(out []byte, long bool) ([]TreeEntry, error) {
	var entries []TreeEntry
	for rec := range strings.SplitSeq(string(out), "\x00") {
		if rec == "" {
			continue
		}
		meta, p, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || (long && len(f) != 4) || (!long && len(f) != 3) {
			return nil, fmt.Errorf("git ls-tree: unexpected line")
		}
		e := TreeEntry{Mode: f[0], Type: f[1], ID: f[2], Path: p, Name: path.Base(p), Size: -1}
		if long && f[3] != "-" {
			n, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("git ls-tree: unexpected size")
			}
			e.Size = n
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Blob returns the entry of the file p (CleanPath's form) at commit: a blob (a regular file,
// an executable or a symbolic link), or ErrNotFound.
func (r Repo) Blob(ctx context.Context, commit, p string) (TreeEntry, error) {
	if !isHex(commit) || p == "" {
		return TreeEntry{}, ErrNotFound
	}
	out, err := r.git.Output(ctx, maxSmall, "ls-tree", "-z", "-l", "--full-tree", commit, "--", p)
	if err != nil {
		return TreeEntry{}, r.notFound(err)
	}
	entries, err := parseTree(out, true)
	if err != nil {
		return TreeEntry{}, err
	}
	for _, e := range entries {
		if e.Path == p && e.Type == "blob" {
			return e, nil
		}
	}
	return TreeEntry{}, ErrNotFound
}

// LastCommit returns the last commit, from commit back, that changed p.
func (r Repo) LastCommit(ctx context.Context, commit, p string) (string, error) {
	if !isHex(commit) {
		return "", ErrNotFound
	}
	out, err := r.git.Output(ctx, maxSmall, "log", "-1", "--format=%H", commit, "--", p)
	if err != nil {
		return "", r.notFound(err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ReadBlob returns the content of blob oid, at most limit bytes (ErrOutputTooLarge beyond).
func (r Repo) ReadBlob(ctx context.Context, oid string, limit int64) ([]byte, error) {
	if !isHex(oid) {
		return nil, ErrNotFound
	}
	out, err := r.git.Output(ctx, limit, "cat-file", "blob", oid)
	if err != nil {
		return nil, r.notFound(err)
	}
	return out, nil
}

// StreamBlob writes the content of blob oid to w; ctx bounds it.
func (r Repo) StreamBlob(ctx context.Context, oid string, w io.Writer) error {
	if !isHex(oid) {
		return ErrNotFound
	}
	return r.stream(ctx, w, "cat-file", "blob", oid)
}

// ArchiveFormats are the archive formats git writes, by GitLab's format names, with the
// configuration git needs for each (bzip2 is an external filter).
var ArchiveFormats = map[string][]string{
	"tar.gz":  {"--format=tar.gz"},
	"tgz":     {"--format=tar.gz"},
	"gz":      {"--format=tar.gz"},
	"tar.bz2": {"-c", "tar.tar.bz2.command=bzip2 -c", "--format=tar.bz2"},
	"tbz":     {"-c", "tar.tar.bz2.command=bzip2 -c", "--format=tar.bz2"},
	"tbz2":    {"-c", "tar.tar.bz2.command=bzip2 -c", "--format=tar.bz2"},
	"tb2":     {"-c", "tar.tar.bz2.command=bzip2 -c", "--format=tar.bz2"},
	"bz2":     {"-c", "tar.tar.bz2.command=bzip2 -c", "--format=tar.bz2"},
	"tar":     {"--format=tar"},
	"zip":     {"--format=zip"},
}

// Archive streams commit's tree (only dir's subtree when dir is not "") as format (a key of
// ArchiveFormats) to w, every entry under prefix/; ctx bounds it.
func (r Repo) Archive(ctx context.Context, w io.Writer, commit, format, prefix, dir string) error {
	opts, ok := ArchiveFormats[format]
	if !ok || !isHex(commit) || strings.ContainsAny(prefix, "\x00\n") {
		return ErrNotFound
	}
	// "-c" goes before the subcommand; the rest after it.
	var args []string
	if opts[0] == "-c" {
		args = append(args, opts[:2]...)
		opts = opts[2:]
	}
	args = append(args, "archive")
	args = append(args, opts...)
	args = append(args, "--prefix="+prefix+"/", commit)
	if dir != "" {
		args = append(args, "--", dir)
	}
	return r.stream(ctx, w, args...)
}

// stream runs git with its standard output going to w, until it ends or ctx does.
func (r Repo) stream(ctx context.Context, w io.Writer, args ...string) error {
	cmd := r.git.Command(ctx, args...)
	stderr := &Head{N: stderrHead}
	cmd.Stdout, cmd.Stderr = w, stderr
	if err := cmd.Run(); err != nil {
		name := args[0]
		if slices.Contains(args, "archive") {
			name = "archive"
		}
		return fmt.Errorf("git %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// isHex reports whether s is a (full or abbreviated) object id.
func isHex(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Exists reports whether the repository is on disk (a project's repository is created with
// the project; one that is missing reads as empty).
func (r Repo) Exists() bool {
	_, err := os.Stat(filepath.Join(r.git.Dir, "HEAD"))
	return err == nil
}

// Merged returns which branches are merged into commit (their tips are its ancestors).
func (r Repo) Merged(ctx context.Context, commit string) (map[string]bool, error) {
	if !isHex(commit) {
		return nil, ErrNotFound
	}
	out, err := r.git.Output(ctx, maxRefListing, "for-each-ref", "--format=%(refname:strip=2)", "--merged="+commit, "--", "refs/heads/")
	if err != nil {
		return nil, r.notFound(err)
	}
	merged := map[string]bool{}
	for name := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if name != "" {
			merged[name] = true
		}
	}
	return merged, nil
}

// textSniffBytes is how much of a blob decides whether it is text.
const textSniffBytes = 8 << 10

// LooksLikeText reports whether content is text as Git hosts show it: valid UTF-8 without NUL
// in its first 8 KiB (a UTF-8 sequence cut at that boundary does not count against it). Raw
// downloads are typed text/plain or application/octet-stream by it, and the UI highlights only
// text.
func LooksLikeText(content []byte) bool {
	head := content
	if len(head) > textSniffBytes {
		head = head[:textSniffBytes]
		for i := 0; i < utf8.UTFMax && len(head) > 0 && !utf8.Valid(head); i++ {
			head = head[:len(head)-1]
		}
	}
	return !bytes.Contains(head, []byte{0}) && utf8.Valid(head)
}
