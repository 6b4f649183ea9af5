package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func atomicYAML(t *testing.T, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "atomics", id, id+".yaml"))
	require.NoError(t, err)
	return b
}

type uploadFile struct {
	field, name string
	data        []byte
}

// postMultipart sends files (and nothing else) as multipart/form-data.
func (e *apiEnv) postMultipart(path, token string, files ...uploadFile) *httptest.ResponseRecorder {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		field := f.field
		if field == "" {
			field = "file"
		}
		fw, err := mw.CreateFormFile(field, f.name)
		require.NoError(e.t, err)
		_, _ = fw.Write(f.data)
	}
	require.NoError(e.t, mw.Close())
	req := httptest.NewRequest("POST", path, &buf)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, _ = w.Write(data)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type atomicReport struct {
	Files     int `json:"files"`
	Tests     int `json:"tests"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   []struct {
		File, Test, Reason string
	} `json:"skipped"`
	Warnings []struct {
		File, Test, Message string
	} `json:"warnings"`
	PerFile []struct {
		File            string `json:"file"`
		AttackTechnique string `json:"attack_technique"`
		Tests           int    `json:"tests"`
		Created         int    `json:"created"`
		Unchanged       int    `json:"unchanged"`
	} `json:"per_file"`
	DurationMS *int64 `json:"duration_ms"`
}

func decodeReport(t *testing.T, rec *httptest.ResponseRecorder) atomicReport {
	t.Helper()
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var r atomicReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
	return r
}

const atomicsPath = "/api/v1/test-templates/import/atomics"

func TestAtomicImportAPI(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	_, viewer := e.user("viewer@example.com", groupViewers)
	t1027, t1566, t1087 := atomicYAML(t, "T1027"), atomicYAML(t, "T1566.001"), atomicYAML(t, "T1087.001")

	// Viewers read the library but cannot import into it.
	rec := e.postMultipart(atomicsPath, viewer, uploadFile{name: "T1027.yaml", data: t1027})
	assert.Equal(t, 403, rec.Code)
	assert.Equal(t, "test_template.create", decodeErr(t, rec).Error.Details["permission"])

	// Two YAML files in one request.
	rep := decodeReport(t, e.postMultipart(atomicsPath, admin,
		uploadFile{name: "T1027.yaml", data: t1027}, uploadFile{name: "T1566.001.yaml", data: t1566}))
	assert.Equal(t, 2, rep.Files)
	assert.Equal(t, 13, rep.Created)
	require.Len(t, rep.PerFile, 2)
	assert.Equal(t, "T1027.yaml", rep.PerFile[0].File)
	assert.Equal(t, "T1027", rep.PerFile[0].AttackTechnique)
	assert.Equal(t, 11, rep.PerFile[0].Created)
	assert.Equal(t, 2, rep.PerFile[1].Created)
	assert.NotNil(t, rep.DurationMS)
	assert.Contains(t, rep.Warnings[0].Message, "catalogue is empty")
	assert.Empty(t, rep.Skipped)
	assert.Equal(t, 13, dbtest.Count(t, e.db, "test_templates"))

	// A zip of an atomics/ tree (named like anything: content decides).
	z := zipOf(t, map[string][]byte{
		"atomics/T1027/T1027.yaml": t1027, "atomics/T1566.001/T1566.001.yaml": t1566,
		"atomics/T1087.001/T1087.001.yaml": t1087, "atomics/T1087.001/src/x.ps1": []byte("x"), "README.md": []byte("#"),
	})
	rep = decodeReport(t, e.postMultipart(atomicsPath, admin, uploadFile{name: "atomics.bin", data: z}))
	assert.Equal(t, 3, rep.Files)
	assert.Equal(t, 11, rep.Created, "T1087.001 is new")
	assert.Equal(t, 13, rep.Unchanged)
	assert.Zero(t, rep.Updated)
	for _, f := range rep.PerFile {
		assert.True(t, strings.HasPrefix(f.File, "atomics.bin/atomics/"), f.File)
	}

	// The imported templates are in the library like any other.
	rec = e.call("GET", "/api/v1/test-templates?q=sudoers&per_page=200", "", viewer)
	require.Equal(t, 200, rec.Code)
	assert.NotZero(t, jsonBody(t, rec)["total"])

	// A hostile archive: 422, nothing imported, the good file sent along too.
	evil := zipOf(t, map[string][]byte{"atomics/../../x.yaml": []byte("a: b")})
	rec = e.postMultipart(atomicsPath, admin, uploadFile{name: "good.yaml", data: []byte(strings.ReplaceAll(string(t1027), "auto_generated_guid: ", "auto_generated_guid: 0"))},
		uploadFile{name: "evil.zip", data: evil})
	assert.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Equal(t, "unsafe_path", decodeErr(t, rec).Error.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Message, "evil.zip")
	assert.Equal(t, 24, dbtest.Count(t, e.db, "test_templates"))

	// Malformed requests.
	rec = e.call("POST", atomicsPath, `{"file":"x"}`, admin)
	assert.Equal(t, 400, rec.Code)
	assert.Equal(t, "unsupported_media_type", decodeErr(t, rec).Error.Code)
	rec = e.postMultipart(atomicsPath, admin, uploadFile{field: "other", name: "x.yaml", data: t1027})
	assert.Equal(t, 400, rec.Code)
	assert.Equal(t, "unknown_field", decodeErr(t, rec).Error.Code)
	rec = e.postMultipart(atomicsPath, admin)
	assert.Equal(t, 422, rec.Code)
	assert.Equal(t, "is required", decodeErr(t, rec).Error.Details["file"])
	rec = e.postMultipart(atomicsPath, admin, uploadFile{name: "bad.yaml", data: []byte("atomic_tests:\n - x: [\n")})
	assert.Equal(t, 422, rec.Code)
	assert.Equal(t, "invalid_yaml", decodeErr(t, rec).Error.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Message, "bad.yaml: line")
}

// canonicalDoc replaces origin ids by positions and drops the export time.
func canonicalDoc(t *testing.T, body []byte) string {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(body, &doc))
	delete(doc, "exported_at")
	pos := map[string]string{}
	for i, x := range doc["templates"].([]any) {
		m := x.(map[string]any)
		pos[m["origin_id"].(string)] = string(rune('A' + i))
		m["origin_id"] = pos[m["origin_id"].(string)]
	}
	for _, x := range doc["scenarios"].([]any) {
		m := x.(map[string]any)
		ids := m["test_origin_ids"].([]any)
		for j, o := range ids {
			ids[j] = pos[o.(string)]
		}
	}
	b, err := json.MarshalIndent(doc, "", " ")
	require.NoError(t, err)
	return string(b)
}

type libraryReport struct {
	Templates struct{ Created, Updated, Unchanged int } `json:"templates"`
	Scenarios struct{ Created, Updated, Unchanged int } `json:"scenarios"`
	Items     []struct {
		Kind, OriginID, ID, Name, Outcome string
	} `json:"items"`
}

func TestLibraryExchangeAPI(t *testing.T) {
	t.Parallel()
	a := newAPIEnv(t)
	adminA := a.setupAdmin()
	a.uploadBundle(adminA, mustRead(t, attackFile(t, "enterprise-attack-small.json")), map[string]string{"allow_unverified": "true"})
	b := newAPIEnv(t)
	adminB := b.setupAdmin()
	b.uploadBundle(adminB, mustRead(t, attackFile(t, "enterprise-attack-small.json")), map[string]string{"allow_unverified": "true"})

	id := func(rec *httptest.ResponseRecorder) string {
		require.Equal(t, 201, rec.Code, rec.Body.String())
		return jsonBody(t, rec)["id"].(string)
	}
	t1 := id(a.call("POST", "/api/v1/test-templates", `{"name":"Run key","opsec_level":"low","platforms":["windows"],
		"input_arguments":[{"name":"n","type":"integer","default":2}],"mitre_tags":[{"external_id":"T1547.001"}]}`, adminA))
	t2 := id(a.call("POST", "/api/v1/test-templates", `{"name":"Cradle","mitre_tags":[{"external_id":"T1059.001"},{"external_id":"TA0002"}]}`, adminA))
	sc := id(a.call("POST", "/api/v1/scenario-templates", `{"name":"Drill","test_template_ids":["`+t2+`","`+t1+`","`+t2+`"]}`, adminA))

	// Export: templates of the scenario come along, in order.
	_, viewerA := a.user("viewer@example.com", groupViewers)
	rec := a.call("GET", "/api/v1/library/export?scenario_ids="+sc, "", viewerA)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Disposition"), `filename="purplebook-library-`)
	docA := rec.Body.Bytes()
	var parsed struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"format_version"`
		AppVersion    string `json:"app_version"`
		Templates     []struct {
			OriginID  string `json:"origin_id"`
			MitreTags []struct {
				Kind       string `json:"kind"`
				ExternalID string `json:"external_id"`
			} `json:"mitre_tags"`
		} `json:"templates"`
		Scenarios []struct {
			OriginID      string   `json:"origin_id"`
			TestOriginIDs []string `json:"test_origin_ids"`
		} `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal(docA, &parsed))
	assert.Equal(t, "purplebook-library", parsed.Format)
	assert.Equal(t, 1, parsed.FormatVersion)
	assert.Equal(t, "test", parsed.AppVersion)
	require.Len(t, parsed.Templates, 2)
	assert.Equal(t, []string{t2, t1}, []string{parsed.Templates[0].OriginID, parsed.Templates[1].OriginID})
	assert.Equal(t, []string{t2, t1, t2}, parsed.Scenarios[0].TestOriginIDs)
	assert.Equal(t, "T1547.001", parsed.Templates[1].MitreTags[0].ExternalID)

	// Scenarios need scenario_template.read to export, scenario_template.create
	// to import.
	ctx := context.Background()
	gA, err := a.auth.CreateGroup(ctx, nil, auth.CreateGroupParams{Name: "Template readers", Permissions: []string{"test_template.read"}}, auth.Meta{})
	require.NoError(t, err)
	_, reader := a.user("reader@example.com", gA.ID)
	assert.Equal(t, 200, a.call("GET", "/api/v1/library/export?template_ids="+t1+","+t2, "", reader).Code)
	rec = a.call("GET", "/api/v1/library/export?template_ids="+t1+"&scenario_ids="+sc, "", reader)
	assert.Equal(t, 403, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Message, "scenario_template.read")
	gB, err := b.auth.CreateGroup(ctx, nil, auth.CreateGroupParams{Name: "Template writers", Permissions: []string{"test_template.create"}}, auth.Meta{})
	require.NoError(t, err)
	_, writer := b.user("writer@example.com", gB.ID)
	rec = b.call("POST", "/api/v1/library/import", string(docA), writer)
	assert.Equal(t, 403, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Message, "scenario_template.create")
	_, viewerB := b.user("viewer@example.com", groupViewers)
	assert.Equal(t, 403, b.call("POST", "/api/v1/library/import", string(docA), viewerB).Code)
	assert.Zero(t, dbtest.Count(t, b.db, "test_templates"))

	// Import into B, as a JSON body.
	rec = b.call("POST", "/api/v1/library/import", string(docA), adminB)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var rep libraryReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	assert.Equal(t, 2, rep.Templates.Created)
	assert.Equal(t, 1, rep.Scenarios.Created)
	rec = b.call("GET", "/api/v1/scenario-templates/"+sc, "", adminB)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.EqualValues(t, 3, jsonBody(t, rec)["test_count"])

	// B's export equals A's but for ids and time; re-imports change nothing.
	rec = b.call("GET", "/api/v1/library/export?scenario_ids="+sc, "", adminB)
	require.Equal(t, 200, rec.Code)
	docB := rec.Body.Bytes()
	assert.Equal(t, canonicalDoc(t, docA), canonicalDoc(t, docB))
	for _, c := range []struct {
		env   *apiEnv
		token string
		doc   []byte
	}{{b, adminB, docA}, {b, adminB, docB}, {a, adminA, docB}, {a, adminA, docA}} {
		rec := c.env.postMultipart("/api/v1/library/import", c.token, uploadFile{name: "library.json", data: c.doc})
		require.Equal(t, 200, rec.Code, rec.Body.String())
		var rep libraryReport
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		assert.Equal(t, 2, rep.Templates.Unchanged)
		assert.Equal(t, 1, rep.Scenarios.Unchanged)
		assert.Zero(t, rep.Templates.Created+rep.Templates.Updated+rep.Scenarios.Created+rep.Scenarios.Updated)
	}
	assert.Equal(t, 2, dbtest.Count(t, b.db, "test_templates"))

	// Templates only: test_template.create is enough.
	rec = a.call("GET", "/api/v1/library/export?template_ids="+t1, "", adminA)
	require.Equal(t, 200, rec.Code)
	rec = b.call("POST", "/api/v1/library/import", rec.Body.String(), writer)
	require.Equal(t, 200, rec.Code, rec.Body.String())

	// Bad documents: 422 with details, nothing written.
	before := dbtest.Count(t, b.db, "test_templates")
	bad := strings.Replace(string(docA), `"format_version":1`, `"format_version":7`, 1)
	bad = strings.Replace(bad, `"name":"Cradle"`, `"name":""`, 1)
	rec = b.call("POST", "/api/v1/library/import", bad, adminB)
	assert.Equal(t, 422, rec.Code, rec.Body.String())
	eb := decodeErr(t, rec)
	assert.Equal(t, "validation_failed", eb.Error.Code)
	assert.Contains(t, eb.Error.Details, "format_version")
	rec = b.call("POST", "/api/v1/library/import", `{"format":"purplebook-library","format_version":1,"templates":[{"origin_id":"x","name":""}]}`, adminB)
	assert.Equal(t, 422, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Details, "templates[0].name")
	rec = b.call("POST", "/api/v1/library/import", `{"format":`, adminB)
	assert.Equal(t, 422, rec.Code)
	assert.Equal(t, before, dbtest.Count(t, b.db, "test_templates"))

	// Export errors.
	assert.Equal(t, 422, a.call("GET", "/api/v1/library/export", "", adminA).Code)
	assert.Equal(t, 404, a.call("GET", "/api/v1/library/export?template_ids=0190a0a0-0000-7000-8000-000000000000", "", adminA).Code)
	assert.Equal(t, 400, a.call("GET", "/api/v1/library/export?template_ids=a&template_ids=b", "", adminA).Code)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
