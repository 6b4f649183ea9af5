package instancebundle_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/datadir"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var missionExportAll = missionbundle.ExportOptions{Evidence: true, Blue: true}

var cheapArgon = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type source struct {
	set     *services.Set
	dir     string
	admin   missions.Caller
	backups *instancebundle.Service
	blobs   map[string][]byte
	mission string
	tests   []string
}

// newSource is an instance with an engagement: accounts, a mission with
// categories, tests with red and blue work, outcomes, evidence, and the
// audit trail all that wrote.
func newSource(t *testing.T, d *db.DB) *source {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("k", 32)), Now: time.Now, Argon2: cheapArgon})
	require.NoError(t, err)
	t.Cleanup(func() { set.Close() })
	id, err := set.Auth.CreateUser(ctx, nil, auth.CreateUserParams{Email: "lead@example.com", Name: "Lena Lead",
		Password: "a long enough password 1", GroupIDs: []string{auth.AdminsGroupID}}, auth.Meta{})
	require.NoError(t, err)
	s := &source{set: set, dir: dir, blobs: map[string][]byte{},
		admin: missions.Caller{UserID: id, Can: func(string) bool { return true }, Actor: audit.Actor{UserID: id, Label: "lead@example.com"}}}
	s.backups, err = instancebundle.New(instancebundle.Options{DB: d, Evidence: set.Evidence, Identity: set.Identity, DataDir: dir,
		AppVersion: "test", Now: time.Now})
	require.NoError(t, err)

	m, err := set.Missions.Create(ctx, s.admin, missions.MissionInput{Name: "Operation Nightjar", Description: "Q3 «purple» team"})
	require.NoError(t, err)
	s.mission = m.ID
	name := "Initial access"
	cat, err := set.Missions.SaveCategory(ctx, s.admin, m.ID, "", missions.CategoryInput{Name: &name})
	require.NoError(t, err)
	for _, n := range []string{"Phishing macro", "Pass the hash", "Kerberoasting"} {
		tt, err := set.Missions.AddTest(ctx, s.admin, m.ID, missions.AddTestInput{Name: n, Description: "step " + n,
			Command: "Invoke-Thing -N " + n, Platforms: []string{"windows"}, OpsecLevel: "medium", CategoryID: &cat.ID})
		require.NoError(t, err)
		s.tests = append(s.tests, tt.ID)
	}
	_, err = d.Write.Insert("mission_test_mitre_tags", map[string]any{"id": db.NewID(), "mission_test_id": s.tests[0],
		"kind": "technique", "external_id": "T1566", "name": "Phishing", "url": "https://attack.mitre.org/techniques/T1566",
		"created_at": db.NewTime(time.Now())}).Execute()
	require.NoError(t, err)
	now := time.Now().UTC()
	s.patch(t, s.tests[0], `{"state":"executed","operator":"rita","output":"beacon up","red_notes":"worked <first> time & “quoted”",
		"started_at":"`+now.Add(-time.Hour).Format(time.RFC3339)+`","finished_at":"`+now.Add(-50*time.Minute).Format(time.RFC3339)+`"}`)
	s.patch(t, s.tests[0], `{"blue_notes":"EDR caught it","outcomes":[
		{"control":"EDR","expected":true,"detection_level":"alerted","alerted_at":"`+now.Add(-55*time.Minute).Format(time.RFC3339)+`","alert_name":"Macro spawn"}]}`)
	for i, content := range [][]byte{append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7, 9, 1}, 5000)...),
		[]byte(strings.Repeat("4624 logon type 3 from 10.0.0.9\n", 300))} {
		up, err := set.Evidence.Begin(ctx, s.admin, m.ID, s.tests[0])
		require.NoError(t, err)
		require.NoError(t, up.ReadFile(bytes.NewReader(content), []string{"screen.png", "events.log"}[i]))
		f, err := up.Commit(ctx)
		require.NoError(t, err)
		s.blobs[f.SHA256] = content
	}
	// A refresh token replaced by another: a table that references itself.
	lr, err := set.Auth.Login(ctx, "lead@example.com", "a long enough password 1", auth.Meta{})
	require.NoError(t, err)
	_, err = set.Auth.Refresh(ctx, lr.RefreshToken, auth.Meta{})
	require.NoError(t, err)
	var replaced int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM refresh_tokens WHERE replaced_by IS NOT NULL").Row(&replaced))
	require.Equal(t, 1, replaced)
	return s
}

func (s *source) patch(t *testing.T, testID, body string) {
	t.Helper()
	var p missions.TestPatch
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	_, err := s.set.Missions.PatchTest(context.Background(), s.admin, s.mission, testID, p)
	require.NoError(t, err, body)
}

// backup writes a backup to a file and returns its path.
func (s *source) backup(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "instance.pbz")
	f, err := os.Create(p)
	require.NoError(t, err)
	_, err = s.backups.WriteTo(context.Background(), f, nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return p
}

// dump reads every table in logical form, JSON values normalised (JSONB
// reorders keys), the restore's own audit event and the chain head left
// out (a restore appends to the chain).
func dump(t *testing.T, d *db.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	cat, err := d.Catalog(ctx)
	require.NoError(t, err)
	out := map[string][]string{}
	require.NoError(t, d.ReadSnapshot(ctx, func(tx *dbx.Tx) error {
		for _, name := range cat.TableNames() {
			if name == "audit_chain" {
				continue
			}
			tb := cat.Tables[name]
			out[name] = []string{}
			err := db.ScanTable(ctx, tx, tb, func(vals []any) error {
				row := slices.Clone(vals)
				for i, c := range tb.Columns {
					if c.Type == db.TypeJSON && row[i] != nil {
						var v any
						require.NoError(t, json.Unmarshal([]byte(row[i].(string)), &v))
						b, _ := json.Marshal(v)
						row[i] = string(b)
					}
				}
				b, _ := json.Marshal(row)
				if name == "audit_events" && strings.Contains(string(b), `"instance.restore"`) {
					return nil
				}
				out[name] = append(out[name], string(b))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	return out
}

func restoreInto(t *testing.T, file, dataDir, dsn string) (instancebundle.Report, error) {
	t.Helper()
	return instancebundle.Restore(context.Background(), file, instancebundle.RestoreOptions{DataDir: dataDir, DBURL: dsn, Now: time.Now})
}

func checkRestored(t *testing.T, s *source, rep instancebundle.Report, dataDir, dsn string) {
	t.Helper()
	ctx := context.Background()
	assert.Nil(t, rep.AuditChain.Break, "the audit chain verifies after the restore")
	d, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	defer d.Close()
	want, got := dump(t, s.set.DB), dump(t, d)
	for name := range want {
		assert.Equal(t, want[name], got[name], "table %s", name)
	}
	assert.Len(t, got, len(want))
	for sum, content := range s.blobs {
		b, err := os.ReadFile(filepath.Join(dataDir, "evidence", sum[:2], sum[2:]))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(content, b), "evidence %s byte-identical", sum)
	}
	k1, err := os.ReadFile(filepath.Join(s.dir, bundle.KeyFile))
	require.NoError(t, err)
	k2, err := os.ReadFile(filepath.Join(dataDir, bundle.KeyFile))
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the signing key moves with the instance")
	// The restored instance starts, and its chain verifies again.
	set, err := services.New(services.Options{DB: d, DataDir: dataDir, Now: time.Now, Argon2: cheapArgon})
	require.NoError(t, err)
	defer set.Close()
	assert.Equal(t, s.set.Identity.ID(), set.Identity.ID())
	assert.Equal(t, s.set.Identity.Fingerprint(), set.Identity.Fingerprint())
	vr, err := audit.Verify(ctx, d, time.Now(), nil)
	require.NoError(t, err)
	assert.Nil(t, vr.Break)
	var restores int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'instance.restore'").Row(&restores))
	assert.Equal(t, 1, restores)
}

func sqliteTarget(t *testing.T) (dataDir, dsn string) {
	dataDir = t.TempDir()
	return dataDir, filepath.Join(dataDir, "purplebook.db")
}

// TestRestoreRoundTrip: back up an instance (on the run's backend), restore
// it into a fresh SQLite data dir: every table equal, evidence
// byte-identical, the signing key and identity kept, the chain verifies.
func TestRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSource(t, dbtest.New(t))
	file := s.backup(t)
	dataDir, dsn := sqliteTarget(t)
	rep, err := restoreInto(t, file, dataDir, dsn)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Evidence.Files)
	assert.Equal(t, s.set.DB.Driver(), rep.SourceEngine)
	checkRestored(t, s, rep, dataDir, dsn)

	// A second restore into the same instance needs --force, and then
	// gives the same state again.
	_, err = restoreInto(t, file, dataDir, dsn)
	assert.True(t, errors.Is(err, apperr.ErrConflict), "an instance with accounts is not replaced silently: %v", err)
	rep, err = instancebundle.Restore(context.Background(), file, instancebundle.RestoreOptions{DataDir: dataDir, DBURL: dsn, Now: time.Now, Force: true})
	require.NoError(t, err)
	checkRestored(t, s, rep, dataDir, dsn)
}

// TestRestoreSQLiteIntoPostgres is how a team outgrows one laptop: a SQLite
// instance's backup restored into PostgreSQL equals the source, table by
// table.
func TestRestoreSQLiteIntoPostgres(t *testing.T) {
	t.Parallel()
	dsn := dbtest.EmptyPostgresDSN(t) // skips without PostgreSQL
	s := newSource(t, dbtest.NewSQLite(t))
	file := s.backup(t)
	dataDir := t.TempDir()
	rep, err := restoreInto(t, file, dataDir, dsn)
	require.NoError(t, err)
	assert.Equal(t, db.SQLite, rep.SourceEngine)
	assert.Equal(t, db.Postgres, rep.Engine)
	checkRestored(t, s, rep, dataDir, dsn)
}

// rewrite copies a zip, letting edit change (or drop, returning nil) each
// entry's content, and add extra entries.
func rewrite(t *testing.T, src string, edit func(name string, b []byte) []byte, extra map[string][]byte) string {
	t.Helper()
	zr, err := zip.OpenReader(src)
	require.NoError(t, err)
	defer zr.Close()
	p := filepath.Join(t.TempDir(), "tampered.pbz")
	f, err := os.Create(p)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		if b = edit(zf.Name, b); b == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zip.Deflate})
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	for name, b := range extra {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return p
}

func nothingWritten(t *testing.T, dataDir, what string) {
	t.Helper()
	for _, name := range []string{"purplebook.db", "evidence", bundle.KeyFile} {
		_, err := os.Stat(filepath.Join(dataDir, name))
		assert.True(t, errors.Is(err, os.ErrNotExist), "%s: %s must not exist after a refused restore", what, name)
	}
}

// TestRestoreRefusesBadBackups: a changed entry, a changed manifest, a
// hostile path, an unlisted entry, another kind of bundle, a newer schema
// and a forged meta are all refused with a 422 before anything is written.
func TestRestoreRefusesBadBackups(t *testing.T) {
	t.Parallel()
	s := newSource(t, dbtest.New(t))
	file := s.backup(t)
	keep := func(_ string, b []byte) []byte { return b }

	tooNew := filepath.Join(t.TempDir(), "new.pbz")
	f, err := os.Create(tooNew)
	require.NoError(t, err)
	w := bundle.NewWriter(f, s.set.Identity, bundle.Header{Kind: bundle.KindInstance, AppVersion: "v99", SchemaVersion: 9999,
		CreatedAt: time.Now(), Meta: instancebundle.Meta{Engine: "sqlite", Tables: []instancebundle.TableMeta{}}}, nil)
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())

	// A validly signed backup whose meta announces fewer rows than a table
	// has: the load fails inside its transaction.
	forged := filepath.Join(t.TempDir(), "forged.pbz")
	{
		r, err := bundle.Open(file, instancebundle.Limits)
		require.NoError(t, err)
		var meta instancebundle.Meta
		require.NoError(t, json.Unmarshal(r.Manifest().Meta, &meta))
		for i := range meta.Tables {
			if meta.Tables[i].Name == "missions" {
				meta.Tables[i].Rows = 0
			}
		}
		f, err := os.Create(forged)
		require.NoError(t, err)
		w := bundle.NewWriter(f, s.set.Identity, bundle.Header{Kind: bundle.KindInstance, AppVersion: "test",
			SchemaVersion: r.Manifest().SchemaVersion, CreatedAt: time.Now(), Meta: meta}, nil)
		for _, e := range r.Manifest().Entries {
			rc, err := r.OpenEntry(e.Path)
			require.NoError(t, err)
			_, err = w.WriteFile(e.Path, rc)
			require.NoError(t, err)
			rc.Close()
		}
		require.NoError(t, w.Close())
		require.NoError(t, f.Close())
		r.Close()
	}

	for _, tc := range []struct {
		name, file, reason string
		loads              bool // refused inside the load transaction: the schema exists, no data
	}{
		{"changed table", rewrite(t, file, func(n string, b []byte) []byte {
			if n == "tables/missions.jsonl" {
				return bytes.Replace(b, []byte("Nightjar"), []byte("Nightjaw"), 1)
			}
			return b
		}, nil), "bundle_entry_corrupt", false},
		{"changed evidence", rewrite(t, file, func(n string, b []byte) []byte {
			if strings.HasPrefix(n, "evidence/") {
				b = slices.Clone(b)
				b[len(b)/2] ^= 1
			}
			return b
		}, nil), "bundle_entry_corrupt", false},
		{"changed manifest", rewrite(t, file, func(n string, b []byte) []byte {
			if n == "manifest.json" {
				return bytes.Replace(b, []byte(`"engine": "`), []byte(`"engine":  "`), 1)
			}
			return b
		}, nil), "bundle_signature_invalid", false},
		{"hostile path", rewrite(t, file, keep, map[string][]byte{"../../etc/cron.d/x": []byte("boom")}), "bundle_bad_path", false},
		{"unlisted entry", rewrite(t, file, keep, map[string][]byte{"tables/extra.jsonl": []byte("[]\n")}), "bundle_unlisted_entry", false},
		{"unsigned", rewrite(t, file, func(n string, b []byte) []byte {
			if n == "manifest.sig" {
				return nil
			}
			return b
		}, nil), "bundle_unsigned", false},
		{"too new", tooNew, "backup_too_new", false},
		{"forged counts", forged, "backup_invalid", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, dsn := sqliteTarget(t)
			_, err := restoreInto(t, tc.file, dataDir, dsn)
			require.Error(t, err)
			var ae *apperr.Error
			require.True(t, errors.As(err, &ae), "%v", err)
			assert.Equal(t, tc.reason, ae.Details["reason"], "%v", err)
			if !tc.loads {
				nothingWritten(t, dataDir, tc.name)
				return
			}
			d, err := db.Open(context.Background(), dsn)
			require.NoError(t, err)
			defer d.Close()
			var n int
			require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM users").Row(&n))
			assert.Zero(t, n, "the load transaction rolled back")
			entries, _ := os.ReadDir(filepath.Join(dataDir, "evidence"))
			for _, e := range entries {
				sub, _ := os.ReadDir(filepath.Join(dataDir, "evidence", e.Name()))
				assert.Empty(t, sub, "no evidence left behind")
			}
		})
	}

	// A mission bundle is not a backup.
	x, err := s.set.Bundles.Prepare(context.Background(), s.admin, s.mission, missionExportAll)
	require.NoError(t, err)
	mb := filepath.Join(t.TempDir(), "mission.pbz")
	mf, err := os.Create(mb)
	require.NoError(t, err)
	require.NoError(t, x.WriteTo(context.Background(), mf, nil))
	require.NoError(t, mf.Close())
	dataDir, dsn := sqliteTarget(t)
	_, err = restoreInto(t, mb, dataDir, dsn)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "bundle_wrong_kind", ae.Details["reason"])
	nothingWritten(t, dataDir, "mission bundle")
}

// TestRestoreRefusedWhileServerRuns: a server holds the data dir's lock
// shared; a restore there is refused and writes nothing.
func TestRestoreRefusedWhileServerRuns(t *testing.T) {
	t.Parallel()
	s := newSource(t, dbtest.New(t))
	file := s.backup(t)
	dataDir, dsn := sqliteTarget(t)
	l, err := datadir.LockShared(dataDir)
	require.NoError(t, err)
	_, err = restoreInto(t, file, dataDir, dsn)
	assert.ErrorIs(t, err, instancebundle.ErrLocked)
	nothingWritten(t, dataDir, "locked")
	require.NoError(t, l.Close())
	_, err = restoreInto(t, file, dataDir, dsn)
	assert.NoError(t, err, "once the server is gone")
}

// TestBackupWhileWriting: 20 writers change the instance while a backup is
// taken; none of them sees an error, and the backup restores into a
// consistent instance (foreign keys, row counts, audit chain, aggregates).
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	s := newSource(t, dbtest.New(t))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	var writes sync.Map
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				var err error
				if i%2 == 0 {
					_, err = s.set.Missions.AddTest(context.Background(), s.admin, s.mission,
						missions.AddTestInput{Name: fmt.Sprintf("writer %d test %d", w, i), OpsecLevel: "low"})
				} else {
					var p missions.TestPatch
					_ = json.Unmarshal([]byte(fmt.Sprintf(`{"red_notes":"writer %d pass %d"}`, w, i)), &p)
					_, err = s.set.Missions.PatchTest(context.Background(), s.admin, s.mission, s.tests[w%len(s.tests)], p)
					if errors.Is(err, apperr.ErrConflict) {
						err = nil // a version race between writers, not a backup effect
					}
				}
				if err != nil {
					errs <- err
					return
				}
				writes.Store(w, i)
			}
		}(w)
	}
	time.Sleep(100 * time.Millisecond)
	file := s.backup(t)
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a writer failed during the backup: %v", err)
	}

	dataDir, dsn := sqliteTarget(t)
	rep, err := restoreInto(t, file, dataDir, dsn)
	require.NoError(t, err)
	assert.Nil(t, rep.AuditChain.Break)
	d, err := db.Open(context.Background(), dsn)
	require.NoError(t, err)
	defer d.Close()
	// One snapshot: every test the backup holds has its creation event, and
	// no creation event lacks its test.
	var tests, adds int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM mission_tests").Row(&tests))
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'mission.test_add'").Row(&adds))
	assert.Equal(t, tests, adds)
	assert.Greater(t, tests, 3, "writers wrote before the backup")
}
