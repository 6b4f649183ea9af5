package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bunrouter"
)

var testAssets = fstest.MapFS{
	"index.html":           {Data: []byte("<!doctype html><title>Purplebook</title>")},
	"assets/app-abc123.js": {Data: []byte("console.log(1)")},
	"favicon.svg":          {Data: []byte("<svg/>")},
}

type testEnv struct {
	t   *testing.T
	db  *db.DB
	srv *Server
}

func newEnv(t *testing.T, opts Options, extra ...Route) *testEnv {
	t.Helper()
	if opts.Set == nil {
		opts.Set = newTestSet(t, dbtest.New(t), newTestClock(t, time.Time{}).now)
	}
	if opts.Assets == nil {
		opts.Assets = testAssets
	}
	if opts.Version == "" {
		opts.Version = "test"
	}
	s := &Server{opts: opts, extraRoutes: extra}
	s.handler = s.buildRouter()
	return &testEnv{t: t, db: opts.DB, srv: s}
}

// serve runs a request and checks the answer against the OpenAPI document.
func (e *testEnv) serve(rec *httptest.ResponseRecorder, req *http.Request) {
	e.t.Helper()
	keepBody(req)
	e.srv.Handler().ServeHTTP(rec, req)
	checkContract(e.t, e.srv, req, rec)
}

func (e *testEnv) do(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

type errBody struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

func decodeErr(t *testing.T, rec *httptest.ResponseRecorder) errBody {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"), rec.Body.String())
	var b errBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b), rec.Body.String())
	require.NotEmpty(t, b.Error.Code)
	require.NotEmpty(t, b.Error.Message)
	require.NotNil(t, b.Error.Details, "details is always an object")
	require.NotEmpty(t, b.RequestID)
	return b
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Version: "v1.2.3"})
	rec := e.do("GET", "/api/v1/health", "")
	require.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"status":"ok","version":"v1.2.3"}`, rec.Body.String())
	assert.NotEmpty(t, rec.Header().Get("X-Request-ID"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'self'")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
}

func TestRequestIDEchoedWhenSane(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	rec := e.do("GET", "/api/v1/health", "", "X-Request-ID", "abc-123")
	assert.Equal(t, "abc-123", rec.Header().Get("X-Request-ID"))
	rec = e.do("GET", "/api/v1/health", "", "X-Request-ID", "bad id\"<script>")
	assert.NotEqual(t, "bad id\"<script>", rec.Header().Get("X-Request-ID"))
	assert.Len(t, rec.Header().Get("X-Request-ID"), 16)
}

func TestUnknownAPIPathIsJSON404ForEveryMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		rec := e.do(m, "/api/v1/nope", "")
		require.Equal(t, 404, rec.Code, m)
		b := decodeErr(t, rec)
		assert.Equal(t, "not_found", b.Error.Code)
		assert.Contains(t, b.Error.Message, "/api/v1/nope")
	}
	rec := e.do("GET", "/api", "")
	assert.Equal(t, 404, rec.Code)
	decodeErr(t, rec)
}

func TestWrongMethodIsJSON405(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		rec := e.do(m, "/api/v1/health", "")
		require.Equal(t, 405, rec.Code, m)
		b := decodeErr(t, rec)
		assert.Equal(t, "method_not_allowed", b.Error.Code)
	}
	// Non-API paths accept only GET/HEAD.
	rec := e.do("POST", "/missions", "")
	require.Equal(t, 405, rec.Code)
	decodeErr(t, rec)
}

func TestPanicBecomes500WithoutInternals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{}, Route{Method: "GET", Path: "/boom", Access: Public,
		h: func(w http.ResponseWriter, req bunrouter.Request) error { panic("secret internal detail") }},
		Route{Method: "GET", Path: "/fail", Access: Public,
			h: func(w http.ResponseWriter, req bunrouter.Request) error {
				return errors.New("pq: password authentication failed for user secret")
			}})
	for _, p := range []string{"/api/v1/boom", "/api/v1/fail"} {
		rec := e.do("GET", p, "")
		require.Equal(t, 500, rec.Code)
		b := decodeErr(t, rec)
		assert.Equal(t, "internal", b.Error.Code)
		assert.NotContains(t, rec.Body.String(), "secret")
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	t.Parallel()
	var got any
	e := newEnv(t, Options{}, Route{Method: "POST", Path: "/echo", Access: Public, Limit: 64,
		h: func(w http.ResponseWriter, req bunrouter.Request) error {
			var in map[string]any
			if err := decodeJSON(req, &in); err != nil {
				return err
			}
			got = in
			return writeJSON(w, 200, in)
		}})
	big := `{"a":"` + strings.Repeat("x", 100) + `"}`
	rec := e.do("POST", "/api/v1/echo", big)
	require.Equal(t, 413, rec.Code)
	assert.Equal(t, "too_large", decodeErr(t, rec).Error.Code)
	assert.Nil(t, got)

	// Without Content-Length (chunked): the limit still applies while reading.
	req := httptest.NewRequest("POST", "/api/v1/echo", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	e.serve(rec, req)
	require.Equal(t, 413, rec.Code)

	rec = e.do("POST", "/api/v1/echo", `{"a":1}`)
	require.Equal(t, 200, rec.Code)
}

func TestBadJSONIs400(t *testing.T) {
	t.Parallel()
	type in struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	e := newEnv(t, Options{}, Route{Method: "POST", Path: "/echo", Access: Public,
		h: func(w http.ResponseWriter, req bunrouter.Request) error {
			var v in
			if err := decodeJSON(req, &v); err != nil {
				return err
			}
			return writeJSON(w, 200, v)
		}})
	cases := map[string]string{
		"":                     "invalid_json",
		"{":                    "invalid_json",
		"not json":             "invalid_json",
		`{"name":"a"} {}`:      "invalid_json",
		`{"nope":1}`:           "unknown_field",
		`{"n":"x"}`:            "invalid_type",
		`[1,2]`:                "invalid_json",
		`{"name":"a","n":1.5}`: "invalid_type",
	}
	for body, code := range cases {
		req := httptest.NewRequest("POST", "/api/v1/echo", strings.NewReader(body))
		rec := httptest.NewRecorder()
		e.serve(rec, req)
		require.Equal(t, 400, rec.Code, body)
		assert.Equal(t, code, decodeErr(t, rec).Error.Code, body)
	}
	rec := e.do("POST", "/api/v1/echo", `{"name":"a"}`, "Content-Type", "text/plain")
	require.Equal(t, 400, rec.Code)
	assert.Equal(t, "unsupported_media_type", decodeErr(t, rec).Error.Code)
}

func TestSPA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	rec := e.do("GET", "/", "")
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), "<title>Purplebook</title>")
	assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")

	rec = e.do("GET", "/missions/123/board", "")
	require.Equal(t, 200, rec.Code, "history fallback")
	assert.Contains(t, rec.Body.String(), "<title>Purplebook</title>")

	rec = e.do("GET", "/assets/app-abc123.js", "")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
	assert.Contains(t, rec.Header().Get("Content-Type"), "javascript")

	rec = e.do("GET", "/assets/missing.js", "")
	assert.Equal(t, 404, rec.Code, "no fallback for files")

	rec = e.do("GET", "/api/v1/missing", "")
	assert.Equal(t, 404, rec.Code)
	assert.NotContains(t, rec.Body.String(), "<title>")

	rec = e.do("GET", "/../../etc/passwd", "")
	assert.NotContains(t, rec.Body.String(), "root:")
}

func TestDiagDB(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	require.Equal(t, 401, e.call("GET", "/api/v1/diag/db", "", "").Code, "not public")
	rec := e.call("GET", "/api/v1/diag/db", "", admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var st struct {
		Reachable        bool   `json:"reachable"`
		Driver           string `json:"driver"`
		MigrationVersion uint   `json:"migration_version"`
		Dirty            bool   `json:"dirty"`
		TableCount       int    `json:"table_count"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	assert.True(t, st.Reachable)
	assert.Equal(t, dbtest.Backend(), st.Driver)
	latest, err := e.db.LatestVersion()
	require.NoError(t, err)
	assert.Equal(t, latest, st.MigrationVersion)
	assert.False(t, st.Dirty)
	assert.Equal(t, 36, st.TableCount)

	// Outage: the pools are closed, the database cannot answer. The
	// principal is cached, so the request still reaches the handler.
	require.NoError(t, e.db.Close())
	rec = e.call("GET", "/api/v1/diag/db", "", admin)
	require.Equal(t, 503, rec.Code)
	var down map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &down))
	assert.Equal(t, false, down["reachable"])
	assert.Equal(t, dbtest.Backend(), down["driver"])
}

func TestResetOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	off := newEnv(t, Options{})
	rec := off.do("POST", "/api/v1/diag/reset", "")
	require.Equal(t, 404, rec.Code)
	decodeErr(t, rec)
}

func TestResetEmptiesDataAndKeepsSeeds(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, withOptions(func(o *Options) { o.EnableReset = true }))
	admin := e.setupAdmin()
	_, nobody := e.user("nobody@example.com")
	require.Equal(t, 401, e.call("POST", "/api/v1/diag/reset", "", "").Code)
	require.Equal(t, 403, e.call("POST", "/api/v1/diag/reset", "", nobody).Code)
	perms := dbtest.Count(t, e.db, "permissions")
	groups := dbtest.Count(t, e.db, "groups")
	levels := dbtest.Count(t, e.db, "detection_levels")
	require.Positive(t, perms)
	require.Equal(t, 4, groups)
	require.Equal(t, 6, levels)
	seedSomeData(t, e.db)
	require.Equal(t, 5, dbtest.Count(t, e.db, "groups"))
	require.Positive(t, dbtest.Count(t, e.db, "audit_events"))

	rec := e.call("POST", "/api/v1/diag/reset", "", admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", admin).Code, "the admin is gone")
	rec = e.call("GET", "/api/v1/setup", "", "")
	assert.JSONEq(t, `{"needed":true}`, rec.Body.String())
	assert.FileExists(t, e.dataDir+"/setup-token", "a new setup token lets the instance be set up again")

	cat, err := e.db.Catalog(t.Context())
	require.NoError(t, err)
	seeded := map[string]int{"permissions": perms, "groups": groups, "detection_levels": levels, "audit_chain": 1}
	for _, name := range cat.TableNames() {
		n := dbtest.Count(t, e.db, name)
		switch name {
		case "permissions", "groups", "detection_levels", "audit_chain":
			assert.Equal(t, seeded[name], n, name)
		case "group_permissions":
			assert.Positive(t, n, name)
		default:
			assert.Zero(t, n, name)
		}
	}
}

// seedSomeData writes a user in a new group and a notification, with the
// columns every version of the schema has.
func seedSomeData(t *testing.T, d *db.DB) {
	t.Helper()
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	uid, gid := db.NewID(), db.NewID()
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := d.Write.NewQuery(q).Bind(dbxParams(toParams(args...))).Execute()
		require.NoError(t, err, q)
	}
	exec(`INSERT INTO users (id, email, email_fold, name, name_fold, password_hash, created_at, updated_at) VALUES ({:p0}, {:p1}, {:p1}, {:p2}, {:p2}, {:p3}, {:p4}, {:p4})`,
		uid, "a@example.com", "A", "x", now)
	exec(`INSERT INTO groups (id, name, name_fold, created_at, updated_at) VALUES ({:p0}, {:p1}, {:p1}, {:p2}, {:p2})`, gid, "Temp", now)
	exec(`INSERT INTO user_groups (user_id, group_id) VALUES ({:p0}, {:p1})`, uid, gid)
}

func toParams(args ...any) map[string]any {
	m := map[string]any{}
	for i, a := range args {
		m["p"+string(rune('0'+i))] = a
	}
	return m
}

func dbxParams(m map[string]any) dbx.Params { return dbx.Params(m) }
