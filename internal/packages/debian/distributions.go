package debian

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// The distributions API: GitLab's /projects/:id/debian_distributions and
// /groups/:id/-/debian_distributions, with its parameters and its JSON shape.

// distributionJSON is GitLab's API::Entities::Packages::Debian::Distribution.
type distributionJSON struct {
	ID                       int64    `json:"id"`
	Codename                 string   `json:"codename"`
	Suite                    *string  `json:"suite"`
	Origin                   *string  `json:"origin"`
	Label                    *string  `json:"label"`
	Version                  *string  `json:"version"`
	Description              *string  `json:"description"`
	ValidTimeDurationSeconds *int64   `json:"valid_time_duration_seconds"`
	Components               []string `json:"components"`
	Architectures            []string `json:"architectures"`
}

func toJSON(d *packages.Distribution) distributionJSON {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	out := distributionJSON{ID: d.ID, Codename: d.Codename, Suite: opt(d.Suite), Origin: opt(d.Origin), Label: opt(d.Label),
		Version: opt(d.Version), Description: opt(d.Description), Components: d.Components, Architectures: d.Architectures}
	if d.ValidTimeDuration > 0 {
		s := int64(d.ValidTimeDuration / time.Second)
		out.ValidTimeDurationSeconds = &s
	}
	return out
}

// distributionParams are the create and update parameters, from a form, the query string or a
// JSON body (GitLab accepts each). A nil field was not given.
type distributionParams struct {
	Codename, Suite, Origin, Label, Version, Description *string
	ValidTimeDurationSeconds                             *int64
	Components, Architectures                            []string
	hasComponents, hasArchitectures                      bool
}

// maxParamsBody bounds a distributions API request body.
const maxParamsBody = 64 << 10

// parseDistributionParams reads the parameters of a create or update: a JSON object when
// contentType says so, else the form (urlencoded) merged over query. Values are checked as
// GitLab checks them.
func parseDistributionParams(query url.Values, contentType string, body io.Reader) (*distributionParams, error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxParamsBody+1))
	if err != nil {
		return nil, invalid("body", "could not be read")
	}
	if len(raw) > maxParamsBody {
		return nil, tooLarge("request body")
	}
	vals := url.Values{}
	for k, v := range query {
		vals[k] = v
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" && len(raw) > 0:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, invalid("body", "is not a JSON object")
		}
		for k, v := range m {
			var list []any
			var one any
			switch {
			case json.Unmarshal(v, &list) == nil:
				for _, x := range list {
					vals.Add(k+"[]", jsonScalar(x))
				}
			case json.Unmarshal(v, &one) == nil:
				if one != nil {
					vals.Set(k, jsonScalar(one))
				}
			}
		}
	case len(raw) > 0:
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, invalid("body", "is not a form")
		}
		for k, v := range form {
			vals[k] = v
		}
	}
	p := &distributionParams{}
	str := func(name string, check func(string) error, dst **string) error {
		if v, ok := vals[name]; ok && len(v) > 0 {
			s := v[0]
			if len(s) > 255 || strings.ContainsAny(s, "\r\n\x00") {
				return invalid(name, "must be one line of at most 255 characters")
			}
			if check != nil && s != "" {
				if err := check(s); err != nil {
					return err
				}
			}
			*dst = &s
		}
		return nil
	}
	if err := firstErr(str("codename", checkCodename, &p.Codename), str("suite", checkCodename, &p.Suite),
		str("origin", nil, &p.Origin), str("label", nil, &p.Label), str("version", nil, &p.Version),
		str("description", nil, &p.Description)); err != nil {
		return nil, err
	}
	if v := vals.Get("valid_time_duration_seconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 10*365*24*3600 {
			return nil, invalid("valid_time_duration_seconds", "must be a number of seconds")
		}
		p.ValidTimeDurationSeconds = &n
	}
	list := func(name string, check func(string) error) ([]string, bool, error) {
		v, ok := vals[name+"[]"]
		if !ok {
			v, ok = vals[name]
		}
		var out []string
		for _, s := range v {
			for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
				if err := check(x); err != nil {
					return nil, false, err
				}
				if !contains(out, x) {
					out = append(out, x)
				}
			}
		}
		if len(out) > 64 {
			return nil, false, invalid(name, "are too many")
		}
		return out, ok, nil
	}
	if p.Components, p.hasComponents, err = list("components", checkComponent); err != nil {
		return nil, err
	}
	if p.Architectures, p.hasArchitectures, err = list("architectures", checkArch); err != nil {
		return nil, err
	}
	return p, nil
}

func jsonScalar(x any) string {
	switch v := x.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// apply sets d's fields from p: all of them on create, the given ones on update. Architecture
// all is always there, as GitLab keeps it.
func (p *distributionParams) apply(d *packages.Distribution) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&d.Suite, p.Suite)
	set(&d.Origin, p.Origin)
	set(&d.Label, p.Label)
	set(&d.Version, p.Version)
	set(&d.Description, p.Description)
	if p.ValidTimeDurationSeconds != nil {
		d.ValidTimeDuration = time.Duration(*p.ValidTimeDurationSeconds) * time.Second
	}
	if p.hasComponents {
		d.Components = p.Components
	}
	if p.hasArchitectures {
		d.Architectures = p.Architectures
	}
	if len(d.Components) == 0 {
		d.Components = []string{"main"}
	}
	if !contains(d.Architectures, "all") {
		d.Architectures = append([]string{"all"}, d.Architectures...)
	}
	if len(d.Architectures) == 1 {
		d.Architectures = append(d.Architectures, "amd64")
	}
}

// groupWrite refuses a change to a group's distribution unless the credential may write the
// packages of every project in the group: a group distribution signs what all of them serve,
// so a token of one project must not manage it.
func (h *Handler) groupWrite(ctx context.Context, rt Route, g pkghttp.Grant) error {
	if rt.level == levelProject {
		return nil
	}
	grp, err := h.cfg.Packages.Group(ctx, rt.Ref)
	if err != nil {
		return err
	}
	all, err := h.groupProjects(ctx, grp)
	if err != nil {
		return err
	}
	if len(g.Projects()) < len(all) {
		return &pkghttp.DeniedError{Kind: errkind.ErrForbidden, Reason: "changing a group's distribution needs write access to the packages of every project in the group"}
	}
	return nil
}

func (h *Handler) handleListDistributions(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	pid, gid, err := h.owner(ctx, rt, g)
	var ds []*packages.Distribution
	if err == nil {
		ds, err = h.cfg.Distributions.Distributions(ctx, pid, gid)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	out := []distributionJSON{}
	for _, d := range ds {
		if c := q.Get("codename"); c != "" && c != d.Codename {
			continue
		}
		if s := q.Get("suite"); s != "" && s != d.Suite {
			continue
		}
		out = append(out, toJSON(d))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) handleGetDistribution(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	d, err := h.distribution(r.Context(), rt, g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toJSON(d))
}

func (h *Handler) handleDistributionKey(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	d, err := h.distribution(r.Context(), rt, g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, d.PublicKey)
}

func (h *Handler) handleCreateDistribution(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	p, err := parseDistributionParams(r.URL.Query(), r.Header.Get("Content-Type"), r.Body)
	if err == nil && p.Codename == nil {
		err = invalid("codename", "is missing")
	}
	if err == nil {
		err = h.groupWrite(ctx, rt, g)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	pid, gid, err := h.owner(ctx, rt, g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.cfg.Now()
	d := &packages.Distribution{ProjectID: pid, GroupID: gid, Codename: *p.Codename, CreatedAt: now, UpdatedAt: now}
	p.apply(d)
	if h.cfg.Sealer == nil {
		h.writeError(w, r, errors.New("debian: no sealer configured"))
		return
	}
	priv, pub, err := GenerateKey("Gatehouse "+d.Codename+" distribution", now)
	if err == nil {
		d.PublicKey = pub
		d.SealedKey, err = h.cfg.Sealer.Seal(priv, keyBinding(d))
	}
	if err == nil {
		err = h.cfg.Distributions.CreateDistribution(ctx, d)
	}
	if errors.Is(err, packages.ErrConflict) {
		err = &existsError{codename: d.Codename}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, toJSON(d))
}

type existsError struct{ codename string }

func (e *existsError) Error() string { return "distribution " + e.codename + " already exists" }
func (e *existsError) Unwrap() error { return packages.ErrConflict }

func (h *Handler) handleUpdateDistribution(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	p, err := parseDistributionParams(r.URL.Query(), r.Header.Get("Content-Type"), r.Body)
	if err == nil {
		err = h.groupWrite(ctx, rt, g)
	}
	var d *packages.Distribution
	if err == nil {
		d, err = h.distribution(ctx, rt, g)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c := *d
	p.apply(&c)
	c.UpdatedAt = h.cfg.Now()
	if err := h.cfg.Distributions.UpdateDistribution(ctx, &c); err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toJSON(&c))
}

func (h *Handler) handleDeleteDistribution(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	err := h.groupWrite(ctx, rt, g)
	var d *packages.Distribution
	if err == nil {
		d, err = h.distribution(ctx, rt, g)
	}
	if err == nil {
		err = h.cfg.Distributions.DeleteDistribution(ctx, d.ID)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
