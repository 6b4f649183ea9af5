package app

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb, func(k string) string {
		if k == "HOME" {
			return t.TempDir()
		}
		return ""
	})
	return code, out.String(), errb.String()
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := run(t, "version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "purplebook ")
	assert.Contains(t, out, "sqlite")

	code, out, _ = run(t, "--help")
	assert.Equal(t, 0, code)
	for _, c := range []string{"serve", "migrate", "user", "service", "version"} {
		assert.Contains(t, out, c)
	}
	for _, c := range [][]string{{"serve", "--help"}, {"migrate", "--help"}, {"version", "--help"}, {"user", "--help"}} {
		code, _, errOut := run(t, c...)
		assert.Equal(t, 0, code, "%v", c)
		assert.Contains(t, errOut, "Usage", "%v", c)
	}
	code, _, errOut := run(t, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "unknown command")
	code, _, _ = run(t, "serve", "--listen")
	assert.Equal(t, 2, code, "flag without value")
}

func TestMigrateCommands(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "migrate", "--data-dir", dir, "up")
	require.Equal(t, 0, code, errOut)
	m := regexp.MustCompile(`schema version (\d+) \(latest (\d+)\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, m[2], m[1], "at the latest version")
	assert.FileExists(t, filepath.Join(dir, "purplebook.db"))
	code, out, _ = run(t, "migrate", "--data-dir", dir, "version")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "dirty: false")
	// Down by the number of migrations (versions have gaps).
	ups, err := fs.Glob(schema.SQLite, "sqlite/*.up.sql")
	require.NoError(t, err)
	code, out, errOut = run(t, "migrate", "--data-dir", dir, "down", strconv.Itoa(len(ups)))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "schema version 0")
	code, _, errOut = run(t, "migrate", "--data-dir", dir, "down", "x")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not a non-negative number")
	code, _, _ = run(t, "migrate", "--data-dir", dir)
	assert.Equal(t, 2, code)
}

func TestPostgresURLNeedsTag(t *testing.T) {
	if slices.Contains(db.Available(), db.Postgres) {
		t.Skip("this test binary has PostgreSQL support")
	}
	code, _, errOut := run(t, "migrate", "--data-dir", t.TempDir(), "--db", "postgres://u:secret@localhost/x", "version")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "rebuild with -tags postgres")
	assert.NotContains(t, errOut, "secret")
}

func TestUserCreateAdminFromStdin(t *testing.T) {
	dir := t.TempDir()
	stdin = strings.NewReader("a long enough password 1\n")
	defer func() { stdin = os.Stdin }()
	code, out, errOut := run(t, "user", "create-admin", "--data-dir", dir, "--email", "ops@example.com", "--name", "Ops")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "created administrator ops@example.com")

	stdin = strings.NewReader("short\n")
	code, _, errOut = run(t, "user", "reset-password", "--data-dir", dir, "--email", "ops@example.com")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "password")

	stdin = strings.NewReader("another long password 2\n")
	code, out, errOut = run(t, "user", "reset-password", "--data-dir", dir, "--email", "ops@example.com")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "password of ops@example.com changed")
}
