package levels_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/services"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock stands still until a test moves it.
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

var actor = audit.Actor{Label: "test"}

var seeded = []string{"blocked", "alerted", "logged", "none", "not_applicable", "tbd"}

type env struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	clock *clock
	set   *services.Set
	l     *levels.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), d: dbtest.New(t),
		clock: &clock{t: time.Date(2029, time.November, 12, 8, 30, 0, 0, time.UTC)}}
	set, err := services.New(services.Options{DB: e.d, DataDir: t.TempDir(), Key: []byte(strings.Repeat("k", 32)),
		Now: e.clock.now, Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	e.set, e.l = set, set.Levels
	return e
}

// keys lists the levels best first and checks the ranks are 1..n.
func (e *env) keys() []string {
	e.t.Helper()
	ls, err := e.l.List(e.ctx)
	require.NoError(e.t, err)
	out := []string{}
	for i, l := range ls {
		require.Equal(e.t, i+1, l.Rank, "ranks are contiguous: %v", ls)
		out = append(out, l.Key)
	}
	return out
}

func (e *env) level(key string) levels.Level {
	e.t.Helper()
	ls, err := e.l.List(e.ctx)
	require.NoError(e.t, err)
	for _, l := range ls {
		if l.Key == key {
			return l
		}
	}
	e.t.Fatalf("no level %q", key)
	return levels.Level{}
}

func (e *env) auditCount(action string) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.d.Read.Select("COUNT(*)").From("audit_events").Where(dbx.HashExp{"action": action}).Row(&n))
	return n
}

func requireCode(t *testing.T, err error, kind error, code string) *apperr.Error {
	t.Helper()
	require.ErrorIs(t, err, kind, "%v", err)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%T %v", err, err)
	assert.Equal(t, code, ae.Code, ae.Message)
	return ae
}

func requireInvalid(t *testing.T, err error, fields ...string) map[string]string {
	t.Helper()
	var inv *apperr.Invalid
	require.True(t, errors.As(err, &inv), "%T %v", err, err)
	for _, f := range fields {
		assert.Contains(t, inv.Fields, f)
	}
	return inv.Fields
}

func rank(n int) *int { return &n }

func TestCreatePlacesAndValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	assert.Equal(t, seeded, e.keys())

	last, err := e.l.Create(e.ctx, actor, levels.CreateParams{Key: "found_by_ir", Name: " Found by IR ", Color: "#abcdef"})
	require.NoError(t, err)
	assert.Equal(t, "Found by IR", last.Name)
	assert.Equal(t, 7, last.Rank, "no rank: last")
	assert.Equal(t, "#ABCDEF", last.Color)
	assert.False(t, last.IsSystem)
	assert.Equal(t, db.NewTime(e.clock.now()), last.CreatedAt)
	first, err := e.l.Create(e.ctx, actor, levels.CreateParams{Key: "contained", Name: "Contained", Color: "#000000", Rank: rank(1),
		CountsAsDetected: true})
	require.NoError(t, err)
	assert.Equal(t, 1, first.Rank)
	mid, err := e.l.Create(e.ctx, actor, levels.CreateParams{Key: "hunted", Name: "Hunted", Color: "#111111", Rank: rank(4)})
	require.NoError(t, err)
	assert.Equal(t, 4, mid.Rank)
	assert.Equal(t, []string{"contained", "blocked", "alerted", "hunted", "logged", "none", "not_applicable", "tbd", "found_by_ir"}, e.keys())
	// Rank n+1 is the end; beyond is refused.
	_, err = e.l.Create(e.ctx, actor, levels.CreateParams{Key: "x_end", Name: "End", Color: "#222222", Rank: rank(10)})
	require.NoError(t, err)
	_, err = e.l.Create(e.ctx, actor, levels.CreateParams{Key: "x_far", Name: "Far", Color: "#222222", Rank: rank(12)})
	requireInvalid(t, err, "rank")
	assert.Equal(t, 4, e.auditCount("detection_level.create"))

	for _, c := range []struct {
		in     levels.CreateParams
		fields []string
	}{
		{levels.CreateParams{Key: "", Name: "", Color: ""}, []string{"key", "name", "color"}},
		{levels.CreateParams{Key: "Found", Name: "x", Color: "#12345"}, []string{"key", "color"}},
		{levels.CreateParams{Key: "9lives", Name: "x", Color: "#123456"}, []string{"key"}},
		{levels.CreateParams{Key: "a__b", Name: "x", Color: "#123456"}, []string{"key"}},
		{levels.CreateParams{Key: strings.Repeat("k", levels.MaxKeyLen+1), Name: "x", Color: "#123456"}, []string{"key"}},
		{levels.CreateParams{Key: db.NewID(), Name: "x", Color: "#123456"}, []string{"key"}},
		{levels.CreateParams{Key: "ok", Name: strings.Repeat("n", levels.MaxNameLen+1), Color: "#123456"}, []string{"name"}},
		{levels.CreateParams{Key: "ok", Name: "tab\there", Color: "#123456"}, []string{"name"}},
		{levels.CreateParams{Key: "ok", Name: "x", Color: "#123456", Description: strings.Repeat("d", levels.MaxDescriptionLen+1)}, []string{"description"}},
		{levels.CreateParams{Key: "ok", Name: "x", Color: "#123456", Rank: rank(0)}, []string{"rank"}},
	} {
		_, err := e.l.Create(e.ctx, actor, c.in)
		requireInvalid(t, err, c.fields...)
	}
	// Key and name are unique (the name case-insensitively).
	_, err = e.l.Create(e.ctx, actor, levels.CreateParams{Key: "alerted", Name: "Other", Color: "#123456"})
	ae := requireCode(t, err, apperr.ErrConflict, "level_key_taken")
	assert.Equal(t, e.level("alerted").ID, ae.Details["id"])
	_, err = e.l.Create(e.ctx, actor, levels.CreateParams{Key: "other", Name: "ALERTED", Color: "#123456"})
	requireCode(t, err, apperr.ErrConflict, "level_name_taken")
	assert.Len(t, e.keys(), 10)
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	custom, err := e.l.Create(e.ctx, actor, levels.CreateParams{Key: "found_by_ir", Name: "Found by IR", Description: "IR found it",
		Color: "#123456"})
	require.NoError(t, err)
	e.clock.advance(time.Hour)

	// System levels: everything but the key may change.
	alerted := e.level("alerted")
	up, err := e.l.Update(e.ctx, actor, alerted.ID, levels.UpdateParams{Name: patch.Value("Alert raised"), Color: patch.Value("#00ff00"),
		Description: patch.Null[string]()})
	require.NoError(t, err)
	assert.Equal(t, "Alert raised", up.Name)
	assert.Equal(t, "#00FF00", up.Color)
	assert.Equal(t, "", up.Description, "null clears the description")
	assert.Equal(t, "alerted", up.Key)
	assert.Equal(t, db.NewTime(e.clock.now()), up.UpdatedAt)
	_, err = e.l.Update(e.ctx, actor, alerted.ID, levels.UpdateParams{Key: patch.Value("raised")})
	requireCode(t, err, apperr.ErrConflict, "system_level_key")
	// Custom levels may change their key too.
	up, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Key: patch.Value("found_by_soc")})
	require.NoError(t, err)
	assert.Equal(t, "found_by_soc", up.Key)
	assert.Equal(t, "IR found it", up.Description, "absent fields stay")

	// Nulls where a value is required, bad values, clashes, unknown ids.
	_, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Key: patch.Null[string](), Name: patch.Null[string](),
		Rank: patch.Null[int](), Color: patch.Null[string](), CountsAsDetected: patch.Null[bool]()})
	fields := requireInvalid(t, err, "key", "name", "rank", "color", "counts_as_detected")
	assert.Equal(t, "cannot be null", fields["rank"])
	_, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Rank: patch.Value(8)})
	requireInvalid(t, err, "rank")
	_, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Name: patch.Value("alert RAISED")})
	requireCode(t, err, apperr.ErrConflict, "level_name_taken")
	_, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Key: patch.Value("logged")})
	requireCode(t, err, apperr.ErrConflict, "level_key_taken")
	_, err = e.l.Update(e.ctx, actor, db.NewID(), levels.UpdateParams{Name: patch.Value("x")})
	requireCode(t, err, apperr.ErrNotFound, "not_found")
	_, err = e.l.Update(e.ctx, actor, "blocked", levels.UpdateParams{Name: patch.Value("x")})
	requireCode(t, err, apperr.ErrNotFound, "not_found")

	// A rank change moves it; the others close up.
	up, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Rank: patch.Value(2)})
	require.NoError(t, err)
	assert.Equal(t, 2, up.Rank)
	assert.Equal(t, []string{"blocked", "found_by_soc", "alerted", "logged", "none", "not_applicable", "tbd"}, e.keys())
	// Renaming to the same name (another case) is no clash with itself; a
	// no-op update is not audited.
	_, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Name: patch.Value("FOUND BY IR")})
	require.NoError(t, err)
	n := e.auditCount("detection_level.update")
	_, err = e.l.Update(e.ctx, actor, custom.ID, levels.UpdateParams{Name: patch.Value("FOUND BY IR"), Rank: patch.Value(2)})
	require.NoError(t, err)
	assert.Equal(t, n, e.auditCount("detection_level.update"), "nothing changed, nothing audited")
	assert.Equal(t, 4, n, "system level, key, rank, name")
}

func TestReorder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ls, err := e.l.List(e.ctx)
	require.NoError(t, err)
	id := map[string]string{}
	for _, l := range ls {
		id[l.Key] = l.ID
	}
	order := func(keys ...string) []string {
		out := []string{}
		for _, k := range keys {
			if v, ok := id[k]; ok {
				out = append(out, v)
			} else {
				out = append(out, k)
			}
		}
		return out
	}
	for _, c := range []struct {
		order   []string
		problem string
	}{
		{nil, "is required"},
		{order("blocked", "alerted", "logged", "none", "not_applicable"), "must list every level; missing: tbd"},
		{order("blocked", "alerted", "logged", "none", "not_applicable", "tbd", "tbd"), "must not list ids more than once"},
		{order("blocked", "alerted", "logged", "none", "not_applicable", "tbd", "ghost"), "must not hold unknown ids: ghost"},
	} {
		_, err := e.l.Reorder(e.ctx, actor, c.order)
		fields := requireInvalid(t, err, "ids")
		assert.Contains(t, fields["ids"], c.problem)
	}
	assert.Equal(t, seeded, e.keys(), "refused orders change nothing")

	// The same order: nothing moves, nothing is audited.
	_, err = e.l.Reorder(e.ctx, actor, order(seeded...))
	require.NoError(t, err)
	assert.Zero(t, e.auditCount("detection_level.reorder"))

	got, err := e.l.Reorder(e.ctx, actor, order("alerted", "blocked", "logged", "none", "tbd", "not_applicable"))
	require.NoError(t, err)
	assert.Equal(t, []string{"alerted", "blocked", "logged", "none", "tbd", "not_applicable"}, e.keys())
	require.Len(t, got, 6)
	assert.Equal(t, "alerted", got[0].Key)
	assert.Equal(t, 1, e.auditCount("detection_level.reorder"))
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.l.Create(e.ctx, actor, levels.CreateParams{Key: "hunted", Name: "Hunted", Color: "#111111", Rank: rank(2)})
	require.NoError(t, err)
	requireCode(t, e.l.Delete(e.ctx, actor, e.level("logged").ID), apperr.ErrConflict, "system_level")
	requireCode(t, e.l.Delete(e.ctx, actor, db.NewID()), apperr.ErrNotFound, "not_found")
	requireCode(t, e.l.Delete(e.ctx, actor, "hunted"), apperr.ErrNotFound, "not_found")
	require.NoError(t, e.l.Delete(e.ctx, actor, e.level("hunted").ID))
	assert.Equal(t, seeded, e.keys(), "the others close up")
	assert.Equal(t, 1, e.auditCount("detection_level.delete"))
}

// outcomeEnv adds a mission with one executed test and a blue member, so
// outcomes can be recorded through the missions service.
type outcomeEnv struct {
	*env
	blue    missions.Caller
	mission string
	test    string
}

func newOutcomeEnv(t *testing.T) *outcomeEnv {
	t.Helper()
	e := &outcomeEnv{env: newEnv(t)}
	ctx := e.ctx
	const password = "correct horse battery staple"
	_, err := e.set.Auth.CreateAdmin(ctx, "admin@example.com", "Admin", password)
	require.NoError(t, err)
	res, err := e.set.Auth.Login(ctx, "admin@example.com", password, auth.Meta{})
	require.NoError(t, err)
	p, err := e.set.Auth.Authenticate(ctx, res.AccessToken)
	require.NoError(t, err)
	admin := missions.Caller{UserID: p.UserID, Can: p.Can, Actor: p.Actor(auth.Meta{})}
	m, err := e.set.Missions.Create(ctx, admin, missions.MissionInput{Name: "Op Levels"})
	require.NoError(t, err)
	e.mission, e.blue = m.ID, admin // the admin leads, so may assess
	tt, err := e.set.Missions.AddTest(ctx, admin, m.ID, missions.AddTestInput{Name: "Dump credentials"})
	require.NoError(t, err)
	e.test = tt.ID
	e.patch(`{"state":"in_progress"}`)
	e.clock.advance(10 * time.Minute)
	e.patch(`{"state":"executed"}`)
	return e
}

func (e *outcomeEnv) patch(body string) missions.Test {
	e.t.Helper()
	var p missions.TestPatch
	require.NoError(e.t, json.Unmarshal([]byte(body), &p))
	tt, err := e.set.Missions.PatchTest(e.ctx, e.blue, e.mission, e.test, p)
	require.NoError(e.t, err, body)
	return tt
}

func (e *outcomeEnv) get() missions.Test {
	e.t.Helper()
	tt, err := e.set.Missions.GetTest(e.ctx, e.blue, e.mission, e.test)
	require.NoError(e.t, err)
	return tt
}

// at is the clock's now plus d, as JSON.
func (e *outcomeEnv) at(d time.Duration) string {
	return `"` + db.NewTime(e.clock.now().Add(d)).String() + `"`
}

// TestOutcomeCacheFollowsTheVocabulary: a test's cached outcome and
// detection time are re-derived when the rank order or counts_as_detected
// change, without touching the test's version or updated_at; a level in
// use cannot be deleted.
func TestOutcomeCacheFollowsTheVocabulary(t *testing.T) {
	t.Parallel()
	e := newOutcomeEnv(t)
	other, err := e.set.Missions.AddTest(e.ctx, e.blue, e.mission, missions.AddTestInput{Name: "No outcomes"})
	require.NoError(t, err)
	e.clock.advance(time.Hour)
	logAt, alertAt := e.clock.now().Add(-50*time.Minute), e.clock.now().Add(-40*time.Minute)
	tt := e.patch(fmt.Sprintf(`{"outcomes":[{"control":"EDR","detection_level":"alerted","alerted_at":%s},
		{"control":"SIEM","detection_level":"logged","logged_at":%s}]}`, e.at(-40*time.Minute), e.at(-50*time.Minute)))
	require.Equal(t, "alerted", tt.Outcome.Key)
	require.Equal(t, logAt, tt.DetectedAt.Time)
	version, updated := tt.Version, tt.UpdatedAt
	e.clock.advance(time.Hour)

	check := func(outcome string, detected *time.Time, rederived int, action string) {
		t.Helper()
		defer e.clock.advance(time.Second) // the next change's audit row sorts after this one's
		got := e.get()
		require.NotNil(t, got.Outcome)
		assert.Equal(t, outcome, got.Outcome.Key)
		if detected == nil {
			assert.Nil(t, got.DetectedAt)
		} else if assert.NotNil(t, got.DetectedAt) {
			assert.Equal(t, *detected, got.DetectedAt.Time)
		}
		assert.Equal(t, version, got.Version, "the test was not edited")
		assert.Equal(t, updated, got.UpdatedAt)
		var raw string
		require.NoError(t, e.d.Read.Select("details").From("audit_events").Where(dbx.HashExp{"action": action}).
			OrderBy("at DESC").Limit(1).Row(&raw))
		var details map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &details))
		if rederived > 0 {
			assert.EqualValues(t, rederived, details["tests_rederived"], raw)
		} else {
			assert.NotContains(t, details, "tests_rederived")
		}
		m, err := e.set.Missions.Get(e.ctx, e.blue, e.mission)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{outcome: 1}, m.Progress.Outcomes)
	}

	// Logged moves above alerted: the outcome follows.
	_, err = e.l.Update(e.ctx, actor, e.level("logged").ID, levels.UpdateParams{Rank: patch.Value(1)})
	require.NoError(t, err)
	check("logged", &logAt, 1, "detection_level.update")
	// A reorder that puts alerted first again.
	ls, err := e.l.List(e.ctx)
	require.NoError(t, err)
	order := []string{e.level("alerted").ID}
	for _, l := range ls {
		if l.Key != "alerted" {
			order = append(order, l.ID)
		}
	}
	_, err = e.l.Reorder(e.ctx, actor, order)
	require.NoError(t, err)
	check("alerted", &logAt, 1, "detection_level.reorder")
	// Logs no longer count as detection: the first detection is the alert.
	_, err = e.l.Update(e.ctx, actor, e.level("logged").ID, levels.UpdateParams{CountsAsDetected: patch.Value(false)})
	require.NoError(t, err)
	check("alerted", &alertAt, 1, "detection_level.update")
	// A change that affects no test re-derives nothing.
	_, err = e.l.Update(e.ctx, actor, e.level("tbd").ID, levels.UpdateParams{CountsAsDetected: patch.Value(true)})
	require.NoError(t, err)
	check("alerted", &alertAt, 0, "detection_level.update")
	// Neither counts: no detection time.
	_, err = e.l.Update(e.ctx, actor, e.level("alerted").ID, levels.UpdateParams{CountsAsDetected: patch.Value(false)})
	require.NoError(t, err)
	check("alerted", nil, 1, "detection_level.update")
	// The test without outcomes was never touched.
	o, err := e.set.Missions.GetTest(e.ctx, e.blue, e.mission, other.ID)
	require.NoError(t, err)
	assert.Nil(t, o.Outcome)
	assert.Equal(t, other.Version, o.Version)

	// In use: cannot be deleted, even a custom level.
	custom, err := e.l.Create(e.ctx, actor, levels.CreateParams{Key: "hunted", Name: "Hunted", Color: "#111111"})
	require.NoError(t, err)
	e.patch(`{"outcomes":[{"control":"AV","detection_level":"hunted"}]}`)
	l, err := e.l.Get(e.ctx, custom.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, l.InUse)
	ae := requireCode(t, e.l.Delete(e.ctx, actor, custom.ID), apperr.ErrConflict, "level_in_use")
	assert.Equal(t, 1, ae.Details["in_use"])
	assert.Equal(t, 1, e.level("alerted").InUse)
}
