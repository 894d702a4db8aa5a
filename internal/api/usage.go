package api

import (
	"net/http"
	"net/netip"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// usageJSON is one day of a deploy token's usage.
type usageJSON struct {
	Date     string `json:"date"`
	Requests int64  `json:"requests"`
}

// addrPtr renders an address for JSON: null when unknown.
func addrPtr(ip netip.Addr) *string {
	if !ip.IsValid() {
		return nil
	}
	s := ip.String()
	return &s
}

func (h *Handler) projectDeployTokenUsage(w http.ResponseWriter, r *request) error {
	p, err := h.project(r, access.ListDeployTokens)
	if err != nil {
		return err
	}
	return h.writeUsage(w, r, token.Owner{ProjectID: p.ID})
}

func (h *Handler) groupDeployTokenUsage(w http.ResponseWriter, r *request) error {
	g, err := h.group(r, access.ListDeployTokens)
	if err != nil {
		return err
	}
	return h.writeUsage(w, r, token.Owner{GroupID: g.ID})
}

// usageParams: the day series is bounded by days, not paginated.
var usageParams = params{{name: "days", typ: tInt}}

// writeUsage answers the requests per UTC day of {token_id} over the last ?days= days (default
// 30, at most 366), oldest first, days without requests included as 0.
func (h *Handler) writeUsage(w http.ResponseWriter, r *request, owner token.Owner) error {
	t, err := h.ownedToken(r, owner)
	if err != nil {
		return err
	}
	if err := usageParams.check(r); err != nil {
		return err
	}
	days := token.DefaultUsageDays
	if r.params.Get("days") != "" {
		n, _ := intParam(r, "days")
		days = int(n) // the range is token.Usage's to check
	}
	usage, err := h.cfg.Deploy.Usage(ctxOf(r), t.ID, days)
	if err != nil {
		return err
	}
	out := make([]usageJSON, len(usage))
	for i, u := range usage {
		out[i] = usageJSON{Date: u.Day.Format("2006-01-02"), Requests: u.Requests}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
