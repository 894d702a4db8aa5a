package helm

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Index is a channel's index.yaml, as Helm's repo.IndexFile reads it and GitLab writes it.
type Index struct {
	APIVersion string                  `yaml:"apiVersion"`
	Entries    map[string][]IndexEntry `yaml:"entries"`
	Generated  string                  `yaml:"generated"`
	// ServerInfo.ContextPath is where helm cm-push finds the upload endpoint
	// (<contextPath>/api/<channel>/charts).
	ServerInfo struct {
		ContextPath string `yaml:"contextPath"`
	} `yaml:"serverInfo"`
}

// IndexEntry is one chart version of the index: its Chart.yaml plus where to get it.
type IndexEntry struct {
	Chart   `yaml:",inline"`
	URLs    []string `yaml:"urls"`
	Created string   `yaml:"created"`
	Digest  string   `yaml:"digest"`
}

// createdLayout is RFC 3339 with fixed-width nanoseconds, so that the strings sort as the times.
const createdLayout = "2006-01-02T15:04:05.000000000Z07:00"

// index builds the channel's index from the project's Helm packages: every version with a file
// in the channel (hidden ones left out), newest first, each under a URL relative to the
// channel, as GitLab's.
func (h *Handler) index(ctx context.Context, projectID int64, rt Route) (*Index, error) {
	idx := &Index{APIVersion: "v1", Entries: map[string][]IndexEntry{},
		Generated: h.cfg.Now().UTC().Format(time.RFC3339Nano)}
	idx.ServerInfo.ContextPath = rt.Prefix
	pkgs, err := h.cfg.Packages.Packages(ctx, projectID, packages.Helm)
	if err != nil {
		return nil, err
	}
	for _, pkg := range pkgs {
		versions, err := h.cfg.Packages.Versions(ctx, pkg, false)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			f := v.File(storedFilename(rt.Channel, pkg.Name, v.Version))
			if f == nil {
				continue
			}
			c := chartOf(v, rt.Channel)
			if c == nil {
				continue
			}
			idx.Entries[pkg.Name] = append(idx.Entries[pkg.Name], IndexEntry{Chart: *c,
				URLs:    []string{"charts/" + Filename(pkg.Name, v.Version)},
				Created: f.CreatedAt.UTC().Format(createdLayout), Digest: f.SHA256})
		}
	}
	for _, entries := range idx.Entries {
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].Created > entries[j].Created })
	}
	return idx, nil
}

// chartOf is the version's Chart.yaml in channel, or, when a racing upload lost that entry
// (mergeMetadata), another channel's: name and version are the same in each.
func chartOf(v *packages.Version, channel string) *Chart {
	var m metadata
	if json.Unmarshal(v.Metadata, &m) != nil {
		return nil
	}
	if c := m.Channels[channel]; c != nil {
		return c
	}
	names := make([]string, 0, len(m.Channels))
	for name := range m.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if c := m.Channels[name]; c != nil && strings.EqualFold(c.Version, v.Version) {
			return c
		}
	}
	return nil
}
