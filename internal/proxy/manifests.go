package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// serveManifest answers GET and HEAD …/manifests/<tag|digest> from the group's cache, filling
// it from the upstream on a miss, or when a tag was last checked longer ago than the TTL.
func (h *Handler) serveManifest(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	ctx := r.Context()
	m, err := h.manifest(ctx, rt, g.group, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ocihttp.SetDigestHeaders(w, m.Digest)
	if ocihttp.NotModified(w, r, m.Digest) {
		return
	}
	var rc io.ReadCloser
	if r.Method != http.MethodHead {
		rc, err = h.cfg.Blobs.Open(ctx, blob.Digest(m.Digest), 0)
		if errors.Is(err, blob.ErrNotFound) {
			// Recorded but gone from storage (garbage collection, a lost disk): fetch it again.
			h.cfg.Log.WarnContext(ctx, "cached manifest missing from storage; fetching it again", "digest", m.Digest)
			if m, err = h.manifest(ctx, rt, g.group, true); err == nil {
				ocihttp.SetDigestHeaders(w, m.Digest)
				rc, err = h.cfg.Blobs.Open(ctx, blob.Digest(m.Digest), 0)
			}
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		defer rc.Close()
	}
	w.Header().Set("Content-Type", m.MediaType)
	w.Header().Set("Content-Length", strconv.FormatInt(m.Size, 10))
	w.WriteHeader(http.StatusOK)
	if rc != nil {
		_, _ = io.Copy(w, rc)
	}
}

// manifest returns the group's cached manifest for the route's reference: from the cache
// while it is fresh (a digest always is; a tag for the TTL), else from the upstream. A stale
// tag the upstream cannot confirm is served as cached. refetch ignores the cache.
func (h *Handler) manifest(ctx context.Context, rt route, group *namespace.Group, refetch bool) (oci.CachedManifest, error) {
	image := rt.Name.Image.String()
	var cached *oci.CachedManifest
	if !refetch {
		m, err := h.cfg.Store.ProxyManifest(ctx, group.ID, image, rt.Ref.String())
		switch {
		case err == nil:
			if rt.Ref.Digest != "" || h.cfg.Now().Sub(m.CheckedAt) < h.cfg.TagTTL {
				return m, nil
			}
			cached = &m
		case !errors.Is(err, oci.ErrNotFound):
			return oci.CachedManifest{}, err
		}
	}
	up := h.cfg.Upstream.ImagePath(rt.Name.Image)
	v, err := h.shared(ctx, "manifest\x00"+up+"\x00"+rt.Ref.String(),
		func(ctx context.Context) (any, error) { return h.fetchManifest(ctx, up, rt) },
		func(ctx context.Context, v any) error {
			_, err := h.keepManifest(ctx, group.ID, image, rt, v.(oci.CachedManifest), cached)
			return err
		})
	if err != nil {
		if cached != nil && ctx.Err() == nil {
			h.cfg.Log.WarnContext(ctx, "cannot check a cached tag with the upstream; serving the cached copy",
				"image", image, "tag", rt.Ref.Tag, "err", err.Error())
			return *cached, nil
		}
		return oci.CachedManifest{}, upstreamFailure(err, ocihttp.CodeManifestUnknown)
	}
	m := v.(oci.CachedManifest)
	m.CheckedAt = h.cfg.Now()
	return m, nil
}

// fetchManifest asks the upstream for the manifest of image at the route's reference and
// stores its bytes. For a tag, a HEAD first (free of Docker Hub's rate limit) learns the digest,
// and a GET by that digest follows only when the store does not hold it yet; a digest the store
// holds (for another group) needs only the HEAD, to confirm the upstream serves it for this
// image. The bytes must match the digest the request or the upstream names.
func (h *Handler) fetchManifest(ctx context.Context, image string, rt route) (oci.CachedManifest, error) {
	ref := rt.Ref.String()
	want := rt.Ref.Digest
	headType := ""
	if want == "" || h.stored(ctx, want) {
		head, err := h.cfg.Upstream.headManifest(ctx, image, ref)
		var ue *upstreamError
		switch {
		case err == nil:
			headType = head.mediaType
			if want == "" {
				want = head.digest
			}
		case errors.As(err, &ue) && (ue.status == http.StatusMethodNotAllowed || ue.status == http.StatusNotImplemented):
			// An upstream without HEAD: the GET tells.
		default:
			return oci.CachedManifest{}, err
		}
	}
	if want != "" {
		if m, ok, err := h.storedManifest(ctx, want, headType); err != nil || ok {
			return m, err
		}
		ref = string(want)
	}
	body, contentType, told, err := h.cfg.Upstream.getManifest(ctx, image, ref)
	if err != nil {
		return oci.CachedManifest{}, err
	}
	if want == "" {
		want = told
	}
	if want == "" {
		want = blob.FromBytes(blob.SHA256, body)
	}
	if blob.FromBytes(want.Algorithm(), body) != want || (told != "" && told != want) {
		h.cfg.Log.WarnContext(ctx, "upstream manifest does not match its digest; not cached", "image", image, "ref", rt.Ref.String())
		return oci.CachedManifest{}, errCorrupt
	}
	parsed, err := oci.ParseManifest(body, contentType)
	if err != nil {
		return oci.CachedManifest{}, fmt.Errorf("%w: %v", errUnsupportedMedia, err)
	}
	if err := blob.PutBytes(ctx, h.cfg.Blobs, want, body); err != nil {
		return oci.CachedManifest{}, err
	}
	return oci.CachedManifest{Digest: string(want), MediaType: parsed.MediaType, Size: int64(len(body))}, nil
}

// stored reports whether the blob store holds d.
func (h *Handler) stored(ctx context.Context, d blob.Digest) bool {
	_, err := h.cfg.Blobs.Stat(ctx, d)
	return err == nil
}

// storedManifest returns manifest d when the blob store already holds its bytes (ok false when
// it does not).
func (h *Handler) storedManifest(ctx context.Context, d blob.Digest, contentType string) (oci.CachedManifest, bool, error) {
	info, err := h.cfg.Blobs.Stat(ctx, d)
	if errors.Is(err, blob.ErrNotFound) || (err == nil && info.Size > oci.MaxManifestSize) {
		return oci.CachedManifest{}, false, nil
	}
	if err != nil {
		return oci.CachedManifest{}, false, err
	}
	rc, err := h.cfg.Blobs.Open(ctx, d, 0)
	if errors.Is(err, blob.ErrNotFound) {
		return oci.CachedManifest{}, false, nil
	}
	if err != nil {
		return oci.CachedManifest{}, false, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, oci.MaxManifestSize+1))
	if err != nil {
		return oci.CachedManifest{}, false, err
	}
	parsed, err := oci.ParseManifest(body, contentType)
	if err != nil {
		// Stored bytes under that digest that are no manifest: the upstream's answer is wrong.
		return oci.CachedManifest{}, false, fmt.Errorf("%w: %v", errUnsupportedMedia, err)
	}
	return oci.CachedManifest{Digest: string(d), MediaType: parsed.MediaType, Size: int64(len(body))}, true, nil
}

// keepManifest records a fetched manifest in the group's cache of image: under the route's
// tag (as checked now) or by digest. A tag the upstream still points at the cached manifest is
// only marked as checked. Then it checks the bytes survived garbage collection.
func (h *Handler) keepManifest(ctx context.Context, groupID int64, image string, rt route, m oci.CachedManifest,
	cached *oci.CachedManifest) (oci.CachedManifest, error) {
	now := h.cfg.Now()
	m.CreatedAt, m.CheckedAt = now, now
	var err error
	if rt.Ref.Tag != "" && cached != nil && cached.Digest == m.Digest {
		err = h.cfg.Store.TouchProxyTag(ctx, groupID, image, rt.Ref.Tag, m.Digest, now)
	} else {
		err = h.cfg.Store.PutProxyManifest(ctx, groupID, image, m, rt.Ref.Tag)
	}
	if err != nil || h.cfg.Fence == nil {
		return m, err
	}
	ok, err := h.cfg.Fence.Survived(ctx, blob.Digest(m.Digest))
	if err != nil || ok {
		return m, err
	}
	if err := h.cfg.Store.DeleteProxyManifest(context.WithoutCancel(ctx), groupID, image, m.Digest); err != nil && !errors.Is(err, oci.ErrNotFound) {
		h.cfg.Log.WarnContext(ctx, "delete a cached manifest garbage collection removed", "digest", m.Digest, "err", err.Error())
	}
	return m, errCollected
}

// serveDeleteManifest answers DELETE …/manifests/<tag|digest>: by tag the cached tag goes, by
// digest the cached manifest and every tag naming it (202); the bytes stay for garbage
// collection.
func (h *Handler) serveDeleteManifest(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	image := rt.Name.Image.String()
	var err error
	if rt.Ref.Digest != "" {
		err = h.cfg.Store.DeleteProxyManifest(r.Context(), g.group.ID, image, string(rt.Ref.Digest))
	} else {
		err = h.cfg.Store.DeleteProxyTag(r.Context(), g.group.ID, image, rt.Ref.Tag)
	}
	ocihttp.Deleted(w, r, err, ocihttp.CodeManifestUnknown, h.writeError)
}
