package server

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// admDo sends a request, requires the status and decodes a JSON object
// answer (nil for 204). Error answers are checked for the envelope shape.
func admDo(t *testing.T, e *apiEnv, method, path, body, token string, want int) map[string]any {
	t.Helper()
	rec := e.call(method, path, body, token)
	require.Equal(t, want, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	if rec.Code == http.StatusNoContent {
		assert.Empty(t, rec.Body.String())
		return nil
	}
	if rec.Code >= 400 {
		decodeErr(t, rec)
	}
	return jsonBody(t, rec)
}

// admErr sends a request and returns the error envelope's code and details.
func admErr(t *testing.T, e *apiEnv, method, path, body, token string, want int) (string, map[string]any) {
	t.Helper()
	rec := e.call(method, path, body, token)
	require.Equal(t, want, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	b := decodeErr(t, rec)
	return b.Error.Code, b.Error.Details
}

// admSnapshot renders every row of the account tables, so a test can assert
// that a rejected request changed nothing at all.
func admSnapshot(t *testing.T, e *apiEnv) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range []string{"users", "groups", "user_groups", "group_permissions", "invitations",
		"invitation_groups", "refresh_tokens", "api_tokens", "audit_events"} {
		rows, err := e.db.SQL().Query("SELECT * FROM " + table + " ORDER BY 1, 2")
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		fmt.Fprintf(&sb, "## %s\n", table)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&sb, "%s=%v ", cols[i], v)
			}
			sb.WriteString("\n")
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return sb.String()
}

func admIDs(items any) []string {
	var out []string
	for _, it := range items.([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

func admStrings(v any) []string {
	out := []string{}
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// admGroup creates a group through the API and returns its id.
func admGroup(t *testing.T, e *apiEnv, name string, perms ...string) string {
	t.Helper()
	p, _ := json.Marshal(perms)
	g := admDo(t, e, "POST", "/api/v1/groups", `{"name":"`+name+`","permissions":`+string(p)+`}`, e.admin, 201)
	return g["id"].(string)
}

// admAuditCount counts audit events with the action.
func admAuditCount(t *testing.T, e *apiEnv, action string) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = '"+action+"'").Scan(&n))
	return n
}

func TestAdminRoutesNeedTheirPermission(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	victim, _ := e.user("victim@example.com", groupRed)
	_, viewer := e.user("viewer@example.com", groupViewers)
	inv := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"inv@example.com"}`, e.admin, 201)
	before := admSnapshot(t, e)

	for _, tc := range []struct{ method, path, body, perm string }{
		{"GET", "/users", "", "user.manage"},
		{"POST", "/users", `{"email":"x@example.com","name":"X","password":"a long enough password 2"}`, "user.manage"},
		{"GET", "/users/" + victim, "", "user.manage"},
		{"PATCH", "/users/" + victim, `{"name":"Hacked"}`, "user.manage"},
		{"DELETE", "/users/" + victim, "", "user.manage"},
		{"POST", "/users/" + victim + "/password", `{"password":"a long enough password 3"}`, "user.manage"},
		{"GET", "/groups", "", "group.manage"},
		{"POST", "/groups", `{"name":"Mine","permissions":["user.manage"]}`, "group.manage"},
		{"GET", "/groups/" + groupViewers, "", "group.manage"},
		{"PATCH", "/groups/" + groupViewers, `{"description":"x"}`, "group.manage"},
		{"DELETE", "/groups/" + groupViewers, "", "group.manage"},
		{"GET", "/groups/" + groupViewers + "/members", "", "group.manage"},
		{"PUT", "/groups/" + groupAdmins + "/members", `{"user_ids":[]}`, "group.manage"},
		{"PUT", "/groups/" + groupViewers + "/permissions", `{"permissions":["user.manage"]}`, "group.manage"},
		{"GET", "/invitations", "", "invitation.manage"},
		{"POST", "/invitations", `{"email":"y@example.com"}`, "invitation.manage"},
		{"DELETE", "/invitations/" + inv["id"].(string), "", "invitation.manage"},
		{"GET", "/audit", "", "audit.read"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, d := admErr(t, e, tc.method, "/api/v1"+tc.path, tc.body, viewer, 403)
			assert.Equal(t, "forbidden", code)
			assert.Equal(t, tc.perm, d["permission"])
		})
	}
	assert.Equal(t, before, admSnapshot(t, e), "refused requests change nothing")

	// The catalogue is readable by anyone signed in.
	perms := admDo(t, e, "GET", "/api/v1/permissions", "", viewer, 200)
	items := perms["items"].([]any)
	assert.Len(t, items, 29)
	assert.EqualValues(t, 29, perms["total"])
	first := items[0].(map[string]any)
	assert.NotEmpty(t, first["key"])
	assert.NotEmpty(t, first["description"])
	keys := []string{}
	for _, it := range items {
		keys = append(keys, it.(map[string]any)["key"].(string))
	}
	assert.True(t, sort.StringsAreSorted(keys))
}

func TestUsersCRUD(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()

	// Create.
	u := admDo(t, e, "POST", "/api/v1/users", `{"email":"Ada@Example.com","name":"Ada Lovelace","password":"analytical engine 1843","group_ids":["`+groupRed+`","`+groupBlue+`"]}`, e.admin, 201)
	id := u["id"].(string)
	assert.Equal(t, "Ada@Example.com", u["email"])
	assert.Len(t, u["groups"], 2)
	assert.Contains(t, u["permissions"], "mission_test.execute")
	assert.Contains(t, u["permissions"], "mission_test.assess")
	assert.NotContains(t, u, "password_hash")
	assert.NotContains(t, u, "password")
	e.login("ada@example.com", "analytical engine 1843")

	// Email uniqueness among live users, case-insensitively.
	code, _ := admErr(t, e, "POST", "/api/v1/users", `{"email":"ADA@example.com","name":"Other","password":"another fine password"}`, e.admin, 409)
	assert.Equal(t, "email_taken", code)
	// Unknown group: 422 naming it, nothing created.
	n := dbtest.Count(t, e.db, "users")
	_, d := admErr(t, e, "POST", "/api/v1/users", `{"email":"g@example.com","name":"G","password":"another fine password","group_ids":["`+db.NewID()+`"]}`, e.admin, 422)
	assert.Contains(t, d, "group_ids")
	assert.Equal(t, n, dbtest.Count(t, e.db, "users"))

	// Get.
	got := admDo(t, e, "GET", "/api/v1/users/"+id, "", e.admin, 200)
	assert.Equal(t, "Ada Lovelace", got["name"])
	assert.Nil(t, got["deleted_at"])
	assert.Equal(t, false, got["disabled"])

	// Patch.
	p := admDo(t, e, "PATCH", "/api/v1/users/"+id, `{"name":"Ada King","email":"ada@example.org"}`, e.admin, 200)
	assert.Equal(t, "Ada King", p["name"])
	assert.Equal(t, "ada@example.org", p["email"])
	code, _ = admErr(t, e, "PATCH", "/api/v1/users/"+id, `{"email":"`+strings.ToUpper(adminEmail)+`"}`, e.admin, 409)
	assert.Equal(t, "email_taken", code)

	// Delete: soft, hidden from the list unless asked for.
	admDo(t, e, "DELETE", "/api/v1/users/"+id, "", e.admin, 204)
	got = admDo(t, e, "GET", "/api/v1/users/"+id, "", e.admin, 200)
	assert.NotNil(t, got["deleted_at"])
	assert.Empty(t, got["permissions"])
	list := admDo(t, e, "GET", "/api/v1/users", "", e.admin, 200)
	assert.NotContains(t, admIDs(list["items"]), id)
	list = admDo(t, e, "GET", "/api/v1/users?include_deleted=true", "", e.admin, 200)
	assert.Contains(t, admIDs(list["items"]), id)
	admErr(t, e, "DELETE", "/api/v1/users/"+id, "", e.admin, 404)
	admErr(t, e, "PATCH", "/api/v1/users/"+id, `{"name":"Zombie"}`, e.admin, 404)
	// The address is free again.
	admDo(t, e, "POST", "/api/v1/users", `{"email":"ada@example.org","name":"Ada II","password":"analytical engine 1843"}`, e.admin, 201)

	// Every change is audited with before/after, never a password.
	assert.Equal(t, 2, admAuditCount(t, e, "user.create"))
	assert.Equal(t, 1, admAuditCount(t, e, "user.delete"))
	page := admDo(t, e, "GET", "/api/v1/audit?action=user.update&object_id="+id, "", e.admin, 200)
	require.Len(t, page["items"], 1)
	details := page["items"].([]any)[0].(map[string]any)["details"].(map[string]any)
	assert.Equal(t, map[string]any{"name": "Ada Lovelace", "email": "Ada@Example.com"}, details["before"])
	assert.Equal(t, map[string]any{"name": "Ada King", "email": "ada@example.org"}, details["after"])
	var all []string
	require.NoError(t, e.db.Read.NewQuery("SELECT details FROM audit_events").Column(&all))
	for _, d := range all {
		assert.NotContains(t, d, "analytical engine")
	}
}

func TestUserListFiltersSortAndPages(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	ids := map[string]string{}
	for _, n := range []string{"carol", "alice", "bob", "dave_x", "erin%"} {
		ids[n], _ = e.user(strings.TrimSuffix(n, "%")+"@example.com", groupRed)
	}
	zoe, _ := e.user("zoë@example.com", groupBlue)
	admDo(t, e, "PATCH", "/api/v1/users/"+ids["bob"], `{"disabled":true}`, e.admin, 200)

	names := func(q string) []string {
		t.Helper()
		page := admDo(t, e, "GET", "/api/v1/users"+q, "", e.admin, 200)
		out := []string{}
		for _, it := range page["items"].([]any) {
			out = append(out, it.(map[string]any)["email"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"admin@example.com", "alice@example.com", "bob@example.com", "carol@example.com",
		"dave_x@example.com", "erin@example.com", "zoë@example.com"}, names(""))
	assert.Equal(t, []string{"alice@example.com"}, names("?q=ALI"))
	assert.Equal(t, []string{"zoë@example.com"}, names("?q="+url.QueryEscape("ZOË")), "Unicode case folding")
	assert.Equal(t, []string{"dave_x@example.com"}, names("?q=_"), "LIKE wildcards are literal")
	assert.Empty(t, names("?q=%25"))
	assert.Equal(t, []string{"zoë@example.com"}, names("?group="+groupBlue))
	assert.Equal(t, []string{"bob@example.com"}, names("?disabled=true"))
	assert.Len(t, names("?disabled=false"), 6)
	assert.Equal(t, []string{"zoë@example.com", "erin@example.com"}, names("?sort=-email&per_page=2"))
	assert.Equal(t, []string{"dave_x@example.com", "carol@example.com"}, names("?sort=-email&per_page=2&page=2"))
	assert.Equal(t, "zoë@example.com", names("?sort=-created_at")[0])
	assert.Equal(t, "admin@example.com", names("?sort=created_at")[0])

	page := admDo(t, e, "GET", "/api/v1/users?per_page=3&page=3", "", e.admin, 200)
	assert.EqualValues(t, 7, page["total"])
	assert.EqualValues(t, 3, page["page"])
	assert.EqualValues(t, 3, page["per_page"])
	assert.Len(t, page["items"], 1)
	first := page["items"].([]any)[0].(map[string]any)
	assert.Equal(t, zoe, first["id"])
	assert.Equal(t, []any{map[string]any{"id": groupBlue, "name": "Blue team"}}, first["groups"])

	for _, q := range []string{"page=0", "page=x", "per_page=0", "per_page=201", "per_page=-1", "sort=password_hash",
		"disabled=maybe", "group=not-a-uuid", "include_deleted=2", "q=" + strings.Repeat("a", 201), "page=1&page=2"} {
		code, _ := admErr(t, e, "GET", "/api/v1/users?"+q, "", e.admin, 400)
		assert.Equal(t, "invalid_query", code, q)
	}
	admDo(t, e, "GET", "/api/v1/users?per_page=200", "", e.admin, 200)

	// Accounts that never logged in sort last in both directions.
	admDo(t, e, "POST", "/api/v1/users", `{"email":"never@example.com","name":"Never","password":"a long enough password 2"}`, e.admin, 201)
	for _, s := range []string{"last_login_at", "-last_login_at"} {
		got := names("?sort=" + s)
		assert.Equal(t, "never@example.com", got[len(got)-1], s)
	}
	assert.Equal(t, "admin@example.com", names("?sort=last_login_at")[0])
}

func TestUserPatchAbsentNullValue(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id, _ := e.user("pat@example.com", groupRed, groupBlue)
	path := "/api/v1/users/" + id
	groupsOf := func(u map[string]any) []string {
		out := []string{}
		for _, g := range u["groups"].([]any) {
			out = append(out, g.(map[string]any)["id"].(string))
		}
		return out
	}

	// Absent: nothing changes, nothing is audited.
	before := admSnapshot(t, e)
	u := admDo(t, e, "PATCH", path, `{}`, e.admin, 200)
	assert.Equal(t, "pat", u["name"])
	assert.Equal(t, []string{groupBlue, groupRed}, groupsOf(u))
	assert.Equal(t, before, admSnapshot(t, e))

	// A value sets; group_ids replaces the whole set.
	u = admDo(t, e, "PATCH", path, `{"group_ids":["`+groupViewers+`"],"disabled":false}`, e.admin, 200)
	assert.Equal(t, []string{groupViewers}, groupsOf(u))
	assert.Equal(t, "pat", u["name"], "absent name kept")
	assert.Equal(t, []any{"evidence.read", "mission.read", "scenario_template.read", "test_template.read"}, u["permissions"])

	// null clears a clearable field (group_ids) …
	u = admDo(t, e, "PATCH", path, `{"group_ids":null}`, e.admin, 200)
	assert.Empty(t, u["groups"])
	assert.Empty(t, u["permissions"])
	// … and is refused for required ones, changing nothing.
	before = admSnapshot(t, e)
	_, d := admErr(t, e, "PATCH", path, `{"name":null,"email":null,"disabled":null}`, e.admin, 422)
	assert.Equal(t, map[string]any{"name": "is required", "email": "is required", "disabled": "must be true or false"}, d)
	assert.Equal(t, before, admSnapshot(t, e))
}

func TestAdminBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id, _ := e.user("target@example.com", groupRed)
	gid := admGroup(t, e, "Leads", "mission.create")
	inv := admDo(t, e, "POST", "/api/v1/invitations", `{"email":"inv@example.com"}`, e.admin, 201)
	huge := strings.Repeat("x", 5000)
	before := admSnapshot(t, e)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown field", "POST", "/users", `{"email":"a@example.com","name":"A","password":"a long enough password 2","admin":true}`, 400, "unknown_field"},
		{"wrong type", "POST", "/users", `{"email":"a@example.com","name":"A","password":"a long enough password 2","group_ids":"x"}`, 400, "invalid_type"},
		{"not json", "POST", "/users", `{"email":`, 400, "invalid_json"},
		{"huge name", "POST", "/users", `{"email":"a@example.com","name":"` + huge + `","password":"a long enough password 2"}`, 422, "validation_failed"},
		{"huge email", "POST", "/users", `{"email":"` + huge + `@example.com","name":"A","password":"a long enough password 2"}`, 422, "validation_failed"},
		{"weak password", "POST", "/users", `{"email":"a@example.com","name":"A","password":"password"}`, 422, "validation_failed"},
		{"patch unknown field", "PATCH", "/users/" + id, `{"nickname":"x"}`, 400, "unknown_field"},
		{"patch wrong type", "PATCH", "/users/" + id, `{"disabled":"yes"}`, 400, "invalid_type"},
		{"patch huge name", "PATCH", "/users/" + id, `{"name":"` + huge + `"}`, 422, "validation_failed"},
		{"patch bad email", "PATCH", "/users/" + id, `{"email":"not an email"}`, 422, "validation_failed"},
		{"patch bad group", "PATCH", "/users/" + id, `{"group_ids":["nope"]}`, 422, "validation_failed"},
		{"malformed user id", "PATCH", "/users/not-a-uuid", `{"name":"x"}`, 404, "user_not_found"},
		{"malformed user id get", "GET", "/users/123", ``, 404, "user_not_found"},
		{"unknown user id", "DELETE", "/users/" + db.NewID(), ``, 404, "user_not_found"},
		{"malformed id password", "POST", "/users/x/password", `{"password":"a long enough password 2"}`, 404, "user_not_found"},
		{"weak admin password", "POST", "/users/" + id + "/password", `{"password":"short"}`, 422, "validation_failed"},
		{"group unknown field", "POST", "/groups", `{"name":"G","perms":[]}`, 400, "unknown_field"},
		{"group unknown permission", "POST", "/groups", `{"name":"G","permissions":["mission.read","root.everything"]}`, 422, "validation_failed"},
		{"group huge name", "POST", "/groups", `{"name":"` + huge + `"}`, 422, "validation_failed"},
		{"group huge description", "PATCH", "/groups/" + gid, `{"description":"` + strings.Repeat("d", 2001) + `"}`, 422, "validation_failed"},
		{"group wrong type", "PATCH", "/groups/" + gid, `{"name":5}`, 400, "invalid_type"},
		{"group malformed id", "PATCH", "/groups/xyz", `{"name":"x"}`, 404, "group_not_found"},
		{"group unknown id", "DELETE", "/groups/" + db.NewID(), ``, 404, "group_not_found"},
		{"members malformed id", "PUT", "/groups/xyz/members", `{"user_ids":[]}`, 404, "group_not_found"},
		{"members bad user", "PUT", "/groups/" + gid + "/members", `{"user_ids":["` + db.NewID() + `"]}`, 422, "validation_failed"},
		{"members wrong type", "PUT", "/groups/" + gid + "/members", `{"user_ids":[1]}`, 400, "invalid_type"},
		{"permissions unknown", "PUT", "/groups/" + gid + "/permissions", `{"permissions":["nope.nope"]}`, 422, "validation_failed"},
		{"invitation bad email", "POST", "/invitations", `{"email":"nope"}`, 422, "validation_failed"},
		{"invitation expiry too long", "POST", "/invitations", `{"email":"b@example.com","expires_in_hours":721}`, 422, "validation_failed"},
		{"invitation expiry zero", "POST", "/invitations", `{"email":"b@example.com","expires_in_hours":0}`, 422, "validation_failed"},
		{"invitation expiry type", "POST", "/invitations", `{"email":"b@example.com","expires_in_hours":"72"}`, 400, "invalid_type"},
		{"invitation bad group", "POST", "/invitations", `{"email":"b@example.com","group_ids":["` + db.NewID() + `"]}`, 422, "validation_failed"},
		{"invitation existing account", "POST", "/invitations", `{"email":"TARGET@example.com"}`, 409, "email_taken"},
		{"invitation malformed id", "DELETE", "/invitations/zzz", ``, 404, "invitation_not_found"},
		{"accept unknown token", "POST", "/invitations/accept", `{"token":"nope","name":"N","password":"a long enough password 2"}`, 404, "invitation_not_found"},
		{"accept huge token", "POST", "/invitations/accept", `{"token":"` + huge + `","name":"N","password":"a long enough password 2"}`, 404, "invitation_not_found"},
		{"accept weak password", "POST", "/invitations/accept", `{"token":"` + inv["token"].(string) + `","name":"N","password":"x"}`, 422, "validation_failed"},
		{"accept huge name", "POST", "/invitations/accept", `{"token":"` + inv["token"].(string) + `","name":"` + huge + `","password":"a long enough password 2"}`, 422, "validation_failed"},
		{"accept unknown field", "POST", "/invitations/accept", `{"token":"x","name":"N","password":"p","email":"x@y.z"}`, 400, "unknown_field"},
		{"me unknown field", "PATCH", "/auth/me", `{"email":"x@example.com"}`, 400, "unknown_field"},
		{"me null name", "PATCH", "/auth/me", `{"name":null}`, 422, "validation_failed"},
		{"password wrong type", "POST", "/auth/password", `{"current_password":1,"new_password":"x"}`, 400, "invalid_type"},
		{"audit bad since", "GET", "/audit?since=yesterday", ``, 400, "invalid_query"},
		{"audit bad actor", "GET", "/audit?actor=me", ``, 400, "invalid_query"},
		{"invitations bad status", "GET", "/invitations?status=lost", ``, 400, "invalid_query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := admErr(t, e, tc.method, "/api/v1"+tc.path, tc.body, e.admin, tc.status)
			assert.Equal(t, tc.code, code)
		})
	}
	assert.Equal(t, before, admSnapshot(t, e), "no rejected request changed a row")

	// The unknown permission is named.
	_, d := admErr(t, e, "POST", "/api/v1/groups", `{"name":"G","permissions":["root.everything"]}`, e.admin, 422)
	assert.Contains(t, d["permissions"], `"root.everything"`)
	// Every bad field is reported at once.
	_, d = admErr(t, e, "POST", "/api/v1/users", `{"email":"x","name":"","password":"p"}`, e.admin, 422)
	assert.Len(t, d, 3)
}

func TestLastAdminProtection(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	// A manager who may administer users and groups without being an admin.
	mgrGroup := admGroup(t, e, "Managers", "user.manage", "group.manage")
	mgrID, mgr := e.user("mgr@example.com", mgrGroup)
	admin := "/api/v1/users/" + e.adminID

	// Nobody deletes or disables themselves.
	code, _ := admErr(t, e, "DELETE", admin, "", e.admin, 409)
	assert.Equal(t, "cannot_delete_self", code)
	code, _ = admErr(t, e, "PATCH", admin, `{"disabled":true}`, e.admin, 409)
	assert.Equal(t, "cannot_disable_self", code)

	before := admSnapshot(t, e)
	for _, tc := range []struct{ method, path, body string }{
		{"DELETE", admin, ""},
		{"PATCH", admin, `{"disabled":true}`},
		{"PATCH", admin, `{"group_ids":[]}`},
		{"PATCH", admin, `{"group_ids":null}`},
		{"PATCH", admin, `{"group_ids":["` + groupRed + `"]}`},
		{"PUT", "/api/v1/groups/" + groupAdmins + "/members", `{"user_ids":[]}`},
	} {
		code, _ := admErr(t, e, tc.method, tc.path, tc.body, mgr, 409)
		assert.Equal(t, "last_admin", code, "%s %s %s", tc.method, tc.path, tc.body)
	}
	assert.Equal(t, before, admSnapshot(t, e), "refused changes leave no trace")
	// The admin still works.
	admDo(t, e, "GET", "/api/v1/users", "", e.admin, 200)

	// With a second active admin, the first can be demoted …
	admDo(t, e, "PUT", "/api/v1/groups/"+groupAdmins+"/members", `{"user_ids":["`+e.adminID+`","`+mgrID+`"]}`, mgr, 200)
	admDo(t, e, "PATCH", "/api/v1/users/"+mgrID, `{"disabled":true}`, e.admin, 200)
	// … but a disabled admin does not count.
	code, _ = admErr(t, e, "PUT", "/api/v1/groups/"+groupAdmins+"/members", `{"user_ids":["`+mgrID+`"]}`, e.admin, 409)
	assert.Equal(t, "last_admin", code)
	admDo(t, e, "PATCH", "/api/v1/users/"+mgrID, `{"disabled":false}`, e.admin, 200)
	mgr = e.login("mgr@example.com", "a long enough password 1")
	admDo(t, e, "PUT", "/api/v1/groups/"+groupAdmins+"/members", `{"user_ids":["`+mgrID+`"]}`, e.admin, 200)
	// The old admin lost Admins, and with it every permission, at once.
	admErr(t, e, "GET", "/api/v1/users", "", e.admin, 403)
	// Now mgr is the last admin.
	code, _ = admErr(t, e, "PATCH", "/api/v1/users/"+mgrID, `{"group_ids":["`+mgrGroup+`"]}`, mgr, 409)
	assert.Equal(t, "last_admin", code)
}

func TestConcurrentAdminRemovalKeepsOneAdmin(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id2, tok2 := e.user("admin2@example.com", groupAdmins)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, tc := range []struct{ path, token string }{
		{"/api/v1/users/" + id2, e.admin}, {"/api/v1/users/" + e.adminID, tok2},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.call("PATCH", tc.path, `{"group_ids":[]}`, tc.token).Code
		}()
	}
	wg.Wait()
	slices.Sort(codes)
	// One demotion may win; never both. (The loser may also be 403 if it
	// lost user.manage before its request was authorised.)
	assert.Equal(t, 200, codes[0], "%v", codes)
	assert.Contains(t, []int{403, 409}, codes[1], "%v", codes)
	var admins int
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM user_groups WHERE group_id = '"+groupAdmins+"'").Scan(&admins))
	assert.Equal(t, 1, admins)
}

func TestDisableAndDeleteEndAccessAtOnce(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id, tok := e.user("worker@example.com", groupRed)
	rec := e.call("POST", "/api/v1/auth/login", `{"email":"worker@example.com","password":"a long enough password 1"}`, "")
	require.Equal(t, 200, rec.Code)
	refresh := jsonBody(t, rec)["refresh_token"].(string)
	admDo(t, e, "GET", "/api/v1/auth/me", "", tok, 200) // cached principal

	admDo(t, e, "PATCH", "/api/v1/users/"+id, `{"disabled":true}`, e.admin, 200)
	admErr(t, e, "GET", "/api/v1/auth/me", "", tok, 401)
	admErr(t, e, "POST", "/api/v1/auth/refresh", `{"refresh_token":"`+refresh+`"}`, "", 401)
	admErr(t, e, "POST", "/api/v1/auth/login", `{"email":"worker@example.com","password":"a long enough password 1"}`, "", 401)
	var live int
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = '"+id+"' AND revoked_at IS NULL").Scan(&live))
	assert.Zero(t, live)
	admDo(t, e, "GET", "/api/v1/users?disabled=true", "", e.admin, 200)

	admDo(t, e, "PATCH", "/api/v1/users/"+id, `{"disabled":false}`, e.admin, 200)
	tok = e.login("worker@example.com", "a long enough password 1")

	// An API token of the user (inserted directly: its endpoints are elsewhere).
	apiTok := "pbk_admintest0123456789abcdefghijklmnopqrstuvwxyzAB"
	sum := sha256.Sum256([]byte(apiTok))
	now := db.NewTime(e.clock.now())
	_, err := e.db.Write.Insert("api_tokens", map[string]any{"id": db.NewID(), "user_id": id, "name": "ci", "prefix": apiTok[:10],
		"token_hash": hex.EncodeToString(sum[:]), "created_at": now, "updated_at": now}).Execute()
	require.NoError(t, err)
	admDo(t, e, "GET", "/api/v1/auth/me", "", apiTok, 200)

	admDo(t, e, "DELETE", "/api/v1/users/"+id, "", e.admin, 204)
	admErr(t, e, "GET", "/api/v1/auth/me", "", tok, 401)
	admErr(t, e, "GET", "/api/v1/auth/me", "", apiTok, 401)
	var revoked int
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM api_tokens WHERE user_id = '"+id+"' AND revoked_at IS NOT NULL").Scan(&revoked))
	assert.Equal(t, 1, revoked)
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = '"+id+"' AND revoked_at IS NULL").Scan(&live))
	assert.Zero(t, live)
}

func TestAdminSetsPassword(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id, tok := e.user("forgetful@example.com", groupRed)
	admDo(t, e, "POST", "/api/v1/users/"+id+"/password", `{"password":"brand new secret phrase"}`, e.admin, 204)
	admErr(t, e, "GET", "/api/v1/auth/me", "", tok, 401)
	admErr(t, e, "POST", "/api/v1/auth/login", `{"email":"forgetful@example.com","password":"a long enough password 1"}`, "", 401)
	e.login("forgetful@example.com", "brand new secret phrase")
	assert.Equal(t, 1, admAuditCount(t, e, "user.password_changed"))
	var details string
	require.NoError(t, e.db.SQL().QueryRow("SELECT details FROM audit_events WHERE action = 'user.password_changed'").Scan(&details))
	assert.NotContains(t, details, "brand new")
}

func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("self@example.com", groupViewers)
	other := e.login("self@example.com", "a long enough password 1")

	_, d := admErr(t, e, "POST", "/api/v1/auth/password", `{"current_password":"wrong wrong wrong","new_password":"my new long password"}`, tok, 422)
	assert.Equal(t, "is incorrect", d["current_password"])
	_, d = admErr(t, e, "POST", "/api/v1/auth/password", `{"current_password":"a long enough password 1","new_password":"short"}`, tok, 422)
	assert.Contains(t, d, "new_password")
	_, d = admErr(t, e, "POST", "/api/v1/auth/password", `{"current_password":"a long enough password 1","new_password":"a long enough password 1"}`, tok, 422)
	assert.Contains(t, d, "new_password")
	assert.Equal(t, 1, admAuditCount(t, e, "user.password_change_failed"))

	admDo(t, e, "POST", "/api/v1/auth/password", `{"current_password":"a long enough password 1","new_password":"my new long password"}`, tok, 204)
	admDo(t, e, "GET", "/api/v1/auth/me", "", tok, 200)    // this session stays
	admErr(t, e, "GET", "/api/v1/auth/me", "", other, 401) // every other one ends
	e.login("self@example.com", "my new long password")    // the new password works
	admErr(t, e, "POST", "/api/v1/auth/login", `{"email":"self@example.com","password":"a long enough password 1"}`, "", 401)

	// Guessing the current password is throttled like logins.
	var last int
	for i := 0; i < 10 && last != 429; i++ {
		last = e.call("POST", "/api/v1/auth/password", `{"current_password":"guess guess guess","new_password":"another long password"}`, tok).Code
	}
	assert.Equal(t, 429, last)
}

func TestUpdateMe(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	id, tok := e.user("me@example.com", groupViewers)
	m := admDo(t, e, "PATCH", "/api/v1/auth/me", `{"name":"  New Name  "}`, tok, 200)
	assert.Equal(t, "New Name", m["name"])
	assert.Equal(t, "me@example.com", m["email"])
	assert.Contains(t, m["permissions"], "mission.read")
	admDo(t, e, "PATCH", "/api/v1/auth/me", `{}`, tok, 200)
	assert.Equal(t, "New Name", admDo(t, e, "GET", "/api/v1/users/"+id, "", e.admin, 200)["name"])
	_, d := admErr(t, e, "PATCH", "/api/v1/auth/me", `{"name":"`+strings.Repeat("n", 201)+`"}`, tok, 422)
	assert.Contains(t, d, "name")
	assert.Equal(t, 1, admAuditCount(t, e, "user.update"))
}

func TestGroupsCRUD(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	g := admDo(t, e, "POST", "/api/v1/groups", `{"name":"Leads","description":"Mission leads","permissions":["mission.manage_members","mission.create","mission.create"]}`, e.admin, 201)
	id := g["id"].(string)
	assert.Equal(t, []any{"mission.create", "mission.manage_members"}, g["permissions"])
	assert.Equal(t, false, g["is_system"])
	assert.EqualValues(t, 0, g["member_count"])

	code, _ := admErr(t, e, "POST", "/api/v1/groups", `{"name":"LEADS"}`, e.admin, 409)
	assert.Equal(t, "group_name_taken", code)
	code, _ = admErr(t, e, "PATCH", "/api/v1/groups/"+id, `{"name":"red TEAM"}`, e.admin, 409)
	assert.Equal(t, "group_name_taken", code)

	list := admDo(t, e, "GET", "/api/v1/groups", "", e.admin, 200)
	assert.EqualValues(t, 5, list["total"])
	names := []string{}
	for _, it := range list["items"].([]any) {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	assert.Equal(t, []string{"Admins", "Blue team", "Leads", "Red team", "Viewers"}, names)
	admins := list["items"].([]any)[0].(map[string]any)
	assert.Len(t, admins["permissions"], 29)
	assert.EqualValues(t, 1, admins["member_count"])
	assert.Equal(t, true, admins["is_system"])
	assert.Len(t, admDo(t, e, "GET", "/api/v1/groups?q=TEAM", "", e.admin, 200)["items"], 2)

	g = admDo(t, e, "PATCH", "/api/v1/groups/"+id, `{"name":"Team leads","description":null}`, e.admin, 200)
	assert.Equal(t, "Team leads", g["name"])
	assert.Equal(t, "", g["description"])
	assert.Len(t, g["permissions"], 2, "absent permissions kept")
	g = admDo(t, e, "PUT", "/api/v1/groups/"+id+"/permissions", `{"permissions":["mission.read"]}`, e.admin, 200)
	assert.Equal(t, []any{"mission.read"}, g["permissions"])
	g = admDo(t, e, "PATCH", "/api/v1/groups/"+id, `{"permissions":null}`, e.admin, 200)
	assert.Equal(t, []any{}, g["permissions"])

	// Seeded groups: no rename, no delete; Admins keeps every permission.
	for _, sys := range []string{groupAdmins, groupRed} {
		code, _ := admErr(t, e, "PATCH", "/api/v1/groups/"+sys, `{"name":"Renamed"}`, e.admin, 409)
		assert.Equal(t, "system_group", code)
		code, _ = admErr(t, e, "DELETE", "/api/v1/groups/"+sys, "", e.admin, 409)
		assert.Equal(t, "system_group", code)
	}
	code, _ = admErr(t, e, "PUT", "/api/v1/groups/"+groupAdmins+"/permissions", `{"permissions":["user.manage"]}`, e.admin, 409)
	assert.Equal(t, "admins_permissions", code)
	code, _ = admErr(t, e, "PATCH", "/api/v1/groups/"+groupAdmins, `{"permissions":null}`, e.admin, 409)
	assert.Equal(t, "admins_permissions", code)
	// Their description and (other than Admins) permissions may change.
	g = admDo(t, e, "PATCH", "/api/v1/groups/"+groupRed, `{"name":"Red team","description":"Operators","permissions":["mission.read"]}`, e.admin, 200)
	assert.Equal(t, "Operators", g["description"])
	assert.Equal(t, []any{"mission.read"}, g["permissions"])
	all := admDo(t, e, "GET", "/api/v1/groups/"+groupAdmins, "", e.admin, 200)["permissions"]
	b, _ := json.Marshal(all)
	admDo(t, e, "PUT", "/api/v1/groups/"+groupAdmins+"/permissions", `{"permissions":`+string(b)+`}`, e.admin, 200)

	// Soft delete frees the name.
	admDo(t, e, "DELETE", "/api/v1/groups/"+id, "", e.admin, 204)
	assert.NotNil(t, admDo(t, e, "GET", "/api/v1/groups/"+id, "", e.admin, 200)["deleted_at"])
	assert.NotContains(t, admIDs(admDo(t, e, "GET", "/api/v1/groups", "", e.admin, 200)["items"]), id)
	assert.Contains(t, admIDs(admDo(t, e, "GET", "/api/v1/groups?include_deleted=true", "", e.admin, 200)["items"]), id)
	admErr(t, e, "PATCH", "/api/v1/groups/"+id, `{"description":"x"}`, e.admin, 404)
	admErr(t, e, "DELETE", "/api/v1/groups/"+id, "", e.admin, 404)
	admGroup(t, e, "Team leads")

	for _, a := range []string{"group.create", "group.update", "group.permissions_set", "group.delete"} {
		assert.Positive(t, admAuditCount(t, e, a), a)
	}
	page := admDo(t, e, "GET", "/api/v1/audit?action=group.permissions_set&object_id="+id, "", e.admin, 200)
	require.Len(t, page["items"], 1)
	d := page["items"].([]any)[0].(map[string]any)["details"].(map[string]any)
	assert.Equal(t, map[string]any{"permissions": []any{"mission.create", "mission.manage_members"}}, d["before"])
	assert.Equal(t, map[string]any{"permissions": []any{"mission.read"}}, d["after"])
}

func TestGroupMembers(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	gid := admGroup(t, e, "Crew", "mission.read")
	a, _ := e.user("a@example.com")
	b, _ := e.user("b@example.com", gid)
	c, _ := e.user("c@example.com")
	admDo(t, e, "DELETE", "/api/v1/users/"+c, "", e.admin, 204)

	members := admDo(t, e, "GET", "/api/v1/groups/"+gid+"/members", "", e.admin, 200)
	assert.Equal(t, []string{b}, admIDs(members["items"]))

	g := admDo(t, e, "PUT", "/api/v1/groups/"+gid+"/members", `{"user_ids":["`+a+`","`+e.adminID+`","`+a+`"]}`, e.admin, 200)
	assert.EqualValues(t, 2, g["member_count"])
	members = admDo(t, e, "GET", "/api/v1/groups/"+gid+"/members?sort=-created_at&per_page=1", "", e.admin, 200)
	assert.EqualValues(t, 2, members["total"])
	assert.Equal(t, []string{a}, admIDs(members["items"]))
	assert.Equal(t, []string{e.adminID}, admIDs(admDo(t, e, "GET", "/api/v1/groups/"+gid+"/members?q=admin", "", e.admin, 200)["items"]))

	// A deleted user cannot be added; nothing changes.
	before := admSnapshot(t, e)
	_, d := admErr(t, e, "PUT", "/api/v1/groups/"+gid+"/members", `{"user_ids":["`+c+`"]}`, e.admin, 422)
	assert.Contains(t, d["user_ids"], c)
	assert.Equal(t, before, admSnapshot(t, e))
	admErr(t, e, "GET", "/api/v1/groups/"+db.NewID()+"/members", "", e.admin, 404)

	admDo(t, e, "PUT", "/api/v1/groups/"+gid+"/members", `{"user_ids":[]}`, e.admin, 200)
	assert.Empty(t, admDo(t, e, "GET", "/api/v1/groups/"+gid+"/members", "", e.admin, 200)["items"])
	page := admDo(t, e, "GET", "/api/v1/audit?action=group.members_set", "", e.admin, 200)
	require.Len(t, page["items"], 2)
	last := page["items"].([]any)[0].(map[string]any)["details"].(map[string]any)
	assert.ElementsMatch(t, []any{a, e.adminID}, last["removed"])
}

func TestPermissionChangesApplyAtNextRequest(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	gid := admGroup(t, e, "Auditors")
	uid, tok := e.user("aud@example.com", gid)
	admErr(t, e, "GET", "/api/v1/audit", "", tok, 403)

	// Granting the permission to the group.
	admDo(t, e, "PUT", "/api/v1/groups/"+gid+"/permissions", `{"permissions":["audit.read"]}`, e.admin, 200)
	admDo(t, e, "GET", "/api/v1/audit", "", tok, 200)
	// Taking it away.
	admDo(t, e, "PATCH", "/api/v1/groups/"+gid, `{"permissions":[]}`, e.admin, 200)
	admErr(t, e, "GET", "/api/v1/audit", "", tok, 403)
	// Membership changes, both ways.
	admDo(t, e, "PUT", "/api/v1/groups/"+gid+"/permissions", `{"permissions":["audit.read"]}`, e.admin, 200)
	admDo(t, e, "GET", "/api/v1/audit", "", tok, 200)
	admDo(t, e, "PATCH", "/api/v1/users/"+uid, `{"group_ids":[]}`, e.admin, 200)
	admErr(t, e, "GET", "/api/v1/audit", "", tok, 403)
	admDo(t, e, "PUT", "/api/v1/groups/"+gid+"/members", `{"user_ids":["`+uid+`"]}`, e.admin, 200)
	admDo(t, e, "GET", "/api/v1/audit", "", tok, 200)
	// Deleting the group.
	admDo(t, e, "DELETE", "/api/v1/groups/"+gid, "", e.admin, 204)
	admErr(t, e, "GET", "/api/v1/audit", "", tok, 403)
	assert.Empty(t, admDo(t, e, "GET", "/api/v1/auth/me", "", tok, 200)["groups"])
}

// admInvite creates an invitation and returns the answer.
func admInvite(t *testing.T, e *apiEnv, body string) map[string]any {
	t.Helper()
	return admDo(t, e, "POST", "/api/v1/invitations", body, e.admin, 201)
}

func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	leads := admGroup(t, e, "Leads", "mission.create", "mission.manage_members")
	doomed := admGroup(t, e, "Doomed", "bundle.export")

	rec := admCallHost(e, "POST", "/api/v1/invitations", `{"email":"New.Person@example.com","group_ids":["`+groupRed+`","`+leads+`","`+doomed+`"]}`, "purplebook.lab:8420", false)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	inv := jsonBody(t, rec)
	token := inv["token"].(string)
	assert.Len(t, token, 43, "32 random bytes, base64url")
	assert.Equal(t, "http://purplebook.lab:8420/invite/"+token, inv["url"])
	assert.Equal(t, "pending", inv["status"])
	assert.Equal(t, "New.Person@example.com", inv["email"])
	assert.Len(t, inv["groups"], 3)
	exp, err := time.Parse(time.RFC3339, inv["expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, e.clock.now().Add(72*time.Hour), exp, time.Minute)
	// Stored hashed only; never listed or audited.
	var n int
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM invitations WHERE token_hash = '"+token+"'").Scan(&n))
	assert.Zero(t, n)
	list := admDo(t, e, "GET", "/api/v1/invitations?status=pending", "", e.admin, 200)
	require.Len(t, list["items"], 1)
	assert.NotContains(t, list["items"].([]any)[0], "token")
	var details []string
	require.NoError(t, e.db.Read.NewQuery("SELECT details FROM audit_events").Column(&details))
	for _, d := range details {
		assert.NotContains(t, d, token)
	}

	// A group deleted in between is simply not granted.
	admDo(t, e, "DELETE", "/api/v1/groups/"+doomed, "", e.admin, 204)

	rec = e.call("POST", "/api/v1/invitations/accept", `{"token":"`+token+`","name":"New Person","password":"welcome aboard friend"}`, "")
	require.Equal(t, 201, rec.Code, rec.Body.String())
	sess := jsonBody(t, rec)
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == refreshCookie {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	assert.Equal(t, sess["refresh_token"], cookie.Value)
	assert.True(t, cookie.HttpOnly)
	access := sess["access_token"].(string)
	me := admDo(t, e, "GET", "/api/v1/auth/me", "", access, 200)
	assert.Equal(t, "New.Person@example.com", me["email"])
	assert.Equal(t, "New Person", me["name"])

	// Exactly the union of the invitation's (live) groups.
	want := map[string]bool{}
	for _, g := range []string{groupRed, leads} {
		for _, p := range admStrings(admDo(t, e, "GET", "/api/v1/groups/"+g, "", e.admin, 200)["permissions"]) {
			want[p] = true
		}
	}
	wantList := []string{}
	for p := range want {
		wantList = append(wantList, p)
	}
	assert.ElementsMatch(t, wantList, admStrings(me["permissions"]))
	assert.NotContains(t, admStrings(me["permissions"]), "bundle.export")
	admErr(t, e, "GET", "/api/v1/users", "", access, 403)
	e.login("new.person@example.com", "welcome aboard friend")

	// Reuse is refused, and the invitation shows who accepted it.
	code, _ := admErr(t, e, "POST", "/api/v1/invitations/accept", `{"token":"`+token+`","name":"Again","password":"welcome aboard friend"}`, "", 410)
	assert.Equal(t, "invitation_used", code)
	list = admDo(t, e, "GET", "/api/v1/invitations?status=accepted", "", e.admin, 200)
	require.Len(t, list["items"], 1)
	acc := list["items"].([]any)[0].(map[string]any)
	assert.Equal(t, me["id"], acc["accepted_user_id"])
	assert.Equal(t, e.adminID, acc["created_by"])
	code, _ = admErr(t, e, "DELETE", "/api/v1/invitations/"+inv["id"].(string), "", e.admin, 409)
	assert.Equal(t, "invitation_accepted", code)
	assert.Equal(t, 1, admAuditCount(t, e, "invitation.accept"))
	assert.Equal(t, 1, admAuditCount(t, e, "invitation.create"))

	// Over TLS the link is https; an odd Host makes it relative.
	rec = admCallHost(e, "POST", "/api/v1/invitations", `{"email":"tls@example.com"}`, "pb.example.org", true)
	require.Equal(t, 201, rec.Code)
	assert.True(t, strings.HasPrefix(jsonBody(t, rec)["url"].(string), "https://pb.example.org/invite/"))
	rec = admCallHost(e, "POST", "/api/v1/invitations", `{"email":"odd@example.com"}`, "evil.example/x?", false)
	require.Equal(t, 201, rec.Code)
	assert.True(t, strings.HasPrefix(jsonBody(t, rec)["url"].(string), "/invite/"))
}

// admCallHost sends an admin request with the given Host (and TLS state).
func admCallHost(e *apiEnv, method, path, body, host string, tlsOn bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = host
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.admin)
	if tlsOn {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	e.serve(rec, req)
	return rec
}

func TestInvitationExpiryRevokeAndConflicts(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	body := func(token string) string {
		return `{"token":"` + token + `","name":"Invitee","password":"welcome aboard friend"}`
	}

	short := admInvite(t, e, `{"email":"short@example.com","expires_in_hours":1}`)
	exp, err := time.Parse(time.RFC3339, short["expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, e.clock.now().Add(time.Hour), exp, time.Minute)
	revoked := admInvite(t, e, `{"email":"revoked@example.com","group_ids":["`+groupViewers+`"]}`)
	taken := admInvite(t, e, `{"email":"taken@example.com"}`)
	long := admInvite(t, e, `{"email":"long@example.com","expires_in_hours":720}`)

	// Revoke: 204, twice is harmless, then accept says so.
	admDo(t, e, "DELETE", "/api/v1/invitations/"+revoked["id"].(string), "", e.admin, 204)
	admDo(t, e, "DELETE", "/api/v1/invitations/"+revoked["id"].(string), "", e.admin, 204)
	assert.Equal(t, 1, admAuditCount(t, e, "invitation.revoke"))
	code, _ := admErr(t, e, "POST", "/api/v1/invitations/accept", body(revoked["token"].(string)), "", 410)
	assert.Equal(t, "invitation_revoked", code)

	// An account made for the address in the meantime: 409, and the
	// invitation stays pending (the claim is rolled back).
	e.user("taken@example.com")
	before := admSnapshot(t, e)
	code, _ = admErr(t, e, "POST", "/api/v1/invitations/accept", body(taken["token"].(string)), "", 409)
	assert.Equal(t, "email_taken", code)
	assert.Equal(t, before, admSnapshot(t, e))

	// Expiry.
	e.clock.advance(2 * time.Hour)
	e.admin = e.login(adminEmail, adminPassword) // access tokens live 15 minutes
	code, _ = admErr(t, e, "POST", "/api/v1/invitations/accept", body(short["token"].(string)), "", 410)
	assert.Equal(t, "invitation_expired", code)
	status := func(s string) []string {
		return admIDs(admDo(t, e, "GET", "/api/v1/invitations?status="+s, "", e.admin, 200)["items"])
	}
	assert.Equal(t, []string{short["id"].(string)}, status("expired"))
	assert.Equal(t, []string{revoked["id"].(string)}, status("revoked"))
	assert.ElementsMatch(t, []string{taken["id"].(string), long["id"].(string)}, status("pending"))
	assert.Empty(t, status("accepted"))
	all := admDo(t, e, "GET", "/api/v1/invitations?per_page=2", "", e.admin, 200)
	assert.EqualValues(t, 4, all["total"])
	assert.Equal(t, []string{long["id"].(string), taken["id"].(string)}, admIDs(all["items"]), "newest first")
	// An expired invitation may still be revoked (tidying up).
	admDo(t, e, "DELETE", "/api/v1/invitations/"+short["id"].(string), "", e.admin, 204)

	// 30 days is the maximum and it works until then.
	e.clock.advance(29 * 24 * time.Hour)
	admDo(t, e, "POST", "/api/v1/invitations/accept", body(long["token"].(string)), "", 201)
}

func TestConcurrentAcceptHasOneWinner(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	inv := admInvite(t, e, `{"email":"race@example.com","group_ids":["`+groupBlue+`"]}`)
	users := dbtest.Count(t, e.db, "users")
	codes := make([]int, 6)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.call("POST", "/api/v1/invitations/accept",
				fmt.Sprintf(`{"token":"%s","name":"Racer %d","password":"welcome aboard friend"}`, inv["token"], i), "").Code
		}()
	}
	wg.Wait()
	slices.Sort(codes)
	assert.Equal(t, []int{201, 410, 410, 410, 410, 410}, codes)
	assert.Equal(t, users+1, dbtest.Count(t, e.db, "users"))
	var groups int
	require.NoError(t, e.db.SQL().QueryRow("SELECT COUNT(*) FROM user_groups WHERE group_id = '"+groupBlue+"'").Scan(&groups))
	assert.Equal(t, 1, groups)
}

func TestAuditListFilters(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	start := e.clock.now().UTC().Add(-time.Second)
	e.setupAdmin()
	uid, _ := e.user("audited@example.com", groupRed)
	gid := admGroup(t, e, "Watchers", "audit.read")
	admDo(t, e, "PATCH", "/api/v1/users/"+uid, `{"name":"Audited"}`, e.admin, 200)
	admDo(t, e, "PUT", "/api/v1/groups/"+gid+"/members", `{"user_ids":["`+uid+`"]}`, e.admin, 200)
	admInvite(t, e, `{"email":"x@example.com"}`)

	list := func(q string) []map[string]any {
		t.Helper()
		page := admDo(t, e, "GET", "/api/v1/audit"+q, "", e.admin, 200)
		out := []map[string]any{}
		for _, it := range page["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	actions := func(items []map[string]any) []string {
		out := []string{}
		for _, it := range items {
			out = append(out, it["action"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"invitation.create", "group.members_set", "user.update", "group.create"},
		actions(list("?actor=" + e.adminID + "&action=")[:4]), "newest first")
	assert.Equal(t, []string{"group.members_set", "group.create"}, actions(list("?action=group.")))
	assert.Equal(t, []string{"user.update"}, actions(list("?action=user.update")))
	assert.Empty(t, list("?action=user."+"upd"))
	byObj := list("?object_type=user&object_id=" + uid)
	assert.Contains(t, actions(byObj), "user.update")
	assert.Contains(t, actions(byObj), "user.create")
	for _, it := range byObj {
		assert.Equal(t, uid, it["object_id"])
	}
	upd := list("?action=user.update")[0]
	assert.Equal(t, e.adminID, upd["actor_user_id"])
	assert.Equal(t, adminEmail, upd["actor_label"])
	assert.Equal(t, "192.0.2.1", upd["ip"])
	assert.NotEmpty(t, upd["request_id"])

	all := list("?per_page=200")
	assert.Equal(t, len(all), len(list("?since="+url.QueryEscape(start.Format(time.RFC3339Nano)))))
	assert.Empty(t, list("?until="+start.Format(time.RFC3339)))
	assert.Empty(t, list("?since="+e.clock.now().Add(time.Hour).UTC().Format(time.RFC3339)))
	until := e.clock.now().Add(time.Minute).UTC().Format(time.RFC3339)
	assert.Len(t, list("?since="+start.Add(-time.Hour).Format("2006-01-02T15:04:05")+"-01:00&until="+until), len(all), "zone offsets")
	assert.Len(t, list("?since="+start.Add(time.Hour).Format("2006-01-02T15:04:05")+"+01:00&until="+until), len(all),
		"an unencoded + (read as a space) still parses")
	page := admDo(t, e, "GET", "/api/v1/audit?per_page=2&page=2", "", e.admin, 200)
	assert.EqualValues(t, len(all), page["total"])
	assert.Len(t, page["items"], 2)
	code, _ := admErr(t, e, "GET", "/api/v1/audit?per_page=500", "", e.admin, 400)
	assert.Equal(t, "invalid_query", code)
}

// Racing creations of one group name: exactly one wins, the others get
// 409 (on PostgreSQL the losers pass the service's name check and hit the
// unique index; that is a conflict too, never a 500).
func TestRacingGroupNamesConflict(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	admin := e.setupAdmin()
	validatorFor(t, e.srv) // built once, before the goroutines
	const racers = 6
	for round := range 3 {
		name := fmt.Sprintf(`{"name":"Race %d"}`, round)
		codes := make([]int, racers)
		bodies := make([]string, racers)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range racers {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				rec := e.call("POST", "/api/v1/groups", name, admin)
				codes[i], bodies[i] = rec.Code, rec.Body.String()
			}()
		}
		start.Done()
		done.Wait()
		created := 0
		for i, c := range codes {
			switch c {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("round %d: racer answered %d: %s", round, c, bodies[i])
			}
		}
		assert.Equal(t, 1, created, "round %d: %v", round, codes)
	}
}
