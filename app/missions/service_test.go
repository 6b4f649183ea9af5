package missions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func status(s string) missions.MissionUpdate { return missions.MissionUpdate{Status: patch.Value(s)} }

func TestMissionCreateValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day := func(s string) *string { return &s }
	for _, c := range []struct {
		in     missions.MissionInput
		fields []string
	}{
		{missions.MissionInput{Name: "   "}, []string{"name"}},
		{missions.MissionInput{Name: strings.Repeat("n", 201)}, []string{"name"}},
		{missions.MissionInput{Name: "x", StartsOn: day("31/03/2031")}, []string{"starts_on"}},
		{missions.MissionInput{Name: "x", EndsOn: day("2031-02-30")}, []string{"ends_on"}},
		{missions.MissionInput{Name: "x", StartsOn: day("2031-03-05"), EndsOn: day("2031-03-04")}, []string{"ends_on"}},
	} {
		_, err := e.m.Create(e.ctx, e.lead, c.in)
		requireInvalid(t, err, c.fields...)
	}
	assert.Equal(t, 1, e.count("missions", nil), "only the env's mission")

	m, err := e.m.Create(e.ctx, e.lead, missions.MissionInput{Name: "  Op Blue ", StartsOn: day("2031-03-04"), EndsOn: day("2031-03-04")})
	require.NoError(t, err)
	assert.Equal(t, "Op Blue", m.Name)
	assert.Equal(t, missions.StatusPlanned, m.Status)
	assert.Equal(t, 1, m.Version)
	assert.Equal(t, missions.RoleLead, m.MyRole, "the creator leads")
	assert.Equal(t, e.clock.dbTime(0), m.CreatedAt)
	assert.Equal(t, 0, m.Progress.Total)
	assert.Equal(t, 2, e.auditCount("mission.create"))
}

// TestMissionLifecycle walks every status pair: only the designed
// transitions pass, every other change is a 409 invalid_transition naming
// the allowed ones, and an unknown status is a 422.
func TestMissionLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	allowed := map[[2]string]bool{
		{"planned", "active"}: true, {"active", "completed"}: true,
		{"completed", "archived"}: true, {"completed", "active"}: true, {"archived", "completed"}: true,
	}
	// A path through every status, so each "from" is reached.
	path := []string{"active", "completed", "archived", "completed", "active"}
	from := missions.StatusPlanned
	for _, next := range path {
		for _, to := range []string{"planned", "active", "completed", "archived"} {
			if to == from || allowed[[2]string{from, to}] {
				continue
			}
			_, err := e.m.Update(e.ctx, e.lead, e.mission, status(to))
			ae := requireErr(t, err, apperr.ErrConflict, "invalid_transition")
			assert.Equal(t, from, ae.Details["status"], "%s → %s", from, to)
		}
		m, err := e.m.Update(e.ctx, e.lead, e.mission, status(next))
		require.NoError(t, err, "%s → %s", from, next)
		assert.Equal(t, next, m.Status)
		from = next
	}
	// Setting the current status again is no transition.
	m, err := e.m.Update(e.ctx, e.lead, e.mission, status(from))
	require.NoError(t, err)
	assert.Equal(t, from, m.Status)
	_, err = e.m.Update(e.ctx, e.lead, e.mission, status("paused"))
	requireInvalid(t, err, "status")
	assert.Equal(t, 1+len(path)+1, m.Version, "one version per accepted update")
}

// TestFinishedMissionIsReadOnly: completed and archived missions refuse
// every change (409 mission_read_only) until a lead reopens them; reading
// and status changes keep working.
func TestFinishedMissionIsReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tt := e.addTest("Enumerate users")
	for _, s := range []string{"active", "completed"} {
		_, err := e.m.Update(e.ctx, e.lead, e.mission, status(s))
		require.NoError(t, err)
	}
	refused := func(err error) {
		t.Helper()
		requireErr(t, err, apperr.ErrConflict, "mission_read_only")
	}
	check := func() {
		t.Helper()
		_, err := e.m.Update(e.ctx, e.lead, e.mission, missions.MissionUpdate{Name: patch.Value("Renamed")})
		refused(err)
		_, err = e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{Name: "More"})
		refused(err)
		_, err = e.m.SetMember(e.ctx, e.lead, e.mission, e.outsider.UserID, missions.RoleRed)
		refused(err)
		refused(e.m.RemoveMember(e.ctx, e.lead, e.mission, e.red.UserID))
		_, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr("Recon")})
		refused(err)
		_, err = e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{State: patch.Value("in_progress")})
		refused(err)
		_, err = e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{ArgumentValues: patch.Value(map[string]string{})})
		refused(err)
		refused(e.m.DeleteTest(e.ctx, e.lead, e.mission, tt.ID))
		refused(e.m.ReorderTests(e.ctx, e.lead, e.mission, []string{tt.ID}))
		refused(e.m.Writable(e.ctx, e.viewer, e.mission))
		// Reading still works.
		_, err = e.m.GetTest(e.ctx, e.viewer, e.mission, tt.ID)
		require.NoError(t, err)
	}
	check()
	_, err := e.m.Update(e.ctx, e.lead, e.mission, status("archived"))
	require.NoError(t, err)
	check()
	// Unarchived it is completed, still read-only; reopened it takes changes.
	m, err := e.m.Update(e.ctx, e.lead, e.mission, status("completed"))
	require.NoError(t, err)
	assert.Equal(t, "completed", m.Status)
	check()
	_, err = e.m.Update(e.ctx, e.lead, e.mission, status("active"))
	require.NoError(t, err)
	assert.NoError(t, e.m.Writable(e.ctx, e.viewer, e.mission))
	_, err = e.m.PatchTest(e.ctx, e.red, e.mission, tt.ID, missions.TestPatch{State: patch.Value("in_progress")})
	require.NoError(t, err)
}

func ptr[T any](v T) *T { return &v }

// TestMissionOptimisticConcurrency: an update naming an old version is a
// 409 with the current version and changes nothing.
func TestMissionOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, err := e.m.Get(e.ctx, e.lead, e.mission)
	require.NoError(t, err)
	e.clock.advance(time.Minute)
	first, err := e.m.Update(e.ctx, e.lead, e.mission, missions.MissionUpdate{Description: patch.Value("first"), Version: patch.Value(m.Version)})
	require.NoError(t, err)
	assert.Equal(t, m.Version+1, first.Version)
	assert.Equal(t, e.clock.dbTime(0), first.UpdatedAt)

	_, err = e.m.Update(e.ctx, e.lead, e.mission, missions.MissionUpdate{Description: patch.Value("second"), Version: patch.Value(m.Version)})
	ae := requireErr(t, err, apperr.ErrConflict, "version_conflict")
	assert.Equal(t, first.Version, ae.Details["current_version"])
	got, err := e.m.Get(e.ctx, e.lead, e.mission)
	require.NoError(t, err)
	assert.Equal(t, "first", got.Description)
	assert.Equal(t, first.Version, got.Version)
}

// TestMissionVisibility: outsiders get 404 for everything about a mission,
// exactly as for a mission that does not exist; mission.read_all sees it
// without being a member and acts as a lead only where its permissions
// allow.
func TestMissionVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tt := e.addTest("Enumerate users")
	notFound := func(err error) {
		t.Helper()
		requireErr(t, err, apperr.ErrNotFound, "not_found")
	}
	for _, id := range []string{e.mission, db.NewID(), "not-an-id"} {
		_, err := e.m.Get(e.ctx, e.outsider, id)
		notFound(err)
		_, err = e.m.Members(e.ctx, e.outsider, id)
		notFound(err)
		_, err = e.m.Tests(e.ctx, e.outsider, id, missions.TestListParams{})
		notFound(err)
		_, err = e.m.GetTest(e.ctx, e.outsider, id, tt.ID)
		notFound(err)
		_, err = e.m.Categories(e.ctx, e.outsider, id)
		notFound(err)
		_, err = e.m.Scenarios(e.ctx, e.outsider, id)
		notFound(err)
		_, err = e.m.TestAccess(e.ctx, e.outsider, id, tt.ID)
		notFound(err)
		notFound(e.m.Writable(e.ctx, e.outsider, id))
		// Writes too: no 403 that would confirm the mission exists.
		_, err = e.m.Update(e.ctx, e.outsider, id, missions.MissionUpdate{Name: patch.Value("x")})
		notFound(err)
		_, err = e.m.PatchTest(e.ctx, e.outsider, id, tt.ID, missions.TestPatch{State: patch.Value("in_progress")})
		notFound(err)
		notFound(e.m.Delete(e.ctx, e.outsider, id))
	}
	page, err := e.m.List(e.ctx, e.outsider, missions.ListParams{})
	require.NoError(t, err)
	assert.Zero(t, page.Total)
	assert.Empty(t, page.Items)

	// Members see it with their role.
	for c, role := range map[*missions.Caller]string{&e.lead: "lead", &e.red: "red", &e.blue: "blue", &e.viewer: "viewer"} {
		m, err := e.m.Get(e.ctx, *c, e.mission)
		require.NoError(t, err)
		assert.Equal(t, role, m.MyRole)
		page, err := e.m.List(e.ctx, *c, missions.ListParams{})
		require.NoError(t, err)
		require.Equal(t, 1, page.Total)
		assert.Equal(t, role, page.Items[0].MyRole)
	}
	// The auditor (mission.read_all) sees it without a role, and acts as a
	// lead only with a lead's permissions: it has none.
	m, err := e.m.Get(e.ctx, e.auditor, e.mission)
	require.NoError(t, err)
	assert.Equal(t, "", m.MyRole)
	role, err := e.m.TestAccess(e.ctx, e.auditor, e.mission, tt.ID)
	require.NoError(t, err)
	assert.Equal(t, missions.RoleLead, role)
	_, err = e.m.Update(e.ctx, e.auditor, e.mission, missions.MissionUpdate{Name: patch.Value("x")})
	ae := requireErr(t, err, apperr.ErrForbidden, "forbidden")
	assert.Equal(t, "mission.update", ae.Details["permission"])
	// A deleted mission is gone for everyone.
	require.NoError(t, e.m.Delete(e.ctx, e.lead, e.mission))
	_, err = e.m.Get(e.ctx, e.lead, e.mission)
	notFound(err)
	_, err = e.m.Get(e.ctx, e.auditor, e.mission)
	notFound(err)
}

// TestMissionRoles: members without the lead role or the permission get a
// 403 that names what is missing.
func TestMissionRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Red has mission.read but not mission.update.
	_, err := e.m.Update(e.ctx, e.red, e.mission, missions.MissionUpdate{Name: patch.Value("x")})
	ae := requireErr(t, err, apperr.ErrForbidden, "forbidden")
	assert.Equal(t, "mission.update", ae.Details["permission"])
	// A second lead-group user who is only a viewer here has the permission
	// but not the role.
	other := e.user("lead2@example.com", leadGroupOf(t, e))
	_, err = e.m.SetMember(e.ctx, e.lead, e.mission, other.UserID, missions.RoleViewer)
	require.NoError(t, err)
	_, err = e.m.Update(e.ctx, other, e.mission, missions.MissionUpdate{Name: patch.Value("x")})
	ae = requireErr(t, err, apperr.ErrForbidden, "role_required")
	assert.Equal(t, "viewer", ae.Details["role"])
	assert.Equal(t, []string{"lead"}, ae.Details["roles"])
	requireErr(t, e.m.Delete(e.ctx, other, e.mission), apperr.ErrForbidden, "role_required")
	_, err = e.m.SetMember(e.ctx, other, e.mission, e.outsider.UserID, missions.RoleRed)
	requireErr(t, err, apperr.ErrForbidden, "role_required")
	m, err := e.m.Get(e.ctx, e.lead, e.mission)
	require.NoError(t, err)
	assert.Equal(t, "Op Purple", m.Name)
}

// leadGroupOf finds the "Mission leads" group the env created.
func leadGroupOf(t *testing.T, e *env) string {
	t.Helper()
	var id string
	require.NoError(t, e.d.Read.Select("id").From("groups").Where(dbx.HashExp{"name": "Mission leads"}).Row(&id))
	return id
}

func TestMissionListFiltersAndOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.advance(time.Hour)
	_, err := e.m.Create(e.ctx, e.lead, missions.MissionInput{Name: "Zeta Ünïcode"})
	require.NoError(t, err)
	e.clock.advance(time.Hour)
	c, err := e.m.Create(e.ctx, e.lead, missions.MissionInput{Name: "Gamma"})
	require.NoError(t, err)
	_, err = e.m.Update(e.ctx, e.lead, c.ID, status("active"))
	require.NoError(t, err)

	names := func(p missions.ListParams) []string {
		t.Helper()
		page, err := e.m.List(e.ctx, e.lead, p)
		require.NoError(t, err)
		out := []string{}
		for _, m := range page.Items {
			out = append(out, m.Name)
		}
		assert.Equal(t, len(out), page.Total)
		return out
	}
	assert.Equal(t, []string{"Gamma", "Zeta Ünïcode", "Op Purple"}, names(missions.ListParams{}), "latest activity first")
	assert.Equal(t, []string{"Gamma"}, names(missions.ListParams{Status: "active"}))
	assert.Equal(t, []string{"Zeta Ünïcode"}, names(missions.ListParams{Q: "ÜNÏ"}), "case-insensitive beyond ASCII")
	assert.Equal(t, []string{}, names(missions.ListParams{Q: "%"}), "LIKE wildcards are literal")
	_, err = e.m.List(e.ctx, e.lead, missions.ListParams{Status: "paused"})
	requireErr(t, err, apperr.ErrBadRequest, "invalid_query")
	// Touching a mission's tests moves it up.
	e.clock.advance(time.Hour)
	e.addTest("Recent work")
	assert.Equal(t, []string{"Op Purple", "Gamma", "Zeta Ünïcode"}, names(missions.ListParams{}))
	// Others see only what they are members of.
	page, err := e.m.List(e.ctx, e.red, missions.ListParams{})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total)
	assert.Equal(t, e.mission, page.Items[0].ID)
	page, err = e.m.List(e.ctx, e.auditor, missions.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Total)
}

// TestMissionMembers: adding, changing and removing members, the last-lead
// rule, and validation.
func TestMissionMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ms, err := e.m.Members(e.ctx, e.viewer, e.mission)
	require.NoError(t, err)
	roles := map[string]string{}
	for _, m := range ms {
		roles[m.Email] = m.Role
	}
	assert.Equal(t, map[string]string{"lead@example.com": "lead", "red@example.com": "red", "blue@example.com": "blue",
		"viewer@example.com": "viewer"}, roles)
	assert.Equal(t, 1, e.count("notifications", dbx.HashExp{"user_id": e.red.UserID, "kind": "mission.member_added"}),
		"a new member is told")

	_, err = e.m.SetMember(e.ctx, e.lead, e.mission, e.outsider.UserID, "owner")
	requireInvalid(t, err, "role")
	_, err = e.m.SetMember(e.ctx, e.lead, e.mission, db.NewID(), missions.RoleRed)
	requireInvalid(t, err, "user_id")
	_, err = e.m.SetMember(e.ctx, e.lead, e.mission, "nope", missions.RoleRed)
	requireInvalid(t, err, "user_id")

	// The only lead can neither step down nor leave.
	_, err = e.m.SetMember(e.ctx, e.lead, e.mission, e.lead.UserID, missions.RoleRed)
	requireErr(t, err, apperr.ErrConflict, "last_lead")
	requireErr(t, e.m.RemoveMember(e.ctx, e.lead, e.mission, e.lead.UserID), apperr.ErrConflict, "last_lead")
	// With a second lead, they can.
	m, err := e.m.SetMember(e.ctx, e.lead, e.mission, e.red.UserID, missions.RoleLead)
	require.NoError(t, err)
	assert.Equal(t, "lead", m.Role)
	assert.Equal(t, 1, e.count("notifications", dbx.HashExp{"user_id": e.red.UserID, "kind": "mission.member_added"}),
		"a role change is no new membership")
	requireErr(t, e.m.RemoveMember(e.ctx, e.lead, e.mission, e.outsider.UserID), apperr.ErrNotFound, "not_found")
	require.NoError(t, e.m.RemoveMember(e.ctx, e.lead, e.mission, e.lead.UserID))
	_, err = e.m.Get(e.ctx, e.lead, e.mission)
	requireErr(t, err, apperr.ErrNotFound, "not_found")
	assert.Equal(t, 4, e.auditCount("mission.member_set"), "the env's three additions and one promotion")
	assert.Equal(t, 1, e.auditCount("mission.member_removed"))
}

// TestCategories: create, rename, clash, position, delete uncategorises.
func TestCategories(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	recon, err := e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr(" Recon "), Color: ptr("#7c3aed"), Position: ptr(2)})
	require.NoError(t, err)
	assert.Equal(t, "Recon", recon.Name)
	exec, err := e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr("Execution"), Position: ptr(1)})
	require.NoError(t, err)
	_, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr("RECON")})
	requireErr(t, err, apperr.ErrConflict, "name_taken")
	_, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, exec.ID, missions.CategoryInput{Name: ptr("recon")})
	requireErr(t, err, apperr.ErrConflict, "name_taken")
	_, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr(""), Color: ptr("purple"), Position: ptr(-1)})
	requireInvalid(t, err, "name", "color", "position")
	_, err = e.m.SaveCategory(e.ctx, e.red, e.mission, "", missions.CategoryInput{Name: ptr("Red's")})
	requireErr(t, err, apperr.ErrForbidden, "forbidden")
	_, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, db.NewID(), missions.CategoryInput{Name: ptr("x")})
	requireErr(t, err, apperr.ErrNotFound, "not_found")

	cats, err := e.m.Categories(e.ctx, e.viewer, e.mission)
	require.NoError(t, err)
	require.Len(t, cats, 2)
	assert.Equal(t, []string{"Execution", "Recon"}, []string{cats[0].Name, cats[1].Name}, "by position")
	// Moving Recon first (a partial update keeps the other fields).
	recon, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, recon.ID, missions.CategoryInput{Position: ptr(0)})
	require.NoError(t, err)
	assert.Equal(t, "#7c3aed", recon.Color)
	cats, err = e.m.Categories(e.ctx, e.viewer, e.mission)
	require.NoError(t, err)
	assert.Equal(t, []string{"Recon", "Execution"}, []string{cats[0].Name, cats[1].Name})

	// Tests in a deleted category become uncategorised.
	tt, err := e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{Name: "Nmap", CategoryID: &recon.ID})
	require.NoError(t, err)
	require.Equal(t, &recon.ID, tt.CategoryID)
	_, err = e.m.AddTest(e.ctx, e.lead, e.mission, missions.AddTestInput{Name: "Bad", CategoryID: ptr(db.NewID())})
	requireInvalid(t, err, "category_id")
	require.NoError(t, e.m.DeleteCategory(e.ctx, e.lead, e.mission, recon.ID))
	requireErr(t, e.m.DeleteCategory(e.ctx, e.lead, e.mission, recon.ID), apperr.ErrNotFound, "not_found")
	tt, err = e.m.GetTest(e.ctx, e.viewer, e.mission, tt.ID)
	require.NoError(t, err)
	assert.Nil(t, tt.CategoryID)
	// The name is free again.
	_, err = e.m.SaveCategory(e.ctx, e.lead, e.mission, "", missions.CategoryInput{Name: ptr("Recon")})
	require.NoError(t, err)
}
