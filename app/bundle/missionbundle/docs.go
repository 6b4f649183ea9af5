// Package missionbundle is the mission kind of bundle: one engagement,
// carried between instances and merged back. Export writes the mission's
// documents and evidence into a bundle (app/bundle does the format);
// import plans (dry run) and applies a bundle in one transaction, merging
// a mission that exists already three-way per field against what was
// last exchanged with the bundle's source instance; conflicts wait for a
// lead to pick mine or theirs. docs/BUNDLES.md describes the documents and
// the merge rules.
package missionbundle

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/purplebook/purplebook/app/db"
)

// Documents of a mission bundle.
const (
	DocMission  = "mission.json"
	DocTests    = "tests.json"
	DocEvidence = "evidence.json"
	DocAudit    = "audit.json"
	DocSync     = "sync.json"
	BlobDir     = "evidence/"
)

// Meta is the mission kind's manifest header.
type Meta struct {
	MissionID   string        `json:"mission_id"`
	MissionName string        `json:"mission_name"`
	Options     ExportOptions `json:"options"`
	// SyncSeq is the exporter's sync clock at the export: an importer
	// stores it with what it received, and sends it back in its own
	// bundles' sync.json, so the exporter can tell which exchange is newer.
	SyncSeq int64  `json:"sync_seq"`
	Counts  Counts `json:"counts"`
}

// ExportOptions say what an export includes.
type ExportOptions struct {
	Evidence bool `json:"evidence"` // evidence files and their metadata
	Blue     bool `json:"blue"`     // blue-team data: notes, outcomes, blue evidence
}

// Counts summarise the bundle for the importer's report.
type Counts struct {
	Tests         int   `json:"tests"`
	Outcomes      int   `json:"outcomes"`
	EvidenceFiles int   `json:"evidence_files"`
	EvidenceBytes int64 `json:"evidence_bytes"`
	AuditEvents   int   `json:"audit_events"`
}

// MissionDoc is mission.json: the mission and what belongs to it besides
// tests. Users appear by e-mail address everywhere in a bundle; Users
// lists every one referenced (members and others) with a name.
type MissionDoc struct {
	Mission          Mission    `json:"mission"`
	Categories       []Category `json:"categories"`
	Scenarios        []Scenario `json:"scenarios"`
	Members          []Member   `json:"members"`
	Users            []User     `json:"users"`
	DetectionLevels  []Level    `json:"detection_levels"`
	SecurityControls []string   `json:"security_controls"`
}

// Mission is the engagement's own row.
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
	DeletedAt   *db.Time `json:"deleted_at"`
}

// Category groups tests.
type Category struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Color     string   `json:"color"`
	Position  int      `json:"position"`
	CreatedAt db.Time  `json:"created_at"`
	UpdatedAt db.Time  `json:"updated_at"`
	DeletedAt *db.Time `json:"deleted_at"`
}

// Scenario is a scenario instantiated into the mission.
type Scenario struct {
	ID                 string   `json:"id"`
	ScenarioTemplateID *string  `json:"scenario_template_id"`
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	Position           int      `json:"position"`
	CreatedAt          db.Time  `json:"created_at"`
	UpdatedAt          db.Time  `json:"updated_at"`
	DeletedAt          *db.Time `json:"deleted_at"`
}

// Member is a mission member.
type Member struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// User is an account referenced by the bundle.
type User struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Level is a detection level the bundle's outcomes use.
type Level struct {
	ID               string `json:"id"`
	Key              string `json:"key"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Rank             int    `json:"rank"`
	Color            string `json:"color"`
	CountsAsDetected bool   `json:"counts_as_detected"`
}

// Test is a mission test with every planning, red and blue field, its
// per-control outcomes and its denormalised ATT&CK tags. OutcomeLevel and
// DetectedAt are derived (recomputed on import).
type Test struct {
	ID                    string          `json:"id"`
	MissionScenarioID     *string         `json:"mission_scenario_id"`
	TestTemplateID        *string         `json:"test_template_id"`
	CategoryID            *string         `json:"category_id"`
	Position              int             `json:"position"`
	Name                  string          `json:"name"`
	Description           string          `json:"description"`
	Objective             string          `json:"objective"`
	Executor              string          `json:"executor"`
	CommandTemplate       string          `json:"command_template"`
	CleanupCommand        string          `json:"cleanup_command"`
	PrerequisitesExecutor string          `json:"prerequisites_executor"`
	Prerequisites         json.RawMessage `json:"prerequisites"`
	InputArguments        json.RawMessage `json:"input_arguments"`
	ArgumentValues        json.RawMessage `json:"argument_values"` // red's values for the input arguments: {name: value}
	ElevationRequired     bool            `json:"elevation_required"`
	Platforms             json.RawMessage `json:"platforms"`
	ExpectedDetection     string          `json:"expected_detection"`
	OpsecLevel            string          `json:"opsec_level"`
	State                 string          `json:"state"`
	SkipReason            string          `json:"skip_reason"`
	AssignedRed           *string         `json:"assigned_red"`
	AssignedBlue          *string         `json:"assigned_blue"`
	Operator              string          `json:"operator"`
	StartedAt             *db.Time        `json:"started_at"`
	FinishedAt            *db.Time        `json:"finished_at"`
	SourceHost            string          `json:"source_host"`
	SourceIP              string          `json:"source_ip"`
	TargetHost            string          `json:"target_host"`
	TargetIP              string          `json:"target_ip"`
	Tool                  string          `json:"tool"`
	UserContext           string          `json:"user_context"`
	CommandRun            string          `json:"command_run"`
	Output                string          `json:"output"`
	ExecutionResult       *string         `json:"execution_result"`
	RedNotes              string          `json:"red_notes"`
	ExecutedAt            *db.Time        `json:"executed_at"`
	BlueNotes             string          `json:"blue_notes"`
	OutcomeLevel          *string         `json:"outcome_level"`
	DetectedAt            *db.Time        `json:"detected_at"`
	AssessedAt            *db.Time        `json:"assessed_at"`
	Version               int             `json:"version"`
	CreatedAt             db.Time         `json:"created_at"`
	UpdatedAt             db.Time         `json:"updated_at"`
	DeletedAt             *db.Time        `json:"deleted_at"`
	Outcomes              []Outcome       `json:"outcomes"`
	Tags                  []Tag           `json:"mitre_tags"`
}

// Outcome is one security control's result for a test; Level is the
// detection level's key.
type Outcome struct {
	ID          string   `json:"id"`
	Control     string   `json:"control"`
	Expected    bool     `json:"expected"`
	Level       string   `json:"level"`
	LoggedAt    *db.Time `json:"logged_at"`
	AlertedAt   *db.Time `json:"alerted_at"`
	PreventedAt *db.Time `json:"prevented_at"`
	AlertName   string   `json:"alert_name"`
	Notes       string   `json:"notes"`
	AssessedBy  *string  `json:"assessed_by"`
	CreatedAt   db.Time  `json:"created_at"`
	UpdatedAt   db.Time  `json:"updated_at"`
}

// Tag is a denormalised ATT&CK tag.
type Tag struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	ExternalID string  `json:"external_id"`
	Name       string  `json:"name"`
	URL        string  `json:"url"`
	CreatedAt  db.Time `json:"created_at"`
}

// Evidence is an evidence file's metadata; its content is the entry
// evidence/<sha256> (absent for deleted files, whose content never leaves).
type Evidence struct {
	ID               string   `json:"id"`
	TestID           string   `json:"mission_test_id"`
	Side             string   `json:"side"`
	OriginalFilename string   `json:"original_filename"`
	ContentType      string   `json:"content_type"`
	Size             int64    `json:"size"`
	SHA256           string   `json:"sha256"`
	Caption          string   `json:"caption"`
	UploadedBy       *string  `json:"uploaded_by"`
	CreatedAt        db.Time  `json:"created_at"`
	UpdatedAt        db.Time  `json:"updated_at"`
	DeletedAt        *db.Time `json:"deleted_at"`
}

// AuditEvent is one event of the mission's audit trail; Actor is the
// acting user's e-mail address.
type AuditEvent struct {
	ID         string          `json:"id"`
	At         db.Time         `json:"at"`
	Actor      *string         `json:"actor"`
	ActorLabel string          `json:"actor_label"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Details    json.RawMessage `json:"details"`
	IP         string          `json:"ip"`
	RequestID  string          `json:"request_id"`
}

// SyncBase is what the exporter last received from a peer for one object
// (its bundle_sync_states row): field values, and the peer's sync clock
// when the peer exported them.
type SyncBase struct {
	Peer       string                     `json:"peer_instance_id"`
	PeerSeq    int64                      `json:"peer_seq"`
	ObjectType string                     `json:"object_type"`
	ObjectID   string                     `json:"object_id"`
	Base       map[string]json.RawMessage `json:"base"`

	localSeq int64 // our clock when we received it (local rows only)
}

// Object types of the sync and conflict tables.
const (
	ObjMission  = "mission"
	ObjCategory = "mission_category"
	ObjScenario = "mission_scenario"
	ObjTest     = "mission_test"
	ObjEvidence = "evidence_file"
)

// docs is a mission as bundle documents: what an export writes, and what
// the merge compares (the local mission is loaded into the same shape).
type docs struct {
	Mission  MissionDoc
	Tests    []Test
	Evidence []Evidence
	Audit    []AuditEvent
	Sync     []SyncBase

	testObjs []obj // testObj of each of Tests, made once (see testObj)
}

// testObj is testObj(d.Tests[i]), computed once per document set: an
// import plans its incoming documents twice (dry run, then apply), and
// turning thousands of tests into fields is most of a plan's work. The
// result is shared: callers must not change it.
func (d *docs) testObj(i int) obj {
	if d.testObjs == nil {
		d.testObjs = make([]obj, len(d.Tests))
	}
	if d.testObjs[i] == nil {
		d.testObjs[i] = testObj(d.Tests[i])
	}
	return d.testObjs[i]
}

// canon returns the canonical encoding of a JSON value: compact, object
// keys sorted, so values from SQLite TEXT and PostgreSQL JSONB compare
// equal when they mean the same.
func canon(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	b, err := marshal(v)
	if err != nil {
		return raw
	}
	return b
}

// marshal encodes without HTML escaping (bundles are data, not HTML).
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

func mustMarshal(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		panic("missionbundle: marshal: " + err.Error())
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
