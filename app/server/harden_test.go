package server

// Regression tests for issue 14 (a probe as an attacker and as a crash):
// every hole it found is one test here, named after it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bunrouter"
)

// newAPIToken creates a personal API token over the API (a session is
// needed for that) and returns its value and id.
func (e *apiEnv) newAPIToken(session, name string, perms []string) (token, id string) {
	e.t.Helper()
	body := map[string]any{"name": name}
	if perms != nil {
		body["permissions"] = perms
	}
	b, _ := json.Marshal(body)
	rec := e.call("POST", "/api/v1/api-tokens", string(b), session)
	require.Equal(e.t, 201, rec.Code, rec.Body.String())
	m := jsonBody(e.t, rec)
	return m["token"].(string), m["id"].(string)
}

// callTimeout is call, with the request ended after 200 ms when short is
// set (the notification stream would run until the client leaves).
func (e *apiEnv) callTimeout(method, path, body, token string, short bool) *httptest.ResponseRecorder {
	e.t.Helper()
	if !short {
		return e.call(method, path, body, token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(ctx)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

// checkTokenScopes is TestEveryRouteIsGuarded's walk with personal API
// tokens: a token narrowed to one permission reaches only the routes that
// permission (or plain authentication) allows, and no token reaches a
// Session route (credentials and profile). Bodies are invalid JSON, so a
// route that lets the token through stops at decoding and changes nothing.
func checkTokenScopes(t *testing.T, e *apiEnv, routes []Route) {
	t.Helper()
	rec := e.call("GET", "/api/v1/permissions", "", e.admin)
	require.Equal(t, 200, rec.Code)
	var perms struct {
		Items []struct {
			Key string `json:"key"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &perms))
	require.NotEmpty(t, perms.Items)
	tokens := map[string]string{} // permission ("" = not narrowed) → token
	tokens[""], _ = e.newAPIToken(e.admin, "all", nil)
	for _, p := range perms.Items {
		tokens[p.Key], _ = e.newAPIToken(e.admin, p.Key, []string{p.Key})
	}
	var reset *Route
	for _, rt := range routes {
		if rt.Access == Public {
			continue
		}
		key := rt.Method + " " + rt.Path
		if key == "POST /diag/reset" {
			reset = &rt
		}
		path := "/api/v1" + paramRe.ReplaceAllString(rt.Path, db.NewID())
		for perm, tok := range tokens {
			allowed := !rt.Session && (rt.Access == Authenticated || perm == "" || rt.Perm == perm)
			if allowed && key == "POST /diag/reset" {
				continue // checked last: it deletes everything
			}
			rec := e.callTimeout(rt.Method, path, "[", tok, rt.Path == notificationStreamPath)
			who := fmt.Sprintf("token narrowed to %q on %s", perm, key)
			assert.NotEqual(t, 401, rec.Code, who)
			if rec.Code == 403 || !allowed {
				require.Equal(t, 403, rec.Code, "%s: %s", who, rec.Body.String())
			}
			if rec.Code != 403 {
				continue
			}
			er := decodeErr(t, rec).Error
			switch {
			case rt.Session:
				assert.Equal(t, "session_required", er.Code, who)
			case !allowed:
				assert.Equal(t, "forbidden", er.Code, who)
				assert.Equal(t, rt.Perm, er.Details["permission"], who)
			default:
				assert.NotContains(t, []string{"forbidden", "session_required"}, er.Code, "%s is let through by the guard", who)
			}
		}
	}
	if reset != nil {
		rec := e.call("POST", "/api/v1/diag/reset", "", tokens["diag.reset"])
		assert.Equal(t, 200, rec.Code, rec.Body.String())
	}
}

// Hole 1: a pbk_ token narrowed to mission.read changed the owner's
// password (ending every browser session), revoked the owner's other
// tokens and renamed the account.
func TestNarrowedTokenCannotTakeOverAccount(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	narrow, _ := e.newAPIToken(admin, "reader", []string{"mission.read"})
	other, otherID := e.newAPIToken(admin, "ci", nil)

	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/auth/password", `{"current_password":"` + adminPassword + `","new_password":"a brand new passphrase 9"}`},
		{"DELETE", "/api/v1/api-tokens/" + otherID, ""},
		{"PATCH", "/api/v1/auth/me", `{"name":"Mallory"}`},
		{"POST", "/api/v1/api-tokens", `{"name":"more"}`},
		{"GET", "/api/v1/api-tokens", ""},
		{"POST", "/api/v1/auth/mfa/enroll", ""},
		{"POST", "/api/v1/auth/logout", ""},
	} {
		for _, tok := range []string{narrow, other} {
			rec := e.call(c.method, c.path, c.body, tok)
			require.Equal(t, 403, rec.Code, "%s %s: %s", c.method, c.path, rec.Body.String())
			assert.Equal(t, "session_required", decodeErr(t, rec).Error.Code)
		}
	}
	// Nothing changed: the session lives, the other token works, the name stays.
	rec := e.call("GET", "/api/v1/auth/me", "", admin)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "Admin", jsonBody(t, rec)["name"])
	assert.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", other).Code)
	e.login(adminEmail, adminPassword)
	// GET /auth/me stays open to tokens (it shows the narrowed permissions).
	rec = e.call("GET", "/api/v1/auth/me", "", narrow)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, []any{"mission.read"}, jsonBody(t, rec)["permissions"])
}

// Hole 3: API tokens survived a password change and an admin reset. Now
// they are revoked by every credential change and by deactivation, and the
// audit event says how many.
func TestCredentialChangesRevokeAPITokens(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		action string // audit action
		change func(e *apiEnv, id, session string)
	}{
		{"own password change", "user.password_changed", func(e *apiEnv, id, session string) {
			rec := e.call("POST", "/api/v1/auth/password", `{"current_password":"a long enough password 1","new_password":"a brand new passphrase 9"}`, session)
			require.Equal(e.t, 204, rec.Code, rec.Body.String())
			assert.Equal(e.t, 200, e.call("GET", "/api/v1/auth/me", "", session).Code, "the calling session stays")
		}},
		{"admin password reset", "user.password_changed", func(e *apiEnv, id, _ string) {
			rec := e.call("POST", "/api/v1/users/"+id+"/password", `{"password":"a brand new passphrase 9"}`, e.admin)
			require.Equal(e.t, 204, rec.Code, rec.Body.String())
		}},
		{"deactivation", "user.update", func(e *apiEnv, id, _ string) {
			rec := e.call("PATCH", "/api/v1/users/"+id, `{"disabled":true}`, e.admin)
			require.Equal(e.t, 200, rec.Code, rec.Body.String())
			rec = e.call("PATCH", "/api/v1/users/"+id, `{"disabled":false}`, e.admin)
			require.Equal(e.t, 200, rec.Code, rec.Body.String())
		}},
		{"MFA reset", "auth.mfa_reset", func(e *apiEnv, id, _ string) {
			_, err := e.db.Write.Update("users", dbx.Params{"mfa_enabled": true, "totp_secret": "JBSWY3DPEHPK3PXP"},
				dbx.HashExp{"id": id}).Execute()
			require.NoError(e.t, err)
			rec := e.call("POST", "/api/v1/users/"+id+"/mfa/reset", "", e.admin)
			require.Equal(e.t, 204, rec.Code, rec.Body.String())
			rec = e.call("GET", "/api/v1/users/"+id, "", e.admin)
			assert.Equal(e.t, false, jsonBody(e.t, rec)["mfa_enabled"])
			rec = e.call("POST", "/api/v1/users/"+id+"/mfa/reset", "", e.admin)
			assert.Equal(e.t, 409, rec.Code, "nothing to reset")
			assert.Equal(e.t, 404, e.call("POST", "/api/v1/users/"+db.NewID()+"/mfa/reset", "", e.admin).Code)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAPIEnv(t)
			e.setupAdmin()
			id, session := e.user("worker@example.com", groupRed)
			tok1, _ := e.newAPIToken(session, "one", nil)
			tok2, _ := e.newAPIToken(session, "two", []string{"mission.read"})
			require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", tok1).Code)
			tc.change(e, id, session)
			for _, tok := range []string{tok1, tok2} {
				rec := e.call("GET", "/api/v1/auth/me", "", tok)
				require.Equal(t, 401, rec.Code, rec.Body.String())
				assert.Equal(t, "token_revoked", decodeErr(t, rec).Error.Code)
			}
			var details []string
			require.NoError(t, e.db.Read.NewQuery(`SELECT details FROM audit_events WHERE action = {:a} AND object_id = {:id}`).
				Bind(dbx.Params{"a": tc.action, "id": id}).Column(&details))
			n := 0
			for _, d := range details {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(d), &m))
				if m["api_tokens_revoked"] == float64(2) {
					n++
				}
			}
			assert.Equal(t, 1, n, "the audit event counts the revoked tokens")
		})
	}
}

// Hole 4: a NUL byte in the path panicked the router, unauthenticated, with
// no response and a full stack in the log each time. Such targets are now
// refused before routing with a 400 envelope.
func TestBadRequestTargetsAre400(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	for _, p := range []string{
		"/api/v1/missions/%00", "/%00", "/api/v1/%00/x", "/api/v1/missions/%ff", "/%ff%fe", "/a%01b",
		"/api/v1/mitre/techniques?q=%00", "/api/v1/mitre/techniques?q=%zz", "/api/v1/mitre/techniques?q=%ff",
		"/api/v1/mitre/techniques?%00=x", "/index.html?x=%0a",
	} {
		for _, method := range []string{"GET", "POST", "DELETE"} {
			rec := e.call(method, p, "", "")
			require.Equal(t, 400, rec.Code, "%s %s: %s", method, p, rec.Body.String())
			er := decodeErr(t, rec)
			assert.Equal(t, "invalid_request_target", er.Error.Code)
			assert.Equal(t, rec.Header().Get("X-Request-ID"), er.RequestID)
			assert.NotEmpty(t, rec.Header().Get("Content-Security-Policy"))
		}
	}
	// Ordinary escapes still work.
	assert.Equal(t, 401, e.call("GET", "/api/v1/missions/a%20b", "", "").Code)
	assert.Equal(t, 200, e.call("GET", "/api/v1/health?x=%C3%BC", "", "").Code)
}

// logCapture replaces the default logger for one (non-parallel) test.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) lines(substr string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range strings.Split(c.buf.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func captureLogs(t *testing.T, level slog.Level) *logCapture {
	c := &logCapture{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: level})))
	t.Cleanup(func() { slog.SetDefault(old) })
	return c
}

// Hole 4, the other half: 200 panics wrote 480 KB of stacks. A panic now
// logs one line with the request id and the value cut short; the stack only
// at debug level. Not parallel: it replaces the default logger.
func TestPanicLogsOneLine(t *testing.T) {
	logs := captureLogs(t, slog.LevelInfo)
	long := strings.Repeat("x", 5000)
	e := newEnv(t, Options{}, Route{Method: "GET", Path: "/boom", Access: Public,
		h: func(w http.ResponseWriter, req bunrouter.Request) error { panic(long) }})
	for i := 0; i < 20; i++ {
		rec := e.do("GET", "/api/v1/boom", "", "X-Request-ID", fmt.Sprintf("req-%d", i))
		require.Equal(t, 500, rec.Code)
		assert.Equal(t, "internal", decodeErr(t, rec).Error.Code)
	}
	lines := logs.lines("panic_recovered")
	require.Len(t, lines, 20, "one line per panic")
	for i, l := range lines {
		assert.Contains(t, l, fmt.Sprintf(`"request_id":"req-%d"`, i))
		assert.Less(t, len(l), 600, "the value is cut short")
		assert.NotContains(t, l, "goroutine")
	}
	assert.Empty(t, logs.lines("panic_stack"), "no stack at info level")

	// A panic outside every middleware (the router's own code) still gets
	// an envelope and one line.
	rec := httptest.NewRecorder()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer lastResort(w, r)
		panic(long)
	})
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	require.Equal(t, 500, rec.Code)
	assert.Equal(t, "internal", decodeErr(t, rec).Error.Code)
	assert.Len(t, logs.lines("panic_recovered"), 21)

	debug := captureLogs(t, slog.LevelDebug)
	e.do("GET", "/api/v1/boom", "")
	assert.Len(t, debug.lines("panic_stack"), 1, "the stack is there at debug level")
}

// Hole 6: invalid UTF-8 and lone surrogate escapes were accepted and
// stored as U+FFFD. The one JSON decoder now answers 400 naming the field,
// and stores valid text exactly as sent.
func TestJSONTextIsStoredAsSentOrRefused(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	before := dbtest.Count(t, e.db, "missions")
	for body, field := range map[string]string{
		"{\"name\":\"a\xff\xfeb\"}":                         "name",
		`{"name":"a\ud800b"}`:                               "name",
		`{"name":"a\udc00b"}`:                               "name",
		`{"name":"a\ud800\u0041"}`:                          "name",
		`{"name":"x","description":"tail \ud83d"}`:          "description",
		"{\"name\":\"ok\",\"descr\xffiption\":\"x\"}":       "(a key)",
		`{"name":"nul \u0000 inside"}`:                      "name",
		"{\"name\":\"ok\",\"tags\":[\"fine\",\"bad\xc3\"]}": "tags[1]",
	} {
		rec := e.call("POST", "/api/v1/missions", body, admin)
		require.Equal(t, 400, rec.Code, "%q: %s", body, rec.Body.String())
		er := decodeErr(t, rec).Error
		assert.Equal(t, "invalid_text", er.Code, body)
		assert.Contains(t, er.Details, field, body)
	}
	assert.Equal(t, before, dbtest.Count(t, e.db, "missions"), "nothing was stored")

	// Valid text, escaped or raw, astral characters included, is kept exactly.
	for body, want := range map[string]string{
		`{"name":"smile \ud83d\ude00 ü"}`: "smile 😀 ü",
		`{"name":"raw 😀 ü \\ud800"}`:      `raw 😀 ü \ud800`,
		`{"name":"replacement \ufffd"}`:   "replacement \ufffd",
	} {
		rec := e.call("POST", "/api/v1/missions", body, admin)
		require.Equal(t, 201, rec.Code, rec.Body.String())
		id := jsonBody(t, rec)["id"].(string)
		var stored string
		require.NoError(t, e.db.Read.NewQuery("SELECT name FROM missions WHERE id = {:id}").Bind(dbx.Params{"id": id}).Row(&stored))
		assert.Equal(t, want, stored)
	}
	// Settings take raw JSON values: their text is checked too, by path.
	rec := e.call("PUT", "/api/v1/settings/security_controls", `{"value":["EDR","bad\ud800"]}`, admin)
	require.Equal(t, 400, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Details, "value[1]")
}

func TestBadJSONTextPaths(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"a":{"b":[1,{"c":"\udfff"}]}}`:           "a.b[1].c",
		`["ok","\ud800"]`:                          "[1]",
		`"\ud800"`:                                 "body",
		`{"a":"\\ud800","b":"\ud800"}`:             "b",
		`{"a":"x\"y","b":{"c":"ok"},"d":"\udc00"}`: "d",
	} {
		path, _, bad := badJSONText([]byte(body))
		assert.True(t, bad, body)
		assert.Equal(t, want, path, body)
	}
	for _, body := range []string{`{"a":"\\ud800"}`, `{"a":"\ud83d\ude00"}`, `{"a":"ü","b":"\u00fc"}`, `{}`, `[1,2]`} {
		_, _, bad := badJSONText([]byte(body))
		assert.False(t, bad, body)
	}
}

// The login lock: no per-address lock (one guesser behind a shared proxy
// locked every account of the office out), a lock per address and account,
// and one per account, short. Addresses come from X-Forwarded-For of a
// trusted proxy.
func TestLoginLockIsPerAccount(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParsePrefix("192.0.2.1/32")
	e := newAPIEnv(t, withOptions(func(o *Options) { o.TrustedProxies = []netip.Prefix{proxy} }))
	e.setupAdmin()
	_, _ = e.user("colleague@example.com")
	from := func(ip string) []string { return []string{"X-Forwarded-For", "203.0.113.9, " + ip} }
	login := func(email, pw, ip string) int {
		return e.call("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`, "", from(ip)...).Code
	}
	// One address guesses many accounts: each stays usable from it.
	for i := 0; i < 60; i++ {
		assert.Equal(t, 401, login(fmt.Sprintf("guess%d@example.com", i), "wrong password here", "198.51.100.7"))
	}
	assert.Equal(t, 200, login(adminEmail, adminPassword, "198.51.100.7"), "no per-address lock")
	// One address hammering one account is stopped for that pair…
	code := 0
	for i := 0; i < 10 && code != 429; i++ {
		code = login("colleague@example.com", "wrong password here", "198.51.100.7")
	}
	assert.Equal(t, 429, code)
	assert.Equal(t, 429, login("colleague@example.com", "a long enough password 1", "198.51.100.7"))
	// …while the account works from another address and other accounts from this one.
	assert.Equal(t, 200, login("colleague@example.com", "a long enough password 1", "198.51.100.8"))
	assert.Equal(t, 200, login(adminEmail, adminPassword, "198.51.100.7"))

	// Many addresses against one account: the per-account lock, capped at a minute.
	code = 0
	for i := 0; code != 429 && i < 200; i++ {
		code = login(adminEmail, "wrong password here", fmt.Sprintf("198.51.%d.%d", 1+i/250, 1+i%250))
	}
	require.Equal(t, 429, code)
	assert.Equal(t, 429, login(adminEmail, adminPassword, "203.0.113.50"), "locked from anywhere")
	e.clock.advance(61 * time.Second)
	assert.Equal(t, 200, login(adminEmail, adminPassword, "203.0.113.50"), "for a minute at most")

	// The audit log names the client, not the proxy.
	var ips []string
	require.NoError(t, e.db.Read.NewQuery(`SELECT DISTINCT ip FROM audit_events WHERE action = 'auth.login_failed'
		AND ip = '198.51.100.7'`).Column(&ips))
	assert.Equal(t, []string{"198.51.100.7"}, ips)
}

// Without trusted proxies X-Forwarded-For is anyone's to send: ignored.
func TestForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	code := 0
	for i := 0; i < 10 && code != 429; i++ {
		code = e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"wrong password here"}`, "",
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)).Code
	}
	assert.Equal(t, 429, code, "a spoofed header does not spread the guesses over addresses")
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.5:1", []string{"198.51.100.1"}, "192.0.2.5"},                          // untrusted peer: header ignored
		{"10.1.2.3:1", nil, "10.1.2.3"},                                                 // trusted, no header
		{"10.1.2.3:1", []string{"198.51.100.1"}, "198.51.100.1"},                        // one proxy
		{"10.1.2.3:1", []string{"203.0.113.1, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"}, // spoofed left part skipped
		{"10.1.2.3:1", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},            // several headers
		{"10.1.2.3:1", []string{"garbage, 10.9.9.9"}, "10.9.9.9"},                       // junk stops the walk
		{"[::1]:1", []string{"2001:db8::1"}, "2001:db8::1"},
		{"[::ffff:10.0.0.1]:1", []string{"::ffff:198.51.100.2"}, "198.51.100.2"},
	} {
		assert.Equal(t, c.want, ClientIP(c.peer, c.xff, trusted), "%s %v", c.peer, c.xff)
	}
}

// The audit trail over the API: verify, anchor, and a row edited behind
// the application's back named by the verification. Evidence uploads and
// deletions are in the chain with their sha256 (chain of custody).
func TestAuditIntegrityAPI(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	content := []byte("evidence content for the chain of custody")
	f := e.uploaded(e.red, evFile("proof.txt", content))
	rec := e.call("DELETE", "/api/v1/evidence/"+f["id"].(string), "", e.admin)
	require.Equal(t, 204, rec.Code, rec.Body.String())
	for _, action := range []string{"evidence.upload", "evidence.delete"} {
		var details string
		require.NoError(t, e.db.Read.NewQuery("SELECT details FROM audit_events WHERE action = {:a}").
			Bind(dbx.Params{"a": action}).Row(&details))
		assert.Contains(t, details, sha(content), action)
	}

	rec = e.call("GET", "/api/v1/audit/verify", "", e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var rep audit.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	require.True(t, rep.Intact, rec.Body.String())
	assert.Positive(t, rep.Rows)
	assert.Equal(t, 403, e.call("GET", "/api/v1/audit/verify", "", e.red).Code)

	rec = e.call("GET", "/api/v1/audit/anchor", "", e.admin)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Disposition"), "purplebook-audit-anchor-")
	anchor := rec.Body.String()
	rec = e.call("POST", "/api/v1/audit/verify", anchor, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	assert.True(t, rep.Intact)
	assert.True(t, rep.Anchor.Matches)

	// Someone with database access rewrites who deleted the evidence.
	var id string
	require.NoError(t, e.db.Read.NewQuery("SELECT id FROM audit_events WHERE action = 'evidence.delete'").Row(&id))
	_, err := e.db.Write.NewQuery(`UPDATE audit_events SET actor_label = 'somebody else' WHERE id = {:id}`).
		Bind(dbx.Params{"id": id}).Execute()
	require.NoError(t, err)
	rec = e.call("GET", "/api/v1/audit/verify", "", e.admin)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	assert.False(t, rep.Intact)
	require.NotNil(t, rep.Break)
	assert.Equal(t, id, rep.Break.ID, "the verification names the edited event")
	assert.Equal(t, "evidence.delete", rep.Break.Action)
	rec = e.call("POST", "/api/v1/audit/verify", `{"format":"x"}`, e.admin)
	require.Equal(t, 200, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	assert.False(t, rep.Anchor.Matches)
}

// The audit chain under the API's own concurrency: writers through the
// full stack (mission test PATCHes, each audited), then an intact chain.
func TestAuditChainUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	rec := e.call("POST", "/api/v1/missions", `{"name":"Burst"}`, admin)
	require.Equal(t, 201, rec.Code)
	mid := jsonBody(t, rec)["id"].(string)
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				rec := e.call("POST", "/api/v1/missions/"+mid+"/categories", fmt.Sprintf(`{"name":"c-%d-%d"}`, w, i), admin)
				assert.Equal(t, 201, rec.Code, rec.Body.String())
			}
		}(w)
	}
	wg.Wait()
	rep, err := audit.Verify(context.Background(), e.db, e.clock.now(), nil)
	require.NoError(t, err)
	assert.True(t, rep.Intact, "%+v", rep.Break)
	assert.Equal(t, int64(dbtest.Count(t, e.db, "audit_events")), rep.Head.Seq)
}
