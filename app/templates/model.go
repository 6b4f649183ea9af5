// Package templates is the test library: ATT&CK-tagged test templates,
// ordered scenario templates, Atomic Red Team import and library exchange.
package templates

import (
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/patch"
)

// TagRef names an ATT&CK entry in requests: {"kind":"technique","external_id":"T1059"}.
// An empty kind is inferred from the id (TA… tactic, T1234 technique,
// T1234.001 subtechnique).
type TagRef struct {
	Kind       string `json:"kind"`
	ExternalID string `json:"external_id"`
}

// Tag is an ATT&CK tag as responses render it: resolved against the
// current catalogue.
type Tag struct {
	Kind       string `json:"kind" db:"kind"`
	ExternalID string `json:"external_id" db:"external_id"`
	Name       string `json:"name" db:"name"`
	URL        string `json:"url" db:"url"`
	State      string `json:"state" db:"-"` // active, revoked, deprecated, removed
	Revoked    bool   `json:"-" db:"revoked"`
	Deprecated bool   `json:"-" db:"deprecated"`
	Removed    bool   `json:"-" db:"removed"`
	TemplateID string `json:"-" db:"test_template_id"`
}

// InputArgument is an Atomic-style input argument; Default may be a string,
// a number, a boolean or null.
type InputArgument struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        string `json:"type"`
	Default     any    `json:"default"`
}

// Prerequisite is an Atomic-style dependency check.
type Prerequisite struct {
	Description      string `json:"description"`
	PrereqCommand    string `json:"prereq_command"`
	GetPrereqCommand string `json:"get_prereq_command"`
}

// Template is a test template.
type Template struct {
	ID                    string          `json:"id"`
	Name                  string          `json:"name"`
	Description           string          `json:"description"`
	Objective             string          `json:"objective"`
	Executor              string          `json:"executor"`
	Command               string          `json:"command"`
	CleanupCommand        string          `json:"cleanup_command"`
	PrerequisitesExecutor string          `json:"prerequisites_executor"`
	Prerequisites         []Prerequisite  `json:"prerequisites"`
	InputArguments        []InputArgument `json:"input_arguments"`
	ElevationRequired     bool            `json:"elevation_required"`
	Platforms             []string        `json:"platforms"`
	ExpectedDetection     string          `json:"expected_detection"`
	OpsecLevel            string          `json:"opsec_level"`
	Tags                  []string        `json:"tags"`
	MitreTags             []Tag           `json:"mitre_tags"`
	Source                string          `json:"source"`
	SourceRef             *string         `json:"source_ref"`
	CreatedBy             *string         `json:"created_by"`
	Version               int             `json:"version"`
	CreatedAt             db.Time         `json:"created_at"`
	UpdatedAt             db.Time         `json:"updated_at"`
	DeletedAt             *db.Time        `json:"deleted_at"`
	Warnings              []string        `json:"warnings,omitempty"`
}

// Input is the full desired state of a template (create, import).
type Input struct {
	Name                  string          `json:"name"`
	Description           string          `json:"description"`
	Objective             string          `json:"objective"`
	Executor              string          `json:"executor"`
	Command               string          `json:"command"`
	CleanupCommand        string          `json:"cleanup_command"`
	PrerequisitesExecutor string          `json:"prerequisites_executor"`
	Prerequisites         []Prerequisite  `json:"prerequisites"`
	InputArguments        []InputArgument `json:"input_arguments"`
	ElevationRequired     bool            `json:"elevation_required"`
	Platforms             []string        `json:"platforms"`
	ExpectedDetection     string          `json:"expected_detection"`
	OpsecLevel            string          `json:"opsec_level"`
	Tags                  []string        `json:"tags"`
	MitreTags             []TagRef        `json:"mitre_tags"`
	// Source and SourceRef are set by importers, not by the API.
	Source    string `json:"-"`
	SourceRef string `json:"-"`
}

// UpdateParams is a PATCH body: absent = unchanged, null = cleared, value = set.
type UpdateParams struct {
	Name                  patch.Field[string]          `json:"name"`
	Description           patch.Field[string]          `json:"description"`
	Objective             patch.Field[string]          `json:"objective"`
	Executor              patch.Field[string]          `json:"executor"`
	Command               patch.Field[string]          `json:"command"`
	CleanupCommand        patch.Field[string]          `json:"cleanup_command"`
	PrerequisitesExecutor patch.Field[string]          `json:"prerequisites_executor"`
	Prerequisites         patch.Field[[]Prerequisite]  `json:"prerequisites"`
	InputArguments        patch.Field[[]InputArgument] `json:"input_arguments"`
	ElevationRequired     patch.Field[bool]            `json:"elevation_required"`
	Platforms             patch.Field[[]string]        `json:"platforms"`
	ExpectedDetection     patch.Field[string]          `json:"expected_detection"`
	OpsecLevel            patch.Field[string]          `json:"opsec_level"`
	Tags                  patch.Field[[]string]        `json:"tags"`
	MitreTags             patch.Field[[]TagRef]        `json:"mitre_tags"`
	// Version, when sent, must equal the stored version (optimistic concurrency).
	Version patch.Field[int] `json:"version"`
}

// ListParams filter and sort the library. Filters combine with AND.
type ListParams struct {
	Tactic       string // TA0007 or discovery: tagged with the tactic or any technique/subtechnique in it
	Technique    string // T1059: tagged with it or any of its subtechniques
	Subtechnique string // T1059.001
	Opsec        string
	Platform     string
	Tag          string
	Q            string // name and description
	Deleted      bool   // list the deleted ones instead (the restore view)
	Sort         string // name, -name, created_at, -created_at, updated_at, -updated_at, opsec_level
	db.PageParams
}

// Scenario is a scenario template: an ordered playbook of test templates.
type Scenario struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Version     int            `json:"version"`
	Tests       []ScenarioTest `json:"tests"`
	Coverage    Coverage       `json:"coverage"`
	TestCount   int            `json:"test_count"`
	CreatedBy   *string        `json:"created_by"`
	CreatedAt   db.Time        `json:"created_at"`
	UpdatedAt   db.Time        `json:"updated_at"`
	DeletedAt   *db.Time       `json:"deleted_at"`
}

// ScenarioTest is one entry of a scenario's ordered list.
type ScenarioTest struct {
	Position       int      `json:"position"`
	TestTemplateID string   `json:"test_template_id"`
	Name           string   `json:"name"`
	OpsecLevel     string   `json:"opsec_level"`
	Platforms      []string `json:"platforms"`
	Deleted        bool     `json:"deleted"`
	MitreTags      []Tag    `json:"mitre_tags"`
}

// CoverageItem is a covered tactic or technique.
type CoverageItem struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Tests      int    `json:"tests"` // how many entries cover it
}

// Coverage is a scenario's derived ATT&CK coverage (deleted entries excluded).
type Coverage struct {
	Tactics    []CoverageItem `json:"tactics"`
	Techniques []CoverageItem `json:"techniques"`
}

// ScenarioInput creates a scenario.
type ScenarioInput struct {
	Name            string   `json:"name"`
	Description     string   `json:"description"`
	TestTemplateIDs []string `json:"test_template_ids"`
}

// ScenarioUpdate is a PATCH body for scenarios.
type ScenarioUpdate struct {
	Name        patch.Field[string] `json:"name"`
	Description patch.Field[string] `json:"description"`
	Version     patch.Field[int]    `json:"version"`
}
