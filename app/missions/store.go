package missions

// Mission and mission-test rows and the queries the rules share: loading
// and writing tests, rendering them with tags, outcomes and evidence
// counts, progress counts, positions and capacity. The rules (who may do
// what, the workflow) are in service.go, tests.go and workflow.go.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/purplebook/purplebook/app/templates"
)

type missionRow struct {
	ID          string   `db:"id"`
	Name        string   `db:"name"`
	Description string   `db:"description"`
	Status      string   `db:"status"`
	StartsOn    *string  `db:"starts_on"`
	EndsOn      *string  `db:"ends_on"`
	Version     int      `db:"version"`
	CreatedBy   *string  `db:"created_by"`
	CreatedAt   db.Time  `db:"created_at"`
	UpdatedAt   db.Time  `db:"updated_at"`
	DeletedAt   *db.Time `db:"deleted_at"`
}

var missionColumns = []string{"id", "name", "description", "status", "starts_on", "ends_on", "version", "created_by",
	"created_at", "updated_at", "deleted_at"}

func nilIfEmpty(s *string) any {
	if s == nil || *s == "" {
		return nil
	}
	return *s
}

func (s *Service) withProgress(ctx context.Context, rows []missionRow, roles map[string]string) ([]Mission, error) {
	out := make([]Mission, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]any, len(rows))
	idx := map[string]int{}
	for i, r := range rows {
		ids[i] = r.ID
		idx[r.ID] = i
		out[i] = Mission{ID: r.ID, Name: r.Name, Description: r.Description, Status: r.Status, StartsOn: r.StartsOn, EndsOn: r.EndsOn,
			Version: r.Version, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, MyRole: roles[r.ID],
			Progress: Progress{ByState: map[string]int{"pending": 0, "in_progress": 0, "executed": 0, "assessed": 0, "skipped": 0},
				Outcomes: map[string]int{}}}
	}
	var counts []struct {
		MissionID string  `db:"mission_id"`
		State     string  `db:"state"`
		LevelID   *string `db:"outcome_level_id"`
		N         int     `db:"n"`
	}
	err := s.db.Read.NewQuery(`SELECT t.mission_id, t.state, t.outcome_level_id, COUNT(*) AS n
		FROM mission_tests t
		WHERE t.deleted_at IS NULL AND t.mission_id IN (` + placeholders(len(ids)) + `)
		GROUP BY t.mission_id, t.state, t.outcome_level_id`).Bind(bindList(ids)).WithContext(ctx).All(&counts)
	if err != nil {
		return nil, fmt.Errorf("missions: progress: %w", err)
	}
	lv, err := s.levelsByID(ctx, s.db.Read)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		p := &out[idx[c.MissionID]].Progress
		p.Total += c.N
		p.ByState[c.State] += c.N
		if c.LevelID != nil {
			if l, ok := lv[*c.LevelID]; ok {
				p.Outcomes[l.Key] += c.N
			}
		}
	}
	return out, nil
}

func placeholders(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("{:p%d}", i)
	}
	return strings.Join(parts, ", ")
}

func bindList(xs []any) dbx.Params {
	p := dbx.Params{}
	for i, x := range xs {
		p[fmt.Sprintf("p%d", i)] = x
	}
	return p
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *Service) memberIDs(ctx context.Context, b dbx.Builder, missionID string, roles ...string) ([]string, error) {
	var ids []string
	q := b.Select("user_id").From("mission_members").Where(dbx.HashExp{"mission_id": missionID})
	if len(roles) > 0 {
		rs := make([]any, len(roles))
		for i, r := range roles {
			rs[i] = r
		}
		q = q.AndWhere(dbx.In("role", rs...))
	}
	err := q.WithContext(ctx).Column(&ids)
	return ids, err
}

// keepALead refuses to remove or demote the last lead.
func (s *Service) keepALead(ctx context.Context, tx *dbx.Tx, missionID, userID string) error {
	var others int
	if err := tx.NewQuery(`SELECT COUNT(*) FROM mission_members WHERE mission_id = {:m} AND role = 'lead' AND user_id <> {:u}`).
		Bind(dbx.Params{"m": missionID, "u": userID}).WithContext(ctx).Row(&others); err != nil {
		return err
	}
	if others == 0 {
		return apperr.New(apperr.ErrConflict, "last_lead", "A mission needs at least one lead; make someone else lead first.")
	}
	return nil
}

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
	ArgumentValues        db.JSON  `db:"argument_values"`
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
	"input_arguments", "argument_values", "elevation_required", "platforms", "expected_detection", "opsec_level", "state", "skip_reason",
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
		PrerequisitesExecutor: r.PrerequisitesExecutor, ElevationRequired: r.ElevationRequired, Platforms: []string{},
		ExpectedDetection: r.ExpectedDetection, OpsecLevel: r.OpsecLevel, State: r.State, SkipReason: r.SkipReason,
		AssignedRedUserID: r.AssignedRedUserID, AssignedBlueUserID: r.AssignedBlueUserID, Operator: r.Operator,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, SourceHost: r.SourceHost, SourceIP: r.SourceIP, TargetHost: r.TargetHost,
		TargetIP: r.TargetIP, Tool: r.Tool, UserContext: r.UserContext, Command: r.CommandRun, Output: r.Output,
		ExecutionResult: r.ExecutionResult, RedNotes: r.RedNotes, ExecutedAt: r.ExecutedAt, BlueNotes: r.BlueNotes,
		DetectedAt: r.DetectedAt, AssessedAt: r.AssessedAt, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		MitreTags: []Tag{}}
	_ = json.Unmarshal(r.Platforms, &t.Platforms)
	t.Prerequisites, t.InputArguments, t.ArgumentValues = r.atomic()
	t.Rendered = render(t.CommandTemplate, t.CleanupCommand, t.Prerequisites, t.InputArguments, t.ArgumentValues)
	if r.OutcomeLevelID != nil {
		if l, ok := levels[*r.OutcomeLevelID]; ok {
			t.Outcome = &l
		}
	}
	return t
}

// atomic decodes the Atomic parts of a row (never nil: empty lists and map).
func (r testRow) atomic() ([]templates.Prerequisite, []templates.InputArgument, map[string]string) {
	pre, args, vals := []templates.Prerequisite{}, []templates.InputArgument{}, map[string]string{}
	_ = json.Unmarshal(r.Prerequisites, &pre)
	_ = json.Unmarshal(r.InputArguments, &args)
	_ = json.Unmarshal(r.ArgumentValues, &vals)
	if pre == nil {
		pre = []templates.Prerequisite{}
	}
	if args == nil {
		args = []templates.InputArgument{}
	}
	if vals == nil {
		vals = map[string]string{}
	}
	return pre, args, vals
}

// render substitutes the argument values into the commands.
func render(command, cleanup string, pre []templates.Prerequisite, args []templates.InputArgument, vals map[string]string) Rendered {
	out := Rendered{Prerequisites: make([]templates.Prerequisite, len(pre)), Unfilled: []string{}}
	seen := map[string]bool{}
	add := func(names []string) {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out.Unfilled = append(out.Unfilled, n)
			}
		}
	}
	sub := func(text string) string {
		s, unfilled := templates.Render(text, args, vals)
		add(unfilled)
		return s
	}
	out.Command = sub(command)
	out.CleanupCommand = sub(cleanup)
	for i, p := range pre {
		out.Prerequisites[i] = templates.Prerequisite{Description: p.Description, PrereqCommand: sub(p.PrereqCommand),
			GetPrereqCommand: sub(p.GetPrereqCommand)}
	}
	return out
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

func (s *Service) checkCategory(ctx context.Context, b dbx.Builder, missionID string, id *string) error {
	if id == nil || *id == "" {
		return nil
	}
	if !db.ValidID(*id) {
		return &apperr.Invalid{Fields: map[string]string{"category_id": "is not a category of this mission"}}
	}
	var n int
	if err := b.Select("COUNT(*)").From("mission_categories").Where(dbx.HashExp{"id": *id, "mission_id": missionID, "deleted_at": nil}).
		WithContext(ctx).Row(&n); err != nil {
		return err
	}
	if n == 0 {
		return &apperr.Invalid{Fields: map[string]string{"category_id": "is not a category of this mission"}}
	}
	return nil
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

func (s *Service) writeTest(ctx context.Context, tx *dbx.Tx, r testRow) error {
	_, err := tx.Update("mission_tests", dbx.Params{
		"name": r.Name, "name_fold": db.Fold(r.Name), "description": r.Description, "objective": r.Objective,
		"expected_detection": r.ExpectedDetection, "category_id": r.CategoryID, "state": r.State, "skip_reason": r.SkipReason,
		"assigned_red_user_id": r.AssignedRedUserID, "assigned_blue_user_id": r.AssignedBlueUserID, "operator": r.Operator,
		"started_at": r.StartedAt, "finished_at": r.FinishedAt, "source_host": r.SourceHost, "source_ip": r.SourceIP,
		"target_host": r.TargetHost, "target_ip": r.TargetIP, "tool": r.Tool, "user_context": r.UserContext,
		"command_run": r.CommandRun, "output": r.Output, "argument_values": r.ArgumentValues, "execution_result": r.ExecutionResult, "red_notes": r.RedNotes,
		"executed_at": r.ExecutedAt, "blue_notes": r.BlueNotes, "outcome_level_id": r.OutcomeLevelID, "detected_at": r.DetectedAt,
		"assessed_at": r.AssessedAt, "version": r.Version, "updated_at": r.UpdatedAt,
	}, dbx.HashExp{"id": r.ID}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("missions: save test: %w", err)
	}
	return nil
}

// changed publishes ev to the members' live streams when err is nil (the
// change committed) and returns err: `return s.changed(ctx, c, s.db.Tx(…), ev)`.
// Events are hints (notify.Event): when the member list cannot be read the
// event is dropped and open views catch up at their next reload.
func (s *Service) changed(ctx context.Context, c Caller, err error, ev notify.Event) error {
	if err != nil || s.notify == nil {
		return err
	}
	ids, qerr := s.listeners(ctx, s.db.Read, ev.MissionID)
	if qerr != nil {
		return nil
	}
	s.publish(c, ids, ev)
	return nil
}

// listeners are the mission's members to tell of a change, read only when
// somebody listens at all (the query is most of a small write's cost
// otherwise).
func (s *Service) listeners(ctx context.Context, b dbx.Builder, missionID string) ([]string, error) {
	if s.notify == nil || !s.notify.Listening() {
		return nil, nil
	}
	return s.memberIDs(ctx, b, missionID)
}

// publish tells the listening members of a committed change.
func (s *Service) publish(c Caller, ids []string, ev notify.Event) {
	if s.notify == nil || len(ids) == 0 {
		return
	}
	ev.ActorID = c.UserID
	s.notify.Publish(ids, ev)
}

// TestChanged tells the mission's open views that a test changed outside
// this service (evidence added or removed).
func (s *Service) TestChanged(ctx context.Context, c Caller, missionID, testID string) {
	_ = s.changed(ctx, c, nil, notify.Event{Kind: "test.updated", MissionID: missionID, TestID: testID})
}

// openTests counts a mission's live tests that are not finished: pending,
// in progress, and executed (awaiting assessment).
func openTests(ctx context.Context, b dbx.Builder, missionID string) (map[string]int, error) {
	out := map[string]int{"pending": 0, "in_progress": 0, "executed": 0}
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := b.Select("state", "COUNT(*) AS n").From("mission_tests").
		Where(dbx.And(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}, dbx.In("state", "pending", "in_progress", "executed"))).
		GroupBy("state").WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("missions: open tests: %w", err)
	}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}
