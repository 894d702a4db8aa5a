package api

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// DependencyProxySettings is each group's dependency-proxy setting and cache (*proxy.Settings
// implements it).
type DependencyProxySettings interface {
	// GroupEnabled reports whether the group's proxy is on (it is unless turned off).
	GroupEnabled(ctx context.Context, groupID int64) (bool, error)
	// SetEnabled turns the group's proxy on or off.
	SetEnabled(ctx context.Context, groupID int64, enabled bool) error
	// Purge removes everything the group's proxy has cached.
	Purge(ctx context.Context, groupID int64) error
}

// dependencyProxyJSON is the group's setting, as GitLab's dependency_proxy_setting.
type dependencyProxyJSON struct {
	Enabled bool `json:"enabled"`
}

// getDependencyProxy answers GET /groups/:id/dependency_proxy: {"enabled": …} to anyone who
// can see the group.
func (h *Handler) getDependencyProxy(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ViewNamespace)
	if err != nil {
		return err
	}
	on, err := h.cfg.DependencyProxy.GroupEnabled(ctxOf(r), g.ID)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, dependencyProxyJSON{Enabled: on})
	return nil
}

var dependencyProxyParams = params{{name: "enabled", typ: tBool, required: true}}

// putDependencyProxy answers PUT /groups/:id/dependency_proxy with enabled=true|false (group
// owners; GitLab does this through GraphQL's updateDependencyProxySettings).
func (h *Handler) putDependencyProxy(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.AdministerDependencyProxy)
	if err != nil {
		return err
	}
	if err := dependencyProxyParams.check(r); err != nil {
		return err
	}
	on := boolParam(r, "enabled")
	if err := h.cfg.DependencyProxy.SetEnabled(ctxOf(r), g.ID, on); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, dependencyProxyJSON{Enabled: on})
	return nil
}

// purgeDependencyProxy answers DELETE /groups/:id/dependency_proxy/cache (GitLab's purge, group
// owners): the cached manifests and blobs go (202); their bytes go with garbage collection.
func (h *Handler) purgeDependencyProxy(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.AdministerDependencyProxy)
	if err != nil {
		return err
	}
	if err := h.cfg.DependencyProxy.Purge(ctxOf(r), g.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
