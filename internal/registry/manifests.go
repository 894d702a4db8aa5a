package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// maxTagParams bounds the ?tag= parameters of one manifest push (OCI: at least 10).
const maxTagParams = 100

// serveManifest answers GET and HEAD /v2/<name>/manifests/<tag|digest>.
func (h *Handler) serveManifest(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	ctx := r.Context()
	rec, err := h.cfg.Store.Manifest(ctx, g.repo(rt), rt.Ref.String())
	if errors.Is(err, oci.ErrNotFound) {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeManifestUnknown, ""))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ocihttp.SetDigestHeaders(w, rec.Digest)
	if ocihttp.NotModified(w, r, rec.Digest) {
		return
	}
	w.Header().Set("Content-Type", rec.MediaType)
	w.Header().Set("Content-Length", strconv.FormatInt(rec.Size, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	rc, err := h.cfg.Blobs.Open(ctx, blob.Digest(rec.Digest), 0)
	if err != nil {
		w.Header().Del("Content-Length")
		w.Header().Del("Content-Type")
		if errors.Is(err, blob.ErrNotFound) {
			h.cfg.Log.WarnContext(ctx, "manifest missing from blob storage", "digest", rec.Digest)
			err = ocihttp.Fail(ocihttp.CodeManifestUnknown, "")
		}
		h.writeError(w, r, err)
		return
	}
	defer rc.Close()
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
}

// servePutManifest answers PUT /v2/<name>/manifests/<tag|digest>[?tag=…]: the manifest is
// parsed and validated, stored byte for byte as a blob, and then recorded (with its tags and
// subject) in one transaction that checks every blob and child manifest it references exists in
// the repository.
func (h *Handler) servePutManifest(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	ctx := r.Context()
	if r.ContentLength > oci.MaxManifestSize {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeManifestTooLarge, "manifests are limited to %d bytes", oci.MaxManifestSize))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, oci.MaxManifestSize+1))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(body) > oci.MaxManifestSize {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeManifestTooLarge, "manifests are limited to %d bytes", oci.MaxManifestSize))
		return
	}
	m, err := oci.ParseManifest(body, r.Header.Get("Content-Type"))
	if err != nil {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeManifestInvalid, "%s", strings.TrimPrefix(err.Error(), "invalid: ")))
		return
	}
	d := blob.FromBytes(blob.SHA256, body)
	if rt.Ref.Digest != "" {
		if d = blob.FromBytes(rt.Ref.Digest.Algorithm(), body); d != rt.Ref.Digest {
			h.writeError(w, r, ocihttp.Fail(ocihttp.CodeDigestInvalid, "the manifest does not have digest %s", rt.Ref.Digest))
			return
		}
	}
	var tags, paramTags []string
	if rt.Ref.Tag != "" {
		tags = append(tags, rt.Ref.Tag)
	}
	for _, t := range r.URL.Query()["tag"] {
		if !oci.ValidTag(t) {
			h.writeError(w, r, ocihttp.Fail(ocihttp.CodeManifestInvalid, "invalid tag"))
			return
		}
		paramTags = append(paramTags, t)
	}
	if len(paramTags) > maxTagParams {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeTagsTooMany, "at most %d tags per push", maxTagParams))
		return
	}
	tags = append(tags, paramTags...)
	if err := blob.PutBytes(ctx, h.cfg.Blobs, d, body); err != nil {
		h.writeError(w, r, err)
		return
	}
	rec := oci.ManifestRecord{Digest: string(d), MediaType: m.MediaType, Size: int64(len(body)),
		ArtifactType: m.ArtifactType, Blobs: m.Blobs(), Children: m.Children(), CreatedAt: h.cfg.Now()}
	if m.Subject != nil {
		rec.Subject, rec.Annotations = m.Subject.Digest, m.Annotations
	}
	if err := h.cfg.Store.PutManifest(ctx, g.repo(rt), rec, tags); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.fenceManifest(ctx, g.repo(rt), d); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v2/"+rt.Name.String()+"/manifests/"+string(d))
	w.Header().Set("Docker-Content-Digest", string(d))
	if m.Subject != nil {
		w.Header().Set("OCI-Subject", m.Subject.Digest)
	}
	if len(paramTags) > 0 {
		w.Header().Set("OCI-Tag", strings.Join(paramTags, ", "))
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// fenceManifest checks, after the manifest d was recorded in repo, that garbage collection has
// not deleted its bytes meanwhile; if it has, the manifest goes and the push fails.
func (h *Handler) fenceManifest(ctx context.Context, repo oci.Repository, d blob.Digest) error {
	if h.cfg.Fence == nil {
		return nil
	}
	ok, err := h.cfg.Fence.Survived(ctx, d)
	if err != nil || ok {
		return err
	}
	if err := h.cfg.Store.DeleteManifest(context.WithoutCancel(ctx), repo, string(d)); err != nil && !errors.Is(err, oci.ErrNotFound) {
		h.cfg.Log.WarnContext(ctx, "delete a manifest garbage collection removed", "digest", string(d), "err", err.Error())
	}
	return errCollected
}

// serveDeleteManifest answers DELETE /v2/<name>/manifests/<tag|digest>: by tag the tag goes, by
// digest the manifest and every tag pointing at it.
func (h *Handler) serveDeleteManifest(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	var err error
	if rt.Ref.Digest != "" {
		err = h.cfg.Store.DeleteManifest(r.Context(), g.repo(rt), string(rt.Ref.Digest))
	} else {
		err = h.cfg.Store.DeleteTag(r.Context(), g.repo(rt), rt.Ref.Tag)
	}
	ocihttp.Deleted(w, r, err, ocihttp.CodeManifestUnknown, h.writeError)
}
