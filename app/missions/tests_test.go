package missions_test

import (
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testNames(ts []missions.Test) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func (e *env) board(c missions.Caller, p missions.TestListParams) []missions.Test {
	e.t.Helper()
	page, err := e.m.Tests(e.ctx, c, e.mission, p)
	require.NoError(e.t, err)
	require.Len(e.t, page.Items, page.Total, "one page")
	return page.Items
}

// TestScenarioInstantiation copies a scenario's tests in order (repeats
// kept), with their tags as they are in the catalogue now; deleted
// templates are skipped and reported; a later catalogue sync that renames
// or drops a technique rewrites nothing in the mission.
func TestScenarioInstantiation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b, c := e.template("A", "T1059.001"), e.template("B", "T1053", "TA0003"), e.template("C", "T1547.001")
	sc, err := e.set.Templates.CreateScenario(e.ctx, audit.Actor{Label: "test"}, templates.ScenarioInput{Name: "Play",
		Description: "Persistence drill", TestTemplateIDs: []string{b, a, c, b}})
	require.NoError(t, err)
	require.NoError(t, e.set.Templates.Delete(e.ctx, audit.Actor{Label: "test"}, c))

	res, err := e.m.InstantiateScenario(e.ctx, e.lead, e.mission, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, "Play", res.Scenario.Name)
	assert.Equal(t, "Persistence drill", res.Scenario.Description)
	assert.Equal(t, &sc.ID, res.Scenario.ScenarioTemplateID)
	require.Len(t, res.TestIDs, 3)
	require.Len(t, res.Skipped, 1, "the deleted template is skipped and reported")
	assert.Equal(t, missions.SkippedEntry{Position: 2, TestTemplateID: c, Name: "C", Reason: "the test template is deleted"}, res.Skipped[0])

	ts := e.board(e.viewer, missions.TestListParams{})
	assert.Equal(t, []string{"B", "A", "B"}, testNames(ts), "order kept, repeats kept")
	for i, tt := range ts {
		assert.Equal(t, res.TestIDs[i], tt.ID)
		assert.Equal(t, "pending", tt.State)
		assert.Equal(t, &res.Scenario.ID, tt.MissionScenarioID)
		assert.Equal(t, "powershell", tt.Executor, "template fields are copied")
		assert.Equal(t, []string{"windows"}, tt.Platforms)
		assert.Equal(t, 1, tt.Version)
	}
	assert.Less(t, ts[0].Position, ts[1].Position)
	assert.Less(t, ts[1].Position, ts[2].Position)
	tag := func(tt missions.Test) []string {
		out := []string{}
		for _, g := range tt.MitreTags {
			out = append(out, g.Kind+":"+g.ExternalID+":"+g.Name)
		}
		return out
	}
	assert.Equal(t, []string{"subtechnique:T1059.001:PowerShell"}, tag(ts[1]))
	assert.Equal(t, []string{"tactic:TA0003:Persistence", "technique:T1053:Scheduled Task/Job"}, tag(ts[0]))
	assert.Equal(t, 2+1+2, e.count("mission_test_mitre_tags", nil), "copied per test (B twice, two tags each), not shared")

	// The catalogue changes: PowerShell is renamed, Scheduled Task/Job dropped.
	e.syncCatalogue(func(objs []any) []any {
		kept := []any{}
		for _, o := range objs {
			m := o.(map[string]any)
			switch m["name"] {
			case "PowerShell":
				m["name"] = "PowerShell (renamed)"
			case "Scheduled Task/Job":
				continue
			}
			kept = append(kept, o)
		}
		return kept
	})
	tpl, err := e.set.Templates.Get(e.ctx, a)
	require.NoError(t, err)
	require.Equal(t, "PowerShell (renamed)", tpl.MitreTags[0].Name, "the library follows the catalogue")
	ts = e.board(e.viewer, missions.TestListParams{})
	assert.Equal(t, []string{"subtechnique:T1059.001:PowerShell"}, tag(ts[1]), "mission tags are copies")
	assert.Equal(t, []string{"tactic:TA0003:Persistence", "technique:T1053:Scheduled Task/Job"}, tag(ts[0]))

	// A second instantiation goes after the first.
	res2, err := e.m.InstantiateScenario(e.ctx, e.lead, e.mission, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, res.Scenario.Position+1, res2.Scenario.Position)
	scs, err := e.m.Scenarios(e.ctx, e.viewer, e.mission)
	require.NoError(t, err)
	require.Len(t, scs, 2)
	assert.Len(t, e.board(e.viewer, missions.TestListParams{}), 6)
	assert.Len(t, e.board(e.viewer, missions.TestListParams{ScenarioID: res2.Scenario.ID}), 3)

	// Deleting a mission scenario deletes its tests, not the other's.
	require.NoError(t, e.m.DeleteScenario(e.ctx, e.lead, e.mission, res.Scenario.ID))
	requireErr(t, e.m.DeleteScenario(e.ctx, e.lead, e.mission, res.Scenario.ID), apperr.ErrNotFound, "not_found")
	assert.Equal(t, res2.TestIDs, ids(e.board(e.viewer, missions.TestListParams{})))
	_, err = e.m.GetTest(e.ctx, e.viewer, e.mission, res.TestIDs[0])
	requireErr(t, err, apperr.ErrNotFound, "not_found")

	// Unknown or deleted scenario templates, and callers who may not plan.
	_, err = e.m.InstantiateScenario(e.ctx, e.lead, e.mission, db.NewID())
	requireInvalid(t, err, "scenario_template_id")
	_, err = e.m.InstantiateScenario(e.ctx, e.red, e.mission, sc.ID)
	requireErr(t, err, apperr.ErrForbidden, "forbidden")
	_, err = e.m.InstantiateScenario(e.ctx, e.outsider, e.mission, sc.ID)
	requireErr(t, err, apperr.ErrNotFound, "not_found")
	require.NoError(t, e.set.Templates.DeleteScenario(e.ctx, audit.Actor{Label: "test"}, sc.ID))
	_, err = e.m.InstantiateScenario(e.ctx, e.lead, e.mission, sc.ID)
	requireInvalid(t, err, "scenario_template_id")
	assert.Equal(t, 2, e.auditCount("mission.scenario_add"))
}

func ids(ts []missions.Test) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// TestAddTest: from a template (a copy), or ad hoc (validated like a
// template, tags resolved against the catalogue, no template saved).
func TestAddTest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tplID := e.template("From library", "T1059")
	tt, err := e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{TestTemplateID: tplID})
	require.NoError(t, err)
	assert.Equal(t, "From library", tt.Name)
	assert.Equal(t, &tplID, tt.TestTemplateID)
	require.Len(t, tt.MitreTags, 1)
	assert.Equal(t, "T1059", tt.MitreTags[0].ExternalID)
	assert.Equal(t, []missions.Outcome{}, tt.Outcomes, "detail view: no outcomes yet")

	templatesBefore := e.count("test_templates", nil)
	adhoc := e.addTest("Ad hoc", "T1059.001")
	assert.Nil(t, adhoc.TestTemplateID)
	assert.Equal(t, "PowerShell", adhoc.MitreTags[0].Name)
	assert.Greater(t, adhoc.Position, tt.Position)
	assert.Equal(t, templatesBefore, e.count("test_templates", nil), "an ad-hoc test saves no template")

	_, err = e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{Name: "Bad tag", MitreTags: []templates.TagRef{{ExternalID: "T9999"}}})
	require.ErrorIs(t, err, apperr.ErrInvalid)
	_, err = e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{Name: ""})
	requireInvalid(t, err, "name")
	_, err = e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{TestTemplateID: db.NewID()})
	requireInvalid(t, err, "test_template_id")
	require.NoError(t, e.set.Templates.Delete(e.ctx, audit.Actor{Label: "test"}, tplID))
	_, err = e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{TestTemplateID: tplID})
	requireInvalid(t, err, "test_template_id")
	_, err = e.m.AddTest(e.ctx, e.blue, e.mission, missions.AddTestInput{Name: "Blue's"})
	requireErr(t, err, apperr.ErrForbidden, "forbidden")
	assert.Equal(t, 2, e.count("mission_tests", dbx.HashExp{"mission_id": e.mission}))

	// The copy does not follow later edits of the template.
	_, err = e.set.Templates.Restore(e.ctx, audit.Actor{Label: "test"}, tplID)
	require.NoError(t, err)
	_, err = e.set.Templates.Update(e.ctx, audit.Actor{Label: "test"}, tplID, templates.UpdateParams{Name: patchValue("Renamed in library")})
	require.NoError(t, err)
	got, err := e.m.GetTest(e.ctx, e.viewer, e.mission, tt.ID)
	require.NoError(t, err)
	assert.Equal(t, "From library", got.Name)
}

// TestBoardFilters: state, category, scenario, tactic (through the tags'
// techniques) and a folded name search.
func TestBoardFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cat, err := e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr("Persistence work")})
	require.NoError(t, err)
	ps := e.addTest("PowerShell run", "T1059.001")
	sched, err := e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{Name: "Schtasks", CategoryID: &cat.ID,
		MitreTags: []templates.TagRef{{ExternalID: "T1053"}}})
	require.NoError(t, err)
	e.addTest("Untagged Ärger")
	e.patch(e.red, ps.ID, `{"state":"in_progress"}`)

	names := func(p missions.TestListParams) []string { return testNames(e.board(e.viewer, p)) }
	assert.Equal(t, []string{"PowerShell run"}, names(missions.TestListParams{State: "in_progress"}))
	assert.Equal(t, []string{"Schtasks", "Untagged Ärger"}, names(missions.TestListParams{State: "pending"}))
	assert.Equal(t, []string{"Schtasks"}, names(missions.TestListParams{CategoryID: cat.ID}))
	assert.Equal(t, []string{"PowerShell run", "Untagged Ärger"}, names(missions.TestListParams{CategoryID: "none"}))
	assert.Equal(t, []string{"PowerShell run", "Schtasks"}, names(missions.TestListParams{Tactic: "TA0002"}), "T1059.001 and T1053 are in execution")
	assert.Equal(t, []string{"Schtasks"}, names(missions.TestListParams{Tactic: "persistence"}))
	assert.Equal(t, []string{"Untagged Ärger"}, names(missions.TestListParams{Q: "ärGER"}))
	_, err = e.m.Tests(e.ctx, e.viewer, e.mission, missions.TestListParams{Tactic: "TA9999"})
	requireErr(t, err, apperr.ErrUnprocessable, "unknown_tactic")
	_, err = e.m.Tests(e.ctx, e.viewer, e.mission, missions.TestListParams{State: "done"})
	requireErr(t, err, apperr.ErrBadRequest, "invalid_query")
	_ = sched
	// Progress counts by state.
	m, err := e.m.Get(e.ctx, e.viewer, e.mission)
	require.NoError(t, err)
	assert.Equal(t, 3, m.Progress.Total)
	assert.Equal(t, map[string]int{"pending": 2, "in_progress": 1, "executed": 0, "assessed": 0, "skipped": 0}, m.Progress.ByState)
}

// TestReorderAndDeleteTests: the order must list every live test once;
// deleted tests keep their positions and are out of the board.
func TestReorderAndDeleteTests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b, c, d := e.addTest("A"), e.addTest("B"), e.addTest("C"), e.addTest("D")
	require.NoError(t, e.m.DeleteTest(e.ctx, e.lead, e.mission, b.ID))
	requireErr(t, e.m.DeleteTest(e.ctx, e.lead, e.mission, b.ID), apperr.ErrNotFound, "not_found")
	requireErr(t, e.m.DeleteTest(e.ctx, e.red, e.mission, a.ID), apperr.ErrForbidden, "forbidden")
	assert.Equal(t, []string{"A", "C", "D"}, testNames(e.board(e.viewer, missions.TestListParams{})))

	for _, bad := range [][]string{
		{d.ID, a.ID},                 // one missing
		{d.ID, a.ID, c.ID, c.ID},     // repeated
		{d.ID, a.ID, b.ID},           // a deleted one
		{d.ID, a.ID, db.NewID()},     // unknown
		{d.ID, a.ID, c.ID, "not-id"}, // malformed
	} {
		requireInvalid(t, e.m.ReorderTests(e.ctx, e.lead, e.mission, bad), "test_ids")
	}
	assert.Equal(t, []string{"A", "C", "D"}, testNames(e.board(e.viewer, missions.TestListParams{})), "a refused order changes nothing")
	require.NoError(t, e.m.ReorderTests(e.ctx, e.lead, e.mission, []string{d.ID, a.ID, c.ID}))
	ts := e.board(e.viewer, missions.TestListParams{})
	assert.Equal(t, []string{"D", "A", "C"}, testNames(ts))
	// Live tests take the live positions, sorted; the deleted one keeps its own.
	assert.Equal(t, []int{a.Position, c.Position, d.Position}, []int{ts[0].Position, ts[1].Position, ts[2].Position})
	var bPos int
	require.NoError(t, e.d.Read.Select("position").From("mission_tests").Where(dbx.HashExp{"id": b.ID}).Row(&bPos))
	assert.Equal(t, b.Position, bPos)
	requireErr(t, e.m.ReorderTests(e.ctx, e.red, e.mission, []string{a.ID, c.ID, d.ID}), apperr.ErrForbidden, "forbidden")
	// New tests go after every position ever used.
	n := e.addTest("E")
	assert.Greater(t, n.Position, d.Position)
	assert.Equal(t, 1, e.auditCount("mission.tests_reorder"))
}
