package server

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/composer"
	"github.com/gatehouse-dev/gatehouse/internal/packages/debian"
	"github.com/gatehouse-dev/gatehouse/internal/packages/generic"
	"github.com/gatehouse-dev/gatehouse/internal/packages/goproxy"
	"github.com/gatehouse-dev/gatehouse/internal/packages/helm"
	"github.com/gatehouse-dev/gatehouse/internal/packages/maven"
	"github.com/gatehouse-dev/gatehouse/internal/packages/npm"
	"github.com/gatehouse-dev/gatehouse/internal/packages/nuget"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pypi"
	"github.com/gatehouse-dev/gatehouse/internal/packages/rubygems"
	"github.com/gatehouse-dev/gatehouse/internal/packages/terraform"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// openPackages builds the package registries' service over the shared store and blob store,
// with the configured per-format size limits, garbage collection's fence and the formats'
// follow-ups to deletes (Maven's metadata sync).
func (s *Server) openPackages() error {
	opts := packages.Options{Now: s.Deploy.Now, MaxFileSize: s.Config.Packages.MaxFileSize,
		AfterVersionDeleted: map[packages.Format]packages.VersionDeleted{packages.Maven: maven.SyncMetadata}}
	if s.fence != nil {
		opts.Fence = s.fence
	}
	svc, err := packages.NewService(s.Store.Packages, s.Blobs, s.Namespaces, opts)
	if err != nil {
		return err
	}
	s.Packages = svc
	return nil
}

// packageHandler is one format's dispatcher with the ServeMux patterns it serves.
type packageHandler interface {
	http.Handler
	Patterns() []string
}

// mountPackages mounts every package format's dispatcher under its patterns (more specific
// than the REST API's /api/v4/, so they win) and returns the patterns, which name the formats'
// surfaces in the metrics.
func (s *Server) mountPackages(mux *http.ServeMux) (patterns []string) {
	formats := []packageHandler{
		generic.New(generic.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log}),
		maven.New(maven.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log}),
		goproxy.New(goproxy.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, ExternalURL: s.Config.ExternalURL, Repos: s.Repos, GitBin: s.Config.GitBinary}),
		npm.New(npm.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, ExternalURL: s.Config.ExternalURL}),
		nuget.New(nuget.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, ExternalURL: s.Config.ExternalURL, Projects: s.Namespaces}),
		pypi.New(pypi.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, ExternalURL: s.Config.ExternalURL}),
		debian.New(debian.Config{Packages: s.Packages, Distributions: s.Store.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log,
			Sealer: debianSealer(s.Config), Projects: s.Namespaces, Now: s.Deploy.Now}),
		helm.New(helm.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, Now: s.Deploy.Now}),
		composer.New(composer.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, ExternalURL: s.Config.ExternalURL, Repos: s.Repos, GitBin: s.Config.GitBinary}),
		terraform.New(terraform.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log, Now: s.Deploy.Now,
			Sealer: token.NewSealer(s.Tokens.Key().Derive("terraform-download-link"), "gatehouse/terraform-download-link/v1")}),
		rubygems.New(rubygems.Config{Packages: s.Packages, Auth: s.Auth, Gate: s.Gate, Log: s.Log}),
	}
	for _, h := range formats {
		for _, p := range h.Patterns() {
			mux.Handle(p, h)
			patterns = append(patterns, p)
		}
	}
	return patterns
}
