package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/datadir"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSanitizeFilename(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 1000)
	for in, want := range map[string]string{
		"shot.png":                "shot.png",
		"../../x":                 "x",
		`..\..\boot.ini`:          "boot.ini",
		"/etc/passwd":             "passwd",
		"dir/":                    DefaultFilename,
		"a\x00b.png":              "ab.png",
		"\x01\x1f\x7f\u0085c.txt": "c.txt",
		"  spaced  .txt  ":        "spaced  .txt",
		"résumé 📄.png":            "résumé 📄.png",
		`"quoted";name`:           `"quoted";name`,
		"evil\u202egnp.exe":       "evilgnp.exe",
		"bad\xff\xfeutf8.txt":     "badutf8.txt",
		"":                        DefaultFilename,
		".":                       DefaultFilename,
		"..":                      DefaultFilename,
		"\x00\x00":                DefaultFilename,
		long:                      long[:255],
		long + ".png":             long[:251] + ".png",
	} {
		got := SanitizeFilename(in)
		assert.Equal(t, want, got, "%q", in)
		assert.LessOrEqual(t, len(got), MaxFilenameBytes)
		assert.True(t, utf8.ValidString(got))
	}
	// Cuts land on rune boundaries.
	for n := 250; n < 260; n++ {
		s := strings.Repeat("x", n%4) + strings.Repeat("😀", 100)
		got := SanitizeFilename(s)
		assert.True(t, utf8.ValidString(got), "%d", n)
		assert.LessOrEqual(t, len(got), MaxFilenameBytes)
		assert.Greater(t, len(got), MaxFilenameBytes-4)
	}
}

func TestServeType(t *testing.T) {
	t.Parallel()
	for stored, want := range map[string]struct {
		ct     string
		inline bool
	}{
		"image/png":                     {"image/png", true},
		"image/jpeg":                    {"image/jpeg", true},
		"image/gif":                     {"image/gif", true},
		"image/webp":                    {"image/webp", true},
		"image/bmp":                     {"image/bmp", false},
		"text/plain; charset=utf-8":     {"text/plain; charset=utf-8", false},
		"text/plain; charset=utf-16be":  {"text/plain; charset=utf-16be", false},
		"text/html; charset=utf-8":      {"application/octet-stream", false},
		"text/xml; charset=utf-8":       {"application/octet-stream", false},
		"image/svg+xml":                 {"application/octet-stream", false},
		"application/javascript":        {"application/octet-stream", false},
		"application/x-shockwave-flash": {"application/octet-stream", false},
		"application/pdf":               {"application/pdf", false},
		"application/zip":               {"application/zip", false},
		"video/mp4":                     {"video/mp4", false},
		"application/octet-stream":      {"application/octet-stream", false},
		"garbage;;":                     {"application/octet-stream", false},
	} {
		ct, inline := ServeType(stored)
		assert.Equal(t, want.ct, ct, stored)
		assert.Equal(t, want.inline, inline, stored)
	}
}

type fixedLimit int64

func (l fixedLimit) EvidenceMaxBytes(context.Context) (int64, error) { return int64(l), nil }

type fixture struct {
	svc       *Service
	d         *db.DB
	dataDir   string
	tmp       string
	lead      missions.Caller
	missionID string
	testID    string
}

func newFixture(t *testing.T, limit int64) *fixture {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	a, err := auth.New(auth.Options{DB: d, Key: []byte(strings.Repeat("k", 32)),
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	uid, err := a.CreateUser(ctx, nil, auth.CreateUserParams{Email: "lead@example.com", Name: "Lead",
		Password: "a long enough password 1", GroupIDs: []string{auth.AdminsGroupID}}, auth.Meta{})
	require.NoError(t, err)
	m := mitre.New(mitre.Options{DB: d})
	ms := missions.New(missions.Options{DB: d, Templates: templates.New(templates.Options{DB: d, Mitre: m}), Mitre: m,
		Notify: notify.New(notify.Options{DB: d})})
	lead := missions.Caller{UserID: uid, Can: func(string) bool { return true }, Actor: audit.Actor{UserID: uid, Label: "lead@example.com"}}
	mission, err := ms.Create(ctx, lead, missions.MissionInput{Name: "Op"})
	require.NoError(t, err)
	test, err := ms.AddTest(ctx, lead, mission.ID, missions.AddTestInput{Name: "T1"})
	require.NoError(t, err)
	dir := t.TempDir()
	tmp, _, err := datadir.OpenTemp(dir)
	require.NoError(t, err)
	svc, err := New(Options{DB: d, Missions: ms, Limits: fixedLimit(limit), DataDir: dir, TempDir: tmp.Dir()})
	require.NoError(t, err)
	return &fixture{svc: svc, d: d, dataDir: dir, tmp: tmp.Dir(), lead: lead, missionID: mission.ID, testID: test.ID}
}

// upload runs a whole upload (safe from any goroutine: it only returns errors).
func (f *fixture) upload(content []byte) (File, error) {
	ctx := context.Background()
	up, err := f.svc.Begin(ctx, f.lead, f.missionID, f.testID)
	if err != nil {
		return File{}, err
	}
	defer up.Discard()
	if err := up.ReadFile(bytes.NewReader(content), "f.bin"); err != nil {
		return File{}, err
	}
	return up.Commit(ctx)
}

func (f *fixture) contentExists(sum string) bool {
	_, err := os.Stat(f.svc.contentPath(sum))
	return err == nil
}

func tmpEntries(t *testing.T, f *fixture) int {
	t.Helper()
	es, err := os.ReadDir(f.tmp)
	require.NoError(t, err)
	n := 0
	for _, e := range es {
		if strings.HasPrefix(e.Name(), "upload-") {
			n++
		}
	}
	return n
}

func TestFailedCommitRemovesNewContentOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1<<20)
	boom := errors.New("boom")
	kept, err := f.upload([]byte("shared content"))
	require.NoError(t, err)

	f.svc.failTx = func() error { return boom }
	// New content whose row fails: the file goes again.
	_, err = f.upload([]byte("fresh content"))
	require.ErrorIs(t, err, boom)
	assert.False(t, f.contentExists(hexSum([]byte("fresh content"))))
	// Content another row references: the file stays.
	_, err = f.upload([]byte("shared content"))
	require.ErrorIs(t, err, boom)
	assert.True(t, f.contentExists(kept.SHA256))
	assert.Zero(t, tmpEntries(t, f))
	assert.Equal(t, 1, dbtest.Count(t, f.d, "evidence_files"))
	var n int
	require.NoError(t, f.d.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'evidence.upload'`).Scan(&n))
	assert.Equal(t, 1, n, "the audit event shares the row's transaction")
}

func TestReadFileFailuresLeaveNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1<<20)
	ctx := context.Background()
	up, err := f.svc.Begin(ctx, f.lead, f.missionID, f.testID)
	require.NoError(t, err)
	err = up.ReadFile(bytes.NewReader(make([]byte, 1<<20+1)), "big")
	require.ErrorIs(t, err, apperr.ErrTooLarge)
	assert.Zero(t, tmpEntries(t, f))
	assert.False(t, up.HasFile())

	broken := errors.New("connection reset")
	err = up.ReadFile(iotest.ErrReader(broken), "x")
	var re *ReadError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, broken)
	err = up.ReadFile(iotest.DataErrReader(bytes.NewReader([]byte("partial"))), "x")
	require.NoError(t, err, "data with EOF is fine")
	assert.Equal(t, 1, tmpEntries(t, f))
	up.Discard()
	assert.Zero(t, tmpEntries(t, f), "Discard removes an uncommitted upload")
}

func TestConcurrentUploadsOfSameContent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1<<20)
	content := bytes.Repeat([]byte("same"), 1000)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.upload(content)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 8, dbtest.Count(t, f.d, "evidence_files"))
	assert.True(t, f.contentExists(hexSum(content)))
	assert.Zero(t, tmpEntries(t, f))
}

func TestNewRemovesLegacyTemps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	legacy := filepath.Join(dir, "evidence", "tmp")
	require.NoError(t, os.MkdirAll(legacy, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(legacy, "upload-123"), []byte("x"), 0o600))
	_, err := New(Options{DataDir: dir, TempDir: t.TempDir()})
	require.NoError(t, err)
	assert.NoDirExists(t, legacy, "an older version's upload leftovers go at start")
	assert.DirExists(t, filepath.Join(dir, "evidence"))
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestValidSum(t *testing.T) {
	t.Parallel()
	assert.True(t, validSum(hexSum([]byte("x"))))
	assert.False(t, validSum(strings.ToUpper(hexSum([]byte("x")))))
	assert.False(t, validSum("../../../../../../../../../../../../../../../../../../etc/passwd/"))
	assert.False(t, validSum(""))
}
