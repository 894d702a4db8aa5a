package registry

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// authorize checks the bearer token (anonymous requests may pull public images) and asks access
// for every action the route needs (ocihttp.Gate). It writes the 401 challenge itself.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, rt route, need []string) (grant, error) {
	ctx := r.Context()
	c, err := h.gate.Authenticate(w, r, scopes(rt, need, ""))
	if err != nil {
		return grant{}, err
	}
	p := c.Principal
	switch rt.Kind {
	case ocihttp.KindBase:
		if c.Claims == nil {
			return grant{}, h.gate.Challenge(w, nil, "", "")
		}
		return grant{principal: p}, nil
	case ocihttp.KindCatalog:
		d, err := h.cfg.Gate.Authorize(ctx, r, p, access.Resource{}, catalogAction)
		switch {
		case err != nil:
			return grant{}, err
		case d.Allow() && c.Claims != nil && c.Has(jwtauth.RegistryType, "catalog", jwtauth.All):
			return grant{principal: p}, nil
		case d.Allow() || p.Kind == access.Anonymous:
			return grant{}, h.gate.Challenge(w, scopes(rt, need, ""), c.ChallengeError(), "")
		}
		return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "the catalog is for administrators")
	}

	project, err := h.cfg.Projects.Resolve(ctx, rt.Name)
	if err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return grant{}, err
	}
	t := ocihttp.Target{Name: rt.Name.String()}
	if project != nil {
		t.Resource = &access.Resource{Project: project}
	}
	if err := h.gate.Authorize(w, r, c, t, need, jwtauth.ImageAction); err != nil {
		return grant{}, err
	}
	g := grant{principal: p, project: project}
	if rt.Kind == ocihttp.KindUploadStart {
		if err := h.authorizeMount(w, r, rt, need, c, &g); err != nil {
			return grant{}, err
		}
	}
	return g, nil
}

// authorizeMount decides a cross-repository mount (?mount=&from=): it needs pull on the source
// too. A source the principal may not read is not an error: the POST falls back to a normal
// upload (202), revealing nothing. A source it may read but its token lacks is challenged, so the
// client fetches a token covering both repositories.
func (h *Handler) authorizeMount(w http.ResponseWriter, r *http.Request, rt route, need []string, c ocihttp.Caller, g *grant) error {
	q := r.URL.Query()
	from := q.Get("from")
	if q.Get("mount") == "" || from == "" {
		return nil
	}
	src, err := oci.ParseName(from)
	if err != nil {
		return nil
	}
	if src == rt.Name {
		g.mount = g.repo(rt)
		return nil
	}
	ctx := r.Context()
	project, err := h.cfg.Projects.Resolve(ctx, src)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := h.cfg.Gate.Authorize(ctx, r, c.Principal, access.Resource{Project: project}, access.PullImage)
	if err != nil || !d.Allow() {
		return err
	}
	if !c.Has(jwtauth.RepositoryType, src.String(), jwtauth.Pull) {
		return h.gate.Challenge(w, scopes(rt, need, src), "insufficient_scope", "")
	}
	g.mount = oci.Repository{ProjectID: project.ID, Name: src}
	return nil
}

// scopes are what a challenge for the route asks for: the scope the route needs (the catalog's,
// or need on its repository), plus pull on a mount source.
func scopes(rt route, need []string, mountSrc oci.Name) []string {
	var s []string
	switch {
	case rt.Kind == ocihttp.KindCatalog:
		s = append(s, "registry:catalog:*")
	case rt.Name != "" && len(need) > 0:
		s = append(s, ocihttp.RepositoryScope(rt.Name.String(), need))
	}
	if mountSrc != "" {
		s = append(s, ocihttp.RepositoryScope(mountSrc.String(), []string{jwtauth.Pull}))
	}
	return s
}
