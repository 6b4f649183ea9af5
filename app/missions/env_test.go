package missions_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is the services' clock in these tests: it stands still until a test
// moves it, so every time a test expects is derived from it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// dbTime is the clock's now plus d as the database keeps it.
func (c *clock) dbTime(d time.Duration) db.Time { return db.NewTime(c.now().Add(d)) }

// start is where the clock of every environment begins: a date unrelated to
// the wall clock (nothing compares it with time.Now).
var start = time.Date(2031, time.March, 4, 9, 0, 0, 0, time.UTC)

const password = "correct horse battery staple"

// Seeded groups.
const (
	groupRed     = "00000000-0000-7000-8000-000000000002"
	groupBlue    = "00000000-0000-7000-8000-000000000003"
	groupViewers = "00000000-0000-7000-8000-000000000004"
)

// env is the whole service set on a fresh database (SQLite, or PostgreSQL
// under -tags postgres with PURPLEBOOK_TEST_PG_DSN), the small ATT&CK
// catalogue, and real users whose permissions come from their groups:
//
//   - lead: the "Mission leads" group (create, update, delete, members,
//     execute, assess) and the creator of the mission;
//   - red, blue, viewer: the seeded groups, members with those roles;
//   - outsider: Red team, not a member;
//   - auditor: mission.read and mission.read_all, not a member.
type env struct {
	t        *testing.T
	ctx      context.Context
	d        *db.DB
	set      *services.Set
	m        *missions.Service
	clock    *clock
	admin    *auth.Principal
	lead     missions.Caller
	red      missions.Caller
	blue     missions.Caller
	viewer   missions.Caller
	outsider missions.Caller
	auditor  missions.Caller
	mission  string // "Op Purple", planned, with lead, red, blue and viewer as members
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvAt(t, start)
}

func newEnvAt(t *testing.T, at time.Time) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), d: dbtest.New(t), clock: &clock{t: at}}
	set, err := services.New(services.Options{DB: e.d, DataDir: t.TempDir(), Key: []byte(strings.Repeat("k", 32)),
		Now: e.clock.now, Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	e.set, e.m = set, set.Missions

	_, err = set.Auth.CreateAdmin(e.ctx, "admin@example.com", "Admin", password)
	require.NoError(t, err)
	e.admin = e.principal("admin@example.com")
	leads, err := set.Auth.CreateGroup(e.ctx, e.admin, auth.CreateGroupParams{Name: "Mission leads", Permissions: []string{
		"mission.read", "mission.create", "mission.update", "mission.delete", "mission.manage_members",
		"mission_test.execute", "mission_test.assess"}}, auth.Meta{})
	require.NoError(t, err)
	auditors, err := set.Auth.CreateGroup(e.ctx, e.admin, auth.CreateGroupParams{Name: "Auditors",
		Permissions: []string{"mission.read", "mission.read_all"}}, auth.Meta{})
	require.NoError(t, err)

	e.lead = e.user("lead@example.com", leads.ID)
	e.red = e.user("red@example.com", groupRed)
	e.blue = e.user("blue@example.com", groupBlue)
	e.viewer = e.user("viewer@example.com", groupViewers)
	e.outsider = e.user("outsider@example.com", groupRed)
	e.auditor = e.user("auditor@example.com", auditors.ID)

	e.syncCatalogue(nil)
	m, err := e.m.Create(e.ctx, e.lead, missions.MissionInput{Name: "Op Purple"})
	require.NoError(t, err)
	e.mission = m.ID
	for c, role := range map[*missions.Caller]string{&e.red: missions.RoleRed, &e.blue: missions.RoleBlue, &e.viewer: missions.RoleViewer} {
		_, err := e.m.SetMember(e.ctx, e.lead, e.mission, c.UserID, role)
		require.NoError(t, err)
	}
	return e
}

// principal logs in and authenticates like a request would.
func (e *env) principal(email string) *auth.Principal {
	e.t.Helper()
	res, err := e.set.Auth.Login(e.ctx, email, password, auth.Meta{})
	require.NoError(e.t, err)
	require.NotNil(e.t, res.Session, "no MFA in these tests")
	p, err := e.set.Auth.Authenticate(e.ctx, res.AccessToken)
	require.NoError(e.t, err)
	return p
}

// user creates an account in the given groups and returns it as a caller.
func (e *env) user(email string, groups ...string) missions.Caller {
	e.t.Helper()
	_, err := e.set.Auth.CreateUser(e.ctx, e.admin, auth.CreateUserParams{Email: email, Name: strings.Split(email, "@")[0],
		Password: password, GroupIDs: groups}, auth.Meta{})
	require.NoError(e.t, err)
	p := e.principal(email)
	return missions.Caller{UserID: p.UserID, Can: p.Can, Actor: p.Actor(auth.Meta{})}
}

func attackFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "testdata", "attack", name)
	_, err := os.Stat(p)
	require.NoError(t, err, "test data")
	return p
}

// syncCatalogue imports the small Enterprise bundle, after edit (when not
// nil) has changed its objects.
func (e *env) syncCatalogue(edit func(objs []any) []any) {
	e.t.Helper()
	raw, err := os.ReadFile(attackFile(e.t, "enterprise-attack-small.json"))
	require.NoError(e.t, err)
	if edit != nil {
		var b map[string]any
		require.NoError(e.t, json.Unmarshal(raw, &b))
		b["objects"] = edit(b["objects"].([]any))
		raw, err = json.Marshal(b)
		require.NoError(e.t, err)
	}
	_, err = e.set.Mitre.Sync(e.ctx, mitre.SyncParams{Upload: strings.NewReader(string(raw)), Source: "small.json",
		AllowUnverified: true}, audit.Actor{Label: "test"})
	require.NoError(e.t, err)
}

// template creates a test template tagged with the given ATT&CK ids.
func (e *env) template(name string, tags ...string) string {
	e.t.Helper()
	in := templates.Input{Name: name, Command: "whoami /" + strings.ToLower(name), Executor: "powershell", Platforms: []string{"windows"}}
	for _, tag := range tags {
		in.MitreTags = append(in.MitreTags, templates.TagRef{ExternalID: tag})
	}
	tpl, err := e.set.Templates.Create(e.ctx, audit.Actor{Label: "test"}, in)
	require.NoError(e.t, err)
	return tpl.ID
}

// addTest adds an ad-hoc test to the env's mission as its lead.
func (e *env) addTest(name string, tags ...string) missions.Test {
	e.t.Helper()
	in := missions.AddTestInput{Name: name}
	for _, tag := range tags {
		in.MitreTags = append(in.MitreTags, templates.TagRef{ExternalID: tag})
	}
	tt, err := e.m.AddTest(e.ctx, e.lead, e.mission, in)
	require.NoError(e.t, err)
	return tt
}

// count counts rows of table matching where.
func (e *env) count(table string, where dbx.HashExp) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.d.Read.Select("COUNT(*)").From(table).Where(where).Row(&n))
	return n
}

// requireErr checks err's kind and, for apperr.Error, its code.
func requireErr(t *testing.T, err error, kind error, code string) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind, "%v", err)
	if code == "" {
		return nil
	}
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%T %v", err, err)
	assert.Equal(t, code, ae.Code, ae.Message)
	return ae
}

// requireInvalid checks err is a validation error naming each field.
func requireInvalid(t *testing.T, err error, fields ...string) *apperr.Invalid {
	t.Helper()
	require.Error(t, err)
	var inv *apperr.Invalid
	require.True(t, errors.As(err, &inv), "%T %v", err, err)
	for _, f := range fields {
		assert.Contains(t, inv.Fields, f, "%v", inv.Fields)
	}
	return inv
}

// auditCount counts audit events with this action.
func (e *env) auditCount(action string) int {
	return e.count("audit_events", dbx.HashExp{"action": action})
}
