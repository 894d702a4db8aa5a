package rubygems

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Spec is what Gatehouse keeps of a gemspec (metadata.gz), as part of the version's JSON
// document: enough to answer the dependency API, the specs indexes and the quick index. Texts
// are cut to GitLab's lengths; lists are bounded.
type Spec struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Platform             string            `json:"platform"`
	Summary              string            `json:"summary,omitempty"`
	Description          string            `json:"description,omitempty"`
	Homepage             string            `json:"homepage,omitempty"`
	Authors              []string          `json:"authors,omitempty"`
	Email                []string          `json:"email,omitempty"`
	Licenses             []string          `json:"licenses,omitempty"`
	Metadata             map[string]string `json:"metadata,omitempty"`
	Date                 string            `json:"date,omitempty"`
	RubygemsVersion      string            `json:"rubygems_version,omitempty"`
	SpecificationVersion int               `json:"specification_version,omitempty"`
	RequiredRuby         Requirement       `json:"required_ruby_version,omitempty"`
	RequiredRubygems     Requirement       `json:"required_rubygems_version,omitempty"`
	Dependencies         []Dependency      `json:"dependencies,omitempty"`
}

// Requirement is a Gem::Requirement: pairs of operator and version (">=", "0").
type Requirement [][2]string

// String is the requirement as RubyGems prints it (">= 1.0, < 2"); empty is ">= 0".
func (q Requirement) String() string {
	if len(q) == 0 {
		return ">= 0"
	}
	parts := make([]string, len(q))
	for i, p := range q {
		parts[i] = p[0] + " " + p[1]
	}
	return strings.Join(parts, ", ")
}

// Dependency is a Gem::Dependency.
type Dependency struct {
	Name        string      `json:"name"`
	Requirement Requirement `json:"requirement"`
	// Type is "runtime" or "development".
	Type string `json:"type"`
}

// FullName is the spec's full name (FullName).
func (s *Spec) FullName() string { return FullName(s.Name, s.Version, s.Platform) }

// Filename is the name of the spec's .gem file.
func (s *Spec) Filename() string { return s.FullName() + ".gem" }

// Bounds of the kept gemspec.
const (
	maxSummary     = 255
	maxDescription = 4000
	maxShortText   = 255
	maxListItems   = 100
	maxDeps        = 500
	maxReqPairs    = 16
	maxMetaEntries = 64
	maxMetaValue   = 1024
)

var requirementOps = map[string]bool{"=": true, "!=": true, ">": true, "<": true, ">=": true, "<=": true, "~>": true}

// dateRE is the start of a gemspec's date ("2024-01-31 00:00:00.000000000 Z").
var dateRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`)

// ParseSpec reads a gemspec's YAML (metadata.gz, decompressed): a !ruby/object:Gem::Specification
// map. Name, version and platform must be valid; dependencies' names and requirements too.
// Errors are *packages.ValidationError.
func ParseSpec(yml []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(yml, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, invalid("metadata.gz", "is not a YAML gemspec")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || root.Tag != "!ruby/object:Gem::Specification" {
		return nil, invalid("metadata.gz", "is not a Gem::Specification")
	}
	s := &Spec{Name: scalar(field(root, "name")), Platform: scalar(field(root, "platform"))}
	if v := field(root, "version"); v != nil && v.Kind == yaml.MappingNode {
		s.Version = scalar(field(v, "version"))
	}
	if err := ValidateName(s.Name); err != nil {
		return nil, err
	}
	if err := ValidateVersion(s.Version); err != nil {
		return nil, err
	}
	if s.Platform == "" {
		s.Platform = Ruby
	}
	if err := ValidatePlatform(s.Platform); err != nil {
		return nil, err
	}
	s.Summary = text(scalar(field(root, "summary")), maxSummary)
	s.Description = text(scalar(field(root, "description")), maxDescription)
	s.Homepage = text(scalar(field(root, "homepage")), maxShortText)
	s.Authors = list(field(root, "authors"))
	s.Email = list(field(root, "email"))
	s.Licenses = list(field(root, "licenses"))
	if d := scalar(field(root, "date")); dateRE.MatchString(d) {
		s.Date = d[:10]
	}
	if v := scalar(field(root, "rubygems_version")); ValidateVersion(v) == nil {
		s.RubygemsVersion = v
	}
	if n, err := strconv.Atoi(scalar(field(root, "specification_version"))); err == nil && n >= 0 && n < 100 {
		s.SpecificationVersion = n
	}
	if m := field(root, "metadata"); m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content) && len(s.Metadata) < maxMetaEntries; i += 2 {
			k, v := scalar(m.Content[i]), scalar(m.Content[i+1])
			if k == "" {
				continue
			}
			if s.Metadata == nil {
				s.Metadata = map[string]string{}
			}
			s.Metadata[text(k, maxShortText)] = text(v, maxMetaValue)
		}
	}
	var err error
	if s.RequiredRuby, err = requirement(field(root, "required_ruby_version")); err != nil {
		return nil, err
	}
	if s.RequiredRubygems, err = requirement(field(root, "required_rubygems_version")); err != nil {
		return nil, err
	}
	if deps := field(root, "dependencies"); deps != nil {
		if deps.Kind != yaml.SequenceNode || len(deps.Content) > maxDeps {
			return nil, invalid("dependencies", "must be a list of at most 500 dependencies")
		}
		for _, d := range deps.Content {
			if d.Kind != yaml.MappingNode {
				return nil, invalid("dependencies", "must be Gem::Dependency maps")
			}
			dep := Dependency{Name: scalar(field(d, "name")), Type: strings.TrimPrefix(scalar(field(d, "type")), ":")}
			if err := ValidateName(dep.Name); err != nil {
				return nil, invalid("dependency name", "must be a valid gem name")
			}
			if dep.Type == "" {
				dep.Type = "runtime"
			}
			if dep.Type != "runtime" && dep.Type != "development" {
				return nil, invalid("dependency type", "must be runtime or development")
			}
			if dep.Requirement, err = requirement(field(d, "requirement")); err != nil {
				return nil, err
			}
			s.Dependencies = append(s.Dependencies, dep)
		}
	}
	return s, nil
}

// field is the value of key in the map m, or nil.
func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalar is n's value when it is a non-null scalar, else "".
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// list reads a sequence of scalars, or one scalar, bounded.
func list(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if v := scalar(n); v != "" {
			return []string{text(v, maxShortText)}
		}
		return nil
	}
	var out []string
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			if v := scalar(c); v != "" && len(out) < maxListItems {
				out = append(out, text(v, maxShortText))
			}
		}
	}
	return out
}

// requirement reads a !ruby/object:Gem::Requirement map: requirements, a list of [op, version].
func requirement(n *yaml.Node) (Requirement, error) {
	if n == nil || scalar(n) == "" && n.Kind == yaml.ScalarNode {
		return nil, nil
	}
	reqs := field(n, "requirements")
	if reqs == nil || reqs.Kind != yaml.SequenceNode || len(reqs.Content) > maxReqPairs {
		return nil, invalid("requirement", "must be a Gem::Requirement")
	}
	var out Requirement
	for _, p := range reqs.Content {
		if p.Kind != yaml.SequenceNode || len(p.Content) != 2 {
			return nil, invalid("requirement", "must be pairs of operator and version")
		}
		op, v := scalar(p.Content[0]), scalar(field(p.Content[1], "version"))
		if !requirementOps[op] || ValidateVersion(v) != nil {
			return nil, invalid("requirement", "must be pairs of operator and version")
		}
		out = append(out, [2]string{op, v})
	}
	return out, nil
}

// text keeps at most max runes of s as valid UTF-8 without NULs.
func text(s string, max int) string { return packages.ClipText(s, max) }

// The Marshal forms of the index documents (marshal.go).

func marshalVersion(v string) UserMarshal {
	return UserMarshal{Class: "Gem::Version", Data: []any{v}}
}

func marshalRequirement(q Requirement) UserMarshal {
	if len(q) == 0 {
		q = Requirement{{">=", "0"}}
	}
	pairs := make([]any, len(q))
	for i, p := range q {
		pairs[i] = []any{p[0], marshalVersion(p[1])}
	}
	return UserMarshal{Class: "Gem::Requirement", Data: []any{pairs}}
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// QuickSpec is the spec as quick/Marshal.4.8/*.gemspec.rz holds it before deflating: a
// Gem::Specification whose _dump is the array Gem::Specification._load reads.
func (s *Spec) QuickSpec() ([]byte, error) {
	deps := make([]any, 0, len(s.Dependencies))
	for _, d := range s.Dependencies {
		deps = append(deps, Object{Class: "Gem::Dependency", Ivars: []Pair{{"@name", d.Name},
			{"@requirement", marshalRequirement(d.Requirement)}, {"@type", Symbol(d.Type)}, {"@prerelease", false}}})
	}
	var email any
	switch len(s.Email) {
	case 0:
	case 1:
		email = s.Email[0]
	default:
		email = s.Email
	}
	keys := make([]string, 0, len(s.Metadata))
	for k := range s.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	meta := Hash{}
	for _, k := range keys {
		meta = append(meta, Pair{k, s.Metadata[k]})
	}
	rgv, specVersion := s.RubygemsVersion, s.SpecificationVersion
	if rgv == "" {
		rgv = "3.3.0"
	}
	if specVersion == 0 {
		specVersion = 4
	}
	authors := s.Authors
	if authors == nil {
		authors = []string{}
	}
	licenses := s.Licenses
	if licenses == nil {
		licenses = []string{}
	}
	inner, err := Marshal([]any{rgv, specVersion, s.Name, marshalVersion(s.Version), orNil(s.Date), s.Summary,
		marshalRequirement(s.RequiredRuby), marshalRequirement(s.RequiredRubygems), s.Platform, deps, "", email,
		authors, orNil(s.Description), orNil(s.Homepage), true, s.Platform, licenses, meta})
	if err != nil {
		return nil, err
	}
	return Marshal(UserDump{Class: "Gem::Specification", Data: inner})
}

// specTuple is one entry of the specs indexes: [name, Gem::Version, platform].
func specTuple(name, version, platform string) []any {
	return []any{name, marshalVersion(version), platform}
}

// dependencyEntry is one entry of the dependency API: the gem's runtime dependencies.
func (s *Spec) dependencyEntry() Hash {
	deps := []any{}
	for _, d := range s.Dependencies {
		if d.Type == "runtime" {
			deps = append(deps, []any{d.Name, d.Requirement.String()})
		}
	}
	return Hash{{Symbol("name"), s.Name}, {Symbol("number"), s.Version}, {Symbol("platform"), s.Platform},
		{Symbol("dependencies"), deps}}
}
