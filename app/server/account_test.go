package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pquerna/otp/totp"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const acctPassword = "a long enough password 1" // apiEnv.user's password

// acctCode is the TOTP code of secret at the server's current time, plus
// steps×30 s.
func acctCode(t *testing.T, e *apiEnv, secret string, steps int) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.now().Add(time.Duration(steps)*30*time.Second))
	require.NoError(t, err)
	return c
}

// acctWrongCode is a 6-digit code that matches none of the accepted steps.
func acctWrongCode(t *testing.T, e *apiEnv, secret string) string {
	t.Helper()
	valid := map[string]bool{}
	for s := -1; s <= 1; s++ {
		valid[acctCode(t, e, secret, s)] = true
	}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", (123456+i*7919)%1000000)
		if !valid[c] {
			return c
		}
	}
}

// acctEnroll turns MFA on for the holder of token and returns the secret
// and the recovery codes.
func acctEnroll(t *testing.T, e *apiEnv, token string) (string, []string) {
	t.Helper()
	rec := e.call("POST", "/api/v1/auth/mfa/enroll", "", token)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	secret := jsonBody(t, rec)["secret"].(string)
	rec = e.call("POST", "/api/v1/auth/mfa/confirm", `{"code":"`+acctCode(t, e, secret, 0)+`"}`, token)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	return secret, acctStrings(jsonBody(t, rec)["recovery_codes"])
}

// acctPasswordStep logs in with a password and returns the MFA token.
func acctPasswordStep(t *testing.T, e *apiEnv, email, password string) string {
	t.Helper()
	rec := e.call("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+password+`"}`, "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	b := jsonBody(t, rec)
	require.Equal(t, true, b["mfa_required"], rec.Body.String())
	assert.NotContains(t, b, "access_token")
	assert.NotContains(t, b, "refresh_token")
	assert.Empty(t, rec.Result().Cookies(), "no session before the second factor")
	return b["mfa_token"].(string)
}

// acctMFAStep sends the second login step.
func acctMFAStep(e *apiEnv, mfaToken, code string) *httptest.ResponseRecorder {
	return e.call("POST", "/api/v1/auth/login", `{"mfa_token":"`+mfaToken+`","code":"`+code+`"}`, "")
}

func acctStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func acctAudit(t *testing.T, e *apiEnv, action string) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = {:a}").
		Bind(dbx.Params{"a": action}).Row(&n))
	return n
}

// acctSnapshot renders the rows of the tables these endpoints write, to
// prove that rejected requests change nothing.
func acctSnapshot(t *testing.T, e *apiEnv) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"users", "api_tokens", "settings", "refresh_tokens"} {
		var rows []dbx.NullStringMap
		require.NoError(t, e.db.Read.NewQuery("SELECT * FROM "+table).All(&rows))
		lines := make([]string, 0, len(rows))
		for _, r := range rows {
			keys := make([]string, 0, len(r))
			for k := range r {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var l strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&l, "%s=%v|%q ", k, r[k].Valid, r[k].String)
			}
			lines = append(lines, l.String())
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s:\n%s\n", table, strings.Join(lines, "\n"))
	}
	return b.String()
}

func TestMFAEnrolmentAndLogin(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	const email = "mfa@example.com"
	uid, tok := e.user(email, groupRed)

	rec := e.call("GET", "/api/v1/auth/mfa", "", tok)
	require.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"enabled":false,"enrolled_at":null,"recovery_codes_left":0,"enrollment_pending":false,"required":false}`, rec.Body.String())

	// Enrol: a secret, the otpauth URI and a PNG QR code; MFA is still off.
	rec = e.call("POST", "/api/v1/auth/mfa/enroll", "", tok)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	en := jsonBody(t, rec)
	secret := en["secret"].(string)
	assert.Regexp(t, `^[A-Z2-7]{32}$`, secret, "160-bit base32 secret")
	uri := en["otpauth_uri"].(string)
	assert.True(t, strings.HasPrefix(uri, "otpauth://totp/Purplebook:mfa@example.com?"), uri)
	for _, p := range []string{"secret=" + secret, "issuer=Purplebook", "period=30", "digits=6", "algorithm=SHA1"} {
		assert.Contains(t, uri, p)
	}
	qr, ok := strings.CutPrefix(en["qr_png_data_url"].(string), "data:image/png;base64,")
	require.True(t, ok)
	png, err := base64.StdEncoding.DecodeString(qr)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")))
	var stored *string
	var enabled bool
	require.NoError(t, e.db.Read.NewQuery("SELECT totp_secret, mfa_enabled FROM users WHERE id = {:id}").
		Bind(dbx.Params{"id": uid}).Row(&stored, &enabled))
	require.NotNil(t, stored)
	assert.Equal(t, secret, *stored)
	assert.False(t, enabled)
	assert.Equal(t, true, jsonBody(t, e.call("GET", "/api/v1/auth/mfa", "", tok))["enrollment_pending"])
	e.login(email, acctPassword) // not yet on: a password still suffices

	// A wrong code does not turn it on.
	before := acctSnapshot(t, e)
	rec = e.call("POST", "/api/v1/auth/mfa/confirm", `{"code":"`+acctWrongCode(t, e, secret)+`"}`, tok)
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Contains(t, decodeErr(t, rec).Error.Details, "code")
	assert.Equal(t, before, acctSnapshot(t, e))

	// The right code does, and yields ten distinct one-time recovery codes.
	confirmCode := acctCode(t, e, secret, 0)
	rec = e.call("POST", "/api/v1/auth/mfa/confirm", `{"code":"`+confirmCode+`"}`, tok)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	codes := acctStrings(jsonBody(t, rec)["recovery_codes"])
	require.Len(t, codes, 10)
	seen := map[string]bool{}
	for _, c := range codes {
		assert.Regexp(t, `^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{2}$`, c)
		seen[c] = true
	}
	assert.Len(t, seen, 10)
	var rc string
	var enrolledAt *string
	require.NoError(t, e.db.Read.NewQuery("SELECT recovery_codes, mfa_enabled, mfa_enrolled_at FROM users WHERE id = {:id}").
		Bind(dbx.Params{"id": uid}).Row(&rc, &enabled, &enrolledAt))
	assert.True(t, enabled)
	assert.NotNil(t, enrolledAt)
	var hashes []string
	require.NoError(t, json.Unmarshal([]byte(rc), &hashes))
	require.Len(t, hashes, 10)
	for _, c := range codes {
		assert.NotContains(t, rc, c, "recovery codes are stored hashed")
		h := sha256.Sum256([]byte(strings.ReplaceAll(c, "-", "")))
		assert.Contains(t, hashes, hex.EncodeToString(h[:]))
	}
	st := jsonBody(t, e.call("GET", "/api/v1/auth/mfa", "", tok))
	assert.Equal(t, true, st["enabled"])
	assert.Equal(t, float64(10), st["recovery_codes_left"])
	assert.NotNil(t, st["enrolled_at"])
	assert.Equal(t, 1, acctAudit(t, e, "auth.mfa_enabled"))
	rec = e.call("POST", "/api/v1/auth/mfa/enroll", "", tok)
	assert.Equal(t, 409, rec.Code, "enrolling again needs disabling first")

	// Login now stops at the second factor.
	mt := acctPasswordStep(t, e, email, acctPassword)
	rec = acctMFAStep(e, mt, acctWrongCode(t, e, secret))
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "invalid_mfa_code", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 2, acctAudit(t, e, "auth.mfa_failed"), "the wrong confirm code and the wrong login code")

	// The code that confirmed enrolment cannot be replayed.
	rec = acctMFAStep(e, mt, confirmCode)
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "mfa_code_reused", decodeErr(t, rec).Error.Code)

	// The next step's code completes the login (the same MFA token is still good).
	e.clock.advance(30 * time.Second)
	code := acctCode(t, e, secret, 0)
	rec = acctMFAStep(e, mt, code)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	sess := jsonBody(t, rec)
	access := sess["access_token"].(string)
	assert.NotEmpty(t, sess["refresh_token"])
	assert.NotContains(t, sess, "mfa_required")
	assert.Equal(t, true, sess["user"].(map[string]any)["mfa_enabled"])
	var cookie bool
	for _, c := range rec.Result().Cookies() {
		cookie = cookie || c.Name == refreshCookie && c.HttpOnly
	}
	assert.True(t, cookie, "refresh cookie set by the MFA step")
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", access).Code)
	var method string
	require.NoError(t, e.db.Read.NewQuery(`SELECT details FROM audit_events WHERE action = 'auth.login' AND actor_user_id = {:id}
		ORDER BY at DESC, id DESC LIMIT 1`).Bind(dbx.Params{"id": uid}).Row(&method))
	assert.Contains(t, method, "password+totp")

	// A used code is not accepted twice, and the MFA token is single-use.
	mt2 := acctPasswordStep(t, e, email, acctPassword)
	rec = acctMFAStep(e, mt2, code)
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "mfa_code_reused", decodeErr(t, rec).Error.Code)
	e.clock.advance(30 * time.Second)
	rec = acctMFAStep(e, mt, acctCode(t, e, secret, 0))
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "invalid_mfa_token", decodeErr(t, rec).Error.Code)

	// An MFA token lives 5 minutes.
	e.clock.advance(6 * time.Minute)
	rec = acctMFAStep(e, mt2, acctCode(t, e, secret, 0))
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "mfa_token_expired", decodeErr(t, rec).Error.Code)

	// A recovery code works once, typed in any case without dashes.
	mt3 := acctPasswordStep(t, e, email, acctPassword)
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", ""))
	rec = acctMFAStep(e, mt3, typed)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	access = jsonBody(t, rec)["access_token"].(string)
	assert.Equal(t, float64(9), jsonBody(t, e.call("GET", "/api/v1/auth/mfa", "", access))["recovery_codes_left"])
	assert.Equal(t, 1, acctAudit(t, e, "auth.mfa_recovery_code_used"))
	mt4 := acctPasswordStep(t, e, email, acctPassword)
	rec = acctMFAStep(e, mt4, codes[3])
	require.Equal(t, 401, rec.Code, "a recovery code is single-use")
	assert.Equal(t, "invalid_mfa_code", decodeErr(t, rec).Error.Code)
	rec = acctMFAStep(e, mt4, codes[4])
	require.Equal(t, 200, rec.Code, rec.Body.String())

	// Regenerating recovery codes needs the password and voids the old ones.
	rec = e.call("POST", "/api/v1/auth/mfa/recovery-codes", `{"password":"wrong password here"}`, access)
	require.Equal(t, 422, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error.Details, "password")
	rec = e.call("POST", "/api/v1/auth/mfa/recovery-codes", `{"password":"`+acctPassword+`"}`, access)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	fresh := acctStrings(jsonBody(t, rec)["recovery_codes"])
	require.Len(t, fresh, 10)
	assert.Equal(t, 1, acctAudit(t, e, "auth.mfa_recovery_codes_regenerated"))
	mt5 := acctPasswordStep(t, e, email, acctPassword)
	require.Equal(t, 401, acctMFAStep(e, mt5, codes[5]).Code, "old recovery codes are void")
	require.Equal(t, 200, acctMFAStep(e, mt5, fresh[0]).Code)

	// Disabling needs the password.
	before = acctSnapshot(t, e)
	for body, status := range map[string]int{`{}`: 422, `{"password":""}`: 422, `{"password":"wrong password here"}`: 422} {
		rec = e.call("POST", "/api/v1/auth/mfa/disable", body, access)
		require.Equal(t, status, rec.Code, body)
		assert.Contains(t, decodeErr(t, rec).Error.Details, "password", body)
	}
	assert.Equal(t, before, acctSnapshot(t, e))
	rec = e.call("POST", "/api/v1/auth/mfa/disable", `{"password":"`+acctPassword+`"}`, access)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, false, jsonBody(t, rec)["enabled"])
	require.NoError(t, e.db.Read.NewQuery("SELECT totp_secret, mfa_enabled, recovery_codes FROM users WHERE id = {:id}").
		Bind(dbx.Params{"id": uid}).Row(&stored, &enabled, &rc))
	assert.Nil(t, stored)
	assert.False(t, enabled)
	assert.JSONEq(t, `[]`, rc)
	assert.Equal(t, 1, acctAudit(t, e, "auth.mfa_disabled"))
	e.login(email, acctPassword) // back to password only
	rec = e.call("POST", "/api/v1/auth/mfa/disable", `{"password":"`+acctPassword+`"}`, access)
	assert.Equal(t, 409, rec.Code, "nothing to disable")
}

func TestMFAWrongCodesAreThrottled(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("guess@example.com")
	secret, _ := acctEnroll(t, e, tok)
	mt := acctPasswordStep(t, e, "guess@example.com", acctPassword)
	wrong := acctWrongCode(t, e, secret)
	var last *httptest.ResponseRecorder
	for i := 0; i < 10; i++ {
		last = acctMFAStep(e, mt, wrong)
		if last.Code == 429 {
			break
		}
		require.Equal(t, 401, last.Code)
	}
	require.Equal(t, 429, last.Code, "wrong codes are throttled like wrong passwords")
	assert.NotEmpty(t, last.Header().Get("Retry-After"))
	// Even a right code (the next step's, unused) waits while locked.
	assert.Equal(t, 429, acctMFAStep(e, mt, acctCode(t, e, secret, 1)).Code)
}

func TestMFALoginBadInput(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("bad@example.com")
	acctEnroll(t, e, tok)
	mt := acctPasswordStep(t, e, "bad@example.com", acctPassword)
	parts := strings.SplitN(mt, ".", 2)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[0])
	forged := base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"typ":"mfa"`), []byte(`"typ":"mfa" `), 1)) + "." + parts[1]
	before := acctSnapshot(t, e)
	for body, want := range map[string]struct {
		status int
		code   string
	}{
		`{"mfa_token":"` + mt + `"}`:      {422, "validation_failed"},
		`{"code":"123456"}`:               {422, "validation_failed"},
		`{"mfa_token":1,"code":"123456"}`: {400, "invalid_type"},
		`{"mfa_token":"` + mt + `","code":"123456","email":"bad@example.com"}`:  {400, "invalid_login_request"},
		`{"mfa_token":"` + mt + `","code":"123456","remember":true}`:            {400, "unknown_field"},
		`{"mfa_token":"garbage","code":"123456"}`:                               {401, "invalid_mfa_token"},
		`{"mfa_token":"` + forged + `","code":"123456"}`:                        {401, "invalid_mfa_token"},
		`{"mfa_token":"` + strings.Repeat("x", 5000) + `","code":"123456"}`:     {401, "invalid_mfa_token"},
		`{"mfa_token":"` + mt + `","code":"` + strings.Repeat("9", 5000) + `"}`: {401, "invalid_mfa_code"},
		`{"mfa_token":"` + mt + `","code":"not-a-code!"}`:                       {401, "invalid_mfa_code"},
		`{"mfa_token":"` + e.admin + `","code":"123456"}`:                       {401, "invalid_mfa_token"},
	} {
		rec := e.call("POST", "/api/v1/auth/login", body, "")
		assert.Equal(t, want.status, rec.Code, body)
		assert.Equal(t, want.code, decodeErr(t, rec).Error.Code, body)
	}
	assert.Equal(t, before, acctSnapshot(t, e))
	// An access token is no MFA token, and an MFA token is no access token.
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", mt).Code)
}

func TestMFAEndpointsBadInput(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("input@example.com")
	// Nothing pending yet.
	rec := e.call("POST", "/api/v1/auth/mfa/confirm", `{"code":"123456"}`, tok)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "mfa_not_enrolled", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", "/api/v1/auth/mfa/recovery-codes", `{"password":"`+acctPassword+`"}`, tok)
	require.Equal(t, 409, rec.Code)
	assert.Equal(t, "mfa_not_enabled", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", "/api/v1/auth/mfa/enroll", "", tok)
	require.Equal(t, 200, rec.Code)
	before := acctSnapshot(t, e)
	// Malformed bodies (not JSON, unknown fields, wrong types) are 400 with
	// their own code; well-formed but invalid values are 422 naming the field.
	for _, c := range []struct {
		method, path, body string
		status             int
		code, field        string
	}{
		{"POST", "/auth/mfa/enroll", `{"x":1}`, 400, "unknown_field", ""},
		{"POST", "/auth/mfa/enroll", `[]`, 400, "invalid_json", ""},
		{"POST", "/auth/mfa/confirm", ``, 400, "invalid_json", ""},
		{"POST", "/auth/mfa/confirm", `{}`, 422, "validation_failed", "code"},
		{"POST", "/auth/mfa/confirm", `{"code":123456}`, 400, "invalid_type", ""},
		{"POST", "/auth/mfa/confirm", `{"code":"12345"}`, 422, "validation_failed", "code"},
		{"POST", "/auth/mfa/confirm", `{"code":"abcdef"}`, 422, "validation_failed", "code"},
		{"POST", "/auth/mfa/confirm", `{"code":"` + strings.Repeat("1", 100000) + `"}`, 422, "validation_failed", "code"},
		{"POST", "/auth/mfa/confirm", `{"code":"123456","extra":1}`, 400, "unknown_field", ""},
		{"POST", "/auth/mfa/disable", `{"password":true}`, 400, "invalid_type", ""},
		{"POST", "/auth/mfa/disable", `not json`, 400, "invalid_json", ""},
		{"POST", "/auth/mfa/recovery-codes", `{"password":"x","y":2}`, 400, "unknown_field", ""},
	} {
		msg := c.path + " " + truncateForMsg(c.body)
		rec := e.call(c.method, "/api/v1"+c.path, c.body, tok)
		assert.Equal(t, c.status, rec.Code, msg)
		eb := decodeErr(t, rec).Error
		assert.Equal(t, c.code, eb.Code, msg)
		if c.field != "" {
			assert.Contains(t, eb.Details, c.field, msg)
		}
	}
	assert.Equal(t, before, acctSnapshot(t, e))
	big := `{"code":"` + strings.Repeat("1", 2<<20) + `"}`
	assert.Equal(t, 413, e.call("POST", "/api/v1/auth/mfa/confirm", big, tok).Code)
}

func truncateForMsg(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func TestRequireMFA(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	// The admin must have MFA before requiring it of everyone.
	rec := e.call("PUT", "/api/v1/settings/require_mfa", `{"value":true}`, admin)
	require.Equal(t, 422, rec.Code, rec.Body.String())
	assert.Contains(t, decodeErr(t, rec).Error.Details, "value")
	acctEnroll(t, e, admin)
	rec = e.call("PUT", "/api/v1/settings/require_mfa", `{"value":true}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, 1, acctAudit(t, e, "settings.update"))

	// A user without MFA gets a session confined to enrolment.
	rec = e.call("POST", "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`, "")
	require.Equal(t, true, jsonBody(t, rec)["mfa_required"], "the admin has MFA")
	uid, tok := e.user("late@example.com", groupRed)
	me := e.call("GET", "/api/v1/auth/me", "", tok)
	require.Equal(t, 200, me.Code)
	assert.Equal(t, true, jsonBody(t, me)["mfa_setup_required"])
	rec = e.call("POST", "/api/v1/auth/login", `{"email":"late@example.com","password":"`+acctPassword+`"}`, "")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, true, jsonBody(t, rec)["user"].(map[string]any)["mfa_setup_required"], "the login answer says so")

	p, err := e.auth.Authenticate(context.Background(), tok)
	require.NoError(t, err)
	assert.True(t, p.MFASetupRequired())
	for path, allowed := range map[string]bool{
		"/auth/me": true, "/auth/mfa": true, "/auth/mfa/enroll": true, "/auth/mfa/confirm": true, "/auth/logout": true,
		"/auth/password": true, "/diag/db": false, "/settings": false, "/api-tokens": false, "/auth/mfa-other": false,
	} {
		assert.Equal(t, allowed, p.CheckMFASetup(path) == nil, path)
	}

	rec = e.call("GET", "/api/v1/diag/db", "", tok)
	require.Equal(t, 403, rec.Code, "the route guard must call Principal.CheckMFASetup (see app/server/account_routes.go): %s", rec.Body.String())
	assert.Equal(t, "mfa_setup_required", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 403, e.call("GET", "/api/v1/settings", "", tok).Code)
	assert.Equal(t, 403, e.call("POST", "/api/v1/api-tokens", `{"name":"x"}`, tok).Code)
	assert.Zero(t, dbtest.Count(t, e.db, "api_tokens"))
	st := jsonBody(t, e.call("GET", "/api/v1/auth/mfa", "", tok))
	assert.Equal(t, true, st["required"])

	// Enrolling lifts the confinement at once.
	acctEnroll(t, e, tok)
	assert.Equal(t, 200, e.call("GET", "/api/v1/diag/db", "", tok).Code)
	assert.Equal(t, false, jsonBody(t, e.call("GET", "/api/v1/auth/me", "", tok))["mfa_setup_required"])

	// Turning the setting off frees users who never enrolled.
	_, other := e.user("other@example.com")
	assert.Equal(t, 403, e.call("GET", "/api/v1/diag/db", "", other).Code)
	require.Equal(t, 200, e.call("PUT", "/api/v1/settings/require_mfa", `{"value":false}`, admin).Code)
	assert.Equal(t, 200, e.call("GET", "/api/v1/diag/db", "", other).Code)
	_ = uid
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, withOptions(func(o *Options) { o.EnableReset = true }))
	admin := e.setupAdmin()

	// A token narrowed to one permission.
	rec := e.call("POST", "/api/v1/api-tokens", `{"name":" CI reader ","permissions":["test_template.read","test_template.read"]}`, admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	created := jsonBody(t, rec)
	token := created["token"].(string)
	assert.Regexp(t, `^pbk_[A-Za-z0-9_-]{43}$`, token)
	assert.Equal(t, token[:10], created["prefix"])
	assert.Equal(t, "CI reader", created["name"])
	assert.Equal(t, []any{"test_template.read"}, created["permissions"])
	assert.Nil(t, created["expires_at"])
	assert.Equal(t, "active", created["status"])
	assert.NotEmpty(t, created["created_at"])
	id := created["id"].(string)

	// Stored as sha256 only.
	var hash string
	require.NoError(t, e.db.Read.NewQuery("SELECT token_hash FROM api_tokens WHERE id = {:id}").Bind(dbx.Params{"id": id}).Row(&hash))
	sum := sha256.Sum256([]byte(token))
	assert.Equal(t, hex.EncodeToString(sum[:]), hash)
	var dump []dbx.NullStringMap
	require.NoError(t, e.db.Read.NewQuery("SELECT * FROM api_tokens").All(&dump))
	assert.NotContains(t, fmt.Sprint(dump), token[4:])
	assert.Equal(t, 1, acctAudit(t, e, "api_token.create"))
	var details []string
	require.NoError(t, e.db.Read.NewQuery("SELECT details FROM audit_events").Column(&details))
	assert.NotContains(t, strings.Join(details, " "), token[4:], "the value is not audited")

	// Used as a bearer token, it carries only its permissions.
	rec = e.call("GET", "/api/v1/auth/me", "", token)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, []any{"test_template.read"}, jsonBody(t, rec)["permissions"])
	rec = e.call("POST", "/api/v1/diag/reset", "", token)
	require.Equal(t, 403, rec.Code)
	assert.Equal(t, "diag.reset", decodeErr(t, rec).Error.Details["permission"])
	assert.Equal(t, 200, e.call("GET", "/api/v1/diag/db", "", token).Code, "authenticated-only routes work")

	// A full token holds every permission of its owner.
	rec = e.call("POST", "/api/v1/api-tokens", `{"name":"full","expires_in_days":1}`, admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	full := jsonBody(t, rec)
	assert.Nil(t, full["permissions"])
	require.NotNil(t, full["expires_at"])
	exp, err := time.Parse(time.RFC3339, full["expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, e.clock.now().Add(24*time.Hour), exp, time.Minute)
	fullTok := full["token"].(string)
	rec = e.call("GET", "/api/v1/auth/me", "", fullTok)
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, jsonBody(t, rec)["permissions"], "diag.reset")

	// A token cannot mint tokens, nor touch MFA.
	before := acctSnapshot(t, e)
	rec = e.call("POST", "/api/v1/api-tokens", `{"name":"child"}`, fullTok)
	require.Equal(t, 403, rec.Code)
	assert.Equal(t, "session_required", decodeErr(t, rec).Error.Code)
	rec = e.call("POST", "/api/v1/auth/mfa/enroll", "", fullTok)
	require.Equal(t, 403, rec.Code)
	assert.Equal(t, before, acctSnapshot(t, e))

	// The list shows metadata (last use included), never values.
	rec = e.call("GET", "/api/v1/api-tokens", "", admin)
	require.Equal(t, 200, rec.Code)
	list := jsonBody(t, rec)
	assert.Equal(t, float64(2), list["total"])
	assert.Equal(t, float64(1), list["page"])
	items := list["items"].([]any)
	require.Len(t, items, 2)
	assert.NotContains(t, rec.Body.String(), token)
	assert.NotContains(t, rec.Body.String(), `"token"`)
	byID := map[string]map[string]any{}
	for _, it := range items {
		m := it.(map[string]any)
		byID[m["id"].(string)] = m
		for _, k := range []string{"name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "permissions", "status"} {
			assert.Contains(t, m, k)
		}
	}
	assert.NotNil(t, byID[id]["last_used_at"], "use is recorded")
	assert.Equal(t, "full", items[0].(map[string]any)["name"], "newest first")
	rec = e.call("GET", "/api/v1/api-tokens?per_page=1&page=2", "", admin)
	require.Equal(t, 200, rec.Code)
	assert.Len(t, jsonBody(t, rec)["items"], 1)
	assert.Equal(t, 400, e.call("GET", "/api/v1/api-tokens?per_page=0", "", admin).Code)

	// Other users see none of them and cannot revoke them.
	_, red := e.user("red@example.com", groupRed)
	rec = e.call("GET", "/api/v1/api-tokens", "", red)
	assert.Equal(t, float64(0), jsonBody(t, rec)["total"])
	before = acctSnapshot(t, e)
	rec = e.call("DELETE", "/api/v1/api-tokens/"+id, "", red)
	require.Equal(t, 404, rec.Code)
	assert.Equal(t, "api_token_not_found", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 404, e.call("DELETE", "/api/v1/api-tokens/not-a-uuid", "", admin).Code)
	assert.Equal(t, 404, e.call("DELETE", "/api/v1/api-tokens/"+db.NewID(), "", admin).Code)
	assert.Equal(t, before, acctSnapshot(t, e))

	// A user can narrow only to permissions they hold.
	rec = e.call("POST", "/api/v1/api-tokens", `{"name":"grab","permissions":["mission.read","user.manage","no.such"]}`, red)
	require.Equal(t, 422, rec.Code)
	problem := decodeErr(t, rec).Error.Details["permissions"].(string)
	assert.Contains(t, problem, "user.manage")
	assert.Contains(t, problem, "no.such")
	assert.NotContains(t, problem, "mission.read")
	assert.Equal(t, before, acctSnapshot(t, e))

	// Revocation is immediate, even for a token the server has cached.
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", token).Code)
	rec = e.call("DELETE", "/api/v1/api-tokens/"+id, "", admin)
	require.Equal(t, 204, rec.Code, rec.Body.String())
	rec = e.call("GET", "/api/v1/auth/me", "", token)
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "token_revoked", decodeErr(t, rec).Error.Code)
	assert.Equal(t, 204, e.call("DELETE", "/api/v1/api-tokens/"+id, "", admin).Code, "revoking twice is harmless")
	assert.Equal(t, 1, acctAudit(t, e, "api_token.revoke"))
	rec = e.call("GET", "/api/v1/api-tokens", "", admin)
	for _, it := range jsonBody(t, rec)["items"].([]any) {
		m := it.(map[string]any)
		if m["id"] == id {
			assert.Equal(t, "revoked", m["status"])
			assert.NotNil(t, m["revoked_at"])
		}
	}

	// Expiry: the one-day token stops after a day.
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", fullTok).Code)
	e.clock.advance(24*time.Hour + time.Second)
	admin = e.login(adminEmail, adminPassword)
	rec = e.call("GET", "/api/v1/auth/me", "", fullTok)
	require.Equal(t, 401, rec.Code)
	assert.Equal(t, "token_expired", decodeErr(t, rec).Error.Code)
	for _, it := range jsonBody(t, e.call("GET", "/api/v1/api-tokens", "", admin))["items"].([]any) {
		m := it.(map[string]any)
		if m["name"] == "full" {
			assert.Equal(t, "expired", m["status"])
		}
	}
}

func TestAPITokenExpiresWhileCached(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	rec := e.call("POST", "/api/v1/api-tokens", `{"name":"short","expires_in_days":1}`, admin)
	require.Equal(t, 201, rec.Code)
	tok := jsonBody(t, rec)["token"].(string)
	e.clock.advance(24*time.Hour - 10*time.Second)
	require.Equal(t, 200, e.call("GET", "/api/v1/auth/me", "", tok).Code)
	e.clock.advance(11 * time.Second) // well inside the principal cache's 30 s
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", tok).Code)
}

func TestAPITokensBadInput(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	before := acctSnapshot(t, e)
	for body, status := range map[string]int{
		``:               400,
		`{}`:             422,
		`{"name":""}`:    422,
		`{"name":"   "}`: 422,
		`{"name":"` + strings.Repeat("n", 101) + `"}`: 422,
		`{"name":"a\u0000b"}`:                         400, // NUL: refused by the JSON decoder, whatever the field
		`{"name":"x","expires_in_days":0}`:            422,
		`{"name":"x","expires_in_days":366}`:          422,
		`{"name":"x","expires_in_days":-1}`:           422,
		`{"name":"x","expires_in_days":1.5}`:          400,
		`{"name":"x","expires_in_days":"7"}`:          400,
		`{"name":"x","permissions":"user.manage"}`:    400,
		`{"name":"x","permissions":[1]}`:              400,
		`{"name":"x","permissions":["nope.nope"]}`:    422,
		`{"name":"x","scope":"all"}`:                  400,
		`{"name":1}`:                                  400,
		`[]`:                                          400,
		`{"name":"x"} {"name":"y"}`:                   400,
	} {
		rec := e.call("POST", "/api/v1/api-tokens", body, admin)
		assert.Equal(t, status, rec.Code, truncateForMsg(body))
		decodeErr(t, rec)
	}
	assert.Equal(t, before, acctSnapshot(t, e))
	assert.Zero(t, acctAudit(t, e, "api_token.create"))
	// Exactly 100 characters and 365 days are fine; an empty list narrows to nothing.
	rec := e.call("POST", "/api/v1/api-tokens", `{"name":"`+strings.Repeat("n", 100)+`","expires_in_days":365,"permissions":[]}`, admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	tok := jsonBody(t, rec)["token"].(string)
	assert.Equal(t, []any{}, jsonBody(t, e.call("GET", "/api/v1/auth/me", "", tok))["permissions"])
}

func TestSettings(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	_, nobody := e.user("reader@example.com")

	rec := e.call("GET", "/api/v1/settings", "", nobody)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"security_controls":["EDR","SIEM","AV","Firewall","Mail gateway","Web proxy","DLP"],
		"require_mfa":false,"evidence_max_bytes":536870912,"mitre_sync_hosts":[],"organisation_name":"","organisation_logo":""}`, rec.Body.String())
	rec = e.call("GET", "/api/v1/settings/require_mfa", "", nobody)
	require.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"key":"require_mfa","value":false,"is_default":true,"updated_at":null,"updated_by":null}`, rec.Body.String())
	rec = e.call("GET", "/api/v1/settings/security_controls", "", nobody)
	assert.Equal(t, true, jsonBody(t, rec)["is_default"], "not seeded: the default is defined once, in app/settings")
	for _, key := range []string{"nope", "mitre_sync", "setup_completed_at", "instance_id"} {
		rec = e.call("GET", "/api/v1/settings/"+key, "", nobody)
		assert.Equal(t, 404, rec.Code, key)
		assert.Equal(t, "setting_not_found", decodeErr(t, rec).Error.Code)
	}
	rec = e.call("PUT", "/api/v1/settings/evidence_max_bytes", `{"value":1048576}`, nobody)
	assert.Equal(t, 403, rec.Code)

	rec = e.call("PUT", "/api/v1/settings/evidence_max_bytes", `{"value":1048576}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got := jsonBody(t, rec)
	assert.Equal(t, float64(1048576), got["value"])
	assert.Equal(t, false, got["is_default"])
	assert.Equal(t, e.adminID, got["updated_by"])
	n, err := e.set.Settings.EvidenceMaxBytes(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), n)
	rec = e.call("PUT", "/api/v1/settings/security_controls", `{"value":[" EDR ","SIEM","Deception"]}`, admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, []any{"EDR", "SIEM", "Deception"}, jsonBody(t, rec)["value"])
	rec = e.call("PUT", "/api/v1/settings/evidence_max_bytes", `{"value":8589934592}`, admin)
	require.Equal(t, 200, rec.Code, "8 GiB is the upper bound")
	assert.Equal(t, 3, acctAudit(t, e, "settings.update"))
	rec = e.call("PUT", "/api/v1/settings/evidence_max_bytes", `{"value":8589934592}`, admin)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, 3, acctAudit(t, e, "settings.update"), "an unchanged value writes nothing")
	var details string
	require.NoError(t, e.db.Read.NewQuery(`SELECT details FROM audit_events WHERE action = 'settings.update' AND object_id = 'security_controls'`).Row(&details))
	assert.Contains(t, details, "Mail gateway", "before is audited")
	assert.Contains(t, details, "Deception", "after is audited")

	before := acctSnapshot(t, e)
	forty := make([]string, 31)
	for i := range forty {
		forty[i] = fmt.Sprintf("%q", fmt.Sprintf("c%d", i))
	}
	cases := map[string][]string{
		"security_controls": {`[]`, `"EDR"`, `[""]`, `["  "]`, `[1]`, `["EDR","edr"]`, `["` + strings.Repeat("x", 61) + `"]`,
			`[` + strings.Join(forty, ",") + `]`, `null`, `{"a":1}`, `["a\u0001"]`},
		"require_mfa":        {`"true"`, `1`, `null`, `[]`},
		"evidence_max_bytes": {`1048575`, `8589934593`, `1.5e6`, `"1048576"`, `null`, `-1`, `1e400`, `true`},
	}
	for key, values := range cases {
		for _, v := range values {
			rec := e.call("PUT", "/api/v1/settings/"+key, `{"value":`+v+`}`, admin)
			assert.Equal(t, 422, rec.Code, "%s = %s: %s", key, v, rec.Body.String())
			assert.Contains(t, decodeErr(t, rec).Error.Details, "value", key+" = "+v)
		}
	}
	for body, status := range map[string]int{`{}`: 422, `{"value":true,"x":1}`: 400, `not json`: 400, ``: 400, `{"value":tru}`: 400} {
		rec := e.call("PUT", "/api/v1/settings/require_mfa", body, admin)
		assert.Equal(t, status, rec.Code, body)
		decodeErr(t, rec)
	}
	rec = e.call("PUT", "/api/v1/settings/nope", `{"value":1}`, admin)
	assert.Equal(t, 404, rec.Code)
	rec = e.call("PUT", "/api/v1/settings/mitre_sync", `{"value":{}}`, admin)
	assert.Equal(t, 404, rec.Code)
	assert.Equal(t, before, acctSnapshot(t, e))
}

func TestAccountEndpointsViaRoutesTable(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	want := map[string]Access{
		"GET /auth/mfa": Authenticated, "POST /auth/mfa/enroll": Authenticated, "POST /auth/mfa/confirm": Authenticated,
		"POST /auth/mfa/disable": Authenticated, "POST /auth/mfa/recovery-codes": Authenticated,
		"GET /api-tokens": Authenticated, "POST /api-tokens": Authenticated, "DELETE /api-tokens/:id": Authenticated,
		"GET /settings": Authenticated, "GET /settings/:key": Authenticated, "PUT /settings/:key": Permission,
	}
	got := map[string]Route{}
	for _, rt := range e.srv.Routes() {
		got[rt.Method+" "+rt.Path] = rt
	}
	for k, a := range want {
		require.Contains(t, got, k)
		assert.Equal(t, a, got[k].Access, k)
	}
	assert.Equal(t, "settings.manage", got["PUT /settings/:key"].Perm)
}
