// Package missions is the engagement itself: missions with members, the
// scenarios and tests instantiated into them, the red/blue workflow with
// per-control outcomes, categories, and the notifications it causes.
package missions

import (
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/templates"
)

// Caller is who acts: the user, their permissions, and how they appear in
// the audit log. The HTTP layer builds it from the authenticated principal.
type Caller struct {
	UserID string
	Can    func(perm string) bool
	Actor  audit.Actor
}

// by is who acted, as notification payloads name them: "by" the display
// name (the e-mail when the account has none), "by_email", "by_user_id".
func (c Caller) by() map[string]any {
	name := c.Actor.Name
	if name == "" {
		name = c.Actor.Label
	}
	return map[string]any{"by": name, "by_email": c.Actor.Label, "by_user_id": c.UserID}
}

// with returns p with the entries of q added.
func with(p, q map[string]any) map[string]any {
	for k, v := range q {
		p[k] = v
	}
	return p
}

// Mission statuses and member roles.
const (
	StatusPlanned   = "planned"
	StatusActive    = "active"
	StatusCompleted = "completed"
	StatusArchived  = "archived"

	RoleLead   = "lead"
	RoleRed    = "red"
	RoleBlue   = "blue"
	RoleViewer = "viewer"
)

// transitions lists the allowed status changes: forward through the
// lifecycle, plus reopening a completed mission and unarchiving.
var transitions = map[string][]string{
	StatusPlanned:   {StatusActive},
	StatusActive:    {StatusCompleted},
	StatusCompleted: {StatusArchived, StatusActive},
	StatusArchived:  {StatusCompleted},
}

// Mission is an engagement.
type Mission struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Status      string   `json:"status"`
	StartsOn    *string  `json:"starts_on"`
	EndsOn      *string  `json:"ends_on"`
	Version     int      `json:"version"`
	CreatedBy   *string  `json:"created_by"`
	CreatedAt   db.Time  `json:"created_at"`
	UpdatedAt   db.Time  `json:"updated_at"`
	MyRole      string   `json:"my_role"` // the caller's role ("" when not a member)
	Progress    Progress `json:"progress"`
}

// Progress summarises a mission's tests.
type Progress struct {
	Total    int            `json:"total"`
	ByState  map[string]int `json:"by_state"`
	Outcomes map[string]int `json:"outcomes"` // detection level key → tests
}

// MissionInput creates a mission.
type MissionInput struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	StartsOn    *string `json:"starts_on"`
	EndsOn      *string `json:"ends_on"`
}

// MissionUpdate patches a mission.
type MissionUpdate struct {
	Name        patch.Field[string] `json:"name"`
	Description patch.Field[string] `json:"description"`
	Status      patch.Field[string] `json:"status"`
	StartsOn    patch.Field[string] `json:"starts_on"`
	EndsOn      patch.Field[string] `json:"ends_on"`
	Version     patch.Field[int]    `json:"version"`
}

// Member is a user in a mission.
type Member struct {
	UserID string  `json:"user_id" db:"user_id"`
	Email  string  `json:"email" db:"email"`
	Name   string  `json:"name" db:"name"`
	Role   string  `json:"role" db:"role"`
	Since  db.Time `json:"since" db:"created_at"`
}

// Category groups tests within a mission.
type Category struct {
	ID       string `json:"id" db:"id"`
	Name     string `json:"name" db:"name"`
	Color    string `json:"color" db:"color"`
	Position int    `json:"position" db:"position"`
}

// MissionScenario is a scenario instantiated into a mission.
type MissionScenario struct {
	ID                 string  `json:"id" db:"id"`
	ScenarioTemplateID *string `json:"scenario_template_id" db:"scenario_template_id"`
	Name               string  `json:"name" db:"name"`
	Description        string  `json:"description" db:"description"`
	Position           int     `json:"position" db:"position"`
}

// Tag is a denormalised ATT&CK tag of a mission test: a copy made when the
// test was created, never rewritten by a catalogue sync.
type Tag struct {
	Kind       string `json:"kind" db:"kind"`
	ExternalID string `json:"external_id" db:"external_id"`
	Name       string `json:"name" db:"name"`
	URL        string `json:"url" db:"url"`
	TestID     string `json:"-" db:"mission_test_id"`
}

// Level is a detection level as rendered in tests.
type Level struct {
	ID               string `json:"id" db:"id"`
	Key              string `json:"key" db:"key"`
	Name             string `json:"name" db:"name"`
	Rank             int    `json:"rank" db:"rank"`
	Color            string `json:"color" db:"color"`
	CountsAsDetected bool   `json:"counts_as_detected" db:"counts_as_detected"`
}

// Outcome is one security control's result for a test.
type Outcome struct {
	Control     string   `json:"control"`
	Expected    bool     `json:"expected"`
	Level       Level    `json:"level"`
	LoggedAt    *db.Time `json:"logged_at"`
	AlertedAt   *db.Time `json:"alerted_at"`
	PreventedAt *db.Time `json:"prevented_at"`
	AlertName   string   `json:"alert_name"`
	Notes       string   `json:"notes"`
	AssessedBy  *string  `json:"assessed_by"`
	UpdatedAt   db.Time  `json:"updated_at"`
	// Seconds from the execution start to this control's logged_at,
	// alerted_at and prevented_at; null unless the time is recorded, the
	// level counts as detected and a start is known (levels.Derive).
	TimeToLogS     *float64 `json:"time_to_log_s" doc:"seconds from the execution start to logged_at; null unless recorded, detected and a start is known"`
	TimeToAlertS   *float64 `json:"time_to_alert_s" doc:"seconds from the execution start to alerted_at; null unless recorded, detected and a start is known"`
	TimeToPreventS *float64 `json:"time_to_prevent_s" doc:"seconds from the execution start to prevented_at; null unless recorded, detected and a start is known"`
}

// Rendered is a test's commands with its argument values substituted
// (templates.Render): what red runs.
type Rendered struct {
	Command        string                   `json:"command"`
	CleanupCommand string                   `json:"cleanup_command"`
	Prerequisites  []templates.Prerequisite `json:"prerequisites"`
	// Unfilled names the arguments that have neither a value nor a default:
	// their #{name} is still in the text.
	Unfilled []string `json:"unfilled"`
}

// Test is a mission test.
type Test struct {
	ID                    string                    `json:"id"`
	MissionID             string                    `json:"mission_id"`
	MissionScenarioID     *string                   `json:"mission_scenario_id"`
	TestTemplateID        *string                   `json:"test_template_id"`
	CategoryID            *string                   `json:"category_id"`
	Position              int                       `json:"position"`
	Name                  string                    `json:"name"`
	Description           string                    `json:"description"`
	Objective             string                    `json:"objective"`
	Executor              string                    `json:"executor"`
	CommandTemplate       string                    `json:"command_template"`
	CleanupCommand        string                    `json:"cleanup_command"`
	PrerequisitesExecutor string                    `json:"prerequisites_executor"`
	Prerequisites         []templates.Prerequisite  `json:"prerequisites"`
	InputArguments        []templates.InputArgument `json:"input_arguments"`
	// ArgumentValues are red's values for the input arguments (name →
	// value; a missing or empty value means the default). Rendered is the
	// command, cleanup and prerequisites with them substituted.
	ArgumentValues     map[string]string `json:"argument_values"`
	Rendered           Rendered          `json:"rendered"`
	ElevationRequired  bool              `json:"elevation_required"`
	Platforms          []string          `json:"platforms"`
	ExpectedDetection  string            `json:"expected_detection"`
	OpsecLevel         string            `json:"opsec_level"`
	State              string            `json:"state"`
	SkipReason         string            `json:"skip_reason"`
	AssignedRedUserID  *string           `json:"assigned_red_user_id"`
	AssignedBlueUserID *string           `json:"assigned_blue_user_id"`
	// Red: the operator log.
	Operator        string   `json:"operator"`
	StartedAt       *db.Time `json:"started_at"`
	FinishedAt      *db.Time `json:"finished_at"`
	SourceHost      string   `json:"source_host"`
	SourceIP        string   `json:"source_ip"`
	TargetHost      string   `json:"target_host"`
	TargetIP        string   `json:"target_ip"`
	Tool            string   `json:"tool"`
	UserContext     string   `json:"user_context"`
	Command         string   `json:"command"` // as run
	Output          string   `json:"output"`
	ExecutionResult *string  `json:"execution_result"`
	RedNotes        string   `json:"red_notes"`
	ExecutedAt      *db.Time `json:"executed_at"`
	// Blue.
	BlueNotes  string   `json:"blue_notes"`
	Outcome    *Level   `json:"outcome"`     // derived: best-ranked level among the controls
	DetectedAt *db.Time `json:"detected_at"` // earliest time of a control whose level counts as detected
	// Seconds from the execution start (started_at, else executed_at) to
	// the first log, alert and prevention: the minimum over the controls
	// whose level counts as detected, never negative, null when none
	// (levels.Derive). TimeToDetectSeconds is the smallest of the three.
	TimeToLogS          *float64  `json:"time_to_log_s" doc:"seconds from the execution start (started_at, else executed_at) to the first log: minimum over the detected controls; never negative, null when none"`
	TimeToAlertS        *float64  `json:"time_to_alert_s" doc:"seconds from the execution start to the first alert (minimum over the detected controls); null when none"`
	TimeToPreventS      *float64  `json:"time_to_prevent_s" doc:"seconds from the execution start to the first prevention (minimum over the detected controls); null when none"`
	TimeToDetectSeconds *float64  `json:"time_to_detect_seconds" doc:"the smallest of time_to_log_s, time_to_alert_s and time_to_prevent_s"`
	AssessedAt          *db.Time  `json:"assessed_at"`
	Outcomes            []Outcome `json:"outcomes,omitempty"`
	MitreTags           []Tag     `json:"mitre_tags"`
	EvidenceCount       int       `json:"evidence_count"`
	Version             int       `json:"version"`
	CreatedAt           db.Time   `json:"created_at"`
	UpdatedAt           db.Time   `json:"updated_at"`
}
