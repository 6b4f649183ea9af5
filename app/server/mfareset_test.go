package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// POST /users/{id}/mfa/reset: an administrator turns off MFA for an account
// whose owner lost the authenticator and the recovery codes. user.manage,
// audited, the account's sessions end, and it signs in with the password
// alone afterwards.
func TestAdminResetsMFA(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	id, tok := e.user("lost.phone@example.org")
	acctEnroll(t, e, tok)
	_, other := e.user("someone@example.org")

	path := "/api/v1/users/" + id + "/mfa/reset"
	assert.Equal(t, 401, e.call("POST", path, "", "").Code)
	assert.Equal(t, 403, e.call("POST", path, "", other).Code, "needs user.manage")
	assert.Equal(t, 404, e.call("POST", "/api/v1/users/not-an-id/mfa/reset", "", admin).Code)
	assert.Equal(t, 400, e.call("POST", path, `{"x":1}`, admin).Code, "unknown fields")
	require.Equal(t, 0, acctAudit(t, e, "auth.mfa_reset"))

	rec := e.call("POST", path, "", admin)
	require.Equal(t, 204, rec.Code, rec.Body.String())
	assert.Equal(t, 1, acctAudit(t, e, "auth.mfa_reset"))
	assert.Equal(t, 401, e.call("GET", "/api/v1/auth/me", "", tok).Code, "the account's sessions ended")

	// The password alone signs in again; the user list shows MFA off.
	rec = e.call("POST", "/api/v1/auth/login", `{"email":"lost.phone@example.org","password":"a long enough password 1"}`, "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, jsonBody(t, rec), "access_token")
	rec = e.call("GET", "/api/v1/users/"+id, "", admin)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, false, jsonBody(t, rec)["mfa_enabled"])

	// Nothing to reset any more.
	rec = e.call("POST", path, "", admin)
	assert.Equal(t, 409, rec.Code, rec.Body.String())
	assert.Equal(t, 1, acctAudit(t, e, "auth.mfa_reset"))
}
