package app

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBackupRestoreCommands: purplebook backup, then restore into another
// data dir (refused while a server runs there, and without --force into an
// instance with accounts); the restored audit trail verifies with
// purplebook audit verify.
func TestBackupRestoreCommands(t *testing.T) {
	src := t.TempDir()
	stdin = strings.NewReader("a long enough password 1\n")
	defer func() { stdin = os.Stdin }()
	code, _, stderr := run(t, "user", "create-admin", "--data-dir", src, "--email", "admin@example.com", "--name", "Ada Admin")
	require.Equal(t, 0, code, stderr)
	file := filepath.Join(t.TempDir(), "b.pbz")
	code, stdout, stderr := run(t, "backup", "--data-dir", src, "--out", file)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `backed up \d+ tables \(\d+ rows\) and 0 evidence files to `, stdout)
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// A server on the target data dir: the restore refuses.
	dst := t.TempDir()
	var out, errOut syncBuffer
	e := env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, e, []string{"--data-dir", dst, "--listen", "127.0.0.1:0", "--log-format", "json"})
	}()
	waitFor(t, &out, regexp.MustCompile(`listening on `), done)
	code, _, stderr = run(t, "restore", file, "--data-dir", dst)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "server is running on this data directory")
	cancel()
	require.NoError(t, <-done)

	// The server made an empty instance (no accounts): restore replaces it.
	code, stdout, stderr = run(t, "restore", file, "--data-dir", dst)
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "audit chain intact")
	code, stdout, stderr = run(t, "restore", file, "--data-dir", dst)
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, stderr, "--force")
	code, _, stderr = run(t, "restore", file, "--data-dir", dst, "--force")
	require.Equal(t, 0, code, stderr)
	code, stdout, stderr = run(t, "audit", "verify", "--data-dir", dst)
	assert.Equal(t, 0, code, stdout+stderr)
	assert.True(t, strings.Contains(stdout, "intact"), stdout)
}

// TestLibraryBundleCommands: bundle export --library on one data dir,
// bundle import (dry run, then --yes) on another; a second import changes
// nothing.
func TestLibraryBundleCommands(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	file := filepath.Join(t.TempDir(), "lib.pbz")
	atomic := filepath.Join("..", "..", "shared", "testdata", "atomics", "T1003.001")
	code, stdout, stderr := run(t, "templates", "import-atomics", "--data-dir", src, atomic)
	require.Equal(t, 0, code, stderr)
	code, stdout, stderr = run(t, "bundle", "export", "--library", "--out", file, "--data-dir", src)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `exported [1-9]\d* test templates`, stdout)
	assert.Contains(t, stdout, "detection levels")
	code, stdout, stderr = run(t, "bundle", "import", file, "--dry-run", "--data-dir", dst)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "dry run: nothing was changed")
	assert.Regexp(t, `test templates: [1-9]\d* created`, stdout)
	code, stdout, stderr = run(t, "bundle", "import", file, "--yes", "--data-dir", dst)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout, "committed, 0 changed")
	code, stdout, stderr = run(t, "bundle", "import", file, "--yes", "--data-dir", dst)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "apply: committed, 0 changed", "importing the same library again changes nothing")
}
