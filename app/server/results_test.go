package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resultsEnv is a mission with an executed and assessed test on T1059.001.
func newResultsEnv(t *testing.T) *missionEnv {
	t.Helper()
	e := newMissionEnv(t)
	tid := e.adhoc("PowerShell", `[{"external_id":"T1059.001"}]`)
	start := e.clock.now().UTC().Format("2006-01-02T15:04:05Z")
	rec := e.call("PATCH", e.path("/tests/"+tid), `{"state":"executed","started_at":"`+start+`","command":"powershell -enc …"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"outcomes":[{"control":"EDR","detection_level":"none","expected":true}]}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	return e
}

func TestResultsAPIPermissions(t *testing.T) {
	t.Parallel()
	e := newResultsEnv(t)
	routes := []string{"/results", "/layer", "/navigator-layer", "/report.csv", "/report.json", "/report.html"}
	for _, r := range routes {
		rec := e.call("GET", e.path(r), "", "")
		assert.Equal(t, 401, rec.Code, "anonymous %s", r)
		rec = e.call("GET", e.path(r), "", e.outsider)
		assert.Equal(t, 404, rec.Code, "a non-member without mission.read_all %s", r)
		assert.Equal(t, "not_found", decodeErr(t, rec).Error.Code)
		for who, tok := range map[string]string{"viewer": e.viewer, "red": e.red, "blue": e.blue, "lead": e.admin} {
			rec = e.call("GET", e.path(r), "", tok)
			assert.Equal(t, 200, rec.Code, "%s %s: %s", who, r, rec.Body.String())
		}
		rec = e.call("GET", "/api/v1/missions/"+db.NewID()+r, "", e.admin)
		assert.Equal(t, 404, rec.Code, "unknown mission %s", r)
		rec = e.call("GET", "/api/v1/missions/not-an-id"+r, "", e.admin)
		assert.Equal(t, 404, rec.Code, "malformed id %s", r)
	}
	// A user without mission.read at all: 403 from the route table.
	_, nobody := e.user("nobody@example.com")
	rec := e.call("GET", e.path("/results"), "", nobody)
	assert.Equal(t, 403, rec.Code)
	rec = e.call("GET", "/api/v1/coverage", "", nobody)
	assert.Equal(t, 403, rec.Code)
}

func TestResultsAPIContent(t *testing.T) {
	t.Parallel()
	e := newResultsEnv(t)
	rec := e.call("GET", e.path("/results"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	var res struct {
		Summary struct {
			Tests, Missed int
		} `json:"summary"`
		Matrix struct {
			Results map[string]struct {
				Result struct {
					State string `json:"state"`
				} `json:"result"`
			} `json:"results"`
		} `json:"matrix"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	assert.Equal(t, 1, res.Summary.Missed)
	assert.Equal(t, "none", res.Matrix.Results["T1059.001"].Result.State)

	rec = e.call("GET", e.path("/layer?color=best"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Disposition"), `attachment; filename=purplebook-op-purple-layer.json`)
	var layer struct {
		Versions struct{ Layer string } `json:"versions"`
		Links    []struct{ URL string } `json:"links"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &layer))
	assert.Equal(t, "4.5", layer.Versions.Layer)
	require.NotEmpty(t, layer.Links)
	assert.Equal(t, "http://example.com/missions/"+e.missionID+"/results", layer.Links[0].URL, "links back to this server")
	rec = e.call("GET", e.path("/layer?color=pink"), "", e.viewer)
	assert.Equal(t, 400, rec.Code)

	rec = e.call("GET", e.path("/report.csv?bom=true"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.True(t, strings.HasPrefix(rec.Body.String(), "\ufeffmission_id,mission_name,test_id"))
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/csv")
	rec = e.call("GET", e.path("/report.csv"), "", e.viewer)
	assert.True(t, strings.HasPrefix(rec.Body.String(), "mission_id,"))
	rec = e.call("GET", e.path("/report.csv?bom=maybe"), "", e.viewer)
	assert.Equal(t, 400, rec.Code)

	rec = e.call("GET", e.path("/report.html"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "style-src 'unsafe-inline'")
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "sandbox")
	assert.Contains(t, rec.Header().Get("Content-Disposition"), "purplebook-op-purple-report.html")
	assert.Contains(t, rec.Body.String(), "Op Purple")

	rec = e.call("GET", e.path("/report.json"), "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"format": "purplebook-results-report"`)
}

func TestCoverageAPI(t *testing.T) {
	t.Parallel()
	e := newResultsEnv(t)
	rec := e.call("POST", "/api/v1/missions", `{"name":"Op Hidden"}`, e.admin)
	require.Equal(t, 201, rec.Code)
	count := func(tok, query string) int {
		t.Helper()
		rec := e.call("GET", "/api/v1/coverage"+query, "", tok)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		var c struct {
			Missions []struct{ ID string } `json:"missions"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
		return len(c.Missions)
	}
	assert.Equal(t, 2, count(e.admin, ""), "mission.read_all: every mission")
	assert.Equal(t, 1, count(e.viewer, ""), "a member: their mission")
	assert.Equal(t, 0, count(e.outsider, ""), "no mission")
	assert.Equal(t, 1, count(e.admin, "?q=hidden"))
	assert.Equal(t, 1, count(e.admin, "?status=planned&mission_id="+e.missionID))
	assert.Equal(t, 2, count(e.admin, "?status=planned,active"))
	assert.Equal(t, 0, count(e.admin, "?status=active"))
	rec = e.call("GET", "/api/v1/coverage?from=yesterday", "", e.admin)
	assert.Equal(t, 422, rec.Code)
	rec = e.call("GET", "/api/v1/coverage/layer", "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"T1059.001"`)
	rec = e.call("GET", "/api/v1/coverage/layer", "", e.outsider)
	require.Equal(t, 200, rec.Code)
	assert.NotContains(t, rec.Body.String(), `"T1059.001"`, "nothing of a mission the caller may not see")
}

func multipartLayer(t *testing.T, layer string, fields map[string]string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("file", "layer.json")
	require.NoError(t, err)
	_, err = fw.Write([]byte(layer))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return buf.String(), mw.FormDataContentType()
}

func TestLayerImportAPI(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	rec := e.call("POST", "/api/v1/test-templates", `{"name":"PS test","platforms":["windows"],"mitre_tags":[{"external_id":"T1059.001"}]}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	layer := `{"name":"Threat","versions":{"layer":"4.5","navigator":"5.1.0"},"domain":"enterprise-attack","techniques":[{"techniqueID":"T1059.001","score":1},{"techniqueID":"T1053.005","score":1}]}`
	body := func(create bool) string {
		b, _ := json.Marshal(map[string]any{"layer": json.RawMessage(layer), "create": create, "max_per_technique": 2})
		return string(b)
	}
	rec = e.call("POST", "/api/v1/layers/import", body(false), "")
	assert.Equal(t, 401, rec.Code)
	_, nobody := e.user("nobody@example.com")
	rec = e.call("POST", "/api/v1/layers/import", body(false), nobody)
	assert.Equal(t, 403, rec.Code, "needs test_template.read")
	rec = e.call("POST", "/api/v1/layers/import", body(false), e.viewer)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var res struct {
		Techniques []struct{ ID string } `json:"techniques"`
		Gaps       []struct{ ID string } `json:"gaps"`
		Scenario   *struct{ ID string }  `json:"scenario"`
		GapsLayer  map[string]any        `json:"gaps_layer"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	assert.Len(t, res.Techniques, 2)
	require.Len(t, res.Gaps, 1)
	assert.Equal(t, "T1053.005", res.Gaps[0].ID)
	assert.Nil(t, res.Scenario)
	assert.Equal(t, "enterprise-attack", res.GapsLayer["domain"])
	rec = e.call("POST", "/api/v1/layers/import", body(true), e.viewer)
	assert.Equal(t, 403, rec.Code, "creating needs scenario_template.create")
	assert.Equal(t, 0, dbtest.Count(t, e.db, "scenario_templates"))
	rec = e.call("POST", "/api/v1/layers/import", body(true), e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	require.NotNil(t, res.Scenario)
	assert.Equal(t, 1, dbtest.Count(t, e.db, "scenario_templates"))

	// The layer as the file's text, and as a multipart upload.
	b, _ := json.Marshal(map[string]any{"layer": layer})
	rec = e.call("POST", "/api/v1/layers/import", string(b), e.viewer)
	assert.Equal(t, 200, rec.Code, rec.Body.String())
	mp, ct := multipartLayer(t, layer, map[string]string{"platform": "windows", "max_per_technique": "1", "min_score": "1"})
	rec = e.call("POST", "/api/v1/layers/import", mp, e.viewer, "Content-Type", ct)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	mp, ct = multipartLayer(t, layer, map[string]string{"min_score": "high"})
	rec = e.call("POST", "/api/v1/layers/import", mp, e.viewer, "Content-Type", ct)
	assert.Equal(t, 422, rec.Code)
	mp, ct = multipartLayer(t, layer, map[string]string{"colour": "x"})
	rec = e.call("POST", "/api/v1/layers/import", mp, e.viewer, "Content-Type", ct)
	assert.Equal(t, 400, rec.Code)

	// Not a layer: 422 with a message that says so.
	rec = e.call("POST", "/api/v1/layers/import", `{"layer":{"type":"bundle","objects":[]}}`, e.viewer)
	require.Equal(t, 422, rec.Code)
	assert.Equal(t, "not_a_layer", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", "/api/v1/layers/import", `{"layer":"not json at all"}`, e.viewer)
	assert.Equal(t, 422, rec.Code)
	rec = e.call("POST", "/api/v1/layers/import", `{}`, e.viewer)
	assert.Equal(t, 422, rec.Code)
	rec = e.call("POST", "/api/v1/layers/import", `{"layer":{},"bogus":1}`, e.viewer)
	assert.Equal(t, 400, rec.Code, "unknown fields are rejected")
	// Too large.
	big := fmt.Sprintf(`{"layer":"%s"}`, strings.Repeat("x", 9<<20))
	req := httptest.NewRequest("POST", "/api/v1/layers/import", strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+e.viewer)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.serve(w, req)
	assert.Equal(t, 413, w.Code)
}
