package results

import (
	"context"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/tally"
)

// MissionInfo is the mission a result belongs to.
type MissionInfo struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Status      string  `json:"status"`
	StartsOn    *string `json:"starts_on"`
	EndsOn      *string `json:"ends_on"`
	MyRole      string  `json:"my_role"`
}

// Legend is the colour vocabulary of every view: the scored levels and the
// states that are not a level.
type Legend struct {
	Levels []Level        `json:"levels"`
	States []LegendState  `json:"states"`
	Scores []LegendScores `json:"scores"`
}

// LegendState is a cell state that is not an outcome level.
type LegendState struct {
	State string `json:"state"`
	Label string `json:"label"`
	Color string `json:"color"` // "" = no fill
}

// LegendScores explains the score of a level.
type LegendScores struct {
	Key   string `json:"key"`
	Score int    `json:"score"`
}

func (s *Scale) legend() Legend {
	lg := Legend{Levels: s.Levels, States: []LegendState{}, Scores: []LegendScores{}}
	color := func(key string) string {
		if l, ok := s.byKey[key]; ok {
			return l.Color
		}
		return ""
	}
	lg.States = append(lg.States,
		LegendState{StateUnassessed, "Executed, not assessed yet", color(keyTBD)},
		LegendState{StateNotApplicable, "Not applicable", color(keyNotApplicable)},
		LegendState{StatePlanned, "Planned, not executed", ""},
		LegendState{StateSkipped, "Skipped", ""},
		LegendState{StateUntested, "Not tested", ""})
	for _, l := range s.Levels {
		if l.Score != nil {
			lg.Scores = append(lg.Scores, LegendScores{l.Key, *l.Score})
		}
	}
	return lg
}

// Column is a matrix column (a tactic) with the ids of its techniques in
// display order (by name).
type Column struct {
	ExternalID string   `json:"external_id"`
	Shortname  string   `json:"shortname"`
	Name       string   `json:"name"`
	Techniques []string `json:"techniques"`
}

// CatalogueEntry names a technique or subtechnique.
type CatalogueEntry struct {
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	State         string   `json:"state"`
	URL           string   `json:"url,omitempty"`
	Parent        string   `json:"parent,omitempty"`
	ReplacedBy    string   `json:"replaced_by,omitempty"`
	Tactics       []string `json:"tactics"`
	Subtechniques []string `json:"subtechniques,omitempty"`
}

// TechniqueResult is a technique's result in a view. For a parent technique
// Result covers its own tests and those of its sub-techniques; Own only the
// tests tagged with the parent itself.
type TechniqueResult struct {
	Result Result   `json:"result"`
	Own    Result   `json:"own"`
	Tests  []string `json:"tests,omitempty"` // mission view: test ids (Result's tests), in mission order
	// Cross-mission view.
	FirstTested *db.Time `json:"first_tested,omitempty"`
	LastTested  *db.Time `json:"last_tested,omitempty"`
	LastResult  *string  `json:"last_result,omitempty"` // state of the latest executed test's result
}

// Matrix is the heatmap data shared by the mission and organisation views.
type Matrix struct {
	Version   string                     `json:"version"`
	Columns   []Column                   `json:"columns"`
	Catalogue map[string]CatalogueEntry  `json:"catalogue"`
	Results   map[string]TechniqueResult `json:"results"`
	// Other lists tested ids that are not in the active matrix (revoked,
	// deprecated or unknown to the catalogue).
	Other []string `json:"other"`
}

func newMatrix(m *mitre.Matrix) *Matrix {
	out := &Matrix{Version: m.Version, Columns: make([]Column, 0, len(m.Tactics)), Catalogue: map[string]CatalogueEntry{},
		Results: map[string]TechniqueResult{}, Other: []string{}}
	add := func(e *mitre.MatrixEntry) {
		if _, ok := out.Catalogue[e.ExternalID]; ok {
			return
		}
		ce := CatalogueEntry{Name: e.Name, Kind: e.Kind, State: e.State, URL: e.URL, Parent: e.Parent, ReplacedBy: e.ReplacedBy,
			Tactics: e.Tactics}
		for _, sub := range e.Subtechniques {
			ce.Subtechniques = append(ce.Subtechniques, sub.ExternalID)
		}
		out.Catalogue[e.ExternalID] = ce
	}
	for _, t := range m.Tactics {
		col := Column{ExternalID: t.ExternalID, Shortname: t.Shortname, Name: t.Name, Techniques: make([]string, 0, len(t.Techniques))}
		for _, e := range t.Techniques {
			col.Techniques = append(col.Techniques, e.ExternalID)
			add(e)
			for _, sub := range e.Subtechniques {
				add(sub)
			}
		}
		out.Columns = append(out.Columns, col)
	}
	return out
}

// place adds a tested id that the active matrix does not show to Other,
// with its catalogue entry (or a bare one when unknown).
func (mx *Matrix) place(cat *mitre.Matrix, id string, name string) {
	if ce, ok := mx.Catalogue[id]; ok && ce.State == "active" {
		if ce.Parent == "" || mx.Catalogue[ce.Parent].State == "active" {
			return
		}
	}
	if e, ok := cat.Lookup(id); ok {
		mx.Catalogue[id] = CatalogueEntry{Name: e.Name, Kind: e.Kind, State: e.State, URL: e.URL, Parent: e.Parent,
			ReplacedBy: e.ReplacedBy, Tactics: e.Tactics}
	} else {
		kind := "technique"
		if strings.Contains(id, ".") {
			kind = "subtechnique"
		}
		mx.Catalogue[id] = CatalogueEntry{Name: name, Kind: kind, State: "unknown", Tactics: []string{}}
	}
	mx.Other = append(mx.Other, id)
}

// TacticResult is the outcome mix of one tactic.
type TacticResult struct {
	ExternalID string `json:"external_id"`
	Shortname  string `json:"shortname"`
	Name       string `json:"name"`
	Result     Result `json:"result"`
}

// ControlResult is what one security control caught.
type ControlResult struct {
	Control            string         `json:"control"`
	Configured         bool           `json:"configured"` // in the security_controls setting
	Tests              int            `json:"tests"`      // tests with an outcome for this control
	Levels             map[string]int `json:"levels"`     // level key → tests
	Detected           int            `json:"detected"`
	Missed             int            `json:"missed"`
	Expected           int            `json:"expected"`
	ExpectedMissed     int            `json:"expected_missed"` // expected to detect, but the level does not count as detected
	TechniquesDetected []string       `json:"techniques_detected"`
	TechniquesMissed   []string       `json:"techniques_missed"`
}

// TimeStats are the distributions of one measure (log, alert or prevent).
type TimeStats struct {
	Overall  Distribution            `json:"overall"`
	Controls map[string]Distribution `json:"controls"`
}

// TestResult is one test as the results show it.
type TestResult struct {
	ID         string            `json:"id"`
	Position   int               `json:"position"`
	Name       string            `json:"name"`
	State      string            `json:"state"`
	Class      string            `json:"class"`
	Outcome    *string           `json:"outcome"` // level key
	Score      *int              `json:"score"`
	Techniques []string          `json:"techniques"`
	Tactics    []string          `json:"tactics"` // shortnames
	Controls   []ControlOutcome  `json:"controls"`
	Times      Times             `json:"times"`
	StartedAt  *db.Time          `json:"-"`
	ExecutedAt *db.Time          `json:"-"`
	AssessedAt *db.Time          `json:"-"`
	TagNames   map[string]string `json:"-"`
}

// ControlOutcome is one control's outcome of a test.
type ControlOutcome struct {
	Control   string   `json:"control"`
	Expected  bool     `json:"expected"`
	Outcome   string   `json:"outcome"` // level key
	Times     Times    `json:"times"`
	AlertName string   `json:"alert_name"`
	Notes     string   `json:"-"`
	LoggedAt  *db.Time `json:"-"`
	AlertedAt *db.Time `json:"-"`
	Prevented *db.Time `json:"-"`
}

// MissionResults is GET /missions/{id}/results.
type MissionResults struct {
	Mission     MissionInfo     `json:"mission"`
	GeneratedAt db.Time         `json:"generated_at"`
	Legend      Legend          `json:"legend"`
	Summary     Result          `json:"summary"`
	Techniques  TechniqueCounts `json:"techniques"`
	Matrix      *Matrix         `json:"matrix"`
	Tactics     []TacticResult  `json:"tactics"`
	Controls    []ControlResult `json:"controls"`
	Times       struct {
		Log     TimeStats `json:"log"`
		Alert   TimeStats `json:"alert"`
		Prevent TimeStats `json:"prevent"`
	} `json:"times"`
	// Tests in findings order: not detected first (worst outcome first),
	// then unassessed, detected (weakest detection first), not applicable,
	// planned, skipped; mission order within each.
	Tests []TestResult `json:"tests"`
}

// TechniqueCounts counts techniques (and sub-techniques) by state.
type TechniqueCounts struct {
	Tested   int            `json:"tested"`   // tagged on at least one test
	Executed int            `json:"executed"` // with at least one executed test
	Missed   int            `json:"missed"`   // whose worst outcome is not detected
	ByState  map[string]int `json:"by_state"`
}

// classOrder sorts findings.
var classOrder = map[string]int{ClassMissed: 0, ClassUnassessed: 1, ClassDetected: 2, ClassNotApplicable: 3, ClassPlanned: 4, ClassSkipped: 5}

// missionData is everything the mission views and reports compute from.
type missionData struct {
	mission  missions.Mission
	scale    *Scale
	cat      *mitre.Matrix
	controls []string
	tests    []testRow
	tags     []tagRow
	outcomes []outcomeRow
}

// What loadMission reads besides the tests and their tags.
type loadWhat int

const (
	loadResults loadWhat = iota // per-control outcomes without their notes
	loadLayer                   // no per-control outcomes (the layer does not show them)
	loadReport                  // per-control outcomes with their notes
)

// loadMission reads what the views compute from.
func (s *Service) loadMission(ctx context.Context, c missions.Caller, missionID string, what loadWhat) (*missionData, error) {
	m, err := s.missions.Get(ctx, c, missionID)
	if err != nil {
		return nil, err
	}
	d := &missionData{mission: m}
	b := s.db.Read
	ls, err := s.levels(ctx, b)
	if err != nil {
		return nil, err
	}
	d.scale = NewScale(ls)
	if d.cat, err = s.mitre.Matrix(ctx); err != nil {
		return nil, err
	}
	if d.controls, err = s.settings.SecurityControls(ctx); err != nil {
		return nil, err
	}
	if d.tests, err = s.missionTests(ctx, b, missionID); err != nil {
		return nil, err
	}
	if d.tags, err = s.missionTags(ctx, b, missionID); err != nil {
		return nil, err
	}
	if what != loadLayer {
		if d.outcomes, err = s.missionOutcomes(ctx, b, missionID, what == loadReport); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func missionInfo(m missions.Mission) MissionInfo {
	return MissionInfo{ID: m.ID, Name: m.Name, Description: m.Description, Status: m.Status, StartsOn: m.StartsOn,
		EndsOn: m.EndsOn, MyRole: m.MyRole}
}

// MissionResults computes a mission's results.
func (s *Service) MissionResults(ctx context.Context, c missions.Caller, missionID string) (*MissionResults, error) {
	d, err := s.loadMission(ctx, c, missionID, loadResults)
	if err != nil {
		return nil, err
	}
	return s.compute(d), nil
}

func (s *Service) compute(d *missionData) *MissionResults {
	sc := d.scale
	out := &MissionResults{Mission: missionInfo(d.mission), GeneratedAt: db.NewTime(s.now()), Legend: sc.legend(),
		Matrix: newMatrix(d.cat), Tactics: []TacticResult{}, Controls: []ControlResult{}, Tests: make([]TestResult, 0, len(d.tests))}

	// Tests with their class, tags and per-control outcomes.
	idx := make(map[string]int, len(d.tests))
	buckets := make([]string, len(d.tests))
	for i, t := range d.tests {
		idx[t.ID] = i
		b := tally.Bucket(t.State, t.OutcomeLevelID)
		buckets[i] = b
		class, l := sc.Classify(b)
		tr := TestResult{ID: t.ID, Position: t.Position, Name: t.Name, State: t.State, Class: class, Techniques: []string{},
			Tactics: []string{}, Controls: []ControlOutcome{}, StartedAt: t.StartedAt, ExecutedAt: t.ExecutedAt,
			AssessedAt: t.AssessedAt, TagNames: map[string]string{}}
		if l != nil {
			tr.Outcome, tr.Score = &l.Key, l.Score
		}
		out.Tests = append(out.Tests, tr)
	}
	tacticTests := map[string]map[int]bool{} // shortname → test indexes
	addTactic := func(sn string, i int) {
		if tacticTests[sn] == nil {
			tacticTests[sn] = map[int]bool{}
		}
		tacticTests[sn][i] = true
	}
	ownTests := map[string][]int{} // tagged id → test indexes
	for _, g := range d.tags {
		i, ok := idx[g.TestID]
		if !ok {
			continue
		}
		tr := &out.Tests[i]
		switch g.Kind {
		case "tactic":
			if t, ok := d.cat.TacticByShortname(g.ExternalID); ok {
				addTactic(t.Shortname, i)
			}
			continue
		}
		tr.Techniques = append(tr.Techniques, g.ExternalID)
		tr.TagNames[g.ExternalID] = g.Name
		ownTests[g.ExternalID] = append(ownTests[g.ExternalID], i)
		if e, ok := d.cat.Lookup(g.ExternalID); ok {
			for _, sn := range e.Tactics {
				addTactic(sn, i)
			}
		}
	}
	for sn, set := range tacticTests {
		for i := range set {
			out.Tests[i].Tactics = append(out.Tests[i].Tactics, sn)
		}
	}
	tacticPos := map[string]int{}
	for i, t := range d.cat.Tactics {
		tacticPos[t.Shortname] = i
	}
	for i := range out.Tests {
		sort.Slice(out.Tests[i].Tactics, func(a, b int) bool {
			return tacticPos[out.Tests[i].Tactics[a]] < tacticPos[out.Tests[i].Tactics[b]]
		})
	}

	// Per-control outcomes and times: levels.Derive, the definition the
	// test page uses (from the execution start, never negative, unset when
	// the control did not detect).
	type ctrlAcc struct {
		r                ControlResult
		detected, missed map[string]bool
		log, alert, prev []float64
	}
	ctrls := map[string]*ctrlAcc{}
	ctrlOrder := []string{}
	ctrl := func(name string) *ctrlAcc {
		a := ctrls[name]
		if a == nil {
			a = &ctrlAcc{r: ControlResult{Control: name, Levels: map[string]int{}}, detected: map[string]bool{}, missed: map[string]bool{}}
			ctrls[name] = a
			ctrlOrder = append(ctrlOrder, name)
		}
		return a
	}
	for _, name := range d.controls {
		ctrl(name).r.Configured = true
	}
	byTest := make([][]outcomeRow, len(d.tests))
	for _, o := range d.outcomes {
		if i, ok := idx[o.TestID]; ok {
			if _, known := sc.Level(o.LevelID); known {
				byTest[i] = append(byTest[i], o)
			}
		}
	}
	for i, os := range byTest {
		if len(os) == 0 {
			continue
		}
		t := d.tests[i]
		tr := &out.Tests[i]
		run := tr.Class != ClassPlanned && tr.Class != ClassSkipped // an outcome recorded before the test ran is not a result yet
		cs := make([]levels.Control, len(os))
		for k, o := range os {
			l, _ := sc.Level(o.LevelID)
			cs[k] = levels.Control{LevelID: l.ID, Rank: l.Rank, CountsAsDetected: l.Class == ClassDetected,
				LoggedAt: db.TimePtr(o.LoggedAt), AlertedAt: db.TimePtr(o.AlertedAt), PreventedAt: db.TimePtr(o.PreventedAt)}
		}
		der := levels.Derive(db.TimePtr(t.StartedAt), db.TimePtr(t.ExecutedAt), cs)
		if run {
			tr.Times = seconds(der.Overall)
		}
		for k, o := range os {
			l, _ := sc.Level(o.LevelID)
			tm := Times{}
			if run {
				tm = seconds(der.Controls[k])
			}
			tr.Controls = append(tr.Controls, ControlOutcome{Control: o.Control, Expected: o.Expected, Outcome: l.Key, Times: tm,
				AlertName: o.AlertName, Notes: o.Notes, LoggedAt: o.LoggedAt, AlertedAt: o.AlertedAt, Prevented: o.PreventedAt})
			if !run {
				continue
			}
			a := ctrl(o.Control)
			a.r.Tests++
			a.r.Levels[l.Key]++
			if o.Expected {
				a.r.Expected++
			}
			switch l.Class {
			case ClassDetected:
				a.r.Detected++
				for _, id := range tr.Techniques {
					a.detected[id] = true
				}
			case ClassMissed:
				a.r.Missed++
				if o.Expected {
					a.r.ExpectedMissed++
					for _, id := range tr.Techniques {
						a.missed[id] = true
					}
				}
			}
			for _, p := range []struct {
				dst *[]float64
				v   *float64
			}{{&a.log, tm.Log}, {&a.alert, tm.Alert}, {&a.prev, tm.Prevent}} {
				if p.v != nil {
					*p.dst = append(*p.dst, *p.v)
				}
			}
		}
	}
	var allLog, allAlert, allPrev []float64
	for i := range out.Tests {
		tm := out.Tests[i].Times
		if tm.Log != nil {
			allLog = append(allLog, *tm.Log)
		}
		if tm.Alert != nil {
			allAlert = append(allAlert, *tm.Alert)
		}
		if tm.Prevent != nil {
			allPrev = append(allPrev, *tm.Prevent)
		}
	}
	out.Times.Log = TimeStats{Overall: distribution(allLog), Controls: map[string]Distribution{}}
	out.Times.Alert = TimeStats{Overall: distribution(allAlert), Controls: map[string]Distribution{}}
	out.Times.Prevent = TimeStats{Overall: distribution(allPrev), Controls: map[string]Distribution{}}
	for _, name := range ctrlOrder {
		a := ctrls[name]
		if !a.r.Configured && a.r.Tests == 0 {
			continue
		}
		a.r.TechniquesDetected, a.r.TechniquesMissed = sortedKeys(a.detected), sortedKeys(a.missed)
		out.Controls = append(out.Controls, a.r)
		if a.r.Tests > 0 {
			out.Times.Log.Controls[name] = distribution(a.log)
			out.Times.Alert.Controls[name] = distribution(a.alert)
			out.Times.Prevent.Controls[name] = distribution(a.prev)
		}
	}

	// Summary and techniques.
	all := Counts{}
	for _, b := range buckets {
		all.Add(b, 1)
	}
	out.Summary = sc.Result(all)
	countsOf := func(set []int) Counts {
		c := Counts{}
		for _, i := range set {
			c.Add(buckets[i], 1)
		}
		return c
	}
	// Parents roll up their sub-techniques' tests (each test once).
	family := map[string]map[int]bool{}
	for id, set := range ownTests {
		parent := id
		if e, ok := d.cat.Lookup(id); ok && e.Parent != "" {
			parent = e.Parent
		} else if p, _, found := strings.Cut(id, "."); found {
			parent = p
		}
		if family[parent] == nil {
			family[parent] = map[int]bool{}
		}
		for _, i := range set {
			family[parent][i] = true
		}
	}
	mx := out.Matrix
	names := map[string]string{}
	for _, tr := range out.Tests {
		for id, n := range tr.TagNames {
			names[id] = n
		}
	}
	ids := map[string]bool{}
	for id := range ownTests {
		ids[id] = true
	}
	for id := range family {
		ids[id] = true
	}
	out.Techniques.ByState = map[string]int{}
	for _, id := range sortedKeys(ids) {
		own := sc.Result(countsOf(ownTests[id]))
		members := ownTests[id]
		if fam, ok := family[id]; ok {
			members = make([]int, 0, len(fam))
			for i := range fam {
				members = append(members, i)
			}
		}
		sort.Ints(members)
		res := sc.Result(countsOf(members))
		tr := TechniqueResult{Result: res, Own: own, Tests: make([]string, len(members))}
		for k, i := range members {
			tr.Tests[k] = d.tests[i].ID
		}
		mx.Results[id] = tr
		mx.place(d.cat, id, names[id])
		if len(ownTests[id]) > 0 { // counted once per tagged id
			out.Techniques.Tested++
			if own.Executed > 0 {
				out.Techniques.Executed++
			}
			if own.Missed > 0 {
				out.Techniques.Missed++
			}
			out.Techniques.ByState[own.State]++
		}
	}
	sort.Strings(mx.Other)

	// Tactics in matrix order.
	for _, t := range d.cat.Tactics {
		set := make([]int, 0, len(tacticTests[t.Shortname]))
		for i := range tacticTests[t.Shortname] {
			set = append(set, i)
		}
		out.Tactics = append(out.Tactics, TacticResult{ExternalID: t.ExternalID, Shortname: t.Shortname, Name: t.Name,
			Result: sc.Result(countsOf(set))})
	}

	// Findings order.
	rankOf := func(tr TestResult) int {
		if tr.Outcome == nil {
			return 0
		}
		if l, ok := sc.ByKey(*tr.Outcome); ok {
			return l.Rank
		}
		return 0
	}
	sort.SliceStable(out.Tests, func(a, b int) bool {
		x, y := out.Tests[a], out.Tests[b]
		if classOrder[x.Class] != classOrder[y.Class] {
			return classOrder[x.Class] < classOrder[y.Class]
		}
		if x.Class == ClassMissed || x.Class == ClassDetected {
			if rx, ry := rankOf(x), rankOf(y); rx != ry {
				return rx > ry // worst first
			}
		}
		return x.Position < y.Position
	})
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
