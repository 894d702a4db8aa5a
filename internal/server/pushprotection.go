package server

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/git"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// pushProtection is secret push protection's configuration (docs/design.md §6.2.2): the token
// services say which secrets are live, the audit log records refusals and skips. nil (off) when
// the setting turns it off.
func (s *Server) pushProtection() *git.PushProtection {
	if !s.Config.SecretPushProtection {
		return nil
	}
	return &git.PushProtection{Live: s.liveSecret, Record: s.recordSecretPush}
}

// liveSecret reports whether secret is a deploy token or personal access token that works now.
// It asks the token services directly, not the authenticator: a secret found in a push is not
// a login, so it neither counts in the ban nor marks the token used.
func (s *Server) liveSecret(ctx context.Context, secret token.Secret) (string, bool) {
	switch {
	case secret.HasPrefix(token.DeployTokenPrefix):
		t, err := s.Deploy.Authenticate(ctx, "", secret, false)
		return "deploy token", err == nil && t.Active(s.Deploy.Now())
	case secret.HasPrefix(token.PersonalTokenPrefix):
		t, err := s.Personal.Authenticate(ctx, secret)
		return "personal access token", err == nil && t.Active(s.Personal.Now())
	}
	return "", false
}

// recordSecretPush audits a push secret push protection refused, or let through on the skip
// option, on the project, by the pusher, with where the credentials are (never what they are).
func (s *Server) recordSecretPush(ctx context.Context, p *namespace.Project, pusher access.Principal, ip netip.Addr, skipped bool, findings []string) {
	e := audit.Event{Type: audit.SecretPushBlocked, ActorKind: "anonymous", ActorName: pusher.Name(),
		EntityType: "project", EntityID: p.ID, IP: ip.String(),
		Details: strings.Join(findings, "; ")}
	if skipped {
		e.Type = audit.SecretPushSkipped
	}
	switch pusher.Kind {
	case access.UserPrincipal:
		e.ActorKind, e.ActorID = "user", pusher.User.ID
	case access.DeployTokenPrincipal:
		e.ActorKind, e.ActorID = "deploy_token", pusher.DeployToken.ID
	}
	if err := s.Audit.Record(ctx, e); err != nil {
		s.Log.ErrorContext(ctx, "audit secret push", slog.String("err", err.Error()))
	}
}
