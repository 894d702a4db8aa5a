// Package helm serves GitLab's Helm chart repository (docs/helm.md): one repository per project
// and channel, at
//
//	POST /api/v4/projects/:id/packages/helm/api/:channel/charts            (multipart field "chart")
//	GET  /api/v4/projects/:id/packages/helm/:channel/index.yaml
//	GET  /api/v4/projects/:id/packages/helm/:channel/charts/:file_name.tgz
//
// A chart is stored as the package named by its Chart.yaml, at its version, in a file per
// channel ("<channel>@<name>-<version>.tgz"), so the same version can live in several channels
// as GitLab allows; uploading it again to a channel replaces that channel's file (GitLab: the
// latest upload wins).
package helm

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// The pure, bounded parsers of the Helm format: request paths, channels, chart names and
// versions, the upload form and the chart archive with its Chart.yaml. Every error is
// packages.ErrNotFound (no such route), packages.ErrTooLarge, or a *packages.ValidationError
// whose text never quotes input.

func invalid(field, reason string) error {
	return &packages.ValidationError{Field: field, Reason: reason}
}

// maxPathLength bounds the escaped request path the parser looks at.
const maxPathLength = 4096

// kind is what a path addresses.
type kind int

const (
	kindIndex  kind = iota + 1 // :channel/index.yaml
	kindChart                  // :channel/charts/:file_name.tgz
	kindUpload                 // api/:channel/charts
)

// Route is a parsed Helm path. Every field is unescaped and validated.
type Route struct {
	// Ref is the project's :id, numeric or a full path.
	Ref string
	// Prefix is the escaped path up to and including "/packages/helm": the index's
	// serverInfo.contextPath, from which helm cm-push derives its upload URL.
	Prefix  string
	Channel string
	// File is the chart file a download names, and Candidates the charts it may be.
	File       string
	Candidates []Candidate
	kind       kind
}

// ParsePath parses an escaped request path (r.URL.EscapedPath()). A path of another shape is
// packages.ErrNotFound; a channel or file name that breaks GitLab's rules is a
// *packages.ValidationError.
func ParsePath(escaped string) (Route, error) {
	if len(escaped) > maxPathLength {
		return Route{}, packages.ErrNotFound
	}
	rest, ok := strings.CutPrefix(escaped, "/api/v4/projects/")
	if !ok {
		return Route{}, packages.ErrNotFound
	}
	id, rest, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(rest, "packages/helm/") {
		return Route{}, packages.ErrNotFound
	}
	rest = strings.TrimPrefix(rest, "packages/helm/")
	var rt Route
	rt.Prefix = escaped[:len(escaped)-len(rest)-1]
	ref, err := url.PathUnescape(id)
	if err != nil || ref == "" {
		return Route{}, packages.ErrNotFound
	}
	rt.Ref = ref
	segs := strings.Split(rest, "/")
	var channel string
	switch {
	case len(segs) == 2 && segs[1] == "index.yaml":
		rt.kind, channel = kindIndex, segs[0]
	case len(segs) == 3 && segs[0] == "api" && segs[2] == "charts":
		rt.kind, channel = kindUpload, segs[1]
	case len(segs) == 3 && segs[1] == "charts":
		rt.kind, channel = kindChart, segs[0]
		file, err := url.PathUnescape(segs[2])
		if err != nil {
			return Route{}, invalid("file name", "is not a valid URL path segment")
		}
		if rt.Candidates, err = ParseFilename(file); err != nil {
			return Route{}, err
		}
		rt.File = file
	default:
		return Route{}, packages.ErrNotFound
	}
	if rt.Channel, err = url.PathUnescape(channel); err != nil {
		return Route{}, invalid("channel", "is not a valid URL path segment")
	}
	if err := ValidateChannel(rt.Channel); err != nil {
		return Route{}, err
	}
	return rt, nil
}

// Names are bounded well below the core's limits: "<channel>@<name>-<version>.tgz" must fit
// packages.MaxFilenameLength.
const (
	maxChannelLength = 63
	maxNameLength    = 120
	maxVersionLength = 64
)

// ValidateChannel checks a channel as GitLab's helm_channel_regex does: letters and digits,
// each optionally followed by one of . - _, not ending with one of them.
func ValidateChannel(s string) error {
	if !wordsWithSeparators(s, maxChannelLength) {
		return invalid("channel", "may contain only letters, digits and single . - _ between them")
	}
	return nil
}

// ValidateName checks a chart name: letters and digits with single . - _ between them (Helm's
// own rule for new charts is stricter: lower case and -).
func ValidateName(s string) error {
	if !wordsWithSeparators(s, maxNameLength) {
		return invalid("chart name", "may contain only letters, digits and single . - _ between them")
	}
	return nil
}

func wordsWithSeparators(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	sep := true // no separator first
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
			sep = false
		case (c == '.' || c == '-' || c == '_') && !sep:
			sep = true
		default:
			return false
		}
	}
	return !sep
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// ValidateVersion checks a chart version: SemVer 2 as Helm reads it (an optional "v", one to
// three numbers, then an optional -pre-release and +build of letters, digits, - and .).
func ValidateVersion(s string) error {
	bad := invalid("version", "must be a semantic version such as 1.2.3 or 1.2.3-rc.1+build.5")
	if s == "" || len(s) > maxVersionLength {
		return bad
	}
	core, build, hasBuild := strings.Cut(strings.TrimPrefix(s, "v"), "+")
	core, pre, hasPre := strings.Cut(core, "-")
	if hasBuild && !identifiers(build) || hasPre && !identifiers(pre) {
		return bad
	}
	nums := strings.Split(core, ".")
	if len(nums) > 3 {
		return bad
	}
	for _, n := range nums {
		if n == "" || strings.Trim(n, "0123456789") != "" || len(n) > 1 && n[0] == '0' {
			return bad
		}
	}
	return nil
}

// identifiers reports whether s is dot-separated non-empty identifiers of letters, digits and -.
func identifiers(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return false
		}
	}
	return true
}

// Filename is the chart file name Helm gives a packaged chart and the index's URLs use.
func Filename(name, version string) string { return name + "-" + version + ".tgz" }

// storedFilename is the file a channel's copy of a chart version is stored as. "@" occurs in
// neither a channel nor a chart file name, so the two split unambiguously.
func storedFilename(channel, name, version string) string {
	return channel + "@" + Filename(name, version)
}

// Candidate is one way to read a chart file name as a name and a version.
type Candidate struct{ Name, Version string }

// ParseFilename reads "<name>-<version>.tgz" as the charts it may name. Both parts may hold
// "-", so "a-1-2.0.0.tgz" is chart a at 1-2.0.0 or chart a-1 at 2.0.0; the candidates come in
// that order (shortest name first), and the handler serves the first one the project holds.
func ParseFilename(file string) ([]Candidate, error) {
	base, ok := strings.CutSuffix(file, ".tgz")
	if !ok || len(file) > packages.MaxFilenameLength {
		return nil, invalid("file name", "must be <chart>-<version>.tgz")
	}
	var out []Candidate
	for i := 0; i < len(base); i++ {
		if base[i] == '-' && ValidateName(base[:i]) == nil && ValidateVersion(base[i+1:]) == nil {
			out = append(out, Candidate{Name: base[:i], Version: base[i+1:]})
		}
	}
	if len(out) == 0 {
		return nil, invalid("file name", "must be <chart>-<version>.tgz")
	}
	return out, nil
}

// Chart is a chart's Chart.yaml: the fields Helm's repository index carries for a version
// (helm.sh/helm's chart.Metadata), under the names Chart.yaml and index.yaml use.
type Chart struct {
	APIVersion   string            `json:"apiVersion" yaml:"apiVersion"`
	Name         string            `json:"name" yaml:"name"`
	Version      string            `json:"version" yaml:"version"`
	KubeVersion  string            `json:"kubeVersion,omitempty" yaml:"kubeVersion,omitempty"`
	Description  string            `json:"description,omitempty" yaml:"description,omitempty"`
	Type         string            `json:"type,omitempty" yaml:"type,omitempty"`
	Keywords     []string          `json:"keywords,omitempty" yaml:"keywords,omitempty"`
	Home         string            `json:"home,omitempty" yaml:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty" yaml:"sources,omitempty"`
	Dependencies []Dependency      `json:"dependencies,omitempty" yaml:"dependencies,omitempty"`
	Maintainers  []Maintainer      `json:"maintainers,omitempty" yaml:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty" yaml:"icon,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty" yaml:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty" yaml:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Condition    string            `json:"condition,omitempty" yaml:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// Dependency is one entry of Chart.yaml's dependencies.
type Dependency struct {
	Name       string   `json:"name" yaml:"name"`
	Version    string   `json:"version,omitempty" yaml:"version,omitempty"`
	Repository string   `json:"repository,omitempty" yaml:"repository,omitempty"`
	Condition  string   `json:"condition,omitempty" yaml:"condition,omitempty"`
	Tags       []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Enabled    bool     `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	Alias      string   `json:"alias,omitempty" yaml:"alias,omitempty"`
}

// Maintainer is one entry of Chart.yaml's maintainers.
type Maintainer struct {
	Name  string `json:"name,omitempty" yaml:"name,omitempty"`
	Email string `json:"email,omitempty" yaml:"email,omitempty"`
	URL   string `json:"url,omitempty" yaml:"url,omitempty"`
}

// Limits bound what a chart archive may hold.
type Limits struct {
	// MaxUnpacked bounds the archive's decompressed size (gzip bombs).
	MaxUnpacked int64
	// MaxEntries bounds its number of tar entries.
	MaxEntries int
	// MaxChartYAML bounds Chart.yaml.
	MaxChartYAML int64
}

// DefaultLimits are Helm's own loader limits, with a Chart.yaml small enough that every
// channel's copy fits a version's metadata document.
func DefaultLimits() Limits {
	return Limits{MaxUnpacked: 100 << 20, MaxEntries: 10000, MaxChartYAML: 64 << 10}
}

var errTooMuch = errors.New("unpacks to more than the limit")

// boundedReader fails with errTooMuch once more than left bytes were read.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errTooMuch
	}
	if int64(len(p)) > b.left {
		p = p[:b.left+1] // one more than allowed, to tell "exactly the limit" from "over"
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errTooMuch
	}
	return n, err
}

// ParseChart reads a packaged chart (a gzip-compressed tar with one top directory holding
// Chart.yaml) to its end, so that a corrupt archive is refused, and returns its Chart.yaml.
// Entries must stay inside the chart's directory and be files or directories (no links).
func ParseChart(r io.Reader, lim Limits) (*Chart, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, invalid("chart", "is not gzip-compressed")
	}
	gz.Multistream(false)
	br := &boundedReader{r: gz, left: lim.MaxUnpacked}
	tr := tar.NewReader(br)
	var chart *Chart
	top := ""
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, archiveError(err)
		}
		if n >= lim.MaxEntries {
			return nil, invalid("chart", "has too many entries")
		}
		name := strings.TrimPrefix(h.Name, "./")
		clean := path.Clean(name)
		if strings.HasPrefix(name, "/") || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") ||
			strings.ContainsAny(name, "\\\x00") {
			return nil, invalid("chart", "has an entry outside the chart directory")
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir:
		case tar.TypeXGlobalHeader:
			continue
		default:
			return nil, invalid("chart", "may hold only files and directories")
		}
		dir, rest, _ := strings.Cut(clean, "/")
		if top == "" {
			top = dir
		} else if dir != top {
			return nil, invalid("chart", "must hold one top directory")
		}
		if rest != "Chart.yaml" || h.Typeflag != tar.TypeReg {
			continue
		}
		if chart != nil {
			return nil, invalid("chart", "has Chart.yaml twice")
		}
		if h.Size > lim.MaxChartYAML {
			return nil, invalid("Chart.yaml", "is too large")
		}
		b, err := io.ReadAll(io.LimitReader(tr, lim.MaxChartYAML+1))
		if err != nil {
			return nil, archiveError(err)
		}
		if chart, err = parseChartYAML(b); err != nil {
			return nil, err
		}
	}
	// Drain what follows the tar's end marker, so gzip checks its CRC and length.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, archiveError(err)
	}
	if chart == nil {
		return nil, invalid("chart", "has no Chart.yaml in its top directory")
	}
	return chart, nil
}

func archiveError(err error) error {
	if errors.Is(err, errTooMuch) {
		return invalid("chart", "unpacks to more than the limit")
	}
	return invalid("chart", "is not a valid gzip-compressed tar archive")
}

// parseChartYAML decodes Chart.yaml and checks what the repository relies on: the API version,
// and a name and version that make a safe file name.
func parseChartYAML(b []byte) (*Chart, error) {
	var c Chart
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, invalid("Chart.yaml", "is not a valid chart definition")
	}
	if c.APIVersion != "v1" && c.APIVersion != "v2" {
		return nil, invalid("Chart.yaml", "apiVersion must be v1 or v2")
	}
	if err := ValidateName(c.Name); err != nil {
		return nil, err
	}
	if err := ValidateVersion(c.Version); err != nil {
		return nil, err
	}
	// What is shown must be text: the index is YAML read by every client of the channel.
	if _, err := json.Marshal(c); err != nil {
		return nil, invalid("Chart.yaml", "is not a valid chart definition")
	}
	return &c, nil
}

// Upload is the chart part of an upload form, ready to be read once.
type Upload struct {
	Chart io.Reader
}

// maxFields bounds the form parts an upload may have before its chart (cm-push sends the chart
// and, with --prov, a provenance file); maxField bounds each of them.
const (
	maxFields = 8
	maxField  = 64 << 10
)

// ParseUpload finds the "chart" file part of a multipart/form-data upload (GitLab's field, as
// curl --form 'chart=@mychart-0.1.0.tgz' and helm cm-push send it). Parts before it are read
// and discarded within bounds.
func ParseUpload(body io.Reader, contentType string) (*Upload, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, invalid("body", "must be multipart/form-data")
	}
	mr := multipart.NewReader(body, params["boundary"])
	for n := 0; ; n++ {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return nil, invalid("chart", "is missing: the form has no chart file")
		}
		if err != nil {
			return nil, invalid("body", "is not a readable multipart form")
		}
		if n >= maxFields {
			return nil, invalid("body", "has too many form fields")
		}
		disp, dp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil || disp != "form-data" || dp["name"] == "" {
			return nil, invalid("body", "has a part without a form-data name")
		}
		if dp["name"] == "chart" {
			if _, ok := dp["filename"]; !ok {
				return nil, invalid("chart", "must be a file")
			}
			return &Upload{Chart: part}, nil
		}
		if n, err := io.Copy(io.Discard, io.LimitReader(part, maxField+1)); err != nil || n > maxField {
			return nil, invalid("body", "has a form field that is too large")
		}
	}
}
