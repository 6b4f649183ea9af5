package missions

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/tally"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/purplebook/purplebook/app/text"
)

// TestPatch is the flat body of PATCH /missions/{id}/tests/{tid}. Red fields
// need mission_test.execute and role red or lead; blue fields
// mission_test.assess and role blue or lead; planning fields mission.update
// and role lead.
type TestPatch struct {
	// Red: the operator log.
	State           patch.Field[string]  `json:"state"`
	SkipReason      patch.Field[string]  `json:"skip_reason"`
	Operator        patch.Field[string]  `json:"operator"`
	StartedAt       patch.Field[db.Time] `json:"started_at"`
	FinishedAt      patch.Field[db.Time] `json:"finished_at"`
	SourceHost      patch.Field[string]  `json:"source_host"`
	SourceIP        patch.Field[string]  `json:"source_ip"`
	TargetHost      patch.Field[string]  `json:"target_host"`
	TargetIP        patch.Field[string]  `json:"target_ip"`
	Tool            patch.Field[string]  `json:"tool"`
	UserContext     patch.Field[string]  `json:"user_context"`
	Command         patch.Field[string]  `json:"command"`
	Output          patch.Field[string]  `json:"output"`
	ExecutionResult patch.Field[string]  `json:"execution_result"`
	RedNotes        patch.Field[string]  `json:"red_notes"`
	// ArgumentValues replaces the values of the Atomic input arguments
	// (name → value; null or {} clears them all).
	ArgumentValues patch.Field[map[string]string] `json:"argument_values"`
	// Blue.
	BlueNotes patch.Field[string]         `json:"blue_notes"`
	Outcomes  patch.Field[[]OutcomeInput] `json:"outcomes"`
	// Planning (lead).
	Name               patch.Field[string] `json:"name"`
	Description        patch.Field[string] `json:"description"`
	Objective          patch.Field[string] `json:"objective"`
	ExpectedDetection  patch.Field[string] `json:"expected_detection"`
	CategoryID         patch.Field[string] `json:"category_id"`
	AssignedRedUserID  patch.Field[string] `json:"assigned_red_user_id"`
	AssignedBlueUserID patch.Field[string] `json:"assigned_blue_user_id"`

	Version patch.Field[int] `json:"version"`
}

// OutcomeInput is the full state of one control's result. A null
// detection_level removes the control's outcome.
type OutcomeInput struct {
	Control        string              `json:"control"`
	Expected       bool                `json:"expected"`
	DetectionLevel patch.Field[string] `json:"detection_level"` // key (alerted) or id
	LoggedAt       *db.Time            `json:"logged_at"`
	AlertedAt      *db.Time            `json:"alerted_at"`
	PreventedAt    *db.Time            `json:"prevented_at"`
	AlertName      string              `json:"alert_name"`
	Notes          string              `json:"notes"`
}

type fieldGroup struct {
	perm  string
	roles []string
	side  string
}

var (
	redGroup   = fieldGroup{"mission_test.execute", []string{RoleRed, RoleLead}, "red"}
	blueGroup  = fieldGroup{"mission_test.assess", []string{RoleBlue, RoleLead}, "blue"}
	leadGroup  = fieldGroup{"mission.update", []string{RoleLead}, "planning"}
	redFields  = []string{"state", "skip_reason", "operator", "started_at", "finished_at", "source_host", "source_ip", "target_host", "target_ip", "tool", "user_context", "command", "output", "execution_result", "red_notes", "argument_values"}
	blueFields = []string{"blue_notes", "outcomes"}
	leadFields = []string{"name", "description", "objective", "expected_detection", "category_id", "assigned_red_user_id", "assigned_blue_user_id"}
)

// sent lists the JSON names of the fields present in the body.
func (p TestPatch) sent() map[string]bool {
	out := map[string]bool{}
	v := reflect.ValueOf(p)
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name != "version" && v.Field(i).FieldByName("Set").Bool() {
			out[name] = true
		}
	}
	return out
}

// redTransitions are the state changes red (or a lead) may make. "assessed"
// is reached when blue records an outcome of an executed test.
var redTransitions = map[string][]string{
	"pending":     {"in_progress", "executed", "skipped"},
	"in_progress": {"pending", "executed", "skipped"},
	"executed":    {"in_progress", "skipped"},
	"assessed":    {"in_progress"},
	"skipped":     {"pending"},
}

const maxOutput = 1 << 20

// PatchTest applies a red, blue or planning update with field-level
// permission checks and optimistic concurrency (version or If-Match).
func (s *Service) PatchTest(ctx context.Context, c Caller, missionID, testID string, p TestPatch) (Test, error) {
	sent := p.sent()
	var notifyAfter []func(tx *dbx.Tx) error
	version := 0
	var out Test
	var listeners []string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		a, err := s.load(ctx, tx, c, missionID)
		if err != nil {
			return err
		}
		// Field-level enforcement: every sent field needs its side's rights.
		var denied []string
		var deniedPerm string
		for _, g := range []struct {
			fields []string
			grp    fieldGroup
		}{{redFields, redGroup}, {blueFields, blueGroup}, {leadFields, leadGroup}} {
			ok := need(c, a, g.grp.perm, g.grp.roles...) == nil
			for _, f := range g.fields {
				if sent[f] && !ok {
					denied = append(denied, f)
					if deniedPerm == "" {
						deniedPerm = g.grp.perm
					}
				}
			}
		}
		if len(denied) > 0 {
			sort.Strings(denied)
			return apperr.New(apperr.ErrForbidden, "field_forbidden",
				"You may not change %s in this mission (your role: %s; this needs %s).", strings.Join(denied, ", "), orNone(a.role), deniedPerm).
				WithDetails(map[string]any{"fields": denied, "role": a.role})
		}
		if len(sent) == 0 && !p.Version.Set {
			return &apperr.Invalid{Message: "Send at least one field to change."}
		}
		if err := writable(a); err != nil {
			return err
		}
		r, err := s.getTestRow(ctx, tx, missionID, testID)
		if err != nil {
			return err
		}
		if v, ok := p.Version.Get(); ok && v != r.Version {
			var current any
			if cur, err := s.render(ctx, tx, []testRow{r}, true); err == nil && len(cur) == 1 {
				current = cur[0]
			}
			return apperr.New(apperr.ErrConflict, "version_conflict",
				"Someone else saved this test first (now version %d; you edited version %d). Review their changes and try again.", r.Version, v).
				WithDetails(map[string]any{"current_version": r.Version, "current": current})
		}
		before := r
		var inv apperr.Invalid
		str := func(f patch.Field[string], dst *string, field string, max int) {
			if !f.Set {
				return
			}
			*dst = f.Or("")
			text.Check(&inv, field, *dst, max, false)
		}
		tm := func(f patch.Field[db.Time], dst **db.Time) {
			if !f.Set {
				return
			}
			if v, ok := f.Get(); ok {
				*dst = &v
			} else {
				*dst = nil
			}
		}
		// Red.
		str(p.Operator, &r.Operator, "operator", 200)
		tm(p.StartedAt, &r.StartedAt)
		tm(p.FinishedAt, &r.FinishedAt)
		str(p.SourceHost, &r.SourceHost, "source_host", 255)
		str(p.SourceIP, &r.SourceIP, "source_ip", 64)
		str(p.TargetHost, &r.TargetHost, "target_host", 255)
		str(p.TargetIP, &r.TargetIP, "target_ip", 64)
		str(p.Tool, &r.Tool, "tool", 200)
		str(p.UserContext, &r.UserContext, "user_context", 200)
		str(p.Command, &r.CommandRun, "command", 100_000)
		str(p.Output, &r.Output, "output", maxOutput)
		str(p.RedNotes, &r.RedNotes, "red_notes", 20_000)
		str(p.SkipReason, &r.SkipReason, "skip_reason", 2_000)
		for _, ip := range []struct{ field, v string }{{"source_ip", r.SourceIP}, {"target_ip", r.TargetIP}} {
			if sent[ip.field] && ip.v != "" && net.ParseIP(ip.v) == nil {
				inv.Add(ip.field, "must be an IPv4 or IPv6 address")
			}
		}
		if p.ArgumentValues.Set {
			vals := map[string]string{}
			for k, v := range p.ArgumentValues.Or(nil) {
				if v != "" { // empty means the default: not stored
					vals[k] = v
				}
			}
			_, args, _ := r.atomic()
			templates.CheckArgumentValues(&inv, args, vals)
			r.ArgumentValues = db.MustJSON(vals)
		}
		if r.StartedAt != nil && r.FinishedAt != nil && r.FinishedAt.Before(r.StartedAt.Time) {
			inv.Add("finished_at", "must not be before the start time")
		}
		if p.ExecutionResult.Set {
			r.ExecutionResult = nil
			if v, ok := p.ExecutionResult.Get(); ok {
				switch v {
				case "succeeded", "failed", "blocked":
					r.ExecutionResult = &v
				default:
					inv.Add("execution_result", "must be succeeded, failed or blocked, or empty")
				}
			}
		}
		// Blue and planning text.
		str(p.BlueNotes, &r.BlueNotes, "blue_notes", 20_000)
		if p.Name.Set {
			r.Name = strings.TrimSpace(p.Name.Or(""))
			text.Check(&inv, "name", r.Name, 200, true)
		}
		str(p.Description, &r.Description, "description", 20_000)
		str(p.Objective, &r.Objective, "objective", 20_000)
		str(p.ExpectedDetection, &r.ExpectedDetection, "expected_detection", 20_000)
		if p.CategoryID.Set {
			r.CategoryID = nil
			if v, ok := p.CategoryID.Get(); ok && v != "" {
				if err := s.checkCategory(ctx, tx, missionID, &v); err != nil {
					return err
				}
				r.CategoryID = &v
			}
		}
		for _, as := range []struct {
			f     patch.Field[string]
			dst   **string
			field string
		}{{p.AssignedRedUserID, &r.AssignedRedUserID, "assigned_red_user_id"}, {p.AssignedBlueUserID, &r.AssignedBlueUserID, "assigned_blue_user_id"}} {
			if !as.f.Set {
				continue
			}
			*as.dst = nil
			if v, ok := as.f.Get(); ok && v != "" {
				var n int
				if db.ValidID(v) {
					if err := tx.Select("COUNT(*)").From("mission_members").Where(dbx.HashExp{"mission_id": missionID, "user_id": v}).
						WithContext(ctx).Row(&n); err != nil {
						return err
					}
				}
				if n == 0 {
					inv.Add(as.field, "must be a member of this mission")
				}
				*as.dst = &v
			}
		}
		// State machine.
		stateChanged := false
		if p.State.Set {
			next := p.State.Or("")
			switch {
			case !states[next]:
				inv.Add("state", `must be "pending", "in_progress", "executed" or "skipped"`)
			case next == "assessed" && r.State != "assessed":
				return apperr.New(apperr.ErrConflict, "invalid_transition",
					"A test becomes assessed when the blue team records an outcome after it was executed.").
					WithDetails(map[string]any{"state": r.State})
			case next != r.State:
				ok := false
				for _, x := range redTransitions[r.State] {
					ok = ok || x == next
				}
				if !ok {
					return apperr.New(apperr.ErrConflict, "invalid_transition", "A %s test cannot become %s (allowed: %s).",
						strings.ReplaceAll(r.State, "_", " "), strings.ReplaceAll(next, "_", " "), strings.Join(redTransitions[r.State], ", ")).
						WithDetails(map[string]any{"state": r.State, "allowed": redTransitions[r.State]})
				}
				r.State, stateChanged = next, true
				switch next {
				case "in_progress":
					if r.StartedAt == nil {
						r.StartedAt = &now
					}
					r.ExecutedAt, r.AssessedAt = nil, nil
				case "executed":
					if r.FinishedAt != nil {
						r.ExecutedAt = r.FinishedAt
					} else {
						r.ExecutedAt = &now
					}
					if r.StartedAt == nil {
						r.StartedAt = r.ExecutedAt
					}
				case "pending":
					r.ExecutedAt = nil
				}
			}
		}
		if r.State == "skipped" && strings.TrimSpace(r.SkipReason) == "" {
			inv.Add("skip_reason", "is required to skip a test")
		}
		if err := inv.Err(); err != nil {
			return err
		}
		// Outcomes per control.
		if p.Outcomes.Set {
			if err := s.saveOutcomes(ctx, tx, now, c, &r, p.Outcomes.Or(nil)); err != nil {
				return err
			}
			if r.State == "executed" {
				r.State, stateChanged = "assessed", true
				r.AssessedAt = &now
			}
		}
		r.Version++
		r.UpdatedAt = now
		version = r.Version
		if err := s.writeTest(ctx, tx, r); err != nil {
			return err
		}
		// The answer and the listeners to tell are read here, on the write
		// connection, whose page cache this write left warm: after the
		// commit, every read-pool connection would start cold (SQLite drops
		// a connection's cache when another one wrote), and under many
		// writers that re-reading was a third of a PATCH's cost. And before
		// the aggregates, the mission and the audit chain are written: on
		// PostgreSQL those row locks last until the commit, and every
		// writer of the mission queues on them.
		ts, err := s.render(ctx, tx, []testRow{r}, true)
		if err != nil {
			return err
		}
		out = ts[0]
		if listeners, err = s.listeners(ctx, tx, missionID); err != nil {
			return err
		}
		if resultChanged(before, r) {
			if err := tally.TestUpdated(ctx, tx, missionID, testID, resultFacts(before), resultFacts(r)); err != nil {
				return err
			}
		}
		if err := s.touch(ctx, tx, now, missionID); err != nil {
			return err
		}
		if stateChanged {
			notifyAfter = append(notifyAfter, s.stateNotifications(ctx, c, a, before, r))
		}
		for _, f := range notifyAfter {
			if err := f(tx); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission_test.update", ObjectType: "mission_test", ObjectID: testID,
			Details: testDiff(before, r, sent)})
	})
	if err != nil {
		return Test{}, err
	}
	s.publish(c, listeners, notify.Event{Kind: "test.updated", MissionID: missionID, TestID: testID, Version: version})
	return out, nil
}

// resultChanged reports whether an update changes what the results
// aggregates count: the state, the derived outcome or the execution time.
func resultChanged(a, b testRow) bool {
	return a.State != b.State || !sameString(a.OutcomeLevelID, b.OutcomeLevelID) ||
		!sameTime(a.StartedAt, b.StartedAt) || !sameTime(a.ExecutedAt, b.ExecutedAt)
}

func resultFacts(r testRow) tally.Facts {
	return tally.Facts{State: r.State, OutcomeLevelID: r.OutcomeLevelID, StartedAt: db.TimePtr(r.StartedAt), ExecutedAt: db.TimePtr(r.ExecutedAt)}
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func sameTime(a, b *db.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b.Time)
}

// saveOutcomes upserts the given controls' outcomes and recomputes the
// derived outcome (best-ranked level) and detection time.
func (s *Service) saveOutcomes(ctx context.Context, tx *dbx.Tx, now db.Time, c Caller, r *testRow, ins []OutcomeInput) error {
	controls, err := s.settings.SecurityControls(ctx)
	if err != nil {
		return err
	}
	lv, err := s.levelsByID(ctx, tx)
	if err != nil {
		return err
	}
	byKey := map[string]Level{}
	for _, l := range lv {
		byKey[l.Key] = l
		byKey[l.ID] = l
	}
	canon := map[string]string{}
	for _, c := range controls {
		canon[db.Fold(c)] = c
	}
	var inv apperr.Invalid
	seen := map[string]bool{}
	for i, in := range ins {
		field := fmt.Sprintf("outcomes[%d]", i)
		control, ok := canon[db.Fold(in.Control)]
		if !ok {
			inv.Add(field+".control", fmt.Sprintf("must be one of the configured controls: %s", strings.Join(controls, ", ")))
			continue
		}
		if seen[control] {
			inv.Add(field+".control", "appears twice")
			continue
		}
		seen[control] = true
		text.Check(&inv, field+".alert_name", in.AlertName, 500, false)
		text.Check(&inv, field+".notes", in.Notes, 20_000, false)
		if in.DetectionLevel.Set && in.DetectionLevel.Null {
			if _, err := tx.Delete("mission_test_outcomes", dbx.HashExp{"mission_test_id": r.ID, "control": control}).WithContext(ctx).Execute(); err != nil {
				return err
			}
			continue
		}
		key, _ := in.DetectionLevel.Get()
		level, ok := byKey[key]
		if !ok {
			keys := make([]string, 0, len(lv))
			for _, l := range lv {
				keys = append(keys, l.Key)
			}
			sort.Strings(keys)
			inv.Add(field+".detection_level", "must be one of: "+strings.Join(keys, ", "))
			continue
		}
		p := dbx.Params{"expected": in.Expected, "detection_level_id": level.ID, "logged_at": in.LoggedAt, "alerted_at": in.AlertedAt,
			"prevented_at": in.PreventedAt, "alert_name": in.AlertName, "notes": in.Notes, "assessed_by": nilIfEmpty(&c.UserID), "updated_at": now}
		res, err := tx.Update("mission_test_outcomes", p, dbx.HashExp{"mission_test_id": r.ID, "control": control}).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			p["id"], p["mission_test_id"], p["control"], p["created_at"] = db.NewID(), r.ID, control, now
			if _, err := tx.Insert("mission_test_outcomes", p).WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
	}
	if err := inv.Err(); err != nil {
		return err
	}
	// The derived outcome and detection time (levels.Derive) are cached on
	// the test for boards and filters.
	os, err := s.outcomes(ctx, tx, []any{r.ID}, lv)
	if err != nil {
		return err
	}
	d := derive(*r, os[r.ID])
	r.OutcomeLevelID, r.DetectedAt = nil, nil
	if d.LevelID != "" {
		r.OutcomeLevelID = &d.LevelID
	}
	if d.DetectedAt != nil {
		t := db.NewTime(*d.DetectedAt)
		r.DetectedAt = &t
	}
	return nil
}

// stateNotifications tells the other side: executed → blue (and the
// assigned blue user); assessed → red, leads (and the assigned red user).
// The notifications carry the time of the change (after.UpdatedAt).
func (s *Service) stateNotifications(ctx context.Context, c Caller, a access, before, after testRow) func(tx *dbx.Tx) error {
	return func(tx *dbx.Tx) error {
		var roles []string
		var assigned *string
		switch after.State {
		case "executed":
			roles, assigned = []string{RoleBlue}, after.AssignedBlueUserID
		case "assessed":
			roles, assigned = []string{RoleRed, RoleLead}, after.AssignedRedUserID
		default:
			return nil
		}
		ids, err := s.memberIDs(ctx, tx, after.MissionID, roles...)
		if err != nil {
			return err
		}
		if assigned != nil {
			ids = append(ids, *assigned)
		}
		return s.notify.Create(ctx, tx, after.UpdatedAt, ids, c.UserID, "test."+after.State, with(map[string]any{
			"mission_id": after.MissionID, "mission_name": a.mission.Name, "test_id": after.ID, "test_name": after.Name,
			"from": before.State, "to": after.State}, c.by()))
	}
}

// testDiff records changed fields (long text shortened) for the audit log.
func testDiff(a, b testRow, sent map[string]bool) map[string]any {
	am, bm := rowMap(a), rowMap(b)
	out := map[string]any{}
	for k, v := range bm {
		x, y := fmt.Sprint(am[k]), fmt.Sprint(v)
		if x != y && k != "version" && k != "updated_at" {
			out[k] = map[string]any{"before": short(am[k]), "after": short(v)}
		}
	}
	if sent["outcomes"] {
		out["outcomes"] = "updated"
	}
	return out
}

// rowMap is a test row as column name → JSON value, so the audit log
// names fields as the schema and the API do (blue_notes, not BlueNotes).
func rowMap(r testRow) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(r)
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("db")
		if name == "" || name == "-" {
			continue
		}
		b, err := json.Marshal(v.Field(i).Interface())
		if err != nil {
			continue
		}
		var x any
		if json.Unmarshal(b, &x) == nil {
			out[name] = x
		}
	}
	return out
}

func short(v any) any {
	if s, ok := v.(string); ok {
		return text.Ellipsis(s, 500)
	}
	return v
}
