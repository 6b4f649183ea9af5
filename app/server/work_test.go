package server

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type workAnswer struct {
	Missions struct {
		Items []struct {
			ID       string `json:"id"`
			MyRole   string `json:"my_role"`
			Progress struct {
				Total int `json:"total"`
			} `json:"progress"`
		} `json:"items"`
		Total int `json:"total"`
	} `json:"missions"`
	Roles     []string `json:"roles"`
	ToExecute workList `json:"to_execute"`
	ToAssess  workList `json:"to_assess"`
	ToReview  workList `json:"to_review"`
	Notif     struct {
		Items  []map[string]any `json:"items"`
		Unread int              `json:"unread"`
	} `json:"notifications"`
	Catalogue map[string]any `json:"catalogue"`
}

type workList struct {
	Items []struct {
		TestID       string         `json:"test_id"`
		TestName     string         `json:"test_name"`
		MissionName  string         `json:"mission_name"`
		Role         string         `json:"role"`
		AssignedToMe bool           `json:"assigned_to_me"`
		Outcome      map[string]any `json:"outcome"`
	} `json:"items"`
	Total int `json:"total"`
}

func (l workList) names() []string {
	out := []string{}
	for _, it := range l.Items {
		out = append(out, it.TestName)
	}
	return out
}

func (e *missionEnv) work(token string) workAnswer {
	e.t.Helper()
	rec := e.call("GET", "/api/v1/me/work", "", token)
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	var w workAnswer
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &w), rec.Body.String())
	return w
}

// TestMyWork: Home's one call gathers, per role, the tests waiting for the
// caller, their open missions, recent notifications and the catalogue.
func TestMyWork(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	pending := e.adhoc("Pending one", `[]`)
	executed := e.adhoc("Executed one", `[]`)
	assessed := e.adhoc("Assessed one", `[]`)
	mine := e.adhoc("Assigned to blue as red", `[]`)
	_ = pending
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"active"}`, e.admin).Code)
	for _, id := range []string{executed, assessed} {
		rec := e.call("PATCH", e.path("/tests/"+id), `{"state":"executed"}`, e.red)
		require.Equal(t, 200, rec.Code, rec.Body.String())
	}
	rec := e.call("PATCH", e.path("/tests/"+assessed), `{"outcomes":[{"control":"EDR","detection_level":"alerted"}]}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.path("/tests/"+mine), fmt.Sprintf(`{"assigned_red_user_id":%q}`, e.blueID), e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())

	red := e.work(e.red)
	assert.Equal(t, []string{"red"}, red.Roles)
	assert.ElementsMatch(t, []string{"Pending one"}, red.ToExecute.names(), "unassigned pending tests of a red member; not one assigned to someone else")
	assert.Equal(t, 1, red.ToExecute.Total)
	assert.Empty(t, red.ToAssess.Items)
	assert.Empty(t, red.ToReview.Items)
	require.Equal(t, 1, red.Missions.Total)
	assert.Equal(t, e.missionID, red.Missions.Items[0].ID)
	assert.Equal(t, "red", red.Missions.Items[0].MyRole)
	assert.Equal(t, 4, red.Missions.Items[0].Progress.Total)
	assert.NotEmpty(t, red.Notif.Items, "added to the mission, it started")
	assert.LessOrEqual(t, len(red.Notif.Items), workNotificationCount)
	assert.Equal(t, 3, red.Notif.Unread, "added, started, assessed")
	assert.Equal(t, "18.1", red.Catalogue["default_version"])
	assert.NotNil(t, red.Catalogue["last_sync"])

	blue := e.work(e.blue)
	assert.Equal(t, []string{"Executed one"}, blue.ToAssess.names())
	require.Len(t, blue.ToExecute.Items, 1, "assigned to blue as red: blue's to execute")
	assert.Equal(t, "Assigned to blue as red", blue.ToExecute.Items[0].TestName)
	assert.True(t, blue.ToExecute.Items[0].AssignedToMe)
	assert.Equal(t, "Op Purple", blue.ToExecute.Items[0].MissionName)

	lead := e.work(e.admin)
	assert.Equal(t, []string{"lead"}, lead.Roles)
	assert.Equal(t, []string{"Assessed one"}, lead.ToReview.names())
	assert.Equal(t, "alerted", lead.ToReview.Items[0].Outcome["key"])
	assert.Empty(t, lead.ToExecute.Items, "leads review; they are not red")

	// Nothing waits in a completed mission.
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"completed"}`, e.admin).Code)
	red = e.work(e.red)
	assert.Zero(t, red.Missions.Total)
	assert.Empty(t, red.ToExecute.Items)
	assert.Empty(t, red.Roles)

	// Without mission.read: no mission parts, the rest still answers.
	_, nobody := e.user("nobody@example.com")
	w := e.work(nobody)
	assert.Zero(t, w.Missions.Total)
	assert.Empty(t, w.ToExecute.Items)
	assert.NotNil(t, w.Catalogue["default_version"])
	assert.Equal(t, 401, e.call("GET", "/api/v1/me/work", "", "").Code)
}

// TestSystem: the admin System page's data: version, data dir, disk use,
// the database and the backups (none yet, then one).
func TestSystem(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	_, viewer := e.user("viewer@example.com", groupViewers)
	assert.Equal(t, 403, e.call("GET", "/api/v1/system", "", viewer).Code)

	get := func() map[string]any {
		rec := e.call("GET", "/api/v1/system", "", admin)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		return jsonBody(t, rec)
	}
	st := get()
	assert.Equal(t, "test", st["version"])
	assert.Equal(t, e.dataDir, st["data_dir"])
	db := st["database"].(map[string]any)
	assert.Equal(t, true, db["reachable"])
	assert.EqualValues(t, db["latest_version"], db["migration_version"])
	assert.Greater(t, st["database_bytes"], float64(0))
	disk := st["disk"].(map[string]any)
	assert.Greater(t, disk["free_bytes"], float64(0))
	assert.GreaterOrEqual(t, disk["total_bytes"], disk["free_bytes"])
	b := st["backups"].(map[string]any)
	assert.EqualValues(t, 0, b["count"], "no backups yet")
	assert.Nil(t, b["latest"])
	assert.Equal(t, filepath.Join(e.dataDir, "backups"), b["dir"])

	before := disk["data_dir_bytes"].(float64)
	require.NoError(t, os.MkdirAll(filepath.Join(e.dataDir, "backups"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(e.dataDir, "backups", "purplebook-backup.pbz"), make([]byte, 4096), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(e.dataDir, "evidence", "ab"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(e.dataDir, "evidence", "ab", "abcd"), make([]byte, 1000), 0o600))
	st = get()
	b = st["backups"].(map[string]any)
	assert.EqualValues(t, 1, b["count"])
	assert.EqualValues(t, 4096, b["total_bytes"])
	assert.Equal(t, "purplebook-backup.pbz", b["latest"].(map[string]any)["name"])
	disk = st["disk"].(map[string]any)
	assert.EqualValues(t, before+4096+1000, disk["data_dir_bytes"])
	assert.EqualValues(t, 1000, disk["evidence_bytes"])
	assert.EqualValues(t, 1, disk["evidence_files"])
}
