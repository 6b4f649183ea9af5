package missions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/tally"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/purplebook/purplebook/app/text"
)

// MaxTestsPerMission bounds a mission.
const MaxTestsPerMission = 10_000

// derive applies levels.Derive to a test's outcomes.
func derive(r testRow, os []Outcome) levels.Derived {
	cs := make([]levels.Control, len(os))
	for i, o := range os {
		cs[i] = levels.Control{LevelID: o.Level.ID, Rank: o.Level.Rank, CountsAsDetected: o.Level.CountsAsDetected,
			LoggedAt: db.TimePtr(o.LoggedAt), AlertedAt: db.TimePtr(o.AlertedAt), PreventedAt: db.TimePtr(o.PreventedAt)}
	}
	return levels.Derive(db.TimePtr(r.StartedAt), db.TimePtr(r.ExecutedAt), cs)
}

// seconds is d in seconds (nil stays nil).
func seconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := d.Seconds()
	return &v
}

func errNoTest() error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such test in this mission.")
}

// InstantiateResult says what instantiating a scenario did.
type InstantiateResult struct {
	Scenario MissionScenario `json:"scenario"`
	TestIDs  []string        `json:"test_ids"`
	Skipped  []SkippedEntry  `json:"skipped"`
}

// SkippedEntry is a scenario entry that was not copied.
type SkippedEntry struct {
	Position       int    `json:"position"`
	TestTemplateID string `json:"test_template_id"`
	Name           string `json:"name"`
	Reason         string `json:"reason"`
}

// InstantiateScenario copies a scenario template into the mission: its
// tests in order, each with its tags. Entries whose template was deleted are
// skipped and reported.
func (s *Service) InstantiateScenario(ctx context.Context, c Caller, missionID, scenarioTemplateID string) (InstantiateResult, error) {
	var res InstantiateResult
	sc, err := s.templates.GetScenario(ctx, scenarioTemplateID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return res, &apperr.Invalid{Fields: map[string]string{"scenario_template_id": "is not a known scenario template"}}
		}
		return res, err
	}
	if sc.DeletedAt != nil {
		return res, &apperr.Invalid{Fields: map[string]string{"scenario_template_id": "is a deleted scenario template"}}
	}
	tpls := map[string]templates.Template{}
	res.Skipped = []SkippedEntry{}
	for _, e := range sc.Tests {
		if e.Deleted {
			res.Skipped = append(res.Skipped, SkippedEntry{Position: e.Position, TestTemplateID: e.TestTemplateID, Name: e.Name,
				Reason: "the test template is deleted"})
			continue
		}
		if _, ok := tpls[e.TestTemplateID]; !ok {
			t, err := s.templates.Get(ctx, e.TestTemplateID)
			if err != nil {
				return res, err
			}
			tpls[e.TestTemplateID] = t
		}
	}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := s.planning(ctx, tx, c, missionID); err != nil {
			return err
		}
		if err := s.db.LockForUpdate(ctx, tx, "missions", missionID); err != nil {
			return err
		}
		if err := s.checkCapacity(ctx, tx, missionID, len(sc.Tests)); err != nil {
			return err
		}
		var maxPos sql.NullInt64
		if err := tx.Select("MAX(position)").From("mission_scenarios").Where(dbx.HashExp{"mission_id": missionID}).WithContext(ctx).Row(&maxPos); err != nil {
			return err
		}
		ms := MissionScenario{ID: db.NewID(), ScenarioTemplateID: &sc.ID, Name: sc.Name, Description: sc.Description, Position: int(maxPos.Int64) + 1}
		if !maxPos.Valid {
			ms.Position = 0
		}
		if _, err := tx.Insert("mission_scenarios", dbx.Params{"id": ms.ID, "mission_id": missionID, "scenario_template_id": sc.ID,
			"name": ms.Name, "description": ms.Description, "position": ms.Position, "created_at": now, "updated_at": now}).
			WithContext(ctx).Execute(); err != nil {
			return err
		}
		pos, err := nextPosition(ctx, tx, missionID)
		if err != nil {
			return err
		}
		res.TestIDs = []string{}
		for _, e := range sc.Tests {
			if e.Deleted {
				continue
			}
			id, err := s.copyTemplate(ctx, tx, now, missionID, &ms.ID, nil, tpls[e.TestTemplateID], pos)
			if err != nil {
				return err
			}
			pos++
			res.TestIDs = append(res.TestIDs, id)
		}
		res.Scenario = ms
		if err := tally.TestsChanged(ctx, tx, missionID, res.TestIDs...); err != nil {
			return err
		}
		if err := s.touch(ctx, tx, now, missionID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.scenario_add", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"scenario_template_id": sc.ID, "mission_scenario_id": ms.ID, "tests": len(res.TestIDs), "skipped": len(res.Skipped)}})
	})
	return res, s.changed(ctx, c, err, notify.Event{Kind: "tests.changed", MissionID: missionID})
}

// Scenarios lists a mission's live scenarios.
func (s *Service) Scenarios(ctx context.Context, c Caller, missionID string) ([]MissionScenario, error) {
	if _, err := s.load(ctx, s.db.Read, c, missionID); err != nil {
		return nil, err
	}
	out := []MissionScenario{}
	err := s.db.Read.Select("id", "scenario_template_id", "name", "description", "position").From("mission_scenarios").
		Where(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}).OrderBy("position").WithContext(ctx).All(&out)
	return out, err
}

// DeleteScenario soft-deletes a mission scenario and its tests.
func (s *Service) DeleteScenario(ctx context.Context, c Caller, missionID, scenarioID string) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := s.planning(ctx, tx, c, missionID); err != nil {
			return err
		}
		if !db.ValidID(scenarioID) {
			return apperr.New(apperr.ErrNotFound, "not_found", "No such scenario in this mission.")
		}
		res, err := tx.Update("mission_scenarios", dbx.Params{"deleted_at": now, "updated_at": now},
			dbx.HashExp{"id": scenarioID, "mission_id": missionID, "deleted_at": nil}).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.ErrNotFound, "not_found", "No such scenario in this mission.")
		}
		if _, err := tx.Update("mission_tests", dbx.Params{"deleted_at": now, "updated_at": now},
			dbx.HashExp{"mission_scenario_id": scenarioID, "deleted_at": nil}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		if err := tally.RefreshMission(ctx, tx, missionID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.scenario_delete", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"mission_scenario_id": scenarioID}})
	})
	return s.changed(ctx, c, err, notify.Event{Kind: "tests.changed", MissionID: missionID})
}

// AddTestInput adds one test: from a template, or ad hoc.
type AddTestInput struct {
	TestTemplateID    string             `json:"test_template_id"`
	Name              string             `json:"name"`
	Description       string             `json:"description"`
	Objective         string             `json:"objective"`
	Executor          string             `json:"executor"`
	Command           string             `json:"command"`
	CleanupCommand    string             `json:"cleanup_command"`
	Platforms         []string           `json:"platforms"`
	ExpectedDetection string             `json:"expected_detection"`
	OpsecLevel        string             `json:"opsec_level"`
	MitreTags         []templates.TagRef `json:"mitre_tags"`
	CategoryID        *string            `json:"category_id"`
}

// AddTest adds a test from a template, or an ad-hoc test whose tags are
// resolved against the catalogue and copied.
func (s *Service) AddTest(ctx context.Context, c Caller, missionID string, in AddTestInput) (Test, error) {
	var tpl templates.Template
	if in.TestTemplateID != "" {
		t, err := s.templates.Get(ctx, in.TestTemplateID)
		if err != nil || t.DeletedAt != nil {
			return Test{}, &apperr.Invalid{Fields: map[string]string{"test_template_id": "is not a live test template"}}
		}
		tpl = t
	} else {
		// An ad-hoc test: validate like a template, without saving one.
		inp := templates.Input{Name: in.Name, Description: in.Description, Objective: in.Objective, Executor: in.Executor,
			Command: in.Command, CleanupCommand: in.CleanupCommand, Platforms: in.Platforms, ExpectedDetection: in.ExpectedDetection,
			OpsecLevel: in.OpsecLevel, MitreTags: in.MitreTags}
		t, err := s.templates.Preview(ctx, inp)
		if err != nil {
			return Test{}, err
		}
		tpl = t
	}
	var id string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := s.planning(ctx, tx, c, missionID); err != nil {
			return err
		}
		if err := s.db.LockForUpdate(ctx, tx, "missions", missionID); err != nil {
			return err
		}
		if err := s.checkCapacity(ctx, tx, missionID, 1); err != nil {
			return err
		}
		if err := s.checkCategory(ctx, tx, missionID, in.CategoryID); err != nil {
			return err
		}
		pos, err := nextPosition(ctx, tx, missionID)
		if err != nil {
			return err
		}
		id, err = s.copyTemplate(ctx, tx, now, missionID, nil, in.CategoryID, tpl, pos)
		if err != nil {
			return err
		}
		if err := tally.TestsChanged(ctx, tx, missionID, id); err != nil {
			return err
		}
		if err := s.touch(ctx, tx, now, missionID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.test_add", ObjectType: "mission_test", ObjectID: id,
			Details: map[string]any{"mission_id": missionID, "name": tpl.Name, "test_template_id": in.TestTemplateID}})
	})
	if err := s.changed(ctx, c, err, notify.Event{Kind: "test.added", MissionID: missionID, TestID: id, Version: 1}); err != nil {
		return Test{}, err
	}
	return s.GetTest(ctx, c, missionID, id)
}

// TestListParams filter the mission board.
type TestListParams struct {
	State      string
	CategoryID string
	ScenarioID string
	Tactic     string // TA0002 or execution
	Q          string
	db.PageParams
}

var states = map[string]bool{"pending": true, "in_progress": true, "executed": true, "assessed": true, "skipped": true}

// Tests lists a mission's tests in order, with tags and derived outcomes.
func (s *Service) Tests(ctx context.Context, c Caller, missionID string, p TestListParams) (db.Page[Test], error) {
	p.PageParams = p.PageParams.Normalize()
	if _, err := s.load(ctx, s.db.Read, c, missionID); err != nil {
		return db.Page[Test]{}, err
	}
	conds := []dbx.Expression{dbx.HashExp{"t.mission_id": missionID, "t.deleted_at": nil}}
	if p.State != "" {
		if !states[p.State] {
			return db.Page[Test]{}, apperr.BadRequest("invalid_query", "state must be pending, in_progress, executed, assessed or skipped.").
				WithDetails(map[string]any{"state": "invalid"})
		}
		conds = append(conds, dbx.HashExp{"t.state": p.State})
	}
	if p.CategoryID != "" {
		if p.CategoryID == "none" {
			conds = append(conds, dbx.NewExp("t.category_id IS NULL"))
		} else {
			conds = append(conds, dbx.HashExp{"t.category_id": p.CategoryID})
		}
	}
	if p.ScenarioID != "" {
		conds = append(conds, dbx.HashExp{"t.mission_scenario_id": p.ScenarioID})
	}
	if p.Tactic != "" {
		// The catalogue says what is "in" the tactic; the tests' tags are
		// copies of ATT&CK ids, matched against that list.
		exts, err := s.mitre.TacticExternalIDs(ctx, p.Tactic)
		if err != nil {
			return db.Page[Test]{}, err
		}
		in := make([]string, len(exts))
		params := dbx.Params{}
		for i, x := range exts {
			name := fmt.Sprintf("tactic%d", i)
			in[i], params[name] = "{:"+name+"}", x
		}
		conds = append(conds, dbx.NewExp(`t.id IN (SELECT g.mission_test_id FROM mission_test_mitre_tags g
			WHERE g.external_id IN (`+strings.Join(in, ", ")+`))`, params))
	}
	if q := db.Fold(p.Q); q != "" {
		conds = append(conds, dbx.NewExp(`t.name_fold LIKE {:q} ESCAPE '\'`, dbx.Params{"q": db.LikeContains(q)}))
	}
	where := dbx.And(conds...)
	var total int
	if err := s.db.Read.Select("COUNT(*)").From("mission_tests t").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Test]{}, err
	}
	var rows []testRow
	if err := s.db.Read.Select(prefixed("t.", testColumns)...).From("mission_tests t").Where(where).OrderBy("t.position").
		Limit(int64(p.PerPage)).Offset(p.Offset()).WithContext(ctx).All(&rows); err != nil {
		return db.Page[Test]{}, fmt.Errorf("missions: tests: %w", err)
	}
	items, err := s.render(ctx, s.db.Read, rows, false)
	if err != nil {
		return db.Page[Test]{}, err
	}
	return db.NewPage(items, total, p.PageParams), nil
}

// GetTest returns one test with its per-control outcomes.
func (s *Service) GetTest(ctx context.Context, c Caller, missionID, testID string) (Test, error) {
	if _, err := s.load(ctx, s.db.Read, c, missionID); err != nil {
		return Test{}, err
	}
	r, err := s.getTestRow(ctx, s.db.Read, missionID, testID)
	if err != nil {
		return Test{}, err
	}
	ts, err := s.render(ctx, s.db.Read, []testRow{r}, true)
	if err != nil {
		return Test{}, err
	}
	return ts[0], nil
}

// TestAccess reports the caller's role in the mission of a live test, for
// capabilities hanging off tests (evidence). Unknown or invisible → 404.
func (s *Service) TestAccess(ctx context.Context, c Caller, missionID, testID string) (role string, err error) {
	a, err := s.load(ctx, s.db.Read, c, missionID)
	if err != nil {
		return "", err
	}
	if _, err := s.getTestRow(ctx, s.db.Read, missionID, testID); err != nil {
		return "", err
	}
	return a.role, nil
}

// TestMission finds the mission of a test (evidence downloads know only the test).
func (s *Service) TestMission(ctx context.Context, testID string) (string, error) {
	var m string
	if !db.ValidID(testID) {
		return "", errNoTest()
	}
	err := s.db.Read.Select("mission_id").From("mission_tests").Where(dbx.HashExp{"id": testID}).WithContext(ctx).Row(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoTest()
	}
	return m, err
}

// Writable reports whether the mission accepts changes (not completed or
// archived): nil, or the 409 mission_read_only.
func (s *Service) Writable(ctx context.Context, c Caller, missionID string) error {
	a, err := s.load(ctx, s.db.Read, c, missionID)
	if err != nil {
		return err
	}
	return writable(a)
}

// ReorderTests sets the order of the mission's live tests: ids must list
// each of them exactly once. Positions are rewritten in two passes
// (negative, then final), so the unique key never sees a duplicate.
func (s *Service) ReorderTests(ctx context.Context, c Caller, missionID string, ids []string) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := s.planning(ctx, tx, c, missionID); err != nil {
			return err
		}
		if err := s.db.LockForUpdate(ctx, tx, "missions", missionID); err != nil {
			return err
		}
		var live []string
		if err := tx.Select("id").From("mission_tests").Where(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}).
			OrderBy("position").WithContext(ctx).Column(&live); err != nil {
			return err
		}
		liveSet := map[string]bool{}
		for _, id := range live {
			liveSet[id] = true
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !liveSet[id] || seen[id] {
				return &apperr.Invalid{Message: "test_ids must list every live test of the mission exactly once.",
					Fields: map[string]string{"test_ids": fmt.Sprintf("must list each live test once (%q is unknown or repeated)", text.Truncate(id, 40))}}
			}
			seen[id] = true
		}
		if len(ids) != len(live) {
			return &apperr.Invalid{Message: "test_ids must list every live test of the mission exactly once.",
				Fields: map[string]string{"test_ids": fmt.Sprintf("has %d ids, the mission has %d live tests", len(ids), len(live))}}
		}
		// The final positions are the live tests' current positions, sorted:
		// deleted tests keep theirs.
		var positions []int
		if err := tx.Select("position").From("mission_tests").Where(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}).
			OrderBy("position").WithContext(ctx).Column(&positions); err != nil {
			return err
		}
		if _, err := tx.NewQuery(`UPDATE mission_tests SET position = -1 - position WHERE mission_id = {:m} AND deleted_at IS NULL`).
			Bind(dbx.Params{"m": missionID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		for i, id := range ids {
			if _, err := tx.Update("mission_tests", dbx.Params{"position": positions[i]}, dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
		if err := s.touch(ctx, tx, now, missionID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.tests_reorder", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"before": live, "after": ids}})
	})
	return s.changed(ctx, c, err, notify.Event{Kind: "tests.reordered", MissionID: missionID})
}

// DeleteTest soft-deletes a test.
func (s *Service) DeleteTest(ctx context.Context, c Caller, missionID, testID string) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := s.planning(ctx, tx, c, missionID); err != nil {
			return err
		}
		r, err := s.getTestRow(ctx, tx, missionID, testID)
		if err != nil {
			return err
		}
		if _, err := tx.Update("mission_tests", dbx.Params{"deleted_at": now, "updated_at": now, "version": r.Version + 1},
			dbx.HashExp{"id": testID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		if err := tally.TestsChanged(ctx, tx, missionID, testID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.test_delete", ObjectType: "mission_test", ObjectID: testID,
			Details: map[string]any{"mission_id": missionID, "name": r.Name}})
	})
	return s.changed(ctx, c, err, notify.Event{Kind: "test.deleted", MissionID: missionID, TestID: testID})
}
