package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/require"
)

// Cheap argon2 for tests: the real parameters are measured by the benchmark.
var testArgon = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// apiEnv is a full server on a fresh database (the backend dbtest picks),
// with a real auth service and a data dir.
type apiEnv struct {
	t       *testing.T
	db      *db.DB
	auth    *auth.Service
	srv     *Server
	dataDir string
	clock   *testClock
	admin   string // access token of the first administrator, after setupAdmin
	adminID string
}

// testClock lets tests move time forward (token expiry, invitations).
type testClock struct{ offset time.Duration }

func (c *testClock) now() time.Time { return time.Now().Add(c.offset) }

const adminEmail, adminPassword = "admin@example.com", "correct horse battery staple"

func newAPIEnv(t *testing.T, opts ...func(*Options)) *apiEnv {
	t.Helper()
	e := &apiEnv{t: t, db: dbtest.New(t), dataDir: t.TempDir(), clock: &testClock{}}
	a, err := auth.New(auth.Options{DB: e.db, Key: []byte(strings.Repeat("k", 32)), DataDir: e.dataDir,
		Argon2: testArgon, Now: e.clock.now})
	require.NoError(t, err)
	e.auth = a
	m := mitre.New(mitre.Options{DB: e.db})
	tp := templates.New(e.db, m)
	ms := missions.New(e.db, tp, m)
	ev, err := evidence.New(evidence.Options{DB: e.db, Missions: ms, Limits: a, DataDir: e.dataDir})
	require.NoError(t, err)
	o := Options{DB: e.db, Auth: a, Mitre: m, Templates: tp, Missions: ms, Evidence: ev, DataDir: e.dataDir,
		Assets: testAssets, Version: "test"}
	for _, f := range opts {
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
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
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
	e.srv.Handler().ServeHTTP(rec, req)
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
