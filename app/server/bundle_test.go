package server

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/bundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bundleMission fills the mission of e with work worth carrying: a
// category, three tests with tags, red and blue work with per-control
// outcomes, red and blue evidence.
func bundleMission(t *testing.T, e *missionEnv) (testIDs []string, evidence map[string][]byte) {
	t.Helper()
	rec := e.call("POST", e.path("/categories"), `{"name":"Execution","color":"#7c3aed"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	cat := jsonBody(t, rec)["id"].(string)
	for _, n := range []string{"whoami", "net group", "certutil download"} {
		testIDs = append(testIDs, e.adhoc(n, `[{"kind":"technique","external_id":"T1059"}]`))
	}
	rec = e.call("PATCH", e.path("/tests/"+testIDs[0]), `{"category_id":"`+cat+`","objective":"discover the user"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.path("/tests/"+testIDs[0]), `{"state":"executed","operator":"alice","source_host":"kali",
		"command":"whoami /all","output":"corp\\bob","execution_result":"succeeded","red_notes":"quiet",
		"started_at":"`+e.clock.at(-time.Hour)+`","finished_at":"`+e.clock.at(-50*time.Minute)+`"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.path("/tests/"+testIDs[0]), `{"blue_notes":"EDR alert","outcomes":[
		{"control":"EDR","expected":true,"detection_level":"alerted","alerted_at":"`+e.clock.at(-45*time.Minute)+`","alert_name":"whoami"},
		{"control":"SIEM","detection_level":"logged","logged_at":"`+e.clock.at(-44*time.Minute)+`"}]}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	evidence = map[string][]byte{}
	ev := &evidenceEnv{apiEnv: e.apiEnv, admin: e.admin, red: e.red, blue: e.blue, missionID: e.missionID, testID: testIDs[0]}
	for _, p := range []struct {
		token, name string
		body        []byte
	}{{e.red, "screen.png", pngBytes(7, 40_000)}, {e.blue, "alert.txt", []byte(strings.Repeat("EDR alert: whoami.exe\n", 400))}} {
		f := ev.uploaded(p.token, evFile(p.name, p.body))
		evidence[f["id"].(string)] = p.body
	}
	return testIDs, evidence
}

// exportBundle downloads a mission bundle.
func (e *apiEnv) exportBundle(token, missionID, query string) []byte {
	e.t.Helper()
	rec := e.call("GET", "/api/v1/missions/"+missionID+"/bundle"+query, "", token)
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	require.Equal(e.t, BundleContentType, rec.Header().Get("Content-Type"))
	require.Contains(e.t, rec.Header().Get("Content-Disposition"), ".pbz")
	return rec.Body.Bytes()
}

// postBundle uploads a bundle (the dry run).
func (e *apiEnv) postBundle(token string, b []byte) *httptest.ResponseRecorder {
	e.t.Helper()
	body, ct := evMultipart(e.t, evFile("mission.pbz", b))
	req := httptest.NewRequest("POST", "/api/v1/bundles", body)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

// importBundle uploads and applies a bundle; it returns both reports.
func (e *apiEnv) importBundle(token string, b []byte, apply string) (map[string]any, map[string]any) {
	e.t.Helper()
	rec := e.postBundle(token, b)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	dry := jsonBody(e.t, rec)
	rec = e.call("POST", "/api/v1/bundles/"+dry["import_id"].(string)+"/apply", apply, token)
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	return dry, jsonBody(e.t, rec)
}

// missionJSON is a mission as the API shows it, with what differs between
// instances by nature removed: local user ids and the caller's role.
func missionJSON(t *testing.T, e *apiEnv, token, missionID string) map[string]any {
	t.Helper()
	get := func(p string) any {
		rec := e.call("GET", "/api/v1/missions/"+missionID+p, "", token)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		var v any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		return scrubIDs(v)
	}
	out := map[string]any{"mission": get(""), "tests": get("/tests?per_page=200"), "categories": get("/categories")}
	var members []any
	ms := get("/members")
	if mm, ok := ms.(map[string]any); ok {
		ms = mm["items"]
	}
	for _, m := range ms.([]any) {
		mm := m.(map[string]any)
		members = append(members, map[string]any{"email": mm["email"], "role": mm["role"]})
	}
	sort.Slice(members, func(i, j int) bool {
		return members[i].(map[string]any)["email"].(string) < members[j].(map[string]any)["email"].(string)
	})
	out["members"] = members
	return out
}

func scrubIDs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			switch k {
			case "created_by", "assigned_red_user_id", "assigned_blue_user_id", "assessed_by", "uploaded_by", "my_role", "since":
				delete(x, k)
			default:
				x[k] = scrubIDs(y)
			}
		}
	case []any:
		for i := range x {
			x[i] = scrubIDs(x[i])
		}
	}
	return v
}

func TestBundleRoundTripBetweenTwoServers(t *testing.T) {
	t.Parallel()
	a := newMissionEnv(t)
	testIDs, evidence := bundleMission(t, a)
	b := newAPIEnv(t)
	bAdmin := b.setupAdmin()

	bundleA := a.exportBundle(a.admin, a.missionID, "")
	dry, done := b.importBundle(bAdmin, bundleA, `{"accept_untrusted":true}`)
	assert.Equal(t, true, dry["dry_run"])
	src := dry["source"].(map[string]any)
	assert.Equal(t, a.set.Identity.Name(), src["instance_name"])
	assert.Equal(t, a.set.Identity.Fingerprint(), src["fingerprint"])
	assert.Equal(t, false, src["trusted"])
	assert.EqualValues(t, 3, dry["objects"].(map[string]any)["tests"].(map[string]any)["created"])
	assert.Equal(t, dry["changed"], done["changed"])
	for _, k := range []string{"conflicts", "changes", "users", "warnings"} {
		assert.NotNil(t, dry[k], "%s is a list, never null", k)
	}

	// The same mission on both servers: equal JSON, byte-identical evidence.
	assert.Equal(t, missionJSON(t, a.apiEnv, a.admin, a.missionID), missionJSON(t, b, bAdmin, a.missionID))
	for id, content := range evidence {
		rec := b.call("GET", "/api/v1/evidence/"+id, "", bAdmin)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		assert.Equal(t, content, rec.Body.Bytes())
	}

	// Re-importing changes nothing.
	dry, done = b.importBundle(bAdmin, bundleA, `{"accept_untrusted":true}`)
	assert.EqualValues(t, 0, dry["changed"])
	assert.EqualValues(t, 0, done["changed"])

	// A two-sided edit: one conflict on B, resolved by B's lead.
	rec := a.call("PATCH", a.path("/tests/"+testIDs[1]), `{"red_notes":"A: domain admins listed"}`, a.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = b.call("PATCH", "/api/v1/missions/"+a.missionID+"/tests/"+testIDs[1], `{"red_notes":"B: group not found"}`, bAdmin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	// B trusts A's key now: no confirmation needed.
	rec = b.call("POST", "/api/v1/trusted-keys", fmt.Sprintf(`{"public_key":%q,"label":"A"}`, bundle.EncodePublicKey(a.set.Identity.Public())), bAdmin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	dry, _ = b.importBundle(bAdmin, a.exportBundle(a.admin, a.missionID, ""), `{}`)
	assert.Equal(t, true, dry["source"].(map[string]any)["trusted"])
	require.Len(t, dry["conflicts"], 1)
	rec = b.call("GET", "/api/v1/missions/"+a.missionID+"/conflicts", "", bAdmin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	list := jsonBody(t, rec)
	assert.EqualValues(t, 1, list["open"])
	cf := list["items"].([]any)[0].(map[string]any)
	assert.Equal(t, "red_notes", cf["field"])
	assert.Equal(t, "B: group not found", cf["local"])
	assert.Equal(t, "A: domain admins listed", cf["incoming"])
	rec = b.call("POST", "/api/v1/missions/"+a.missionID+"/conflicts/"+cf["id"].(string)+"/resolve", `{"choice":"theirs"}`, bAdmin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = b.call("GET", "/api/v1/missions/"+a.missionID+"/tests/"+testIDs[1], "", bAdmin)
	assert.Equal(t, "A: domain admins listed", jsonBody(t, rec)["red_notes"])
}

func TestBundleAccess(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	// Not a member: the mission does not exist for them.
	rec := e.call("GET", e.path("/bundle"), "", e.outsider)
	assert.Equal(t, 403, rec.Code, "red team members lack bundle.export")
	rec = e.call("POST", "/api/v1/groups", `{"name":"Exporters","permissions":["bundle.export","mission.read"]}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	gid := jsonBody(t, rec)["id"].(string)
	id, _ := e.user("exporter@example.com", gid)
	tok := e.login("exporter@example.com", "a long enough password 1")
	rec = e.call("GET", e.path("/bundle"), "", tok)
	assert.Equal(t, 404, rec.Code, "not a member: 404, existence does not leak")
	rec = e.call("POST", e.path("/members"), `{"user_id":"`+id+`","role":"viewer"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	rec = e.call("GET", e.path("/bundle?evidence=false"), "", tok)
	assert.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("GET", e.path("/bundle"), "", tok)
	assert.Equal(t, 403, rec.Code, "evidence needs evidence.read")
	// Imports need bundle.import.
	rec = e.postBundle(e.red, []byte("PK"))
	assert.Equal(t, 403, rec.Code)
}

// forged builds a zip of entries plus a manifest signed by id; edit may
// change the manifest first.
type forgedEntry struct {
	name    string
	data    []byte
	mode    fs.FileMode
	raw     bool   // data is deflated already
	declare uint64 // declared size for raw entries
}

func forgeBundle(t *testing.T, id *bundle.Identity, entries []forgedEntry, edit func(*bundle.Manifest)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	m := bundle.Manifest{FormatVersion: 1, Kind: bundle.KindMission, AppVersion: "test", CreatedAt: time.Now().UTC().Format(time.RFC3339),
		Meta:   json.RawMessage(`{}`),
		Source: bundle.Source{InstanceID: id.ID(), InstanceName: id.Name(), PublicKey: bundle.EncodePublicKey(id.Public())}}
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		var w io.Writer
		var err error
		if e.raw {
			fh.CompressedSize64, fh.UncompressedSize64, fh.CRC32 = uint64(len(e.data)), e.declare, crc32.ChecksumIEEE(e.data)
			w, err = zw.CreateRaw(fh)
		} else {
			w, err = zw.CreateHeader(fh)
		}
		require.NoError(t, err)
		_, err = w.Write(e.data)
		require.NoError(t, err)
		s := sha256.Sum256(e.data)
		size := int64(len(e.data))
		if e.raw {
			size = int64(e.declare)
		}
		m.Entries = append(m.Entries, bundle.Entry{Path: e.name, Size: size, SHA256: hex.EncodeToString(s[:])})
	}
	if edit != nil {
		edit(&m)
	}
	mb, err := json.Marshal(m)
	require.NoError(t, err)
	w, err := zw.Create(bundle.ManifestPath)
	require.NoError(t, err)
	_, err = w.Write(mb)
	require.NoError(t, err)
	sig, _ := json.Marshal(bundle.Signature{Algorithm: "ed25519", Signature: base64.StdEncoding.EncodeToString(id.Sign(mb))})
	w, err = zw.Create(bundle.SignaturePath)
	require.NoError(t, err)
	_, err = w.Write(sig)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// rezip rewrites a bundle with one entry's content changed.
func rezip(t *testing.T, b []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		if f.Name == name {
			data = edit(data)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// nothingWritten asserts that a refused import left no trace: no mission,
// no evidence content, nothing staged, no audit event beyond before.
func nothingWritten(t *testing.T, e *apiEnv, auditBefore int) {
	t.Helper()
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM missions").Row(&n))
	assert.Zero(t, n, "no mission")
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM users").Row(&n))
	assert.Equal(t, 1, n, "no user but the admin")
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events").Row(&n))
	assert.Equal(t, auditBefore, n, "no audit event")
	var files []string
	require.NoError(t, filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(e.dataDir, p)
		if strings.HasPrefix(rel, "evidence"+string(filepath.Separator)) || strings.HasPrefix(rel, "bundles"+string(filepath.Separator)) {
			if filepath.Base(rel) != "owner" {
				files = append(files, rel)
			}
		}
		return nil
	}))
	assert.Empty(t, files, "nothing staged or stored")
}

func TestHostileBundlesAreRefused(t *testing.T) {
	t.Parallel()
	// A real bundle from another server to tamper with.
	a := newMissionEnv(t)
	bundleMission(t, a)
	good := a.exportBundle(a.admin, a.missionID, "")
	id := a.set.Identity
	other := bundle.NewIdentity(id.ID(), id.Name(), mustKey(t))

	doc := []byte(`{"ok":true}`)
	var zeros bytes.Buffer
	fw, _ := flate.NewWriter(&zeros, flate.BestCompression)
	_, _ = fw.Write(make([]byte, 20<<20))
	_ = fw.Close()

	cases := []struct {
		name   string
		bundle []byte
		reason string
	}{
		{"absolute path", forgeBundle(t, id, []forgedEntry{{name: "/etc/cron.d/x", data: doc}}, nil), "bundle_bad_path"},
		{"dot-dot", forgeBundle(t, id, []forgedEntry{{name: "evidence/../../../x", data: doc}}, nil), "bundle_bad_path"},
		{"symlink", forgeBundle(t, id, []forgedEntry{{name: "evidence/x", data: []byte("/etc/shadow"), mode: fs.ModeSymlink | 0o777}}, nil), "bundle_symlink"},
		{"duplicate names", forgeBundle(t, id, []forgedEntry{{name: "mission.json", data: doc}, {name: "mission.json", data: doc}},
			func(m *bundle.Manifest) { m.Entries = m.Entries[:1] }), "bundle_duplicate_entry"},
		{"entry not in the manifest", forgeBundle(t, id, []forgedEntry{{name: "mission.json", data: doc}, {name: "payload.sh", data: doc}},
			func(m *bundle.Manifest) { m.Entries = m.Entries[:1] }), "bundle_unlisted_entry"},
		{"entry over the size limit", forgeBundle(t, id, []forgedEntry{{name: "big.bin", data: zeros.Bytes(), raw: true, declare: 9 << 30}}, nil),
			"bundle_entry_too_large"},
		{"zip bomb under a small declared size", forgeBundle(t, id, []forgedEntry{{name: "evidence/" + sha(zeros.Bytes()), data: zeros.Bytes(),
			raw: true, declare: 100}}, nil), "bundle_entry_corrupt"},
		{"newer format", forgeBundle(t, id, []forgedEntry{{name: "mission.json", data: doc}}, func(m *bundle.Manifest) {
			m.FormatVersion, m.AppVersion = 2, "v9.0.0"
		}), "bundle_too_new"},
		{"tampered entry", rezip(t, good, "tests.json", func(b []byte) []byte { return bytes.Replace(b, []byte("whoami"), []byte("whoAmI"), 1) }),
			"bundle_entry_corrupt"},
		{"tampered manifest", rezip(t, good, bundle.ManifestPath, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"kind": "mission"`), []byte(`"kind":  "mission"`), 1)
		}), "bundle_signature_invalid"},
		{"wrong signature", forgeBundle(t, other, []forgedEntry{{name: "mission.json", data: doc}}, func(m *bundle.Manifest) {
			m.Source.PublicKey = bundle.EncodePublicKey(id.Public())
		}), "bundle_signature_invalid"},
		{"not a zip", []byte("#!/bin/sh\nrm -rf /\n"), "bundle_not_zip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newAPIEnv(t)
			admin := b.setupAdmin()
			var before int
			require.NoError(t, b.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events").Row(&before))
			rec := b.postBundle(admin, tc.bundle)
			require.Equal(t, 422, rec.Code, rec.Body.String())
			eb := decodeErr(t, rec)
			assert.Equal(t, tc.reason, eb.Error.Details["reason"], eb.Error.Message)
			if tc.reason == "bundle_too_new" {
				assert.Contains(t, eb.Error.Message, "made by Purplebook v9.0.0")
				assert.Contains(t, eb.Error.Message, "upgrade")
			}
			nothingWritten(t, b, before)
		})
	}
}

func TestUntrustedBundleNeedsConfirmation(t *testing.T) {
	t.Parallel()
	a := newMissionEnv(t)
	b := newAPIEnv(t)
	admin := b.setupAdmin()
	rec := b.postBundle(admin, a.exportBundle(a.admin, a.missionID, "?evidence=false&blue=false"))
	require.Equal(t, 201, rec.Code, rec.Body.String())
	dry := jsonBody(t, rec)
	path := "/api/v1/bundles/" + dry["import_id"].(string)
	rec = b.call("POST", path+"/apply", `{}`, admin)
	require.Equal(t, 422, rec.Code)
	assert.Equal(t, "bundle_untrusted", decodeErr(t, rec).Error.Code)
	var n int
	require.NoError(t, b.db.Read.NewQuery("SELECT COUNT(*) FROM missions").Row(&n))
	assert.Zero(t, n)
	rec = b.call("GET", path, "", admin)
	require.Equal(t, 200, rec.Code, "the import waits for the confirmation")
	rec = b.call("POST", path+"/apply", `{"accept_untrusted":true}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = b.call("POST", path+"/apply", `{"accept_untrusted":true}`, admin)
	require.Equal(t, 404, rec.Code, "an applied import is gone")

	rec = b.call("GET", "/api/v1/instance", "", admin)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, b.set.Identity.Fingerprint(), jsonBody(t, rec)["fingerprint"])
	rec = b.call("PATCH", "/api/v1/instance", `{"name":"Team server"}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, "Team server", jsonBody(t, rec)["name"])
}

func mustKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// An unknown member arrives as an inactive account; inviting the address
// activates that very account, with its mission membership.
func TestImportedMemberIsActivatedByInvitation(t *testing.T) {
	t.Parallel()
	a := newMissionEnv(t)
	b := newAPIEnv(t)
	admin := b.setupAdmin()
	dry, _ := b.importBundle(admin, a.exportBundle(a.admin, a.missionID, "?evidence=false"), `{"accept_untrusted":true}`)
	var red map[string]any
	for _, u := range dry["users"].([]any) {
		if u.(map[string]any)["email"] == "red@example.com" {
			red = u.(map[string]any)
		}
	}
	require.NotNil(t, red)
	assert.Equal(t, "unknown", red["status"])
	rec := b.call("POST", "/api/v1/auth/login", `{"email":"red@example.com","password":"a long enough password 1"}`, "")
	assert.Equal(t, 401, rec.Code, "a placeholder cannot log in")

	rec = b.call("POST", "/api/v1/invitations", `{"email":"red@example.com","group_ids":["`+groupRed+`"]}`, admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	token := jsonBody(t, rec)["token"].(string)
	rec = b.call("POST", "/api/v1/invitations/accept", `{"token":"`+token+`","name":"Rita","password":"another long password 2"}`, "")
	require.Equal(t, 201, rec.Code, rec.Body.String())
	tok := b.login("red@example.com", "another long password 2")
	rec = b.call("GET", "/api/v1/missions/"+a.missionID, "", tok)
	require.Equal(t, 200, rec.Code, "the activated account keeps its membership: "+rec.Body.String())
	assert.Equal(t, "red", jsonBody(t, rec)["my_role"])
	var n int
	require.NoError(t, b.db.Read.NewQuery("SELECT COUNT(*) FROM users WHERE email_fold = 'red@example.com'").Row(&n))
	assert.Equal(t, 1, n, "one account, not two")
}
