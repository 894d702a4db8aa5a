package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The pure, bounded parsers of the npm format: package names, request paths, versions, dist-tags
// and the `npm publish` document with its tarball. Every error is packages.ErrNotFound (no such
// route), packages.ErrTooLarge, or a *packages.ValidationError whose text never quotes input.

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// MaxNameLength is npm's limit on a package name.
const MaxNameLength = 214

// Name is a validated npm package name: "@scope/base" or "base".
type Name struct {
	Scope string // without "@"; empty for an unscoped package
	Base  string
}

// String is the name as npm writes it.
func (n Name) String() string {
	if n.Scope == "" {
		return n.Base
	}
	return "@" + n.Scope + "/" + n.Base
}

// Filename is the stored tarball name of version v: "<base>-<v>.tgz", as the npm registry
// names it (the scope is the directory, not part of the file name).
func (n Name) Filename(v string) string { return n.Base + "-" + v + ".tgz" }

// ParseName validates an npm package name. Scopes follow GitLab's namespace paths (so an
// instance-level scope can be a top-level group); names follow npm's rules for new packages
// plus GitLab's allowance for capitals: letters, digits and - . _ ~ +, not starting with . or _
// (nor -, which would read as a route segment), at most 214 characters in all.
func ParseName(s string) (Name, error) {
	if s == "" || len(s) > MaxNameLength {
		return Name{}, invalid("package name", "must be 1 to 214 characters")
	}
	var n Name
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		scope, base, found := strings.Cut(rest, "/")
		if !found {
			return Name{}, invalid("package name", "must be @scope/name when it starts with @")
		}
		if !validScope(scope) {
			return Name{}, invalid("package scope", "may contain only letters, digits, _ . - and must start with a letter, digit or _")
		}
		n.Scope, s = scope, base
	}
	if !validBase(s) {
		return Name{}, invalid("package name", "may contain only letters, digits and - . _ ~ + and must start with a letter, digit or ~")
	}
	n.Base = s
	return n, nil
}

func validScope(s string) bool {
	if s == "" || s == "." || s == ".." || strings.HasSuffix(s, ".") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'))) {
			return false
		}
	}
	return true
}

func validBase(s string) bool {
	if s == "" || s == "node_modules" || s == "favicon.ico" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '~' || (i > 0 && (c == '.' || c == '_' || c == '-' || c == '+'))) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// ValidVersion reports whether v is a strict SemVer 2.0.0 version (what `npm publish` sends
// after normalising package.json).
func ValidVersion(v string) bool {
	if v == "" || len(v) > packages.MaxVersionLength {
		return false
	}
	core, build, hasBuild := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return false
	}
	for _, n := range nums {
		if !numericID(n) {
			return false
		}
	}
	if hasPre && !identifiers(pre, true) {
		return false
	}
	if hasBuild && !identifiers(build, false) {
		return false
	}
	return true
}

// numericID: digits, no leading zero.
func numericID(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// identifiers: dot-separated [0-9A-Za-z-]+; in a pre-release, numeric ones have no leading zero.
func identifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !isAlnum(c) && c != '-' {
				return false
			}
			digits = digits && c >= '0' && c <= '9'
		}
		if pre && digits && !numericID(id) {
			return false
		}
	}
	return true
}

// ValidateTag checks a dist-tag: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, and not a version (npm would
// read it as one).
func ValidateTag(t string) error {
	if t == "" || len(t) > packages.MaxTagLength {
		return invalid("dist-tag", "must be 1 to 128 characters")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(isAlnum(c) || (i > 0 && (c == '.' || c == '_' || c == '-'))) {
			return invalid("dist-tag", "may contain only letters, digits and . _ - and must start with a letter or digit")
		}
	}
	if ValidVersion(t) || ValidVersion(strings.TrimPrefix(t, "v")) {
		return invalid("dist-tag", "must not be a version")
	}
	return nil
}

// level says where an endpoint sits.
type level int

const (
	levelProject  level = iota + 1 // /api/v4/projects/:id/packages/npm/…
	levelGroup                     // /api/v4/groups/:id/-/packages/npm/…
	levelInstance                  // /api/v4/packages/npm/…
)

func (l level) String() string {
	return [...]string{"", "project", "group", "instance"}[l]
}

// kind is an endpoint of the npm registry API.
type kind int

const (
	kindPackage  kind = iota + 1 // <name>: metadata (GET), publish (PUT)
	kindTarball                  // <name>/-/<file>.tgz
	kindDistTags                 // -/package/<name>/dist-tags
	kindDistTag                  // -/package/<name>/dist-tags/<tag>
)

func (k kind) String() string {
	return [...]string{"", "package", "tarball", "dist-tags", "dist-tag"}[k]
}

// Route is a parsed npm request path.
type Route struct {
	level level
	kind  kind
	// Ref is the project's or group's :id (unescaped); empty at the instance level.
	Ref string
	// Prefix is the escaped path up to and including "/packages/npm", for tarball URLs.
	Prefix   string
	Name     Name
	Filename string // kindTarball
	Version  string // kindTarball: the version the filename names
	Tag      string // kindDistTag
}

const maxPathLength = 4096

// ParsePath parses an escaped request path (r.URL.EscapedPath()) under one of the three npm
// prefixes. Names may come as one segment ("@scope%2fname", as npm sends them) or two
// ("@scope/name"); tarballs as "<name>/-/<base>-<version>.tgz" or GitLab's
// "<name>/-/@scope/<base>-<version>.tgz".
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	var rt Route
	var rest string
	switch {
	case strings.HasPrefix(escaped, "/api/v4/projects/"):
		id, tail, ok := strings.Cut(strings.TrimPrefix(escaped, "/api/v4/projects/"), "/")
		if !ok || !strings.HasPrefix(tail, "packages/npm/") {
			return Route{}, packages.ErrNotFound
		}
		rt.level, rt.Ref, rest = levelProject, id, strings.TrimPrefix(tail, "packages/npm/")
	case strings.HasPrefix(escaped, "/api/v4/groups/"):
		id, tail, ok := strings.Cut(strings.TrimPrefix(escaped, "/api/v4/groups/"), "/")
		if !ok || !strings.HasPrefix(tail, "-/packages/npm/") {
			return Route{}, packages.ErrNotFound
		}
		rt.level, rt.Ref, rest = levelGroup, id, strings.TrimPrefix(tail, "-/packages/npm/")
	case strings.HasPrefix(escaped, "/api/v4/packages/npm/"):
		rt.level, rest = levelInstance, strings.TrimPrefix(escaped, "/api/v4/packages/npm/")
	default:
		return Route{}, packages.ErrNotFound
	}
	rt.Prefix = strings.TrimSuffix(escaped[:len(escaped)-len(rest)], "/")
	if rt.level != levelInstance {
		ref, err := url.PathUnescape(rt.Ref)
		if err != nil || ref == "" {
			return Route{}, packages.ErrNotFound
		}
		rt.Ref = ref
	}
	segs := strings.Split(rest, "/")
	var err error
	switch {
	case len(segs) >= 4 && segs[0] == "-" && segs[1] == "package":
		// -/package/<name…>/dist-tags[/<tag>]
		segs = segs[2:]
		if segs[len(segs)-1] == "dist-tags" {
			rt.kind, segs = kindDistTags, segs[:len(segs)-1]
		} else if len(segs) >= 3 && segs[len(segs)-2] == "dist-tags" {
			tag, uerr := url.PathUnescape(segs[len(segs)-1])
			if uerr != nil {
				return Route{}, invalid("dist-tag", "is not a valid URL path segment")
			}
			if err := ValidateTag(tag); err != nil {
				return Route{}, err
			}
			rt.kind, rt.Tag, segs = kindDistTag, tag, segs[:len(segs)-2]
		} else {
			return Route{}, packages.ErrNotFound
		}
		if rt.Name, err = nameFromSegments(segs); err != nil {
			return Route{}, err
		}
	default:
		dash := -1
		for i, s := range segs {
			if s == "-" {
				dash = i
				break
			}
		}
		if dash < 0 {
			rt.kind = kindPackage
			if rt.Name, err = nameFromSegments(segs); err != nil {
				return Route{}, err
			}
			return rt, nil
		}
		rt.kind = kindTarball
		if rt.Name, err = nameFromSegments(segs[:dash]); err != nil {
			return Route{}, err
		}
		if err := rt.parseTarball(segs[dash+1:]); err != nil {
			return Route{}, err
		}
	}
	return rt, nil
}

// nameFromSegments reads a package name from one or two escaped segments.
func nameFromSegments(segs []string) (Name, error) {
	if len(segs) == 0 || len(segs) > 2 {
		return Name{}, packages.ErrNotFound
	}
	parts := make([]string, len(segs))
	for i, s := range segs {
		v, err := url.PathUnescape(s)
		if err != nil {
			return Name{}, invalid("package name", "is not a valid URL path segment")
		}
		parts[i] = v
	}
	if len(parts) == 2 && !strings.HasPrefix(parts[0], "@") {
		return Name{}, packages.ErrNotFound
	}
	return ParseName(strings.Join(parts, "/"))
}

// parseTarball reads "<base>-<version>.tgz", optionally preceded by the "@scope" segment.
func (rt *Route) parseTarball(segs []string) error {
	switch {
	case len(segs) == 2 && rt.Name.Scope != "" && segs[0] == "@"+rt.Name.Scope:
		segs = segs[1:]
	case len(segs) != 1:
		return packages.ErrNotFound
	}
	file, err := url.PathUnescape(segs[0])
	if err != nil {
		return invalid("file name", "is not a valid URL path segment")
	}
	if i := strings.LastIndexByte(file, '/'); i >= 0 && rt.Name.Scope != "" && file[:i] == "@"+rt.Name.Scope {
		file = file[i+1:] // "@scope%2fbase-1.0.0.tgz"
	}
	v, ok := strings.CutPrefix(file, rt.Name.Base+"-")
	if !ok {
		return packages.ErrNotFound
	}
	v, ok = strings.CutSuffix(v, ".tgz")
	if !ok || !ValidVersion(v) {
		return packages.ErrNotFound
	}
	rt.Filename, rt.Version = file, v
	return nil
}

// Limits bound ParsePublish.
type Limits struct {
	// MaxTarball is the largest decoded tarball (the format's upload limit).
	MaxTarball int64
	// MaxUnpacked bounds the bytes read out of the gzip stream (a gzip bomb stops here).
	MaxUnpacked int64
	// MaxPackageJSON bounds package/package.json inside the tarball.
	MaxPackageJSON int64
}

// maxDocument is the room a publish document may take besides its base64 tarball: npm puts the
// readme and the whole package.json in it.
const maxDocument = 8 << 20

// DefaultLimits are the limits for a tarball limit of maxTarball bytes.
func DefaultLimits(maxTarball int64) Limits {
	return Limits{MaxTarball: maxTarball, MaxUnpacked: max(4*maxTarball, 64<<20), MaxPackageJSON: 1 << 20}
}

// MaxBody is the largest publish document accepted: the base64 of MaxTarball plus room for
// the JSON around it.
func (l Limits) MaxBody() int64 { return (l.MaxTarball+2)/3*4 + maxDocument }

// Publish is a parsed, verified `npm publish` request.
type Publish struct {
	Name    Name
	Version string
	// Manifest is the version's package.json as published (readme and dist removed), stored as
	// the version's metadata and served back in the packument.
	Manifest json.RawMessage
	// Tags are the dist-tags to point at the version.
	Tags []string
	// Tarball is the decoded .tgz; Filename its stored name.
	Tarball  []byte
	Filename string
	// Expected are the checksums npm declared (shasum: SHA-1; integrity: SHA-512), verified.
	Expected packages.Checksums
}

type attachment struct {
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
	Length      int64  `json:"length"`
}

type publishDoc struct {
	ID          string                     `json:"_id"`
	Name        string                     `json:"name"`
	DistTags    map[string]string          `json:"dist-tags"`
	Versions    map[string]json.RawMessage `json:"versions"`
	Attachments map[string]attachment      `json:"_attachments"`
}

type manifestHead struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dist    struct {
		Shasum    string `json:"shasum"`
		Integrity string `json:"integrity"`
	} `json:"dist"`
}

// ParsePublish reads an `npm publish` document for package want from r: exactly one version,
// whose manifest names want and that version; exactly one attachment, the base64 tarball named
// "<name>-<version>.tgz", whose length, shasum and integrity match; and the tarball must be a
// gzip'd tar holding package/package.json with the same name and version.
func ParsePublish(r io.Reader, want Name, lim Limits) (*Publish, error) {
	raw, err := io.ReadAll(io.LimitReader(r, lim.MaxBody()+1))
	if err != nil {
		return nil, invalid("body", "could not be read")
	}
	if int64(len(raw)) > lim.MaxBody() {
		return nil, fmt.Errorf("%w: the publish document is larger than the npm limit allows", packages.ErrTooLarge)
	}
	var doc publishDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, invalid("body", "is not an npm publish document (JSON)")
	}
	name := want.String()
	if doc.Name != name || (doc.ID != "" && doc.ID != name) {
		return nil, invalid("name", "in the document does not match the URL")
	}
	if len(doc.Versions) != 1 {
		return nil, invalid("versions", "must hold exactly one version")
	}
	var version string
	var manifest json.RawMessage
	for v, m := range doc.Versions {
		version, manifest = v, m
	}
	if !ValidVersion(version) {
		return nil, invalid("version", "must be a semantic version (semver.org)")
	}
	var head manifestHead
	if err := json.Unmarshal(manifest, &head); err != nil {
		return nil, invalid("versions", "must map the version to a package.json object")
	}
	if head.Name != name || head.Version != version {
		return nil, invalid("versions", "manifest's name and version do not match the document")
	}
	p := &Publish{Name: want, Version: version, Filename: want.Filename(version)}
	if p.Manifest, err = cleanManifest(manifest); err != nil {
		return nil, err
	}
	if p.Tags, err = distTags(doc.DistTags, version); err != nil {
		return nil, err
	}
	if len(doc.Attachments) != 1 {
		return nil, invalid("_attachments", "must hold exactly one tarball")
	}
	for key, a := range doc.Attachments {
		if key != name+"-"+version+".tgz" {
			return nil, invalid("_attachments", "must be named <name>-<version>.tgz")
		}
		if int64(base64.StdEncoding.DecodedLen(len(a.Data))) > lim.MaxTarball+2 {
			return nil, fmt.Errorf("%w: the tarball is larger than the npm limit of %d bytes", packages.ErrTooLarge, lim.MaxTarball)
		}
		if p.Tarball, err = base64.StdEncoding.DecodeString(a.Data); err != nil {
			return nil, invalid("_attachments", "data must be base64")
		}
		if a.Length != 0 && a.Length != int64(len(p.Tarball)) {
			return nil, invalid("_attachments", "length does not match the data")
		}
	}
	if int64(len(p.Tarball)) > lim.MaxTarball {
		return nil, fmt.Errorf("%w: the tarball is larger than the npm limit of %d bytes", packages.ErrTooLarge, lim.MaxTarball)
	}
	if len(p.Tarball) == 0 {
		return nil, invalid("_attachments", "tarball is empty")
	}
	if p.Expected, err = verifyDist(head.Dist.Shasum, head.Dist.Integrity, p.Tarball); err != nil {
		return nil, err
	}
	if err := checkTarball(p.Tarball, name, version, lim); err != nil {
		return nil, err
	}
	return p, nil
}

// strippedFields are left out of stored manifests: npm serves the readme at the package level
// and Gatehouse writes dist itself.
var strippedFields = []string{"readme", "readmeFilename", "dist", "_attachments"}

func cleanManifest(m json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(m, &fields); err != nil {
		return nil, invalid("versions", "must map the version to a package.json object")
	}
	for _, f := range strippedFields {
		delete(fields, f)
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, invalid("versions", "manifest cannot be stored")
	}
	if len(out) > packages.MaxMetadataSize {
		return nil, invalid("versions", "manifest is too large")
	}
	return out, nil
}

// distTags returns the tags that point at version: every tag in the document must (npm sends
// {"<tag>": "<version>"}); none means "latest".
func distTags(tags map[string]string, version string) ([]string, error) {
	if len(tags) == 0 {
		return []string{"latest"}, nil
	}
	if len(tags) > packages.MaxTagsPerUpload {
		return nil, invalid("dist-tags", "are too many")
	}
	out := make([]string, 0, len(tags))
	for t, v := range tags {
		if err := ValidateTag(t); err != nil {
			return nil, err
		}
		if v != version {
			return nil, invalid("dist-tags", "must point at the version being published")
		}
		out = append(out, t)
	}
	return out, nil
}

// verifyDist checks the tarball against the manifest's shasum (SHA-1 hex) and integrity
// (Subresource Integrity: sha512-/sha1-<base64>, several allowed). At least one must be given;
// every one that is given must match. It returns the verified checksums as hex.
func verifyDist(shasum, integrity string, tarball []byte) (packages.Checksums, error) {
	sha1Sum := sha1.Sum(tarball)
	sha512Sum := sha512.Sum512(tarball)
	var out packages.Checksums
	if shasum != "" {
		if !strings.EqualFold(shasum, hex.EncodeToString(sha1Sum[:])) {
			return out, invalid("dist.shasum", "does not match the tarball")
		}
		out.SHA1 = hex.EncodeToString(sha1Sum[:])
	}
	if len(integrity) > 4096 {
		return out, invalid("dist.integrity", "is too long")
	}
	for _, sri := range strings.Fields(integrity) {
		alg, b64, ok := strings.Cut(sri, "-")
		if !ok {
			return out, invalid("dist.integrity", "is not Subresource Integrity")
		}
		b64, _, _ = strings.Cut(b64, "?") // SRI options
		var want []byte
		switch alg {
		case "sha512":
			want = sha512Sum[:]
			out.SHA512 = hex.EncodeToString(want)
		case "sha1":
			want = sha1Sum[:]
			out.SHA1 = hex.EncodeToString(want)
		default:
			continue // an algorithm we do not compute is neither proof nor disproof
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || !bytes.Equal(got, want) {
			return packages.Checksums{}, invalid("dist.integrity", "does not match the tarball")
		}
	}
	if out.SHA1 == "" && out.SHA512 == "" {
		return out, invalid("dist", "must give the tarball's shasum or integrity")
	}
	return out, nil
}

// errTooMuch stops reading a gzip stream past MaxUnpacked.
var errTooMuch = errors.New("unpacked too much")

type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Exactly at the limit is fine if the stream ends here.
		var one [1]byte
		if n, err := b.r.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, errTooMuch
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// checkTarball verifies that data is a gzip'd tar whose package/package.json names name and
// version, that no entry escapes the package directory, and that the whole stream (CRC
// included) is intact, reading at most lim.MaxUnpacked bytes.
func checkTarball(data []byte, name, version string, lim Limits) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return invalid("tarball", "is not gzip-compressed")
	}
	gz.Multistream(false)
	br := &boundedReader{r: gz, left: lim.MaxUnpacked}
	tr := tar.NewReader(br)
	found := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errTooMuch) {
			return invalid("tarball", "unpacks to more than the limit")
		}
		if err != nil {
			return invalid("tarball", "is not a valid tar archive")
		}
		clean := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if strings.HasPrefix(h.Name, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsRune(h.Name, 0) {
			return invalid("tarball", "has an entry outside the package directory")
		}
		if clean != "package/package.json" || h.Typeflag != tar.TypeReg {
			continue
		}
		if found {
			return invalid("tarball", "has package/package.json twice")
		}
		found = true
		if h.Size > lim.MaxPackageJSON {
			return invalid("tarball", "package/package.json is too large")
		}
		b, err := io.ReadAll(io.LimitReader(tr, lim.MaxPackageJSON+1))
		if errors.Is(err, errTooMuch) {
			return invalid("tarball", "unpacks to more than the limit")
		}
		if err != nil {
			return invalid("tarball", "is not a valid tar archive")
		}
		var pj struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if json.Unmarshal(b, &pj) != nil {
			return invalid("tarball", "package/package.json is not JSON")
		}
		if pj.Name != name || pj.Version != version {
			return invalid("tarball", "package/package.json does not match the published name and version")
		}
	}
	// Drain what follows the tar's end marker, so gzip checks its CRC and length.
	if _, err := io.Copy(io.Discard, br); err != nil {
		if errors.Is(err, errTooMuch) {
			return invalid("tarball", "unpacks to more than the limit")
		}
		return invalid("tarball", "is corrupt")
	}
	if !found {
		return invalid("tarball", "has no package/package.json")
	}
	return nil
}
