package results_test

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/results"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var levelRank = map[string]int{"blocked": 1, "alerted": 2, "logged": 3, "none": 4, "not_applicable": 5, "tbd": 6}
var levelScore = map[string]int{"blocked": 100, "alerted": 67, "logged": 33, "none": 0}

// techniques used by the hand-built mission: T1059 with two of its
// sub-techniques, and techniques of other tactics.
var handIDs = []string{"T1059", "T1059.001", "T1059.003", "T1003.001", "T1021.002", "T1547.001", "T1566.001", "T1112"}

type handTest struct {
	id       string
	tags     []string
	class    string // expected
	outcome  string // expected level key, "" when none
	controls []ctl
}

func classOf(key string) string {
	switch key {
	case "blocked", "alerted", "logged":
		return results.ClassDetected
	case "none":
		return results.ClassMissed
	case "not_applicable":
		return results.ClassNotApplicable
	}
	return results.ClassUnassessed
}

// TestMissionResultsHandBuilt: every pair of control outcomes (EDR, SIEM),
// every single outcome, and tests executed but unassessed, pending, in
// progress and skipped, on real ATT&CK techniques. The expectations are
// derived here from the documented rules, test by test.
func TestMissionResultsHandBuilt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid := e.mission("Op Hand", "")
	keys := []string{"blocked", "alerted", "logged", "none", "not_applicable", "tbd"}
	var tests []*handTest
	n := 0
	add := func(cs []ctl, state string) *handTest {
		tags := []string{handIDs[n%len(handIDs)]}
		if n%5 == 0 {
			tags = append(tags, "TA0007") // a tactic tag (discovery)
		}
		ht := &handTest{tags: tags, controls: cs}
		ht.id = e.addTest(mid, fmt.Sprintf("hand %02d", n), tags...)
		n++
		switch state {
		case "pending":
			ht.class = results.ClassPlanned
		case "in_progress":
			e.patch(mid, ht.id, missions.TestPatch{State: patch.Value("in_progress")})
			ht.class = results.ClassPlanned
		case "skipped":
			e.patch(mid, ht.id, missions.TestPatch{State: patch.Value("skipped"), SkipReason: patch.Value("out of scope")})
			ht.class = results.ClassSkipped
		default:
			e.execute(mid, ht.id, e.clock.Now())
			ht.class = results.ClassUnassessed
			if len(cs) > 0 {
				e.assess(mid, ht.id, cs...)
				best := ""
				for _, c := range cs {
					if best == "" || levelRank[c.level] < levelRank[best] {
						best = c.level
					}
				}
				ht.outcome, ht.class = best, classOf(best)
			}
		}
		tests = append(tests, ht)
		return ht
	}
	for _, a := range keys {
		for _, b := range keys {
			add([]ctl{{control: "EDR", level: a, expected: true}, {control: "SIEM", level: b}}, "")
		}
		add([]ctl{{control: "AV", level: a}}, "")
	}
	add(nil, "")            // executed, not assessed
	add(nil, "pending")     // planned
	add(nil, "in_progress") // planned
	add(nil, "skipped")
	// Outcomes recorded before the test ran do not make a result.
	early := add(nil, "pending")
	e.assess(mid, early.id, ctl{control: "EDR", level: "none"})

	res, err := e.set.Results.MissionResults(e.ctx, e.lead, mid)
	require.NoError(t, err)

	// Per test.
	byID := map[string]results.TestResult{}
	for _, tr := range res.Tests {
		byID[tr.ID] = tr
	}
	require.Len(t, byID, len(tests))
	for _, ht := range tests {
		tr := byID[ht.id]
		assert.Equal(t, ht.class, tr.Class, tr.Name)
		if ht.class == results.ClassDetected || ht.class == results.ClassMissed || ht.class == results.ClassNotApplicable {
			require.NotNil(t, tr.Outcome, tr.Name)
			assert.Equal(t, ht.outcome, *tr.Outcome, tr.Name)
		}
		if s, ok := levelScore[ht.outcome]; ok && ht.class != results.ClassPlanned {
			require.NotNil(t, tr.Score, tr.Name)
			assert.Equal(t, s, *tr.Score)
		}
	}

	// Summary.
	count := func(pred func(*handTest) bool) int {
		k := 0
		for _, ht := range tests {
			if pred(ht) {
				k++
			}
		}
		return k
	}
	is := func(class string) func(*handTest) bool { return func(h *handTest) bool { return h.class == class } }
	s := res.Summary
	assert.Equal(t, len(tests), s.Tests)
	assert.Equal(t, count(is(results.ClassDetected)), s.Detected)
	assert.Equal(t, count(is(results.ClassMissed)), s.Missed)
	assert.Equal(t, count(is(results.ClassNotApplicable)), s.NotApplicable)
	assert.Equal(t, count(is(results.ClassUnassessed)), s.Unassessed)
	assert.Equal(t, count(is(results.ClassPlanned)), s.Planned)
	assert.Equal(t, count(is(results.ClassSkipped)), s.Skipped)
	assert.Equal(t, s.Detected+s.Missed+s.NotApplicable+s.Unassessed, s.Executed)
	assert.Equal(t, "none", s.State, "a mission with a miss shows the miss")

	// Per technique: own tests, and T1059's family (its own and its
	// sub-techniques' tests).
	expect := func(ids ...string) (results.Counts, map[string]bool) {
		members := map[string]bool{}
		for _, ht := range tests {
			for _, tag := range ht.tags {
				for _, id := range ids {
					if tag == id {
						members[ht.id] = true
					}
				}
			}
		}
		return nil, members
	}
	check := func(r results.Result, members map[string]bool, label string) {
		t.Helper()
		det, miss, sum := 0, 0, 0
		worst := ""
		for _, ht := range tests {
			if !members[ht.id] {
				continue
			}
			switch ht.class {
			case results.ClassDetected:
				det++
			case results.ClassMissed:
				miss++
			default:
				continue
			}
			sum += levelScore[ht.outcome]
			if worst == "" || classOf(worst) == results.ClassDetected && (ht.class == results.ClassMissed || levelRank[ht.outcome] > levelRank[worst]) {
				worst = ht.outcome
			}
		}
		assert.Equal(t, len(members), r.Tests, label)
		assert.Equal(t, det, r.Detected, label)
		assert.Equal(t, miss, r.Missed, label)
		if det+miss > 0 {
			require.NotNil(t, r.Score, label)
			assert.Equal(t, int(math.Floor(float64(sum)/float64(det+miss)+0.5)), *r.Score, label)
			assert.Equal(t, worst, *r.Worst, label)
		}
	}
	for _, id := range handIDs {
		_, members := expect(id)
		tr, ok := res.Matrix.Results[id]
		require.True(t, ok, id)
		check(tr.Own, members, id+" own")
		if !strings.Contains(id, ".") && id != "T1059" {
			assert.Equal(t, tr.Own, tr.Result, "%s has no tested sub-technique", id)
		}
	}
	_, fam := expect("T1059", "T1059.001", "T1059.003")
	check(res.Matrix.Results["T1059"].Result, fam, "T1059 family")
	assert.Len(t, res.Matrix.Results["T1059"].Tests, len(fam), "the family's tests, each once")
	// T1003 is not tagged, but its sub-technique is: the parent shows the family.
	_, fam = expect("T1003.001")
	check(res.Matrix.Results["T1003"].Result, fam, "T1003 family")
	assert.Zero(t, res.Matrix.Results["T1003"].Own.Tests)
	assert.Equal(t, len(handIDs), res.Techniques.Tested)

	// Tactics: T1059 sits in execution; TA0007 tags count in discovery.
	var execution, discovery results.TacticResult
	for _, ta := range res.Tactics {
		switch ta.Shortname {
		case "execution":
			execution = ta
		case "discovery":
			discovery = ta
		}
	}
	_, fam = expect("T1059", "T1059.001", "T1059.003")
	assert.Equal(t, len(fam), execution.Result.Tests, "execution holds T1059's family")
	_, disc := expect("TA0007")
	assert.Equal(t, len(disc), discovery.Result.Tests)
	assert.Equal(t, "TA0043", res.Tactics[0].ExternalID, "matrix order: reconnaissance first")
	assert.Len(t, res.Tactics, 14)

	// Controls: EDR was expected everywhere it was set.
	var edr results.ControlResult
	for _, c := range res.Controls {
		if c.Control == "EDR" {
			edr = c
		}
	}
	assert.True(t, edr.Configured)
	assert.Equal(t, 36, edr.Tests, "36 pairs; the early outcome of a pending test is not counted")
	assert.Equal(t, 18, edr.Detected)
	assert.Equal(t, 6, edr.Missed)
	assert.Equal(t, 6, edr.ExpectedMissed)
	assert.Equal(t, 6, edr.Levels["none"])

	// Findings: not detected first, worst first; then unassessed; …
	order := map[string]int{results.ClassMissed: 0, results.ClassUnassessed: 1, results.ClassDetected: 2, results.ClassNotApplicable: 3, results.ClassPlanned: 4, results.ClassSkipped: 5}
	assert.True(t, sort.SliceIsSorted(res.Tests, func(i, j int) bool { return order[res.Tests[i].Class] < order[res.Tests[j].Class] }))
	assert.Equal(t, results.ClassMissed, res.Tests[0].Class)
	var detectedRanks []int
	for _, tr := range res.Tests {
		if tr.Class == results.ClassDetected {
			detectedRanks = append(detectedRanks, levelRank[*tr.Outcome])
		}
	}
	assert.True(t, sort.SliceIsSorted(detectedRanks, func(i, j int) bool { return detectedRanks[i] > detectedRanks[j] }), "weakest detection first")
}

// TestTimesFromExecutionStart: per control and overall, from started_at,
// only for controls whose level counts as detected, never negative.
func TestTimesFromExecutionStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid := e.mission("Op Times", "")
	start := e.clock.Now().Add(-time.Hour)
	a := e.addTest(mid, "timed", "T1112")
	e.execute(mid, a, start)
	e.assess(mid, a,
		ctl{control: "EDR", level: "alerted", logged: at(start.Add(60 * time.Second)), alerted: at(start.Add(120 * time.Second))},
		ctl{control: "SIEM", level: "logged", logged: at(start.Add(30 * time.Second))},
		ctl{control: "AV", level: "none", logged: at(start.Add(5 * time.Second))},               // not detected: no time
		ctl{control: "Firewall", level: "blocked", prevented: at(start.Add(-10 * time.Second))}) // before the start: 0
	b := e.addTest(mid, "unassessed", "T1112")
	e.execute(mid, b, start)

	res, err := e.set.Results.MissionResults(e.ctx, e.lead, mid)
	require.NoError(t, err)
	var tr results.TestResult
	for _, x := range res.Tests {
		if x.ID == a {
			tr = x
		}
	}
	require.NotNil(t, tr.Times.Log)
	assert.Equal(t, 30.0, *tr.Times.Log, "the earliest log among detecting controls")
	assert.Equal(t, 120.0, *tr.Times.Alert)
	assert.Equal(t, 0.0, *tr.Times.Prevent, "never negative")
	per := map[string]results.ControlOutcome{}
	for _, c := range tr.Controls {
		per[c.Control] = c
	}
	assert.Equal(t, 60.0, *per["EDR"].Times.Log)
	assert.Nil(t, per["AV"].Times.Log, "unset when the control did not detect")
	assert.Equal(t, 1, res.Times.Log.Overall.N)
	assert.Equal(t, 30.0, *res.Times.Log.Overall.Median)
	assert.Equal(t, 60.0, *res.Times.Log.Controls["EDR"].Median)
	assert.Equal(t, 0, res.Times.Log.Controls["AV"].N)
	assert.Equal(t, 1, res.Times.Alert.Overall.Histogram[1].N, "120 s falls in 1–5 min")
	assert.Equal(t, 1, res.Summary.Unassessed)
}

// TestMissionResultsVisibility: like the mission itself, 404 for callers
// who are neither members nor holders of mission.read_all.
func TestMissionResultsVisibility(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "enterprise-attack-small.json")
	mid := e.mission("Op Secret", "")
	outsider := e.user("out@example.com", "mission.read")
	_, err := e.set.Results.MissionResults(e.ctx, outsider, mid)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "No such mission")
	reader := e.user("auditor@example.com", "mission.read", "mission.read_all")
	_, err = e.set.Results.MissionResults(e.ctx, reader, mid)
	require.NoError(t, err)
	viewer := e.user("viewer@example.com", "mission.read")
	e.member(mid, viewer, "viewer")
	_, err = e.set.Results.MissionResults(e.ctx, viewer, mid)
	require.NoError(t, err)
	_, err = e.set.Results.MissionResults(e.ctx, e.lead, db.NewID())
	require.Error(t, err)
}
