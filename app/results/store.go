package results

import (
	"context"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// The results read model: narrow, read-only queries over the mission tables
// (owned by app/missions) and the aggregates (owned by app/tally). Access
// rules are not here: the service checks them through app/missions first.

func (s *Service) levels(ctx context.Context, b dbx.Builder) ([]Level, error) {
	var ls []Level
	if err := b.Select("id", "key", "name", "rank", "color", "counts_as_detected").From("detection_levels").
		OrderBy("rank").WithContext(ctx).All(&ls); err != nil {
		return nil, fmt.Errorf("results: levels: %w", err)
	}
	return ls, nil
}

// testRow is what the results page needs of a test; the report reads the
// remaining columns into reportRow.
type testRow struct {
	ID                string   `db:"id"`
	Position          int      `db:"position"`
	Name              string   `db:"name"`
	State             string   `db:"state"`
	OutcomeLevelID    *string  `db:"outcome_level_id"`
	StartedAt         *db.Time `db:"started_at"`
	ExecutedAt        *db.Time `db:"executed_at"`
	AssessedAt        *db.Time `db:"assessed_at"`
	CategoryID        *string  `db:"category_id"`
	MissionScenarioID *string  `db:"mission_scenario_id"`
}

var testCols = []string{"id", "position", "name", "state", "outcome_level_id", "started_at", "executed_at", "assessed_at",
	"category_id", "mission_scenario_id"}

type tagRow struct {
	TestID     string `db:"mission_test_id"`
	Kind       string `db:"kind"`
	ExternalID string `db:"external_id"`
	Name       string `db:"name"`
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
}

// liveTests is the subquery of a mission's live test ids.
const liveTests = `SELECT id FROM mission_tests WHERE mission_id = {:m} AND deleted_at IS NULL`

func (s *Service) missionTests(ctx context.Context, b dbx.Builder, missionID string) ([]testRow, error) {
	var rows []testRow
	if err := b.Select(testCols...).From("mission_tests").Where(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}).
		OrderBy("position").WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: tests: %w", err)
	}
	return rows, nil
}

func (s *Service) missionTags(ctx context.Context, b dbx.Builder, missionID string) ([]tagRow, error) {
	var rows []tagRow
	if err := b.NewQuery(`SELECT mission_test_id, kind, external_id, name FROM mission_test_mitre_tags
		WHERE mission_test_id IN (` + liveTests + `) ORDER BY external_id`).Bind(dbx.Params{"m": missionID}).
		WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: tags: %w", err)
	}
	return rows, nil
}

// missionOutcomes reads the per-control outcomes; their notes only for the
// reports.
func (s *Service) missionOutcomes(ctx context.Context, b dbx.Builder, missionID string, notes bool) ([]outcomeRow, error) {
	var rows []outcomeRow
	notesCol := "'' AS notes"
	if notes {
		notesCol = "notes"
	}
	if err := b.NewQuery(`SELECT mission_test_id, control, expected, detection_level_id, logged_at, alerted_at, prevented_at,
		alert_name, ` + notesCol + ` FROM mission_test_outcomes WHERE mission_test_id IN (` + liveTests + `) ORDER BY control`).
		Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: outcomes: %w", err)
	}
	return rows, nil
}

// reportRow holds the remaining columns of a test for the reports.
type reportRow struct {
	ID                string   `db:"id"`
	Description       string   `db:"description"`
	Objective         string   `db:"objective"`
	Executor          string   `db:"executor"`
	CommandTemplate   string   `db:"command_template"`
	ExpectedDetection string   `db:"expected_detection"`
	OpsecLevel        string   `db:"opsec_level"`
	Platforms         db.JSON  `db:"platforms"`
	SkipReason        string   `db:"skip_reason"`
	Operator          string   `db:"operator"`
	FinishedAt        *db.Time `db:"finished_at"`
	SourceHost        string   `db:"source_host"`
	SourceIP          string   `db:"source_ip"`
	TargetHost        string   `db:"target_host"`
	TargetIP          string   `db:"target_ip"`
	Tool              string   `db:"tool"`
	UserContext       string   `db:"user_context"`
	CommandRun        string   `db:"command_run"`
	Output            string   `db:"output"`
	ExecutionResult   *string  `db:"execution_result"`
	RedNotes          string   `db:"red_notes"`
	BlueNotes         string   `db:"blue_notes"`
	DetectedAt        *db.Time `db:"detected_at"`
	Category          *string  `db:"category"`
	Scenario          *string  `db:"scenario"`
	AssignedRed       *string  `db:"assigned_red"`
	AssignedBlue      *string  `db:"assigned_blue"`
	Version           int      `db:"version"`
	CreatedAt         db.Time  `db:"created_at"`
	UpdatedAt         db.Time  `db:"updated_at"`
}

func (s *Service) reportRows(ctx context.Context, b dbx.Builder, missionID string) (map[string]reportRow, error) {
	var rows []reportRow
	if err := b.NewQuery(`SELECT t.id, t.description, t.objective, t.executor, t.command_template, t.expected_detection,
		t.opsec_level, t.platforms, t.skip_reason, t.operator, t.finished_at, t.source_host, t.source_ip, t.target_host,
		t.target_ip, t.tool, t.user_context, t.command_run, t.output, t.execution_result, t.red_notes, t.blue_notes,
		t.detected_at, c.name AS category, sc.name AS scenario, ur.name AS assigned_red, ub.name AS assigned_blue,
		t.version, t.created_at, t.updated_at
		FROM mission_tests t
		LEFT JOIN mission_categories c ON c.id = t.category_id
		LEFT JOIN mission_scenarios sc ON sc.id = t.mission_scenario_id
		LEFT JOIN users ur ON ur.id = t.assigned_red_user_id
		LEFT JOIN users ub ON ub.id = t.assigned_blue_user_id
		WHERE t.mission_id = {:m} AND t.deleted_at IS NULL`).Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: report rows: %w", err)
	}
	out := make(map[string]reportRow, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

type evidenceRow struct {
	ID          string  `db:"id" json:"id"`
	TestID      string  `db:"mission_test_id" json:"-"`
	Side        string  `db:"side" json:"side"`
	Filename    string  `db:"original_filename" json:"filename"`
	ContentType string  `db:"content_type" json:"content_type"`
	Size        int64   `db:"size" json:"size"`
	SHA256      string  `db:"sha256" json:"sha256"`
	Caption     string  `db:"caption" json:"caption"`
	UploadedBy  *string `db:"uploaded_by_name" json:"uploaded_by"`
	CreatedAt   db.Time `db:"created_at" json:"uploaded_at"`
}

func (s *Service) missionEvidence(ctx context.Context, b dbx.Builder, missionID string) ([]evidenceRow, error) {
	var rows []evidenceRow
	if err := b.NewQuery(`SELECT e.id, e.mission_test_id, e.side, e.original_filename, e.content_type, e.size, e.sha256,
		e.caption, u.name AS uploaded_by_name, e.created_at
		FROM evidence_files e LEFT JOIN users u ON u.id = e.uploaded_by
		WHERE e.deleted_at IS NULL AND e.mission_test_id IN (` + liveTests + `) ORDER BY e.created_at, e.id`).
		Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: evidence: %w", err)
	}
	return rows, nil
}

type memberRow struct {
	Name  string `db:"name" json:"name"`
	Email string `db:"email" json:"email"`
	Role  string `db:"role" json:"role"`
}

func (s *Service) missionMembers(ctx context.Context, b dbx.Builder, missionID string) ([]memberRow, error) {
	var rows []memberRow
	if err := b.NewQuery(`SELECT u.name, u.email, m.role FROM mission_members m JOIN users u ON u.id = m.user_id
		WHERE m.mission_id = {:m} ORDER BY m.role, u.name`).Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: members: %w", err)
	}
	return rows, nil
}

// placeholders binds xs as {:prefixN} parameters.
func placeholders(prefix string, xs []string, p dbx.Params) string {
	ph := make([]string, len(xs))
	for i, x := range xs {
		k := fmt.Sprintf("%s%d", prefix, i)
		p[k] = x
		ph[i] = "{:" + k + "}"
	}
	return strings.Join(ph, ", ")
}
