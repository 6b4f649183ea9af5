package server

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncSmall loads the small ATT&CK bundle through the API.
func (e *apiEnv) syncSmall(admin string) {
	e.t.Helper()
	small, err := os.ReadFile(attackFile(e.t, "enterprise-attack-small.json"))
	require.NoError(e.t, err)
	rec := e.uploadBundle(admin, small, map[string]string{"allow_unverified": "true"})
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
}

func TestTemplatesAPIPermissions(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	e.syncSmall(admin)
	_, viewer := e.user("viewer@example.com", groupViewers)
	_, nobody := e.user("nobody@example.com")

	rec := e.call("POST", "/api/v1/test-templates", `{"name":"T1","mitre_tags":[{"kind":"technique","external_id":"T1059"}]}`, admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	id := jsonBody(t, rec)["id"].(string)

	// Viewers read but cannot write; users without permissions cannot read.
	assert.Equal(t, 200, e.call("GET", "/api/v1/test-templates", "", viewer).Code)
	assert.Equal(t, 200, e.call("GET", "/api/v1/test-templates/"+id, "", viewer).Code)
	assert.Equal(t, 403, e.call("GET", "/api/v1/test-templates", "", nobody).Code)
	for _, c := range []struct{ m, p, b string }{
		{"POST", "/api/v1/test-templates", `{"name":"x"}`},
		{"PATCH", "/api/v1/test-templates/" + id, `{"name":"x"}`},
		{"DELETE", "/api/v1/test-templates/" + id, ""},
		{"POST", "/api/v1/test-templates/" + id + "/restore", ""},
		{"POST", "/api/v1/scenario-templates", `{"name":"x"}`},
	} {
		rec := e.call(c.m, c.p, c.b, viewer)
		assert.Equal(t, 403, rec.Code, "%s %s", c.m, c.p)
	}
	assert.Equal(t, 1, dbtest.Count(t, e.db, "test_templates"))
}

func TestTemplatesAPIFlow(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	e.syncSmall(admin)

	rec := e.call("POST", "/api/v1/test-templates", `{"name":"PS","description":"powershell run","platforms":["Windows"],
		"opsec_level":"low","tags":["quick"],"input_arguments":[{"name":"n","description":"","type":"integer","default":5},{"name":"m","type":"string","default":null}],
		"mitre_tags":[{"kind":"subtechnique","external_id":"T1059.001"},{"kind":"technique","external_id":"T1060"}]}`, admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	body := jsonBody(t, rec)
	id := body["id"].(string)
	assert.NotEmpty(t, body["warnings"], "revoked T1060 gives a warning")
	assert.Contains(t, rec.Body.String(), `"default":5`)
	assert.Contains(t, rec.Body.String(), `"default":null`)

	// Unknown ATT&CK id: 422 naming it, nothing written.
	rec = e.call("POST", "/api/v1/test-templates", `{"name":"bad","mitre_tags":[{"kind":"technique","external_id":"T4242"}]}`, admin)
	require.Equal(t, 422, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Details["mitre_tags"], "T4242")
	// Unknown field, wrong type, malformed id.
	assert.Equal(t, 400, e.call("POST", "/api/v1/test-templates", `{"name":"x","nope":1}`, admin).Code)
	assert.Equal(t, 400, e.call("POST", "/api/v1/test-templates", `{"name":5}`, admin).Code)
	assert.Equal(t, 404, e.call("GET", "/api/v1/test-templates/not-an-id", "", admin).Code)
	assert.Equal(t, 404, e.call("PATCH", "/api/v1/test-templates/"+db.NewID(), `{"name":"x"}`, admin).Code)
	assert.Equal(t, 1, dbtest.Count(t, e.db, "test_templates"))

	// Filters through the API.
	rec = e.call("GET", "/api/v1/test-templates?tactic=execution&platform=windows&q=power", "", admin)
	require.Equal(t, 200, rec.Code)
	assert.EqualValues(t, 1, jsonBody(t, rec)["total"])
	rec = e.call("GET", "/api/v1/test-templates?tactic=TA0099", "", admin)
	assert.Equal(t, 422, rec.Code)

	// PATCH: null clears, absent keeps; If-Match conflicts.
	rec = e.call("PATCH", "/api/v1/test-templates/"+id, `{"tags":null,"description":"new"}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	body = jsonBody(t, rec)
	assert.Equal(t, []any{}, body["tags"])
	assert.Equal(t, "new", body["description"])
	assert.Equal(t, []any{"Windows"}, body["platforms"])
	rec = e.call("PATCH", "/api/v1/test-templates/"+id, `{"name":"again"}`, admin, "If-Match", `"1"`)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "version_conflict", decodeErr(t, rec).Error.Code)
	rec = e.call("PATCH", "/api/v1/test-templates/"+id, `{"name":"","opsec_level":"x"}`, admin)
	require.Equal(t, 422, rec.Code)
	d := decodeErr(t, rec).Error.Details
	assert.Contains(t, d, "name")
	assert.Contains(t, d, "opsec_level")

	// Scenario with a repeated test, reorder, coverage.
	rec = e.call("POST", "/api/v1/test-templates", `{"name":"Cron","mitre_tags":[{"external_id":"T1053.005"}]}`, admin)
	require.Equal(t, 201, rec.Code)
	id2 := jsonBody(t, rec)["id"].(string)
	rec = e.call("POST", "/api/v1/scenario-templates", fmt.Sprintf(`{"name":"Play","test_template_ids":["%s","%s","%s"]}`, id, id2, id), admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	sc := jsonBody(t, rec)
	sid := sc["id"].(string)
	cov := sc["coverage"].(map[string]any)
	assert.Len(t, cov["tactics"], 3)
	rec = e.call("PUT", "/api/v1/scenario-templates/"+sid+"/tests", fmt.Sprintf(`{"test_template_ids":["%s","%s"]}`, id2, id), admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	tests := jsonBody(t, rec)["tests"].([]any)
	require.Len(t, tests, 2)
	assert.Equal(t, id2, tests[0].(map[string]any)["test_template_id"])

	// Delete the template: the scenario shows the entry as deleted; restore.
	require.Equal(t, 204, e.call("DELETE", "/api/v1/test-templates/"+id, "", admin).Code)
	rec = e.call("GET", "/api/v1/scenario-templates/"+sid, "", admin)
	assert.Contains(t, rec.Body.String(), `"deleted":true`)
	rec = e.call("GET", "/api/v1/test-templates?deleted=true", "", admin)
	assert.EqualValues(t, 1, jsonBody(t, rec)["total"])
	require.Equal(t, 200, e.call("POST", "/api/v1/test-templates/"+id+"/restore", "", admin).Code)
	rec = e.call("GET", "/api/v1/scenario-templates/"+sid, "", admin)
	assert.NotContains(t, rec.Body.String(), `"deleted":true`)

	// Scenario soft delete and restore.
	require.Equal(t, 204, e.call("DELETE", "/api/v1/scenario-templates/"+sid, "", admin).Code)
	rec = e.call("GET", "/api/v1/scenario-templates", "", admin)
	assert.EqualValues(t, 0, jsonBody(t, rec)["total"])
	require.Equal(t, 200, e.call("POST", "/api/v1/scenario-templates/"+sid+"/restore", "", admin).Code)

	// Audit trail.
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'test_template.%' OR action LIKE 'scenario_template.%'").Row(&n))
	assert.GreaterOrEqual(t, n, 8)
	_ = strings.Contains
}
