package results

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
)

// ATT&CK Navigator layers, format 4.5 (specs/navigator-layer-4.5.md).

// Layer format constants.
const (
	LayerFormat      = "4.5"
	NavigatorVersion = "5.1.0" // the spec requires at least 4.9.0
	DomainEnterprise = "enterprise-attack"
	maxLayerLinks    = 25 // links back to tests per technique entry
	maxCommentTests  = 40 // test lines per technique comment
)

// Layer is a Navigator layer.
type Layer struct {
	Name                          string           `json:"name"`
	Versions                      LayerVersions    `json:"versions"`
	Domain                        string           `json:"domain"`
	Description                   string           `json:"description"`
	Sorting                       int              `json:"sorting"`
	Layout                        LayerLayout      `json:"layout"`
	HideDisabled                  bool             `json:"hideDisabled"`
	Techniques                    []LayerTechnique `json:"techniques"`
	Gradient                      LayerGradient    `json:"gradient"`
	LegendItems                   []LayerLegend    `json:"legendItems"`
	ShowTacticRowBackground       bool             `json:"showTacticRowBackground"`
	TacticRowBackground           string           `json:"tacticRowBackground"`
	SelectTechniquesAcrossTactics bool             `json:"selectTechniquesAcrossTactics"`
	SelectSubtechniquesWithParent bool             `json:"selectSubtechniquesWithParent"`
	SelectVisibleTechniques       bool             `json:"selectVisibleTechniques"`
	Metadata                      []LayerMeta      `json:"metadata"`
	Links                         []LayerLink      `json:"links"`
}

// LayerVersions is the layer's version object.
type LayerVersions struct {
	Attack    string `json:"attack,omitempty"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

// LayerLayout is the layer's layout object.
type LayerLayout struct {
	Layout                string `json:"layout"`
	ShowID                bool   `json:"showID"`
	ShowName              bool   `json:"showName"`
	ShowAggregateScores   bool   `json:"showAggregateScores"`
	CountUnscored         bool   `json:"countUnscored"`
	AggregateFunction     string `json:"aggregateFunction"`
	ExpandedSubtechniques string `json:"expandedSubtechniques"`
}

// LayerTechnique is one technique entry.
type LayerTechnique struct {
	TechniqueID       string      `json:"techniqueID"`
	Tactic            string      `json:"tactic,omitempty"`
	Comment           string      `json:"comment"`
	Enabled           bool        `json:"enabled"`
	Score             *int        `json:"score,omitempty"`
	Color             string      `json:"color"`
	Metadata          []LayerMeta `json:"metadata"`
	Links             []LayerLink `json:"links"`
	ShowSubtechniques bool        `json:"showSubtechniques"`
}

// LayerGradient is the score gradient.
type LayerGradient struct {
	Colors   []string `json:"colors"`
	MinValue float64  `json:"minValue"`
	MaxValue float64  `json:"maxValue"`
}

// LayerLegend is a legend item.
type LayerLegend struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

// LayerMeta is a metadata object or, with Divider, a divider.
type LayerMeta struct {
	Name    string `json:"name,omitempty"`
	Value   string `json:"value,omitempty"`
	Divider bool   `json:"divider,omitempty"`
}

// LayerLink is a link object.
type LayerLink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// ColorBy chooses what a technique's explicit colour shows.
type ColorBy string

// Colour choices of exported layers.
const (
	ColorWorst ColorBy = "worst" // the worst outcome's level colour (default)
	ColorBest  ColorBy = "best"  // the best outcome's level colour
	ColorScore ColorBy = "score" // no explicit colour: the Navigator colours by score on the gradient
)

// LayerParams tune an export.
type LayerParams struct {
	ColorBy ColorBy
	BaseURL string // e.g. https://purplebook.example:8420, for links back to the tests ("" = no links)
}

func (p *LayerParams) normalize() error {
	switch p.ColorBy {
	case "":
		p.ColorBy = ColorWorst
	case ColorWorst, ColorBest, ColorScore:
	default:
		return apperr.BadRequest("invalid_query", "color must be worst, best or score.").WithDetails(map[string]any{"color": "invalid"})
	}
	if p.BaseURL != "" {
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.BaseURL = ""
		} else {
			p.BaseURL = strings.TrimRight(u.Scheme+"://"+u.Host, "/")
		}
	}
	return nil
}

func baseLayer(name, description, version string, sc *Scale) *Layer {
	l := &Layer{Name: name, Versions: LayerVersions{Attack: version, Navigator: NavigatorVersion, Layer: LayerFormat},
		Domain: DomainEnterprise, Description: description, Sorting: 0,
		Layout:     LayerLayout{Layout: "side", ShowID: true, ShowName: true, AggregateFunction: "average", ExpandedSubtechniques: "annotated"},
		Techniques: []LayerTechnique{}, TacticRowBackground: "#dddddd", SelectTechniquesAcrossTactics: true,
		SelectSubtechniquesWithParent: false, Metadata: []LayerMeta{}, Links: []LayerLink{}, LegendItems: []LayerLegend{}}
	l.Gradient = sc.gradient()
	for _, lv := range sc.Levels {
		if lv.Score != nil {
			l.LegendItems = append(l.LegendItems, LayerLegend{Label: fmt.Sprintf("%s (score %d)", lv.Name, *lv.Score), Color: lv.Color})
		}
	}
	for _, st := range sc.legend().States {
		if st.Color != "" {
			l.LegendItems = append(l.LegendItems, LayerLegend{Label: st.Label, Color: st.Color})
		}
	}
	return l
}

// gradient runs from score 0 (the colour of not detected) to 100 (the best
// detected level), one evenly spaced colour per detected level, so each
// level's score falls on its own colour.
func (sc *Scale) gradient() LayerGradient {
	var missed string
	var detected []string
	for _, l := range sc.Levels {
		switch l.Class {
		case ClassDetected:
			detected = append(detected, l.Color)
		case ClassMissed:
			if missed == "" || l.Key == "none" {
				missed = l.Color
			}
		}
	}
	if missed == "" {
		missed = "#D32F2F"
	}
	colors := []string{missed}
	for i := len(detected) - 1; i >= 0; i-- {
		colors = append(colors, detected[i])
	}
	if len(colors) < 2 {
		colors = append(colors, "#1B7F3B")
	}
	return LayerGradient{Colors: colors, MinValue: 0, MaxValue: 100}
}

// testRef is a test listed in a technique's comment and links.
type testRef struct {
	ID, MissionID, Name, Outcome string
}

// layerTechniques writes the entries of every tagged id: one entry per
// tactic the technique sits in (techniques outside the active matrix get
// one entry without a tactic). Parents of annotated sub-techniques get
// showSubtechniques (an entry of their own if they carry no annotation).
func layerTechniques(mx *Matrix, cat *mitre.Matrix, sc *Scale, p LayerParams, tests map[string][]testRef) []LayerTechnique {
	var out []LayerTechnique
	showSubs := map[string]bool{}
	ids := make([]string, 0, len(mx.Results))
	for id, r := range mx.Results {
		if r.Own.Tests > 0 {
			ids = append(ids, id)
			if ce := mx.Catalogue[id]; ce.Parent != "" {
				showSubs[ce.Parent] = true
			} else if parent, _, ok := strings.Cut(id, "."); ok {
				showSubs[parent] = true
			}
		}
	}
	for id := range showSubs {
		if r, ok := mx.Results[id]; !ok || r.Own.Tests == 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := mx.Results[id]
		entry := LayerTechnique{TechniqueID: id, Enabled: true, Metadata: []LayerMeta{}, Links: []LayerLink{}, ShowSubtechniques: showSubs[id]}
		if r.Own.Tests > 0 {
			annotate(&entry, r.Own, sc, p, tests[id], mx.Catalogue[id])
		}
		var tactics []string
		if e, ok := cat.Lookup(id); ok && e.State == "active" {
			tactics = e.Tactics
		}
		if len(tactics) == 0 {
			out = append(out, entry)
			continue
		}
		for _, t := range tactics {
			e := entry
			e.Tactic = t
			out = append(out, e)
		}
	}
	if out == nil {
		out = []LayerTechnique{}
	}
	return out
}

func annotate(e *LayerTechnique, r Result, sc *Scale, p LayerParams, tests []testRef, ce CatalogueEntry) {
	e.Score = r.Score
	switch p.ColorBy {
	case ColorWorst:
		e.Color = r.Color
	case ColorBest:
		e.Color = r.Color
		if r.Best != nil {
			if l, ok := sc.ByKey(*r.Best); ok {
				e.Color = l.Color
			}
		}
	case ColorScore:
		if r.Score == nil {
			e.Color = r.Color // unassessed / not applicable keep their state colour
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", summaryLine(r, sc))
	if ce.State != "" && ce.State != "active" {
		fmt.Fprintf(&b, " (%s in the ATT&CK catalogue", ce.State)
		if ce.ReplacedBy != "" {
			fmt.Fprintf(&b, "; replaced by %s", ce.ReplacedBy)
		}
		b.WriteString(")")
	}
	for i, t := range tests {
		if i == maxCommentTests {
			fmt.Fprintf(&b, "\n… and %d more", len(tests)-i)
			break
		}
		fmt.Fprintf(&b, "\n- %s: %s", t.Name, t.Outcome)
	}
	e.Comment = b.String()
	e.Metadata = append(e.Metadata,
		LayerMeta{Name: "Tests", Value: fmt.Sprint(r.Tests)},
		LayerMeta{Name: "Executed", Value: fmt.Sprint(r.Executed)},
		LayerMeta{Name: "Assessed", Value: fmt.Sprint(r.Assessed)})
	if r.DetectedShare != nil {
		e.Metadata = append(e.Metadata, LayerMeta{Name: "Detected", Value: fmt.Sprintf("%d of %d (%.0f%%)", r.Detected, r.Detected+r.Missed, 100**r.DetectedShare)})
	}
	if r.Worst != nil {
		e.Metadata = append(e.Metadata, LayerMeta{Name: "Worst outcome", Value: levelName(sc, *r.Worst)},
			LayerMeta{Name: "Best outcome", Value: levelName(sc, *r.Best)})
	}
	e.Metadata = append(e.Metadata, LayerMeta{Name: "Result", Value: stateLabel(sc, r.State)})
	if p.BaseURL != "" {
		for i, t := range tests {
			if i == maxLayerLinks {
				break
			}
			e.Links = append(e.Links, LayerLink{Label: truncateRunes(t.Name, 80) + " (" + t.Outcome + ")",
				URL: p.BaseURL + "/missions/" + t.MissionID + "/tests/" + t.ID})
		}
	}
}

func levelName(sc *Scale, key string) string {
	if l, ok := sc.ByKey(key); ok {
		return l.Name
	}
	return key
}

// stateLabel names a result state for people.
func stateLabel(sc *Scale, state string) string {
	if l, ok := sc.ByKey(state); ok {
		return l.Name
	}
	for _, st := range sc.legend().States {
		if st.State == state {
			return st.Label
		}
	}
	return state
}

// outcomeLabel names a test's result for people.
func outcomeLabel(sc *Scale, t TestResult) string {
	if t.Outcome != nil && (t.Class == ClassDetected || t.Class == ClassMissed || t.Class == ClassNotApplicable) {
		return levelName(sc, *t.Outcome)
	}
	switch t.Class {
	case ClassUnassessed:
		return "not assessed yet"
	case ClassPlanned:
		return "not executed"
	case ClassSkipped:
		return "skipped"
	}
	return t.Class
}

func summaryLine(r Result, sc *Scale) string {
	var parts []string
	for _, l := range sc.Levels {
		if n := r.Levels[l.Key]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, l.Name))
		}
	}
	for _, x := range []struct {
		n     int
		label string
	}{{r.Unassessed, "not assessed"}, {r.NotApplicable, "not applicable"}, {r.Planned, "not executed"}, {r.Skipped, "skipped"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.label))
		}
	}
	s := fmt.Sprintf("%d test", r.Tests)
	if r.Tests != 1 {
		s += "s"
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if r.Score != nil {
		s += fmt.Sprintf(". Score %d", *r.Score)
	}
	return s + "."
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// MissionLayer exports a mission's results as a Navigator layer.
func (s *Service) MissionLayer(ctx context.Context, c missions.Caller, missionID string, p LayerParams) (*Layer, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	d, err := s.loadMission(ctx, c, missionID, loadLayer)
	if err != nil {
		return nil, err
	}
	res := s.compute(d)
	return s.missionLayer(d, res, p), nil
}

func (s *Service) missionLayer(d *missionData, res *MissionResults, p LayerParams) *Layer {
	sc := d.scale
	m := res.Mission
	desc := fmt.Sprintf("Purple-team results of the mission %q. Colour: %s; score: the mean test score (0 = not detected … 100 = %s).",
		m.Name, colorDescription(p.ColorBy), bestLevelName(sc))
	l := baseLayer(truncateRunes("Purplebook: "+m.Name, 200), desc, res.Matrix.Version, sc)
	tests := map[string][]testRef{}
	byPos := append([]TestResult(nil), res.Tests...)
	sort.Slice(byPos, func(i, j int) bool { return byPos[i].Position < byPos[j].Position })
	for _, t := range byPos {
		for _, id := range t.Techniques {
			tests[id] = append(tests[id], testRef{ID: t.ID, MissionID: m.ID, Name: t.Name, Outcome: outcomeLabel(sc, t)})
		}
	}
	l.Techniques = layerTechniques(res.Matrix, d.cat, sc, p, tests)
	l.Metadata = append(l.Metadata,
		LayerMeta{Name: "Mission", Value: m.Name},
		LayerMeta{Name: "Status", Value: m.Status})
	if m.StartsOn != nil || m.EndsOn != nil {
		l.Metadata = append(l.Metadata, LayerMeta{Name: "Period", Value: deref(m.StartsOn, "?") + " – " + deref(m.EndsOn, "?")})
	}
	l.Metadata = append(l.Metadata,
		LayerMeta{Name: "Tests", Value: fmt.Sprintf("%d planned, %d executed, %d assessed", res.Summary.Tests, res.Summary.Executed, res.Summary.Assessed)},
		LayerMeta{Divider: true},
		LayerMeta{Name: "Generated", Value: res.GeneratedAt.String()},
		LayerMeta{Name: "Generated by", Value: "Purplebook"})
	if p.BaseURL != "" {
		l.Links = append(l.Links, LayerLink{Label: "Mission results in Purplebook", URL: p.BaseURL + "/missions/" + m.ID + "/results"})
	}
	return l
}

func colorDescription(c ColorBy) string {
	switch c {
	case ColorBest:
		return "the best outcome among the technique's tests"
	case ColorScore:
		return "the score on the gradient"
	}
	return "the worst outcome among the technique's tests"
}

func bestLevelName(sc *Scale) string {
	for _, l := range sc.Levels {
		if l.Class == ClassDetected {
			return l.Name
		}
	}
	return "best"
}

func deref(s *string, def string) string {
	if s == nil || *s == "" {
		return def
	}
	return *s
}

// CoverageLayer exports the organisation-wide coverage as a layer.
func (s *Service) CoverageLayer(ctx context.Context, c missions.Caller, cp CoverageParams, p LayerParams) (*Layer, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	cov, err := s.Coverage(ctx, c, cp)
	if err != nil {
		return nil, err
	}
	ls, err := s.levels(ctx, s.db.Read)
	if err != nil {
		return nil, err
	}
	sc := NewScale(ls)
	cat, err := s.mitre.Matrix(ctx)
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("Purple-team coverage over %d missions. Colour: %s; score: the mean test score (0 = not detected … 100 = %s).",
		len(cov.Missions), colorDescription(p.ColorBy), bestLevelName(sc))
	l := baseLayer("Purplebook coverage", desc, cov.Matrix.Version, sc)
	l.Techniques = layerTechniques(cov.Matrix, cat, sc, LayerParams{ColorBy: p.ColorBy}, nil)
	for i := range l.Techniques {
		e := &l.Techniques[i]
		r := cov.Matrix.Results[e.TechniqueID]
		if e.Comment == "" {
			continue // only opens its sub-techniques
		}
		if r.Result.Tests != r.Own.Tests {
			e.Metadata = append(e.Metadata, LayerMeta{Divider: true}, LayerMeta{Name: "With sub-techniques", Value: summaryLine(r.Result, sc)})
		}
		if r.FirstTested != nil {
			e.Metadata = append(e.Metadata, LayerMeta{Name: "First tested", Value: r.FirstTested.String()})
		}
		if r.LastTested != nil {
			e.Metadata = append(e.Metadata, LayerMeta{Name: "Last tested", Value: r.LastTested.String()})
		}
		if r.LastResult != nil {
			e.Metadata = append(e.Metadata, LayerMeta{Name: "Last result", Value: stateLabel(sc, *r.LastResult)})
		}
	}
	l.Metadata = append(l.Metadata, LayerMeta{Name: "Missions", Value: fmt.Sprint(len(cov.Missions))})
	if cp.From != "" || cp.To != "" {
		l.Metadata = append(l.Metadata, LayerMeta{Name: "Period", Value: orDash(cp.From) + " – " + orDash(cp.To)})
	}
	if len(cp.Statuses) > 0 {
		l.Metadata = append(l.Metadata, LayerMeta{Name: "Mission status", Value: strings.Join(cp.Statuses, ", ")})
	}
	l.Metadata = append(l.Metadata, LayerMeta{Divider: true},
		LayerMeta{Name: "Generated", Value: cov.GeneratedAt.String()},
		LayerMeta{Name: "Generated by", Value: "Purplebook"})
	if p.BaseURL != "" {
		l.Links = append(l.Links, LayerLink{Label: "Coverage in Purplebook", URL: p.BaseURL + "/coverage"})
	}
	return l, nil
}

func orDash(s string) string {
	if s == "" {
		return "…"
	}
	return s
}
