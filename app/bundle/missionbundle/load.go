package missionbundle

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// load reads a mission, deleted objects included, into bundle documents
// through b (one transaction, so the documents are one consistent state).
// Users become e-mail addresses and detection levels keys, exactly as an
// export writes them, so a loaded mission and an incoming bundle compare
// field by field. It returns nil when there is no such mission.
func load(ctx context.Context, b dbx.Builder, missionID string) (*docs, error) {
	var mr struct {
		ID          string   `db:"id"`
		Name        string   `db:"name"`
		Description string   `db:"description"`
		Status      string   `db:"status"`
		StartsOn    *string  `db:"starts_on"`
		EndsOn      *string  `db:"ends_on"`
		Version     int      `db:"version"`
		CreatedByID *string  `db:"created_by"`
		CreatedAt   db.Time  `db:"created_at"`
		UpdatedAt   db.Time  `db:"updated_at"`
		DeletedAt   *db.Time `db:"deleted_at"`
	}
	err := b.NewQuery(`SELECT id, name, description, status, starts_on, ends_on, version, created_by, created_at, updated_at, deleted_at
		FROM missions WHERE id = {:id}`).Bind(dbx.Params{"id": missionID}).WithContext(ctx).One(&mr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("missionbundle: load mission: %w", err)
	}
	d := &docs{}
	users := map[string]User{} // id → user
	var userIDs []string
	ref := func(id *string) {
		if id != nil {
			userIDs = append(userIDs, *id)
		}
	}
	ref(mr.CreatedByID)

	if err := b.NewQuery(`SELECT id, name, color, position, created_at, updated_at, deleted_at FROM mission_categories
		WHERE mission_id = {:m} ORDER BY position, id`).Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&d.Mission.Categories); err != nil {
		return nil, fmt.Errorf("missionbundle: load categories: %w", err)
	}
	if err := b.NewQuery(`SELECT id, scenario_template_id, name, description, position, created_at, updated_at, deleted_at
		FROM mission_scenarios WHERE mission_id = {:m} ORDER BY position, id`).Bind(dbx.Params{"m": missionID}).WithContext(ctx).
		All(&d.Mission.Scenarios); err != nil {
		return nil, fmt.Errorf("missionbundle: load scenarios: %w", err)
	}
	var members []struct {
		UserID string `db:"user_id"`
		Role   string `db:"role"`
	}
	if err := b.NewQuery(`SELECT user_id, role FROM mission_members WHERE mission_id = {:m}`).Bind(dbx.Params{"m": missionID}).
		WithContext(ctx).All(&members); err != nil {
		return nil, fmt.Errorf("missionbundle: load members: %w", err)
	}
	for _, m := range members {
		userIDs = append(userIDs, m.UserID)
	}

	var trs []testRow
	if err := b.NewQuery(`SELECT ` + strings.Join(testColumns, ", ") + ` FROM mission_tests WHERE mission_id = {:m} ORDER BY position, id`).
		Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&trs); err != nil {
		return nil, fmt.Errorf("missionbundle: load tests: %w", err)
	}
	testIDs := make([]any, len(trs))
	for i, r := range trs {
		testIDs[i] = r.ID
		ref(r.AssignedRedUserID)
		ref(r.AssignedBlueUserID)
	}
	var ors []outcomeRow
	var tags []tagRow
	var evs []evidenceRow
	for _, chunk := range chunks(testIDs) {
		var o []outcomeRow
		if err := b.NewQuery(`SELECT o.id, o.mission_test_id, o.control, o.expected, o.detection_level_id, o.logged_at, o.alerted_at,
			o.prevented_at, o.alert_name, o.notes, o.assessed_by, o.created_at, o.updated_at
			FROM mission_test_outcomes o WHERE o.mission_test_id IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).All(&o); err != nil {
			return nil, fmt.Errorf("missionbundle: load outcomes: %w", err)
		}
		ors = append(ors, o...)
		var tg []tagRow
		if err := b.NewQuery(`SELECT id, mission_test_id, kind, external_id, name, url, created_at FROM mission_test_mitre_tags
			WHERE mission_test_id IN (` + placeholders(len(chunk)) + `)`).Bind(bindList(chunk)).WithContext(ctx).All(&tg); err != nil {
			return nil, fmt.Errorf("missionbundle: load tags: %w", err)
		}
		tags = append(tags, tg...)
		var ev []evidenceRow
		if err := b.NewQuery(`SELECT id, mission_test_id, side, original_filename, content_type, size, sha256, caption, uploaded_by,
			created_at, updated_at, deleted_at FROM evidence_files WHERE mission_test_id IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).All(&ev); err != nil {
			return nil, fmt.Errorf("missionbundle: load evidence: %w", err)
		}
		evs = append(evs, ev...)
	}
	for _, o := range ors {
		ref(o.AssessedBy)
	}
	for _, e := range evs {
		ref(e.UploadedBy)
	}

	// The mission's audit trail: events on the mission itself (tests,
	// members, categories, imports are recorded there) and on its evidence.
	var ars []auditRow
	if err := b.NewQuery(`SELECT id, at, actor_user_id, actor_label, action, object_type, object_id, details, ip, request_id
		FROM audit_events WHERE object_type = 'mission' AND object_id = {:m}`).Bind(dbx.Params{"m": missionID}).
		WithContext(ctx).All(&ars); err != nil {
		return nil, fmt.Errorf("missionbundle: load audit: %w", err)
	}
	evIDs := make([]any, len(evs))
	for i, e := range evs {
		evIDs[i] = e.ID
	}
	for _, chunk := range chunks(evIDs) {
		var a []auditRow
		if err := b.NewQuery(`SELECT id, at, actor_user_id, actor_label, action, object_type, object_id, details, ip, request_id
			FROM audit_events WHERE object_type = 'evidence_file' AND object_id IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).All(&a); err != nil {
			return nil, fmt.Errorf("missionbundle: load audit: %w", err)
		}
		ars = append(ars, a...)
	}
	for _, a := range ars {
		ref(a.ActorUserID)
	}

	// Users by id → e-mail and name.
	ids := dedupe(userIDs)
	for _, chunk := range chunks(ids) {
		var us []struct {
			ID    string `db:"id"`
			Email string `db:"email"`
			Name  string `db:"name"`
		}
		if err := b.NewQuery(`SELECT id, email, name FROM users WHERE id IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).All(&us); err != nil {
			return nil, fmt.Errorf("missionbundle: load users: %w", err)
		}
		for _, u := range us {
			users[u.ID] = User{Email: u.Email, Name: u.Name}
		}
	}
	email := func(id *string) *string {
		if id == nil {
			return nil
		}
		u, ok := users[*id]
		if !ok {
			return nil
		}
		e := u.Email
		return &e
	}

	// Detection levels, by id → key.
	var lvls []Level
	if err := b.NewQuery(`SELECT id, key, name, description, rank, color, counts_as_detected FROM detection_levels ORDER BY rank`).
		WithContext(ctx).All(&lvls); err != nil {
		return nil, fmt.Errorf("missionbundle: load levels: %w", err)
	}
	levelByID := map[string]Level{}
	for _, l := range lvls {
		levelByID[l.ID] = l
	}
	usedLevels := map[string]bool{}

	d.Mission.Mission = Mission{ID: mr.ID, Name: mr.Name, Description: mr.Description, Status: mr.Status, StartsOn: mr.StartsOn,
		EndsOn: mr.EndsOn, Version: mr.Version, CreatedBy: email(mr.CreatedByID), CreatedAt: mr.CreatedAt, UpdatedAt: mr.UpdatedAt,
		DeletedAt: mr.DeletedAt}
	d.Mission.Members = make([]Member, 0, len(members))
	for _, m := range members {
		if u, ok := users[m.UserID]; ok {
			d.Mission.Members = append(d.Mission.Members, Member{Email: u.Email, Name: u.Name, Role: m.Role})
		}
	}
	sort.Slice(d.Mission.Members, func(i, j int) bool { return d.Mission.Members[i].Email < d.Mission.Members[j].Email })

	outcomesByTest := map[string][]Outcome{}
	for _, o := range ors {
		l := levelByID[o.DetectionLevelID]
		usedLevels[l.ID] = true
		outcomesByTest[o.TestID] = append(outcomesByTest[o.TestID], Outcome{ID: o.ID, Control: o.Control, Expected: o.Expected,
			Level: l.Key, LoggedAt: o.LoggedAt, AlertedAt: o.AlertedAt, PreventedAt: o.PreventedAt, AlertName: o.AlertName,
			Notes: o.Notes, AssessedBy: email(o.AssessedBy), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt})
	}
	tagsByTest := map[string][]Tag{}
	for _, t := range tags {
		tagsByTest[t.TestID] = append(tagsByTest[t.TestID], Tag{ID: t.ID, Kind: t.Kind, ExternalID: t.ExternalID, Name: t.Name,
			URL: t.URL, CreatedAt: t.CreatedAt})
	}
	d.Tests = make([]Test, len(trs))
	for i, r := range trs {
		t := r.test()
		t.AssignedRed, t.AssignedBlue = email(r.AssignedRedUserID), email(r.AssignedBlueUserID)
		if r.OutcomeLevelID != nil {
			if l, ok := levelByID[*r.OutcomeLevelID]; ok {
				k := l.Key
				t.OutcomeLevel = &k
				usedLevels[l.ID] = true
			}
		}
		t.Outcomes = outcomesByTest[r.ID]
		sort.Slice(t.Outcomes, func(a, b int) bool { return t.Outcomes[a].Control < t.Outcomes[b].Control })
		if t.Outcomes == nil {
			t.Outcomes = []Outcome{}
		}
		t.Tags = tagsByTest[r.ID]
		sort.Slice(t.Tags, func(a, b int) bool { return t.Tags[a].ExternalID < t.Tags[b].ExternalID })
		if t.Tags == nil {
			t.Tags = []Tag{}
		}
		d.Tests[i] = t
	}
	d.Evidence = make([]Evidence, len(evs))
	for i, e := range evs {
		d.Evidence[i] = Evidence{ID: e.ID, TestID: e.TestID, Side: e.Side, OriginalFilename: e.OriginalFilename,
			ContentType: e.ContentType, Size: e.Size, SHA256: e.SHA256, Caption: e.Caption, UploadedBy: email(e.UploadedBy),
			CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, DeletedAt: e.DeletedAt}
	}
	sort.Slice(d.Evidence, func(i, j int) bool { return d.Evidence[i].ID < d.Evidence[j].ID })
	d.Audit = make([]AuditEvent, len(ars))
	for i, a := range ars {
		d.Audit[i] = AuditEvent{ID: a.ID, At: a.At, Actor: email(a.ActorUserID), ActorLabel: a.ActorLabel, Action: a.Action,
			ObjectType: a.ObjectType, ObjectID: a.ObjectID, Details: canon(json.RawMessage(a.Details)), IP: a.IP, RequestID: a.RequestID}
	}
	sort.Slice(d.Audit, func(i, j int) bool {
		if !d.Audit[i].At.Equal(d.Audit[j].At.Time) {
			return d.Audit[i].At.Before(d.Audit[j].At.Time)
		}
		return d.Audit[i].ID < d.Audit[j].ID
	})
	d.Mission.DetectionLevels = []Level{}
	for _, l := range lvls {
		if usedLevels[l.ID] {
			d.Mission.DetectionLevels = append(d.Mission.DetectionLevels, l)
		}
	}
	d.Mission.Users = make([]User, 0, len(users))
	for _, id := range sortedKeys(users) {
		d.Mission.Users = append(d.Mission.Users, users[id])
	}
	sort.Slice(d.Mission.Users, func(i, j int) bool { return d.Mission.Users[i].Email < d.Mission.Users[j].Email })
	if d.Mission.Categories == nil {
		d.Mission.Categories = []Category{}
	}
	if d.Mission.Scenarios == nil {
		d.Mission.Scenarios = []Scenario{}
	}

	var srs []syncRow
	if err := b.NewQuery(`SELECT id, peer_instance_id, object_type, object_id, base, peer_seq, local_seq FROM bundle_sync_states
		WHERE mission_id = {:m} ORDER BY peer_instance_id, object_type, object_id`).Bind(dbx.Params{"m": missionID}).
		WithContext(ctx).All(&srs); err != nil {
		return nil, fmt.Errorf("missionbundle: load sync state: %w", err)
	}
	d.Sync = make([]SyncBase, 0, len(srs))
	for _, s := range srs {
		var base map[string]json.RawMessage
		if err := json.Unmarshal(s.Base, &base); err != nil {
			return nil, fmt.Errorf("missionbundle: sync state %s is damaged: %w", s.ID, err)
		}
		for k, v := range base {
			base[k] = canon(v)
		}
		d.Sync = append(d.Sync, SyncBase{Peer: s.Peer, PeerSeq: s.PeerSeq, ObjectType: s.ObjectType, ObjectID: s.ObjectID, Base: base,
			localSeq: s.LocalSeq})
	}
	return d, nil
}

type testRow struct {
	ID                    string   `db:"id"`
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

var testColumns = []string{"id", "mission_scenario_id", "test_template_id", "category_id", "position", "name",
	"description", "objective", "executor", "command_template", "cleanup_command", "prerequisites_executor", "prerequisites",
	"input_arguments", "argument_values", "elevation_required", "platforms", "expected_detection", "opsec_level", "state", "skip_reason",
	"assigned_red_user_id", "assigned_blue_user_id", "operator", "started_at", "finished_at", "source_host", "source_ip",
	"target_host", "target_ip", "tool", "user_context", "command_run", "output", "execution_result", "red_notes", "executed_at",
	"blue_notes", "outcome_level_id", "detected_at", "assessed_at", "version", "created_at", "updated_at", "deleted_at"}

func (r testRow) test() Test {
	return Test{ID: r.ID, MissionScenarioID: r.MissionScenarioID, TestTemplateID: r.TestTemplateID, CategoryID: r.CategoryID,
		Position: r.Position, Name: r.Name, Description: r.Description, Objective: r.Objective, Executor: r.Executor,
		CommandTemplate: r.CommandTemplate, CleanupCommand: r.CleanupCommand, PrerequisitesExecutor: r.PrerequisitesExecutor,
		Prerequisites: canon(json.RawMessage(r.Prerequisites)), InputArguments: canon(json.RawMessage(r.InputArguments)),
		ArgumentValues:    canon(json.RawMessage(r.ArgumentValues)),
		ElevationRequired: r.ElevationRequired, Platforms: canon(json.RawMessage(r.Platforms)), ExpectedDetection: r.ExpectedDetection,
		OpsecLevel: r.OpsecLevel, State: r.State, SkipReason: r.SkipReason, Operator: r.Operator, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, SourceHost: r.SourceHost, SourceIP: r.SourceIP, TargetHost: r.TargetHost, TargetIP: r.TargetIP,
		Tool: r.Tool, UserContext: r.UserContext, CommandRun: r.CommandRun, Output: r.Output, ExecutionResult: r.ExecutionResult,
		RedNotes: r.RedNotes, ExecutedAt: r.ExecutedAt, BlueNotes: r.BlueNotes, DetectedAt: r.DetectedAt, AssessedAt: r.AssessedAt,
		Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, DeletedAt: r.DeletedAt}
}

type outcomeRow struct {
	ID               string   `db:"id"`
	TestID           string   `db:"mission_test_id"`
	Control          string   `db:"control"`
	Expected         bool     `db:"expected"`
	DetectionLevelID string   `db:"detection_level_id"`
	LoggedAt         *db.Time `db:"logged_at"`
	AlertedAt        *db.Time `db:"alerted_at"`
	PreventedAt      *db.Time `db:"prevented_at"`
	AlertName        string   `db:"alert_name"`
	Notes            string   `db:"notes"`
	AssessedBy       *string  `db:"assessed_by"`
	CreatedAt        db.Time  `db:"created_at"`
	UpdatedAt        db.Time  `db:"updated_at"`
}

type tagRow struct {
	ID         string  `db:"id"`
	TestID     string  `db:"mission_test_id"`
	Kind       string  `db:"kind"`
	ExternalID string  `db:"external_id"`
	Name       string  `db:"name"`
	URL        string  `db:"url"`
	CreatedAt  db.Time `db:"created_at"`
}

type evidenceRow struct {
	ID               string   `db:"id"`
	TestID           string   `db:"mission_test_id"`
	Side             string   `db:"side"`
	OriginalFilename string   `db:"original_filename"`
	ContentType      string   `db:"content_type"`
	Size             int64    `db:"size"`
	SHA256           string   `db:"sha256"`
	Caption          string   `db:"caption"`
	UploadedBy       *string  `db:"uploaded_by"`
	CreatedAt        db.Time  `db:"created_at"`
	UpdatedAt        db.Time  `db:"updated_at"`
	DeletedAt        *db.Time `db:"deleted_at"`
}

type auditRow struct {
	ID          string  `db:"id"`
	At          db.Time `db:"at"`
	ActorUserID *string `db:"actor_user_id"`
	ActorLabel  string  `db:"actor_label"`
	Action      string  `db:"action"`
	ObjectType  string  `db:"object_type"`
	ObjectID    string  `db:"object_id"`
	Details     db.JSON `db:"details"`
	IP          string  `db:"ip"`
	RequestID   string  `db:"request_id"`
}

type syncRow struct {
	ID         string  `db:"id"`
	Peer       string  `db:"peer_instance_id"`
	ObjectType string  `db:"object_type"`
	ObjectID   string  `db:"object_id"`
	Base       db.JSON `db:"base"`
	PeerSeq    int64   `db:"peer_seq"`
	LocalSeq   int64   `db:"local_seq"`
}

// chunkSize bounds the parameters of one IN list (SQLite allows 32,766,
// PostgreSQL 65,535; smaller statements plan faster).
const chunkSize = 500

func chunks(ids []any) [][]any {
	var out [][]any
	for lo := 0; lo < len(ids); lo += chunkSize {
		out = append(out, ids[lo:min(lo+chunkSize, len(ids))])
	}
	return out
}

func placeholders(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "{:p" + strconv.Itoa(i) + "}"
	}
	return strings.Join(parts, ", ")
}

func bindList(xs []any) dbx.Params {
	p := make(dbx.Params, len(xs))
	for i, x := range xs {
		p["p"+strconv.Itoa(i)] = x
	}
	return p
}

func dedupe(ids []string) []any {
	seen := map[string]bool{}
	out := []any{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
