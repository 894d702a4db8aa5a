package web

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// The read-only repository browser (docs/design.md §6.9.1). It reads the project's bare
// repository with gitexec, the code the REST repository API uses: refs and paths reach git only
// after gitexec.ValidRef and gitexec.CleanPath. serveRaw and serveArchive take the project, not
// the session, so another authentication (a deploy token) can reuse them.

// Bounds on what a file page shows.
const (
	// maxShownFile is the largest file shown on its page; a larger one links to raw.
	maxShownFile = 1 << 20
	// maxHighlighted is the largest file highlighted; a larger shown one is plain text.
	maxHighlighted = 256 << 10
	// browserStreamTimeout bounds a raw file or an archive being streamed.
	browserStreamTimeout = 10 * time.Minute
)

// refSet is a repository's branches and tags, for the ref selector and to split a path.
type refSet struct {
	Branches []string
	Tags     []string
	byName   map[string]gitexec.Ref
}

// repoOf opens project p's repository.
func (h *Handler) repoOf(p *namespace.Project) gitexec.Repo {
	return gitexec.Open(h.cfg.GitBin, h.cfg.Repos.Dir(p.ID))
}

func loadRefs(ctx context.Context, repo gitexec.Repo) (*refSet, error) {
	branches, err := repo.Branches(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		return nil, err
	}
	rs := &refSet{byName: map[string]gitexec.Ref{}}
	// A tag of a branch's name is shadowed here, as "git rev-parse" prefers the tag: the
	// branch is what the GitLab UI means by that name.
	for _, t := range tags {
		rs.Tags = append(rs.Tags, t.Name)
		rs.byName[t.Name] = t
	}
	for _, b := range branches {
		rs.Branches = append(rs.Branches, b.Name)
		rs.byName[b.Name] = b
	}
	return rs, nil
}

// resolved is a browser path split into ref and path, with the commit the ref names.
type resolved struct {
	Ref    string
	Commit string
	Path   string
	// Last is the ref's commit when the ref is a branch or a tag (nil for a commit id).
	Last *gitexec.Commit
	refs *refSet
}

// resolveRefPath splits rest ("<ref>[/<path>]") the way GitLab does: the longest leading run of
// segments that names a branch or tag is the ref; otherwise the first segment is a commit id
// (or any revision git resolves). A ref or path that is not in the repository is 404.
func (h *Handler) resolveRefPath(ctx context.Context, repo gitexec.Repo, rest string) (*resolved, error) {
	refs, err := loadRefs(ctx, repo)
	if err != nil {
		return nil, notFoundGit(err)
	}
	segs := strings.Split(rest, "/")
	for i := len(segs); i >= 1; i-- {
		name := strings.Join(segs[:i], "/")
		if ref, ok := refs.byName[name]; ok {
			p, ok := gitexec.CleanPath(strings.Join(segs[i:], "/"))
			if !ok {
				return nil, errNotFound
			}
			c := ref.Commit
			return &resolved{Ref: name, Commit: c.ID, Path: p, Last: &c, refs: refs}, nil
		}
	}
	commit, err := repo.ResolveCommit(ctx, segs[0])
	if err != nil {
		return nil, notFoundGit(err)
	}
	p, ok := gitexec.CleanPath(strings.Join(segs[1:], "/"))
	if !ok {
		return nil, errNotFound
	}
	return &resolved{Ref: segs[0], Commit: commit, Path: p, refs: refs}, nil
}

// notFoundGit maps gitexec's "not in the repository" to 404; other errors pass.
func notFoundGit(err error) error {
	if errors.Is(err, gitexec.ErrNotFound) {
		return errNotFound
	}
	return err
}

// treeRow is one entry of a tree page.
type treeRow struct {
	Name string
	Href string
	Kind string // "directory", "file", "symbolic link" or "submodule"
}

// pathCrumb is one step of the path above a tree or file.
type pathCrumb struct {
	Label string
	Href  string
}

// browserData is what the tree and file pages share: the ref selector and the path.
type browserData struct {
	Project  *namespace.Project
	Ref      string
	Commit   string
	Path     string
	Last     *gitexec.Commit
	Branches []refLink
	Tags     []refLink
	Crumbs   []pathCrumb
	Archives []archiveLink
}

// refLink is one ref in the ref selector, linking to the same page at that ref.
type refLink struct {
	Name    string
	Href    string
	Current bool
}

type archiveLink struct {
	Format string
	Href   string
}

// browserPage is the data of the "tree" page, which shows a directory or a file.
type browserPage struct {
	Tree *treeData
	Blob *blobData
}

type treeData struct {
	browserData
	Rows   []treeRow
	Parent string
}

// browser fills the data the tree and file pages share; act is the page (tree or blob).
func (h *Handler) browser(p *namespace.Project, res *resolved, act string) browserData {
	d := browserData{Project: p, Ref: res.Ref, Commit: res.Commit, Path: res.Path, Last: res.Last}
	for _, b := range res.refs.Branches {
		d.Branches = append(d.Branches, refLink{Name: b, Href: projectPageURL(p, act, b, res.Path), Current: b == res.Ref})
	}
	for _, t := range res.refs.Tags {
		d.Tags = append(d.Tags, refLink{Name: t, Href: projectPageURL(p, act, t, res.Path), Current: t == res.Ref})
	}
	d.Crumbs = []pathCrumb{{Label: p.Path, Href: projectPageURL(p, actTree, res.Ref, "")}}
	if res.Path != "" {
		segs := strings.Split(res.Path, "/")
		for i, s := range segs {
			d.Crumbs = append(d.Crumbs, pathCrumb{Label: s, Href: projectPageURL(p, actTree, res.Ref, strings.Join(segs[:i+1], "/"))})
		}
	}
	name := p.Path + "-" + strings.ReplaceAll(res.Ref, "/", "-")
	for _, f := range []string{"zip", "tar.gz", "tar.bz2", "tar"} {
		d.Archives = append(d.Archives, archiveLink{Format: f, Href: "/" + p.FullPath + "/-/archive/" + pathEscape(res.Ref) + "/" + segmentEscape(name+"."+f)})
	}
	return d
}

// segmentEscape escapes one path segment.
func segmentEscape(s string) string { return pathEscape(strings.ReplaceAll(s, "/", "-")) }

// handleTree shows a directory at a ref: directories first, then files, as GitLab lists them.
func (h *Handler) handleTree(w http.ResponseWriter, r *http.Request, sess *session, p *namespace.Project, rest string) error {
	repo := h.repoOf(p)
	res, err := h.resolveRefPath(r.Context(), repo, rest)
	if err != nil {
		return err
	}
	entries, err := repo.Tree(r.Context(), res.Commit, res.Path, false)
	if err != nil {
		return notFoundGit(err)
	}
	rank := map[string]int{"tree": 0, "blob": 1, "commit": 2}
	slices.SortStableFunc(entries, func(a, b gitexec.TreeEntry) int {
		return cmp.Or(cmp.Compare(rank[a.Type], rank[b.Type]), strings.Compare(a.Name, b.Name))
	})
	d := treeData{browserData: h.browser(p, res, actTree)}
	if res.Path != "" {
		d.Parent = projectPageURL(p, actTree, res.Ref, path.Dir(res.Path))
		if path.Dir(res.Path) == "." {
			d.Parent = projectPageURL(p, actTree, res.Ref, "")
		}
	}
	for _, e := range entries {
		row := treeRow{Name: e.Name}
		switch {
		case e.Type == "tree":
			row.Kind, row.Href = "directory", projectPageURL(p, actTree, res.Ref, e.Path)
		case e.Type == "commit":
			row.Kind = "submodule"
		case e.Mode == "120000":
			row.Kind, row.Href = "symbolic link", projectPageURL(p, actBlob, res.Ref, e.Path)
		default:
			row.Kind, row.Href = "file", projectPageURL(p, actBlob, res.Ref, e.Path)
		}
		d.Rows = append(d.Rows, row)
	}
	title := p.Name
	if res.Path != "" {
		title = res.Path + " · " + p.Name
	}
	h.render(w, r, http.StatusOK, "tree", &page{Title: title, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: append(projectCrumbs(p), crumb{Label: "Repository", Href: projectPageURL(p, actTree, res.Ref, "")}), Data: browserPage{Tree: &d}})
	return nil
}

type blobData struct {
	browserData
	Name    string
	Size    string
	RawHref string
	// One of: Binary (link to raw), TooLarge (link to raw), Highlighted (chroma's HTML, which
	// escapes the content) or Plain (text too large to highlight).
	Binary      bool
	TooLarge    bool
	Highlighted template.HTML
	Plain       string
	Language    string
	Symlink     bool
}

// handleBlob shows one file at a ref: highlighted when it is text up to maxHighlighted, plain up
// to maxShownFile, else (and for binary content) a link to the raw file.
func (h *Handler) handleBlob(w http.ResponseWriter, r *http.Request, sess *session, p *namespace.Project, rest string) error {
	repo := h.repoOf(p)
	res, err := h.resolveRefPath(r.Context(), repo, rest)
	if err != nil {
		return err
	}
	if res.Path == "" {
		return errNotFound
	}
	b, err := repo.Blob(r.Context(), res.Commit, res.Path)
	if err != nil {
		return notFoundGit(err)
	}
	d := blobData{browserData: h.browser(p, res, actBlob), Name: b.Name, Size: formatBytes(b.Size),
		RawHref: projectPageURL(p, actRaw, res.Ref, res.Path), Symlink: b.Mode == "120000"}
	switch {
	case b.Size > maxShownFile:
		d.TooLarge = true
	default:
		content, err := repo.ReadBlob(r.Context(), b.ID, maxShownFile)
		if err != nil {
			return notFoundGit(err)
		}
		switch {
		case !gitexec.LooksLikeText(content):
			d.Binary = true
		case len(content) > maxHighlighted:
			d.Plain = string(content)
		default:
			html, lang, err := highlight(b.Name, string(content))
			if err != nil {
				return err
			}
			d.Highlighted, d.Language = html, lang
		}
	}
	h.render(w, r, http.StatusOK, "tree", &page{Title: res.Path + " · " + p.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: append(projectCrumbs(p), crumb{Label: "Repository", Href: projectPageURL(p, actTree, res.Ref, "")}), Data: browserPage{Blob: &d}})
	return nil
}

// highlightStyle is the chroma style whose CSS classes assets/chroma.css holds (TestChromaCSS
// keeps the file in step with the library).
const highlightStyle = "github"

// highlightFormatter writes CSS classes (the CSP forbids inline styles) and line numbers.
var highlightFormatter = chromahtml.New(chromahtml.WithClasses(true), chromahtml.WithLineNumbers(true),
	chromahtml.WithLinkableLineNumbers(true, "L"))

// highlight renders source as chroma's HTML, choosing the lexer by file name, then by content,
// else plain text; it returns the language's name too.
func highlight(name, source string) (template.HTML, string, error) {
	lexer := lexers.Match(name)
	if lexer == nil {
		lexer = lexers.Analyse(source)
	}
	if lexer == nil {
		lexer = lexers.Fallback
	}
	lexer = chroma.Coalesce(lexer)
	it, err := lexer.Tokenise(nil, source)
	if err != nil {
		return "", "", err
	}
	var buf bytes.Buffer
	if err := highlightFormatter.Format(&buf, styles.Get(highlightStyle), it); err != nil {
		return "", "", err
	}
	// chroma escapes every token's text (html.EscapeString); its markup is its own.
	return template.HTML(buf.String()), lexer.Config().Name, nil
}

// chromaCSS is the stylesheet of highlightStyle for highlightFormatter's classes.
func chromaCSS() (string, error) {
	var buf bytes.Buffer
	err := highlightFormatter.WriteCSS(&buf, styles.Get(highlightStyle))
	return buf.String(), err
}

// serveRaw streams a file's bytes at a ref, as the REST API's /files/:path/raw does: text as
// text/plain, anything else as application/octet-stream, never sniffed, under the UI's CSP.
func (h *Handler) serveRaw(w http.ResponseWriter, r *http.Request, p *namespace.Project, rest string) error {
	repo := h.repoOf(p)
	res, err := h.resolveRefPath(r.Context(), repo, rest)
	if err != nil {
		return err
	}
	if res.Path == "" {
		return errNotFound
	}
	b, err := repo.Blob(r.Context(), res.Commit, res.Path)
	if err != nil {
		return notFoundGit(err)
	}
	var content []byte
	if b.Size <= maxShownFile {
		if content, err = repo.ReadBlob(r.Context(), b.ID, maxShownFile); err != nil {
			return notFoundGit(err)
		}
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Disposition", contentDisposition("inline", b.Name))
	hd.Set("Content-Length", strconv.FormatInt(b.Size, 10))
	if content != nil && gitexec.LooksLikeText(content) {
		hd.Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		hd.Set("Content-Type", "application/octet-stream")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if content != nil {
		_, _ = w.Write(content)
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), browserStreamTimeout)
	defer cancel()
	if err := repo.StreamBlob(ctx, b.ID, w); err != nil {
		httpx.Internal(r.Context(), h.cfg.Log, err) // the status is sent: the client sees a short body
	}
	return nil
}

// contentDisposition is kind with the file's name quoted (unsafe bytes as '_') and RFC 5987's
// exact filename*.
func contentDisposition(kind, name string) string {
	quoted := []byte(name)
	for i, c := range quoted {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			quoted[i] = '_'
		}
	}
	return kind + `; filename="` + string(quoted) + `"; filename*=UTF-8''` + segmentEscape(name)
}

// archiveFormats are the archive formats the browser links to, with their content types.
var archiveFormats = map[string]string{"zip": "application/zip", "tar.gz": "application/gzip",
	"tar.bz2": "application/x-bzip2", "tar": "application/x-tar"}

// serveArchive streams `git archive` of a ref as GitLab's /-/archive/<ref>/<name>.<format>: the
// format is the file name's extension, the download is named <project>-<ref with / as ->.
func (h *Handler) serveArchive(w http.ResponseWriter, r *http.Request, p *namespace.Project, rest string) error {
	i := strings.LastIndex(rest, "/")
	ref, file := rest[:i], rest[i+1:]
	format := ""
	for f := range archiveFormats {
		if strings.HasSuffix(file, "."+f) && len(f) > len(format) {
			format = f
		}
	}
	if format == "" || !gitexec.ValidRef(ref) {
		return errNotFound
	}
	repo := h.repoOf(p)
	commit, err := repo.ResolveCommit(r.Context(), ref)
	if err != nil {
		return notFoundGit(err)
	}
	name := p.Path + "-" + strings.ReplaceAll(ref, "/", "-")
	hd := w.Header()
	// The archive of a commit never changes (its name, which holds the ref, is in the tag too):
	// a client or cache holding it asks with If-None-Match and gets 304 without git running.
	etag := `"` + commit + "-" + segmentEscape(name+"."+format) + `"`
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hd.Set("Content-Type", archiveFormats[format])
	hd.Set("Content-Disposition", contentDisposition("attachment", name+"."+format))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), browserStreamTimeout)
	defer cancel()
	if err := repo.Archive(ctx, w, commit, format, name, ""); err != nil {
		httpx.Internal(r.Context(), h.cfg.Log, err)
	}
	return nil
}
