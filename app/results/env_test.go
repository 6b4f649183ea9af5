package results_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/require"
)

// clock is the services' clock: it starts at the wall clock's now and only
// moves when a test moves it, so every time a test writes or expects is
// taken from it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

type env struct {
	t     *testing.T
	ctx   context.Context
	db    *db.DB
	set   *services.Set
	clock *clock
	lead  missions.Caller
}

func testdata(name string) string {
	return filepath.Join("..", "..", "..", "shared", "testdata", "attack", name)
}

// newEnv is an instance with the real ATT&CK catalogue (the core of the
// v18.1 enterprise bundle: 14 tactics, every technique and sub-technique,
// revoked ones included) and a lead holding every permission.
func newEnv(t *testing.T) *env {
	return newEnvWith(t, "enterprise-attack-core.json.gz")
}

func newEnvWith(t *testing.T, bundle string) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), db: dbtest.New(t), clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	set, err := services.New(services.Options{DB: e.db, DataDir: t.TempDir(), Key: []byte(strings.Repeat("k", 32)), Now: e.clock.Now,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	e.set = set
	if bundle != "" {
		e.sync(bundle)
	}
	id, err := set.Auth.CreateUser(e.ctx, nil, auth.CreateUserParams{Email: "lead@example.com", Name: "Lena Lead",
		Password: "a long enough password 1", GroupIDs: []string{auth.AdminsGroupID}}, auth.Meta{})
	require.NoError(t, err)
	e.lead = missions.Caller{UserID: id, Can: func(string) bool { return true }, Actor: audit.Actor{UserID: id, Label: "lead@example.com"}}
	return e
}

func (e *env) sync(bundle string) {
	e.t.Helper()
	f, err := os.Open(testdata(bundle))
	require.NoError(e.t, err)
	defer f.Close()
	_, err = e.set.Mitre.Sync(e.ctx, mitre.SyncParams{Upload: f, AllowUnverified: true, Version: "18.1"}, audit.Actor{Label: "test"})
	require.NoError(e.t, err)
}

// user creates an account in the given groups and returns a caller for it.
func (e *env) user(email string, perms ...string) missions.Caller {
	e.t.Helper()
	id, err := e.set.Auth.CreateUser(e.ctx, nil, auth.CreateUserParams{Email: email, Name: strings.Split(email, "@")[0],
		Password: "a long enough password 1", GroupIDs: []string{}}, auth.Meta{})
	require.NoError(e.t, err)
	has := map[string]bool{}
	for _, p := range perms {
		has[p] = true
	}
	return missions.Caller{UserID: id, Can: func(p string) bool { return has[p] }, Actor: audit.Actor{UserID: id, Label: email}}
}

func (e *env) mission(name string, startsOn string) string {
	e.t.Helper()
	in := missions.MissionInput{Name: name}
	if startsOn != "" {
		in.StartsOn = &startsOn
	}
	m, err := e.set.Missions.Create(e.ctx, e.lead, in)
	require.NoError(e.t, err)
	return m.ID
}

func (e *env) setStatus(missionID, status string) {
	e.t.Helper()
	_, err := e.set.Missions.Update(e.ctx, e.lead, missionID, missions.MissionUpdate{Status: patch.Value(status)})
	require.NoError(e.t, err)
}

func (e *env) member(missionID string, c missions.Caller, role string) {
	e.t.Helper()
	_, err := e.set.Missions.SetMember(e.ctx, e.lead, missionID, c.UserID, role)
	require.NoError(e.t, err)
}

// addTest adds an ad-hoc test tagged with the given ATT&CK ids.
func (e *env) addTest(missionID, name string, tags ...string) string {
	e.t.Helper()
	refs := make([]templates.TagRef, len(tags))
	for i, id := range tags {
		refs[i] = templates.TagRef{ExternalID: id}
	}
	tt, err := e.set.Missions.AddTest(e.ctx, e.lead, missionID, missions.AddTestInput{Name: name, MitreTags: refs, Command: "whoami /all"})
	require.NoError(e.t, err)
	return tt.ID
}

func (e *env) patch(missionID, testID string, p missions.TestPatch) missions.Test {
	e.t.Helper()
	tt, err := e.set.Missions.PatchTest(e.ctx, e.lead, missionID, testID, p)
	require.NoError(e.t, err)
	return tt
}

// execute marks a test executed with the given start time.
func (e *env) execute(missionID, testID string, started time.Time) {
	e.t.Helper()
	e.patch(missionID, testID, missions.TestPatch{StartedAt: patch.Value(db.NewTime(started)), State: patch.Value("executed"),
		Operator: patch.Value("Rita"), Output: patch.Value("ok")})
}

// ctl is one control's outcome for assess.
type ctl struct {
	control, level             string
	expected                   bool
	logged, alerted, prevented *time.Time
}

func (e *env) assess(missionID, testID string, cs ...ctl) {
	e.t.Helper()
	ins := make([]missions.OutcomeInput, len(cs))
	for i, c := range cs {
		in := missions.OutcomeInput{Control: c.control, Expected: c.expected, DetectionLevel: patch.Value(c.level), AlertName: "rule " + c.level}
		conv := func(t *time.Time) *db.Time {
			if t == nil {
				return nil
			}
			v := db.NewTime(*t)
			return &v
		}
		in.LoggedAt, in.AlertedAt, in.PreventedAt = conv(c.logged), conv(c.alerted), conv(c.prevented)
		ins[i] = in
	}
	e.patch(missionID, testID, missions.TestPatch{Outcomes: patch.Value(ins), BlueNotes: patch.Value("seen")})
}

func at(t time.Time) *time.Time { return &t }
