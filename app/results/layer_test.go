package results_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/results"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// A validator of the ATT&CK Navigator layer format 4.5, written from
// ../shared/specs/navigator-layer-4.5.md: required fields, types, allowed
// values, id formats, and tactic shortnames known to the catalogue.

type layerCheck struct {
	tactics  map[string]bool // shortnames of the catalogue's tactics
	withSubs map[string]bool // technique ids that have sub-techniques
	problems []string
}

func (c *layerCheck) bad(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

var (
	reLayerTechniqueID = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	reHexColor         = regexp.MustCompile(`^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8}|[0-9A-Fa-f]{3})$`)
	reURLWithScheme    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
	reSemver           = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)
)

var enterprisePlatforms = map[string]bool{"PRE": true, "Windows": true, "Linux": true, "macOS": true, "Network": true, "AWS": true,
	"GCP": true, "Azure": true, "Azure AD": true, "Office 365": true, "SaaS": true}

func (c *layerCheck) object(path string, v any, fields map[string]func(string, any), required ...string) {
	m, ok := v.(map[string]any)
	if !ok {
		c.bad(path, "must be an object")
		return
	}
	for _, r := range required {
		if _, ok := m[r]; !ok {
			c.bad(path, "required field %q is missing", r)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			c.bad(path, "unknown field %q", k)
			continue
		}
		f(path+"."+k, m[k])
	}
}

func (c *layerCheck) str(path string, v any) {
	if _, ok := v.(string); !ok {
		c.bad(path, "must be a string")
	}
}

func (c *layerCheck) boolean(path string, v any) {
	if _, ok := v.(bool); !ok {
		c.bad(path, "must be a boolean")
	}
}

func (c *layerCheck) number(path string, v any) {
	if _, ok := v.(float64); !ok {
		c.bad(path, "must be a number")
	}
}

func (c *layerCheck) oneOf(allowed ...string) func(string, any) {
	return func(path string, v any) {
		s, ok := v.(string)
		for _, a := range allowed {
			if ok && s == a {
				return
			}
		}
		c.bad(path, "must be one of %v", allowed)
	}
}

func (c *layerCheck) color(path string, v any) {
	s, ok := v.(string)
	if !ok || s != "" && !reHexColor.MatchString(s) {
		c.bad(path, "must be a colour string (#rrggbb)")
	}
}

func (c *layerCheck) list(path string, v any, item func(string, any)) {
	xs, ok := v.([]any)
	if !ok {
		c.bad(path, "must be an array")
		return
	}
	for i, x := range xs {
		item(fmt.Sprintf("%s[%d]", path, i), x)
	}
}

// metaOrDivider: Metadata objects {name, value} or Divider objects {divider}.
func (c *layerCheck) metaOrDivider(path string, v any) {
	if m, ok := v.(map[string]any); ok {
		if _, div := m["divider"]; div {
			c.object(path, v, map[string]func(string, any){"divider": c.boolean}, "divider")
			return
		}
	}
	c.object(path, v, map[string]func(string, any){"name": c.str, "value": c.str}, "name", "value")
}

func (c *layerCheck) linkOrDivider(path string, v any) {
	if m, ok := v.(map[string]any); ok {
		if _, div := m["divider"]; div {
			c.object(path, v, map[string]func(string, any){"divider": c.boolean}, "divider")
			return
		}
	}
	c.object(path, v, map[string]func(string, any){"label": c.str, "url": func(p string, v any) {
		s, ok := v.(string)
		if !ok || !reURLWithScheme.MatchString(s) {
			c.bad(p, "must be a URL prefixed with a protocol identifier")
		}
	}}, "label", "url")
}

func (c *layerCheck) technique(path string, v any) {
	var id string
	c.object(path, v, map[string]func(string, any){
		"techniqueID": func(p string, v any) {
			s, ok := v.(string)
			if !ok || !reLayerTechniqueID.MatchString(s) {
				c.bad(p, "must be T#### or T####.###, got %v", v)
			}
			id = s
		},
		"tactic": func(p string, v any) {
			s, ok := v.(string)
			if !ok || !c.tactics[s] {
				c.bad(p, "must be a tactic shortname of the catalogue, got %v", v)
			}
		},
		"comment": c.str, "enabled": c.boolean, "score": c.number, "color": c.color,
		"metadata":          func(p string, v any) { c.list(p, v, c.metaOrDivider) },
		"links":             func(p string, v any) { c.list(p, v, c.linkOrDivider) },
		"showSubtechniques": c.boolean,
	}, "techniqueID")
	if m, ok := v.(map[string]any); ok && m["showSubtechniques"] == true && !c.withSubs[id] {
		c.bad(path, "showSubtechniques is only valid on a technique with sub-techniques (%s)", id)
	}
}

func (c *layerCheck) layer(path string, v any) {
	var domain string
	c.object(path, v, map[string]func(string, any){
		"name": c.str,
		"versions": func(p string, v any) {
			c.object(p, v, map[string]func(string, any){
				"attack": c.str,
				"navigator": func(p string, v any) {
					s, _ := v.(string)
					m := reSemver.FindStringSubmatch(s)
					if m == nil {
						c.bad(p, "must be a version like 4.9.0")
						return
					}
					maj, _ := strconv.Atoi(m[1])
					min, _ := strconv.Atoi(m[2])
					if maj < 4 || maj == 4 && min < 9 {
						c.bad(p, "must be at least 4.9.0")
					}
				},
				"layer": c.oneOf("4.5"),
			}, "navigator", "layer")
		},
		"domain": func(p string, v any) {
			c.oneOf("enterprise-attack", "mobile-attack", "ics-attack")(p, v)
			domain, _ = v.(string)
		},
		"description": c.str, "customDataURL": c.str,
		"filters": func(p string, v any) {
			c.object(p, v, map[string]func(string, any){"platforms": func(p string, v any) {
				c.list(p, v, func(p string, v any) {
					if s, ok := v.(string); !ok || !enterprisePlatforms[s] {
						c.bad(p, "unknown platform %v", v)
					}
				})
			}})
		},
		"sorting": func(p string, v any) {
			f, ok := v.(float64)
			if !ok || f != 0 && f != 1 && f != 2 && f != 3 {
				c.bad(p, "must be 0, 1, 2 or 3")
			}
		},
		"layout": func(p string, v any) {
			c.object(p, v, map[string]func(string, any){
				"layout": c.oneOf("side", "flat", "mini"), "showID": c.boolean, "showName": c.boolean,
				"showAggregateScores": c.boolean, "countUnscored": c.boolean,
				"aggregateFunction":     c.oneOf("average", "min", "max", "sum"),
				"expandedSubtechniques": c.oneOf("none", "all", "annotated"),
			})
		},
		"hideDisabled": c.boolean,
		"techniques":   func(p string, v any) { c.list(p, v, c.technique) },
		"gradient": func(p string, v any) {
			c.object(p, v, map[string]func(string, any){
				"colors": func(p string, v any) {
					xs, _ := v.([]any)
					if len(xs) < 2 {
						c.bad(p, "must hold at least two colours")
					}
					c.list(p, v, c.color)
				},
				"minValue": c.number, "maxValue": c.number,
			}, "colors", "minValue", "maxValue")
			if m, ok := v.(map[string]any); ok {
				lo, _ := m["minValue"].(float64)
				hi, _ := m["maxValue"].(float64)
				if hi <= lo {
					c.bad(p, "maxValue must be greater than minValue")
				}
			}
		},
		"legendItems": func(p string, v any) {
			c.list(p, v, func(p string, v any) {
				c.object(p, v, map[string]func(string, any){"label": c.str, "color": c.color}, "label", "color")
			})
		},
		"showTacticRowBackground": c.boolean, "tacticRowBackground": c.color,
		"selectTechniquesAcrossTactics": c.boolean, "selectSubtechniquesWithParent": c.boolean, "selectVisibleTechniques": c.boolean,
		"metadata": func(p string, v any) { c.list(p, v, c.metaOrDivider) },
		"links":    func(p string, v any) { c.list(p, v, c.linkOrDivider) },
	}, "name", "domain")
	_ = domain
}

// validateLayer checks a layer file (one layer or a list) against the spec.
func validateLayer(t *testing.T, e *env, raw []byte) []string {
	t.Helper()
	c := &layerCheck{tactics: map[string]bool{}, withSubs: map[string]bool{}}
	tactics, err := e.set.Mitre.Tactics(e.ctx, false)
	require.NoError(t, err)
	for _, ta := range tactics {
		c.tactics[ta.Shortname] = true
	}
	cat, err := e.set.Mitre.Matrix(e.ctx)
	require.NoError(t, err)
	for _, col := range cat.Tactics {
		for _, te := range col.Techniques {
			if len(te.Subtechniques) > 0 {
				c.withSubs[te.ExternalID] = true
			}
		}
	}
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	if xs, ok := v.([]any); ok {
		for i, x := range xs {
			c.layer(fmt.Sprintf("[%d]", i), x)
		}
	} else {
		c.layer("layer", v)
	}
	return c.problems
}

// TestLayerValidatorCatchesViolations: the validator is not a rubber stamp.
func TestLayerValidatorCatchesViolations(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "enterprise-attack-small.json")
	for name, doc := range map[string]string{
		"no name":           `{"domain":"enterprise-attack"}`,
		"bad domain":        `{"name":"x","domain":"mitre-enterprise"}`,
		"old navigator":     `{"name":"x","domain":"enterprise-attack","versions":{"navigator":"4.8.1","layer":"4.5"}}`,
		"wrong layer":       `{"name":"x","domain":"enterprise-attack","versions":{"navigator":"5.1.0","layer":"4.4"}}`,
		"bad id":            `{"name":"x","domain":"enterprise-attack","techniques":[{"techniqueID":"T59"}]}`,
		"unknown tactic":    `{"name":"x","domain":"enterprise-attack","techniques":[{"techniqueID":"T1059","tactic":"lateral-movements"}]}`,
		"score as text":     `{"name":"x","domain":"enterprise-attack","techniques":[{"techniqueID":"T1059","score":"5"}]}`,
		"one colour":        `{"name":"x","domain":"enterprise-attack","gradient":{"colors":["#ff0000"],"minValue":0,"maxValue":100}}`,
		"inverted gradient": `{"name":"x","domain":"enterprise-attack","gradient":{"colors":["#ff0000","#00ff00"],"minValue":10,"maxValue":0}}`,
		"link no scheme":    `{"name":"x","domain":"enterprise-attack","links":[{"label":"a","url":"example.org/x"}]}`,
		"legend no colour":  `{"name":"x","domain":"enterprise-attack","legendItems":[{"label":"a"}]}`,
		"subs on a sub":     `{"name":"x","domain":"enterprise-attack","techniques":[{"techniqueID":"T1059.001","showSubtechniques":true}]}`,
	} {
		assert.NotEmpty(t, validateLayer(t, e, []byte(doc)), name)
	}
	// The spec's own examples are valid (tactic shortnames of the full matrix
	// are not all in the small bundle, so only tactic-free parts here).
	assert.Empty(t, validateLayer(t, e, []byte(`{"name":"example layer","versions":{"attack":"13","navigator":"5.1.0","layer":"4.5"},
		"domain":"enterprise-attack","description":"hello, world","filters":{"platforms":["Windows","macOS"]},"sorting":2,
		"layout":{"layout":"side","showName":true,"showID":false,"showAggregateScores":true,"countUnscored":true,"aggregateFunction":"average","expandedSubtechniques":"annotated"},
		"hideDisabled":false,"techniques":[{"techniqueID":"T1059","score":0,"color":"#fd8d3c","comment":"c","showSubtechniques":true},
		{"techniqueID":"T1059.001","score":100,"links":[{"label":"Navigator GitHub","url":"https://github.com/mitre-attack/attack-navigator"}]}],
		"gradient":{"colors":["#ff6666ff","#ffe766ff","#8ec843ff"],"minValue":0,"maxValue":100},"legendItems":[{"label":"Legend Item Label","color":"#FF00FF"}],
		"showTacticRowBackground":true,"tacticRowBackground":"#dddddd","selectTechniquesAcrossTactics":false,"selectSubtechniquesWithParent":false,
		"selectVisibleTechniques":false,"metadata":[{"name":"m1","value":"v1"},{"divider":true},{"name":"m2","value":"v2"}]}`)))
}

// missionWithResults builds a mission with outcomes on real techniques and
// returns its id and the tagged ids.
func missionWithResults(t *testing.T, e *env) (string, []string) {
	t.Helper()
	mid := e.mission("Op Layer", "")
	start := e.clock.Now()
	tagged := []string{"T1059.001", "T1003.001", "T1547.001", "T1112", "T1021.002", "T1566.001", "T1218.011", "T1087.001"}
	levels := []string{"blocked", "none", "alerted", "logged", "none", "tbd", "not_applicable", ""}
	for i, id := range tagged {
		tid := e.addTest(mid, "Test of "+id, id)
		if levels[i] == "" {
			continue // planned
		}
		e.execute(mid, tid, start)
		e.assess(mid, tid, ctl{control: "EDR", level: levels[i], expected: true})
	}
	// A second test on T1059.001, missed: its worst outcome is a miss.
	tid := e.addTest(mid, "Second PowerShell test", "T1059.001")
	e.execute(mid, tid, start)
	e.assess(mid, tid, ctl{control: "SIEM", level: "none"})
	sort.Strings(tagged)
	return mid, tagged
}

func TestMissionLayerFollowsSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid, tagged := missionWithResults(t, e)
	for _, color := range []results.ColorBy{"", results.ColorBest, results.ColorScore} {
		l, err := e.set.Results.MissionLayer(e.ctx, e.lead, mid, results.LayerParams{ColorBy: color, BaseURL: "https://pb.example:8420/ignored"})
		require.NoError(t, err)
		raw, err := json.Marshal(l)
		require.NoError(t, err)
		require.Empty(t, validateLayer(t, e, raw), "color=%s", color)

		assert.Equal(t, "18.1", l.Versions.Attack, "the catalogue's ATT&CK version")
		assert.Equal(t, "enterprise-attack", l.Domain)
		// Annotated entries: exactly the tagged ids, each under every tactic of its technique.
		annotated := map[string]map[string]bool{}
		for _, te := range l.Techniques {
			if te.Comment == "" {
				assert.True(t, te.ShowSubtechniques, "an unannotated entry only opens sub-techniques: %s", te.TechniqueID)
				continue
			}
			if annotated[te.TechniqueID] == nil {
				annotated[te.TechniqueID] = map[string]bool{}
			}
			annotated[te.TechniqueID][te.Tactic] = true
			for _, ln := range te.Links {
				assert.True(t, strings.HasPrefix(ln.URL, "https://pb.example:8420/missions/"+mid+"/tests/"), ln.URL)
			}
		}
		ids := make([]string, 0, len(annotated))
		for id := range annotated {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		assert.Equal(t, tagged, ids)
		cat, err := e.set.Mitre.Matrix(e.ctx)
		require.NoError(t, err)
		for id, tactics := range annotated {
			entry, _ := cat.Lookup(id)
			assert.Len(t, tactics, len(entry.Tactics), "%s: one entry per tactic", id)
		}
		// T1059.001: blocked + none → score 50, worst none (red), best blocked.
		for _, te := range l.Techniques {
			if te.TechniqueID == "T1059.001" {
				require.NotNil(t, te.Score)
				assert.Equal(t, 50, *te.Score)
				switch color {
				case "":
					assert.Equal(t, "#D32F2F", te.Color)
				case results.ColorBest:
					assert.Equal(t, "#1B7F3B", te.Color)
				case results.ColorScore:
					assert.Empty(t, te.Color, "the gradient colours it")
				}
				assert.Contains(t, te.Comment, "Second PowerShell test: None")
			}
			if te.TechniqueID == "T1059" {
				assert.True(t, te.ShowSubtechniques)
			}
		}
	}
	l, err := e.set.Results.MissionLayer(e.ctx, e.lead, mid, results.LayerParams{})
	require.NoError(t, err)
	assert.Equal(t, []string{"#D32F2F", "#F2B705", "#4CAF50", "#1B7F3B"}, l.Gradient.Colors, "from the levels: none, logged, alerted, blocked")
	assert.Equal(t, "Blocked (score 100)", l.LegendItems[0].Label)
	for _, te := range l.Techniques {
		assert.Empty(t, te.Links, "no base URL, no links")
	}
	_, err = e.set.Results.MissionLayer(e.ctx, e.lead, mid, results.LayerParams{ColorBy: "rainbow"})
	require.ErrorIs(t, err, apperr.ErrBadRequest)
}

func TestCoverageLayerFollowsSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tagged := missionWithResults(t, e)
	l, err := e.set.Results.CoverageLayer(e.ctx, e.lead, results.CoverageParams{}, results.LayerParams{BaseURL: "http://127.0.0.1:8420"})
	require.NoError(t, err)
	raw, err := json.Marshal(l)
	require.NoError(t, err)
	require.Empty(t, validateLayer(t, e, raw))
	got := map[string]bool{}
	for _, te := range l.Techniques {
		if te.Comment != "" {
			got[te.TechniqueID] = true
		}
	}
	assert.Len(t, got, len(tagged))
}

// ---------------------------------------------------------------------------
// Import

func importLayer(t *testing.T, e *env, doc string, p results.ImportParams) *results.ImportResult {
	t.Helper()
	res, err := e.set.Results.ImportLayer(e.ctx, e.lead, []byte(doc), p)
	require.NoError(t, err)
	return res
}

func ids(ts []results.ImportedTechnique) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	sort.Strings(out)
	return out
}

// library adds templates tagged with the given ids (one per id, platform windows unless the id ends in "!linux").
func library(t *testing.T, e *env, specs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, s := range specs {
		id, plat := s, "windows"
		if strings.HasSuffix(s, "!linux") {
			id, plat = strings.TrimSuffix(s, "!linux"), "linux"
		}
		tpl, err := e.set.Templates.Create(e.ctx, e.lead.Actor, templates.Input{Name: fmt.Sprintf("Lib %02d %s", i, id), Platforms: []string{plat},
			MitreTags: []templates.TagRef{{ExternalID: id}}})
		require.NoError(t, err)
		out[tpl.Name] = tpl.ID
	}
	return out
}

func TestImportLayer4x(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	library(t, e, "T1059.001", "T1059.001", "T1059.001", "T1059.001", "T1059.003", "T1003.001", "T1003.001!linux", "T1547.001")
	doc := `{"name":"APT-X","versions":{"attack":"16","navigator":"5.1.0","layer":"4.5"},"domain":"enterprise-attack",
	 "techniques":[
	  {"techniqueID":"T1059","tactic":"execution","score":80,"color":"#ff0000","comment":"uses scripting"},
	  {"techniqueID":"T1059.001","tactic":"execution","score":100},
	  {"techniqueID":"T1003.001","tactic":"credential-access","score":40},
	  {"techniqueID":"T1547.001","tactic":"persistence","score":10},
	  {"techniqueID":"T1547.001","tactic":"privilege-escalation","score":60},
	  {"techniqueID":"T1021.002","tactic":"lateral-movement","score":90},
	  {"techniqueID":"T1112","tactic":"defense-evasion","enabled":false,"score":100},
	  {"techniqueID":"T1566","tactic":"initial-access","showSubtechniques":true}
	 ]}`
	res := importLayer(t, e, doc, results.ImportParams{Platform: "windows", MaxPerTechnique: 2})
	assert.Equal(t, "4.5", res.Layer.Format)
	assert.Equal(t, []string{"T1003.001", "T1021.002", "T1059", "T1059.001", "T1547.001"}, ids(res.Techniques),
		"annotated and enabled entries; T1566 only opens sub-techniques")
	assert.Equal(t, 2, res.Ignored, "the disabled T1112 and the unannotated T1566")
	assert.Equal(t, []string{"T1021.002"}, ids(res.Gaps), "no library test for T1021.002")
	for _, tech := range res.Techniques {
		switch tech.ID {
		case "T1059.001":
			assert.Len(t, tech.Tests, 2, "at most two per technique")
		case "T1003.001":
			assert.Len(t, tech.Tests, 1, "the linux test is filtered out")
		case "T1547.001":
			require.NotNil(t, tech.Score)
			assert.Equal(t, 60.0, *tech.Score, "the highest score of its entries")
		}
	}
	// The scenario plan: each template once.
	seen := map[string]bool{}
	for _, pt := range res.Tests {
		assert.False(t, seen[pt.ID])
		seen[pt.ID] = true
		assert.Equal(t, []string{"windows"}, pt.Platforms)
	}
	assert.Nil(t, res.Scenario, "a preview creates nothing")
	raw, err := json.Marshal(res.GapsLayer)
	require.NoError(t, err)
	assert.Empty(t, validateLayer(t, e, raw), "the exportable gap list is a valid layer")

	// Score range: 50..100 keeps T1059 (80), T1059.001 (100), T1547.001 (60), T1021.002 (90).
	lo := 50.0
	res = importLayer(t, e, doc, results.ImportParams{MinScore: &lo})
	assert.Equal(t, []string{"T1021.002", "T1059", "T1059.001", "T1547.001"}, ids(res.Techniques))
	hi := 45.0
	res = importLayer(t, e, doc, results.ImportParams{MaxScore: &hi})
	assert.Equal(t, []string{"T1003.001", "T1547.001"}, ids(res.Techniques), "T1547.001's lowest entry (10) is in range")

	// Creating goes through the templates service: a live scenario template.
	res = importLayer(t, e, doc, results.ImportParams{Platform: "windows", MaxPerTechnique: 1, Create: true, Name: "APT-X plan"})
	require.NotNil(t, res.Scenario)
	sc, err := e.set.Templates.GetScenario(e.ctx, res.Scenario.ID)
	require.NoError(t, err)
	assert.Equal(t, "APT-X plan", sc.Name)
	assert.Len(t, sc.Tests, len(res.Tests))
	assert.Contains(t, sc.Description, "Gaps: T1021.002")
	covered := map[string]bool{}
	for _, c := range sc.Coverage.Techniques {
		covered[c.ExternalID] = true
	}
	assert.True(t, covered["T1059"] && covered["T1003"] && covered["T1547"], "%v", sc.Coverage.Techniques)

	// Creating needs scenario_template.create.
	reader := e.user("reader@example.com", "test_template.read")
	_, err = e.set.Results.ImportLayer(e.ctx, reader, []byte(doc), results.ImportParams{Create: true})
	require.ErrorIs(t, err, apperr.ErrForbidden)
	_, err = e.set.Results.ImportLayer(e.ctx, reader, []byte(doc), results.ImportParams{})
	require.NoError(t, err, "a preview only reads the library")
}

// TestImportLayer3x: the format teams still keep — "version", domain
// mitre-enterprise, techniques without a tactic, pre-sub-technique ids that
// the catalogue now marks revoked (reported, their replacements planned).
func TestImportLayer3x(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	library(t, e, "T1547.001", "T1059.001", "T1218.011")
	doc := `{"name":"Last year's gaps","version":"3.0","domain":"mitre-enterprise","description":"old",
	 "filters":{"stages":["act"],"platforms":["windows"]},
	 "techniques":[
	  {"techniqueID":"T1060","score":1,"color":"#ff6666"},
	  {"techniqueID":"T1086","score":1},
	  {"techniqueID":"T1085","score":1,"comment":"rundll32"},
	  {"techniqueID":"T1064","score":1},
	  {"techniqueID":"T9999","score":1},
	  {"techniqueID":"t1112","score":"1"},
	  {"techniqueID":"not-an-id","score":1}
	 ],
	 "gradient":{"colors":["#ffffff","#ff6666"],"minValue":0,"maxValue":1}}`
	res := importLayer(t, e, doc, results.ImportParams{})
	assert.Equal(t, "3.0", res.Layer.Format)
	assert.Equal(t, "enterprise-attack", res.Layer.Domain, "mitre-enterprise upgraded")
	assert.ElementsMatch(t, []results.RevokedID{{ID: "T1060", ReplacedBy: "T1547.001"}, {ID: "T1085", ReplacedBy: "T1218.011"},
		{ID: "T1086", ReplacedBy: "T1059.001"}}, res.Revoked)
	assert.Equal(t, []string{"T1064"}, res.Deprecated)
	assert.Equal(t, []string{"T9999"}, res.Unknown)
	assert.Equal(t, []string{"T1059.001", "T1064", "T1112", "T1218.011", "T1547.001"}, ids(res.Techniques),
		"replacements planned instead of the revoked ids; a score written as text read")
	for _, tech := range res.Techniques {
		if tech.ID == "T1547.001" {
			assert.Equal(t, "T1060", tech.From)
			assert.Equal(t, []string{"persistence", "privilege-escalation"}, tech.Tactics, "no tactic in the layer: every tactic of the technique")
		}
	}
	assert.Equal(t, []string{"T1064", "T1112"}, ids(res.Gaps))
	assert.NotEmpty(t, res.Warnings)

	// A bare list of ids (nothing annotated): every enabled entry counts.
	res = importLayer(t, e, `{"name":"ids","version":"2.2","domain":"mitre-enterprise","techniques":[{"techniqueID":"T1112"},{"techniqueID":"T1059.001"}]}`, results.ImportParams{})
	assert.Equal(t, []string{"T1059.001", "T1112"}, ids(res.Techniques))
}

func TestImportRejectsWhatIsNotALayer(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "enterprise-attack-small.json")
	for name, doc := range map[string]string{
		"empty":               ``,
		"not json":            `name: x`,
		"a number":            `42`,
		"an object":           `{"foo":1}`,
		"a STIX bundle":       `{"type":"bundle","id":"bundle--1","objects":[]}`,
		"a list of numbers":   `[1,2]`,
		"empty list":          `[]`,
		"techniques object":   `{"name":"x","domain":"enterprise-attack","techniques":{"T1059":1}}`,
		"no technique ids":    `{"name":"x","domain":"enterprise-attack","techniques":[{"score":1}]}`,
		"mobile":              `{"name":"x","domain":"mobile-attack","techniques":[]}`,
		"another domain":      `{"name":"x","domain":"my-domain"}`,
		"future format":       `{"name":"x","domain":"enterprise-attack","versions":{"layer":"7.0","navigator":"9.0.0"}}`,
		"versions not object": `{"name":"x","domain":"enterprise-attack","versions":"4.5"}`,
	} {
		_, err := e.set.Results.ImportLayer(e.ctx, e.lead, []byte(doc), results.ImportParams{})
		require.Error(t, err, name)
		assert.ErrorIs(t, err, apperr.ErrUnprocessable, name)
	}
	// A list of layers: the index chooses; out of range is a 422 too.
	two := `[{"name":"a","domain":"enterprise-attack","techniques":[{"techniqueID":"T1059","score":1}]},
	         {"name":"b","domain":"enterprise-attack","techniques":[{"techniqueID":"T1053","score":1}]}]`
	res := importLayer(t, e, two, results.ImportParams{LayerIndex: 1})
	assert.Equal(t, []string{"a", "b"}, res.Layer.Layers)
	assert.Equal(t, []string{"T1053"}, ids(res.Techniques))
	_, err := e.set.Results.ImportLayer(e.ctx, e.lead, []byte(two), results.ImportParams{LayerIndex: 2})
	assert.ErrorIs(t, err, apperr.ErrUnprocessable)
	_, err = e.set.Results.ImportLayer(e.ctx, e.lead, []byte(two), results.ImportParams{MaxPerTechnique: 99})
	assert.ErrorIs(t, err, apperr.ErrInvalid)
}

// TestLayerRoundTrip: our export imported back selects the same techniques
// (the tagged ones; parents that only open their sub-techniques are not
// selections).
func TestLayerRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid, tagged := missionWithResults(t, e)
	for _, color := range []results.ColorBy{results.ColorWorst, results.ColorScore} {
		l, err := e.set.Results.MissionLayer(e.ctx, e.lead, mid, results.LayerParams{ColorBy: color, BaseURL: "http://localhost:8420"})
		require.NoError(t, err)
		raw, err := json.MarshalIndent(l, "", "  ")
		require.NoError(t, err)
		res := importLayer(t, e, string(raw), results.ImportParams{})
		assert.Equal(t, tagged, ids(res.Techniques), "color=%s", color)
		assert.Empty(t, res.Revoked)
		assert.Empty(t, res.Unknown)
		// Also as a one-element list, the Navigator's "download all layers".
		res = importLayer(t, e, "["+string(raw)+"]", results.ImportParams{})
		assert.Equal(t, tagged, ids(res.Techniques))
	}
	cl, err := e.set.Results.CoverageLayer(e.ctx, e.lead, results.CoverageParams{}, results.LayerParams{})
	require.NoError(t, err)
	raw, err := json.Marshal(cl)
	require.NoError(t, err)
	assert.Equal(t, tagged, ids(importLayer(t, e, string(raw), results.ImportParams{}).Techniques))
}
