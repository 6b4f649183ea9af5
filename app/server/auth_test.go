package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var publicRoutes = map[string]bool{
	"GET /health": true, "GET /setup": true, "POST /setup": true,
	"POST /auth/login": true, "POST /auth/refresh": true, "POST /invitations/accept": true,
	"POST /invitations/lookup": true, "GET /openapi.json": true,
}

var paramRe = regexp.MustCompile(`:[a-z_]+|\*[a-z_]+`)

// TestEveryRouteIsGuarded walks every route the router registers:
// anonymous callers get 401 except on the public list, and a signed-in user
// without permissions gets 403 on every permission-gated route. A route
// added without an access rule, or a public route not on the list, fails.
func TestEveryRouteIsGuarded(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, withOptions(func(o *Options) { o.EnableReset = true }))
	e.setupAdmin()
	_, nobody := e.user("nobody@example.com")
	routes := e.srv.Routes()
	require.NotEmpty(t, routes)
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		path := "/api/v1" + paramRe.ReplaceAllString(rt.Path, db.NewID())
		if rt.Access == Public {
			assert.True(t, publicRoutes[key], "%s is public but not on the public list", key)
			continue
		}
		assert.False(t, publicRoutes[key], "%s should be public", key)
		rec := e.call(rt.Method, path, "{}", "")
		assert.Equal(t, 401, rec.Code, "anonymous %s", key)
		assert.Equal(t, "unauthenticated", decodeErr(t, rec).Error.Code, key)
		if rt.Access == Permission {
			require.NotEmpty(t, rt.Perm, key)
			rec := e.call(rt.Method, path, "{}", nobody)
			assert.Equal(t, 403, rec.Code, "no-permission user %s", key)
			assert.Equal(t, rt.Perm, decodeErr(t, rec).Error.Details["permission"], key)
		}
		if rt.Access == Authenticated && rt.Method != "GET" {
			assert.Contains(t, selfServiceWrites, key, "%s writes without a permission: declare one, or list it as self-service", key)
		}
		// Credential and profile routes are for login sessions only.
		assert.Equal(t, sessionOnly[key], rt.Session, "%s: Session", key)
	}
	// Personal API tokens: each narrowed token reaches exactly what its
	// permission allows, and no token a Session route (harden_test.go).
	checkTokenScopes(t, e, routes)
}

// Routes a personal API token may never call: the caller's own
// credentials and profile.
var sessionOnly = map[string]bool{
	"POST /auth/logout": true, "POST /auth/password": true, "PATCH /auth/me": true,
	"GET /auth/mfa": true, "POST /auth/mfa/enroll": true, "POST /auth/mfa/confirm": true,
	"POST /auth/mfa/disable": true, "POST /auth/mfa/recovery-codes": true,
	"GET /api-tokens": true, "POST /api-tokens": true, "DELETE /api-tokens/:id": true,
}

// Writes that act only on the caller's own account.
var selfServiceWrites = []string{
	"POST /auth/logout", "POST /auth/password", "POST /auth/mfa/enroll", "POST /auth/mfa/confirm",
	"POST /auth/mfa/disable", "POST /auth/mfa/recovery-codes", "POST /api-tokens", "DELETE /api-tokens/:id",
	"PATCH /auth/me", "POST /notifications/:id/read", "POST /notifications/read-all",
}

func TestSetupFlow(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	rec := e.call("GET", "/api/v1/setup", "", "")
	assert.JSONEq(t, `{"needed":true}`, rec.Body.String())

	tok, err := e.auth.PrepareSetup(context.Background())
	require.NoError(t, err)
	path := filepath.Join(e.dataDir, "setup-token")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, _ := os.ReadFile(path)
	assert.Equal(t, tok, strings.TrimSpace(string(b)))

	// Wrong token: 403, nothing created.
	rec = e.call("POST", "/api/v1/setup", `{"token":"wrong","email":"a@example.com","name":"A","password":"`+adminPassword+`"}`, "")
	require.Equal(t, 403, rec.Code)
	assert.Equal(t, "invalid_setup_token", decodeErr(t, rec).Error.Code)
	assert.Zero(t, dbtest.Count(t, e.db, "users"))

	// Weak password: 422 naming the field, nothing created.
	rec = e.call("POST", "/api/v1/setup", `{"token":"`+tok+`","email":"not-an-email","name":"","password":"short"}`, "")
	require.Equal(t, 422, rec.Code)
	d := decodeErr(t, rec).Error.Details
	assert.Contains(t, d, "email")
	assert.Contains(t, d, "name")
	assert.Contains(t, d, "password")
	assert.Zero(t, dbtest.Count(t, e.db, "users"))

	rec = e.call("POST", "/api/v1/setup", `{"token":"`+tok+`","email":"Admin@Example.com","name":"Admin","password":"`+adminPassword+`"}`, "")
	require.Equal(t, 201, rec.Code, rec.Body.String())
	body := jsonBody(t, rec)
	assert.Equal(t, "Bearer", body["token_type"])
	user := body["user"].(map[string]any)
	assert.Equal(t, "Admin@Example.com", user["email"])
	assert.Contains(t, user["permissions"], "diag.reset")
	assert.NoFileExists(t, path, "the token file is removed")

	// Setup cannot run twice, even with the old token.
	rec = e.call("POST", "/api/v1/setup", `{"token":"`+tok+`","email":"b@example.com","name":"B","password":"`+adminPassword+`"}`, "")
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "setup_done", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 1, dbtest.Count(t, e.db, "users"))
	rec = e.call("GET", "/api/v1/setup", "", "")
	assert.JSONEq(t, `{"needed":false}`, rec.Body.String())

	// Email is case-insensitive at login.
	e.login("admin@EXAMPLE.com", adminPassword)
}

func TestLoginErrorsAreIndistinguishable(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	wrong := e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"wrong password here"}`, "")
	unknown := e.call("POST", "/api/v1/auth/login", `{"email":"ghost@example.com","password":"wrong password here"}`, "")
	require.Equal(t, 401, wrong.Code)
	require.Equal(t, 401, unknown.Code)
	we, ue := decodeErr(t, wrong).Error, decodeErr(t, unknown).Error
	assert.Equal(t, we.Code, ue.Code)
	assert.Equal(t, we.Message, ue.Message)
	// Both failures are audited.
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.login_failed'").Row(&n))
	assert.Equal(t, 2, n)
	// No secret reaches the audit log.
	var details []string
	require.NoError(t, e.db.Read.NewQuery("SELECT details FROM audit_events").Column(&details))
	for _, d := range details {
		assert.NotContains(t, d, "wrong password here")
	}
}

func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	var last int
	var retry string
	for i := 0; i < 8; i++ {
		rec := e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"not the password"}`, "")
		last, retry = rec.Code, rec.Header().Get("Retry-After")
		if last == 429 {
			assert.Equal(t, "too_many_requests", decodeErr(t, rec).Error.Code)
			break
		}
		require.Equal(t, 401, last)
	}
	require.Equal(t, 429, last, "repeated failures are throttled")
	assert.NotEmpty(t, retry)
	// Even the right password waits while locked…
	rec := e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`, "")
	assert.Equal(t, 429, rec.Code)
	// …but the lock is short and ends: the admin is never locked out forever.
	e.clock.advance(20 * time.Minute)
	e.login(adminEmail, adminPassword)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	rec := e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`, "")
	require.Equal(t, 200, rec.Code)
	first := jsonBody(t, rec)["refresh_token"].(string)
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == refreshCookie {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	assert.Equal(t, "/api/v1/auth", cookie.Path)
	assert.Equal(t, first, cookie.Value)

	// Stored hashed only.
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = {:t}").Bind(map[string]any{"t": first}).Row(&n))
	assert.Zero(t, n)

	// Rotate via the cookie.
	rec = e.callCookie("POST", "/api/v1/auth/refresh", []*http.Cookie{cookie})
	require.Equal(t, 200, rec.Code, rec.Body.String())
	second := jsonBody(t, rec)["refresh_token"].(string)
	access2 := jsonBody(t, rec)["access_token"].(string)
	require.NotEqual(t, first, second)
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", access2).Code)

	// Reuse the first: 401, and the newer token of the family dies too.
	rec = e.call("POST", "/api/v1/auth/refresh", `{"refresh_token":"`+first+`"}`, "")
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "refresh_token_reused", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", "/api/v1/auth/refresh", `{"refresh_token":"`+second+`"}`, "")
	require.Equal(t, 401, rec.Code, "the family is revoked")
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", access2).Code, "its access tokens end too")
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.refresh_reuse'").Row(&n))
	assert.Equal(t, 1, n)
}

// TestConcurrentRefreshSpendsTokenOnce presents one refresh token four times
// at once. Exactly one refresh rotates it; the others are a reuse of a spent
// token: the first of them revokes the whole family (401
// refresh_token_reused, audited once), the rest find it revoked (401
// invalid_refresh_token). Afterwards nothing of the family works, not even
// the winner's new tokens. Same outcome on SQLite and PostgreSQL.
func TestConcurrentRefreshSpendsTokenOnce(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	rec := e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`, "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	tok := jsonBody(t, rec)["refresh_token"].(string)
	var family string
	require.NoError(t, e.db.Read.Select("family_id").From("refresh_tokens").
		Where(dbx.HashExp{"token_hash": sha256Hex(tok)}).Row(&family))

	start := make(chan struct{})
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, 4)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			recs[i] = e.call("POST", "/api/v1/auth/refresh", `{"refresh_token":"`+tok+`"}`, "")
		}()
	}
	close(start)
	wg.Wait()

	var winner map[string]any
	codes := map[string]int{}
	for _, r := range recs {
		if r.Code == 200 {
			winner = jsonBody(t, r)
			codes["ok"]++
			continue
		}
		require.Equal(t, 401, r.Code, r.Body.String())
		codes[decodeErr(t, r).Error.Code]++
	}
	require.Equal(t, map[string]int{"ok": 1, "refresh_token_reused": 1, "invalid_refresh_token": 2}, codes)

	// The family is revoked for reuse: the presented token and the one the
	// winner received, nothing else was left behind by the losers.
	var rows []struct {
		TokenHash string  `db:"token_hash"`
		RotatedAt *string `db:"rotated_at"`
		RevokedAt *string `db:"revoked_at"`
		Reason    string  `db:"revoked_reason"`
	}
	require.NoError(t, e.db.Read.Select("token_hash", "rotated_at", "revoked_at", "revoked_reason").From("refresh_tokens").
		Where(dbx.HashExp{"family_id": family}).OrderBy("created_at", "id").All(&rows))
	require.Len(t, rows, 2)
	assert.Equal(t, sha256Hex(tok), rows[0].TokenHash)
	assert.NotNil(t, rows[0].RotatedAt, "the presented token was rotated once")
	assert.Equal(t, sha256Hex(winner["refresh_token"].(string)), rows[1].TokenHash)
	assert.Nil(t, rows[1].RotatedAt)
	for _, r := range rows {
		assert.NotNil(t, r.RevokedAt)
		assert.Equal(t, "reuse", r.Reason)
	}
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.refresh_reuse'").Row(&n))
	assert.Equal(t, 1, n)

	// Nothing of the family works any more.
	rec = e.call("POST", "/api/v1/auth/refresh", `{"refresh_token":"`+winner["refresh_token"].(string)+`"}`, "")
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", winner["access_token"].(string)).Code)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestLogoutEndsSession(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	other := e.login(adminEmail, adminPassword)
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", admin).Code)
	rec := e.call("POST", "/api/v1/auth/logout", "", admin)
	require.Equal(t, 204, rec.Code)
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", admin).Code, "logged-out access token stops at once")
	assert.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", other).Code, "other sessions live on")
}

func TestBadTokens(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	parts := strings.SplitN(admin, ".", 2)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[0])
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"typ":"access"`, `"typ":"access" `, 1))) + "." + parts[1]
	for name, tok := range map[string]string{
		"garbage":       "garbage",
		"bad signature": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		"forged claims": forged,
		"api token":     "pbk_doesnotexist",
		"huge":          strings.Repeat("a", 5000),
	} {
		rec := e.call("GET", "/api/v1/auth/me", "", tok)
		assert.Equal(t, 401, rec.Code, name)
		decodeErr(t, rec)
	}
	// Expired, also once the token was verified and remembered (the guard
	// keeps verified tokens; expiry is checked at every use).
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", admin).Code)
	e.clock.advance(16 * time.Minute)
	rec := e.call("GET", "/api/v1/auth/me", "", admin)
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "token_expired", decodeErr(t, rec).Error.Code)
}

func TestTokenOfDeletedOrDisabledUser(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id, tok := e.user("gone@example.com", groupRed)
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", tok).Code)
	_, err := e.db.Write.Update("users", dbx.Params{"deleted_at": db.NewTime(e.clock.now())}, dbx.HashExp{"id": id}).Execute()
	require.NoError(t, err)
	e.auth.Invalidate()
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", tok).Code)
}

func TestMeHasEffectivePermissions(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("both@example.com", groupRed, groupBlue)
	rec := e.call("GET", "/api/v1/auth/me", "", tok)
	require.Equal(t, 200, rec.Code)
	perms := jsonBody(t, rec)["permissions"].([]any)
	assert.Contains(t, perms, "mission_test.execute", "from Red team")
	assert.Contains(t, perms, "mission_test.assess", "from Blue team")
	assert.NotContains(t, perms, "user.manage")
}

func TestLoginBadInput(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	for body, status := range map[string]int{
		`{"email":"a"}`:                             422,
		`{"email":1,"password":"x"}`:                400,
		`{"email":"a","password":"b","extra":true}`: 400,
		`not json`: 400,
		`{"email":"` + strings.Repeat("a", 5000) + `","password":"` + strings.Repeat("b", 5000) + `"}`: 401,
	} {
		rec := e.call("POST", "/api/v1/auth/login", body, "")
		assert.Equal(t, status, rec.Code, body)
		decodeErr(t, rec)
	}
	big := `{"email":"a@b.c","password":"` + strings.Repeat("x", 2<<20) + `"}`
	assert.Equal(t, 413, e.call("POST", "/api/v1/auth/login", big, "").Code)
}
