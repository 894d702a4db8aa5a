package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// The charts of docs/design.md §6.9: server-rendered SVG, no script, no inline styles (the CSP
// forbids them): colours come from classes in gatehouse.css. Every chart is an image with a
// title and a description for screen readers; the numbers behind it are in the page as text
// (a table in a disclosure, or a legend). Every text drawn is escaped here.

// chartDay is one day of a usage chart.
type chartDay struct {
	Day      time.Time
	Requests int64
	Refusals int64
}

// usageChart geometry, in SVG user units (the SVG scales to its container's width).
const (
	usageWidth  = 720
	usageHeight = 220
	usageLeft   = 48 // room for the scale's labels
	usageRight  = 8
	usageTop    = 12
	usageBottom = 28 // room for the dates
)

// niceMax is the top of a chart's scale for largest value max: the smallest 1, 2 or 5 × 10^k
// that is at least max (1 for an empty chart), so the scale's labels are round numbers.
func niceMax(max int64) int64 {
	if max <= 1 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= max {
				return m * p
			}
		}
	}
}

// scaled is v's share of full on a scale of length px units, rounded to a tenth of a unit.
func scaled(v, top int64, px float64) float64 {
	if top <= 0 || v <= 0 {
		return 0
	}
	return float64(int64(float64(v)/float64(top)*px*10+0.5)) / 10
}

// num formats an SVG coordinate without trailing zeros.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// esc escapes text for SVG content and attribute values.
func esc(s string) string { return template.HTMLEscapeString(s) }

// usageChartSVG draws days (oldest first) as a bar chart: per day a requests bar and a refusals
// bar side by side, on one scale from 0 to niceMax of the largest value, with the scale at 0,
// half (when a whole number) and top, and about six dates below. id makes the title's and description's ids unique
// in the page; label names the token in the title. Days without use keep their place (a bar of
// height 0, and a <title> with the day's numbers like every other day).
func usageChartSVG(id, label string, days []chartDay) template.HTML {
	var maxV, reqs, refs int64
	var busiest chartDay
	for _, d := range days {
		maxV = max(maxV, d.Requests, d.Refusals)
		reqs += d.Requests
		refs += d.Refusals
		if d.Requests > busiest.Requests {
			busiest = d
		}
	}
	top := niceMax(maxV)
	plotW := float64(usageWidth - usageLeft - usageRight)
	plotH := float64(usageHeight - usageTop - usageBottom)
	base := float64(usageTop) + plotH
	title := fmt.Sprintf("Requests and refusals per day of %s, last %d days", label, len(days))
	desc := fmt.Sprintf("%d requests and %d refusals in all.", reqs, refs)
	if busiest.Requests > 0 {
		desc += fmt.Sprintf(" The busiest day was %s with %d requests.", busiest.Day.UTC().Format("2006-01-02"), busiest.Requests)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart usage-chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" focusable="false">`,
		usageWidth, usageHeight, esc(id), esc(id))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
	// The scale: grid lines and labels at 0, half and the top.
	ticks := []int64{0, top}
	if top%2 == 0 {
		ticks = []int64{0, top / 2, top}
	}
	for _, v := range ticks {
		y := base - scaled(v, top, plotH)
		cls := "chart-grid"
		if v == 0 {
			cls = "chart-axis"
		}
		fmt.Fprintf(&b, `<line class="%s" x1="%d" x2="%d" y1="%s" y2="%s"/>`, cls, usageLeft, usageWidth-usageRight, num(y), num(y))
		fmt.Fprintf(&b, `<text class="chart-label" x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%d</text>`, usageLeft-6, num(y), v)
	}
	n := len(days)
	if n == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	band := plotW / float64(n)
	barW := float64(int64(band*0.4*10)) / 10
	if barW < 0.5 {
		barW = 0.5
	}
	every := (n + 5) / 6 // about six date labels, the newest day always among them
	for i, d := range days {
		x := float64(usageLeft) + band*float64(i)
		day := d.Day.UTC().Format("2006-01-02")
		hReq, hRef := scaled(d.Requests, top, plotH), scaled(d.Refusals, top, plotH)
		fmt.Fprintf(&b, `<g class="chart-day" data-day="%s"><title>%s: %d requests, %d refusals</title>`, day, day, d.Requests, d.Refusals)
		fmt.Fprintf(&b, `<rect class="chart-requests" x="%s" y="%s" width="%s" height="%s"/>`,
			num(x+band*0.1), num(base-hReq), num(barW), num(hReq))
		fmt.Fprintf(&b, `<rect class="chart-refusals" x="%s" y="%s" width="%s" height="%s"/>`,
			num(x+band*0.1+barW), num(base-hRef), num(barW), num(hRef))
		b.WriteString(`</g>`)
		if (n-1-i)%every == 0 {
			fmt.Fprintf(&b, `<text class="chart-label" x="%s" y="%d" text-anchor="middle">%s</text>`,
				num(x+band/2), usageHeight-8, d.Day.UTC().Format("Jan 2"))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// sparkline geometry.
const (
	sparkWidth  = 120
	sparkHeight = 24
)

// sparklineSVG draws a token's requests per day (oldest first) as a small bar chart for a table
// cell, scaled to its own largest day; label describes it to screen readers, who get the
// numbers in words (total and busiest day) instead of the bars.
func sparklineSVG(label string, days []chartDay) template.HTML {
	var maxV, total int64
	for _, d := range days {
		maxV = max(maxV, d.Requests)
		total += d.Requests
	}
	text := fmt.Sprintf("%s: %d requests in the last %d days", label, total, len(days))
	if maxV > 0 {
		text += fmt.Sprintf(", at most %d a day", maxV)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart sparkline" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" focusable="false">`,
		sparkWidth, sparkHeight, sparkWidth, sparkHeight, esc(text))
	fmt.Fprintf(&b, `<line class="chart-axis" x1="0" x2="%d" y1="%d" y2="%d"/>`, sparkWidth, sparkHeight-1, sparkHeight-1)
	if n := len(days); n > 0 {
		band := float64(sparkWidth) / float64(n)
		plotH := float64(sparkHeight - 2)
		for i, d := range days {
			h := scaled(d.Requests, maxV, plotH)
			fmt.Fprintf(&b, `<rect class="chart-requests" x="%s" y="%s" width="%s" height="%s"/>`,
				num(float64(int64(band*float64(i)*10))/10), num(float64(sparkHeight-1)-h), num(float64(int64(band*0.8*10))/10), num(h))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// StorageUsage is a project's storage in bytes per kind, what the "storage_chart" partial
// (templates/charts.html) draws: {{template "storage_chart" .Storage}} on a page whose data has
// a StorageUsage named Storage.
type StorageUsage struct {
	Registry int64 // container registry: the project's image layers and manifests
	Packages int64 // package registry files
	LFS      int64 // Git LFS objects; 0 where there are none
}

// storagePart is one kind of storage in the chart and its legend.
type storagePart struct {
	Label string
	Class string // the CSS class of its colour
	Bytes int64
}

func (s StorageUsage) parts() []storagePart {
	return []storagePart{{"Container registry", "chart-registry", s.Registry}, {"Packages", "chart-packages", s.Packages},
		{"LFS", "chart-lfs", s.LFS}}
}

// Total is the bytes of every kind.
func (s StorageUsage) Total() int64 { return s.Registry + s.Packages + s.LFS }

// storage chart geometry.
const (
	storageWidth  = 600
	storageHeight = 20
)

// storageChartSVG draws s as one horizontal bar split by kind, each part as long as its share
// of the total (a kind of 0 bytes draws nothing; an empty project an empty bar), followed by
// the legend: each kind's colour, name and size, in words.
func storageChartSVG(s StorageUsage) template.HTML {
	total := s.Total()
	desc := "Storage: " + formatBytes(total) + " in all"
	for _, p := range s.parts() {
		desc += ", " + p.Label + " " + formatBytes(p.Bytes)
	}
	var b strings.Builder
	b.WriteString(`<figure class="storage-chart">`)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s" focusable="false">`,
		storageWidth, storageHeight, esc(desc))
	fmt.Fprintf(&b, `<rect class="chart-empty" x="0" y="0" width="%d" height="%d"/>`, storageWidth, storageHeight)
	x := 0.0
	for _, p := range s.parts() {
		w := scaled(p.Bytes, total, storageWidth)
		if w == 0 {
			continue
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="0" width="%s" height="%d"><title>%s: %s</title></rect>`,
			p.Class, num(x), num(w), storageHeight, esc(p.Label), esc(formatBytes(p.Bytes)))
		x += w
	}
	b.WriteString(`</svg><figcaption><ul class="chart-legend">`)
	for _, p := range s.parts() {
		fmt.Fprintf(&b, `<li><svg class="swatch" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true" focusable="false"><rect class="%s" width="10" height="10"/></svg>%s <span class="muted">%s</span></li>`,
			p.Class, esc(p.Label), esc(formatBytes(p.Bytes)))
	}
	fmt.Fprintf(&b, `<li class="total">Total <span class="muted">%s</span></li></ul></figcaption></figure>`, esc(formatBytes(total)))
	return template.HTML(b.String())
}

// formatBytes is n in binary units with one decimal, as GitLab shows storage ("1.5 MiB").
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
	}
	return ""
}
