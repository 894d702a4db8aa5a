package api

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// GitLabVersion is the GitLab release whose REST API v4 Gatehouse follows, reported by /version
// and /metadata so that clients' feature checks (python-gitlab, Terraform's provider, glab)
// compare against the API they actually talk to. A plain release number: a suffix would read
// as a pre-release, lower than the release, to semantic-version comparisons.
const GitLabVersion = "17.11.0"

// metadataJSON is GitLab's /metadata (and /version) answer, with Gatehouse's own build beside it.
type metadataJSON struct {
	Version    string  `json:"version"`
	Revision   string  `json:"revision"`
	KAS        kasJSON `json:"kas"`
	Enterprise bool    `json:"enterprise"`
	Gatehouse  struct {
		Version  string `json:"version"`
		Revision string `json:"revision"`
	} `json:"gatehouse"`
}

// kasJSON: Gatehouse has no agent server for Kubernetes.
type kasJSON struct {
	Enabled             bool    `json:"enabled"`
	ExternalURL         *string `json:"externalUrl"`
	ExternalK8sProxyURL *string `json:"externalK8sProxyUrl"`
	Version             *string `json:"version"`
}

// version answers GET /version and GET /metadata: GitLab's version, Gatehouse's revision (the
// "revision" GitLab reports is its own build's) and Gatehouse's version.
func (h *Handler) version(w http.ResponseWriter, r *request) error {
	if err := (params{}).check(r); err != nil {
		return err
	}
	m := metadataJSON{Version: GitLabVersion, Revision: h.cfg.Revision}
	m.Gatehouse.Version, m.Gatehouse.Revision = h.cfg.Version, h.cfg.Revision
	httpx.WriteJSON(w, http.StatusOK, m)
	return nil
}
