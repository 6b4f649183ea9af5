package missionbundle_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cheapArgon = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// instance is one Purplebook: its own database (the backend dbtest picks),
// data dir, service set and staging area, and its administrator.
type instance struct {
	t       *testing.T
	name    string
	set     *services.Set
	imports *bundle.Imports
	admin   missions.Caller
	dir     string
	clock   *clock
}

// clock is shared by the two instances of a test: it starts at the wall
// clock (or at a chosen time) and moves on with real time.
type clock struct {
	origin, start time.Time
	offset        time.Duration
}

func (c *clock) now() time.Time { return c.start.Add(time.Since(c.origin) + c.offset) }

func newClock(start time.Time) *clock {
	if start.IsZero() {
		start = time.Now()
	}
	return &clock{origin: time.Now(), start: start}
}

func newInstance(t *testing.T, name string, c *clock) *instance {
	return newInstanceWith(t, name, c, nil)
}

func newInstanceWith(t *testing.T, name string, c *clock, beforeCommit func(context.Context) error) *instance {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	dir := t.TempDir()
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("k", 32)), Now: c.now, Argon2: cheapArgon,
		BeforeBundleCommit: beforeCommit})
	require.NoError(t, err)
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := set.Identity.Rename(ctx, tx, name, db.NewTime(c.now()))
		return err
	}))
	id, err := set.Auth.CreateUser(ctx, nil, auth.CreateUserParams{Email: "lead@example.com", Name: "Lena Lead",
		Password: "a long enough password 1", GroupIDs: []string{auth.AdminsGroupID}}, auth.Meta{})
	require.NoError(t, err)
	im, err := bundle.NewImports(ctx, bundle.ImportsOptions{Root: filepath.Join(dir, "bundles", "staging"), Now: c.now,
		Recover: set.Evidence.DropUnreferenced})
	require.NoError(t, err)
	t.Cleanup(im.Close)
	return &instance{t: t, name: name, set: set, imports: im, dir: dir, clock: c,
		admin: missions.Caller{UserID: id, Can: func(string) bool { return true }, Actor: audit.Actor{UserID: id, Label: "lead@example.com"}}}
}

// export writes a bundle of a mission to a file and returns its path.
func (in *instance) export(missionID string, opts missionbundle.ExportOptions) string {
	in.t.Helper()
	ctx := context.Background()
	x, err := in.set.Bundles.Prepare(ctx, in.admin, missionID, opts)
	require.NoError(in.t, err)
	p := filepath.Join(in.t.TempDir(), x.Filename)
	f, err := os.Create(p)
	require.NoError(in.t, err)
	require.NoError(in.t, x.WriteTo(ctx, f, nil))
	require.NoError(in.t, f.Close())
	return p
}

// importFile runs the dry run and the apply, and returns both reports.
func (in *instance) importFile(path string, params missionbundle.ApplyParams) (*missionbundle.Report, *missionbundle.Report) {
	in.t.Helper()
	ctx := context.Background()
	imp, err := in.imports.OpenFile(ctx, in.admin.UserID, path)
	require.NoError(in.t, err)
	defer in.imports.Discard(imp)
	dry, err := in.set.Bundles.Plan(ctx, in.admin, imp, params.Users, nil)
	require.NoError(in.t, err)
	params.AcceptUntrusted = true
	done, err := in.set.Bundles.Apply(ctx, in.admin, imp, params)
	require.NoError(in.t, err)
	return dry, done
}

func (in *instance) patch(missionID, testID, body string) missions.Test {
	in.t.Helper()
	var p missions.TestPatch
	require.NoError(in.t, json.Unmarshal([]byte(body), &p))
	tt, err := in.set.Missions.PatchTest(context.Background(), in.admin, missionID, testID, p)
	require.NoError(in.t, err, body)
	return tt
}

func (in *instance) test(missionID, testID string) missions.Test {
	in.t.Helper()
	tt, err := in.set.Missions.GetTest(context.Background(), in.admin, missionID, testID)
	require.NoError(in.t, err)
	return tt
}

// seed makes an engagement: two categories, three tests (one with red and
// blue work, per-control outcomes, tags and evidence), a second member.
func (in *instance) seed() (missionID string, testIDs []string, blobs map[string][]byte) {
	in.t.Helper()
	ctx := context.Background()
	s := in.set
	m, err := s.Missions.Create(ctx, in.admin, missions.MissionInput{Name: "Operation Nightjar", Description: "Q3 purple team"})
	require.NoError(in.t, err)
	red, err := s.Auth.CreateUser(ctx, nil, auth.CreateUserParams{Email: "rita.red@example.com", Name: "Rita Red",
		Password: "a long enough password 1", GroupIDs: []string{"00000000-0000-7000-8000-000000000002"}}, auth.Meta{})
	require.NoError(in.t, err)
	_, err = s.Missions.SetMember(ctx, in.admin, m.ID, red, missions.RoleRed)
	require.NoError(in.t, err)
	name := "Initial access"
	cat, err := s.Missions.SaveCategory(ctx, in.admin, m.ID, "", missions.CategoryInput{Name: &name})
	require.NoError(in.t, err)
	name2 := "Lateral movement"
	_, err = s.Missions.SaveCategory(ctx, in.admin, m.ID, "", missions.CategoryInput{Name: &name2})
	require.NoError(in.t, err)
	for i, n := range []string{"Phishing macro", "Pass the hash", "Kerberoasting"} {
		tt, err := s.Missions.AddTest(ctx, in.admin, m.ID, missions.AddTestInput{Name: n, Description: "step " + n,
			Command: "Invoke-Thing -N " + n, Platforms: []string{"windows"}, OpsecLevel: "medium", CategoryID: &cat.ID})
		require.NoError(in.t, err)
		testIDs = append(testIDs, tt.ID)
		_ = i
	}
	// Denormalised ATT&CK tags (as a catalogue copy would make them).
	_, err = s.DB.Write.Insert("mission_test_mitre_tags", map[string]any{"id": db.NewID(), "mission_test_id": testIDs[0],
		"kind": "technique", "external_id": "T1566", "name": "Phishing", "url": "https://attack.mitre.org/techniques/T1566",
		"created_at": db.NewTime(in.clock.now())}).Execute()
	require.NoError(in.t, err)
	now := in.clock.now().UTC()
	in.patch(m.ID, testIDs[0], `{"state":"executed","operator":"rita","source_host":"kali","target_ip":"10.0.0.5",
		"command":"macro.docm","output":"beacon up","execution_result":"succeeded","red_notes":"worked <first> time & “quoted” \u2028 done",
		"started_at":"`+now.Add(-time.Hour).Format(time.RFC3339)+`","finished_at":"`+now.Add(-50*time.Minute).Format(time.RFC3339)+`"}`)
	in.patch(m.ID, testIDs[0], `{"blue_notes":"EDR caught it","outcomes":[
		{"control":"EDR","expected":true,"detection_level":"alerted","alerted_at":"`+now.Add(-55*time.Minute).Format(time.RFC3339)+`","alert_name":"Macro spawn"},
		{"control":"SIEM","expected":true,"detection_level":"logged","logged_at":"`+now.Add(-54*time.Minute).Format(time.RFC3339)+`"}]}`)
	blobs = map[string][]byte{}
	for i, content := range [][]byte{append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7, 9, 1}, 5000)...),
		[]byte(strings.Repeat("4624 logon type 3 from 10.0.0.9\n", 300))} {
		up, err := s.Evidence.Begin(ctx, in.admin, m.ID, testIDs[0])
		require.NoError(in.t, err)
		require.NoError(in.t, up.ReadFile(bytes.NewReader(content), []string{"screen.png", "events.log"}[i]))
		if i == 1 {
			require.NoError(in.t, up.SetSide("blue"))
			require.NoError(in.t, up.SetCaption("Security log"))
		}
		f, err := up.Commit(ctx)
		require.NoError(in.t, err)
		blobs[f.SHA256] = content
	}
	return m.ID, testIDs, blobs
}

// docs reads the data documents of a bundle file (what a round trip must
// preserve): mission, tests, evidence, and the audit trail without the
// bundle's own export/import events.
func docs(t *testing.T, path string) map[string]any {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	out := map[string]any{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") || f.Name == "manifest.json" || f.Name == "sync.json" {
			continue
		}
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		var v any
		require.NoError(t, json.Unmarshal(b, &v))
		if f.Name == "audit.json" {
			var kept []any
			for _, e := range v.([]any) {
				if a := e.(map[string]any)["action"].(string); !strings.HasPrefix(a, "bundle.") {
					kept = append(kept, e)
				}
			}
			v = kept
		}
		out[f.Name] = v
	}
	return out
}

func TestRoundTripAndReimport(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a, b := newInstance(t, "Red laptop", c), newInstance(t, "Team server", c)
	missionID, testIDs, blobs := a.seed()

	// An Atomic test with red's argument values: they travel too.
	ctx := context.Background()
	tpl, err := a.set.Templates.Create(ctx, a.admin.Actor, templates.Input{Name: "LSASS dump", Command: "procdump -ma lsass.exe #{output_file}",
		InputArguments: []templates.InputArgument{{Name: "output_file", Description: "where", Type: "path", Default: `C:\t\a.dmp`}}})
	require.NoError(t, err)
	atomic, err := a.set.Missions.AddTest(ctx, a.admin, missionID, missions.AddTestInput{TestTemplateID: tpl.ID})
	require.NoError(t, err)
	a.patch(missionID, atomic.ID, `{"argument_values":{"output_file":"D:\\x.dmp"}}`)
	// B has no such template, so its copy refers to none; so that the two
	// exports compare equal, A's test lets go of its template too.
	_, err = a.set.DB.Write.Update("mission_tests", dbx.Params{"test_template_id": nil}, dbx.HashExp{"id": atomic.ID}).Execute()
	require.NoError(t, err)

	fromA := a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true})
	dry, done := b.importFile(fromA, missionbundle.ApplyParams{})
	assert.True(t, dry.DryRun)
	assert.Equal(t, "create", dry.Mission.Action)
	assert.Equal(t, map[string]string{"output_file": `D:\x.dmp`}, b.test(missionID, atomic.ID).ArgumentValues)
	assert.Equal(t, "Red laptop", dry.Source.InstanceName)
	assert.Equal(t, a.set.Identity.Fingerprint(), dry.Source.Fingerprint)
	assert.False(t, dry.Source.Trusted, "B does not trust A's key yet")
	assert.Equal(t, 4, dry.Objects["tests"].Created)
	assert.Equal(t, 2, dry.Objects["evidence"].Created)
	assert.Empty(t, dry.Conflicts)
	var red missionbundle.UserMapping
	for _, u := range dry.Users {
		if u.Email == "rita.red@example.com" {
			red = u
		}
	}
	assert.Equal(t, "unknown", red.Status)
	assert.Equal(t, "create", red.Action, "an unknown member becomes an inactive account by default")
	assert.Equal(t, dry.Changed, done.Changed, "the apply does what the dry run said")
	assert.False(t, done.DryRun)

	// B's mission equals A's, document for document, and so does every
	// evidence file, byte for byte.
	fromB := b.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true})
	assert.Equal(t, docs(t, fromA), docs(t, fromB))
	for sum, content := range blobs {
		got, err := os.ReadFile(filepath.Join(b.dir, "evidence", sum[:2], sum[2:]))
		require.NoError(t, err)
		assert.Equal(t, content, got)
		h := sha256.Sum256(got)
		assert.Equal(t, sum, hex.EncodeToString(h[:]))
	}
	// The results aggregates (app/tally) were brought up to date in the
	// import's transaction: B counts what A counts.
	assert.Equal(t, a.aggregates(missionID), b.aggregates(missionID))
	assert.NotEmpty(t, b.aggregates(missionID)["result_technique_counts"])
	// The derived outcome was recomputed from the outcomes.
	tt := b.test(missionID, testIDs[0])
	require.NotNil(t, tt.Outcome)
	assert.Equal(t, "alerted", tt.Outcome.Key)
	assert.Len(t, tt.MitreTags, 1)

	// The placeholder account is inactive.
	var disabled bool
	var hash string
	require.NoError(t, b.set.DB.Read.NewQuery(`SELECT disabled, password_hash FROM users WHERE email_fold = 'rita.red@example.com'`).
		Row(&disabled, &hash))
	assert.True(t, disabled)
	assert.Empty(t, hash)

	// Re-importing the same bundle changes nothing.
	dry2, done2 := b.importFile(fromA, missionbundle.ApplyParams{})
	assert.Equal(t, 0, dry2.Changed, "%+v", dry2.Changes)
	assert.Equal(t, 0, done2.Changed)
	assert.Equal(t, "merge", dry2.Mission.Action)
	assert.Equal(t, 4, dry2.Objects["tests"].Unchanged)
	assert.Empty(t, dry2.Conflicts)
	assert.Equal(t, docs(t, fromB), docs(t, b.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true})))
}

func TestMergeBothDirections(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a, b := newInstance(t, "Red laptop", c), newInstance(t, "Blue laptop", c)
	missionID, testIDs, _ := a.seed()
	b.importFile(a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})

	// One-sided edits on each side, on different fields and tests.
	a.patch(missionID, testIDs[1], `{"red_notes":"hash reused on three hosts"}`)
	b.patch(missionID, testIDs[2], `{"blue_notes":"no alert, only a 4769 event"}`)
	b.patch(missionID, testIDs[0], `{"outcomes":[{"control":"AV","expected":false,"detection_level":"none"}]}`)

	dry, _ := a.importFile(b.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})
	assert.Empty(t, dry.Conflicts, "one-sided changes merge without conflict")
	assert.Equal(t, 2, dry.Objects["tests"].Updated)
	assert.Equal(t, "hash reused on three hosts", a.test(missionID, testIDs[1]).RedNotes, "A keeps its own change")
	assert.Equal(t, "no alert, only a 4769 event", a.test(missionID, testIDs[2]).BlueNotes, "A takes B's change")
	assert.Len(t, a.test(missionID, testIDs[0]).Outcomes, 3, "B's new AV outcome arrives")

	dry, _ = b.importFile(a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})
	assert.Empty(t, dry.Conflicts)
	assert.Equal(t, "hash reused on three hosts", b.test(missionID, testIDs[1]).RedNotes)
	assert.Equal(t, "no alert, only a 4769 event", b.test(missionID, testIDs[2]).BlueNotes, "B's own change survives the round trip")

	// Now both instances hold the same mission.
	opts := missionbundle.ExportOptions{Evidence: true, Blue: true}
	assert.Equal(t, testsDoc(t, a.export(missionID, opts)), testsDoc(t, b.export(missionID, opts)))

	// And a further exchange changes nothing.
	dry, _ = a.importFile(b.export(missionID, opts), missionbundle.ApplyParams{})
	assert.Equal(t, 0, dry.Changed, "%+v", dry.Changes)
}

func testsDoc(t *testing.T, path string) any {
	t.Helper()
	d := docs(t, path)
	// Versions and update times move with each side's own writes.
	for _, x := range d["tests.json"].([]any) {
		m := x.(map[string]any)
		delete(m, "version")
		delete(m, "updated_at")
		for _, o := range m["outcomes"].([]any) {
			delete(o.(map[string]any), "updated_at")
		}
	}
	return d["tests.json"]
}

func TestTwoSidedEditIsOneConflictAndResolves(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a, b := newInstance(t, "Red laptop", c), newInstance(t, "Blue laptop", c)
	missionID, testIDs, _ := a.seed()
	b.importFile(a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})

	a.patch(missionID, testIDs[1], `{"red_notes":"A says: dumped with mimikatz"}`)
	b.patch(missionID, testIDs[1], `{"red_notes":"B says: dumped with nanodump"}`)
	b.patch(missionID, testIDs[2], `{"objective":"roast the SQL service account"}`)

	dry, done := a.importFile(b.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})
	require.Len(t, dry.Conflicts, 1)
	require.Len(t, done.Conflicts, 1)
	cf := dry.Conflicts[0]
	assert.Equal(t, missionbundle.ObjTest, cf.ObjectType)
	assert.Equal(t, testIDs[1], cf.ObjectID)
	assert.Equal(t, "red_notes", cf.Field)
	assert.JSONEq(t, `"A says: dumped with mimikatz"`, string(cf.Local))
	assert.JSONEq(t, `"B says: dumped with nanodump"`, string(cf.Incoming))
	assert.Equal(t, "A says: dumped with mimikatz", a.test(missionID, testIDs[1]).RedNotes, "the local value is kept")
	assert.Equal(t, "roast the SQL service account", a.test(missionID, testIDs[2]).Objective, "the one-sided edit applies")

	ctx := context.Background()
	list, err := a.set.Bundles.Conflicts(ctx, a.admin, missionID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	before := a.test(missionID, testIDs[1]).Version
	res, err := a.set.Bundles.Resolve(ctx, a.admin, missionID, list[0].ID, "theirs")
	require.NoError(t, err)
	require.NotNil(t, res.Resolution)
	assert.Equal(t, "theirs", *res.Resolution)
	after := a.test(missionID, testIDs[1])
	assert.Equal(t, "B says: dumped with nanodump", after.RedNotes, "theirs is applied")
	assert.Equal(t, before+1, after.Version)
	_, err = a.set.Bundles.Resolve(ctx, a.admin, missionID, list[0].ID, "mine")
	require.Error(t, err, "a resolved conflict stays resolved")
	page, err := audit.List(ctx, a.set.DB, audit.Filter{Action: "bundle.conflict_resolve"})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total, "the resolution is audited")

	// The resolution travels: B imports A's next export without conflict.
	dry, _ = b.importFile(a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})
	assert.Empty(t, dry.Conflicts)
	assert.Equal(t, "B says: dumped with nanodump", b.test(missionID, testIDs[1]).RedNotes)
}

func TestDeletedOnOneSideEditedOnTheOtherIsAConflict(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a, b := newInstance(t, "Red laptop", c), newInstance(t, "Blue laptop", c)
	missionID, testIDs, _ := a.seed()
	b.importFile(a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})

	require.NoError(t, a.set.Missions.DeleteTest(context.Background(), a.admin, missionID, testIDs[2]))
	b.patch(missionID, testIDs[2], `{"red_notes":"ran it after all"}`)

	dry, _ := b.importFile(a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})
	require.Len(t, dry.Conflicts, 1, "%+v", dry.Conflicts)
	assert.Equal(t, "deleted", dry.Conflicts[0].Field)
	assert.Equal(t, "ran it after all", b.test(missionID, testIDs[2]).RedNotes, "not silently deleted")
}

func TestExportWithoutBlueLeavesBlueDataAlone(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a, b := newInstance(t, "Lead server", c), newInstance(t, "Red laptop", c)
	missionID, testIDs, _ := a.seed()
	path := a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: false})
	d := docs(t, path)
	for _, x := range d["tests.json"].([]any) {
		m := x.(map[string]any)
		assert.Empty(t, m["blue_notes"])
		assert.Empty(t, m["outcomes"])
		assert.NotEqual(t, "assessed", m["state"])
	}
	for _, x := range d["evidence.json"].([]any) {
		assert.Equal(t, "red", x.(map[string]any)["side"], "blue evidence stays home")
	}
	b.importFile(path, missionbundle.ApplyParams{})
	b.patch(missionID, testIDs[1], `{"red_notes":"red laptop notes"}`)

	// Back at the lead: red's change arrives, blue data is untouched.
	dry, _ := a.importFile(b.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true}), missionbundle.ApplyParams{})
	assert.Empty(t, dry.Conflicts, "%+v", dry.Conflicts)
	got := a.test(missionID, testIDs[0])
	assert.Equal(t, "EDR caught it", got.BlueNotes)
	assert.Len(t, got.Outcomes, 2)
	assert.Equal(t, "red laptop notes", a.test(missionID, testIDs[1]).RedNotes)
}

// A reset deletes the identity row with everything else; the running
// instance puts it back (same id, same key) the next time it needs it.
func TestIdentityRowSurvivesReset(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a := newInstance(t, "Laptop", c)
	ctx := context.Background()
	require.NoError(t, a.set.DB.Reset(ctx, "permissions"))
	var n int
	require.NoError(t, a.set.DB.Read.NewQuery("SELECT COUNT(*) FROM bundle_instance").Row(&n))
	require.Zero(t, n)
	a.admin = missions.Caller{Can: func(string) bool { return true }, Actor: audit.Actor{Label: "console"}} // the accounts are gone too
	m, err := a.set.Missions.Create(ctx, a.admin, missions.MissionInput{Name: "After the reset"})
	require.NoError(t, err)
	path := a.export(m.ID, missionbundle.ExportOptions{Evidence: true, Blue: true})
	var id, pub string
	require.NoError(t, a.set.DB.Read.NewQuery("SELECT id, public_key FROM bundle_instance").Row(&id, &pub))
	assert.Equal(t, a.set.Identity.ID(), id)
	assert.Equal(t, bundle.EncodePublicKey(a.set.Identity.Public()), pub)
	r, err := bundle.Open(path, bundle.DefaultLimits)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, a.set.Identity.Fingerprint(), r.Fingerprint())
}

// A transaction that fails after the evidence was put in place leaves no
// mission and no content behind, and the same import can be applied again.
func TestFailedApplyLeavesNothingAndCanBeRetried(t *testing.T) {
	t.Parallel()
	c := newClock(time.Time{})
	a := newInstance(t, "Red laptop", c)
	fail := true
	b := newInstanceWith(t, "Team server", c, func(context.Context) error {
		if fail {
			return errors.New("disk full (test)")
		}
		return nil
	})
	missionID, _, blobs := a.seed()
	path := a.export(missionID, missionbundle.ExportOptions{Evidence: true, Blue: true})
	ctx := context.Background()
	imp, err := b.imports.OpenFile(ctx, b.admin.UserID, path)
	require.NoError(t, err)
	_, err = b.set.Bundles.Plan(ctx, b.admin, imp, nil, nil)
	require.NoError(t, err)
	_, err = b.set.Bundles.Apply(ctx, b.admin, imp, missionbundle.ApplyParams{AcceptUntrusted: true})
	require.ErrorContains(t, err, "disk full")
	var n int
	require.NoError(t, b.set.DB.Read.NewQuery("SELECT COUNT(*) FROM missions").Row(&n))
	assert.Zero(t, n)
	for sum := range blobs {
		assert.False(t, b.set.Evidence.HasContent(sum, int64(len(blobs[sum]))), "no content of a failed apply stays")
	}
	fail = false
	done, err := b.set.Bundles.Apply(ctx, b.admin, imp, missionbundle.ApplyParams{AcceptUntrusted: true})
	require.NoError(t, err, "the staged import is still whole")
	assert.Equal(t, 2, done.Objects["evidence"].Created)
	for sum, content := range blobs {
		got, err := os.ReadFile(filepath.Join(b.dir, "evidence", sum[:2], sum[2:]))
		require.NoError(t, err)
		assert.Equal(t, content, got)
	}
	b.imports.Discard(imp)
	for sum := range blobs {
		assert.True(t, b.set.Evidence.HasContent(sum, int64(len(blobs[sum]))), "discarding the staging keeps the adopted content")
	}
}

// aggregates reads the results aggregates of a mission (and the
// organisation rows), as comparable strings.
func (in *instance) aggregates(missionID string) map[string][]string {
	in.t.Helper()
	out := map[string][]string{}
	for table, q := range map[string]string{
		"result_technique_counts": `SELECT external_id || '|' || bucket || '|' || tests FROM result_technique_counts WHERE mission_id = {:m} ORDER BY 1`,
		"result_month_counts":     `SELECT month || '|' || bucket || '|' || tests FROM result_month_counts WHERE mission_id = {:m} ORDER BY 1`,
		"result_org_counts":       `SELECT status || '|' || month || '|' || external_id || '|' || bucket || '|' || tests FROM result_org_counts WHERE {:m} <> '' ORDER BY 1`,
	} {
		var rows []string
		require.NoError(in.t, in.set.DB.Read.NewQuery(q).Bind(dbx.Params{"m": missionID}).Column(&rows))
		out[table] = rows
	}
	return out
}
