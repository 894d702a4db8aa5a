package maven

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The pure, bounded parsers of the Maven format: request paths (coordinates, file names,
// checksum files), checksum-file bodies and maven-metadata.xml. Every error is
// packages.ErrNotFound (no such route), packages.ErrTooLarge, or a *packages.ValidationError
// whose text never quotes input.

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// Limits on what the parser looks at.
const (
	// maxPathLength bounds the escaped request path.
	maxPathLength = 4096
	// maxSegments bounds the Maven path's segments (groupId parts, artifactId, version, file).
	maxSegments = 64
	// maxSegmentLength bounds one groupId part or the artifactId.
	maxSegmentLength = 128
	// MaxChecksumBody bounds an uploaded checksum file (hex digest, optionally followed by a
	// file name, as some tools write).
	MaxChecksumBody = 1024
	// MaxMetadataSize bounds an uploaded maven-metadata.xml (a release listing thousands of
	// versions stays well under it).
	MaxMetadataSize = 4 << 20
)

// MetadataFile is the name of Maven's repository metadata document.
const MetadataFile = "maven-metadata.xml"

// MetadataVersion is the version under which an artifact's own maven-metadata.xml (the one
// listing its versions, at groupId/artifactId/maven-metadata.xml) is stored. GitLab stores it in a
// package without a version; the core needs one, so it is a string no Maven version can be
// ('@' is outside Maven's version characters), and the version is hidden from listings.
const MetadataVersion = "@maven-metadata"

// level says where an endpoint sits.
type level int

const (
	levelProject  level = iota + 1 // /api/v4/projects/:id/packages/maven/…
	levelGroup                     // /api/v4/groups/:id/-/packages/maven/…
	levelInstance                  // /api/v4/packages/maven/…
)

func (l level) String() string {
	switch l {
	case levelProject:
		return "project"
	case levelGroup:
		return "group"
	case levelInstance:
		return "instance"
	}
	return "unknown"
}

// Checksum names the digest a checksum file (<file>.md5, .sha1, .sha256, .sha512) carries.
type Checksum string

// The checksum kinds Maven clients read and write; empty means the route is the file itself.
const (
	NoChecksum Checksum = ""
	MD5        Checksum = "md5"
	SHA1       Checksum = "sha1"
	SHA256     Checksum = "sha256"
	SHA512     Checksum = "sha512"
)

// hexLen is the digest's length in hex.
func (c Checksum) hexLen() int {
	switch c {
	case MD5:
		return 32
	case SHA1:
		return 40
	case SHA256:
		return 64
	case SHA512:
		return 128
	}
	return 0
}

// Of returns this checksum of sums.
func (c Checksum) Of(sums packages.Checksums) string {
	switch c {
	case MD5:
		return sums.MD5
	case SHA1:
		return sums.SHA1
	case SHA256:
		return sums.SHA256
	case SHA512:
		return sums.SHA512
	}
	return ""
}

var checksumKinds = []Checksum{MD5, SHA1, SHA256, SHA512}

// Route is a parsed Maven request path. Every field is unescaped and validated.
type Route struct {
	level level
	// Ref is the project's or group's :id (a numeric id or a full path); empty at the instance
	// level.
	Ref string
	// Name is the package: the groupId as a path and the artifactId, "com/example/app". For a
	// maven-metadata.xml outside a SNAPSHOT version it is the whole directory (GitLab's rule), so
	// a groupId's plugin metadata and an artifact's version listing are both found by path.
	Name string
	// Version is the version directory, or MetadataVersion for an artifact's maven-metadata.xml.
	Version string
	// File is the stored file's name: for a checksum route, the file whose checksum it is.
	File string
	// Checksum is set when the route is a checksum file of File.
	Checksum Checksum
}

// Metadata reports whether the route is a maven-metadata.xml (or one of its checksums).
func (rt Route) Metadata() bool { return rt.File == MetadataFile }

// GroupID is the dotted groupId of the package ("com.example"); for an artifact-level
// maven-metadata.xml it is everything above the artifactId.
func (rt Route) GroupID() string {
	i := strings.LastIndexByte(rt.Name, '/')
	return strings.ReplaceAll(rt.Name[:i], "/", ".")
}

// ArtifactID is the package's artifactId (the last component of Name).
func (rt Route) ArtifactID() string { return rt.Name[strings.LastIndexByte(rt.Name, '/')+1:] }

// Path is the Maven directory of the route: Name, followed by the version unless the route is
// an artifact-level metadata file.
func (rt Route) Path() string {
	if rt.Version == MetadataVersion {
		return rt.Name
	}
	return rt.Name + "/" + rt.Version
}

// prefixes of the three levels, before the Maven path.
const (
	projectPrefix  = "/api/v4/projects/"
	groupPrefix    = "/api/v4/groups/"
	instancePrefix = "/api/v4/packages/maven/"
	projectInfix   = "/packages/maven/"
	groupInfix     = "/-/packages/maven/"
)

// ParsePath parses an escaped request path (r.URL.EscapedPath()):
//
//	/api/v4/projects/:id/packages/maven/<groupId path>/<artifactId>/<version>/<file>[.<checksum>]
//	/api/v4/groups/:id/-/packages/maven/…
//	/api/v4/packages/maven/…
//
// and <groupId path>/<artifactId>/maven-metadata.xml[.<checksum>] for an artifact's metadata. A
// path of another shape is packages.ErrNotFound; bad coordinates, versions or file names are a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	var rt Route
	var rest string
	switch {
	case strings.HasPrefix(escaped, instancePrefix):
		rt.level, rest = levelInstance, escaped[len(instancePrefix):]
	case strings.HasPrefix(escaped, projectPrefix):
		ref, tail, ok := strings.Cut(escaped[len(projectPrefix):], "/")
		if !ok || !strings.HasPrefix("/"+tail, projectInfix) {
			return Route{}, packages.ErrNotFound
		}
		rt.level, rt.Ref, rest = levelProject, ref, tail[len(projectInfix)-1:]
	case strings.HasPrefix(escaped, groupPrefix):
		ref, tail, ok := strings.Cut(escaped[len(groupPrefix):], "/")
		if !ok || !strings.HasPrefix("/"+tail, groupInfix) {
			return Route{}, packages.ErrNotFound
		}
		rt.level, rt.Ref, rest = levelGroup, ref, tail[len(groupInfix)-1:]
	default:
		return Route{}, packages.ErrNotFound
	}
	if rt.level != levelInstance {
		ref, err := url.PathUnescape(rt.Ref)
		if err != nil || ref == "" || len(ref) > packages.MaxNameLength {
			return Route{}, packages.ErrNotFound
		}
		rt.Ref = ref
	}
	parts := strings.Split(rest, "/")
	if len(parts) > maxSegments {
		return Route{}, invalid("path", "has too many components")
	}
	if len(parts) < 3 {
		return Route{}, packages.ErrNotFound
	}
	segs := make([]string, len(parts))
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return Route{}, invalid("path", "is not a valid URL path")
		}
		segs[i] = s
	}
	file := segs[len(segs)-1]
	if err := validateFilename(file); err != nil {
		return Route{}, err
	}
	rt.File, rt.Checksum = splitChecksum(file)
	dirs := segs[:len(segs)-1]
	// GitLab's rule: a maven-metadata.xml outside a SNAPSHOT version describes the directory
	// it is in (an artifact's versions, or a groupId's plugins).
	if rt.File == MetadataFile && !strings.HasSuffix(dirs[len(dirs)-1], "-SNAPSHOT") {
		if err := validateCoordinates(dirs); err != nil {
			return Route{}, err
		}
		rt.Name, rt.Version = strings.Join(dirs, "/"), MetadataVersion
		return rt, nil
	}
	if len(dirs) < 3 {
		return Route{}, invalid("path", "must be groupId/artifactId/version/file")
	}
	coords, version := dirs[:len(dirs)-1], dirs[len(dirs)-1]
	if err := validateCoordinates(coords); err != nil {
		return Route{}, err
	}
	if err := ValidateVersion(version); err != nil {
		return Route{}, err
	}
	rt.Name, rt.Version = strings.Join(coords, "/"), version
	if rt.File != MetadataFile && !strings.HasPrefix(rt.File, coords[len(coords)-1]+"-") {
		return Route{}, invalid("file name", "must start with the artifactId and a dash")
	}
	if len(rt.Name) > packages.MaxNameLength {
		return Route{}, invalid("package name", "is too long")
	}
	return rt, nil
}

// splitChecksum splits "<file>.<checksum>" into the file and the checksum kind, or returns file
// itself when it is not a checksum file.
func splitChecksum(file string) (string, Checksum) {
	for _, c := range checksumKinds {
		if base, ok := strings.CutSuffix(file, "."+string(c)); ok && base != "" {
			return base, c
		}
	}
	return file, NoChecksum
}

// validateCoordinates checks the groupId parts and the artifactId: at least two components, each
// [A-Za-z0-9_.-]+ (GitLab's maven_app_group_regex and maven_app_name_regex), neither "." nor
// "..", and no "..".
func validateCoordinates(parts []string) error {
	if len(parts) < 2 {
		return invalid("path", "must be groupId/artifactId/version/file")
	}
	n := 0
	for _, p := range parts {
		n += len(p) + 1
		if err := checkSegment(p, "groupId or artifactId", maxSegmentLength, func(c byte) bool {
			return isWord(c) || c == '.' || c == '-'
		}); err != nil {
			return err
		}
	}
	if n > packages.MaxNameLength {
		return invalid("package name", "is too long")
	}
	return nil
}

// ValidateVersion checks a Maven version: [A-Za-z0-9_.+-]+ without "..", as GitLab's
// maven_version_regex.
func ValidateVersion(v string) error {
	return checkSegment(v, "version", packages.MaxVersionLength, func(c byte) bool {
		return isWord(c) || c == '.' || c == '-' || c == '+'
	})
}

// validateFilename checks a file name: [A-Za-z0-9_.+-]+ without "..", as GitLab's
// maven_file_name_regex.
func validateFilename(f string) error {
	return checkSegment(f, "file name", packages.MaxFilenameLength, func(c byte) bool {
		return isWord(c) || c == '.' || c == '-' || c == '+'
	})
}

func isWord(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
}

func checkSegment(s, field string, max int, allowed func(byte) bool) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > max:
		return invalid(field, "is too long")
	case strings.Contains(s, ".."):
		return invalid(field, "must not contain ..")
	case s == ".":
		return invalid(field, "must not be .")
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return invalid(field, "has a character Maven coordinates do not allow")
		}
	}
	return nil
}

// ParseChecksum reads an uploaded checksum file of kind c: the hex digest, optionally followed by
// white space and a file name (as sha1sum writes), at most MaxChecksumBody bytes. It returns the
// digest in lower case.
func ParseChecksum(r io.Reader, c Checksum) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxChecksumBody+1))
	if err != nil {
		return "", invalid("checksum", "upload was interrupted")
	}
	if len(b) > MaxChecksumBody {
		return "", invalid("checksum", "file is too large")
	}
	fields := bytes.Fields(b)
	if len(fields) == 0 {
		return "", invalid(string(c), "checksum file is empty")
	}
	sum := strings.ToLower(string(fields[0]))
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != c.hexLen() {
		return "", invalid(string(c), "checksum must be hex-encoded")
	}
	return sum, nil
}

// Metadata is what Gatehouse reads from an uploaded maven-metadata.xml.
type Metadata struct {
	GroupID    string
	ArtifactID string
	Version    string
	// Versions are the versions an artifact-level document lists.
	Versions []string
}

type metadataXML struct {
	XMLName    xml.Name `xml:"metadata"`
	GroupID    string   `xml:"groupId"`
	ArtifactID string   `xml:"artifactId"`
	Version    string   `xml:"version"`
	Versioning struct {
		Versions []string `xml:"versions>version"`
	} `xml:"versioning"`
}

// ParseMetadata reads a maven-metadata.xml for route rt (at most max bytes) and checks that the
// groupId, artifactId and version it declares match the path: a document for one artifact
// cannot be stored under another. A groupId's plugin listing declares none of them. It returns
// the document's bytes, to store as they are.
// Errors: packages.ErrTooLarge past max, *packages.ValidationError for a malformed or
// mismatched document.
func ParseMetadata(r io.Reader, rt Route, max int64) (Metadata, []byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return Metadata{}, nil, invalid("maven-metadata.xml", "upload was interrupted")
	}
	if int64(len(b)) > max {
		return Metadata{}, nil, packages.ErrTooLarge
	}
	var doc metadataXML
	dec := xml.NewDecoder(bytes.NewReader(b))
	// Only UTF-8 (and its ASCII subset) documents: no charset conversion of untrusted input.
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "us-ascii") {
			return in, nil
		}
		return nil, errors.New("unsupported charset")
	}
	if err := dec.Decode(&doc); err != nil {
		return Metadata{}, nil, invalid("maven-metadata.xml", "is not a Maven metadata document")
	}
	md := Metadata{GroupID: strings.TrimSpace(doc.GroupID), ArtifactID: strings.TrimSpace(doc.ArtifactID),
		Version: strings.TrimSpace(doc.Version)}
	for _, v := range doc.Versioning.Versions {
		md.Versions = append(md.Versions, strings.TrimSpace(v))
	}
	if (md.GroupID != "" && md.GroupID != rt.GroupID()) || (md.ArtifactID != "" && md.ArtifactID != rt.ArtifactID()) {
		return Metadata{}, nil, invalid("maven-metadata.xml", "names another groupId or artifactId than its path")
	}
	if rt.Version != MetadataVersion && md.Version != "" && md.Version != rt.Version {
		return Metadata{}, nil, invalid("maven-metadata.xml", "names another version than its path")
	}
	return md, b, nil
}
