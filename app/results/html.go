package results

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/db"
)

// The HTML report: one self-contained file (inline CSS, inline SVG charts,
// the logo as a data: URL, no script, no external reference), readable
// offline from an e-mail attachment, with a print stylesheet for the
// browser's "Save as PDF".

//go:embed report.html.tmpl
var reportFS embed.FS

var reportTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"pct":      pct,
	"dur":      duration,
	"ts":       anyTime,
	"add":      func(a, b int) int { return a + b },
	"fg":       textOn,
	"truncate": truncateText,
	"bytes":    humanBytes,
	"inc":      func(i int) int { return i + 1 },
	"join":     strings.Join,
}).ParseFS(reportFS, "report.html.tmpl"))

// Limits of the per-test detail (the CSV and JSON carry everything).
const (
	maxHTMLOutput  = 4000
	maxHTMLCommand = 4000
	maxHTMLNotes   = 4000
)

var reLogo = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*$`)

func anyTime(v any) string {
	switch t := v.(type) {
	case db.Time:
		return t.UTC().Format("2006-01-02 15:04")
	case *db.Time:
		if t == nil {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	return ""
}

func pct(f *float64) string {
	if f == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100**f)
}

// duration formats seconds for people: 45 s, 12 min, 3.5 h, 2.1 d.
func duration(f *float64) string {
	if f == nil {
		return "–"
	}
	s := *f
	switch {
	case s < 60:
		return fmt.Sprintf("%.0f s", s)
	case s < 3600:
		return fmt.Sprintf("%.0f min", s/60)
	case s < 86400:
		return strconv.FormatFloat(math.Round(s/360)/10, 'f', -1, 64) + " h"
	}
	return strconv.FormatFloat(math.Round(s/8640)/10, 'f', -1, 64) + " d"
}

// textOn picks black or white text for a background colour (#rrggbb).
func textOn(bg string) string {
	if len(bg) != 7 || bg[0] != '#' {
		return "#111111"
	}
	v, err := strconv.ParseUint(bg[1:], 16, 32)
	if err != nil {
		return "#111111"
	}
	lin := func(c uint64) float64 {
		x := float64(c) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
	if l > 0.4 {
		return "#111111"
	}
	return "#ffffff"
}

func truncateText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + fmt.Sprintf("\n… (%d more characters; the CSV and JSON reports hold the full text)", len(r)-n)
}

func humanBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// segment is one part of a stacked bar.
type segment struct {
	Label string
	Color string
	N     int
}

// segments lists a result's parts in legend order: scored levels by rank,
// then unassessed, not applicable, planned, skipped.
func (sc *Scale) segments(r Result) []segment {
	var out []segment
	for _, l := range sc.Levels {
		if n := r.Levels[l.Key]; n > 0 {
			out = append(out, segment{l.Name, l.Color, n})
		}
	}
	color := func(key, def string) string {
		if l, ok := sc.byKey[key]; ok {
			return l.Color
		}
		return def
	}
	for _, x := range []segment{
		{"Not assessed yet", color(keyTBD, "#607D8B"), r.Unassessed},
		{"Not applicable", color(keyNotApplicable, "#9E9E9E"), r.NotApplicable},
		{"Not executed", "#E3E6EE", r.Planned},
		{"Skipped", "#F4F5F8", r.Skipped},
	} {
		if x.N > 0 {
			out = append(out, x)
		}
	}
	return out
}

// stackedBar draws a 100 % stacked bar as inline SVG (no xmlns: inline SVG
// in HTML needs none, and the report holds no URL).
func stackedBar(segs []segment, width, height int, title string) template.HTML {
	total := 0
	for _, s := range segs {
		total += s.N
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" viewBox="0 0 %d %d" width="100%%" height="%d" role="img" aria-label="%s" preserveAspectRatio="none">`,
		width, height, height, html.EscapeString(title))
	if total == 0 {
		fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#F4F5F8" stroke="#C9CCD8"/>`, width, height)
	}
	x := 0.0
	for _, s := range segs {
		w := float64(width) * float64(s.N) / float64(total)
		fmt.Fprintf(&b, `<rect x="%.2f" y="0" width="%.2f" height="%d" fill="%s"><title>%s: %d</title></rect>`,
			x, w, height, html.EscapeString(s.Color), html.EscapeString(s.Label), s.N)
		x += w
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// boxPlot draws a distribution on a logarithmic axis from 1 s to 7 days.
func boxPlot(d Distribution, width, height int) template.HTML {
	if d.N == 0 {
		return ""
	}
	const maxSec = 7 * 86400.0
	x := func(v float64) float64 {
		v = math.Max(1, math.Min(maxSec, v))
		return float64(width) * math.Log10(v) / math.Log10(maxSec)
	}
	mid := float64(height) / 2
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="box" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="median %s">`, width, height, width, height, duration(d.Median))
	for _, tick := range []float64{60, 3600, 86400} {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="0" y2="%d" stroke="#E2E4EC"/>`, x(tick), x(tick), height)
	}
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#5B6072"/>`, x(*d.Min), x(*d.Max), mid, mid)
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#C9B8F0" stroke="#5B3FB5"/>`,
		x(*d.P25), mid-6, math.Max(1, x(*d.P75)-x(*d.P25)), 12.0)
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#2D1B69" stroke-width="2"/>`, x(*d.Median), x(*d.Median), mid-7, mid+7)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histogram draws the distribution's buckets as columns.
func histogram(d Distribution, width, height int) template.HTML {
	if d.N == 0 {
		return ""
	}
	top := 0
	for _, h := range d.Histogram {
		top = max(top, h.N)
	}
	n := len(d.Histogram)
	bw := float64(width) / float64(n)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="hist" viewBox="0 0 %d %d" width="100%%" height="%d" role="img" aria-label="histogram">`, width, height+16, height+16)
	for i, h := range d.Histogram {
		hh := float64(height-12) * float64(h.N) / float64(top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#7C5CD6"><title>%s: %d</title></rect>`,
			float64(i)*bw+2, float64(height)-hh, bw-4, hh, html.EscapeString(h.Label), h.N)
		if h.N > 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle" fill="#171923">%d</text>`, float64(i)*bw+bw/2, float64(height)-hh-2, h.N)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="8" text-anchor="middle" fill="#5B6072">%s</text>`, float64(i)*bw+bw/2, height+12, html.EscapeString(h.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// htmlCell is one technique of the printed heatmap.
type htmlCell struct {
	ID, Name, Color, Fg, Title string
	Sub                        bool
}

type htmlColumn struct {
	Name  string
	Cells []htmlCell
}

type htmlTime struct {
	Label    string
	Overall  Distribution
	Box      template.HTML
	Hist     template.HTML
	Controls []htmlTimeRow
}

type htmlTimeRow struct {
	Control string
	D       Distribution
	Box     template.HTML
}

type htmlTactic struct {
	TacticResult
	Bar template.HTML
}

type htmlFinding struct {
	Title string
	Tests []ReportTest
}

type htmlData struct {
	R             *Report
	Logo          template.URL
	HasLogo       bool
	SummaryBar    template.HTML
	SummaryLegend []segment
	Tactics       []htmlTactic
	Heatmap       []htmlColumn
	Other         []htmlCell
	Times         []htmlTime
	Findings      []htmlFinding
	Gaps          []htmlCell
	Scale         *Scale
	LevelNames    map[string]string
	LevelColors   map[string]string
}

func (r *Report) htmlData() *htmlData {
	sc := r.scale
	res := r.Results
	d := &htmlData{R: r, Scale: sc, LevelNames: map[string]string{}, LevelColors: map[string]string{}}
	if reLogo.MatchString(r.logo) {
		d.Logo, d.HasLogo = template.URL(r.logo), true
	}
	for _, l := range sc.Levels {
		d.LevelNames[l.Key], d.LevelColors[l.Key] = l.Name, l.Color
	}
	d.SummaryLegend = sc.segments(res.Summary)
	d.SummaryBar = stackedBar(d.SummaryLegend, 600, 26, "Outcome mix of all tests")
	for _, t := range res.Tactics {
		if t.Result.Tests == 0 {
			continue
		}
		d.Tactics = append(d.Tactics, htmlTactic{t, stackedBar(sc.segments(t.Result), 300, 14, t.Name)})
	}
	cell := func(id string, sub bool) (htmlCell, bool) {
		tr, ok := res.Matrix.Results[id]
		if !ok {
			return htmlCell{}, false
		}
		ce := res.Matrix.Catalogue[id]
		c := htmlCell{ID: id, Name: ce.Name, Color: tr.Result.Color, Sub: sub,
			Title: summaryLine(tr.Result, sc)}
		if c.Name == "" {
			c.Name = id
		}
		if c.Color == "" {
			c.Color = "#FFFFFF"
		}
		c.Fg = textOn(c.Color)
		return c, true
	}
	for _, col := range res.Matrix.Columns {
		hc := htmlColumn{Name: col.Name}
		for _, id := range col.Techniques {
			c, ok := cell(id, false)
			if !ok {
				continue
			}
			hc.Cells = append(hc.Cells, c)
			for _, sub := range res.Matrix.Catalogue[id].Subtechniques {
				if sc, ok := cell(sub, true); ok {
					hc.Cells = append(hc.Cells, sc)
				}
			}
		}
		if len(hc.Cells) > 0 {
			d.Heatmap = append(d.Heatmap, hc)
		}
	}
	for _, id := range res.Matrix.Other {
		if c, ok := cell(id, false); ok {
			d.Other = append(d.Other, c)
		}
	}
	// Techniques whose worst outcome is not detected: the gaps.
	var gapIDs []string
	for id, tr := range res.Matrix.Results {
		if tr.Own.Tests > 0 && tr.Own.Worst != nil {
			if l, ok := sc.ByKey(*tr.Own.Worst); ok && l.Class == ClassMissed {
				gapIDs = append(gapIDs, id)
			}
		}
	}
	sort.Strings(gapIDs)
	for _, id := range gapIDs {
		if c, ok := cell(id, strings.Contains(id, ".")); ok {
			tr := res.Matrix.Results[id]
			c.Color, c.Fg, c.Title = tr.Own.Color, textOn(tr.Own.Color), summaryLine(tr.Own, sc)
			d.Gaps = append(d.Gaps, c)
		}
	}
	for _, m := range []struct {
		label string
		ts    TimeStats
	}{{"Time to log", res.Times.Log}, {"Time to alert", res.Times.Alert}, {"Time to prevent", res.Times.Prevent}} {
		ht := htmlTime{Label: m.label, Overall: m.ts.Overall, Box: boxPlot(m.ts.Overall, 220, 20), Hist: histogram(m.ts.Overall, 420, 70)}
		for _, c := range r.Controls {
			if dist, ok := m.ts.Controls[c]; ok && dist.N > 0 {
				ht.Controls = append(ht.Controls, htmlTimeRow{Control: c, D: dist, Box: boxPlot(dist, 220, 20)})
			}
		}
		d.Times = append(d.Times, ht)
	}
	groups := []struct {
		class, title string
	}{
		{ClassMissed, "Not detected"}, {ClassUnassessed, "Executed, not assessed yet"}, {ClassDetected, "Detected"},
		{ClassNotApplicable, "Not applicable"}, {ClassPlanned, "Not executed"}, {ClassSkipped, "Skipped"},
	}
	byID := map[string]ReportTest{}
	for _, t := range r.Tests {
		byID[t.ID] = t
	}
	for _, g := range groups {
		f := htmlFinding{Title: g.title}
		for _, t := range res.Tests { // findings order
			if t.Class == g.class {
				f.Tests = append(f.Tests, byID[t.ID])
			}
		}
		if len(f.Tests) > 0 {
			d.Findings = append(d.Findings, f)
		}
	}
	return d
}

// WriteHTML renders the self-contained HTML report.
func (r *Report) WriteHTML(w io.Writer) error {
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, r.htmlData()); err != nil {
		return fmt.Errorf("results: html report: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}
