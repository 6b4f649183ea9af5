package app

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveUntil runs `purplebook serve` on dir until stop is called; it
// returns once the server listens.
func serveUntil(t *testing.T, dir string, extra ...string) (out, logs *syncBuffer, stop func() int) {
	t.Helper()
	out, logs = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "json"}, extra...)
	go func() {
		done <- mainContext(ctx, args, out, logs, func(k string) string { return "" })
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "listening on") {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d: %s %s", code, out.String(), logs.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "serve did not start: %s", logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	return out, logs, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
}

// A dead process's pid: above any pid_max.
const deadPID = 99_999_999

// Issue 14, holes 5 and 7 and the data dir's modes, through the real serve
// command: leftovers of crashed processes are removed at start (temporary
// files, an orphan evidence file, an older version's upload spool), every
// file of the data dir is 0600 and every directory 0700 (the database and
// its -wal/-shm included), and the setup token never reaches an output
// that is not a terminal.
func TestServeStartsClean(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	// A crashed run's temporary area, a stray file, an older version's
	// upload spool and a content file whose row never committed.
	deadRun := filepath.Join(dir, "tmp", "123-dead")
	require.NoError(t, os.MkdirAll(deadRun, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(deadRun, "owner"), []byte(strconv.Itoa(deadPID)+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(deadRun, "upload-1"), bytes.Repeat([]byte("x"), 1<<16), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmp", "purplebook-atomics-1.zip"), []byte("PK"), 0o644))
	legacy := filepath.Join(dir, "evidence", "tmp")
	require.NoError(t, os.MkdirAll(legacy, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(legacy, "upload-2"), []byte("y"), 0o644))
	orphan := filepath.Join(dir, "evidence", "ab", strings.Repeat("c", 62))
	require.NoError(t, os.MkdirAll(filepath.Dir(orphan), 0o755))
	require.NoError(t, os.WriteFile(orphan, []byte("no row names me"), 0o644))

	out, logs, stop := serveUntil(t, dir)
	token, err := os.ReadFile(filepath.Join(dir, "setup-token"))
	require.NoError(t, err)
	require.NotEmpty(t, strings.TrimSpace(string(token)))
	assert.NotContains(t, out.String(), strings.TrimSpace(string(token)), "not a terminal: the token is not printed")
	assert.NotContains(t, logs.String(), strings.TrimSpace(string(token)))
	assert.Contains(t, out.String(), filepath.Join(dir, "setup-token"), "its file is named instead")

	assert.NoDirExists(t, deadRun)
	assert.NoFileExists(t, filepath.Join(dir, "tmp", "purplebook-atomics-1.zip"))
	assert.NoDirExists(t, legacy)
	assert.NoFileExists(t, orphan, "evidence gc ran at start")
	assert.Contains(t, logs.String(), "evidence_gc")

	if runtime.GOOS != "windows" {
		seen := map[string]bool{}
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			info, err := d.Info()
			require.NoError(t, err)
			rel, _ := filepath.Rel(dir, p)
			seen[rel] = true
			if d.IsDir() {
				assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), "directory %s", rel)
			} else {
				assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), "file %s", rel)
			}
			return nil
		}))
		for _, f := range []string{"purplebook.db", "purplebook.db-wal", "purplebook.db-shm", "secret.key", "setup-token"} {
			assert.True(t, seen[f], "%s exists and was checked", f)
		}
	}
	assert.Equal(t, 0, stop())
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, entries, "the run's temporary area goes at exit")
}

// purplebook evidence gc: a dry run removes nothing; a run removes files no
// row names and says so.
func TestEvidenceGCCommand(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := run(t, "migrate", "--data-dir", dir, "up")
	require.Equal(t, 0, code, errOut)
	orphan := filepath.Join(dir, "evidence", "de", strings.Repeat("f", 62))
	require.NoError(t, os.MkdirAll(filepath.Dir(orphan), 0o700))
	require.NoError(t, os.WriteFile(orphan, []byte("orphan"), 0o600))
	code, out, errOut := run(t, "evidence", "gc", "--data-dir", dir, "--dry-run")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "would remove 1")
	assert.FileExists(t, orphan)
	code, out, errOut = run(t, "evidence", "gc", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "removed 1")
	assert.NoFileExists(t, orphan)
	code, out, _ = run(t, "evidence", "gc", "--data-dir", dir, "--json")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"removed": 0`)
}

// purplebook audit verify / anchor: intact, then a row edited behind the
// application's back is named, and the command fails.
func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	stdin = strings.NewReader("a long enough password 1\n")
	defer func() { stdin = os.Stdin }()
	code, _, errOut := run(t, "user", "create-admin", "--data-dir", dir, "--email", "ops@example.com", "--name", "Ops")
	require.Equal(t, 0, code, errOut)
	code, out, errOut := run(t, "audit", "verify", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "intact: 1 events")
	anchorFile := filepath.Join(t.TempDir(), "anchor.json")
	code, out, errOut = run(t, "audit", "anchor", "--data-dir", dir, "--out", anchorFile)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "anchor at event 1")
	code, out, _ = run(t, "audit", "verify", "--data-dir", dir, "--anchor", anchorFile)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "the chain passes through event 1")

	d, err := openDB(context.Background(), configFor(t, dir))
	require.NoError(t, err)
	var id string
	require.NoError(t, d.Read.NewQuery("SELECT id FROM audit_events WHERE seq = 1").Row(&id))
	_, err = d.Write.NewQuery("UPDATE audit_events SET action = 'user.delete' WHERE seq = 1").Execute()
	require.NoError(t, err)
	require.NoError(t, d.Close())
	code, out, errOut = run(t, "audit", "verify", "--data-dir", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "BROKEN")
	assert.Contains(t, out, id)
	assert.Contains(t, errOut, "not intact")
}

// configFor is the configuration of a data dir with defaults.
func configFor(t *testing.T, dir string) config.Config {
	t.Helper()
	cfg := config.Config{DataDir: dir, LogFormat: "text", LogLevel: "info"}
	require.NoError(t, cfg.Validate())
	return cfg
}
