package server

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// missionEnv is an instance with the small catalogue, a lead (the admin), a
// red and a blue user, a viewer and an outsider, and one mission.
type missionEnv struct {
	*apiEnv
	admin, red, blue, viewer, outsider string
	redID, blueID, viewerID            string
	missionID                          string
}

func newMissionEnv(t *testing.T, cfg ...func(*apiEnvConfig)) *missionEnv {
	t.Helper()
	e := &missionEnv{apiEnv: newAPIEnv(t, cfg...)}
	e.admin = e.setupAdmin()
	e.syncSmall(e.admin)
	e.redID, e.red = e.user("red@example.com", groupRed)
	e.blueID, e.blue = e.user("blue@example.com", groupBlue)
	e.viewerID, e.viewer = e.user("viewer@example.com", groupViewers)
	_, e.outsider = e.user("outsider@example.com", groupRed)
	rec := e.call("POST", "/api/v1/missions", `{"name":"Op Purple","starts_on":"2026-12-01","ends_on":"2026-12-05"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	e.missionID = jsonBody(t, rec)["id"].(string)
	for id, role := range map[string]string{e.redID: "red", e.blueID: "blue", e.viewerID: "viewer"} {
		rec := e.call("POST", "/api/v1/missions/"+e.missionID+"/members", fmt.Sprintf(`{"user_id":"%s","role":"%s"}`, id, role), e.admin)
		require.Equal(t, 201, rec.Code, rec.Body.String())
	}
	return e
}

func (e *missionEnv) path(p string) string { return "/api/v1/missions/" + e.missionID + p }

// adhoc adds an ad-hoc test and returns its id.
func (e *missionEnv) adhoc(name string, tags string) string {
	e.t.Helper()
	rec := e.call("POST", e.path("/tests"), fmt.Sprintf(`{"name":%q,"mitre_tags":%s}`, name, tags), e.admin)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	return jsonBody(e.t, rec)["id"].(string)
}

func TestMissionLifecycle(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	rec := e.call("GET", e.path(""), "", e.admin)
	require.Equal(t, 200, rec.Code)
	m := jsonBody(t, rec)
	assert.Equal(t, "planned", m["status"])
	assert.Equal(t, "lead", m["my_role"], "the creator leads")

	rec = e.call("PATCH", e.path(""), `{"status":"completed"}`, e.admin)
	require.Equal(t, 409, rec.Code, "planned cannot jump to completed")
	assert.Equal(t, "invalid_transition", decodeErr(t, rec).Error.Code)
	for _, st := range []string{"active", "completed", "archived"} {
		rec = e.call("PATCH", e.path(""), `{"status":"`+st+`"}`, e.admin)
		require.Equal(t, 200, rec.Code, rec.Body.String())
	}
	// Archived is read-only except for unarchiving.
	rec = e.call("PATCH", e.path(""), `{"name":"renamed"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "mission_archived", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", e.path("/tests"), `{"name":"x"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	rec = e.call("PATCH", e.path(""), `{"status":"completed"}`, e.admin)
	require.Equal(t, 200, rec.Code)
	rec = e.call("PATCH", e.path(""), `{"status":"bogus"}`, e.admin)
	require.Equal(t, 422, rec.Code)

	// Bad input.
	for body, status := range map[string]int{
		`{"name":""}`:                                 422,
		`{"starts_on":"2026-13-45"}`:                  422,
		`{"ends_on":"2026-11-01"}`:                    422, // before starts_on
		`{"name":"` + strings.Repeat("n", 500) + `"}`: 422,
		`{"nope":1}`:                                  400,
		`{"version":1}`:                               409, // stale version
	} {
		rec := e.call("PATCH", e.path(""), body, e.admin)
		assert.Equal(t, status, rec.Code, body)
	}
	// Field problems are label-free human predicates: the SPA puts the
	// field's label in front ("End date must not be before the start date.").
	rec = e.call("PATCH", e.path(""), `{"ends_on":"2026-11-01"}`, e.admin)
	require.Equal(t, 422, rec.Code)
	details := jsonBody(t, rec)["error"].(map[string]any)["details"].(map[string]any)
	assert.Equal(t, "must not be before the start date", details["ends_on"])
	// Red cannot change the mission.
	rec = e.call("PATCH", e.path(""), `{"name":"mine"}`, e.red)
	require.Equal(t, 403, rec.Code)
	// Soft delete hides it.
	require.Equal(t, 204, e.call("DELETE", e.path(""), "", e.admin).Code)
	assert.Equal(t, 404, e.call("GET", e.path(""), "", e.admin).Code)
}

func TestMissionVisibility(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	rec := e.call("GET", "/api/v1/missions", "", e.outsider)
	require.Equal(t, 200, rec.Code)
	assert.EqualValues(t, 0, jsonBody(t, rec)["total"], "non-members see nothing")
	assert.Equal(t, 404, e.call("GET", e.path(""), "", e.outsider).Code, "existence does not leak")
	assert.Equal(t, 404, e.call("GET", e.path("/tests"), "", e.outsider).Code)
	rec = e.call("GET", "/api/v1/missions", "", e.red)
	assert.EqualValues(t, 1, jsonBody(t, rec)["total"])
	assert.Contains(t, rec.Body.String(), `"my_role":"red"`)
	// Admins hold mission.read_all.
	other := e.login(adminEmail, adminPassword)
	rec = e.call("POST", "/api/v1/missions", `{"name":"Red only"}`, e.red)
	assert.Equal(t, 403, rec.Code, "Red team cannot create missions")
	rec = e.call("GET", "/api/v1/missions", "", other)
	assert.EqualValues(t, 1, jsonBody(t, rec)["total"])
	// Members list and role changes; the last lead is protected.
	rec = e.call("GET", e.path("/members"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.EqualValues(t, 4, jsonBody(t, rec)["total"])
	rec = e.call("PATCH", e.path("/members/"+e.adminID), `{"role":"red"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "last_lead", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", e.path("/members"), `{"user_id":"`+e.viewerID+`","role":"boss"}`, e.admin)
	require.Equal(t, 422, rec.Code)
	rec = e.call("POST", e.path("/members"), `{"user_id":"`+db.NewID()+`","role":"red"}`, e.admin)
	require.Equal(t, 422, rec.Code)
	rec = e.call("POST", e.path("/members"), `{"user_id":"`+e.viewerID+`","role":"blue"}`, e.red)
	require.Equal(t, 403, rec.Code, "red holds no manage_members")
	require.Equal(t, 204, e.call("DELETE", e.path("/members/"+e.viewerID), "", e.admin).Code)
	assert.Equal(t, 404, e.call("GET", e.path(""), "", e.viewer).Code, "removed members lose access")
}

func TestScenarioInstantiationCopiesTagsAndOrder(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	mk := func(name, tag string) string {
		rec := e.call("POST", "/api/v1/test-templates", `{"name":"`+name+`","mitre_tags":[{"external_id":"`+tag+`"}]}`, e.admin)
		require.Equal(t, 201, rec.Code, rec.Body.String())
		return jsonBody(t, rec)["id"].(string)
	}
	a, b, c := mk("A", "T1059.001"), mk("B", "T1053"), mk("C", "T1547.001")
	rec := e.call("POST", "/api/v1/scenario-templates", fmt.Sprintf(`{"name":"Play","test_template_ids":["%s","%s","%s","%s"]}`, b, a, c, b), e.admin)
	require.Equal(t, 201, rec.Code)
	sid := jsonBody(t, rec)["id"].(string)
	require.Equal(t, 204, e.call("DELETE", "/api/v1/test-templates/"+c, "", e.admin).Code)

	rec = e.call("POST", e.path("/scenarios"), `{"scenario_template_id":"`+sid+`"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	res := jsonBody(t, rec)
	assert.Len(t, res["test_ids"], 3)
	skipped := res["skipped"].([]any)
	require.Len(t, skipped, 1, "the deleted template is skipped and reported")
	assert.Equal(t, "C", skipped[0].(map[string]any)["name"])

	rec = e.call("GET", e.path("/tests"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	var page struct {
		Items []struct {
			Name      string `json:"name"`
			Position  int    `json:"position"`
			State     string `json:"state"`
			MitreTags []struct {
				ExternalID string `json:"external_id"`
				Name       string `json:"name"`
			} `json:"mitre_tags"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	names := []string{}
	for _, it := range page.Items {
		names = append(names, it.Name)
		assert.Equal(t, "pending", it.State)
	}
	assert.Equal(t, []string{"B", "A", "B"}, names, "order kept, repeats kept")
	assert.Equal(t, "PowerShell", page.Items[1].MitreTags[0].Name)

	// A catalogue re-sync that drops the technique does not rewrite history.
	full, err := os.ReadFile(attackFile(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	var bundle map[string]any
	require.NoError(t, json.Unmarshal(full, &bundle))
	objs := bundle["objects"].([]any)
	kept := []any{}
	for _, o := range objs {
		m := o.(map[string]any)
		if m["name"] == "PowerShell" {
			continue // T1059.001 vanishes from the catalogue
		}
		kept = append(kept, o)
	}
	bundle["objects"] = kept
	smaller, _ := json.Marshal(bundle)
	rec = e.uploadBundle(e.admin, smaller, map[string]string{"allow_unverified": "true"})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("GET", e.path("/tests"), "", e.viewer)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	assert.Equal(t, "T1059.001", page.Items[1].MitreTags[0].ExternalID)
	assert.Equal(t, "PowerShell", page.Items[1].MitreTags[0].Name, "mission tags are copies")

	// Tactic filter on the board.
	rec = e.call("GET", e.path("/tests?tactic=persistence"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.EqualValues(t, 2, jsonBody(t, rec)["total"], "T1053 is in persistence")
	rec = e.call("GET", e.path("/tests?tactic=TA0003"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.EqualValues(t, 2, jsonBody(t, rec)["total"], "by external id too")
	rec = e.call("GET", e.path("/tests?tactic=nope"), "", e.viewer)
	require.Equal(t, 422, rec.Code)
	assert.Equal(t, "unknown_tactic", decodeErr(t, rec).Error.Code)
}

func TestRedBlueWorkflow(t *testing.T) {
	t.Parallel()
	redBlueWorkflow(t, newMissionEnv(t))
}

// The workflow on any date: every time the services and the test use comes
// from the injected clock, so a date far from today changes nothing.
func TestRedBlueWorkflowOnAnyDate(t *testing.T) {
	t.Parallel()
	for _, start := range []time.Time{
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2035, 6, 30, 23, 55, 0, 0, time.UTC), // the test crosses midnight
	} {
		t.Run(start.Format("2006-01-02"), func(t *testing.T) {
			t.Parallel()
			e := newMissionEnv(t, withClockAt(start))
			redBlueWorkflow(t, e)
			var executed string
			require.NoError(t, e.db.Read.NewQuery("SELECT executed_at FROM mission_tests WHERE executed_at IS NOT NULL").Row(&executed))
			assert.True(t, strings.HasPrefix(executed, start.Format("2006-")), "stored on the clock's date: %s", executed)
		})
	}
}

func redBlueWorkflow(t *testing.T, e *missionEnv) {
	tid := e.adhoc("whoami", `[{"external_id":"T1059"}]`)
	tp := e.path("/tests/" + tid)

	// Field-level enforcement.
	rec := e.call("PATCH", tp, `{"blue_notes":"seen"}`, e.red)
	require.Equal(t, 403, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Message, "blue_notes")
	rec = e.call("PATCH", tp, `{"command":"whoami","outcomes":[]}`, e.blue)
	require.Equal(t, 403, rec.Code)
	d := decodeErr(t, rec).Error.Details
	assert.Equal(t, []any{"command"}, d["fields"])
	rec = e.call("PATCH", tp, `{"state":"executed"}`, e.viewer)
	require.Equal(t, 403, rec.Code)
	rec = e.call("PATCH", tp, `{"name":"renamed"}`, e.red)
	require.Equal(t, 403, rec.Code, "planning fields are the lead's")

	// Red executes with a full operator log.
	rec = e.call("PATCH", tp, `{"state":"in_progress","operator":"alice","source_host":"kali","source_ip":"10.0.0.5",
		"target_host":"ws01","target_ip":"10.0.0.20","tool":"cmd","user_context":"CORP\\bob","version":1}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	started, err := time.Parse(time.RFC3339, jsonBody(t, rec)["started_at"].(string))
	require.NoError(t, err, "in_progress sets the start")
	// Times come from the clock: finished ten minutes after the start,
	// logged two and alerted five minutes after the finish.
	finished := e.clock.at(10 * time.Minute)
	logged, alerted := e.clock.at(12*time.Minute), e.clock.at(15*time.Minute)
	rec = e.call("PATCH", tp, `{"state":"executed","command":"whoami /all","output":"corp\\bob","execution_result":"succeeded",
		"finished_at":"`+finished+`","version":2}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got := jsonBody(t, rec)
	assert.Equal(t, "executed", got["state"])
	assert.Equal(t, "whoami /all", got["command"])
	assert.Equal(t, finished, got["executed_at"])
	rec = e.call("PATCH", tp, `{"finished_at":"`+e.clock.at(-time.Hour)+`"}`, e.red)
	require.Equal(t, 422, rec.Code, "finished before it started")
	assert.Contains(t, decodeErr(t, rec).Error.Details, "finished_at")

	// Optimistic concurrency: a stale version is 409 with the current state.
	rec = e.call("PATCH", tp, `{"red_notes":"late","version":2}`, e.red)
	require.Equal(t, 409, rec.Code)
	ce := decodeErr(t, rec).Error
	assert.Equal(t, "version_conflict", ce.Code)
	assert.EqualValues(t, 3, ce.Details["current_version"])
	assert.NotNil(t, ce.Details["current"])
	rec = e.call("PATCH", tp, `{"red_notes":"late"}`, e.red, "If-Match", `"2"`)
	require.Equal(t, 409, rec.Code, "If-Match works too")

	// Blue records per-control outcomes: EDR alerted, SIEM logged, AV none.
	rec = e.call("PATCH", tp, `{"outcomes":[
		{"control":"edr","expected":true,"detection_level":"alerted","alerted_at":"`+alerted+`","alert_name":"Suspicious whoami"},
		{"control":"SIEM","detection_level":"logged","logged_at":"`+logged+`"},
		{"control":"AV","detection_level":"none"}],"version":3}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got = jsonBody(t, rec)
	assert.Equal(t, "assessed", got["state"], "executed → assessed when blue saves an outcome")
	assert.Equal(t, "alerted", got["outcome"].(map[string]any)["key"], "best-ranked level wins")
	assert.Equal(t, logged, got["detected_at"], "earliest time of a detecting control")
	// Times count from the start (started_at), not from executed_at.
	sinceStart := func(ts string) float64 {
		v, err := time.Parse(time.RFC3339, ts)
		require.NoError(t, err)
		return v.Sub(started).Seconds()
	}
	assert.InDelta(t, sinceStart(logged), got["time_to_detect_seconds"], 0.001)
	assert.InDelta(t, sinceStart(logged), got["time_to_log_s"], 0.001)
	assert.InDelta(t, sinceStart(alerted), got["time_to_alert_s"], 0.001)
	assert.Nil(t, got["time_to_prevent_s"], "nothing prevented")
	outcomes := got["outcomes"].([]any)
	require.Len(t, outcomes, 3)
	byControl := map[string]map[string]any{}
	for _, o := range outcomes {
		byControl[o.(map[string]any)["control"].(string)] = o.(map[string]any)
	}
	assert.Equal(t, "EDR", outcomes[1].(map[string]any)["control"], "control names are canonical")
	assert.InDelta(t, sinceStart(alerted), byControl["EDR"]["time_to_alert_s"], 0.001)
	assert.Nil(t, byControl["EDR"]["time_to_log_s"])
	assert.InDelta(t, sinceStart(logged), byControl["SIEM"]["time_to_log_s"], 0.001)
	assert.Nil(t, byControl["AV"]["time_to_log_s"], "none: nothing detected")
	assert.Nil(t, byControl["AV"]["time_to_alert_s"])
	board := jsonBody(t, e.call("GET", e.path("/tests"), "", e.viewer))["items"].([]any)[0].(map[string]any)
	assert.Equal(t, got["time_to_alert_s"], board["time_to_alert_s"], "the board shows the same times")

	// Bad outcome input: unknown control and level are named; nothing changes.
	rec = e.call("PATCH", tp, `{"outcomes":[{"control":"Toaster","detection_level":"alerted"},{"control":"DLP","detection_level":"maybe"}]}`, e.blue)
	require.Equal(t, 422, rec.Code)
	d = decodeErr(t, rec).Error.Details
	assert.Contains(t, d, "outcomes[0].control")
	assert.Contains(t, d, "outcomes[1].detection_level")
	assert.Equal(t, 3, dbtest.Count(t, e.db, "mission_test_outcomes"))

	// Removing the alerting control changes the derived outcome.
	rec = e.call("PATCH", tp, `{"outcomes":[{"control":"EDR","detection_level":null}]}`, e.blue)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "logged", jsonBody(t, rec)["outcome"].(map[string]any)["key"])

	// Invalid transitions and bad red input.
	rec = e.call("PATCH", tp, `{"state":"pending"}`, e.red)
	require.Equal(t, 409, rec.Code, "assessed → pending is not allowed")
	rec = e.call("PATCH", tp, `{"source_ip":"not-an-ip","execution_result":"exploded"}`, e.red)
	require.Equal(t, 422, rec.Code)
	d = decodeErr(t, rec).Error.Details
	assert.Contains(t, d, "source_ip")
	assert.Contains(t, d, "execution_result")
	other := e.adhoc("other", `[]`)
	rec = e.call("PATCH", e.path("/tests/"+other), `{"state":"assessed"}`, e.red)
	require.Equal(t, 409, rec.Code, "only blue's outcome makes a test assessed")
	rec = e.call("PATCH", e.path("/tests/"+other), `{"state":"skipped"}`, e.red)
	require.Equal(t, 422, rec.Code, "skipping needs a reason")
	rec = e.call("PATCH", e.path("/tests/"+other), `{"state":"skipped","skip_reason":"out of scope"}`, e.red)
	require.Equal(t, 200, rec.Code)

	// Notifications: blue was told about the execution, red about the assessment.
	var kinds []string
	require.NoError(t, e.db.Read.NewQuery("SELECT kind FROM notifications WHERE user_id = {:u} ORDER BY created_at").
		Bind(map[string]any{"u": e.blueID}).Column(&kinds))
	assert.Contains(t, kinds, "test.executed")
	require.NoError(t, e.db.Read.NewQuery("SELECT kind FROM notifications WHERE user_id = {:u} ORDER BY created_at").
		Bind(map[string]any{"u": e.redID}).Column(&kinds))
	assert.Contains(t, kinds, "test.assessed")

	// Mission progress reflects it.
	rec = e.call("GET", e.path(""), "", e.viewer)
	prog := jsonBody(t, rec)["progress"].(map[string]any)
	assert.EqualValues(t, 2, prog["total"])
	assert.EqualValues(t, 1, prog["by_state"].(map[string]any)["assessed"])
	assert.EqualValues(t, 1, prog["outcomes"].(map[string]any)["logged"])

	// Audit trail of mission writes.
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'mission_test.update'").Row(&n))
	assert.GreaterOrEqual(t, n, 5)
}

func TestMissionTestsReorderCategoriesDelete(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	a, b, c := e.adhoc("a", "[]"), e.adhoc("b", "[]"), e.adhoc("c", "[]")
	rec := e.call("PUT", e.path("/tests/order"), fmt.Sprintf(`{"test_ids":["%s","%s","%s"]}`, c, a, b), e.admin)
	require.Equal(t, 204, rec.Code, rec.Body.String())
	order := func() string {
		rec := e.call("GET", e.path("/tests"), "", e.admin)
		var p struct {
			Items []struct{ Name string } `json:"items"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		s := ""
		for _, it := range p.Items {
			s += it.Name
		}
		return s
	}
	assert.Equal(t, "cab", order())
	rec = e.call("PUT", e.path("/tests/order"), fmt.Sprintf(`{"test_ids":["%s","%s"]}`, c, a), e.admin)
	require.Equal(t, 422, rec.Code, "every live test exactly once")
	rec = e.call("PUT", e.path("/tests/order"), fmt.Sprintf(`{"test_ids":["%s","%s","%s"]}`, c, c, a), e.admin)
	require.Equal(t, 422, rec.Code)
	assert.Equal(t, "cab", order(), "a failed reorder changes nothing")
	require.Equal(t, 403, e.call("PUT", e.path("/tests/order"), fmt.Sprintf(`{"test_ids":["%s","%s","%s"]}`, a, b, c), e.red).Code)

	// Delete one, then reorder the rest and add another: positions stay unique.
	require.Equal(t, 204, e.call("DELETE", e.path("/tests/"+a), "", e.admin).Code)
	rec = e.call("PUT", e.path("/tests/order"), fmt.Sprintf(`{"test_ids":["%s","%s"]}`, b, c), e.admin)
	require.Equal(t, 204, rec.Code, rec.Body.String())
	e.adhoc("d", "[]")
	assert.Equal(t, "bcd", order())

	// Categories.
	rec = e.call("POST", e.path("/categories"), `{"name":"Initial access","color":"#7c3aed"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	cat := jsonBody(t, rec)["id"].(string)
	rec = e.call("POST", e.path("/categories"), `{"name":"initial ACCESS"}`, e.admin)
	require.Equal(t, 409, rec.Code, "names are unique per mission, case-insensitively")
	rec = e.call("POST", e.path("/categories"), `{"name":"x","color":"red"}`, e.admin)
	require.Equal(t, 422, rec.Code)
	rec = e.call("PATCH", e.path("/tests/"+b), `{"category_id":"`+cat+`"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("GET", e.path("/tests?category="+cat), "", e.admin)
	assert.EqualValues(t, 1, jsonBody(t, rec)["total"])
	require.Equal(t, 204, e.call("DELETE", e.path("/categories/"+cat), "", e.admin).Code)
	rec = e.call("GET", e.path("/tests/"+b), "", e.admin)
	assert.Nil(t, jsonBody(t, rec)["category_id"], "tests of a deleted category become uncategorised")
	rec = e.call("PATCH", e.path("/tests/"+b), `{"category_id":"`+db.NewID()+`"}`, e.admin)
	require.Equal(t, 422, rec.Code)

	// Malformed ids are 404.
	assert.Equal(t, 404, e.call("GET", "/api/v1/missions/nope/tests/also-nope", "", e.admin).Code)
	assert.Equal(t, 404, e.call("GET", e.path("/tests/"+db.NewID()), "", e.admin).Code)

}
