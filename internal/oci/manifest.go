package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
)

// Manifest media types Gatehouse accepts: OCI image manifests and indexes, and Docker v2 schema 2
// manifests and manifest lists. Docker schema 1 is refused.
const (
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeEmptyJSON          = "application/vnd.oci.empty.v1+json"
)

// Limits of the manifest parser.
const (
	// MaxManifestSize is the largest manifest accepted (OCI: registries should accept at least
	// 4 MB; Docker and Distribution use 4 MiB).
	MaxManifestSize = 4 << 20
	// MaxDescriptors bounds config + layers + manifests of one manifest.
	MaxDescriptors = 10000
	maxMediaType   = 255
)

// Descriptor points at content by digest (OCI image spec, descriptor.md). Fields Gatehouse does
// not use (urls, data, platform) are not kept.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Manifest is a parsed, validated image manifest or index.
type Manifest struct {
	// MediaType is the manifest's own type (the mediaType field, else the Content-Type it was
	// pushed with, else inferred from its shape).
	MediaType string
	// ArtifactType is what the referrers API reports: the artifactType field, else (for image
	// manifests) the config's media type; empty for an index without one.
	ArtifactType string
	Config       *Descriptor
	Layers       []Descriptor
	Manifests    []Descriptor
	Subject      *Descriptor
	Annotations  map[string]string
}

// IsIndex reports whether m lists other manifests (OCI index or Docker manifest list).
func (m *Manifest) IsIndex() bool {
	return m.MediaType == MediaTypeOCIIndex || m.MediaType == MediaTypeDockerManifestList
}

// Blobs returns the digests of the blobs the manifest needs in its repository: the config and
// every distributable layer. Non-distributable (foreign) layers live elsewhere by definition.
func (m *Manifest) Blobs() []string {
	var out []string
	if m.Config != nil {
		out = append(out, m.Config.Digest)
	}
	for _, l := range m.Layers {
		if !NonDistributable(l.MediaType) {
			out = append(out, l.Digest)
		}
	}
	return out
}

// Children returns the digests of the manifests an index lists.
func (m *Manifest) Children() []string {
	out := make([]string, 0, len(m.Manifests))
	for _, d := range m.Manifests {
		out = append(out, d.Digest)
	}
	return out
}

// NonDistributable reports a layer type whose bytes are not pushed to the registry (OCI
// non-distributable layers, Docker foreign layers).
func NonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".nondistributable.") || strings.Contains(mediaType, ".foreign.")
}

// ManifestMediaType reports whether t is a manifest type Gatehouse stores.
func ManifestMediaType(t string) bool {
	switch t {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList:
		return true
	}
	return false
}

// wireManifest is the union of the manifest shapes.
type wireManifest struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
	FSLayers      json.RawMessage   `json:"fsLayers"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: manifest %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseManifest parses and validates a manifest body as pushed with Content-Type contentType
// ("" when the client sent none; parameters are ignored). It returns an ErrInvalid-wrapped error
// for anything that is not a well-formed schema-2 image manifest or index of a known type.
func ParseManifest(body []byte, contentType string) (*Manifest, error) {
	if len(body) > MaxManifestSize {
		return nil, invalid("is larger than %d bytes", MaxManifestSize)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("is not a JSON object")
	}
	var w wireManifest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, invalid("is not valid JSON: %s", jsonReason(err))
	}
	if w.FSLayers != nil || (w.SchemaVersion != nil && *w.SchemaVersion == 1) {
		return nil, invalid("uses Docker schema 1, which is not supported")
	}
	if w.SchemaVersion == nil || *w.SchemaVersion != 2 {
		return nil, invalid("schemaVersion must be 2")
	}
	ct := ""
	if contentType != "" {
		if t, _, err := mime.ParseMediaType(contentType); err == nil {
			ct = t
		}
	}
	mt := w.MediaType
	switch {
	case mt != "" && ManifestMediaType(ct) && mt != ct:
		return nil, invalid("mediaType %q does not match Content-Type %q", truncate(mt), truncate(ct))
	case mt == "" && ManifestMediaType(ct):
		mt = ct
	case mt == "" && w.Manifests != nil && w.Config == nil:
		mt = MediaTypeOCIIndex
	case mt == "" && w.Config != nil:
		mt = MediaTypeOCIManifest
	}
	if !ManifestMediaType(mt) {
		return nil, invalid("media type %q is not a supported manifest type", truncate(mt))
	}
	m := &Manifest{MediaType: mt, ArtifactType: w.ArtifactType, Config: w.Config, Layers: w.Layers,
		Manifests: w.Manifests, Subject: w.Subject, Annotations: w.Annotations}
	if len(w.ArtifactType) > maxMediaType {
		return nil, invalid("artifactType is too long")
	}
	if m.IsIndex() {
		if w.Config != nil || w.Layers != nil {
			return nil, invalid("of type %s must not have config or layers", mt)
		}
		if w.Manifests == nil {
			return nil, invalid("of type %s must have a manifests list", mt)
		}
	} else {
		if w.Config == nil {
			return nil, invalid("of type %s must have a config", mt)
		}
		if w.Manifests != nil {
			return nil, invalid("of type %s must not list manifests", mt)
		}
		if m.ArtifactType == "" {
			m.ArtifactType = w.Config.MediaType
		}
	}
	if n := len(w.Layers) + len(w.Manifests); n > MaxDescriptors {
		return nil, invalid("has %d descriptors, more than %d", n, MaxDescriptors)
	}
	if w.Config != nil {
		if err := checkDescriptor("config", w.Config); err != nil {
			return nil, err
		}
	}
	for i := range w.Layers {
		if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), &w.Layers[i]); err != nil {
			return nil, err
		}
	}
	for i := range w.Manifests {
		if err := checkDescriptor(fmt.Sprintf("manifests[%d]", i), &w.Manifests[i]); err != nil {
			return nil, err
		}
	}
	if w.Subject != nil {
		if err := checkDescriptor("subject", w.Subject); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func checkDescriptor(where string, d *Descriptor) error {
	if d.MediaType == "" || len(d.MediaType) > maxMediaType || strings.ContainsAny(d.MediaType, " \t\r\n\x00") {
		return invalid("%s has no valid mediaType", where)
	}
	if !ValidDigest(d.Digest) {
		return invalid("%s has an invalid digest", where)
	}
	if d.Size < 0 {
		return invalid("%s has a negative size", where)
	}
	if len(d.ArtifactType) > maxMediaType {
		return invalid("%s has an artifactType that is too long", where)
	}
	return nil
}

// jsonReason describes a decoding error without quoting the input.
func jsonReason(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at offset %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q has the wrong type", truncate(e.Field))
	}
	return "malformed"
}

// ValidDigest reports whether s is "sha256:<64 hex>" or "sha512:<128 hex>" in lower case, the
// algorithms Gatehouse supports (OCI image spec: sha256 required, sha512 optional).
func ValidDigest(s string) bool {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok || (alg != "sha256" || len(hx) != 64) && (alg != "sha512" || len(hx) != 128) {
		return false
	}
	for i := 0; i < len(hx); i++ {
		if c := hx[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
