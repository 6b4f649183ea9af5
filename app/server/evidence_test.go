package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// evidenceEnv is an instance with a mission led by the admin, a red, a blue
// and a viewer member, an outsider (Red team, not a member), and one ad-hoc
// test.
type evidenceEnv struct {
	*apiEnv
	admin, red, blue, viewer, outsider string
	redID, blueID                      string
	missionID, testID                  string
}

func newEvidenceEnv(t *testing.T) *evidenceEnv {
	t.Helper()
	e := &evidenceEnv{apiEnv: newAPIEnv(t)}
	e.admin = e.setupAdmin()
	e.redID, e.red = e.user("red@example.com", groupRed)
	e.blueID, e.blue = e.user("blue@example.com", groupBlue)
	viewerID, viewer := e.user("viewer@example.com", groupViewers)
	e.viewer = viewer
	_, e.outsider = e.user("outsider@example.com", groupRed)
	rec := e.call("POST", "/api/v1/missions", `{"name":"Op Evidence"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	e.missionID = jsonBody(t, rec)["id"].(string)
	for id, role := range map[string]string{e.redID: "red", e.blueID: "blue", viewerID: "viewer"} {
		rec := e.call("POST", e.mpath("/members"), fmt.Sprintf(`{"user_id":%q,"role":%q}`, id, role), e.admin)
		require.Equal(t, 201, rec.Code, rec.Body.String())
	}
	e.testID = e.addTest("Dump LSASS")
	return e
}

func (e *evidenceEnv) mpath(p string) string { return "/api/v1/missions/" + e.missionID + p }

func (e *evidenceEnv) addTest(name string) string {
	e.t.Helper()
	rec := e.call("POST", e.mpath("/tests"), fmt.Sprintf(`{"name":%q}`, name), e.admin)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	return jsonBody(e.t, rec)["id"].(string)
}

func (e *evidenceEnv) evidencePath() string { return e.mpath("/tests/" + e.testID + "/evidence") }

// evPart is one multipart part: a field, or the file when filename is set
// or disposition is given verbatim.
type evPart struct {
	name        string
	filename    string
	disposition string // raw Content-Disposition, overrides name/filename
	contentType string
	body        []byte
}

func evFile(filename string, body []byte) evPart {
	return evPart{name: "file", filename: filename, body: body}
}

func evField(name, value string) evPart { return evPart{name: name, body: []byte(value)} }

func evMultipart(t *testing.T, parts ...evPart) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		switch {
		case p.disposition != "":
			h.Set("Content-Disposition", p.disposition)
		case p.name == "file":
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`,
				strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.filename)))
		default:
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		} else if p.name == "file" {
			h.Set("Content-Type", "application/octet-stream")
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.body)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

// send posts a raw body.
func (e *evidenceEnv) send(method, path string, body io.Reader, contentType, token string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = "192.0.2.1:1234"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

func (e *evidenceEnv) upload(token string, parts ...evPart) *httptest.ResponseRecorder {
	e.t.Helper()
	body, ct := evMultipart(e.t, parts...)
	return e.send("POST", e.evidencePath(), body, ct, token)
}

// uploaded uploads and requires 201, returning the answer.
func (e *evidenceEnv) uploaded(token string, parts ...evPart) map[string]any {
	e.t.Helper()
	rec := e.upload(token, parts...)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	return jsonBody(e.t, rec)
}

// evidenceFiles lists the regular files under <data-dir>/evidence, relative.
func (e *evidenceEnv) evidenceFiles() []string {
	e.t.Helper()
	var out []string
	root := filepath.Join(e.dataDir, "evidence")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(e.t, err)
	return out
}

// tmpFiles lists what the process's temporary area holds besides its
// owner file: uploads in flight, or leftovers.
func (e *evidenceEnv) tmpFiles() []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.set.Temp.Dir())
	require.NoError(e.t, err)
	var out []string
	for _, x := range entries {
		if x.Name() != "owner" {
			out = append(out, x.Name())
		}
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pngBytes is a PNG signature followed by n pseudo-random bytes.
func pngBytes(seed uint64, n int) []byte {
	b := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, n)...)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := 16; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEvidenceRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	content := pngBytes(1, 100_000)
	f := e.uploaded(e.red, evField("caption", "  whoami output  "), evPart{name: "file", filename: "shot.png",
		contentType: "text/html", body: content})
	sum := sha(content)
	assert.Equal(t, sum, f["sha256"])
	assert.EqualValues(t, len(content), f["size"])
	assert.Equal(t, "image/png", f["content_type"], "sniffed; the client's claim is ignored")
	assert.Equal(t, "shot.png", f["original_filename"])
	assert.Equal(t, "red", f["side"], "red members default to red")
	assert.Equal(t, "whoami output", f["caption"])
	assert.Equal(t, e.testID, f["mission_test_id"])
	assert.Equal(t, e.redID, f["uploaded_by"])
	assert.NotEmpty(t, f["created_at"])
	for _, k := range []string{"id", "mission_test_id", "side", "original_filename", "content_type", "size", "sha256",
		"caption", "uploaded_by", "created_at"} {
		assert.Contains(t, f, k)
	}
	id := f["id"].(string)

	// Content-addressed, private, nothing left in tmp.
	assert.Equal(t, []string{sum[:2] + "/" + sum[2:]}, e.evidenceFiles())
	st, err := os.Stat(filepath.Join(e.dataDir, "evidence", sum[:2], sum[2:]))
	require.NoError(t, err)
	if filepath.Separator == '/' {
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		for _, d := range []string{"evidence", "tmp", "evidence/" + sum[:2]} {
			st, err := os.Stat(filepath.Join(e.dataDir, d))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), d)
		}
	}

	// Listed for every member, counted on the test.
	for _, tok := range []string{e.red, e.blue, e.viewer, e.admin} {
		rec := e.call("GET", e.evidencePath(), "", tok)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		l := jsonBody(t, rec)
		assert.EqualValues(t, 1, l["total"])
		assert.Equal(t, id, l["items"].([]any)[0].(map[string]any)["id"])
	}
	rec := e.call("GET", e.mpath("/tests/"+e.testID), "", e.red)
	require.Equal(t, 200, rec.Code)
	assert.EqualValues(t, 1, jsonBody(t, rec)["evidence_count"])

	// Download: the bytes, their hash, safe headers.
	rec = e.call("GET", "/api/v1/evidence/"+id, "", e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, content, rec.Body.Bytes())
	assert.Equal(t, sum, sha(rec.Body.Bytes()))
	h := rec.Header()
	assert.Equal(t, "image/png", h.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="shot.png"; filename*=UTF-8''shot.png`, h.Get("Content-Disposition"))
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.Equal(t, sum, h.Get("X-Evidence-SHA256"))
	assert.Equal(t, fmt.Sprint(len(content)), h.Get("Content-Length"))
	assert.Equal(t, "private, no-store", h.Get("Cache-Control"))
	assert.Equal(t, "bytes", h.Get("Accept-Ranges"))

	// Image preview inline; Range; HEAD.
	rec = e.call("GET", "/api/v1/evidence/"+id+"?inline=1", "", e.viewer)
	require.Equal(t, 200, rec.Code)
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Disposition"), "inline; "))
	rec = e.call("GET", "/api/v1/evidence/"+id, "", e.red, "Range", "bytes=10-19")
	require.Equal(t, 206, rec.Code)
	assert.Equal(t, content[10:20], rec.Body.Bytes())
	assert.Equal(t, fmt.Sprintf("bytes 10-19/%d", len(content)), rec.Header().Get("Content-Range"))
	rec = e.call("HEAD", "/api/v1/evidence/"+id, "", e.red)
	require.Equal(t, 200, rec.Code)
	assert.Empty(t, rec.Body.Bytes())
	assert.Equal(t, fmt.Sprint(len(content)), rec.Header().Get("Content-Length"))
	assert.Equal(t, sum, rec.Header().Get("X-Evidence-SHA256"))

	// Invisible to outsiders; malformed ids are 404 too.
	assert.Equal(t, 404, e.call("GET", "/api/v1/evidence/"+id, "", e.outsider).Code)
	assert.Equal(t, 404, e.call("GET", e.evidencePath(), "", e.outsider).Code)
	assert.Equal(t, 404, e.call("GET", "/api/v1/evidence/not-a-uuid", "", e.admin).Code)
	assert.Equal(t, 404, e.call("GET", "/api/v1/evidence/"+db.NewID(), "", e.admin).Code)
	assert.Equal(t, 400, e.call("GET", "/api/v1/evidence/"+id+"?inline=maybe", "", e.admin).Code)

	// Audited in the same transaction.
	var details string
	require.NoError(t, e.db.SQL().QueryRow(`SELECT details FROM audit_events WHERE action = 'evidence.upload' AND object_id = '`+id+`'`).Scan(&details))
	assert.Contains(t, details, sum)
	assert.Contains(t, details, "shot.png")
	assert.Contains(t, details, fmt.Sprint(len(content)))
}

func TestEvidenceDedup(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	content := pngBytes(2, 5000)
	a := e.uploaded(e.red, evFile("a.png", content))
	b := e.uploaded(e.blue, evFile("b.png", content))
	assert.NotEqual(t, a["id"], b["id"])
	assert.Equal(t, a["sha256"], b["sha256"])
	assert.Equal(t, "blue", b["side"], "blue members default to blue")
	assert.Equal(t, 2, dbtest.Count(t, e.db, "evidence_files"))
	assert.Len(t, e.evidenceFiles(), 1, "one content file for two rows")
	// Both download.
	for _, id := range []any{a["id"], b["id"]} {
		rec := e.call("GET", fmt.Sprint("/api/v1/evidence/", id), "", e.admin)
		require.Equal(t, 200, rec.Code)
		assert.Equal(t, content, rec.Body.Bytes())
	}
	// Deleting one keeps the content for the other.
	require.Equal(t, 204, e.call("DELETE", fmt.Sprint("/api/v1/evidence/", a["id"]), "", e.admin).Code)
	rec := e.call("GET", fmt.Sprint("/api/v1/evidence/", b["id"]), "", e.admin)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, content, rec.Body.Bytes())
}

func TestEvidenceOversize(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	rec := e.call("PUT", "/api/v1/settings/evidence_max_bytes", `{"value":1048576}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())

	rec = e.upload(e.red, evFile("big.bin", bytes.Repeat([]byte("x"), 1<<20+1)))
	require.Equal(t, 413, rec.Code, rec.Body.String())
	er := decodeErr(t, rec)
	assert.Equal(t, "too_large", er.Error.Code)
	assert.EqualValues(t, 1<<20, er.Error.Details["limit_bytes"])
	assert.Contains(t, er.Error.Message, "1 MiB")
	assert.Empty(t, e.evidenceFiles(), "nothing in evidence/ or the temporary area")
	assert.Zero(t, dbtest.Count(t, e.db, "evidence_files"))
	assert.Empty(t, e.tmpFiles())

	// Exactly the limit is fine.
	f := e.uploaded(e.red, evFile("limit.bin", bytes.Repeat([]byte("y"), 1<<20)))
	assert.EqualValues(t, 1<<20, f["size"])
	assert.Len(t, e.evidenceFiles(), 1)

	// The route's own body limit leaves room for the largest setting.
	for _, rt := range e.srv.Routes() {
		if rt.Method == "POST" && rt.Path == "/missions/:id/tests/:tid/evidence" {
			assert.GreaterOrEqual(t, rt.Limit, int64(8<<30))
		}
	}
}

func TestEvidenceHostileFilenames(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	long := strings.Repeat("é", 600) + ".png" // 1,204 bytes
	cases := []struct {
		name string
		part evPart
		want string
	}{
		{"traversal", evFile("../../x", []byte("a")), "x"},
		{"windows traversal", evFile(`..\..\Windows\win.ini`, []byte("b")), "win.ini"},
		{"absolute", evFile("/etc/passwd", []byte("c")), "passwd"},
		{"NUL (RFC 2231)", evPart{name: "file", disposition: `form-data; name="file"; filename*=UTF-8''x%00y%0A.png`,
			body: []byte("d")}, "xy.png"},
		{"very long", evFile(strings.Repeat("a", 1000), []byte("e")), strings.Repeat("a", 255)},
		{"long multibyte keeps extension", evFile(long, []byte("f")), strings.Repeat("é", 125) + ".png"},
		{"unicode", evFile("résumé 📄.png", []byte("g")), "résumé 📄.png"},
		{"quotes and semicolon", evFile(`"quoted";name`, []byte("h")), `"quoted";name`},
		{"bidi override", evFile("invoice\u202egnp.exe", []byte("i")), "invoicegnp.exe"},
		{"dots", evFile("..", []byte("j")), "evidence"},
		{"empty", evFile("", []byte("k")), "evidence"},
		// A raw CR/LF cannot arrive inside a header; encoded, it is stripped.
		{"header injection", evPart{name: "file", disposition: `form-data; name="file"; filename*=UTF-8''a%0D%0AX-Evil%3A%201.txt`,
			body: []byte("l")}, "aX-Evil: 1.txt"},
	}
	for _, tc := range cases {
		f := e.uploaded(e.red, tc.part)
		got := f["original_filename"].(string)
		assert.Equal(t, tc.want, got, tc.name)
		assert.LessOrEqual(t, len(got), 255, tc.name)
		assert.True(t, utf8.ValidString(got), tc.name)

		rec := e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red)
		require.Equal(t, 200, rec.Code, tc.name)
		cd := rec.Header().Get("Content-Disposition")
		for _, r := range cd {
			assert.True(t, r >= 0x20 && r < 0x7f, "%s: Content-Disposition must be printable ASCII: %q", tc.name, cd)
		}
		disp, params, err := mime.ParseMediaType(cd)
		require.NoError(t, err, "%s: %q", tc.name, cd)
		assert.Equal(t, "attachment", disp, tc.name)
		assert.Equal(t, tc.want, params["filename"], "%s: filename* round-trips: %q", tc.name, cd)
		// The quoted fallback holds nothing a parser could misread.
		fb := cd[strings.Index(cd, `filename="`)+len(`filename="`):]
		fb = fb[:strings.Index(fb, `"`)]
		assert.NotContains(t, fb, `\`, tc.name)
		assert.NotContains(t, fb, `%`, tc.name)
		assert.NotEmpty(t, fb, tc.name)
	}
	// Nothing escaped the evidence directory.
	_, err := os.Stat(filepath.Join(e.dataDir, "x"))
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// A raw NUL in the header is malformed multipart: 400, nothing stored.
	before := dbtest.Count(t, e.db, "evidence_files")
	body := "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\x00b.png\"\r\n\r\nzz\r\n--B--\r\n"
	rec := e.send("POST", e.evidencePath(), strings.NewReader(body), "multipart/form-data; boundary=B", e.red)
	assert.Equal(t, 400, rec.Code, rec.Body.String())
	assert.Equal(t, before, dbtest.Count(t, e.db, "evidence_files"))
}

func TestEvidenceScriptableContentServedAsOctetStream(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	for name, body := range map[string]string{
		"page.html": `<html><body><script>alert(document.domain)</script></body></html>`,
		"logo.svg":  `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
	} {
		f := e.uploaded(e.red, evPart{name: "file", filename: name, contentType: "image/png", body: []byte(body)})
		assert.NotContains(t, f["content_type"], "image/png", "the client's claim is ignored")
		for _, q := range []string{"", "?inline=1"} {
			rec := e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"], q), "", e.red)
			require.Equal(t, 200, rec.Code)
			assert.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"), name)
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment; "), "never inline: %s", name)
			assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "sandbox")
			assert.Equal(t, body, rec.Body.String())
		}
	}
	// Plain text keeps its type (with nosniff it cannot turn into HTML).
	f := e.uploaded(e.red, evFile("out.txt", []byte("whoami\nnt authority\\system\n")))
	rec := e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red)
	assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
}

func TestEvidenceUploadRules(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	png := pngBytes(3, 64)

	// Viewers look, they do not upload; outsiders do not even see the test.
	rec := e.upload(e.viewer, evFile("v.png", png))
	require.Equal(t, 403, rec.Code, rec.Body.String())
	assert.Equal(t, "evidence.upload", decodeErr(t, rec).Error.Details["permission"], "the Viewers group cannot upload")
	watcherID, watcher := e.user("watcher@example.com", groupRed)
	rec = e.call("POST", e.mpath("/members"), fmt.Sprintf(`{"user_id":%q,"role":"viewer"}`, watcherID), e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	rec = e.upload(watcher, evFile("v.png", png))
	require.Equal(t, 403, rec.Code, rec.Body.String())
	assert.Equal(t, "role_required", decodeErr(t, rec).Error.Code, "a viewer in the mission cannot upload, whatever the groups")
	rec = e.upload(e.outsider, evFile("o.png", png))
	require.Equal(t, 404, rec.Code, rec.Body.String())

	// Sides: red only red, blue only blue, leads either.
	rec = e.upload(e.red, evField("side", "blue"), evFile("r.png", png))
	require.Equal(t, 403, rec.Code, rec.Body.String())
	er := decodeErr(t, rec)
	assert.Equal(t, "field_forbidden", er.Error.Code)
	assert.Equal(t, []any{"side"}, er.Error.Details["fields"])
	assert.Contains(t, er.Error.Message, "side")
	rec = e.upload(e.red, evFile("r.png", png), evField("side", "blue")) // side after the file
	require.Equal(t, 403, rec.Code, rec.Body.String())
	assert.Equal(t, []any{"side"}, decodeErr(t, rec).Error.Details["fields"])
	rec = e.upload(e.blue, evField("side", "red"), evFile("b.png", png))
	require.Equal(t, 403, rec.Code, rec.Body.String())
	assert.Equal(t, "blue", e.uploaded(e.blue, evField("side", "blue"), evFile("b.png", png))["side"])
	assert.Equal(t, "red", e.uploaded(e.admin, evFile("l.png", png))["side"], "leads default to red")
	assert.Equal(t, "blue", e.uploaded(e.admin, evFile("l.png", png), evField("side", "blue"))["side"])

	// Bad input.
	rec = e.upload(e.red, evField("side", "purple"), evFile("r.png", png))
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Contains(t, decodeErr(t, rec).Error.Details, "side")
	rec = e.upload(e.red, evField("caption", strings.Repeat("c", 501)), evFile("r.png", png))
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Contains(t, decodeErr(t, rec).Error.Details, "caption")
	assert.Equal(t, strings.Repeat("ç", 500), e.uploaded(e.red, evField("caption", strings.Repeat("ç", 500)), evFile("r.png", png))["caption"])
	rec = e.upload(e.red, evField("caption", "no file"))
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Contains(t, decodeErr(t, rec).Error.Details, "file")
	rec = e.upload(e.red, evFile("empty.png", nil))
	require.Equal(t, 422, rec.Code, rec.Body.String())
	rec = e.upload(e.red, evFile("a.png", png), evFile("b.png", png))
	require.Equal(t, 400, rec.Code, rec.Body.String())
	rec = e.upload(e.red, evField("nope", "1"), evFile("a.png", png))
	require.Equal(t, 400, rec.Code, rec.Body.String())
	assert.Equal(t, "unknown_field", decodeErr(t, rec).Error.Code)
	rec = e.send("POST", e.evidencePath(), strings.NewReader(`{"file":"x"}`), "application/json", e.red)
	require.Equal(t, 400, rec.Code, rec.Body.String())
	assert.Equal(t, "unsupported_media_type", decodeErr(t, rec).Error.Code)
	rec = e.send("POST", e.evidencePath(), strings.NewReader("x"), "", e.red)
	require.Equal(t, 400, rec.Code, rec.Body.String())
	// A body that ends mid-file: 400, nothing left behind.
	body, ct := evMultipart(t, evFile("cut.png", pngBytes(4, 10_000)))
	rec = e.send("POST", e.evidencePath(), bytes.NewReader(body.Bytes()[:body.Len()/2]), ct, e.red)
	require.Equal(t, 400, rec.Code, rec.Body.String())
	assert.Equal(t, "invalid_multipart", decodeErr(t, rec).Error.Code)
	assert.Empty(t, e.tmpFiles())

	// Unknown or mismatched ids: 404.
	rec = e.send("POST", e.mpath("/tests/"+db.NewID()+"/evidence"), bytes.NewReader(nil), ct, e.red)
	assert.Equal(t, 404, rec.Code)
	other := e.call("POST", "/api/v1/missions", `{"name":"Other"}`, e.admin)
	require.Equal(t, 201, other.Code)
	rec = e.send("POST", "/api/v1/missions/"+jsonBody(t, other)["id"].(string)+"/tests/"+e.testID+"/evidence", bytes.NewReader(nil), ct, e.admin)
	assert.Equal(t, 404, rec.Code, "a test of another mission")
	rec = e.call("GET", "/api/v1/missions/"+jsonBody(t, other)["id"].(string)+"/tests/"+e.testID+"/evidence", "", e.admin)
	assert.Equal(t, 404, rec.Code)

	// No upload permission at all: the route says which.
	_, noPerm := e.user("nobody@example.com")
	rec = e.upload(noPerm, evFile("n.png", png))
	require.Equal(t, 403, rec.Code)
	assert.Equal(t, "evidence.upload", decodeErr(t, rec).Error.Details["permission"])

	// Pagination of the list.
	rec = e.call("GET", e.evidencePath()+"?per_page=3&page=2", "", e.red)
	require.Equal(t, 200, rec.Code)
	l := jsonBody(t, rec)
	assert.EqualValues(t, 4, l["total"])
	assert.Len(t, l["items"], 1)
	assert.Equal(t, 400, e.call("GET", e.evidencePath()+"?per_page=500", "", e.red).Code)
}

func TestEvidenceArchivedMission(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	f := e.uploaded(e.red, evFile("before.png", pngBytes(5, 10)))
	for _, st := range []string{"active", "completed", "archived"} {
		rec := e.call("PATCH", e.mpath(""), `{"status":"`+st+`"}`, e.admin)
		require.Equal(t, 200, rec.Code, rec.Body.String())
	}
	rec := e.upload(e.red, evFile("after.png", pngBytes(6, 10)))
	require.Equal(t, 409, rec.Code, rec.Body.String())
	assert.Equal(t, "mission_read_only", decodeErr(t, rec).Error.Code)
	rec = e.call("DELETE", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.admin)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "mission_read_only", decodeErr(t, rec).Error.Code)
	// Still readable.
	assert.Equal(t, 200, e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red).Code)
	assert.Len(t, e.evidenceFiles(), 1)
	// Completed (unarchived) is read-only too; reopened, uploads work again.
	rec = e.call("PATCH", e.mpath(""), `{"status":"completed"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.upload(e.red, evFile("after.png", pngBytes(6, 10)))
	require.Equal(t, 409, rec.Code, rec.Body.String())
	rec = e.call("PATCH", e.mpath(""), `{"status":"active"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.upload(e.red, evFile("after.png", pngBytes(6, 10)))
	require.Equal(t, 201, rec.Code, rec.Body.String())
}

func TestEvidenceDelete(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	rec := e.call("POST", "/api/v1/groups", `{"name":"Evidence deleters","permissions":["evidence.delete"]}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	deleters := jsonBody(t, rec)["id"].(string)
	red2ID, red2 := e.user("red2@example.com", groupRed, deleters)
	blue2ID, blue2 := e.user("blue2@example.com", groupBlue, deleters)
	for id, role := range map[string]string{red2ID: "red", blue2ID: "blue"} {
		rec := e.call("POST", e.mpath("/members"), fmt.Sprintf(`{"user_id":%q,"role":%q}`, id, role), e.admin)
		require.Equal(t, 201, rec.Code, rec.Body.String())
	}
	mine := e.uploaded(red2, evFile("mine.png", pngBytes(7, 10)))
	theirs := e.uploaded(e.blue, evFile("theirs.png", pngBytes(8, 10)))
	del := func(f map[string]any, tok string) *httptest.ResponseRecorder {
		return e.call("DELETE", fmt.Sprint("/api/v1/evidence/", f["id"]), "", tok)
	}

	rec = del(mine, e.red)
	require.Equal(t, 403, rec.Code, "Red team holds no evidence.delete")
	assert.Equal(t, "evidence.delete", decodeErr(t, rec).Error.Details["permission"])
	rec = del(theirs, red2)
	require.Equal(t, 403, rec.Code, "not the uploader, not a lead")
	assert.Equal(t, "not_uploader", decodeErr(t, rec).Error.Code)
	rec = del(mine, blue2)
	require.Equal(t, 403, rec.Code)
	rec = del(mine, e.outsider)
	require.Equal(t, 403, rec.Code, "the route's permission first")
	assert.Equal(t, "evidence.delete", decodeErr(t, rec).Error.Details["permission"])
	_, outsider2 := e.user("outsider2@example.com", groupRed, deleters)
	assert.Equal(t, 404, del(mine, outsider2).Code, "not a member: the evidence does not exist")

	require.Equal(t, 204, del(mine, red2).Code, "the uploader")
	require.Equal(t, 204, del(theirs, e.admin).Code, "a lead")
	assert.Equal(t, 404, del(mine, red2).Code, "already deleted")

	// Soft: rows and files stay; lists and downloads forget them.
	assert.Equal(t, 2, dbtest.Count(t, e.db, "evidence_files"))
	assert.Len(t, e.evidenceFiles(), 2)
	rec = e.call("GET", e.evidencePath(), "", e.admin)
	assert.EqualValues(t, 0, jsonBody(t, rec)["total"])
	assert.Equal(t, 404, e.call("GET", fmt.Sprint("/api/v1/evidence/", mine["id"]), "", e.admin).Code)
	var n int
	require.NoError(t, e.db.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'evidence.delete'`).Scan(&n))
	assert.Equal(t, 2, n)
}

func TestEvidenceMissingFile(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	f := e.uploaded(e.red, evFile("gone.png", pngBytes(9, 10)))
	sum := f["sha256"].(string)
	require.NoError(t, os.Remove(filepath.Join(e.dataDir, "evidence", sum[:2], sum[2:])))
	rec := e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red)
	require.Equal(t, 404, rec.Code)
	assert.Equal(t, "evidence_missing", decodeErr(t, rec).Error.Code)
	// A later upload of the same bytes restores it.
	e.uploaded(e.blue, evFile("again.png", pngBytes(9, 10)))
	assert.Equal(t, 200, e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red).Code)
	// A truncated file is as good as missing.
	require.NoError(t, os.WriteFile(filepath.Join(e.dataDir, "evidence", sum[:2], sum[2:]), []byte("x"), 0o600))
	rec = e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red)
	require.Equal(t, 404, rec.Code)
	assert.Equal(t, "evidence_missing", decodeErr(t, rec).Error.Code)
	// A row whose hash is not hex (a forged bundle) never names a path.
	_, err := e.db.Write.Update("evidence_files", dbx.Params{"sha256": strings.Repeat("../", 21) + "x"},
		dbx.HashExp{"id": f["id"]}).Execute()
	require.NoError(t, err)
	rec = e.call("GET", fmt.Sprint("/api/v1/evidence/", f["id"]), "", e.red)
	require.Equal(t, 404, rec.Code)
	assert.Equal(t, "evidence_missing", decodeErr(t, rec).Error.Code)
}

// TestEvidenceStreamsLargeUpload sends 64 MiB produced on the fly (no slice
// of that size exists on either side) and checks the hash end to end.
func TestEvidenceStreamsLargeUpload(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	const size = 64 << 20
	gen := io.LimitReader(rand.NewChaCha8([32]byte{1, 2, 3}), size)
	want := sha256.New()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "memory.dmp")
		if err == nil {
			_, err = io.Copy(fw, io.TeeReader(gen, want))
		}
		if err == nil {
			err = mw.WriteField("caption", "streamed")
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	rec := e.send("POST", e.evidencePath(), pr, mw.FormDataContentType(), e.red)
	pr.Close()
	require.Equal(t, 201, rec.Code, rec.Body.String())
	f := jsonBody(t, rec)
	sum := hex.EncodeToString(want.Sum(nil))
	assert.Equal(t, sum, f["sha256"])
	assert.EqualValues(t, size, f["size"])
	assert.Equal(t, "streamed", f["caption"])

	// The stored file hashes the same (read in a stream too).
	fh, err := os.Open(filepath.Join(e.dataDir, "evidence", sum[:2], sum[2:]))
	require.NoError(t, err)
	defer fh.Close()
	got := sha256.New()
	n, err := io.Copy(got, fh)
	require.NoError(t, err)
	assert.EqualValues(t, size, n)
	assert.Equal(t, sum, hex.EncodeToString(got.Sum(nil)))
}

func TestContentDisposition(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"shot.png":      `attachment; filename="shot.png"; filename*=UTF-8''shot.png`,
		`"q";name`:      `attachment; filename="_q_;name"; filename*=UTF-8''%22q%22%3Bname`,
		"résumé 📄.png":  `attachment; filename="r_sum_ _.png"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%93%84.png`,
		`a\b%41.txt`:    `attachment; filename="a_b_41.txt"; filename*=UTF-8''a%5Cb%2541.txt`,
		"日本語":           `attachment; filename="evidence"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E`,
		"x'y*z=(1).tar": `attachment; filename="x'y*z=(1).tar"; filename*=UTF-8''x%27y%2Az%3D%281%29.tar`,
	} {
		got := contentDisposition("attachment", name)
		assert.Equal(t, want, got, name)
		_, params, err := mime.ParseMediaType(got)
		require.NoError(t, err, got)
		assert.Equal(t, name, params["filename"], got)
	}
}
