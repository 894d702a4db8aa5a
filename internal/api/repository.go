package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Repository reads for people (GitLab's branches, tags, repositories and repository files APIs,
// GET only): every read runs the real git through gitexec on the project's bare repository.
// Refs and paths from the request are checked there (gitexec.ValidRef, gitexec.CleanPath) and
// reach git as arguments after --end-of-options or --, never as options.

// RepositoryDirs locates projects' bare repositories; *git.Repos implements it.
type RepositoryDirs interface {
	Dir(projectID int64) string
}

var withRepositories = func(c Config) bool { return c.Repos != nil }

// maxFileJSON bounds a file returned inside JSON (base64 in memory); /raw streams any size.
const maxFileJSON = 32 << 20

// streamTimeout bounds one streamed git run (an archive, a large raw file): a client reading
// slowly cannot hold a git process for ever.
const streamTimeout = 10 * time.Minute

// repoOf opens project p's repository.
func (h *Handler) repoOf(p *namespace.Project) gitexec.Repo {
	return gitexec.Open(h.cfg.GitBin, h.cfg.Repos.Dir(p.ID))
}

// defaultBranch is the branch the repository's HEAD names, "main" (every repository's
// initial branch) when there is none yet.
func defaultBranch(ctx context.Context, repo gitexec.Repo) string {
	if b := repo.DefaultBranch(ctx); b != "" {
		return b
	}
	return "main"
}

// writeMissing answers a missing required parameter as Grape does.
func writeMissing(w http.ResponseWriter, name string) {
	httpx.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": name + " is missing"})
}

// notFoundIn maps gitexec.ErrNotFound to GitLab's 404 for what; other errors pass.
func notFoundIn(err error, what string) error {
	if errors.Is(err, gitexec.ErrNotFound) {
		return notFound(what)
	}
	if errors.Is(err, gitexec.ErrOutputTooLarge) {
		return errkind.ErrTooLarge
	}
	return err
}

// commitJSON is GitLab's commit entity.
type commitJSON struct {
	ID               string            `json:"id"`
	ShortID          string            `json:"short_id"`
	CreatedAt        string            `json:"created_at"`
	ParentIDs        []string          `json:"parent_ids"`
	Title            string            `json:"title"`
	Message          string            `json:"message"`
	AuthorName       string            `json:"author_name"`
	AuthorEmail      string            `json:"author_email"`
	AuthoredDate     string            `json:"authored_date"`
	CommitterName    string            `json:"committer_name"`
	CommitterEmail   string            `json:"committer_email"`
	CommittedDate    string            `json:"committed_date"`
	Trailers         map[string]string `json:"trailers"`
	ExtendedTrailers map[string]string `json:"extended_trailers"`
	WebURL           string            `json:"web_url"`
}

// gitTime formats a commit time as GitLab does, in the commit's own zone.
func gitTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-07:00") }

func (h *Handler) commitView(r *request, p *namespace.Project, c gitexec.Commit) commitJSON {
	short := c.ID
	if len(short) > 8 {
		short = short[:8]
	}
	return commitJSON{ID: c.ID, ShortID: short, CreatedAt: gitTime(c.CommittedDate), ParentIDs: c.ParentIDs,
		Title: c.Title, Message: c.Message, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail,
		AuthoredDate: gitTime(c.AuthoredDate), CommitterName: c.CommitterName, CommitterEmail: c.CommitterEmail,
		CommittedDate: gitTime(c.CommittedDate), Trailers: map[string]string{}, ExtendedTrailers: map[string]string{},
		WebURL: h.webURL(r, p.FullPath+"/-/commit/"+c.ID)}
}

// branchJSON is GitLab's branch entity. Gatehouse has no protected branches.
type branchJSON struct {
	Name               string     `json:"name"`
	Commit             commitJSON `json:"commit"`
	Merged             bool       `json:"merged"`
	Protected          bool       `json:"protected"`
	DevelopersCanPush  bool       `json:"developers_can_push"`
	DevelopersCanMerge bool       `json:"developers_can_merge"`
	CanPush            bool       `json:"can_push"`
	Default            bool       `json:"default"`
	WebURL             string     `json:"web_url"`
}

// branchViews renders branches: default and merged (into the default branch) as GitLab, and
// can_push from whether the requester may push (a filter check, not the request's decision).
func (h *Handler) branchViews(r *request, p *namespace.Project, repo gitexec.Repo, refs []gitexec.Ref) ([]branchJSON, error) {
	def := defaultBranch(ctxOf(r), repo)
	merged := map[string]bool{}
	if head, err := repo.ResolveCommit(ctxOf(r), "refs/heads/"+def); err == nil {
		if merged, err = repo.Merged(ctxOf(r), head); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, gitexec.ErrNotFound) {
		return nil, err
	}
	canPush, err := h.cfg.Gate.Permits(ctxOf(r), r.Request, r.principal, access.Resource{Project: p}, access.WriteRepository)
	if err != nil {
		return nil, err
	}
	out := make([]branchJSON, 0, len(refs))
	for _, ref := range refs {
		out = append(out, branchJSON{Name: ref.Name, Commit: h.commitView(r, p, ref.Commit),
			Merged: ref.Name != def && merged[ref.Name], CanPush: canPush, Default: ref.Name == def,
			WebURL: h.webURL(r, p.FullPath+"/-/tree/"+ref.Name)})
	}
	return out, nil
}

// nameFilter is GitLab's search on branch and tag names: a substring, "^x" a prefix, "x$" a
// suffix, "^x$" the exact name; case-insensitive.
func nameFilter(search string) func(string) bool {
	if search == "" {
		return func(string) bool { return true }
	}
	s := strings.ToLower(search)
	prefix, suffix := strings.HasPrefix(s, "^"), strings.HasSuffix(s, "$")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "^"), "$")
	return func(name string) bool {
		n := strings.ToLower(name)
		switch {
		case prefix && suffix:
			return n == s
		case prefix:
			return strings.HasPrefix(n, s)
		case suffix:
			return strings.HasSuffix(n, s)
		}
		return strings.Contains(n, s)
	}
}

// keyset reports whether the request asks for keyset pagination (pagination=keyset), which
// these lists offer as GitLab does: page_token names where the previous page ended. Any other
// pagination value, or a page_token without keyset, is refused rather than ignored.
func keyset(r *request) (bool, error) {
	switch v := r.params.Get("pagination"); v {
	case "keyset":
		return true, nil
	case "", "offset", "legacy": // GitLab's tree calls offset pagination "legacy"
		if r.params.Has("page_token") {
			return false, unsupportedParam("page_token", "only with pagination=keyset")
		}
		return false, nil
	default:
		return false, invalidValue("pagination")
	}
}

// writeKeysetPage writes the page of items that follows page_token (after is the index of the
// first item past it) with GitLab's keyset Link header: rel="next" carrying the last item's key.
func writeKeysetPage[T any](w http.ResponseWriter, r *request, items []T, after int, key func(T) string) {
	per, _ := strconv.Atoi(r.params.Get("per_page"))
	if per < 1 {
		per = 20
	}
	per = min(per, 100)
	after = min(after, len(items))
	end := min(after+per, len(items))
	page := items[after:end]
	if end < len(items) {
		u := *r.URL
		q := u.Query()
		q.Set("pagination", "keyset")
		q.Set("per_page", strconv.Itoa(per))
		q.Set("page_token", key(page[len(page)-1]))
		// The client authenticates the next page as it did this one: no secret in a header.
		q.Del("private_token")
		u.RawQuery = q.Encode()
		w.Header().Set("Link", `<`+externalPath(r, &u)+`>; rel="next"`)
	}
	if page == nil {
		page = []T{}
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

// afterName is the index of the first of names (sorted) past token: Gitaly's cursor on names.
func afterName(n int, name func(int) string, token string) int {
	if token == "" {
		return 0
	}
	for i := range n {
		if name(i) > token {
			return i
		}
	}
	return n
}

func (h *Handler) listBranches(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCode)
	if err != nil {
		return err
	}
	byKey, err := keyset(r)
	if err != nil {
		return err
	}
	match := nameFilter(r.params.Get("search"))
	if re := r.params.Get("regex"); re != "" {
		rx, err := regexp.Compile(re)
		if err != nil {
			return invalidParam("regex")
		}
		search := match
		match = func(n string) bool { return search(n) && rx.MatchString(n) }
	}
	repo := h.repoOf(p)
	refs, err := repo.Branches(ctxOf(r))
	if err != nil {
		return err
	}
	refs = slices.DeleteFunc(refs, func(ref gitexec.Ref) bool { return !match(ref.Name) })
	switch sort := r.params.Get("sort"); sort {
	case "", "name_asc":
	case "updated_asc", "updated_desc":
		if byKey {
			return unsupportedParam("sort", "keyset pagination lists branches by name only (sort=name_asc)")
		}
		slices.SortStableFunc(refs, func(a, b gitexec.Ref) int {
			c := a.Commit.CommittedDate.Compare(b.Commit.CommittedDate)
			if sort == "updated_desc" {
				c = -c
			}
			return c
		})
	default:
		return invalidValue("sort")
	}
	views, err := h.branchViews(r, p, repo, refs)
	if err != nil {
		return err
	}
	if byKey {
		after := afterName(len(views), func(i int) string { return views[i].Name }, r.params.Get("page_token"))
		writeKeysetPage(w, r, views, after, func(b branchJSON) string { return b.Name })
		return nil
	}
	paginate(w, r, views)
	return nil
}

func (h *Handler) getBranch(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCode)
	if err != nil {
		return err
	}
	repo := h.repoOf(p)
	ref, err := repo.Branch(ctxOf(r), r.PathValue("branch"))
	if err != nil {
		return notFoundIn(err, "Branch")
	}
	views, err := h.branchViews(r, p, repo, []gitexec.Ref{ref})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, views[0])
	return nil
}

// tagJSON is GitLab's tag entity. Gatehouse has no releases and no protected tags.
type tagJSON struct {
	Name      string     `json:"name"`
	Message   string     `json:"message"`
	Target    string     `json:"target"`
	Commit    commitJSON `json:"commit"`
	Release   *struct{}  `json:"release"`
	Protected bool       `json:"protected"`
	CreatedAt *string    `json:"created_at"`
}

func (h *Handler) tagView(r *request, p *namespace.Project, ref gitexec.Ref) tagJSON {
	t := tagJSON{Name: ref.Name, Target: ref.Target, Commit: h.commitView(r, p, ref.Commit)}
	if ref.Annotated {
		t.Message = strings.TrimSuffix(ref.TagMessage, "\n")
		if !ref.TagDate.IsZero() {
			s := gitTime(ref.TagDate)
			t.CreatedAt = &s
		}
	}
	return t
}

func (h *Handler) listTags(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCode)
	if err != nil {
		return err
	}
	byKey, err := keyset(r)
	if err != nil {
		return err
	}
	if byKey && (r.params.Get("order_by") != "name" || r.params.Get("sort") != "asc") {
		return unsupportedParam("order_by", "keyset pagination lists tags by name only (order_by=name, sort=asc)")
	}
	refs, err := h.repoOf(p).Tags(ctxOf(r))
	if err != nil {
		return err
	}
	match := nameFilter(r.params.Get("search"))
	refs = slices.DeleteFunc(refs, func(ref gitexec.Ref) bool { return !match(ref.Name) })
	var less func(a, b gitexec.Ref) int
	switch r.params.Get("order_by") {
	case "", "updated":
		less = func(a, b gitexec.Ref) int { return a.Commit.CommittedDate.Compare(b.Commit.CommittedDate) }
	case "name":
		less = func(a, b gitexec.Ref) int { return strings.Compare(a.Name, b.Name) }
	case "version":
		less = func(a, b gitexec.Ref) int { return compareVersions(a.Name, b.Name) }
	default:
		return invalidValue("order_by")
	}
	switch r.params.Get("sort") {
	case "", "desc":
		slices.SortStableFunc(refs, func(a, b gitexec.Ref) int { return -less(a, b) })
	case "asc":
		slices.SortStableFunc(refs, less)
	default:
		return invalidValue("sort")
	}
	out := make([]tagJSON, 0, len(refs))
	for _, ref := range refs {
		out = append(out, h.tagView(r, p, ref))
	}
	if byKey {
		after := afterName(len(out), func(i int) string { return out[i].Name }, r.params.Get("page_token"))
		writeKeysetPage(w, r, out, after, func(t tagJSON) string { return t.Name })
		return nil
	}
	paginate(w, r, out)
	return nil
}

// compareVersions orders tag names as versions: runs of digits by value, the rest as text
// (v1.10 after v1.9), as git's version sort does.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		if da != "" && db != "" {
			// digitsPrefix stops at 18 digits, so the values fit.
			na, _ := strconv.ParseUint(da, 10, 64)
			nb, _ := strconv.ParseUint(db, 10, 64)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitsPrefix(s string) string {
	i := 0
	for i < len(s) && i < 18 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func (h *Handler) getTag(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCode)
	if err != nil {
		return err
	}
	ref, err := h.repoOf(p).Tag(ctxOf(r), r.PathValue("tag_name"))
	if err != nil {
		return notFoundIn(err, "Tag")
	}
	httpx.WriteJSON(w, http.StatusOK, h.tagView(r, p, ref))
	return nil
}

// resolveRef resolves the ref parameter name (the default branch when absent) to a commit;
// a malformed or unknown ref is a 404 naming what.
func resolveRef(r *request, repo gitexec.Repo, name, what string) (ref, commit string, err error) {
	ref = r.params.Get(name)
	if ref == "" {
		ref = defaultBranch(ctxOf(r), repo)
	}
	commit, err = repo.ResolveCommit(ctxOf(r), ref)
	if err != nil {
		return "", "", notFoundIn(err, what)
	}
	return ref, commit, nil
}

// treeEntryJSON is GitLab's tree entry.
type treeEntryJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
	Mode string `json:"mode"`
}

func (h *Handler) listTree(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCode)
	if err != nil {
		return err
	}
	// pagination=none (recursive listings only, as GitLab): every entry in one answer.
	unpaged := r.params.Get("pagination") == "none"
	if unpaged && !boolParam(r, "recursive") {
		httpx.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": `pagination cannot be "none" unless "recursive" is true`})
		return nil
	}
	var byKey bool
	if !unpaged {
		if byKey, err = keyset(r); err != nil {
			return err
		}
	}
	dir, ok := gitexec.CleanPath(r.params.Get("path"))
	if !ok {
		return notFound("Tree")
	}
	repo := h.repoOf(p)
	_, commit, err := resolveRef(r, repo, "ref", "Tree")
	if err != nil {
		return err
	}
	entries, err := repo.Tree(ctxOf(r), commit, dir, boolParam(r, "recursive"))
	if err != nil {
		return notFoundIn(err, "Tree")
	}
	// GitLab lists directories, then files, then submodules.
	rank := map[string]int{"tree": 0, "blob": 1, "commit": 2}
	slices.SortStableFunc(entries, func(a, b gitexec.TreeEntry) int { return cmp.Compare(rank[a.Type], rank[b.Type]) })
	out := make([]treeEntryJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, treeEntryJSON{ID: e.ID, Name: e.Name, Type: e.Type, Path: e.Path, Mode: e.Mode})
	}
	if unpaged {
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	if byKey {
		// The cursor is the last entry's path: unique, where GitLab's (its id) is not for two
		// files of one content. Clients follow the Link header, so they never build it.
		after := 0
		if token := r.params.Get("page_token"); token != "" {
			i := slices.IndexFunc(out, func(e treeEntryJSON) bool { return e.Path == token })
			if i < 0 {
				return invalidParam("page_token")
			}
			after = i + 1
		}
		writeKeysetPage(w, r, out, after, func(e treeEntryJSON) string { return e.Path })
		return nil
	}
	paginate(w, r, out)
	return nil
}

// fileJSON is GitLab's repository file, content base64.
type fileJSON struct {
	FileName        string `json:"file_name"`
	FilePath        string `json:"file_path"`
	Size            int64  `json:"size"`
	Encoding        string `json:"encoding"`
	ContentSHA256   string `json:"content_sha256"`
	Ref             string `json:"ref"`
	BlobID          string `json:"blob_id"`
	CommitID        string `json:"commit_id"`
	LastCommitID    string `json:"last_commit_id"`
	ExecuteFilemode bool   `json:"execute_filemode"`
	Content         string `json:"content,omitempty"`
}

// fileTarget is the file a files request names, resolved.
type fileTarget struct {
	repo   gitexec.Repo
	ref    string
	commit string
	blob   gitexec.TreeEntry
}

// resolveFile resolves {file_path} at the ref parameter (required unless refOptional).
func (h *Handler) resolveFile(w http.ResponseWriter, r *request, refOptional bool) (*fileTarget, bool, error) {
	p, err := h.project(r, access.ReadRepositoryFiles)
	if err != nil {
		return nil, false, err
	}
	switch {
	case r.params.Has("ref") && r.params.Get("ref") == "":
		// Grape's allow_blank: false, on the optional ref of /raw too.
		httpx.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "ref is empty"})
		return nil, false, nil
	case !refOptional && !r.params.Has("ref"):
		writeMissing(w, "ref")
		return nil, false, nil
	}
	file, ok := gitexec.CleanPath(r.PathValue("file_path"))
	if !ok || file == "" {
		return nil, false, notFound("File")
	}
	t := &fileTarget{repo: h.repoOf(p)}
	if t.ref, t.commit, err = resolveRef(r, t.repo, "ref", "Commit"); err != nil {
		return nil, false, err
	}
	if t.blob, err = t.repo.Blob(ctxOf(r), t.commit, file); err != nil {
		return nil, false, notFoundIn(err, "File")
	}
	return t, true, nil
}

// metadata is the file's JSON without content; it hashes the content for content_sha256.
func (t *fileTarget) metadata(r *request, content []byte) (fileJSON, error) {
	last, err := t.repo.LastCommit(ctxOf(r), t.commit, t.blob.Path)
	if err != nil {
		return fileJSON{}, err
	}
	sum := sha256.Sum256(content)
	return fileJSON{FileName: t.blob.Name, FilePath: t.blob.Path, Size: t.blob.Size, Encoding: "base64",
		ContentSHA256: hex.EncodeToString(sum[:]), Ref: t.ref, BlobID: t.blob.ID, CommitID: t.commit,
		LastCommitID: last, ExecuteFilemode: t.blob.Mode == "100755"}, nil
}

// setFileHeaders sets GitLab's X-Gitlab-* headers of a file.
func setFileHeaders(w http.ResponseWriter, f fileJSON) {
	hd := w.Header()
	hd.Set("X-Gitlab-Blob-Id", f.BlobID)
	hd.Set("X-Gitlab-Commit-Id", f.CommitID)
	hd.Set("X-Gitlab-Content-Sha256", f.ContentSHA256)
	hd.Set("X-Gitlab-Encoding", f.Encoding)
	hd.Set("X-Gitlab-File-Name", f.FileName)
	hd.Set("X-Gitlab-File-Path", f.FilePath)
	hd.Set("X-Gitlab-Last-Commit-Id", f.LastCommitID)
	hd.Set("X-Gitlab-Ref", f.Ref)
	hd.Set("X-Gitlab-Size", strconv.FormatInt(f.Size, 10))
	hd.Set("X-Gitlab-Execute-Filemode", strconv.FormatBool(f.ExecuteFilemode))
}

// getFile answers GET (the file, content base64) and HEAD (its X-Gitlab-* headers only).
func (h *Handler) getFile(w http.ResponseWriter, r *request) error {
	t, ok, err := h.resolveFile(w, r, false)
	if err != nil || !ok {
		return err
	}
	if t.blob.Size > maxFileJSON {
		return &apiError{http.StatusRequestEntityTooLarge, "413 File too large for JSON: use /raw"}
	}
	content, err := t.repo.ReadBlob(ctxOf(r), t.blob.ID, maxFileJSON)
	if err != nil {
		return notFoundIn(err, "File")
	}
	f, err := t.metadata(r, content)
	if err != nil {
		return err
	}
	setFileHeaders(w, f)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	f.Content = base64.StdEncoding.EncodeToString(content)
	httpx.WriteJSON(w, http.StatusOK, f)
	return nil
}

// getRawFile streams the file's bytes (ref optional: the default branch).
func (h *Handler) getRawFile(w http.ResponseWriter, r *request) error {
	if boolParam(r, "lfs") {
		return unsupportedParam("lfs", "Gatehouse stores no LFS objects")
	}
	t, ok, err := h.resolveFile(w, r, true)
	if err != nil || !ok {
		return err
	}
	// content_sha256 needs the whole content: read it bounded when small, else leave it out.
	var f fileJSON
	var content []byte
	if t.blob.Size <= maxFileJSON {
		if content, err = t.repo.ReadBlob(ctxOf(r), t.blob.ID, maxFileJSON); err != nil {
			return notFoundIn(err, "File")
		}
	}
	if f, err = t.metadata(r, content); err != nil {
		return err
	}
	if content == nil {
		f.ContentSHA256 = ""
	}
	setFileHeaders(w, f)
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Disposition", contentDisposition("inline", t.blob.Name, true))
	hd.Set("Content-Length", strconv.FormatInt(t.blob.Size, 10))
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
	ctx, cancel := context.WithTimeout(ctxOf(r), streamTimeout)
	defer cancel()
	if err := t.repo.StreamBlob(ctx, t.blob.ID, w); err != nil {
		// The status is sent: the client sees a short body; the log says why.
		httpx.Internal(ctxOf(r), h.cfg.Log, err)
	}
	return nil
}

// contentDisposition is kind with a quoted filename, as GitLab sends it (always quoted), plus
// RFC 5987's filename* when extended (Rails' form for raw files). Quotes, backslashes and
// control or non-ASCII bytes in the quoted form become '_'; filename* carries the exact name.
func contentDisposition(kind, name string, extended bool) string {
	quoted := []byte(name)
	for i, c := range quoted {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			quoted[i] = '_'
		}
	}
	out := kind + `; filename="` + string(quoted) + `"`
	if extended {
		out += "; filename*=UTF-8''" + url.PathEscape(name)
	}
	return out
}

// archiveExt maps GitLab's archive formats to the extension of the file it names.
var archiveExt = map[string]string{"tar.gz": "tar.gz", "tgz": "tar.gz", "gz": "tar.gz", "tar.bz2": "tar.bz2",
	"tbz": "tar.bz2", "tbz2": "tar.bz2", "tb2": "tar.bz2", "bz2": "tar.bz2", "tar": "tar", "zip": "zip"}

var archiveType = map[string]string{"tar.gz": "application/gzip", "tar.bz2": "application/x-bzip2",
	"tar": "application/x-tar", "zip": "application/zip"}

// getArchive streams `git archive` of the sha parameter (the default branch when absent) in the
// format the path names (archive.zip, …; tar.gz without one), named as GitLab names it.
func (h *Handler) getArchive(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCode)
	if err != nil {
		return err
	}
	format := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path[strings.LastIndex(r.URL.Path, "/"):], "/archive"), ".")
	if format == "" {
		format = r.params.Get("format")
	}
	if format == "" {
		format = "tar.gz"
	}
	ext, ok := archiveExt[format]
	if !ok {
		return invalidValue("format")
	}
	if r.params.Has("exclude_paths") {
		return unsupportedParam("exclude_paths", "")
	}
	dir, ok := gitexec.CleanPath(r.params.Get("path"))
	if !ok {
		return notFound("File")
	}
	repo := h.repoOf(p)
	ref, commit, err := resolveRef(r, repo, "sha", "File")
	if err != nil {
		return err
	}
	if dir != "" {
		if _, err := repo.Tree(ctxOf(r), commit, dir, false); err != nil {
			return notFoundIn(err, "File")
		}
	}
	// GitLab's name: <project path>-<ref with / as ->[-<commit>][-<path with / as ->].
	name := p.Path + "-" + strings.ReplaceAll(ref, "/", "-")
	if ref != commit {
		name += "-" + commit
	}
	if dir != "" {
		name += "-" + strings.ReplaceAll(dir, "/", "-")
	}
	hd := w.Header()
	hd.Set("Content-Type", archiveType[ext])
	hd.Set("Content-Disposition", contentDisposition("attachment", name+"."+ext, false))
	hd.Set("Content-Transfer-Encoding", "binary")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctxOf(r), streamTimeout)
	defer cancel()
	if err := repo.Archive(ctx, w, commit, format, name, dir); err != nil {
		httpx.Internal(ctxOf(r), h.cfg.Log, err)
	}
	return nil
}
