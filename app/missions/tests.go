package missions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/templates"
)

// MaxTestsPerMission bounds a mission.
const MaxTestsPerMission = 10_000

type testRow struct {
	ID                    string   `db:"id"`
	MissionID             string   `db:"mission_id"`
	MissionScenarioID     *string  `db:"mission_scenario_id"`
	TestTemplateID        *string  `db:"test_template_id"`
	CategoryID            *string  `db:"category_id"`
	Position              int      `db:"position"`
	Name                  string   `db:"name"`
	Description           string   `db:"description"`
	Objective             string   `db:"objective"`
	Executor              string   `db:"executor"`
	CommandTemplate       string   `db:"command_template"`
	CleanupCommand        string   `db:"cleanup_command"`
	PrerequisitesExecutor string   `db:"prerequisites_executor"`
	Prerequisites         db.JSON  `db:"prerequisites"`
	InputArguments        db.JSON  `db:"input_arguments"`
	ElevationRequired     bool     `db:"elevation_required"`
	Platforms             db.JSON  `db:"platforms"`
	ExpectedDetection     string   `db:"expected_detection"`
	OpsecLevel            string   `db:"opsec_level"`
	State                 string   `db:"state"`
	SkipReason            string   `db:"skip_reason"`
	AssignedRedUserID     *string  `db:"assigned_red_user_id"`
	AssignedBlueUserID    *string  `db:"assigned_blue_user_id"`
	Operator              string   `db:"operator"`
	StartedAt             *db.Time `db:"started_at"`
	FinishedAt            *db.Time `db:"finished_at"`
	SourceHost            string   `db:"source_host"`
	SourceIP              string   `db:"source_ip"`
	TargetHost            string   `db:"target_host"`
	TargetIP              string   `db:"target_ip"`
	Tool                  string   `db:"tool"`
	UserContext           string   `db:"user_context"`
	CommandRun            string   `db:"command_run"`
	Output                string   `db:"output"`
	ExecutionResult       *string  `db:"execution_result"`
	RedNotes              string   `db:"red_notes"`
	ExecutedAt            *db.Time `db:"executed_at"`
	BlueNotes             string   `db:"blue_notes"`
	OutcomeLevelID        *string  `db:"outcome_level_id"`
	DetectedAt            *db.Time `db:"detected_at"`
	AssessedAt            *db.Time `db:"assessed_at"`
	Version               int      `db:"version"`
	CreatedAt             db.Time  `db:"created_at"`
	UpdatedAt             db.Time  `db:"updated_at"`
	DeletedAt             *db.Time `db:"deleted_at"`
}

var testColumns = []string{"id", "mission_id", "mission_scenario_id", "test_template_id", "category_id", "position", "name",
	"description", "objective", "executor", "command_template", "cleanup_command", "prerequisites_executor", "prerequisites",
	"input_arguments", "elevation_required", "platforms", "expected_detection", "opsec_level", "state", "skip_reason",
	"assigned_red_user_id", "assigned_blue_user_id", "operator", "started_at", "finished_at", "source_host", "source_ip",
	"target_host", "target_ip", "tool", "user_context", "command_run", "output", "execution_result", "red_notes", "executed_at",
	"blue_notes", "outcome_level_id", "detected_at", "assessed_at", "version", "created_at", "updated_at", "deleted_at"}

func prefixed(p string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = p + c
	}
	return out
}

func (r testRow) test(levels map[string]Level) Test {
	// The times to detect are set by render, which has the outcomes.
	t := Test{ID: r.ID, MissionID: r.MissionID, MissionScenarioID: r.MissionScenarioID, TestTemplateID: r.TestTemplateID,
		CategoryID: r.CategoryID, Position: r.Position, Name: r.Name, Description: r.Description, Objective: r.Objective,
		Executor: r.Executor, CommandTemplate: r.CommandTemplate, CleanupCommand: r.CleanupCommand,
		PrerequisitesExecutor: r.PrerequisitesExecutor, Prerequisites: json.RawMessage(r.Prerequisites),
		InputArguments: json.RawMessage(r.InputArguments), ElevationRequired: r.ElevationRequired, Platforms: []string{},
		ExpectedDetection: r.ExpectedDetection, OpsecLevel: r.OpsecLevel, State: r.State, SkipReason: r.SkipReason,
		AssignedRedUserID: r.AssignedRedUserID, AssignedBlueUserID: r.AssignedBlueUserID, Operator: r.Operator,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, SourceHost: r.SourceHost, SourceIP: r.SourceIP, TargetHost: r.TargetHost,
		TargetIP: r.TargetIP, Tool: r.Tool, UserContext: r.UserContext, Command: r.CommandRun, Output: r.Output,
		ExecutionResult: r.ExecutionResult, RedNotes: r.RedNotes, ExecutedAt: r.ExecutedAt, BlueNotes: r.BlueNotes,
		DetectedAt: r.DetectedAt, AssessedAt: r.AssessedAt, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		MitreTags: []Tag{}}
	_ = json.Unmarshal(r.Platforms, &t.Platforms)
	if r.OutcomeLevelID != nil {
		if l, ok := levels[*r.OutcomeLevelID]; ok {
			t.Outcome = &l
		}
	}
	return t
}

// levelsByID returns the detection levels (from the levels service) by id,
// read through b.
func (s *Service) levelsByID(ctx context.Context, b dbx.Builder) (map[string]Level, error) {
	ls, err := s.levels.Ranked(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("missions: %w", err)
	}
	m := make(map[string]Level, len(ls))
	for _, l := range ls {
		m[l.ID] = Level{ID: l.ID, Key: l.Key, Name: l.Name, Rank: l.Rank, Color: l.Color, CountsAsDetected: l.CountsAsDetected}
	}
	return m, nil
}

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

func (s *Service) getTestRow(ctx context.Context, b dbx.Builder, missionID, testID string) (testRow, error) {
	var r testRow
	if !db.ValidID(testID) {
		return r, errNoTest()
	}
	err := b.Select(testColumns...).From("mission_tests").
		Where(dbx.HashExp{"id": testID, "mission_id": missionID, "deleted_at": nil}).WithContext(ctx).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errNoTest()
	}
	return r, err
}

// nextPosition returns the position after the mission's last test (deleted
// ones included: positions are unique per mission).
func nextPosition(ctx context.Context, tx *dbx.Tx, missionID string) (int, error) {
	var max sql.NullInt64
	if err := tx.Select("MAX(position)").From("mission_tests").Where(dbx.HashExp{"mission_id": missionID}).WithContext(ctx).Row(&max); err != nil {
		return 0, err
	}
	if !max.Valid {
		return 0, nil
	}
	return int(max.Int64) + 1, nil
}

// copyTemplate inserts a mission test copied from a template, with its
// ATT&CK tags denormalised (kind, id, name, url as the catalogue says now).
func (s *Service) copyTemplate(ctx context.Context, tx *dbx.Tx, now db.Time, missionID string, scenarioID, categoryID *string, tpl templates.Template, pos int) (string, error) {
	id := db.NewID()
	p := dbx.Params{"id": id, "mission_id": missionID, "mission_scenario_id": scenarioID, "test_template_id": nilIfEmpty(&tpl.ID),
		"category_id": categoryID, "position": pos, "name": tpl.Name, "name_fold": db.Fold(tpl.Name), "description": tpl.Description,
		"objective": tpl.Objective, "executor": tpl.Executor, "command_template": tpl.Command, "cleanup_command": tpl.CleanupCommand,
		"prerequisites_executor": tpl.PrerequisitesExecutor, "prerequisites": string(db.MustJSON(tpl.Prerequisites)),
		"input_arguments": string(db.MustJSON(tpl.InputArguments)), "elevation_required": tpl.ElevationRequired,
		"platforms": string(db.MustJSON(tpl.Platforms)), "expected_detection": tpl.ExpectedDetection, "opsec_level": tpl.OpsecLevel,
		"state": "pending", "version": 1, "created_at": now, "updated_at": now}
	if _, err := tx.Insert("mission_tests", p).WithContext(ctx).Execute(); err != nil {
		return "", fmt.Errorf("missions: copy template: %w", err)
	}
	for _, t := range tpl.MitreTags {
		if _, err := tx.Insert("mission_test_mitre_tags", dbx.Params{"id": db.NewID(), "mission_test_id": id, "kind": t.Kind,
			"external_id": t.ExternalID, "name": t.Name, "url": t.URL, "created_at": now}).WithContext(ctx).Execute(); err != nil {
			return "", fmt.Errorf("missions: copy tag %s: %w", t.ExternalID, err)
		}
	}
	return id, nil
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
			return res, &apperr.Invalid{Fields: map[string]string{"scenario_template_id": "no such scenario template"}}
		}
		return res, err
	}
	if sc.DeletedAt != nil {
		return res, &apperr.Invalid{Fields: map[string]string{"scenario_template_id": "this scenario template is deleted"}}
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
		if err := s.touch(ctx, tx, now, missionID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.scenario_add", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"scenario_template_id": sc.ID, "mission_scenario_id": ms.ID, "tests": len(res.TestIDs), "skipped": len(res.Skipped)}})
	})
	return res, err
}

func (s *Service) checkCapacity(ctx context.Context, tx *dbx.Tx, missionID string, adding int) error {
	var n int
	if err := tx.Select("COUNT(*)").From("mission_tests").Where(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}).WithContext(ctx).Row(&n); err != nil {
		return err
	}
	if n+adding > MaxTestsPerMission {
		return apperr.Unprocessable("too_many_tests", "A mission holds at most %d tests.", MaxTestsPerMission)
	}
	return nil
}

// touch bumps the mission's updated_at (missions are listed by activity).
func (s *Service) touch(ctx context.Context, tx *dbx.Tx, now db.Time, missionID string) error {
	_, err := tx.Update("missions", dbx.Params{"updated_at": now}, dbx.HashExp{"id": missionID}).WithContext(ctx).Execute()
	return err
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
	return s.db.Tx(ctx, func(tx *dbx.Tx) error {
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
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.scenario_delete", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"mission_scenario_id": scenarioID}})
	})
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
			return Test{}, &apperr.Invalid{Fields: map[string]string{"test_template_id": "no such live test template"}}
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
		if err := s.touch(ctx, tx, now, missionID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.test_add", ObjectType: "mission_test", ObjectID: id,
			Details: map[string]any{"mission_id": missionID, "name": tpl.Name, "test_template_id": in.TestTemplateID}})
	})
	if err != nil {
		return Test{}, err
	}
	return s.GetTest(ctx, c, missionID, id)
}

func (s *Service) checkCategory(ctx context.Context, b dbx.Builder, missionID string, id *string) error {
	if id == nil || *id == "" {
		return nil
	}
	if !db.ValidID(*id) {
		return &apperr.Invalid{Fields: map[string]string{"category_id": "no such category in this mission"}}
	}
	var n int
	if err := b.Select("COUNT(*)").From("mission_categories").Where(dbx.HashExp{"id": *id, "mission_id": missionID, "deleted_at": nil}).
		WithContext(ctx).Row(&n); err != nil {
		return err
	}
	if n == 0 {
		return &apperr.Invalid{Fields: map[string]string{"category_id": "no such category in this mission"}}
	}
	return nil
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
		tactics, err := s.mitre.Tactics(ctx, true)
		if err != nil {
			return db.Page[Test]{}, err
		}
		var taID, taExt string
		for _, ta := range tactics {
			if strings.EqualFold(ta.ExternalID, p.Tactic) || strings.EqualFold(ta.Shortname, p.Tactic) {
				taID, taExt = ta.ID, ta.ExternalID
			}
		}
		if taID == "" {
			return db.Page[Test]{}, apperr.New(apperr.ErrUnprocessable, "unknown_tactic", "No tactic %q in the ATT&CK catalogue.", p.Tactic).
				WithDetails(map[string]any{"tactic": "unknown"})
		}
		conds = append(conds, dbx.NewExp(`t.id IN (SELECT g.mission_test_id FROM mission_test_mitre_tags g WHERE g.external_id = {:taext}
			OR g.external_id IN (SELECT mt.external_id FROM mitre_techniques mt JOIN mitre_technique_tactics l ON l.technique_id = mt.id WHERE l.tactic_id = {:taid})
			OR g.external_id IN (SELECT ms.external_id FROM mitre_subtechniques ms JOIN mitre_technique_tactics l ON l.technique_id = ms.technique_id WHERE l.tactic_id = {:taid}))`,
			dbx.Params{"taext": taExt, "taid": taID}))
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

// render turns rows into tests with tags, outcome, times to detect and
// evidence counts (and per-control outcomes when detail is true).
func (s *Service) render(ctx context.Context, b dbx.Builder, rows []testRow, detail bool) ([]Test, error) {
	out := make([]Test, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	lv, err := s.levelsByID(ctx, b)
	if err != nil {
		return nil, err
	}
	ids := make([]any, len(rows))
	idx := map[string]int{}
	for i, r := range rows {
		out[i] = r.test(lv)
		ids[i] = r.ID
		idx[r.ID] = i
	}
	var tags []Tag
	if err := b.Select("mission_test_id", "kind", "external_id", "name", "url").From("mission_test_mitre_tags").
		Where(dbx.In("mission_test_id", ids...)).OrderBy("kind", "external_id").WithContext(ctx).All(&tags); err != nil {
		return nil, fmt.Errorf("missions: tags: %w", err)
	}
	for _, t := range tags {
		out[idx[t.TestID]].MitreTags = append(out[idx[t.TestID]].MitreTags, t)
	}
	var ev []struct {
		TestID string `db:"mission_test_id"`
		N      int    `db:"n"`
	}
	if err := b.Select("mission_test_id", "COUNT(*) AS n").From("evidence_files").
		Where(dbx.And(dbx.In("mission_test_id", ids...), dbx.NewExp("deleted_at IS NULL"))).GroupBy("mission_test_id").
		WithContext(ctx).All(&ev); err != nil {
		return nil, fmt.Errorf("missions: evidence counts: %w", err)
	}
	for _, e := range ev {
		out[idx[e.TestID]].EvidenceCount = e.N
	}
	os, err := s.outcomes(ctx, b, ids, lv)
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		list := os[r.ID]
		d := derive(r, list)
		t := &out[i]
		for j := range list {
			ct := d.Controls[j]
			list[j].TimeToLogS, list[j].TimeToAlertS, list[j].TimeToPreventS = seconds(ct.ToLog), seconds(ct.ToAlert), seconds(ct.ToPrevent)
		}
		t.TimeToLogS, t.TimeToAlertS, t.TimeToPreventS = seconds(d.Overall.ToLog), seconds(d.Overall.ToAlert), seconds(d.Overall.ToPrevent)
		t.TimeToDetectSeconds = seconds(d.ToDetect)
		if detail {
			t.Outcomes = list
			if t.Outcomes == nil {
				t.Outcomes = []Outcome{}
			}
		}
	}
	return out, nil
}

type outcomeRow struct {
	TestID      string   `db:"mission_test_id"`
	Control     string   `db:"control"`
	Expected    bool     `db:"expected"`
	LevelID     string   `db:"detection_level_id"`
	LoggedAt    *db.Time `db:"logged_at"`
	AlertedAt   *db.Time `db:"alerted_at"`
	PreventedAt *db.Time `db:"prevented_at"`
	AlertName   string   `db:"alert_name"`
	Notes       string   `db:"notes"`
	AssessedBy  *string  `db:"assessed_by"`
	UpdatedAt   db.Time  `db:"updated_at"`
}

func (s *Service) outcomes(ctx context.Context, b dbx.Builder, ids []any, lv map[string]Level) (map[string][]Outcome, error) {
	var rows []outcomeRow
	if err := b.Select("mission_test_id", "control", "expected", "detection_level_id", "logged_at", "alerted_at", "prevented_at",
		"alert_name", "notes", "assessed_by", "updated_at").From("mission_test_outcomes").Where(dbx.In("mission_test_id", ids...)).
		OrderBy("control").WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("missions: outcomes: %w", err)
	}
	out := map[string][]Outcome{}
	for _, r := range rows {
		out[r.TestID] = append(out[r.TestID], Outcome{Control: r.Control, Expected: r.Expected, Level: lv[r.LevelID],
			LoggedAt: r.LoggedAt, AlertedAt: r.AlertedAt, PreventedAt: r.PreventedAt, AlertName: r.AlertName, Notes: r.Notes,
			AssessedBy: r.AssessedBy, UpdatedAt: r.UpdatedAt})
	}
	return out, nil
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

// Writable reports whether the mission accepts changes (not archived).
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
	return s.db.Tx(ctx, func(tx *dbx.Tx) error {
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
					Fields: map[string]string{"test_ids": fmt.Sprintf("%q is unknown or repeated", truncate(id, 40))}}
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
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// DeleteTest soft-deletes a test.
func (s *Service) DeleteTest(ctx context.Context, c Caller, missionID, testID string) error {
	return s.db.Tx(ctx, func(tx *dbx.Tx) error {
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
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.test_delete", ObjectType: "mission_test", ObjectID: testID,
			Details: map[string]any{"mission_id": missionID, "name": r.Name}})
	})
}
