package debian

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// fileMeta is what a version's metadata keeps of each of its .deb files: where it was uploaded
// and its control paragraph, so that indexes are built without opening the packages.
type fileMeta struct {
	Distribution string `json:"distribution"`
	Component    string `json:"component"`
	Architecture string `json:"architecture"`
	Control      string `json:"control"`
}

// versionMeta is a Debian version's metadata document: its files by file name.
type versionMeta struct {
	Files map[string]fileMeta `json:"files"`
}

func readMeta(raw []byte) versionMeta {
	var m versionMeta
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m) // stored by this package; unreadable reads as no files
	}
	if m.Files == nil {
		m.Files = map[string]fileMeta{}
	}
	return m
}

// entry is one .deb an index lists.
type entry struct {
	projectID     int64
	name, version string
	file          packages.File
	meta          fileMeta
}

// entries lists the files of project's Debian packages that were uploaded to codename, sorted by
// name, version and file name (indexes read the same each time, so Release's hashes hold).
func entries(ctx context.Context, svc *packages.Service, projectID int64, codename string) ([]entry, error) {
	pkgs, err := svc.Packages(ctx, projectID, packages.Debian)
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, p := range pkgs {
		vs, err := svc.Versions(ctx, p, false)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			m := readMeta(v.Metadata)
			for _, f := range v.Files {
				fm, ok := m.Files[f.Filename]
				if ok && fm.Distribution == codename {
					out = append(out, entry{projectID: projectID, name: p.Name, version: v.Version, file: f, meta: fm})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b entry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := strings.Compare(a.version, b.version); c != 0 {
			return c
		}
		return strings.Compare(a.file.Filename, b.file.Filename)
	})
	return out, nil
}

// packagesIndex renders the Packages index of component and arch: each file uploaded to the
// component for arch or for all, its control paragraph then the repository's fields. A group
// index (group true) names each file's project in its pool path.
func packagesIndex(es []entry, component, arch string, group bool) []byte {
	var b strings.Builder
	for _, e := range es {
		if e.meta.Component != component || (e.meta.Architecture != arch && e.meta.Architecture != "all") {
			continue
		}
		var pid int64
		if group {
			pid = e.projectID
		}
		b.WriteString(strings.TrimRight(e.meta.Control, "\n"))
		fmt.Fprintf(&b, "\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\n\n",
			PoolPath(e.meta.Distribution, pid, e.name, e.version, e.file.Filename), e.file.Size, e.file.MD5, e.file.SHA1, e.file.SHA256)
	}
	return []byte(b.String())
}

// indexArchitectures are the binary-<arch> indexes a distribution has: its architectures but
// "all", whose packages every index lists (so apt never needs binary-all).
func indexArchitectures(d *packages.Distribution) []string {
	var out []string
	for _, a := range d.Architectures {
		if a != "all" {
			out = append(out, a)
		}
	}
	return out
}

// release renders a distribution's Release file (the Debian repository format), listing the
// hashes of every Packages index it has, as rendered from es.
func release(d *packages.Distribution, es []entry, group bool, now time.Time) []byte {
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			b.WriteString(name + ": " + value + "\n")
		}
	}
	archs := indexArchitectures(d)
	field("Origin", d.Origin)
	field("Label", d.Label)
	field("Suite", d.Suite)
	field("Version", d.Version)
	field("Codename", d.Codename)
	date := now.UTC().Truncate(time.Second)
	field("Date", date.Format(time.RFC1123Z))
	if d.ValidTimeDuration > 0 {
		field("Valid-Until", date.Add(d.ValidTimeDuration).Format(time.RFC1123Z))
	}
	field("Architectures", strings.Join(archs, " "))
	field("Components", strings.Join(d.Components, " "))
	field("Description", d.Description)
	type sum struct {
		path      string
		size      int
		md5, sha1 string
		sha256    string
	}
	var sums []sum
	for _, c := range d.Components {
		for _, a := range archs {
			idx := packagesIndex(es, c, a, group)
			m, s1, s2 := md5.Sum(idx), sha1.Sum(idx), sha256.Sum256(idx)
			sums = append(sums, sum{path: c + "/binary-" + a + "/Packages", size: len(idx),
				md5: hex.EncodeToString(m[:]), sha1: hex.EncodeToString(s1[:]), sha256: hex.EncodeToString(s2[:])})
		}
	}
	for _, h := range []struct {
		name string
		get  func(sum) string
	}{{"MD5Sum", func(s sum) string { return s.md5 }}, {"SHA1", func(s sum) string { return s.sha1 }}, {"SHA256", func(s sum) string { return s.sha256 }}} {
		b.WriteString(h.name + ":\n")
		for _, s := range sums {
			b.WriteString(" " + h.get(s) + " " + strconv.Itoa(s.size) + " " + s.path + "\n")
		}
	}
	return []byte(b.String())
}
