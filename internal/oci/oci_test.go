package oci

import (
	"errors"
	"strings"
	"testing"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	d5 = "sha512:55555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555"
)

func TestParseName(t *testing.T) {
	for _, s := range []string{"a", "group/top", "a.b/c_d/e__f/g--h-i", "0/1/2", "group/top/app/x", strings.Repeat("a", 255)} {
		if _, err := ParseName(s); err != nil {
			t.Errorf("ok/%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "A", "a/", "/a", "a//b", "a..b", "a._b", "a___b", "-a", "a-", "a_", "a/.b", "a b",
		"a:b", strings.Repeat("a", 256)} {
		if _, err := ParseName(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("fail/%q: %v", s, err)
		}
	}
}

func TestProjectPaths(t *testing.T) {
	got := strings.Join(Name("group/sub/project/img").ProjectPaths(), " ")
	if want := "group/sub/project/img group/sub/project group/sub group"; got != want {
		t.Fatalf("ProjectPaths = %q, want %q", got, want)
	}
}

func TestParseManifest(t *testing.T) {
	image := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":2},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d2 + `","size":3},
		{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"` + d5 + `","size":4,"urls":["https://example.com/x"]}]}`
	m, err := ParseManifest([]byte(image), "application/vnd.oci.image.manifest.v1+json; charset=utf-8")
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != MediaTypeOCIManifest || m.IsIndex() || m.ArtifactType != "application/vnd.oci.image.config.v1+json" {
		t.Fatalf("image: %+v", m)
	}
	if b := strings.Join(m.Blobs(), ","); b != d1+","+d2 {
		t.Fatalf("blobs %s: the non-distributable layer must not be required", b)
	}

	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d1 + `","size":5}],
		"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d2 + `","size":9},
		"artifactType":"application/vnd.example","annotations":{"a":"b"}}`
	m, err = ParseManifest([]byte(index), "")
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsIndex() || m.MediaType != MediaTypeOCIIndex || m.Subject.Digest != d2 || m.ArtifactType != "application/vnd.example" ||
		strings.Join(m.Children(), ",") != d1 || m.Annotations["a"] != "b" {
		t.Fatalf("index: %+v", m)
	}
	docker := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
		"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + d1 + `","size":2},"layers":[]}`
	if m, err = ParseManifest([]byte(docker), MediaTypeDockerManifest); err != nil || m.MediaType != MediaTypeDockerManifest {
		t.Fatalf("docker: %+v %v", m, err)
	}
	list := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}`
	if m, err = ParseManifest([]byte(list), ""); err != nil || !m.IsIndex() {
		t.Fatalf("docker list: %+v %v", m, err)
	}

	for name, c := range map[string]struct{ body, ct string }{
		"not json":         {`nope`, ""},
		"array":            {`[]`, ""},
		"truncated":        {`{"schemaVersion":2,`, ""},
		"schema 1":         {`{"schemaVersion":1,"fsLayers":[]}`, ""},
		"no schemaVersion": {`{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, ""},
		"unknown type":     {`{"schemaVersion":2,"mediaType":"application/x-nope","manifests":[]}`, ""},
		"type mismatch":    {index, MediaTypeOCIManifest},
		"index with config": {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],
			"config":{"mediaType":"a/b","digest":"` + d1 + `","size":1}}`, ""},
		"image without config": {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`, ""},
		"bad digest": {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
			"config":{"mediaType":"a/b","digest":"sha256:abc","size":1}}`, ""},
		"negative size": {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
			"config":{"mediaType":"a/b","digest":"` + d1 + `","size":-1}}`, ""},
		"no media type": {`{"schemaVersion":2,"manifests":[{"digest":"` + d1 + `","size":1}]}`, ""},
		"too large":     {`{"schemaVersion":2,"manifests":[],"x":"` + strings.Repeat("a", MaxManifestSize) + `"}`, ""},
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			if _, err := ParseManifest([]byte(c.body), c.ct); !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseManifest = %v, want ErrInvalid", err)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"`+d1+`","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"`+d2+`","size":3}]}`), "")
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+d5+`","size":5,"platform":{"os":"linux","architecture":"amd64"}}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+d2+`","size":9}}`), MediaTypeOCIIndex)
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":233,"digest":"`+d1+`"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":31,"digest":"`+d2+`"}]}`), MediaTypeDockerManifest)
	f.Add([]byte(`{"schemaVersion":1,"fsLayers":[]}`), "")
	f.Add([]byte(`{}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		m, err := ParseManifest(body, ct)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !ManifestMediaType(m.MediaType) {
			t.Fatalf("accepted media type %q", m.MediaType)
		}
		if m.IsIndex() != (m.Config == nil) {
			t.Fatalf("index %v with config %v", m.IsIndex(), m.Config)
		}
		for _, d := range append(m.Blobs(), m.Children()...) {
			if !ValidDigest(d) {
				t.Fatalf("accepted digest %q", d)
			}
		}
		if m.Subject != nil && !ValidDigest(m.Subject.Digest) {
			t.Fatalf("accepted subject digest %q", m.Subject.Digest)
		}
	})
}
