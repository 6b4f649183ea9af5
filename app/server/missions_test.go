package server

import (
	"encoding/json"
	"fmt"
	"net/url"
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
	// Archived is read-only except for unarchiving (TestMissionReadOnly
	// walks every write).
	rec = e.call("PATCH", e.path(""), `{"name":"renamed"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "mission_read_only", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", e.path("/tests"), `{"name":"x"}`, e.admin)
	require.Equal(t, 409, rec.Code)
	rec = e.call("PATCH", e.path(""), `{"status":"completed"}`, e.admin)
	require.Equal(t, 200, rec.Code)
	rec = e.call("PATCH", e.path(""), `{"status":"bogus"}`, e.admin)
	require.Equal(t, 422, rec.Code)
	// Reopened by its lead, it takes changes again.
	rec = e.call("PATCH", e.path(""), `{"status":"active"}`, e.admin)
	require.Equal(t, 200, rec.Code)

	// Bad input.
	for body, status := range map[string]int{
		`{"name":""}`:                                 422,
		`{"starts_on":"2026-13-45"}`:                  422,
		`{"ends_on":"2026-11-01"}`:                    422, // before starts_on
		`{"name":"` + strings.Repeat("n", 500) + `"}`: 422,
		`{"nope":1}`:                                  400,
		`{"version":1}`:                               409, // stale version
		`{"force":true}`:                              400, // no such field: completing needs no force
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

// scenarioTemplate makes a scenario template of one new test template.
func (e *missionEnv) scenarioTemplate(name string) string {
	e.t.Helper()
	rec := e.call("POST", "/api/v1/test-templates", `{"name":"`+name+` test"}`, e.admin)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	tpl := jsonBody(e.t, rec)["id"].(string)
	rec = e.call("POST", "/api/v1/scenario-templates", fmt.Sprintf(`{"name":%q,"test_template_ids":[%q]}`, name, tpl), e.admin)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	return jsonBody(e.t, rec)["id"].(string)
}

// TestMissionReadOnly: a completed or archived mission answers every write
// to itself, its tests, categories, scenarios, members and evidence with
// 409 mission_read_only until a lead reopens it; reads keep working and
// the status can still change (and the mission be deleted).
func TestMissionReadOnly(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	tid := e.adhoc("Frozen", `[]`)
	other := e.adhoc("Other", `[]`)
	rec := e.call("POST", e.path("/categories"), `{"name":"Initial access"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	cid := jsonBody(t, rec)["id"].(string)
	scenario := e.scenarioTemplate("Frozen scenario")
	rec = e.call("POST", e.path("/scenarios"), `{"scenario_template_id":"`+scenario+`"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	sid := jsonBody(t, rec)["scenario"].(map[string]any)["id"].(string)
	lateID, _ := e.user("late@example.com", groupRed)
	for _, st := range []string{"active", "completed"} {
		require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"`+st+`"}`, e.admin).Code)
	}
	writes := []struct{ method, path, body, token string }{
		{"PATCH", "", `{"name":"Renamed"}`, e.admin},
		{"PATCH", "", `{"name":"Renamed","status":"active"}`, e.admin},
		{"POST", "/tests", `{"name":"Late test"}`, e.admin},
		{"PATCH", "/tests/" + tid, `{"state":"executed"}`, e.red},
		{"PATCH", "/tests/" + tid, `{"blue_notes":"late"}`, e.blue},
		{"PATCH", "/tests/" + tid, `{"name":"Renamed test"}`, e.admin},
		{"PATCH", "/tests/" + tid, `{"argument_values":{}}`, e.red},
		{"DELETE", "/tests/" + tid, "", e.admin},
		{"PUT", "/tests/order", fmt.Sprintf(`{"test_ids":[%q,%q]}`, other, tid), e.admin},
		{"POST", "/categories", `{"name":"Late"}`, e.admin},
		{"PATCH", "/categories/" + cid, `{"name":"Renamed"}`, e.admin},
		{"DELETE", "/categories/" + cid, "", e.admin},
		{"POST", "/scenarios", `{"scenario_template_id":"` + scenario + `"}`, e.admin},
		{"DELETE", "/scenarios/" + sid, "", e.admin},
		{"POST", "/members", fmt.Sprintf(`{"user_id":%q,"role":"red"}`, lateID), e.admin},
		{"PATCH", "/members/" + e.redID, `{"role":"blue"}`, e.admin},
		{"DELETE", "/members/" + e.blueID, "", e.admin},
	}
	check := func(status string) {
		t.Helper()
		for _, w := range writes {
			rec := e.call(w.method, e.path(w.path), w.body, w.token)
			require.Equal(t, 409, rec.Code, "%s %s %s (%s): %s", w.method, w.path, w.body, status, rec.Body.String())
			env := decodeErr(t, rec)
			assert.Equal(t, "mission_read_only", env.Error.Code)
			assert.Equal(t, status, env.Error.Details["status"])
			assert.Contains(t, env.Error.Message, "reopen")
		}
	}
	check("completed")
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"archived"}`, e.admin).Code)
	check("archived")
	// Reads work; only leads change the status.
	assert.Equal(t, 200, e.call("GET", e.path("/tests/"+tid), "", e.blue).Code)
	assert.Equal(t, 200, e.call("GET", e.path("/members"), "", e.viewer).Code)
	assert.Equal(t, 403, e.call("PATCH", e.path(""), `{"status":"completed"}`, e.red).Code)
	// Unarchived it is still completed, so still read-only; reopened it takes changes.
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"completed"}`, e.admin).Code)
	check("completed")
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"active"}`, e.admin).Code)
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"state":"executed"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.path(""), `{"name":"Renamed"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	// Completing with open tests succeeds (the SPA asks first); the audit
	// event records what was still open.
	rec = e.call("PATCH", e.path(""), `{"status":"completed"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var details string
	require.NoError(t, e.db.Read.NewQuery(`SELECT details FROM audit_events WHERE action = 'mission.update' AND object_id = {:id}
		ORDER BY at DESC, id DESC LIMIT 1`).Bind(map[string]any{"id": e.missionID}).Row(&details))
	var d struct {
		Open map[string]int `json:"open_tests"`
	}
	require.NoError(t, json.Unmarshal([]byte(details), &d), details)
	assert.Equal(t, map[string]int{"executed": 1, "in_progress": 0, "pending": 2}, d.Open, "Other and the scenario's test")
	// A finished mission can still be deleted (mission.delete, lead).
	assert.Equal(t, 204, e.call("DELETE", e.path(""), "", e.admin).Code)
}

// TestMissionTestAtomicArguments: an Atomic test keeps its input arguments,
// prerequisites, executor and cleanup from the YAML through the template
// into the mission; red fills in values (validated, audited) and the test
// renders its commands with them.
func TestMissionTestAtomicArguments(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	rec := e.postMultipart(atomicsPath, e.admin, uploadFile{name: "T1003.001.yaml", data: atomicYAML(t, "T1003.001")})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("GET", "/api/v1/test-templates?q="+url.QueryEscape("Dump LSASS.exe Memory using ProcDump"), "", e.admin)
	require.Equal(t, 200, rec.Code)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	var tpl map[string]any
	for _, it := range list.Items {
		if it["name"] == "Dump LSASS.exe Memory using ProcDump" {
			tpl = it
		}
	}
	require.NotNil(t, tpl, rec.Body.String())
	rec = e.call("GET", "/api/v1/test-templates/"+tpl["id"].(string), "", e.admin)
	require.Equal(t, 200, rec.Code)
	tpl = jsonBody(t, rec)
	args := []any{
		map[string]any{"name": "output_file", "description": "Path where resulting dump should be placed", "type": "path", "default": `C:\Windows\Temp\lsass_dump.dmp`},
		map[string]any{"name": "procdump_exe", "description": "Path of Procdump executable", "type": "path", "default": `PathToAtomicsFolder\..\ExternalPayloads\procdump.exe`},
	}
	assert.Equal(t, args, tpl["input_arguments"])
	assert.Equal(t, "command_prompt", tpl["executor"])
	assert.Equal(t, "powershell", tpl["prerequisites_executor"])
	assert.Equal(t, "del \"#{output_file}\" >nul 2> nul\n", tpl["cleanup_command"])
	pre := tpl["prerequisites"].([]any)[0].(map[string]any)
	assert.Contains(t, pre["description"], "ProcDump tool from Sysinternals must exist on disk at specified location (#{procdump_exe})")
	assert.Equal(t, "if (Test-Path \"#{procdump_exe}\") {exit 0} else {exit 1}\n", pre["prereq_command"])
	assert.Contains(t, pre["get_prereq_command"], `Copy-Item "PathToAtomicsFolder\..\ExternalPayloads\Procdump\Procdump.exe" "#{procdump_exe}" -Force`)

	rec = e.call("POST", e.path("/tests"), `{"test_template_id":"`+tpl["id"].(string)+`"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	mt := jsonBody(t, rec)
	tid := mt["id"].(string)
	for _, k := range []string{"input_arguments", "prerequisites", "prerequisites_executor", "executor", "cleanup_command", "elevation_required"} {
		assert.Equal(t, tpl[k], mt[k], k)
	}
	assert.Equal(t, tpl["command"], mt["command_template"])
	assert.Equal(t, map[string]any{}, mt["argument_values"])
	rendered := mt["rendered"].(map[string]any)
	assert.Equal(t, "\"PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe\" -accepteula -ma lsass.exe C:\\Windows\\Temp\\lsass_dump.dmp\n", rendered["command"])
	assert.Equal(t, "del \"C:\\Windows\\Temp\\lsass_dump.dmp\" >nul 2> nul\n", rendered["cleanup_command"])
	rp := rendered["prerequisites"].([]any)[0].(map[string]any)
	assert.Equal(t, "if (Test-Path \"PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe\") {exit 0} else {exit 1}\n", rp["prereq_command"])
	assert.NotContains(t, rp["get_prereq_command"], "#{")
	assert.Equal(t, []any{}, rendered["unfilled"])

	// Red fills in a value; the command uses it, the other keeps its default.
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"argument_values":{"output_file":"D:\\dumps\\l.dmp","procdump_exe":""}}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	mt = jsonBody(t, rec)
	assert.Equal(t, map[string]any{"output_file": `D:\dumps\l.dmp`}, mt["argument_values"], "an empty value means the default: not kept")
	assert.Equal(t, "\"PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe\" -accepteula -ma lsass.exe D:\\dumps\\l.dmp\n",
		mt["rendered"].(map[string]any)["command"])
	var details string
	require.NoError(t, e.db.Read.NewQuery(`SELECT details FROM audit_events WHERE action = 'mission_test.update' AND object_id = {:id}`).
		Bind(map[string]any{"id": tid}).Row(&details))
	var d map[string]any
	require.NoError(t, json.Unmarshal([]byte(details), &d), details)
	assert.Equal(t, map[string]any{"before": map[string]any{}, "after": map[string]any{"output_file": `D:\dumps\l.dmp`}}, d["argument_values"])

	// Only declared arguments; only red (or a lead) fills them in.
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"argument_values":{"nope":"x"}}`, e.red)
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"argument_values.nope":"is not an input argument of this test"`)
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"argument_values":{"output_file":"x"}}`, e.blue)
	require.Equal(t, 403, rec.Code)
	assert.Equal(t, 400, e.call("PATCH", e.path("/tests/"+tid), `{"argument_values":{"output_file":5}}`, e.red).Code, "values are text")
	// null clears them all.
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"argument_values":null}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, map[string]any{}, jsonBody(t, rec)["argument_values"])

	// Typed arguments are checked; one without a default is reported unfilled.
	rec = e.call("POST", "/api/v1/test-templates", `{"name":"Ping sweep","command":"ping -n #{count} #{target}",
		"input_arguments":[{"name":"count","type":"integer","default":4},{"name":"target","type":"string","default":null}]}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	rec = e.call("POST", e.path("/tests"), `{"test_template_id":"`+jsonBody(t, rec)["id"].(string)+`"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	mt = jsonBody(t, rec)
	assert.Equal(t, "ping -n 4 #{target}", mt["rendered"].(map[string]any)["command"])
	assert.Equal(t, []any{"target"}, mt["rendered"].(map[string]any)["unfilled"])
	rec = e.call("PATCH", e.path("/tests/"+mt["id"].(string)), `{"argument_values":{"count":"many"}}`, e.red)
	require.Equal(t, 422, rec.Code)
	assert.Contains(t, rec.Body.String(), `"argument_values.count":"must be a whole number"`)
	rec = e.call("PATCH", e.path("/tests/"+mt["id"].(string)), `{"argument_values":{"count":"2","target":"10.0.0.5"}}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, "ping -n 2 10.0.0.5", jsonBody(t, rec)["rendered"].(map[string]any)["command"])
}

// TestNamesNotEmails: notifications and the audit log name people; the
// e-mail stays available beside the name.
func TestNamesNotEmails(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	tid := e.adhoc("Named", `[]`)
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"active"}`, e.admin).Code)
	rec := e.call("PATCH", e.path("/tests/"+tid), `{"state":"executed"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("GET", "/api/v1/notifications", "", e.blue)
	require.Equal(t, 200, rec.Code)
	var ns struct {
		Items []struct {
			Kind    string         `json:"kind"`
			Payload map[string]any `json:"payload"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ns))
	found := false
	for _, n := range ns.Items {
		switch n.Kind {
		case "test.executed":
			found = true
			assert.Equal(t, "red", n.Payload["by"], "the display name")
			assert.Equal(t, "red@example.com", n.Payload["by_email"])
			assert.Equal(t, e.redID, n.Payload["by_user_id"])
		case "mission.member_added", "mission.status_changed":
			assert.Equal(t, "Admin", n.Payload["by"], n.Kind)
			assert.Equal(t, adminEmail, n.Payload["by_email"], n.Kind)
		}
	}
	assert.True(t, found, rec.Body.String())

	rec = e.call("GET", "/api/v1/audit?action=mission.member_set&object_id="+e.missionID, "", e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var page struct {
		Items []struct {
			ActorName  string         `json:"actor_name"`
			ActorLabel string         `json:"actor_label"`
			Details    map[string]any `json:"details"`
		} `json:"items"`
		Users map[string]struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"users"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Items, 3)
	for _, it := range page.Items {
		assert.Equal(t, "Admin", it.ActorName)
		assert.Equal(t, adminEmail, it.ActorLabel, "the e-mail stays")
		uid := it.Details["user_id"].(string)
		assert.NotEmpty(t, page.Users[uid].Name, "the member named in the details is named")
	}
	assert.Equal(t, "red", page.Users[e.redID].Name)
	assert.Equal(t, "red@example.com", page.Users[e.redID].Email)
	assert.Equal(t, "Admin", page.Users[e.adminID].Name)
}
