package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// ciVariableJSON is GitLab's variable shape.
type ciVariableJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Masked bool   `json:"masked"`
}

// listCIVariables answers GET /projects/:id/ci/variables/predefined: the variables a runner would
// inject into the project's jobs (docs/design.md §3.2). CI_DEPLOY_USER and CI_DEPLOY_PASSWORD are
// present only while an active gitlab-deploy-token applies to the project.
func (h *Handler) listCIVariables(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ReadCIVariables)
	if err != nil {
		return err
	}
	registry := h.cfg.ExternalURL
	if u, err := url.Parse(h.cfg.ExternalURL); err == nil {
		registry = u.Host
	}
	vars := []ciVariableJSON{
		{Key: "CI_SERVER_URL", Value: h.cfg.ExternalURL},
		{Key: "CI_API_V4_URL", Value: h.cfg.ExternalURL + "/api/v4"},
		{Key: "CI_PROJECT_PATH", Value: p.FullPath},
		{Key: "CI_REGISTRY", Value: registry},
		{Key: "CI_REGISTRY_IMAGE", Value: registry + "/" + strings.ToLower(p.FullPath)},
	}
	t, secret, err := h.cfg.Deploy.CITokenFor(ctxOf(r), p.ID, p.GroupID)
	switch {
	case err == nil:
		vars = append(vars, ciVariableJSON{Key: "CI_DEPLOY_USER", Value: t.Username},
			ciVariableJSON{Key: "CI_DEPLOY_PASSWORD", Value: secret.Reveal(), Masked: true})
	case !errors.Is(err, errkind.ErrNotFound):
		return err
	}
	paginate(w, r, vars)
	return nil
}
