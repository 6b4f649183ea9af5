package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/services"
	"github.com/stretchr/testify/require"
)

// Cheap argon2 for tests: the real parameters are measured by the benchmark.
var testArgon = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// apiEnv is a full server on a fresh database (the backend dbtest picks),
// with the service set every instance has, a data dir and a test clock.
type apiEnv struct {
	t       *testing.T
	db      *db.DB
	auth    *auth.Service
	set     *services.Set
	srv     *Server
	dataDir string
	clock   *testClock
	admin   string // access token of the first administrator, after setupAdmin
	adminID string
}

// testClock is the clock of every service in a test: it starts at a given
// time, moves on with real time (so rows still sort by creation) and can
// be moved forward (token expiry, invitations). Tests take every time they
// send or expect from it, never from the wall clock or a literal date.
type testClock struct {
	origin time.Time // real time at creation (monotonic)
	start  time.Time
	offset atomic.Int64
}

// testClockEnv names an RFC 3339 time at which every API test's clock
// starts, to run the suite on another date:
//
//	PURPLEBOOK_TEST_CLOCK=2035-06-30T00:00:00Z go test ./app/server/
const testClockEnv = "PURPLEBOOK_TEST_CLOCK"

// newTestClock starts at start; the zero time means the wall clock's now,
// or the time in PURPLEBOOK_TEST_CLOCK when set.
func newTestClock(t testing.TB, start time.Time) *testClock {
	if start.IsZero() {
		start = time.Now()
		if v := os.Getenv(testClockEnv); v != "" {
			var err error
			start, err = time.Parse(time.RFC3339, v)
			require.NoError(t, err, testClockEnv)
		}
	}
	return &testClock{origin: time.Now(), start: start}
}

func (c *testClock) now() time.Time {
	return c.start.Add(time.Since(c.origin) + time.Duration(c.offset.Load()))
}

// advance moves the clock forward by d.
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// at formats the clock's now plus d as the API writes times.
func (c *testClock) at(d time.Duration) string { return db.NewTime(c.now().Add(d)).String() }

const adminEmail, adminPassword = "admin@example.com", "correct horse battery staple"

// newTestSet builds the service set on d with a throwaway data dir, a fixed
// key and cheap password hashing.
func newTestSet(t testing.TB, d *db.DB, now func() time.Time) *services.Set {
	return newTestSetIn(t, d, now, "")
}

// newTestSetIn is newTestSet with an import directory for ATT&CK syncs.
func newTestSetIn(t testing.TB, d *db.DB, now func() time.Time, importDir string) *services.Set {
	t.Helper()
	set, err := services.New(services.Options{DB: d, DataDir: t.TempDir(), Key: []byte(strings.Repeat("k", 32)),
		Now: now, Argon2: testArgon, ImportDir: importDir})
	require.NoError(t, err)
	return set
}

// withClockAt starts the environment's clock at start instead of now.
func withClockAt(start time.Time) func(*apiEnvConfig) {
	return func(c *apiEnvConfig) { c.start = start }
}

// withOptions changes the server options.
func withOptions(f func(*Options)) func(*apiEnvConfig) {
	return func(c *apiEnvConfig) { c.opts = append(c.opts, f) }
}

// withImportDir lets ATT&CK syncs read bundles from dir by name.
func withImportDir(dir string) func(*apiEnvConfig) {
	return func(c *apiEnvConfig) { c.importDir = dir }
}

type apiEnvConfig struct {
	start     time.Time
	opts      []func(*Options)
	importDir string
}

func newAPIEnv(t *testing.T, cfg ...func(*apiEnvConfig)) *apiEnv {
	t.Helper()
	var c apiEnvConfig
	for _, f := range cfg {
		f(&c)
	}
	e := &apiEnv{t: t, db: dbtest.New(t), clock: newTestClock(t, c.start)}
	e.set = newTestSetIn(t, e.db, e.clock.now, c.importDir)
	e.auth, e.dataDir = e.set.Auth, e.set.DataDir
	im, err := bundle.NewImports(context.Background(), bundle.ImportsOptions{Root: filepath.Join(e.dataDir, "bundles", "staging"),
		Now: e.clock.now, Recover: e.set.Evidence.DropUnreferenced})
	require.NoError(t, err)
	t.Cleanup(im.Close)
	o := Options{Set: e.set, Imports: im, Assets: testAssets, Version: "test"}
	for _, f := range c.opts {
		f(&o)
	}
	e.srv = New(o)
	return e
}

// setupAdmin runs first-run setup through the API and keeps the admin token.
func (e *apiEnv) setupAdmin() string {
	e.t.Helper()
	tok, err := e.auth.PrepareSetup(context.Background())
	require.NoError(e.t, err)
	require.NotEmpty(e.t, tok)
	rec := e.call("POST", "/api/v1/setup", `{"token":"`+tok+`","email":"`+adminEmail+`","name":"Admin","password":"`+adminPassword+`"}`, "")
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	var s struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &s))
	e.admin, e.adminID = s.AccessToken, s.User.ID
	return e.admin
}

// user creates an account in the given groups (ids) and returns its access token.
func (e *apiEnv) user(email string, groupIDs ...string) (id, token string) {
	e.t.Helper()
	if groupIDs == nil {
		groupIDs = []string{}
	}
	id, err := e.auth.CreateUser(context.Background(), nil, auth.CreateUserParams{
		Email: email, Name: strings.Split(email, "@")[0], Password: "a long enough password 1", GroupIDs: groupIDs}, auth.Meta{})
	require.NoError(e.t, err)
	return id, e.login(email, "a long enough password 1")
}

// login returns an access token.
func (e *apiEnv) login(email, password string) string {
	e.t.Helper()
	rec := e.call("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+password+`"}`, "")
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	var s struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &s))
	require.NotEmpty(e.t, s.AccessToken)
	return s.AccessToken
}

// call sends a request with an optional bearer token; extra are header pairs.
func (e *apiEnv) call(method, path, body, token string, extra ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = "192.0.2.1:1234"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

// serve runs one request through the server and checks the answer
// against the OpenAPI document (openapi_test.go): every API call of the
// suite is a contract test too.
func (e *apiEnv) serve(rec *httptest.ResponseRecorder, req *http.Request) {
	e.t.Helper()
	keepBody(req)
	e.srv.Handler().ServeHTTP(rec, req)
	checkContract(e.t, e.srv, req, rec)
}

// callCookie sends a request carrying the cookies of an earlier response.
func (e *apiEnv) callCookie(method, path string, cookies []*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "192.0.2.1:1234"
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

// jsonBody decodes a response body into a map.
func jsonBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return m
}

// Seeded group ids.
const (
	groupAdmins  = auth.AdminsGroupID
	groupRed     = "00000000-0000-7000-8000-000000000002"
	groupBlue    = "00000000-0000-7000-8000-000000000003"
	groupViewers = "00000000-0000-7000-8000-000000000004"
)
