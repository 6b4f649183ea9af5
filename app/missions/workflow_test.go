package missions_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func patchValue[T any](v T) patch.Field[T] { return patch.Value(v) }

// tryPatch sends a PATCH body as the API would decode it.
func (e *env) tryPatch(c missions.Caller, testID, body string) (missions.Test, error) {
	e.t.Helper()
	var p missions.TestPatch
	require.NoError(e.t, json.Unmarshal([]byte(body), &p), body)
	return e.m.PatchTest(e.ctx, c, e.mission, testID, p)
}

func (e *env) patch(c missions.Caller, testID, body string) missions.Test {
	e.t.Helper()
	tt, err := e.tryPatch(c, testID, body)
	require.NoError(e.t, err, body)
	return tt
}

// at is the clock's now plus d as a JSON string.
func (e *env) at(d time.Duration) string { return `"` + e.clock.dbTime(d).String() + `"` }

func (e *env) get(testID string) missions.Test {
	e.t.Helper()
	tt, err := e.m.GetTest(e.ctx, e.viewer, e.mission, testID)
	require.NoError(e.t, err)
	return tt
}

// TestFieldLevelEnforcement: each field of a test belongs to red, blue or
// planning; a body with any field the caller may not change is refused as a
// whole (403 field_forbidden naming those fields) and changes nothing.
func TestFieldLevelEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A Red team user who is only a viewer in this mission: the permission
	// without the role.
	redViewer := e.user("red-viewer@example.com", groupRed)
	_, err := e.m.SetMember(e.ctx, e.lead, e.mission, redViewer.UserID, missions.RoleViewer)
	require.NoError(t, err)
	tt := e.addTest("Enumerate users")

	bodies := map[string]string{
		"red":      `{"operator":"alice","tool":"net.exe","red_notes":"ran it"}`,
		"blue":     `{"blue_notes":"seen in the SIEM"}`,
		"planning": `{"name":"Enumerate local users","objective":"find admins"}`,
	}
	fields := map[string][]string{
		"red": {"operator", "red_notes", "tool"}, "blue": {"blue_notes"}, "planning": {"name", "objective"},
	}
	perm := map[string]string{"red": "mission_test.execute", "blue": "mission_test.assess", "planning": "mission.update"}
	for _, c := range []struct {
		name    string
		caller  missions.Caller
		allowed []string
	}{
		{"lead", e.lead, []string{"red", "blue", "planning"}},
		{"red", e.red, []string{"red"}},
		{"blue", e.blue, []string{"blue"}},
		{"viewer", e.viewer, nil},
		{"red team, viewer role", redViewer, nil},
		{"auditor (read_all, no permissions)", e.auditor, nil},
	} {
		for side, body := range bodies {
			before := e.get(tt.ID)
			_, err := e.tryPatch(c.caller, tt.ID, body)
			if contains(c.allowed, side) {
				require.NoError(t, err, "%s may change %s fields", c.name, side)
				assert.Equal(t, before.Version+1, e.get(tt.ID).Version)
				continue
			}
			ae := requireErr(t, err, apperr.ErrForbidden, "field_forbidden")
			assert.Equal(t, fields[side], ae.Details["fields"], "%s, %s", c.name, side)
			assert.Contains(t, ae.Message, perm[side])
			assert.Equal(t, before, e.get(tt.ID), "%s, %s: nothing changed", c.name, side)
		}
	}
	// A mixed body is refused whole: red may log, but not touch blue's notes.
	before := e.get(tt.ID)
	_, err = e.tryPatch(e.red, tt.ID, `{"operator":"mallory","blue_notes":"nothing to see","outcomes":[]}`)
	ae := requireErr(t, err, apperr.ErrForbidden, "field_forbidden")
	assert.Equal(t, []string{"blue_notes", "outcomes"}, ae.Details["fields"])
	assert.Equal(t, "red", ae.Details["role"])
	assert.Equal(t, before, e.get(tt.ID))
	// Outsiders learn nothing; an empty body is a 422.
	_, err = e.tryPatch(e.outsider, tt.ID, bodies["red"])
	requireErr(t, err, apperr.ErrNotFound, "not_found")
	_, err = e.tryPatch(e.red, tt.ID, `{}`)
	require.ErrorIs(t, err, apperr.ErrInvalid)
	_, err = e.tryPatch(e.red, db.NewID(), bodies["red"])
	requireErr(t, err, apperr.ErrNotFound, "not_found")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// toState drives a fresh test to state as red (and blue for assessed).
func (e *env) toState(state string) missions.Test {
	e.t.Helper()
	tt := e.addTest("Test in " + state)
	switch state {
	case "pending":
		return tt
	case "in_progress", "executed":
		return e.patch(e.red, tt.ID, `{"state":"`+state+`"}`)
	case "skipped":
		return e.patch(e.red, tt.ID, `{"state":"skipped","skip_reason":"host offline"}`)
	case "assessed":
		e.patch(e.red, tt.ID, `{"state":"executed"}`)
		return e.patch(e.blue, tt.ID, `{"outcomes":[{"control":"EDR","detection_level":"alerted"}]}`)
	}
	e.t.Fatalf("no state %s", state)
	return tt
}

// TestStateMachine tries every state change red can ask for: the designed
// ones pass, the others are 409 invalid_transition with the allowed list;
// assessed is only reached through blue's outcomes.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	allowed := map[string][]string{
		"pending":     {"in_progress", "executed", "skipped"},
		"in_progress": {"pending", "executed", "skipped"},
		"executed":    {"in_progress", "skipped"},
		"assessed":    {"in_progress"},
		"skipped":     {"pending"},
	}
	all := []string{"pending", "in_progress", "executed", "assessed", "skipped"}
	for _, from := range all {
		for _, to := range all {
			if to == from {
				continue
			}
			tt := e.toState(from)
			require.Equal(t, from, tt.State)
			body := `{"state":"` + to + `"}`
			if to == "skipped" {
				body = `{"state":"skipped","skip_reason":"out of scope"}`
			}
			got, err := e.tryPatch(e.red, tt.ID, body)
			switch {
			case contains(allowed[from], to):
				require.NoError(t, err, "%s → %s", from, to)
				assert.Equal(t, to, got.State)
				assert.Equal(t, tt.Version+1, got.Version)
			case to == "assessed":
				ae := requireErr(t, err, apperr.ErrConflict, "invalid_transition")
				assert.Contains(t, ae.Message, "blue team records an outcome")
			default:
				ae := requireErr(t, err, apperr.ErrConflict, "invalid_transition")
				assert.Equal(t, from, ae.Details["state"], "%s → %s", from, to)
				assert.Equal(t, allowed[from], ae.Details["allowed"], "%s → %s", from, to)
				assert.Equal(t, tt, e.get(tt.ID), "%s → %s changed nothing", from, to)
			}
		}
	}
	tt := e.addTest("Odd states")
	_, err := e.tryPatch(e.red, tt.ID, `{"state":"done"}`)
	requireInvalid(t, err, "state")
	_, err = e.tryPatch(e.red, tt.ID, `{"state":"skipped"}`)
	requireInvalid(t, err, "skip_reason")
	_, err = e.tryPatch(e.red, tt.ID, `{"state":"skipped","skip_reason":"   "}`)
	requireInvalid(t, err, "skip_reason")
}

// TestStateTimes: the times the state machine sets come from the service
// clock; times red sends win.
func TestStateTimes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tt := e.addTest("Timed")
	e.clock.advance(time.Minute)
	started := e.clock.dbTime(0)
	tt = e.patch(e.red, tt.ID, `{"state":"in_progress"}`)
	assert.Equal(t, &started, tt.StartedAt, "starting sets started_at to now")
	assert.Nil(t, tt.ExecutedAt)
	e.clock.advance(5 * time.Minute)
	executed := e.clock.dbTime(0)
	tt = e.patch(e.red, tt.ID, `{"state":"executed"}`)
	assert.Equal(t, &started, tt.StartedAt, "kept")
	assert.Equal(t, &executed, tt.ExecutedAt, "executing sets executed_at to now")
	tt = e.patch(e.red, tt.ID, `{"state":"in_progress"}`)
	assert.Nil(t, tt.ExecutedAt, "back in progress: not executed")
	assert.Equal(t, &started, tt.StartedAt)
	tt = e.patch(e.red, tt.ID, `{"state":"pending"}`)
	assert.Nil(t, tt.ExecutedAt)

	// Red's own times: executed_at is the finish time, started_at the start.
	other := e.addTest("Logged afterwards")
	body := fmt.Sprintf(`{"state":"executed","started_at":%s,"finished_at":%s}`, e.at(-time.Hour), e.at(-50*time.Minute))
	other = e.patch(e.red, other.ID, body)
	assert.Equal(t, e.clock.dbTime(-time.Hour), *other.StartedAt)
	assert.Equal(t, e.clock.dbTime(-50*time.Minute), *other.ExecutedAt)
	// Executed straight from pending without times: started = executed = now.
	third := e.patch(e.red, e.addTest("Quick").ID, `{"state":"executed"}`)
	assert.Equal(t, third.ExecutedAt, third.StartedAt)
	assert.Equal(t, e.clock.dbTime(0), *third.ExecutedAt)
}

// TestRedLogValidation: bad values are 422 naming each field, and change
// nothing.
func TestRedLogValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tt := e.addTest("Validated")
	for body, fields := range map[string][]string{
		`{"source_ip":"10.0.0.300","target_ip":"not an ip"}`:                           {"source_ip", "target_ip"},
		fmt.Sprintf(`{"started_at":%s,"finished_at":%s}`, e.at(0), e.at(-time.Second)): {"finished_at"},
		`{"execution_result":"maybe"}`:                                                 {"execution_result"},
		`{"operator":"` + strings.Repeat("o", 201) + `"}`:                              {"operator"},
		`{"tool":"a\u0000b"}`:                                                          {"tool"},
	} {
		_, err := e.tryPatch(e.red, tt.ID, body)
		requireInvalid(t, err, fields...)
	}
	assert.Equal(t, tt, e.get(tt.ID))
	// And good values stick, IPv6 included; null clears.
	tt = e.patch(e.red, tt.ID, `{"source_ip":"10.0.0.3","target_ip":"fe80::1","execution_result":"blocked"}`)
	assert.Equal(t, "fe80::1", tt.TargetIP)
	assert.Equal(t, "blocked", *tt.ExecutionResult)
	tt = e.patch(e.red, tt.ID, `{"execution_result":null}`)
	assert.Nil(t, tt.ExecutionResult)

	// Planning: assignees must be members; categories must be the mission's.
	_, err := e.tryPatch(e.lead, tt.ID, `{"assigned_red_user_id":"`+e.outsider.UserID+`","assigned_blue_user_id":"nope"}`)
	requireInvalid(t, err, "assigned_red_user_id", "assigned_blue_user_id")
	_, err = e.tryPatch(e.lead, tt.ID, `{"category_id":"`+db.NewID()+`"}`)
	requireInvalid(t, err, "category_id")
	tt = e.patch(e.lead, tt.ID, `{"assigned_red_user_id":"`+e.red.UserID+`","assigned_blue_user_id":"`+e.blue.UserID+`"}`)
	assert.Equal(t, &e.red.UserID, tt.AssignedRedUserID)
	tt = e.patch(e.lead, tt.ID, `{"assigned_red_user_id":null}`)
	assert.Nil(t, tt.AssignedRedUserID)
}

// TestTestOptimisticConcurrency: a patch naming an old version is a 409
// carrying the current test, and changes nothing.
func TestTestOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tt := e.addTest("Contended")
	first := e.patch(e.red, tt.ID, fmt.Sprintf(`{"operator":"alice","version":%d}`, tt.Version))
	assert.Equal(t, tt.Version+1, first.Version)
	_, err := e.tryPatch(e.blue, tt.ID, fmt.Sprintf(`{"blue_notes":"late","version":%d}`, tt.Version))
	ae := requireErr(t, err, apperr.ErrConflict, "version_conflict")
	assert.Equal(t, first.Version, ae.Details["current_version"])
	cur, ok := ae.Details["current"].(missions.Test)
	require.True(t, ok, "the conflict carries the current test: %T", ae.Details["current"])
	assert.Equal(t, "alice", cur.Operator)
	assert.Equal(t, first, e.get(tt.ID))
	// With the current version it goes through.
	second := e.patch(e.blue, tt.ID, fmt.Sprintf(`{"blue_notes":"late","version":%d}`, first.Version))
	assert.Equal(t, "late", second.BlueNotes)
	assert.Equal(t, "alice", second.Operator)
}

func secs(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// TestOutcomeDerivation: blue records per-control outcomes; the test's
// outcome is the best-ranked level, detected_at the earliest time of a
// control whose level counts as detected, and the times to detect count
// from the execution start. Recording outcomes of an executed test makes it
// assessed and tells red and the leads. Runs at two dates far apart: only
// the injected clock matters.
func TestOutcomeDerivation(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 6, 30, 23, 59, 0, 0, time.UTC)} {
		t.Run(at.Format("2006-01-02"), func(t *testing.T) {
			t.Parallel()
			e := newEnvAt(t, at)
			tt := e.addTest("Mimikatz")
			tt = e.patch(e.lead, tt.ID, `{"assigned_red_user_id":"`+e.red.UserID+`","assigned_blue_user_id":"`+e.blue.UserID+`"}`)
			tt = e.patch(e.red, tt.ID, `{"state":"in_progress"}`)
			startedAt := *tt.StartedAt
			e.clock.advance(10 * time.Minute)
			tt = e.patch(e.red, tt.ID, `{"state":"executed"}`)
			require.Equal(t, "executed", tt.State)
			assert.Equal(t, 1, e.count("notifications", dbx.HashExp{"user_id": e.blue.UserID, "kind": "test.executed"}), "blue is told")
			assert.Zero(t, e.count("notifications", dbx.HashExp{"user_id": e.red.UserID, "kind": "test.executed"}), "not the actor")

			e.clock.advance(time.Hour)
			body := fmt.Sprintf(`{"outcomes":[
				{"control":"edr","expected":true,"detection_level":"alerted","alerted_at":%s,"alert_name":"Credential dumping"},
				{"control":"SIEM","detection_level":"logged","logged_at":%s},
				{"control":"AV","detection_level":"none"}]}`, e.at(-57*time.Minute), e.at(-59*time.Minute))
			tt = e.patch(e.blue, tt.ID, body)
			assert.Equal(t, "assessed", tt.State)
			assert.Equal(t, e.clock.dbTime(0), *tt.AssessedAt)
			require.NotNil(t, tt.Outcome)
			assert.Equal(t, "alerted", tt.Outcome.Key, "best rank among alerted, logged, none")
			assert.Equal(t, startedAt.Add(11*time.Minute), tt.DetectedAt.Time, "the SIEM's log is the first detection")
			// Started at S; SIEM logged at S+11m, EDR alerted at S+13m.
			assert.Equal(t, 11*60.0, secs(tt.TimeToLogS))
			assert.Equal(t, 13*60.0, secs(tt.TimeToAlertS))
			assert.Nil(t, tt.TimeToPreventS)
			assert.Equal(t, 11*60.0, secs(tt.TimeToDetectSeconds))
			controls := map[string]missions.Outcome{}
			for _, o := range tt.Outcomes {
				controls[o.Control] = o
			}
			require.Len(t, controls, 3)
			assert.True(t, controls["EDR"].Expected, "control names are the configured ones")
			assert.Equal(t, "Credential dumping", controls["EDR"].AlertName)
			assert.Equal(t, &e.blue.UserID, controls["EDR"].AssessedBy)
			assert.Nil(t, controls["AV"].TimeToAlertS, "none does not count as detected")
			for _, who := range []missions.Caller{e.red, e.lead} {
				assert.Equal(t, 1, e.count("notifications", dbx.HashExp{"user_id": who.UserID, "kind": "test.assessed"}))
			}
			assert.Zero(t, e.count("notifications", dbx.HashExp{"user_id": e.blue.UserID, "kind": "test.assessed"}))

			// The cache on the row is what the board and progress read.
			m, err := e.m.Get(e.ctx, e.viewer, e.mission)
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"alerted": 1}, m.Progress.Outcomes)
			assert.Equal(t, 1, m.Progress.ByState["assessed"])

			// Upgrading AV to blocked (by level id) makes it the outcome;
			// removing EDR (null level) and SIEM leaves blocked without a time.
			blocked := levelID(t, e, "blocked")
			tt = e.patch(e.blue, tt.ID, `{"outcomes":[{"control":"AV","detection_level":"`+blocked+`"}]}`)
			assert.Equal(t, "blocked", tt.Outcome.Key)
			assert.Equal(t, "assessed", tt.State)
			tt = e.patch(e.blue, tt.ID, `{"outcomes":[{"control":"EDR","detection_level":null},{"control":"SIEM","detection_level":null}]}`)
			require.Len(t, tt.Outcomes, 1)
			assert.Equal(t, "blocked", tt.Outcome.Key)
			assert.Nil(t, tt.DetectedAt, "blocked without a time: no detection time")
			assert.Nil(t, tt.TimeToDetectSeconds)
			tt = e.patch(e.blue, tt.ID, `{"outcomes":[{"control":"AV","detection_level":null}]}`)
			assert.Nil(t, tt.Outcome)
			assert.Equal(t, []missions.Outcome{}, tt.Outcomes)
		})
	}
}

func levelID(t *testing.T, e *env, key string) string {
	t.Helper()
	ls, err := e.set.Levels.List(e.ctx)
	require.NoError(t, err)
	for _, l := range ls {
		if l.Key == key {
			return l.ID
		}
	}
	t.Fatalf("no level %s", key)
	return ""
}

// TestOutcomeValidation: unknown controls and levels, repeated controls and
// long text are 422 naming outcomes[i].field; nothing is stored.
func TestOutcomeValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tt := e.toState("executed")
	for body, fields := range map[string][]string{
		`{"outcomes":[{"control":"Magic box","detection_level":"alerted"}]}`:                                         {"outcomes[0].control"},
		`{"outcomes":[{"control":"EDR","detection_level":"spotted"}]}`:                                               {"outcomes[0].detection_level"},
		`{"outcomes":[{"control":"EDR","detection_level":"logged"},{"control":"edr","detection_level":"alerted"}]}`:  {"outcomes[1].control"},
		`{"outcomes":[{"control":"SIEM","detection_level":"logged","notes":"` + strings.Repeat("n", 20_001) + `"}]}`: {"outcomes[0].notes"},
	} {
		_, err := e.tryPatch(e.blue, tt.ID, body)
		inv := requireInvalid(t, err, fields...)
		if strings.Contains(body, "spotted") {
			keys := []string{"alerted", "blocked", "logged", "none", "not_applicable", "tbd"}
			sort.Strings(keys)
			assert.Equal(t, "must be one of: "+strings.Join(keys, ", "), inv.Fields["outcomes[0].detection_level"])
		}
	}
	assert.Zero(t, e.count("mission_test_outcomes", nil))
	assert.Equal(t, tt, e.get(tt.ID), "still executed, nothing recorded")
	// Outcomes on a test not yet executed are kept, but do not assess it.
	p := e.toState("in_progress")
	p = e.patch(e.blue, p.ID, `{"outcomes":[{"control":"EDR","detection_level":"logged"}]}`)
	assert.Equal(t, "in_progress", p.State)
	assert.Equal(t, "logged", p.Outcome.Key)
}
