package results_test

import (
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/results"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCoverageAcrossMissions: the organisation-wide view sums the missions
// the caller may see, honours the filters, and agrees with each mission's
// own results; trends per mission and per month.
func TestCoverageAcrossMissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day := func(ti time.Time) string { return ti.Format("2006-01-02") }
	t0 := e.clock.Now()
	a := e.mission("Op Alpha", day(t0.AddDate(0, -3, 0)))
	b := e.mission("Op Bravo", day(t0.AddDate(0, -1, 0)))
	c := e.mission("Op Charlie (not mine)", day(t0))
	// Alpha: T1059.001 missed, T1112 logged; executed three months ago.
	start := t0.AddDate(0, -3, 0)
	x := e.addTest(a, "a1", "T1059.001")
	e.execute(a, x, start)
	e.assess(a, x, ctl{control: "EDR", level: "none"})
	x = e.addTest(a, "a2", "T1112")
	e.execute(a, x, start.Add(time.Hour))
	e.assess(a, x, ctl{control: "EDR", level: "logged"})
	e.addTest(a, "a3 planned", "T1027")
	// Bravo: T1059.001 blocked a month ago, T1059 alerted.
	start = t0.AddDate(0, -1, 0)
	x = e.addTest(b, "b1", "T1059.001")
	e.execute(b, x, start)
	e.assess(b, x, ctl{control: "EDR", level: "blocked"})
	x = e.addTest(b, "b2", "T1059")
	e.execute(b, x, start)
	e.assess(b, x, ctl{control: "SIEM", level: "alerted"})
	// Charlie: T1112 none, unassessed T1027.
	x = e.addTest(c, "c1", "T1112")
	e.execute(c, x, t0)
	e.assess(c, x, ctl{control: "EDR", level: "none"})
	x = e.addTest(c, "c2", "T1027")
	e.execute(c, x, t0)
	// A member of Alpha only (added before Alpha completes: finished
	// missions are read-only).
	member := e.user("member@example.com", "mission.read")
	e.member(a, member, "blue")
	e.setStatus(a, "active")
	e.setStatus(a, "completed")
	e.setStatus(b, "active")

	cov, err := e.set.Results.Coverage(e.ctx, e.lead, results.CoverageParams{})
	require.NoError(t, err)
	require.Len(t, cov.Missions, 3)
	assert.Equal(t, []string{"Op Alpha", "Op Bravo", "Op Charlie (not mine)"}, []string{cov.Missions[0].Name, cov.Missions[1].Name, cov.Missions[2].Name}, "oldest first")
	// The sum of the missions' own results.
	total := 0
	for _, id := range []string{a, b, c} {
		mr, err := e.set.Results.MissionResults(e.ctx, e.lead, id)
		require.NoError(t, err)
		total += mr.Summary.Tests
		for _, m := range cov.Missions {
			if m.ID == id {
				assert.Equal(t, mr.Summary, m.Result, "mission %s", m.Name)
			}
		}
	}
	assert.Equal(t, total, cov.Summary.Tests)
	assert.Equal(t, 3, cov.Summary.Detected)
	assert.Equal(t, 2, cov.Summary.Missed)
	// T1059.001: none (Alpha) + blocked (Bravo) → score 50, worst none.
	r := cov.Matrix.Results["T1059.001"]
	assert.Equal(t, 2, r.Own.Tests)
	assert.Equal(t, 50, *r.Own.Score)
	assert.Equal(t, "none", r.Own.State)
	require.NotNil(t, r.LastResult)
	assert.Equal(t, "blocked", *r.LastResult, "the latest execution was blocked: getting better")
	assert.Equal(t, t0.AddDate(0, -3, 0).UTC().Truncate(time.Millisecond), r.FirstTested.Time)
	// T1059's family: its own alerted test plus T1059.001's two.
	fam := cov.Matrix.Results["T1059"]
	assert.Equal(t, 1, fam.Own.Tests)
	assert.Equal(t, 3, fam.Result.Tests)
	assert.Equal(t, 3, cov.Techniques.Tested-1, "T1059, T1059.001, T1112, T1027")
	// Trends: three missions, months in order.
	require.Len(t, cov.Trends.Missions, 3)
	assert.Equal(t, a, cov.Trends.Missions[0].Key)
	require.NotNil(t, cov.Trends.Missions[1].BlockedShare)
	assert.Equal(t, 0.5, *cov.Trends.Missions[1].BlockedShare)
	require.GreaterOrEqual(t, len(cov.Trends.Months), 2)
	for i := 1; i < len(cov.Trends.Months); i++ {
		assert.Less(t, cov.Trends.Months[i-1].Key, cov.Trends.Months[i].Key)
	}

	// The organisation rows (read_all, status and month filters) and the
	// per-mission rows agree.
	for _, p := range []results.CoverageParams{{}, {Statuses: []string{"completed"}}, {Statuses: []string{"active", "planned"}},
		{From: day(t0.AddDate(0, -2, 0))}, {To: day(t0.AddDate(0, -1, 0))[:7]}, {From: day(t0.AddDate(0, -3, 0)), To: day(t0.AddDate(0, -1, 0))}} {
		org, err := e.set.Results.Coverage(e.ctx, e.lead, p)
		require.NoError(t, err)
		per, err := e.set.Results.Coverage(e.ctx, e.lead, results.WithMissionRows(p))
		require.NoError(t, err)
		assert.Equal(t, per.Matrix.Results, org.Matrix.Results, "%+v", p)
		assert.Equal(t, per.Missions, org.Missions)
	}

	// Filters.
	only := func(p results.CoverageParams) []string {
		t.Helper()
		cv, err := e.set.Results.Coverage(e.ctx, e.lead, p)
		require.NoError(t, err)
		var names []string
		for _, m := range cv.Missions {
			names = append(names, m.Name)
		}
		return names
	}
	assert.Equal(t, []string{"Op Alpha"}, only(results.CoverageParams{Statuses: []string{"completed"}}))
	assert.Equal(t, []string{"Op Alpha", "Op Bravo"}, only(results.CoverageParams{Statuses: []string{"completed", "active"}}))
	assert.Equal(t, []string{"Op Bravo", "Op Charlie (not mine)"}, only(results.CoverageParams{From: day(t0.AddDate(0, -2, 0))}))
	assert.Equal(t, []string{"Op Alpha"}, only(results.CoverageParams{To: day(t0.AddDate(0, -2, 0))}))
	assert.Equal(t, []string{"Op Bravo"}, only(results.CoverageParams{Q: "brav"}))
	assert.Equal(t, []string{"Op Alpha", "Op Charlie (not mine)"}, only(results.CoverageParams{MissionIDs: []string{a, c}}))
	cv, err := e.set.Results.Coverage(e.ctx, e.lead, results.CoverageParams{Q: "nothing matches"})
	require.NoError(t, err)
	assert.Empty(t, cv.Missions)
	assert.Equal(t, 0, cv.Summary.Tests)
	for _, bad := range []results.CoverageParams{{From: "2026-13-01"}, {From: "2026-04", To: "2026-03-31"}, {From: "2026-3"}, {Statuses: []string{"done"}}, {MissionIDs: []string{"x"}}} {
		_, err := e.set.Results.Coverage(e.ctx, e.lead, bad)
		assert.ErrorIs(t, err, apperr.ErrInvalid, "%+v", bad)
	}

	// Visibility: a member sees only their missions; mission.read_all sees all.
	cv, err = e.set.Results.Coverage(e.ctx, member, results.CoverageParams{})
	require.NoError(t, err)
	require.Len(t, cv.Missions, 1)
	assert.Equal(t, a, cv.Missions[0].ID)
	assert.Zero(t, cv.Matrix.Results["T1059"].Own.Tests, "Bravo's T1059 test is not visible")
	assert.Equal(t, 1, cv.Matrix.Results["T1059"].Result.Tests, "only Alpha's T1059.001")
	cv, err = e.set.Results.Coverage(e.ctx, member, results.CoverageParams{MissionIDs: []string{b}})
	require.NoError(t, err)
	assert.Empty(t, cv.Missions, "naming an invisible mission shows nothing")
	// Deleted missions leave the view, the organisation rows included.
	require.NoError(t, e.set.Missions.Delete(e.ctx, e.lead, c))
	assert.Equal(t, []string{"Op Alpha", "Op Bravo"}, only(results.CoverageParams{}))
	cv, err = e.set.Results.Coverage(e.ctx, e.lead, results.CoverageParams{})
	require.NoError(t, err)
	assert.Equal(t, 2, cv.Matrix.Results["T1112"].Own.Tests+1, "Charlie's T1112 test is gone")
}
