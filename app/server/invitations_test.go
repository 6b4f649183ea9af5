package server

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two pending invitations for one address: the second is a 409
// invitation_pending naming the first; with replace the first is revoked
// (audited) and stops working.
func TestInvitationPendingAndReplace(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	first := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"Dana@Example.org","group_ids":["`+groupRed+`"]}`, e.admin, 201)

	rec := e.call("POST", "/api/v1/invitations", `{"email":"dana@example.org"}`, e.admin)
	require.Equal(t, 409, rec.Code, rec.Body.String())
	env := decodeErr(t, rec)
	assert.Equal(t, "invitation_pending", env.Error.Code)
	existing := env.Error.Details["existing"].(map[string]any)
	assert.Equal(t, first["id"], existing["id"])
	assert.Equal(t, "pending", existing["status"])
	assert.NotContains(t, rec.Body.String(), first["token"].(string), "the token is never shown again")
	assert.Equal(t, 1, admAuditCount(t, e, "invitation.create"), "the refused one left nothing")

	second := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"dana@example.org","replace":true}`, e.admin, 201)
	assert.Equal(t, 1, admAuditCount(t, e, "invitation.revoke"))
	list := admDo(t, e, "GET", "/api/v1/invitations?status=pending", "", e.admin, 200)
	require.EqualValues(t, 1, list["total"])
	assert.Equal(t, second["id"], list["items"].([]any)[0].(map[string]any)["id"])

	// The replaced link is dead; the new one works.
	rec = e.call("POST", "/api/v1/invitations/accept", `{"token":"`+first["token"].(string)+`","name":"Dana","password":"a long enough password 9"}`, "")
	assert.Equal(t, 410, rec.Code, rec.Body.String())
	rec = e.call("POST", "/api/v1/invitations/accept", `{"token":"`+second["token"].(string)+`","name":"Dana","password":"a long enough password 9"}`, "")
	assert.Equal(t, 201, rec.Code, rec.Body.String())

	// An expired invitation does not block a new one.
	admDo(t, e, "POST", "/api/v1/invitations", `{"email":"eve@example.org","expires_in_hours":1}`, e.admin, 201)
	e.clock.advance(2 * time.Hour)
	e.admin = e.login(adminEmail, adminPassword)
	admDo(t, e, "POST", "/api/v1/invitations", `{"email":"eve@example.org"}`, e.admin, 201)
}

// The acceptance page's lookup: public, reveals only address, inviter,
// groups and expiry, and answers the same 404 for unknown, expired,
// revoked and used tokens; failures are throttled per address like logins.
func TestInvitationLookup(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	inv := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"fay@example.org","group_ids":["`+groupRed+`","`+groupViewers+`"]}`, e.admin, 201)
	lookup := func(token string) (int, map[string]any, string) {
		rec := e.call("POST", "/api/v1/invitations/lookup", `{"token":"`+token+`"}`, "")
		if rec.Code == 200 {
			return rec.Code, jsonBody(t, rec), ""
		}
		return rec.Code, nil, decodeErr(t, rec).Error.Code
	}

	code, p, _ := lookup(inv["token"].(string))
	require.Equal(t, 200, code)
	assert.Equal(t, "fay@example.org", p["email"])
	assert.NotEmpty(t, p["invited_by"])
	assert.ElementsMatch(t, []any{"Red team", "Viewers"}, p["groups"])
	assert.NotEmpty(t, p["expires_at"])
	for _, k := range []string{"id", "token", "created_by", "status", "accepted_user_id"} {
		assert.NotContains(t, p, k, "the preview reveals only what the page shows")
	}

	// Used, revoked, expired and unknown are the same 404.
	used := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"gus@example.org"}`, e.admin, 201)
	require.Equal(t, 201, e.call("POST", "/api/v1/invitations/accept", `{"token":"`+used["token"].(string)+`","name":"Gus","password":"a long enough password 9"}`, "").Code)
	revoked := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"hal@example.org"}`, e.admin, 201)
	admDo(t, e, "DELETE", "/api/v1/invitations/"+revoked["id"].(string), "", e.admin, 204)
	expired := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"ivy@example.org","expires_in_hours":1}`, e.admin, 201)
	e.clock.advance(2 * time.Hour)
	var bodies []string
	for _, tok := range []string{used["token"].(string), revoked["token"].(string), expired["token"].(string), strings.Repeat("x", 43)} {
		rec := e.call("POST", "/api/v1/invitations/lookup", `{"token":"`+tok+`"}`, "")
		assert.Equal(t, 404, rec.Code)
		env := decodeErr(t, rec)
		bodies = append(bodies, env.Error.Code+"|"+env.Error.Message)
	}
	for _, b := range bodies {
		assert.Equal(t, bodies[0], b, "no way to tell why a token is refused")
	}
	rec := e.call("POST", "/api/v1/invitations/lookup", `{}`, "")
	assert.Equal(t, 422, rec.Code)

	// Guessing is throttled like logins: after the free failures, 429 with a wait.
	var last int
	for i := 0; i < 25 && last != 429; i++ {
		last, _, _ = lookup(strings.Repeat("g", 40))
	}
	require.Equal(t, 429, last)
	code, _, _ = lookup(inv["token"].(string))
	assert.Equal(t, 429, code, "while locked, even a good token waits")
}
