package pypi

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The pure, bounded parsers of the PyPI format: request paths, project names (PEP 508/503),
// versions (PEP 440, as GitLab's regex), distribution filenames, the Accept header of the simple
// API (PEP 691) and twine's multipart upload. Every error is packages.ErrNotFound (no such
// route), packages.ErrTooLarge, or a *packages.ValidationError whose text never quotes input.

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// Length limits of the format's strings.
const (
	// MaxNameLength bounds project names.
	MaxNameLength = 255
	// MaxRequiresPythonLength bounds Requires-Python (GitLab's column).
	MaxRequiresPythonLength = 255
	// maxPathLength bounds the escaped request path the parser looks at.
	maxPathLength = 4096
	// maxFilenameDashes bounds the candidate project names read from a filename.
	maxFilenameDashes = 32
)

// ValidateName checks a project name as PEP 508 defines it: ASCII letters and digits, with
// . _ - inside (never first or last).
func ValidateName(s string) error {
	if s == "" || len(s) > MaxNameLength {
		return invalid("package name", "must be 1 to 255 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		inner := i > 0 && i < len(s)-1
		if !isAlnum(c) && !(inner && (c == '.' || c == '_' || c == '-')) {
			return invalid("package name", "may contain only letters, digits and . _ - and must start and end with a letter or digit")
		}
	}
	return nil
}

// Normalize is the PEP 503 normal form of a (valid) project name.
func Normalize(name string) string { return packages.NormalizeName(packages.PyPI, name) }

// versionRE is PEP 440's public and local version, as GitLab's Gitlab::Regex.pypi_version_regex.
var versionRE = regexp.MustCompile(`(?i)^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*` +
	`(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?` +
	`(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?` +
	`(?:[-_.]?dev[-_.]?[0-9]*)?` +
	`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$`)

// ValidateVersion checks a PEP 440 version.
func ValidateVersion(v string) error {
	if v == "" || len(v) > packages.MaxVersionLength {
		return invalid("version", "must be 1 to 255 characters")
	}
	if !versionRE.MatchString(v) || strings.Contains(v, "..") {
		return invalid("version", "must be a PEP 440 version")
	}
	return nil
}

// distExtensions are the filename endings of Python distributions (sdists, wheels, eggs).
var distExtensions = []string{".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".zip", ".egg"}

// ValidateFilename checks a distribution's filename: letters, digits and . _ - + !, not starting
// with . or -, without "..", ending in a distribution extension.
func ValidateFilename(f string) error {
	if f == "" || len(f) > packages.MaxFilenameLength {
		return invalid("file name", "must be 1 to 255 characters")
	}
	if f[0] == '.' || f[0] == '-' || strings.Contains(f, "..") {
		return invalid("file name", "must not start with . or - nor contain ..")
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' && c != '+' && c != '!' {
			return invalid("file name", "may contain only letters, digits and . _ - + !")
		}
	}
	if stem(f) == "" {
		return invalid("file name", "must end in "+strings.Join(distExtensions, ", "))
	}
	return nil
}

// stem is f without its distribution extension, or "" when it has none (or nothing else).
func stem(f string) string {
	lower := strings.ToLower(f)
	for _, ext := range distExtensions {
		if strings.HasSuffix(lower, ext) {
			return f[:len(f)-len(ext)]
		}
	}
	return ""
}

// FilenameProjects are the normalised project names a distribution filename can belong to: the
// stem's prefixes before each "-" ("my_pkg-1.0-py3-none-any.whl" → my-pkg, my-pkg-1-0, …). A
// valid upload's project is one of them (ParseUpload checks), so downloads find the file by
// these names alone.
func FilenameProjects(filename string) []string {
	s := stem(filename)
	var out []string
	for i := 0; i < len(s) && len(out) < maxFilenameDashes; i++ {
		if s[i] == '-' && i > 0 {
			out = append(out, Normalize(s[:i]))
		}
	}
	return out
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			return false
		}
	}
	return true
}

// level says where an endpoint sits.
type level int

const (
	levelProject level = iota + 1 // /api/v4/projects/:id/packages/pypi…
	levelGroup                    // /api/v4/groups/:id/-/packages/pypi…
)

func (l level) String() string { return [...]string{"", "project", "group"}[l] }

// kind is an endpoint of the PyPI API.
type kind int

const (
	kindUpload        kind = iota + 1 // (POST) the repository URL twine uploads to
	kindSimpleIndex                   // simple/ : the project list
	kindSimpleProject                 // simple/<name>/ : a project's files
	kindFile                          // files/<sha256>/<filename>
)

func (k kind) String() string {
	return [...]string{"", "upload", "simple index", "simple project", "file"}[k]
}

// Route is a parsed PyPI request path. Every field is unescaped and validated.
type Route struct {
	level level
	kind  kind
	// Ref is the project's or group's :id: a numeric id or a full path.
	Ref string
	// Prefix is the escaped path up to and including "/packages/pypi", for building links.
	Prefix string
	// Name is a simple project page's name as requested; Canonical says the request used the
	// normalised name and the trailing slash (otherwise the handler redirects, as PEP 503 allows).
	Name      string
	Canonical bool
	// SHA256 (lower-case hex) and Filename name a file to download.
	SHA256   string
	Filename string
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()):
//
//	/api/v4/projects/:id/packages/pypi[/]                      upload
//	/api/v4/projects/:id/packages/pypi/simple[/]               project list
//	/api/v4/projects/:id/packages/pypi/simple/:name[/]         project page
//	/api/v4/projects/:id/packages/pypi/files/:sha256/:filename file
//	/api/v4/groups/:id/-/packages/pypi/simple/:name[/]         project page (group)
//	/api/v4/groups/:id/-/packages/pypi/files/:sha256/:filename file (group)
//
// A path of another shape is packages.ErrNotFound; a bad name, digest or filename is a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	var rt Route
	var id, rest string
	var ok bool
	switch {
	case strings.HasPrefix(escaped, "/api/v4/projects/"):
		id, rest, ok = strings.Cut(strings.TrimPrefix(escaped, "/api/v4/projects/"), "/")
		rt.level = levelProject
		if !ok || (rest != "packages/pypi" && !strings.HasPrefix(rest, "packages/pypi/")) {
			return Route{}, packages.ErrNotFound
		}
		rest = strings.TrimPrefix(rest, "packages/pypi")
	case strings.HasPrefix(escaped, "/api/v4/groups/"):
		id, rest, ok = strings.Cut(strings.TrimPrefix(escaped, "/api/v4/groups/"), "/")
		rt.level = levelGroup
		if !ok || !strings.HasPrefix(rest, "-/packages/pypi/") {
			return Route{}, packages.ErrNotFound
		}
		rest = strings.TrimPrefix(rest, "-/packages/pypi")
	default:
		return Route{}, packages.ErrNotFound
	}
	rt.Prefix = escaped[:len(escaped)-len(rest)]
	ref, err := url.PathUnescape(id)
	if err != nil || ref == "" {
		return Route{}, packages.ErrNotFound
	}
	rt.Ref = ref
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "" || rest == "/":
		rt.kind = kindUpload
	case segs[0] == "simple" && (len(segs) == 1 || (len(segs) == 2 && segs[1] == "")):
		rt.kind = kindSimpleIndex
	case segs[0] == "simple" && (len(segs) == 2 || (len(segs) == 3 && segs[2] == "")):
		rt.kind = kindSimpleProject
		name, err := url.PathUnescape(segs[1])
		if err != nil {
			return Route{}, invalid("package name", "is not a valid URL path segment")
		}
		if err := ValidateName(name); err != nil {
			return Route{}, err
		}
		rt.Name = name
		rt.Canonical = len(segs) == 3 && Normalize(name) == name
	case segs[0] == "files" && len(segs) == 3:
		rt.kind = kindFile
		if len(segs[1]) != 64 || !isHex(segs[1]) {
			return Route{}, invalid("sha256", "must be 64 lower-case hex digits")
		}
		rt.SHA256 = segs[1]
		name, err := url.PathUnescape(segs[2])
		if err != nil {
			return Route{}, invalid("file name", "is not a valid URL path segment")
		}
		if err := ValidateFilename(name); err != nil {
			return Route{}, err
		}
		rt.Filename = name
	default:
		return Route{}, packages.ErrNotFound
	}
	if rt.level == levelGroup && (rt.kind == kindUpload || rt.kind == kindSimpleIndex) {
		// Uploads name a project; the group-level project list is not served.
		return Route{}, packages.ErrNotFound
	}
	return rt, nil
}

// Media types of the simple API (PEP 691).
const (
	TypeJSON    = "application/vnd.pypi.simple.v1+json"
	TypeHTMLv1  = "application/vnd.pypi.simple.v1+html"
	TypeHTML    = "text/html"
	typeLatestJ = "application/vnd.pypi.simple.latest+json"
	typeLatestH = "application/vnd.pypi.simple.latest+html"
	maxAccept   = 4096
)

// WantsJSON reads an Accept header and reports whether the client prefers PEP 691's JSON over
// HTML (ties go to JSON, which pip asks for first). No or an unreadable header means HTML.
func WantsJSON(accept string) bool {
	if len(accept) > maxAccept {
		return false
	}
	jsonQ, htmlQ := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, found := strings.Cut(strings.TrimSpace(part), ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		q := 1.0
		if found {
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
						q = f
					} else {
						q = 0
					}
				}
			}
		}
		switch mt {
		case TypeJSON, typeLatestJ:
			jsonQ = max(jsonQ, q)
		case TypeHTMLv1, typeLatestH, TypeHTML, "text/*", "*/*":
			htmlQ = max(htmlQ, q)
		}
	}
	return jsonQ > 0 && jsonQ >= htmlQ
}

// Limits bound an upload's parsing.
type Limits struct {
	// MaxFields is the number of form fields before the file.
	MaxFields int
	// MaxField bounds one field's value (twine sends the whole README as description).
	MaxField int
	// MaxMetadata bounds all fields together.
	MaxMetadata int
}

// DefaultLimits are generous for real packages and small for a server.
func DefaultLimits() Limits {
	return Limits{MaxFields: 1024, MaxField: 1 << 20, MaxMetadata: 4 << 20}
}

// Metadata is what Gatehouse keeps of an upload's core metadata, as the version's JSON
// document. Long texts are cut to GitLab's lengths.
type Metadata struct {
	RequiresPython         string `json:"requires_python,omitempty"`
	MetadataVersion        string `json:"metadata_version,omitempty"`
	Summary                string `json:"summary,omitempty"`
	Keywords               string `json:"keywords,omitempty"`
	AuthorEmail            string `json:"author_email,omitempty"`
	DescriptionContentType string `json:"description_content_type,omitempty"`
	Description            string `json:"description,omitempty"`
}

// Merge fills m's empty fields from old (an earlier file of the same version).
func (m Metadata) Merge(old Metadata) Metadata {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return Metadata{RequiresPython: pick(m.RequiresPython, old.RequiresPython),
		MetadataVersion: pick(m.MetadataVersion, old.MetadataVersion), Summary: pick(m.Summary, old.Summary),
		Keywords: pick(m.Keywords, old.Keywords), AuthorEmail: pick(m.AuthorEmail, old.AuthorEmail),
		DescriptionContentType: pick(m.DescriptionContentType, old.DescriptionContentType),
		Description:            pick(m.Description, old.Description)}
}

// Upload is a parsed upload: validated fields, and the file part still to be read.
type Upload struct {
	Name     string
	Version  string
	Filename string
	// Expected are the declared MD5 and SHA-256 (lower-case hex; empty when not sent).
	Expected packages.Checksums
	Metadata Metadata
	// Content reads the file's bytes; it ends where the part ends.
	Content io.Reader
}

// singleFields may appear only once (or repeat the same value).
var singleFields = map[string]bool{":action": true, "protocol_version": true, "name": true, "version": true,
	"md5_digest": true, "sha256_digest": true, "requires_python": true}

// ParseUpload reads twine's `:action=file_upload` multipart form (the legacy PyPI upload API)
// from body, whose Content-Type is contentType: every field before the "content" file part is
// read (bounded by lim) and validated, and the returned Upload's Content reads that part. The
// file must come after the fields, as twine, poetry and flit send it. The filename must belong
// to the project named in the form.
func ParseUpload(body io.Reader, contentType string, lim Limits) (*Upload, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, invalid("body", "must be multipart/form-data")
	}
	mr := multipart.NewReader(body, params["boundary"])
	fields := map[string]string{}
	total, n := 0, 0
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return nil, invalid("content", "is missing: the form has no file part")
		}
		if err != nil {
			return nil, invalid("body", "is not a readable multipart form")
		}
		if n++; n > lim.MaxFields {
			return nil, invalid("body", "has too many form fields")
		}
		disp, dp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil || disp != "form-data" || dp["name"] == "" {
			return nil, invalid("body", "has a part without a form-data name")
		}
		name := dp["name"]
		if name == "content" {
			if _, ok := dp["filename"]; !ok {
				return nil, invalid("content", "must be a file")
			}
			u, err := uploadFrom(fields, dp["filename"])
			if err != nil {
				return nil, err
			}
			u.Content = part
			return u, nil
		}
		if _, ok := dp["filename"]; ok && name != "gpg_signature" {
			return nil, invalid("body", "has a file part other than content")
		}
		value, err := io.ReadAll(io.LimitReader(part, int64(lim.MaxField)+1))
		if err != nil {
			return nil, invalid("body", "is not a readable multipart form")
		}
		if len(value) > lim.MaxField {
			return nil, invalid("form field", "is too long")
		}
		if total += len(value) + len(name); total > lim.MaxMetadata {
			return nil, invalid("body", "has too much metadata")
		}
		if !singleFields[name] {
			if _, seen := fields[name]; !seen {
				fields[name] = string(value)
			}
			continue
		}
		if old, seen := fields[name]; seen && old != string(value) {
			return nil, invalid(name, "is given twice with different values")
		}
		fields[name] = string(value)
	}
}

// GitLab's stored lengths of the texts kept as metadata.
const (
	maxSummary     = 255
	maxKeywords    = 1024
	maxEmail       = 2048
	maxDescription = 4000
	maxShortField  = 128
)

// uploadFrom validates the fields read before the file.
func uploadFrom(fields map[string]string, filename string) (*Upload, error) {
	if a := fields[":action"]; a != "" && a != "file_upload" {
		return nil, invalid(":action", "must be file_upload")
	}
	if v := fields["protocol_version"]; v != "" && v != "1" {
		return nil, invalid("protocol_version", "must be 1")
	}
	u := &Upload{Name: fields["name"], Version: fields["version"], Filename: filename}
	if err := ValidateName(u.Name); err != nil {
		return nil, err
	}
	if err := ValidateVersion(u.Version); err != nil {
		return nil, err
	}
	if err := ValidateFilename(u.Filename); err != nil {
		return nil, err
	}
	if !belongs(u.Filename, u.Name) {
		return nil, invalid("file name", "must start with the package name and a -")
	}
	sums, err := packages.Checksums{MD5: strings.TrimSpace(fields["md5_digest"]), SHA256: strings.TrimSpace(fields["sha256_digest"])}.Validate()
	if err != nil {
		return nil, err
	}
	u.Expected = sums
	rp := strings.TrimSpace(fields["requires_python"])
	if len(rp) > MaxRequiresPythonLength {
		return nil, invalid("requires_python", "is too long")
	}
	for i := 0; i < len(rp); i++ {
		if rp[i] < 0x20 || rp[i] > 0x7e {
			return nil, invalid("requires_python", "must be printable ASCII")
		}
	}
	u.Metadata = Metadata{RequiresPython: rp,
		MetadataVersion:        text(fields["metadata_version"], maxShortField),
		Summary:                text(fields["summary"], maxSummary),
		Keywords:               text(fields["keywords"], maxKeywords),
		AuthorEmail:            text(fields["author_email"], maxEmail),
		DescriptionContentType: text(fields["description_content_type"], maxShortField),
		Description:            text(fields["description"], maxDescription)}
	return u, nil
}

// belongs reports whether filename's project (a prefix of its stem before a "-") is name.
func belongs(filename, name string) bool {
	want := Normalize(name)
	for _, p := range FilenameProjects(filename) {
		if p == want {
			return true
		}
	}
	return false
}

// text keeps at most max runes of s as valid UTF-8 without NULs.
func text(s string, max int) string { return packages.ClipText(s, max) }
