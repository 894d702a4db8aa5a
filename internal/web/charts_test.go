package web

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgElem is one element of a chart, as an XML parser reads it.
type svgElem struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG parses a chart's markup as XML (so it is well-formed) and returns its elements in
// document order, each with its attributes and direct text.
func parseSVG(t *testing.T, markup string) []svgElem {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(markup))
	var out []svgElem
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, markup)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := svgElem{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(tk)
			}
		}
	}
	return out
}

func attrFloat(t *testing.T, e svgElem, name string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(e.attrs[name], 64)
	if err != nil {
		t.Fatalf("%s %s=%q: %v", e.name, name, e.attrs[name], err)
	}
	return f
}

// bars returns the rects of a class, in order.
func bars(elems []svgElem, class string) []svgElem {
	var out []svgElem
	for _, e := range elems {
		if e.name == "rect" && e.attrs["class"] == class {
			out = append(out, e)
		}
	}
	return out
}

func testDays(values ...[2]int64) []chartDay {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]chartDay, len(values))
	for i, v := range values {
		out[i] = chartDay{Day: start.AddDate(0, 0, i), Requests: v[0], Refusals: v[1]}
	}
	return out
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[int64]int64{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 101: 200, 499: 500, 501: 1000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
}

// Bars are proportional to their values on one scale for both series, every day is drawn
// (a day without use as bars of height 0), bars stand on the baseline, and the scale's top is
// the round number above the largest value.
func TestUsageChartBars(t *testing.T) {
	days := testDays([2]int64{10, 0}, [2]int64{0, 0}, [2]int64{5, 2}, [2]int64{20, 20})
	elems := parseSVG(t, string(usageChartSVG("c", "tok", days)))
	req, ref := bars(elems, "chart-requests"), bars(elems, "chart-refusals")
	if len(req) != 4 || len(ref) != 4 {
		t.Fatalf("%d request bars and %d refusal bars for 4 days", len(req), len(ref))
	}
	plotH := float64(usageHeight - usageTop - usageBottom)
	base := float64(usageTop) + plotH
	// The top of the scale is 20 (the largest value): a bar of 20 fills the plot.
	for i, d := range days {
		for _, c := range []struct {
			e svgElem
			v int64
		}{{req[i], d.Requests}, {ref[i], d.Refusals}} {
			h, y := attrFloat(t, c.e, "height"), attrFloat(t, c.e, "y")
			want := float64(c.v) / 20 * plotH
			if diff := h - want; diff > 0.1 || diff < -0.1 {
				t.Errorf("day %d value %d: height %v, want %v", i, c.v, h, want)
			}
			if y+h < base-0.05 || y+h > base+0.05 {
				t.Errorf("day %d: bar ends at %v, not on the baseline %v", i, y+h, base)
			}
		}
	}
	if attrFloat(t, req[1], "height") != 0 || attrFloat(t, ref[1], "height") != 0 {
		t.Error("a day without use has a bar")
	}
	// Days keep their order left to right, and each has its numbers as a tooltip.
	for i := 1; i < len(req); i++ {
		if attrFloat(t, req[i], "x") <= attrFloat(t, req[i-1], "x") {
			t.Errorf("day %d is not right of day %d", i, i-1)
		}
	}
	var titles []string
	for _, e := range elems {
		if e.name == "title" {
			titles = append(titles, e.text)
		}
	}
	if len(titles) != 5 || titles[2] != "2026-11-02: 0 requests, 0 refusals" {
		t.Errorf("titles = %q", titles)
	}
	// The scale says 0, 10 and 20.
	var labels []string
	for _, e := range elems {
		if e.name == "text" && e.attrs["text-anchor"] == "end" {
			labels = append(labels, e.text)
		}
	}
	if strings.Join(labels, " ") != "0 10 20" {
		t.Errorf("scale labels = %q", labels)
	}
}

func TestUsageChartScaleRoundsUp(t *testing.T) {
	elems := parseSVG(t, string(usageChartSVG("c", "tok", testDays([2]int64{3, 0}, [2]int64{7, 1}))))
	req := bars(elems, "chart-requests")
	plotH := float64(usageHeight - usageTop - usageBottom)
	// 7 on a scale up to 10.
	if h := attrFloat(t, req[1], "height"); h < 0.7*plotH-0.1 || h > 0.7*plotH+0.1 {
		t.Errorf("7 of 10: height %v of %v", h, plotH)
	}
}

// An unused token's chart is drawn: every day, at height 0, on a scale of 0 to 1.
func TestUsageChartEmpty(t *testing.T) {
	days := testDays(make([][2]int64, 30)...)
	elems := parseSVG(t, string(usageChartSVG("c", "tok", days)))
	req := bars(elems, "chart-requests")
	if len(req) != 30 {
		t.Fatalf("%d bars for 30 days", len(req))
	}
	for _, e := range req {
		if attrFloat(t, e, "height") != 0 {
			t.Fatalf("bar of an unused day: %v", e.attrs)
		}
	}
	for _, e := range elems {
		if e.name == "desc" && e.text != "0 requests and 0 refusals in all." {
			t.Errorf("desc = %q", e.text)
		}
	}
	// 90 days fit the same width.
	elems = parseSVG(t, string(usageChartSVG("c", "tok", testDays(make([][2]int64, 90)...))))
	req = bars(elems, "chart-requests")
	last := req[len(req)-1]
	if len(req) != 90 || attrFloat(t, last, "x")+attrFloat(t, last, "width") > usageWidth-usageRight {
		t.Errorf("90 days: %d bars, last at %v", len(req), last.attrs)
	}
}

// The chart is an image named by its title and described by its description, both escaped.
func TestUsageChartAccessibleAndEscaped(t *testing.T) {
	out := string(usageChartSVG(`u"x`, `<script>alert(1)</script>`, testDays([2]int64{4, 1})))
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("label not escaped: %s", out)
	}
	elems := parseSVG(t, out)
	svg := elems[0]
	if svg.name != "svg" || svg.attrs["role"] != "img" || svg.attrs["aria-labelledby"] != `u"x-title u"x-desc` {
		t.Fatalf("svg = %v", svg.attrs)
	}
	if elems[1].name != "title" || elems[1].text != "Requests and refusals per day of <script>alert(1)</script>, last 1 days" {
		t.Errorf("title = %q", elems[1].text)
	}
	if elems[2].name != "desc" || !strings.Contains(elems[2].text, "4 requests and 1 refusals") ||
		!strings.Contains(elems[2].text, "busiest day was 2026-11-01 with 4 requests") {
		t.Errorf("desc = %q", elems[2].text)
	}
	for _, bad := range []string{"style=", "<script", "onload", "onclick"} {
		if strings.Contains(out, bad) {
			t.Errorf("chart holds %q", bad)
		}
	}
}

func TestSparkline(t *testing.T) {
	out := string(sparklineSVG(`Requests with <b>"x"</b>`, testDays([2]int64{0, 0}, [2]int64{2, 9}, [2]int64{4, 0})))
	elems := parseSVG(t, out)
	if elems[0].attrs["aria-label"] != `Requests with <b>"x"</b>: 6 requests in the last 3 days, at most 4 a day` || strings.Contains(out, "<b>") {
		t.Fatalf("label = %q\n%s", elems[0].attrs["aria-label"], out)
	}
	req := bars(elems, "chart-requests")
	if len(req) != 3 {
		t.Fatalf("%d bars", len(req))
	}
	// Scaled to its own largest day, refusals left out.
	h0, h1, h2 := attrFloat(t, req[0], "height"), attrFloat(t, req[1], "height"), attrFloat(t, req[2], "height")
	if h0 != 0 || h2 != sparkHeight-2 || h1 != h2/2 {
		t.Errorf("heights %v %v %v", h0, h1, h2)
	}
	if empty := parseSVG(t, string(sparklineSVG("x", testDays(make([][2]int64, 30)...)))); len(bars(empty, "chart-requests")) != 30 {
		t.Error("an unused token's sparkline lacks its days")
	}
}

func TestStorageChart(t *testing.T) {
	s := StorageUsage{Registry: 3 << 20, Packages: 1 << 20}
	out := string(storageChartSVG(s))
	elems := parseSVG(t, out)
	reg, pkg, lfs := bars(elems, "chart-registry"), bars(elems, "chart-packages"), bars(elems, "chart-lfs")
	// The bar's segments (the legend's swatches come after it).
	if len(reg) != 2 || len(pkg) != 2 || len(lfs) != 1 {
		t.Fatalf("rects: registry %d, packages %d, lfs %d\n%s", len(reg), len(pkg), len(lfs), out)
	}
	if w := attrFloat(t, reg[0], "width"); w != storageWidth*0.75 {
		t.Errorf("registry is 3/4: width %v", w)
	}
	if x, w := attrFloat(t, pkg[0], "x"), attrFloat(t, pkg[0], "width"); x != storageWidth*0.75 || w != storageWidth*0.25 {
		t.Errorf("packages follow the registry: x %v width %v", x, w)
	}
	for _, want := range []string{"Container registry <span class=\"muted\">3.0 MiB</span>", "Packages <span class=\"muted\">1.0 MiB</span>",
		"LFS <span class=\"muted\">0 B</span>", "Total <span class=\"muted\">4.0 MiB</span>"} {
		if !strings.Contains(out, want) {
			t.Errorf("legend lacks %q", want)
		}
	}
	if label := elems[1].attrs["aria-label"]; label != "Storage: 4.0 MiB in all, Container registry 3.0 MiB, Packages 1.0 MiB, LFS 0 B" {
		t.Errorf("aria-label = %q", label)
	}
	// Nothing stored: an empty bar, no segment.
	empty := parseSVG(t, string(storageChartSVG(StorageUsage{})))
	if len(bars(empty, "chart-registry")) != 1 || len(bars(empty, "chart-empty")) != 1 {
		t.Error("empty storage chart")
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 3 << 40: "3.0 TiB"} {
		if got := formatBytes(in); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

// The partial renders inside a page, so another page can include it.
func TestStorageChartPartial(t *testing.T) {
	var b strings.Builder
	tpl := mustParsePages()["project"].t
	if err := tpl.ExecuteTemplate(&b, "storage_chart", StorageUsage{LFS: 2048}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<h2 id="storage-heading">Storage</h2>`) || !strings.Contains(b.String(), "LFS <span class=\"muted\">2.0 KiB</span>") {
		t.Fatalf("partial: %s", b.String())
	}
}
