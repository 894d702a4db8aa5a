package goproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// This file resolves module versions in a repository the way the go command does when it
// reads Git directly (cmd/go/internal/modfetch/coderepo.go), restricted to what a proxy needs:
//
//   - A module path is <base>[/<dir>][/vN], base being the instance host and project path. The
//     module's code lives in <dir> (the repository root when empty); for a /vN path either in
//     <dir>/vN (a "major subdirectory") or in <dir> itself (a "major branch"), whichever has a
//     go.mod declaring the module path.
//   - Its versions are the tags "<dir>/vX.Y.Z" ("vX.Y.Z" at the root) that are canonical
//     semantic versions with the path's major version: v0/v1 without a suffix, vN (N ≥ 2) with
//     /vN. A vN tag without a suffix is "vN.X.Y+incompatible" when the tag has no go.mod.
//   - A module in a subdirectory needs its own go.mod (otherwise the directory is a package of
//     the enclosing module); at the root a missing go.mod is synthesised as "module <path>".
//   - Pseudo-versions (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef) name commits; they are served when
//     the commit exists, its time matches and the base version's tag is an ancestor. @latest
//     falls back to a pseudo-version of HEAD when the module has no tagged version.

// maxListedTags bounds the tags examined for one @v/list (each may need a go.mod read).
const maxListedTags = 5000

// modulePath is a requested module path split against its project.
type modulePath struct {
	path      string // the module path
	codeDir   string // directory in the repository, "" for the root
	pathMajor string // "/vN" or ""
}

// splitModule checks that path belongs to the project whose module base is base
// (host/full/path) and splits it.
func splitModule(path, base string) (modulePath, bool) {
	if path != base && !strings.HasPrefix(path, base+"/") {
		return modulePath{}, false
	}
	prefix, pathMajor, ok := module.SplitPathVersion(path)
	if !ok || strings.HasPrefix(pathMajor, ".") {
		return modulePath{}, false
	}
	if len(prefix) < len(base) {
		// The project's own name looks like a major version (group/v2): no suffix.
		prefix, pathMajor = path, ""
	}
	codeDir := strings.TrimPrefix(strings.TrimPrefix(prefix, base), "/")
	return modulePath{path: path, codeDir: codeDir, pathMajor: pathMajor}, true
}

// tagPrefix is the prefix of the module's version tags.
func (m modulePath) tagPrefix() string {
	if m.codeDir == "" {
		return ""
	}
	return m.codeDir + "/"
}

// resolved is a module version found in the repository.
type resolved struct {
	Version string
	Commit  string
	Time    time.Time
	// Dir is the directory holding the module's files ("" for the root).
	Dir string
	// GoMod is the go.mod file (synthesised when the version has none).
	GoMod []byte
}

// session reads one module of one repository for one request.
type session struct {
	repo *repo
	objs *objects
	mod  modulePath
	// tagList caches the module's tags.
	tagList []tag
	tagsErr error
	listed  bool
}

func (r *repo) session(ctx context.Context, mod modulePath) (*session, error) {
	objs, err := r.objects(ctx)
	if err != nil {
		return nil, err
	}
	return &session{repo: r, objs: objs, mod: mod}, nil
}

func (s *session) Close() { s.objs.Close() }

func (s *session) tags(ctx context.Context) ([]tag, error) {
	if !s.listed {
		s.tagList, s.tagsErr = s.repo.tags(ctx, s.mod.tagPrefix())
		s.listed = true
	}
	return s.tagList, s.tagsErr
}

// goMod reads the go.mod in dir at commit: (nil, nil) when there is none. A go.mod above
// zip.MaxGoMod makes the version unusable, as it does for the go command.
func (s *session) goMod(commit, dir string) ([]byte, error) {
	data, err := s.objs.read(commit+":"+path.Join(dir, "go.mod"), "blob", zip.MaxGoMod)
	var tb *tooBigError
	switch {
	case errors.Is(err, errObjectMissing):
		return nil, nil
	case errors.As(err, &tb):
		return nil, fmt.Errorf("go.mod: %v: %w", tb, packages.ErrTooLarge)
	}
	return data, err
}

// locate finds the module's directory and go.mod at commit for version v (canonical, and
// valid for the module path: module.Check passed). packages.ErrNotFound when the commit does
// not hold this module.
func (s *session) locate(commit, v string) (dir string, gomod []byte, err error) {
	m := s.mod
	if m.pathMajor != "" {
		// A major subdirectory first, then the directory itself ("major branch").
		for _, d := range []string{path.Join(m.codeDir, m.pathMajor[1:]), m.codeDir} {
			gm, err := s.goMod(commit, d)
			if err != nil {
				return "", nil, err
			}
			if gm != nil && modfile.ModulePath(gm) == m.path {
				return d, gm, nil
			}
		}
		return "", nil, packages.ErrNotFound
	}
	gm, err := s.goMod(commit, m.codeDir)
	if err != nil {
		return "", nil, err
	}
	if strings.HasSuffix(v, "+incompatible") {
		// Only a version without go.mod may go beyond v1 without a suffix.
		if gm != nil {
			return "", nil, packages.ErrNotFound
		}
		return m.codeDir, synthGoMod(m.path), nil
	}
	switch {
	case gm != nil && modfile.ModulePath(gm) == m.path:
		return m.codeDir, gm, nil
	case gm == nil && m.codeDir == "":
		return "", synthGoMod(m.path), nil
	}
	return "", nil, packages.ErrNotFound
}

func synthGoMod(p string) []byte { return []byte("module " + modfile.AutoQuote(p) + "\n") }

// tagVersion maps a tag (without the module's prefix) to the version it gives this module,
// or "" when it gives none.
func (m modulePath) tagVersion(name string) string {
	if !semver.IsValid(name) || module.CanonicalVersion(name) != name || semver.Build(name) != "" ||
		module.IsPseudoVersion(name) {
		return ""
	}
	if module.CheckPathMajor(name, m.pathMajor) == nil {
		return name
	}
	if m.pathMajor == "" && semver.Compare(semver.Major(name), "v1") > 0 {
		return name + "+incompatible"
	}
	return ""
}

// list returns the module's tagged versions, in semantic-version order.
func (s *session) list(ctx context.Context) ([]resolved, error) {
	tags, err := s.tags(ctx)
	if err != nil {
		return nil, err
	}
	prefix := s.mod.tagPrefix()
	var out []resolved
	examined := 0
	for _, t := range tags {
		v := s.mod.tagVersion(strings.TrimPrefix(t.name, prefix))
		if v == "" {
			continue
		}
		if examined++; examined > maxListedTags {
			break
		}
		dir, gm, err := s.locate(t.commit, v)
		if errors.Is(err, packages.ErrNotFound) || errors.Is(err, packages.ErrTooLarge) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, resolved{Version: v, Commit: t.commit, Time: t.time, Dir: dir, GoMod: gm})
	}
	sortResolved(out)
	return out, nil
}

func sortResolved(rs []resolved) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && semver.Compare(rs[j-1].Version, rs[j].Version) > 0; j-- {
			rs[j-1], rs[j] = rs[j], rs[j-1]
		}
	}
}

// resolve finds version v (canonical and valid for the module path). packages.ErrNotFound
// when the repository does not have it.
func (s *session) resolve(ctx context.Context, v string) (*resolved, error) {
	if module.IsPseudoVersion(v) {
		return s.resolvePseudo(ctx, v)
	}
	tags, err := s.tags(ctx)
	if err != nil {
		return nil, err
	}
	name := s.mod.tagPrefix() + strings.TrimSuffix(v, "+incompatible")
	for _, t := range tags {
		if t.name != name {
			continue
		}
		if s.mod.tagVersion(strings.TrimPrefix(t.name, s.mod.tagPrefix())) != v {
			return nil, packages.ErrNotFound
		}
		dir, gm, err := s.locate(t.commit, v)
		if err != nil {
			return nil, err
		}
		return &resolved{Version: v, Commit: t.commit, Time: t.time, Dir: dir, GoMod: gm}, nil
	}
	return nil, packages.ErrNotFound
}

// resolvePseudo checks a pseudo-version as the go command does: the commit exists (its
// 12-digit prefix is unambiguous), its time is the version's, and the base version (if any)
// is a tag of this module that is an ancestor of the commit.
func (s *session) resolvePseudo(ctx context.Context, v string) (*resolved, error) {
	rev, err := module.PseudoVersionRev(v)
	if err != nil || len(rev) != 12 || !isHex(rev) {
		return nil, packages.ErrNotFound
	}
	want, err := module.PseudoVersionTime(v)
	if err != nil {
		return nil, packages.ErrNotFound
	}
	commit, t, err := s.objs.commitTime(rev + "^{commit}")
	if errors.Is(err, errObjectMissing) {
		return nil, packages.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(commit, rev) || !t.Equal(want) {
		return nil, packages.ErrNotFound
	}
	base, err := module.PseudoVersionBase(v)
	if err != nil {
		return nil, packages.ErrNotFound
	}
	if base != "" {
		if err := s.checkBase(ctx, base, commit); err != nil {
			return nil, err
		}
	}
	dir, gm, err := s.locate(commit, v)
	if err != nil {
		return nil, err
	}
	return &resolved{Version: v, Commit: commit, Time: t, Dir: dir, GoMod: gm}, nil
}

func (s *session) checkBase(ctx context.Context, base, commit string) error {
	tags, err := s.tags(ctx)
	if err != nil {
		return err
	}
	name := s.mod.tagPrefix() + strings.TrimSuffix(base, "+incompatible")
	for _, t := range tags {
		if t.name == name {
			ok, err := s.repo.isAncestor(ctx, t.commit, commit)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
	}
	return packages.ErrNotFound
}

// latest is the highest release version, else the highest pre-release, else a pseudo-version
// of HEAD when HEAD holds the module.
func (s *session) latest(ctx context.Context) (*resolved, error) {
	vs, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	var best *resolved
	for i := range vs {
		if best == nil || newer(vs[i].Version, best.Version) {
			best = &vs[i]
		}
	}
	if best != nil {
		return best, nil
	}
	commit, t, err := s.objs.commitTime("HEAD")
	if errors.Is(err, errObjectMissing) {
		return nil, packages.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	major := ""
	if s.mod.pathMajor != "" {
		major = s.mod.pathMajor[1:]
	}
	v := module.PseudoVersion(major, "", t, commit[:12])
	dir, gm, err := s.locate(commit, v)
	if err != nil {
		return nil, err
	}
	return &resolved{Version: v, Commit: commit, Time: t, Dir: dir, GoMod: gm}, nil
}

// newer orders versions for @latest: any release above any pre-release, then by semver.
func newer(a, b string) bool {
	if ra, rb := semver.Prerelease(a) == "", semver.Prerelease(b) == ""; ra != rb {
		return ra
	}
	return semver.Compare(a, b) > 0
}

// zipFiles lists the files of a resolved version for zip.Create: the module directory's
// blobs (symbolic links passed as such, so that zip leaves them out; submodules dropped), plus
// the repository root's LICENSE for a module in a subdirectory without one, as the go command
// does.
func (s *session) zipFiles(ctx context.Context, r *resolved) ([]zip.File, error) {
	entries, err := s.repo.tree(ctx, r.Commit, r.Dir)
	if err != nil {
		return nil, err
	}
	files := make([]zip.File, 0, len(entries)+1)
	haveLicense := false
	for _, e := range entries {
		if e.typ != "blob" {
			continue
		}
		files = append(files, &treeFile{objs: s.objs, entry: e})
		if e.path == "LICENSE" {
			haveLicense = true
		}
	}
	if r.Dir != "" && !haveLicense {
		oid, typ, size, err := s.objs.info(r.Commit + ":LICENSE")
		if err == nil && typ == "blob" {
			files = append(files, &treeFile{objs: s.objs, entry: treeEntry{mode: "100644", typ: typ, oid: oid, size: size, path: "LICENSE"}})
		} else if err != nil && !errors.Is(err, errObjectMissing) {
			return nil, err
		}
	}
	return files, nil
}

// writeZip checks the files against the Go module zip rules and limit (the total size of the
// files kept, before compression: a small repository can hold a huge, well-compressed blob),
// then writes the zip to w.
func (s *session) writeZip(ctx context.Context, w io.Writer, r *resolved, limit int64) error {
	files, err := s.zipFiles(ctx, r)
	if err != nil {
		return err
	}
	cf, err := zip.CheckFiles(files)
	if cf.SizeError != nil {
		return fmt.Errorf("module source tree: %v: %w", cf.SizeError, packages.ErrTooLarge)
	}
	if err != nil {
		return fmt.Errorf("module %s@%s: %v: %w", s.mod.path, r.Version, err, errBadModule)
	}
	valid := make(map[string]bool, len(cf.Valid))
	for _, p := range cf.Valid {
		valid[p] = true
	}
	var total int64
	for _, f := range files {
		tf := f.(*treeFile)
		if valid[tf.entry.path] {
			total += tf.entry.size
		}
	}
	if total > limit {
		return fmt.Errorf("module source tree of %d bytes exceeds the limit of %d bytes: %w", total, limit, packages.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return zip.Create(w, module.Version{Path: s.mod.path, Version: r.Version}, files)
}

// errBadModule is a version whose files break the module zip rules (for example two files
// whose names differ only in case).
var errBadModule = errors.New("module version cannot be zipped")

// treeFile is a zip.File backed by a blob.
type treeFile struct {
	objs  *objects
	entry treeEntry
}

func (f *treeFile) Path() string { return f.entry.path }

func (f *treeFile) Lstat() (fs.FileInfo, error) { return treeFileInfo{f.entry}, nil }

func (f *treeFile) Open() (io.ReadCloser, error) {
	rc, size, err := f.objs.open(f.entry.oid, "blob")
	if err != nil {
		return nil, err
	}
	if size != f.entry.size {
		rc.Close()
		return nil, fmt.Errorf("blob %s changed size", f.entry.oid)
	}
	return rc, nil
}

type treeFileInfo struct{ e treeEntry }

func (i treeFileInfo) Name() string { return path.Base(i.e.path) }
func (i treeFileInfo) Size() int64  { return i.e.size }
func (i treeFileInfo) Mode() fs.FileMode {
	switch i.e.mode {
	case "120000":
		return fs.ModeSymlink | 0o777
	case "100755":
		return 0o755
	case "100644":
		return 0o644
	}
	return fs.ModeIrregular
}
func (i treeFileInfo) ModTime() time.Time { return time.Time{} }
func (i treeFileInfo) IsDir() bool        { return false }
func (i treeFileInfo) Sys() any           { return nil }

var _ zip.File = (*treeFile)(nil)
var _ fs.FileInfo = treeFileInfo{}

// tempZip writes a zip to a temporary file in dir (os.TempDir when empty), so that errors come
// before the response starts and the answer has a Content-Length. The caller removes it.
func tempZip(dir string, write func(io.Writer) error, limit int64) (*os.File, error) {
	f, err := os.CreateTemp(dir, "gatehouse-goproxy-*.zip")
	if err != nil {
		return nil, err
	}
	lw := &limitWriter{w: f, n: limit}
	if err := write(lw); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// limitWriter fails once more than n bytes are written.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, fmt.Errorf("module zip exceeds %d bytes: %w", l.n, packages.ErrTooLarge)
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}
