package maven

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// SyncMetadata is Maven's packages.VersionDeleted. After a version is deleted it rewrites the
// artifact's maven-metadata.xml, as GitLab's metadata sync does, so that Maven never resolves a
// version that is gone: the document lists the versions still stored, oldest first, with the
// newest as latest and the newest that is not a SNAPSHOT as release. When no version is left,
// the document goes too. An artifact whose clients never deployed a maven-metadata.xml is left
// alone, and so is a document that lists no versions (a groupId's plugin listing).
func SyncMetadata(ctx context.Context, s *packages.Service, pkg *packages.Package, now time.Time) error {
	versions, err := s.Versions(ctx, pkg, true)
	if errors.Is(err, packages.ErrNotFound) {
		return nil // the package went with its last version
	}
	if err != nil {
		return err
	}
	var doc *packages.File
	var kept []string
	for _, v := range versions {
		if v.Version == MetadataVersion {
			doc = v.File(MetadataFile)
			continue
		}
		kept = append(kept, v.Version)
	}
	if doc == nil {
		return nil
	}
	rt := Route{Name: pkg.Name, Version: MetadataVersion, File: MetadataFile}
	rc, err := s.Open(ctx, doc, 0)
	if err != nil {
		return err
	}
	md, _, err := ParseMetadata(rc, rt, MaxMetadataSize)
	rc.Close()
	if err != nil {
		return err
	}
	if len(md.Versions) == 0 {
		return nil
	}
	if len(kept) == 0 {
		if err := s.DeleteVersion(ctx, pkg, MetadataVersion); err != nil && !errors.Is(err, packages.ErrNotFound) {
			return err
		}
		return nil
	}
	body, err := renderMetadata(rt.GroupID(), rt.ArtifactID(), kept, now)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(versionMetadata{Path: rt.Path(), GroupID: rt.GroupID(), ArtifactID: rt.ArtifactID()})
	if err != nil {
		return err
	}
	_, err = s.AddFile(ctx, packages.Upload{ProjectID: pkg.ProjectID, Format: packages.Maven, Name: pkg.Name,
		Version: MetadataVersion, Filename: MetadataFile, Metadata: meta, Status: packages.StatusHidden,
		Size: int64(len(body)), Body: bytes.NewReader(body)})
	return err
}

// renderMetadata writes an artifact-level maven-metadata.xml as Maven's deploy plugin does.
func renderMetadata(groupID, artifactID string, versions []string, now time.Time) ([]byte, error) {
	type versioning struct {
		Latest      string   `xml:"latest"`
		Release     string   `xml:"release,omitempty"`
		Versions    []string `xml:"versions>version"`
		LastUpdated string   `xml:"lastUpdated"`
	}
	doc := struct {
		XMLName    xml.Name   `xml:"metadata"`
		GroupID    string     `xml:"groupId"`
		ArtifactID string     `xml:"artifactId"`
		Versioning versioning `xml:"versioning"`
	}{GroupID: groupID, ArtifactID: artifactID, Versioning: versioning{
		Latest: versions[len(versions)-1], Versions: versions, LastUpdated: now.UTC().Format("20060102150405")}}
	for i := len(versions) - 1; i >= 0; i-- {
		if !strings.HasSuffix(versions[i], "-SNAPSHOT") {
			doc.Versioning.Release = versions[i]
			break
		}
	}
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(append([]byte(xml.Header), body...), '\n'), nil
}
