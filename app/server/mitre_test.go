package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre/mitretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func attackFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join("..", "..", "..", "shared", "testdata", "attack", name)
}

// uploadBundle posts a multipart sync with the given fields before the file.
func (e *apiEnv) uploadBundle(token string, file []byte, fields map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(e.t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("file", "enterprise-attack-small.json")
	require.NoError(e.t, err)
	_, _ = fw.Write(file)
	require.NoError(e.t, mw.Close())
	req := httptest.NewRequest("POST", "/api/v1/mitre/sync", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

func TestMitreAPI(t *testing.T) {
	t.Parallel()
	importDir, err := filepath.Abs(filepath.Dir(attackFile(t, "enterprise-attack-small.json")))
	require.NoError(t, err)
	e := newAPIEnv(t, withOptions(func(o *Options) { o.EnableReset = true }), withImportDir(importDir))
	admin := e.setupAdmin()
	_, viewer := e.user("viewer@example.com", groupViewers)
	small, err := os.ReadFile(attackFile(t, "enterprise-attack-small.json"))
	require.NoError(t, err)

	rec := e.call("GET", "/api/v1/mitre/status", "", viewer)
	require.Equal(t, 200, rec.Code)
	st := jsonBody(t, rec)
	assert.Nil(t, st["last_sync"])
	assert.Equal(t, "18.1", st["default_version"])
	assert.Contains(t, st["default_url"], "enterprise-attack-18.1.json")
	assert.Equal(t, "", st["default_sha256"])

	// Viewers cannot sync.
	rec = e.uploadBundle(viewer, small, map[string]string{"allow_unverified": "true"})
	require.Equal(t, 403, rec.Code)
	// Unverified without the flag: 422 and nothing imported.
	rec = e.uploadBundle(admin, small, nil)
	require.Equal(t, 422, rec.Code)
	assert.Equal(t, "unverified_source", decodeErr(t, rec).Error.Code)
	assert.Zero(t, dbtest.Count(t, e.db, "mitre_techniques"))

	rec = e.uploadBundle(admin, small, map[string]string{"allow_unverified": "true", "version": "18.1"})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	res := jsonBody(t, rec)
	assert.Equal(t, "unverified", res["verification"])
	assert.Equal(t, "upload:enterprise-attack-small.json", res["source_url"])

	rec = e.call("GET", "/api/v1/mitre/tactics", "", viewer)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"external_id":"TA0002"`)
	rec = e.call("GET", "/api/v1/mitre/techniques?tactic=persistence&per_page=1", "", viewer)
	require.Equal(t, 200, rec.Code)
	page := jsonBody(t, rec)
	assert.EqualValues(t, 2, page["total"])
	assert.EqualValues(t, 1, page["per_page"])
	assert.Len(t, page["items"], 1)
	rec = e.call("GET", "/api/v1/mitre/techniques?q=powershell", "", viewer)
	assert.Contains(t, rec.Body.String(), `"external_id":"T1059"`)
	rec = e.call("GET", "/api/v1/mitre/subtechniques?technique=T1059", "", viewer)
	assert.Contains(t, rec.Body.String(), `"external_id":"T1059.001"`)
	rec = e.call("GET", "/api/v1/mitre/techniques/T1059.001", "", viewer)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"description":`)
	assert.Equal(t, 404, e.call("GET", "/api/v1/mitre/techniques/T9999", "", viewer).Code)
	rec = e.call("GET", "/api/v1/mitre/techniques?tactic=nope", "", viewer)
	assert.Equal(t, 422, rec.Code)
	assert.Equal(t, 400, e.call("GET", "/api/v1/mitre/techniques?per_page=1000", "", viewer).Code)
	assert.Equal(t, 400, e.call("GET", "/api/v1/mitre/techniques?include_deprecated=perhaps", "", viewer).Code)

	// Verified afterwards by the canonical digest: the badge's source.
	digest := res["canonical_digest"].(string)
	require.Len(t, digest, 64)
	assert.Equal(t, 403, e.call("POST", "/api/v1/mitre/verify", `{"sha256":"`+digest+`"}`, viewer).Code)
	rec = e.call("POST", "/api/v1/mitre/verify", `{"sha256":"`+strings.Repeat("ab", 32)+`"}`, admin)
	require.Equal(t, 422, rec.Code)
	assert.Equal(t, "sha256_mismatch", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 422, e.call("POST", "/api/v1/mitre/verify", `{"sha256":"nope"}`, admin).Code)
	rec = e.call("POST", "/api/v1/mitre/verify", `{"sha256":"`+digest+`"}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	st = jsonBody(t, rec)
	assert.Equal(t, true, st["verified"])
	assert.Equal(t, "sha256", st["verification"])
	assert.NotNil(t, st["verified_at"])
	rec = e.call("GET", "/api/v1/mitre/status", "", viewer)
	assert.Equal(t, true, jsonBody(t, rec)["verified"])

	// JSON form with a file of the import directory, by name or by path.
	abs, _ := filepath.Abs(attackFile(t, "enterprise-attack-small.json"))
	for _, src := range []string{abs, "enterprise-attack-small.json"} {
		rec = e.call("POST", "/api/v1/mitre/sync", `{"source":"`+src+`","allow_unverified":true}`, admin)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		assert.EqualValues(t, 0, jsonBody(t, rec)["change_count"], "re-sync changes nothing")
		assert.Equal(t, abs, jsonBody(t, rec)["source_url"])
	}

	// Reset wipes catalogue and metadata together.
	rec = e.call("POST", "/api/v1/diag/reset", "", admin)
	require.Equal(t, 200, rec.Code)
	admin = e.setupAdmin()
	rec = e.call("GET", "/api/v1/mitre/status", "", admin)
	assert.Nil(t, jsonBody(t, rec)["last_sync"])
	rec = e.call("GET", "/api/v1/mitre/tactics", "", admin)
	assert.EqualValues(t, 0, jsonBody(t, rec)["total"])
}

// zeroReader is an endless stream of zeros.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestMitreHugeUploadRejectedEarly(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	// Declared 2 GB: refused before reading the body.
	req := httptest.NewRequest("POST", "/api/v1/mitre/sync", io.LimitReader(zeroReader{}, 1<<20))
	req.ContentLength = 2 << 30
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.Header.Set("Authorization", "Bearer "+admin)
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	require.Equal(t, 413, rec.Code)
	assert.Equal(t, "too_large", decodeErr(t, rec).Error.Code)

	// Undeclared size (chunked) and not JSON: refused as soon as the parser
	// sees it, without reading the rest. (The 256 MiB streaming limit for a
	// well-formed body is TestSyncStopsAtSizeLimit in app/mitre: reaching it
	// here would mean pushing 256 MiB through the handler.)
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	_, err := mw.CreateFormFile("file", "huge.json")
	require.NoError(t, err)
	rest := &countingReader{r: io.LimitReader(zeroReader{}, 300<<20)}
	body := io.MultiReader(strings.NewReader(head.String()+`{"type":"bundle","objects":["`), rest)
	req = httptest.NewRequest("POST", "/api/v1/mitre/sync", body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+admin)
	rec = httptest.NewRecorder()
	e.serve(rec, req)
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Equal(t, "invalid_bundle", decodeErr(t, rec).Error.Code)
	assert.Less(t, rest.n, int64(8<<20), "stopped early, not after reading 300 MiB")
	assert.Zero(t, dbtest.Count(t, e.db, "mitre_techniques"))
}

// Catalogue answers are cached per catalogue state (mitre.CachedJSON): after
// a re-sync every answer is the new catalogue's, byte for byte what a
// server that never cached anything answers.
func TestMitreAnswersAfterResync(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	small, err := os.ReadFile(attackFile(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	rec := e.uploadBundle(admin, small, map[string]string{"allow_unverified": "true"})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	paths := []string{
		"/api/v1/mitre/techniques?q=native",
		"/api/v1/mitre/techniques?tactic=persistence",
		"/api/v1/mitre/techniques?tactic=execution&per_page=2&page=2",
		"/api/v1/mitre/tactics",
		"/api/v1/mitre/subtechniques?technique=T1059",
		"/api/v1/mitre/techniques/T1106",
	}
	get := func(srv *Server, path string) string {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, 200, rec.Code, "%s: %s", path, rec.Body.String())
		assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
		assert.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"), path)
		return rec.Body.String()
	}
	uncached := func() *Server {
		return New(Options{Set: newTestSet(t, e.db, e.clock.now), Assets: testAssets, Version: "test"})
	}
	before := map[string]string{}
	fresh := uncached()
	for _, p := range paths {
		before[p] = get(e.srv, p)
		assert.Equal(t, before[p], get(e.srv, p), "%s: the cached answer", p)
		assert.Equal(t, get(fresh, p), before[p], p)
	}
	assert.Contains(t, before[paths[0]], `"name":"Native API"`)
	assert.NotContains(t, before[paths[1]], "T1106")

	moved, err := os.ReadFile(mitretest.MoveTechnique(t, attackFile(t, "enterprise-attack-small.json"), "T1106", "persistence", "Native API (moved)"))
	require.NoError(t, err)
	rec = e.uploadBundle(admin, moved, map[string]string{"allow_unverified": "true"})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	fresh = uncached()
	for _, p := range paths {
		assert.Equal(t, get(fresh, p), get(e.srv, p), "%s: the new catalogue's answer", p)
	}
	assert.Contains(t, get(e.srv, paths[0]), `"name":"Native API (moved)"`)
	assert.Contains(t, get(e.srv, paths[1]), `"external_id":"T1106"`)
	assert.NotEqual(t, before[paths[3]], get(e.srv, paths[3]), "technique counts per tactic changed")
	assert.Contains(t, get(e.srv, paths[5]), `"shortname":"persistence"`)
}

// TestMitreSyncSources: the issue-14 probe read server files and fetched
// URLs chosen by the caller, and its error texts told what exists. Without
// an import directory and an allowed host list, only uploads (and the
// pinned release) work; with them, only what they name; every refusal
// reads the same, missing or forbidden, and no connection is attempted.
func TestMitreSyncSources(t *testing.T) {
	t.Parallel()
	// A listener that counts connections: a refused URL must never reach it.
	var conns atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	importDir := t.TempDir()
	outside := t.TempDir()
	small, err := os.ReadFile(attackFile(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(importDir, "bundle.json"), small, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.json"), []byte(`{"not":"a bundle"}`), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(importDir, "escape.json")))
	require.NoError(t, os.Symlink(outside, filepath.Join(importDir, "escape-dir")))
	require.NoError(t, os.Mkdir(filepath.Join(importDir, "sub"), 0o700))

	refused := func(e *apiEnv, admin string, sources ...string) {
		t.Helper()
		var first string
		for _, src := range sources {
			body, _ := json.Marshal(map[string]any{"source": src, "allow_unverified": true})
			rec := e.call("POST", "/api/v1/mitre/sync", string(body), admin)
			require.Equal(t, 422, rec.Code, "%s: %s", src, rec.Body.String())
			er := decodeErr(t, rec).Error
			assert.Equal(t, "source_unavailable", er.Code, src)
			if first == "" {
				first = er.Message
			}
			assert.Equal(t, first, er.Message, "%s: every refusal reads the same", src)
		}
	}
	port := ln.Addr().(*net.TCPAddr).Port
	local := fmt.Sprintf("https://127.0.0.1:%d/x.json", port)
	outsideFile := filepath.Join(outside, "secret.json")

	// Default: no import directory, no allowed hosts.
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	refused(e, admin, outsideFile, "/etc/passwd", "/nonexistent/file.json", "bundle.json", local,
		"https://127.0.0.1:1/x", "http://127.0.0.1:1/x", "https://attack.example.org/x.json", "ftp://x/y", "relative/path")
	assert.Zero(t, conns.Load(), "no connection was attempted")
	rec := e.uploadBundle(admin, small, map[string]string{"allow_unverified": "true"})
	require.Equal(t, 200, rec.Code, "uploads always work: %s", rec.Body.String())

	// With an import directory: its files by name or path, nothing else.
	e = newAPIEnv(t, withImportDir(importDir))
	admin = e.setupAdmin()
	refused(e, admin, outsideFile, "../"+filepath.Base(outside)+"/secret.json", "escape.json", "escape-dir/secret.json",
		"missing.json", "sub", filepath.Join(importDir, "..", filepath.Base(outside), "secret.json"), "/etc/passwd", local)
	rec = e.call("POST", "/api/v1/mitre/sync", `{"source":"bundle.json","allow_unverified":true}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = e.call("POST", "/api/v1/mitre/sync", `{"source":"`+filepath.Join(importDir, "bundle.json")+`","allow_unverified":true}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())

	// With an allowed host: only that host is fetched (here it answers
	// nothing a TLS client accepts, which is fine: it was reached).
	rec = e.call("PUT", "/api/v1/settings/mitre_sync_hosts", `{"value":["Attack.Example.org","127.0.0.1:`+fmt.Sprint(port)+`"]}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var hosts struct {
		Value []string `json:"value"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &hosts))
	assert.Equal(t, []string{"attack.example.org", "127.0.0.1:" + fmt.Sprint(port)}, hosts.Value)
	refused(e, admin, "https://127.0.0.1:1/x", "https://127.0.0.2:"+fmt.Sprint(port)+"/x", "https://evil.example.org/x.json")
	assert.Zero(t, conns.Load())
	rec = e.call("POST", "/api/v1/mitre/sync", `{"source":"`+local+`","allow_unverified":true}`, admin)
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Equal(t, "source_unreachable", decodeErr(t, rec).Error.Code)
	assert.Positive(t, conns.Load(), "the allowed host was connected to")
	rec = e.call("PUT", "/api/v1/settings/mitre_sync_hosts", `{"value":["https://x.org/path"]}`, admin)
	assert.Equal(t, 422, rec.Code)
}
