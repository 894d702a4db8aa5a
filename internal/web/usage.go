package web

import (
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// usageRanges are the ranges the usage view offers (?days=), the first the default.
var usageRanges = []int{token.DefaultUsageDays, 90}

type usageDay struct {
	Day      time.Time
	Requests int64
	Refusals int64
}

type usageRange struct {
	Days    int
	Href    string
	Current bool
}

type usageData struct {
	Target *target
	Token  tokenRow
	Days   int
	Ranges []usageRange
	// Chart is the SVG of Usage; Usage is newest first, for the table.
	Chart template.HTML
	Usage []usageDay
	// Refusals says whether the refusals are shown: they come from the audit events, which
	// the viewer must be allowed to read.
	Refusals      bool
	TotalRequests int64
	TotalRefusals int64
}

// tokenUsage shows a token's requests and refusals per UTC day over the last 30 or 90 days
// (?days=) as a bar chart, with the numbers in a table behind a disclosure, and its last use;
// anyone who may list the tokens may see it, and the refusals those who may also read the audit
// events (docs/design.md §2.11, §6.9).
func (h *Handler) tokenUsage(w http.ResponseWriter, r *http.Request, sess *session, t *target, id int64) error {
	tok, err := h.ownedToken(r, t, id)
	if err != nil {
		return err
	}
	days := usageRanges[0]
	if n, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && slices.Contains(usageRanges, n) {
		days = n
	}
	usage, err := h.cfg.Deploy.Usage(r.Context(), tok.ID, days)
	if err != nil {
		return err
	}
	d := usageData{Target: t, Token: rowOf(tok), Days: days}
	for _, n := range usageRanges {
		d.Ranges = append(d.Ranges, usageRange{Days: n, Href: r.URL.Path + "?days=" + strconv.Itoa(n), Current: n == days})
	}
	now := h.cfg.Deploy.Now()
	switch {
	case tok.Revoked:
		d.Token.Status = "Revoked"
	case tok.Expired(now):
		d.Token.Status = "Expired"
	}
	var refusals map[time.Time]int64
	if d.Refusals, err = h.allowed(r, sess, t.res, access.ReadAuditEvents); err != nil {
		return err
	}
	if d.Refusals && len(usage) > 0 && h.cfg.Audit != nil {
		if refusals, err = h.cfg.Audit.RefusalsPerDay(r.Context(), t.Kind, t.entityID, tok.ID, usage[0].Day); err != nil {
			return err
		}
	}
	chart := make([]chartDay, 0, len(usage))
	for _, u := range usage {
		day := chartDay{Day: u.Day, Requests: u.Requests, Refusals: refusals[u.Day]}
		chart = append(chart, day)
		d.TotalRequests += day.Requests
		d.TotalRefusals += day.Refusals
	}
	for _, c := range slices.Backward(chart) {
		d.Usage = append(d.Usage, usageDay(c))
	}
	d.Chart = usageChartSVG("usage-chart", tok.Name, chart)
	crumbs := append(append([]crumb{}, t.crumbs...), crumb{Label: "Repository settings", Href: t.Base + "/-/settings/repository"},
		crumb{Label: "Usage of " + tok.Name, Href: r.URL.Path})
	h.render(w, r, http.StatusOK, "usage", &page{Title: "Usage of deploy token " + tok.Name, User: sess.user, CSRF: sess.csrfToken(),
		Breadcrumbs: crumbs, Data: d})
	return nil
}

// addSparklines gives each row its token's requests of the last 30 days as a sparkline.
func (h *Handler) addSparklines(r *http.Request, rows []tokenRow) error {
	for i := range rows {
		usage, err := h.cfg.Deploy.Usage(r.Context(), rows[i].ID, token.DefaultUsageDays)
		if err != nil {
			return err
		}
		days := make([]chartDay, len(usage))
		for j, u := range usage {
			days[j] = chartDay{Day: u.Day, Requests: u.Requests}
		}
		rows[i].Sparkline = sparklineSVG("Requests with "+rows[i].Name, days)
	}
	return nil
}
