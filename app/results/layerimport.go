package results

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/templates"
)

// Reading ATT&CK Navigator layers: format 4.x (domain enterprise-attack) and
// the older 3.x and 2.x that teams still keep (domain mitre-enterprise,
// "version" instead of "versions", techniques without a tactic), upgraded
// the way the Navigator does it (nav-app ViewModel.deserialize): an entry
// without a tactic applies to every tactic of its technique, the old domain
// name maps to enterprise-attack.

// MaxLayerBytes bounds an uploaded layer file.
const MaxLayerBytes = 8 << 20

// Import bounds.
const (
	DefaultPerTechnique = 3
	MaxPerTechnique     = 20
	maxLayerEntries     = 20_000
)

// ImportParams tune turning a layer into a plan.
type ImportParams struct {
	Platform        string   `json:"platform"`          // only library tests for this platform ("" = any)
	MaxPerTechnique int      `json:"max_per_technique"` // 1..20 (0 = 3)
	MinScore        *float64 `json:"min_score"`         // only entries scored at least this
	MaxScore        *float64 `json:"max_score"`         // only entries scored at most this
	LayerIndex      int      `json:"layer_index"`       // which layer of a file holding several
	Name            string   `json:"name"`              // scenario name ("" = from the layer's name)
	Create          bool     `json:"create"`            // create the scenario template (else a preview)
}

// ImportResult is the answer of POST /layers/import.
type ImportResult struct {
	Layer      LayerInfo           `json:"layer"`
	Techniques []ImportedTechnique `json:"techniques"` // selected, matrix order
	Gaps       []ImportedTechnique `json:"gaps"`       // selected, no library test
	Revoked    []RevokedID         `json:"revoked"`
	Deprecated []string            `json:"deprecated"`
	Unknown    []string            `json:"unknown"`
	Ignored    int                 `json:"ignored"` // entries not selected (unannotated, disabled, outside the score range)
	Warnings   []string            `json:"warnings"`
	Tests      []PlannedTest       `json:"tests"` // the scenario's tests, in order
	Scenario   *templates.Scenario `json:"scenario"`
	GapsLayer  *Layer              `json:"gaps_layer"`
}

// LayerInfo describes the imported layer.
type LayerInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Domain      string   `json:"domain"`
	Format      string   `json:"format"` // layer format version as read ("" when absent)
	Attack      string   `json:"attack"` // ATT&CK version the layer names
	Entries     int      `json:"entries"`
	Layers      []string `json:"layers"` // names of the layers in the file
}

// ImportedTechnique is a selected technique.
type ImportedTechnique struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	State   string   `json:"state"`
	Tactics []string `json:"tactics"`
	Score   *float64 `json:"score"`
	From    string   `json:"from,omitempty"` // the revoked id it replaces
	Tests   []string `json:"tests"`          // template ids covering it
}

// RevokedID is a layer id the catalogue marks revoked.
type RevokedID struct {
	ID         string `json:"id"`
	ReplacedBy string `json:"replaced_by"`
}

// PlannedTest is a library test of the plan.
type PlannedTest struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Platforms  []string `json:"platforms"`
	Techniques []string `json:"techniques"` // selected ids it covers
}

// rawLayer is the part of a layer file we read.
type rawLayer struct {
	Name        *string          `json:"name"`
	Description any              `json:"description"`
	Domain      *string          `json:"domain"`
	Version     any              `json:"version"`
	Versions    *json.RawMessage `json:"versions"`
	Techniques  *json.RawMessage `json:"techniques"`
}

type rawVersions struct {
	Attack any `json:"attack"`
	Layer  any `json:"layer"`
}

type rawEntry struct {
	TechniqueID any              `json:"techniqueID"`
	Tactic      any              `json:"tactic"`
	Score       any              `json:"score"`
	Color       any              `json:"color"`
	Comment     any              `json:"comment"`
	Enabled     any              `json:"enabled"`
	Metadata    *json.RawMessage `json:"metadata"`
	Links       *json.RawMessage `json:"links"`
}

var reTechniqueID = regexp.MustCompile(`^[Tt]\d{4}(\.\d{3})?$`)

func notLayer(format string, args ...any) *apperr.Error {
	return apperr.New(apperr.ErrUnprocessable, "not_a_layer", "This is not an ATT&CK Navigator layer: "+format, args...)
}

// parsedEntry is one technique entry after reading.
type parsedEntry struct {
	id       string
	tactic   string
	score    *float64
	enabled  bool
	annotate bool
}

// parsedLayer is a layer after reading and upgrading.
type parsedLayer struct {
	info     LayerInfo
	entries  []parsedEntry
	warnings []string
}

func str(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// ParseLayer reads a layer file (one layer, or a list of layers and an
// index). Anything that is not a layer is a 422 saying why.
func ParseLayer(raw []byte, index int) (*parsedLayer, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, notLayer("the file is empty.")
	}
	if !json.Valid(trimmed) {
		return nil, notLayer("the file is not valid JSON.")
	}
	var layers []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &layers); err != nil {
			return nil, notLayer("expected a layer object or a list of layers.")
		}
		if len(layers) == 0 {
			return nil, notLayer("the list of layers is empty.")
		}
	case '{':
		layers = []json.RawMessage{trimmed}
	default:
		return nil, notLayer("expected a JSON object with name, domain and techniques.")
	}
	if index < 0 || index >= len(layers) {
		return nil, apperr.New(apperr.ErrUnprocessable, "layer_index", "The file holds %d layer(s); layer_index must be 0 to %d.", len(layers), len(layers)-1).
			WithDetails(map[string]any{"layers": len(layers)})
	}
	names := make([]string, len(layers))
	var chosen rawLayer
	for i, l := range layers {
		var rl rawLayer
		if err := json.Unmarshal(l, &rl); err != nil {
			return nil, notLayer("layer %d is not a JSON object.", i+1)
		}
		if rl.Name != nil {
			names[i] = *rl.Name
		}
		if i == index {
			chosen = rl
		}
	}
	rl := chosen
	var missing []string
	if rl.Name == nil {
		missing = append(missing, "name")
	}
	if rl.Domain == nil {
		missing = append(missing, "domain")
	}
	if len(missing) > 0 {
		return nil, notLayer("the required field(s) %s are missing.", strings.Join(missing, " and ")).
			WithDetails(map[string]any{"missing": missing})
	}
	p := &parsedLayer{info: LayerInfo{Name: *rl.Name, Layers: names}}
	if d, ok := str(rl.Description); ok {
		p.info.Description = d
	}
	// Domain, with the old names the Navigator still upgrades.
	switch *rl.Domain {
	case "enterprise-attack", "mitre-enterprise":
		p.info.Domain = DomainEnterprise
	case "mobile-attack", "mitre-mobile", "ics-attack":
		return nil, apperr.New(apperr.ErrUnprocessable, "unsupported_domain",
			"The layer is for %s; the catalogue holds Enterprise ATT&CK only.", *rl.Domain).WithDetails(map[string]any{"domain": *rl.Domain})
	default:
		return nil, notLayer("unknown domain %q (expected enterprise-attack).", truncateRunes(*rl.Domain, 60))
	}
	// Format version: versions.layer (4.x) or version (3.x and older).
	if rl.Versions != nil {
		var v rawVersions
		if err := json.Unmarshal(*rl.Versions, &v); err != nil {
			return nil, notLayer("versions must be an object.")
		}
		if s, ok := str(v.Layer); ok {
			p.info.Format = s
		}
		if s, ok := str(v.Attack); ok {
			p.info.Attack = s
		} else if n, ok := v.Attack.(float64); ok {
			p.info.Attack = strconv.FormatFloat(n, 'f', -1, 64)
		}
	}
	if p.info.Format == "" {
		switch v := rl.Version.(type) {
		case string:
			p.info.Format = v
		case float64:
			p.info.Format = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	if p.info.Format == "" {
		p.warnings = append(p.warnings, "The layer names no format version; it was read as format 4.5.")
	} else {
		major, _, _ := strings.Cut(p.info.Format, ".")
		switch major {
		case "2", "3", "4":
		default:
			return nil, apperr.New(apperr.ErrUnprocessable, "unsupported_layer_version",
				"Layer format %q is not supported (formats 2.x to 4.x are).", truncateRunes(p.info.Format, 20)).
				WithDetails(map[string]any{"format": p.info.Format})
		}
	}
	// Techniques.
	if rl.Techniques == nil {
		return p, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(*rl.Techniques, &entries); err != nil {
		return nil, notLayer("techniques must be a list.")
	}
	if len(entries) > maxLayerEntries {
		return nil, apperr.New(apperr.ErrUnprocessable, "layer_too_large", "The layer lists %d technique entries; at most %d are read.", len(entries), maxLayerEntries)
	}
	p.info.Entries = len(entries)
	bad := 0
	for i, e := range entries {
		var re rawEntry
		if err := json.Unmarshal(e, &re); err != nil {
			bad++
			continue
		}
		id, ok := str(re.TechniqueID)
		if !ok || !reTechniqueID.MatchString(strings.TrimSpace(id)) {
			if len(p.warnings) < 20 {
				p.warnings = append(p.warnings, fmt.Sprintf("Entry %d has no valid techniqueID (T1234 or T1234.001); skipped.", i+1))
			}
			bad++
			continue
		}
		pe := parsedEntry{id: strings.ToUpper(strings.TrimSpace(id)), enabled: true}
		if t, ok := str(re.Tactic); ok {
			pe.tactic = t
		}
		if b, ok := re.Enabled.(bool); ok {
			pe.enabled = b
		}
		switch v := re.Score.(type) {
		case float64:
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pe.score = &v
			}
		case string: // some generators write scores as text
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				pe.score = &f
			}
		}
		color, _ := str(re.Color)
		comment, _ := str(re.Comment)
		pe.annotate = pe.score != nil || strings.TrimSpace(color) != "" || strings.TrimSpace(comment) != "" ||
			nonEmptyList(re.Metadata) || nonEmptyList(re.Links)
		p.entries = append(p.entries, pe)
	}
	if bad > 0 && len(p.entries) == 0 {
		return nil, notLayer("none of its %d technique entries has a techniqueID.", bad)
	}
	return p, nil
}

func nonEmptyList(r *json.RawMessage) bool {
	if r == nil {
		return false
	}
	var xs []json.RawMessage
	return json.Unmarshal(*r, &xs) == nil && len(xs) > 0
}

func (p *ImportParams) normalize() error {
	var inv apperr.Invalid
	if p.MaxPerTechnique == 0 {
		p.MaxPerTechnique = DefaultPerTechnique
	}
	if p.MaxPerTechnique < 1 || p.MaxPerTechnique > MaxPerTechnique {
		inv.Add("max_per_technique", fmt.Sprintf("must be from 1 to %d", MaxPerTechnique))
	}
	if p.MinScore != nil && p.MaxScore != nil && *p.MaxScore < *p.MinScore {
		inv.Add("max_score", "must not be below the lowest score")
	}
	p.Platform = strings.TrimSpace(p.Platform)
	if len([]rune(p.Platform)) > 60 {
		inv.Add("platform", "must be at most 60 characters")
	}
	p.Name = strings.TrimSpace(p.Name)
	if len([]rune(p.Name)) > 200 {
		inv.Add("name", "must be at most 200 characters")
	}
	return inv.Err()
}

// ImportLayer reads a layer, selects its techniques, maps revoked ids to
// their replacements, picks library tests per technique and, when asked,
// creates the scenario template through the templates service. It needs
// test_template.read; creating needs scenario_template.create.
func (s *Service) ImportLayer(ctx context.Context, c missions.Caller, raw []byte, p ImportParams) (*ImportResult, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	if p.Create && !c.Can("scenario_template.create") {
		return nil, apperr.New(apperr.ErrForbidden, "forbidden", "You need the %q permission to create the scenario.", "scenario_template.create").
			WithDetails(map[string]any{"permission": "scenario_template.create"})
	}
	pl, err := ParseLayer(raw, p.LayerIndex)
	if err != nil {
		return nil, err
	}
	cat, err := s.mitre.Matrix(ctx)
	if err != nil {
		return nil, err
	}
	if len(cat.Tactics) == 0 {
		return nil, apperr.New(apperr.ErrUnprocessable, "catalogue_empty", "The ATT&CK catalogue is empty: import it first (ATT&CK → Sync).")
	}
	out := &ImportResult{Layer: pl.info, Techniques: []ImportedTechnique{}, Gaps: []ImportedTechnique{}, Revoked: []RevokedID{},
		Deprecated: []string{}, Unknown: []string{}, Warnings: append([]string{}, pl.warnings...), Tests: []PlannedTest{}}

	// Select: annotated, enabled entries (all enabled entries when none is
	// annotated: a bare list of ids), within the score range.
	anyAnnotated := false
	for _, e := range pl.entries {
		anyAnnotated = anyAnnotated || e.annotate && e.enabled
	}
	type sel struct {
		score *float64
		from  string
	}
	selected := map[string]*sel{}
	seenIDs := map[string]bool{}
	for _, e := range pl.entries {
		seenIDs[e.id] = true
		ok := e.enabled && (e.annotate || !anyAnnotated)
		if ok && (p.MinScore != nil || p.MaxScore != nil) {
			ok = e.score != nil && (p.MinScore == nil || *e.score >= *p.MinScore) && (p.MaxScore == nil || *e.score <= *p.MaxScore)
		}
		if e.tactic != "" {
			if _, known := cat.TacticByShortname(e.tactic); !known {
				out.Warnings = appendOnce(out.Warnings, fmt.Sprintf("Unknown tactic %q (on %s) ignored.", truncateRunes(e.tactic, 40), e.id))
			}
		}
		if !ok {
			continue
		}
		cur := selected[e.id]
		if cur == nil {
			cur = &sel{}
			selected[e.id] = cur
		}
		if e.score != nil && (cur.score == nil || *e.score > *cur.score) {
			v := *e.score
			cur.score = &v
		}
	}
	ignored := 0
	for id := range seenIDs {
		if selected[id] == nil {
			ignored++
		}
	}
	out.Ignored = ignored

	// Resolve against the catalogue: revoked → replacement, report the rest.
	resolved := map[string]*sel{}
	for _, id := range sortedSel(selected) {
		sv := selected[id]
		e, ok := cat.Lookup(id)
		if !ok {
			out.Unknown = append(out.Unknown, id)
			continue
		}
		switch e.State {
		case "revoked":
			out.Revoked = append(out.Revoked, RevokedID{ID: id, ReplacedBy: e.ReplacedBy})
			if r, ok := cat.Lookup(e.ReplacedBy); ok && e.ReplacedBy != "" && r.State == "active" {
				if cur := resolved[r.ExternalID]; cur == nil {
					resolved[r.ExternalID] = &sel{score: sv.score, from: id}
				}
			}
			continue
		case "deprecated", "removed":
			out.Deprecated = append(out.Deprecated, id)
		}
		if cur := resolved[e.ExternalID]; cur == nil || cur.from != "" {
			resolved[e.ExternalID] = &sel{score: sv.score}
		}
	}

	// Library tests per technique.
	lib, err := s.library(ctx, p.Platform)
	if err != nil {
		return nil, err
	}
	tacticPos := map[string]int{}
	for i, t := range cat.Tactics {
		tacticPos[t.Shortname] = i
	}
	order := make([]ImportedTechnique, 0, len(resolved))
	for id, sv := range resolved {
		e, _ := cat.Lookup(id)
		order = append(order, ImportedTechnique{ID: e.ExternalID, Name: e.Name, Kind: e.Kind, State: e.State, Tactics: e.Tactics,
			Score: sv.score, From: sv.from, Tests: []string{}})
	}
	first := func(t ImportedTechnique) int {
		if len(t.Tactics) == 0 {
			return len(tacticPos)
		}
		return tacticPos[t.Tactics[0]]
	}
	sort.Slice(order, func(i, j int) bool {
		if a, b := first(order[i]), first(order[j]); a != b {
			return a < b
		}
		return order[i].ID < order[j].ID
	})
	chosen := map[string]int{} // template id → index in out.Tests
	for i := range order {
		t := &order[i]
		cands := lib.exact[t.ID]
		if t.Kind == "technique" {
			if e, ok := cat.Lookup(t.ID); ok {
				for _, sub := range e.Subtechniques {
					cands = append(cands, lib.exact[sub.ExternalID]...)
				}
			}
		}
		covered := 0
		for _, tpl := range cands {
			if _, ok := chosen[tpl.ID]; ok {
				if !contains(t.Tests, tpl.ID) {
					t.Tests = append(t.Tests, tpl.ID)
					covered++
				}
			}
		}
		for _, tpl := range cands {
			if covered >= p.MaxPerTechnique {
				break
			}
			if _, ok := chosen[tpl.ID]; ok {
				continue
			}
			chosen[tpl.ID] = len(out.Tests)
			out.Tests = append(out.Tests, PlannedTest{ID: tpl.ID, Name: tpl.Name, Platforms: tpl.Platforms, Techniques: []string{}})
			t.Tests = append(t.Tests, tpl.ID)
			covered++
		}
		if len(t.Tests) == 0 {
			out.Gaps = append(out.Gaps, *t)
		}
	}
	for _, t := range order {
		for _, id := range t.Tests {
			pt := &out.Tests[chosen[id]]
			pt.Techniques = append(pt.Techniques, t.ID)
		}
	}
	out.Techniques = order
	if len(out.Revoked) > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d technique id(s) are revoked in the catalogue; their replacements were planned instead.", len(out.Revoked)))
	}
	if len(out.Tests) > templates.MaxScenarioTests {
		msg := fmt.Sprintf("The plan has %d tests; a scenario holds at most %d. Lower the tests per technique or narrow the score range.",
			len(out.Tests), templates.MaxScenarioTests)
		if p.Create {
			return nil, apperr.New(apperr.ErrUnprocessable, "plan_too_large", "%s", msg).WithDetails(map[string]any{"tests": len(out.Tests)})
		}
		out.Warnings = append(out.Warnings, msg)
	}
	out.GapsLayer = s.gapsLayer(cat, pl.info, out.Gaps, p)

	if p.Create {
		if len(out.Tests) == 0 {
			return nil, apperr.New(apperr.ErrUnprocessable, "plan_empty", "No library test covers the selected techniques; nothing to create.")
		}
		name := p.Name
		if name == "" {
			name = truncateRunes("From layer: "+strings.TrimSpace(pl.info.Name), 200)
		}
		ids := make([]string, len(out.Tests))
		for i, t := range out.Tests {
			ids[i] = t.ID
		}
		desc := fmt.Sprintf("Planned from the ATT&CK Navigator layer %q on %s: %d technique(s) selected, %d test(s), %d without a library test.",
			pl.info.Name, db.NewTime(s.now()).Format("2006-01-02"), len(out.Techniques), len(out.Tests), len(out.Gaps))
		if p.Platform != "" {
			desc += " Platform: " + p.Platform + "."
		}
		if len(out.Gaps) > 0 {
			gaps := make([]string, len(out.Gaps))
			for i, g := range out.Gaps {
				gaps[i] = g.ID
			}
			desc += " Gaps: " + strings.Join(gaps, ", ") + "."
		}
		sc, err := s.templates.CreateScenario(ctx, c.Actor, templates.ScenarioInput{Name: name, Description: truncateRunes(desc, 20_000), TestTemplateIDs: ids})
		if err != nil {
			return nil, err
		}
		out.Scenario = &sc
	}
	return out, nil
}

func appendOnce(xs []string, s string) []string {
	if len(xs) >= 30 || contains(xs, s) {
		return xs
	}
	return append(xs, s)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func sortedSel[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type libTemplate struct {
	ID        string
	Name      string
	Platforms []string
}

type libraryIndex struct {
	exact map[string][]libTemplate // tagged external id → templates, by name
}

// library lists the live templates (for one platform) through the
// templates service, indexed by tagged technique id.
func (s *Service) library(ctx context.Context, platform string) (*libraryIndex, error) {
	idx := &libraryIndex{exact: map[string][]libTemplate{}}
	for page := 1; ; page++ {
		res, err := s.templates.List(ctx, templates.ListParams{Platform: platform, Sort: "name",
			PageParams: db.PageParams{Page: page, PerPage: 200}})
		if err != nil {
			return nil, err
		}
		for _, t := range res.Items {
			lt := libTemplate{ID: t.ID, Name: t.Name, Platforms: t.Platforms}
			for _, tag := range t.MitreTags {
				if tag.Kind == "technique" || tag.Kind == "subtechnique" {
					id := strings.ToUpper(tag.ExternalID)
					idx.exact[id] = append(idx.exact[id], lt)
				}
			}
		}
		if len(res.Items) == 0 || page*200 >= res.Total {
			break
		}
	}
	return idx, nil
}

// gapsLayer is a layer of the techniques without a library test.
func (s *Service) gapsLayer(cat *mitre.Matrix, info LayerInfo, gaps []ImportedTechnique, p ImportParams) *Layer {
	sc := NewScale(nil)
	desc := fmt.Sprintf("Techniques of the layer %q that no test in the Purplebook library covers", info.Name)
	if p.Platform != "" {
		desc += " on " + p.Platform
	}
	l := baseLayer(truncateRunes("Gaps: "+info.Name, 200), desc+".", cat.Version, sc)
	l.Gradient = LayerGradient{Colors: []string{"#ffffff", "#D32F2F"}, MinValue: 0, MaxValue: 100}
	l.LegendItems = []LayerLegend{{Label: "No library test", Color: "#D32F2F"}}
	for _, g := range gaps {
		e := LayerTechnique{TechniqueID: g.ID, Enabled: true, Color: "#D32F2F", Comment: "No library test covers this technique.",
			Metadata: []LayerMeta{}, Links: []LayerLink{}}
		if g.From != "" {
			e.Comment += " (replaces the revoked " + g.From + ")"
		}
		if len(g.Tactics) == 0 {
			l.Techniques = append(l.Techniques, e)
		}
		for _, t := range g.Tactics {
			x := e
			x.Tactic = t
			l.Techniques = append(l.Techniques, x)
		}
	}
	l.Metadata = append(l.Metadata, LayerMeta{Name: "Generated by", Value: "Purplebook"})
	return l
}
