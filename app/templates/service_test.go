package templates

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var actor = audit.Actor{Label: "test"}

// newLib returns a library on a fresh database whose catalogue holds the
// small enterprise bundle (3 tactics, T1059/T1053/T1547… with subtechniques,
// revoked T1060, deprecated T1034 and T1053.004).
func newLib(t *testing.T) (*Service, *db.DB) {
	t.Helper()
	d := dbtest.New(t)
	m := mitre.New(mitre.Options{DB: d})
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "testdata", "attack", "enterprise-attack-small.json"))
	require.NoError(t, err)
	defer f.Close()
	_, err = m.Sync(context.Background(), mitre.SyncParams{Upload: f, AllowUnverified: true}, actor)
	require.NoError(t, err)
	return New(Options{DB: d, Mitre: m}), d
}

func mk(t *testing.T, s *Service, in Input) Template {
	t.Helper()
	tpl, err := s.Create(context.Background(), actor, in)
	require.NoError(t, err)
	return tpl
}

func TestCreateResolvesAndMergesTags(t *testing.T) {
	t.Parallel()
	s, _ := newLib(t)
	tpl := mk(t, s, Input{Name: "  PowerShell download cradle ", Platforms: []string{"Windows", "windows", " "},
		Tags: []string{"initial", "Initial"}, MitreTags: []TagRef{
			{Kind: "subtechnique", ExternalID: "T1059.001"}, {ExternalID: "t1059.001"}, // duplicate, kind inferred
			{Kind: "technique", ExternalID: "T1059"}, {ExternalID: "TA0002"},
		}})
	assert.Equal(t, "PowerShell download cradle", tpl.Name)
	assert.Equal(t, []string{"Windows"}, tpl.Platforms, "trimmed, deduplicated case-insensitively")
	assert.Equal(t, []string{"initial"}, tpl.Tags)
	assert.Equal(t, "medium", tpl.OpsecLevel)
	require.Len(t, tpl.MitreTags, 3)
	assert.Equal(t, Tag{Kind: "tactic", ExternalID: "TA0002", Name: "Execution", URL: tpl.MitreTags[0].URL, State: "active"}, Tag{
		Kind: tpl.MitreTags[0].Kind, ExternalID: tpl.MitreTags[0].ExternalID, Name: tpl.MitreTags[0].Name, URL: tpl.MitreTags[0].URL, State: tpl.MitreTags[0].State})
	assert.Equal(t, "PowerShell", tpl.MitreTags[2].Name)
	assert.Empty(t, tpl.Warnings)

	// Unknown ids: 422 naming every one, nothing written.
	_, err := s.Create(context.Background(), actor, Input{Name: "x", MitreTags: []TagRef{{ExternalID: "T9999"}, {ExternalID: "TA0099"}, {Kind: "bogus", ExternalID: "T1059"}}})
	require.ErrorIs(t, err, apperr.ErrInvalid)
	assert.Contains(t, err.Error(), "T9999")
	assert.Contains(t, err.Error(), "TA0099")
	assert.Contains(t, err.Error(), "kind must be")

	// Revoked / deprecated: accepted with a warning, rendered as such.
	tpl = mk(t, s, Input{Name: "old", MitreTags: []TagRef{{ExternalID: "T1060"}, {ExternalID: "T1053.004"}}})
	assert.Len(t, tpl.Warnings, 2)
	states := map[string]string{}
	for _, m := range tpl.MitreTags {
		states[m.ExternalID] = m.State
	}
	assert.Equal(t, map[string]string{"T1060": "revoked", "T1053.004": "deprecated"}, states)
}

func TestValidationListsEveryField(t *testing.T) {
	t.Parallel()
	s, d := newLib(t)
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	_, err := s.Create(context.Background(), actor, Input{Name: string(long), OpsecLevel: "extreme",
		InputArguments: []InputArgument{{Name: ""}, {Name: "a", Default: map[string]any{"x": 1}}}})
	var inv *apperr.Invalid
	require.ErrorAs(t, err, &inv)
	assert.Contains(t, inv.Fields, "name")
	assert.Contains(t, inv.Fields, "opsec_level")
	assert.Contains(t, inv.Fields, "input_arguments")
	assert.Zero(t, dbtest.Count(t, d, "test_templates"))
}

func ids(items []Template) []string {
	out := []string{}
	for _, t := range items {
		out = append(out, t.Name)
	}
	return out
}

func TestFilters(t *testing.T) {
	t.Parallel()
	s, _ := newLib(t)
	ctx := context.Background()
	mk(t, s, Input{Name: "ps exec", Description: "Runs PowerShell", Platforms: []string{"Windows"}, OpsecLevel: "low",
		Tags: []string{"quick"}, MitreTags: []TagRef{{ExternalID: "T1059.001"}}})
	mk(t, s, Input{Name: "cmd exec", Platforms: []string{"Windows"}, OpsecLevel: "high", MitreTags: []TagRef{{ExternalID: "T1059"}}})
	mk(t, s, Input{Name: "cron job", Platforms: []string{"Linux", "macOS"}, Tags: []string{"persistence", "quick"},
		MitreTags: []TagRef{{ExternalID: "T1053.005"}}})
	mk(t, s, Input{Name: "run key", Platforms: []string{"Windows"}, MitreTags: []TagRef{{ExternalID: "T1547.001"}}})
	mk(t, s, Input{Name: "tactic only", MitreTags: []TagRef{{ExternalID: "TA0004"}}})
	mk(t, s, Input{Name: "untagged"})

	list := func(p ListParams) []string {
		t.Helper()
		page, err := s.List(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, len(page.Items), page.Total)
		return ids(page.Items)
	}
	assert.Equal(t, []string{"cmd exec", "cron job", "ps exec"}, list(ListParams{Tactic: "TA0002"}), "technique or subtechnique in execution")
	assert.Equal(t, []string{"cmd exec", "cron job", "ps exec"}, list(ListParams{Tactic: "execution"}), "by shortname")
	assert.Equal(t, []string{"cron job", "run key", "tactic only"}, list(ListParams{Tactic: "privilege-escalation"}), "tactic tag itself too")
	assert.Equal(t, []string{"cmd exec", "ps exec"}, list(ListParams{Technique: "T1059"}), "itself or its subtechniques")
	assert.Equal(t, []string{"ps exec"}, list(ListParams{Subtechnique: "t1059.001"}))
	assert.Equal(t, []string{"cmd exec"}, list(ListParams{Opsec: "high"}))
	assert.Equal(t, []string{"cron job"}, list(ListParams{Platform: "LINUX"}))
	assert.Equal(t, []string{"cron job", "ps exec"}, list(ListParams{Tag: "quick"}))
	assert.Equal(t, []string{"ps exec"}, list(ListParams{Q: "powershell"}), "q searches the description too")
	assert.Equal(t, []string{"ps exec"}, list(ListParams{Tactic: "execution", Platform: "windows", Q: "exec", Opsec: "low"}), "combined")
	assert.Equal(t, []string{"untagged", "tactic only", "run key", "ps exec", "cron job", "cmd exec"}, list(ListParams{Sort: "-name"}))
	assert.Empty(t, list(ListParams{Q: "100%_"}), "LIKE wildcards are escaped")
	page, err := s.List(ctx, ListParams{PageParams: db.PageParams{Page: 2, PerPage: 4}})
	require.NoError(t, err)
	assert.Equal(t, 6, page.Total)
	assert.Len(t, page.Items, 2)
	_, err = s.List(ctx, ListParams{Tactic: "TA0099"})
	assert.ErrorIs(t, err, apperr.ErrUnprocessable)
	_, err = s.List(ctx, ListParams{Sort: "bogus"})
	assert.ErrorIs(t, err, apperr.ErrBadRequest)
}

func TestPatchAbsentNullValue(t *testing.T) {
	t.Parallel()
	s, _ := newLib(t)
	ctx := context.Background()
	full := Input{Name: "n", Description: "d", Objective: "o", Executor: "powershell", Command: "c", CleanupCommand: "cc",
		PrerequisitesExecutor: "sh", Prerequisites: []Prerequisite{{Description: "p"}}, InputArguments: []InputArgument{{Name: "a", Default: 1.0}},
		ElevationRequired: true, Platforms: []string{"Windows"}, ExpectedDetection: "e", OpsecLevel: "high",
		Tags: []string{"t"}, MitreTags: []TagRef{{ExternalID: "T1059"}}}
	tpl := mk(t, s, full)

	// Absent: nothing changes but the version.
	got, err := s.Update(ctx, actor, tpl.ID, UpdateParams{})
	require.NoError(t, err)
	assert.Equal(t, tpl.input(), got.input())
	assert.Equal(t, tpl.Version+1, got.Version)

	// Null clears every field (opsec back to its default).
	var nulls UpdateParams
	require.NoError(t, json.Unmarshal([]byte(`{"description":null,"objective":null,"executor":null,"command":null,
		"cleanup_command":null,"prerequisites_executor":null,"prerequisites":null,"input_arguments":null,"elevation_required":null,
		"platforms":null,"expected_detection":null,"opsec_level":null,"tags":null,"mitre_tags":null}`), &nulls))
	got, err = s.Update(ctx, actor, tpl.ID, nulls)
	require.NoError(t, err)
	assert.Equal(t, Input{Name: "n", OpsecLevel: "medium", Prerequisites: []Prerequisite{}, InputArguments: []InputArgument{},
		Platforms: []string{}, Tags: []string{}, Source: "manual"}, got.input())

	// Null on a required field is a validation error.
	_, err = s.Update(ctx, actor, tpl.ID, UpdateParams{Name: patch.Null[string]()})
	require.ErrorIs(t, err, apperr.ErrInvalid)

	// Values set each field.
	got, err = s.Update(ctx, actor, tpl.ID, UpdateParams{Name: patch.Value("n2"), Platforms: patch.Value([]string{"Linux"}),
		MitreTags: patch.Value([]TagRef{{ExternalID: "T1547"}}), OpsecLevel: patch.Value("low"), ElevationRequired: patch.Value(true)})
	require.NoError(t, err)
	assert.Equal(t, "n2", got.Name)
	assert.Equal(t, []string{"Linux"}, got.Platforms)
	assert.Equal(t, "low", got.OpsecLevel)
	assert.True(t, got.ElevationRequired)
	require.Len(t, got.MitreTags, 1)
	assert.Equal(t, "T1547", got.MitreTags[0].ExternalID)

	// Optimistic concurrency.
	_, err = s.Update(ctx, actor, tpl.ID, UpdateParams{Name: patch.Value("n3"), Version: patch.Value(1)})
	require.ErrorIs(t, err, apperr.ErrConflict)
	_, err = s.Update(ctx, actor, tpl.ID, UpdateParams{Name: patch.Value("n3"), Version: patch.Value(got.Version)})
	require.NoError(t, err)
}

func entryIDs(sc Scenario) []string {
	out := []string{}
	for _, e := range sc.Tests {
		out = append(out, e.TestTemplateID)
	}
	return out
}

func TestScenarioOrderAndCoverage(t *testing.T) {
	t.Parallel()
	s, d := newLib(t)
	ctx := context.Background()
	a := mk(t, s, Input{Name: "a", MitreTags: []TagRef{{ExternalID: "T1059.001"}}})
	b := mk(t, s, Input{Name: "b", MitreTags: []TagRef{{ExternalID: "T1053"}}})
	c := mk(t, s, Input{Name: "c", MitreTags: []TagRef{{ExternalID: "TA0004"}}})

	sc, err := s.CreateScenario(ctx, actor, ScenarioInput{Name: "Playbook", TestTemplateIDs: []string{a.ID, b.ID, c.ID}})
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID, b.ID, c.ID}, entryIDs(sc))
	tactics := []string{}
	for _, x := range sc.Coverage.Tactics {
		tactics = append(tactics, x.ExternalID)
	}
	assert.Equal(t, []string{"TA0002", "TA0003", "TA0004"}, tactics, "matrix order")
	techs := []string{}
	for _, x := range sc.Coverage.Techniques {
		techs = append(techs, x.ExternalID)
	}
	assert.Equal(t, []string{"T1053", "T1059"}, techs, "subtechnique counts for its parent")

	// Swap positions.
	sc, err = s.ReplaceTests(ctx, actor, sc.ID, []string{c.ID, b.ID, a.ID}, patch.Absent[int]())
	require.NoError(t, err)
	assert.Equal(t, []string{c.ID, b.ID, a.ID}, entryIDs(sc))
	// The same test at several positions.
	sc, err = s.ReplaceTests(ctx, actor, sc.ID, []string{a.ID, b.ID, a.ID, a.ID}, patch.Absent[int]())
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID, b.ID, a.ID, a.ID}, entryIDs(sc))
	assert.Equal(t, []int{0, 1, 2, 3}, []int{sc.Tests[0].Position, sc.Tests[1].Position, sc.Tests[2].Position, sc.Tests[3].Position})
	// A replace that fails mid-way (an unknown id after valid ones) leaves the old order.
	_, err = s.ReplaceTests(ctx, actor, sc.ID, []string{b.ID, a.ID, db.NewID()}, patch.Absent[int]())
	require.ErrorIs(t, err, apperr.ErrInvalid)
	sc, err = s.GetScenario(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID, b.ID, a.ID, a.ID}, entryIDs(sc))
	assert.Equal(t, 4, dbtest.Count(t, d, "scenario_template_tests"))
	// A stale version is a conflict.
	_, err = s.ReplaceTests(ctx, actor, sc.ID, []string{a.ID}, patch.Value(1))
	require.ErrorIs(t, err, apperr.ErrConflict)
	// Empty list is fine.
	sc, err = s.ReplaceTests(ctx, actor, sc.ID, []string{}, patch.Value(sc.Version))
	require.NoError(t, err)
	assert.Empty(t, sc.Tests)
}

func TestSoftDeleteChaining(t *testing.T) {
	t.Parallel()
	s, _ := newLib(t)
	ctx := context.Background()
	a := mk(t, s, Input{Name: "a", MitreTags: []TagRef{{ExternalID: "T1059"}}})
	b := mk(t, s, Input{Name: "b"})
	sc, err := s.CreateScenario(ctx, actor, ScenarioInput{Name: "S", TestTemplateIDs: []string{a.ID, b.ID}})
	require.NoError(t, err)

	require.NoError(t, s.Delete(ctx, actor, a.ID))
	page, err := s.List(ctx, ListParams{})
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, ids(page.Items), "hidden from lists")
	page, err = s.List(ctx, ListParams{Deleted: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(page.Items), "the deleted view")
	got, err := s.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.NotNil(t, got.DeletedAt)

	sc, err = s.GetScenario(ctx, sc.ID)
	require.NoError(t, err)
	require.Len(t, sc.Tests, 2, "the scenario keeps the entry")
	assert.True(t, sc.Tests[0].Deleted)
	assert.Empty(t, sc.Coverage.Techniques, "deleted entries do not count for coverage")
	// It can be kept in a reorder, but not newly added.
	_, err = s.ReplaceTests(ctx, actor, sc.ID, []string{b.ID, a.ID}, patch.Absent[int]())
	require.NoError(t, err)
	other, err := s.CreateScenario(ctx, actor, ScenarioInput{Name: "T", TestTemplateIDs: []string{a.ID}})
	require.ErrorIs(t, err, apperr.ErrInvalid, "%v", other)
	_, err = s.Update(ctx, actor, a.ID, UpdateParams{Name: patch.Value("x")})
	require.ErrorIs(t, err, apperr.ErrConflict, "deleted templates are read-only")
	assert.ErrorIs(t, s.Delete(ctx, actor, a.ID), apperr.ErrNotFound)

	restored, err := s.Restore(ctx, actor, a.ID)
	require.NoError(t, err)
	assert.Nil(t, restored.DeletedAt)
	_, err = s.Restore(ctx, actor, a.ID)
	assert.ErrorIs(t, err, apperr.ErrConflict)
	sc, err = s.GetScenario(ctx, sc.ID)
	require.NoError(t, err)
	assert.False(t, sc.Tests[1].Deleted)

	// Scenario delete is soft and restorable.
	require.NoError(t, s.DeleteScenario(ctx, actor, sc.ID))
	list, err := s.ListScenarios(ctx, ScenarioListParams{})
	require.NoError(t, err)
	assert.Zero(t, list.Total)
	_, err = s.RestoreScenario(ctx, actor, sc.ID)
	require.NoError(t, err)
	list, err = s.ListScenarios(ctx, ScenarioListParams{Q: "s"})
	require.NoError(t, err)
	assert.Equal(t, 1, list.Total)
}
