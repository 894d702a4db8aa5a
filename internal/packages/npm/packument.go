package npm

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// abbreviatedType is the media type of npm's abbreviated metadata ("corgi"), which npm install
// asks for.
const abbreviatedType = "application/vnd.npm.install-v1+json"

// abbreviatedFields are the manifest fields the abbreviated document keeps (npm's registry
// API, "Abbreviated metadata format").
var abbreviatedFields = []string{"name", "version", "deprecated", "dependencies", "optionalDependencies",
	"devDependencies", "bundleDependencies", "bundledDependencies", "peerDependencies", "peerDependenciesMeta",
	"acceptDependencies", "bin", "directories", "engines", "os", "cpu", "libc", "funding", "license",
	"_hasShrinkwrap", "hasInstallScript"}

type dist struct {
	Shasum    string `json:"shasum"`
	Integrity string `json:"integrity,omitempty"`
	Tarball   string `json:"tarball"`
}

// packument builds the package document: every listed version's stored manifest with a dist
// Gatehouse computed (checksums of the stored bytes, tarball URL under base), the dist-tags that
// point at listed versions, and the times.
func packument(pkg *packages.Package, versions []*packages.Version, tags []packages.Tag, base string, abbreviated bool) map[string]any {
	vs := make(map[string]map[string]json.RawMessage, len(versions))
	times := map[string]string{"created": stamp(pkg.CreatedAt), "modified": stamp(pkg.UpdatedAt)}
	for _, v := range versions {
		m := map[string]json.RawMessage{}
		if len(v.Metadata) > 0 {
			_ = json.Unmarshal(v.Metadata, &m) // stored by ParsePublish: an object
		}
		if abbreviated {
			kept := make(map[string]json.RawMessage, len(abbreviatedFields))
			for _, f := range abbreviatedFields {
				if val, ok := m[f]; ok {
					kept[f] = val
				}
			}
			m = kept
		}
		m["name"], _ = json.Marshal(pkg.Name)
		m["version"], _ = json.Marshal(v.Version)
		if len(v.Files) > 0 {
			f := v.Files[len(v.Files)-1]
			m["dist"], _ = json.Marshal(dist{Shasum: f.SHA1, Integrity: integrity(f.SHA512),
				Tarball: base + "/" + pkg.Name + "/-/" + f.Filename})
		}
		vs[v.Version] = m
		times[v.Version] = stamp(v.CreatedAt)
	}
	distTags := map[string]string{}
	for _, t := range tags {
		if _, listed := vs[t.Version]; listed {
			distTags[t.Name] = t.Version
		}
	}
	if abbreviated {
		return map[string]any{"name": pkg.Name, "modified": stamp(pkg.UpdatedAt), "dist-tags": distTags, "versions": vs}
	}
	return map[string]any{"_id": pkg.Name, "name": pkg.Name, "dist-tags": distTags, "versions": vs, "time": times}
}

// integrity is the SRI form of a SHA-512 given in hex.
func integrity(sha512Hex string) string {
	b, err := hex.DecodeString(sha512Hex)
	if err != nil || len(b) == 0 {
		return ""
	}
	return "sha512-" + base64.StdEncoding.EncodeToString(b)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
