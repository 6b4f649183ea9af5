package app

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMigrateForceAndMistakes: force marks a version without running it
// and clears the dirty flag; wrong actions and arguments say what is
// expected.
func TestMigrateForceAndMistakes(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "migrate", "--data-dir", dir, "up")
	require.Equal(t, 0, code, errOut)
	// The latest version is the number of the newest migration file
	// (numbers may have gaps).
	m := regexp.MustCompile(`schema version (\d+) \(latest (\d+)\), dirty: false, driver: sqlite`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, m[2], m[1])
	latest := m[2]
	code, out, errOut = run(t, "migrate", "--data-dir", dir, "force", latest)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "schema version "+latest+" (latest "+latest+"), dirty: false")

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"sideways"}, `unknown migrate action "sideways"`},
		{[]string{"down"}, "down needs exactly one number"},
		{[]string{"force", "1", "2"}, "force needs exactly one number"},
		{[]string{"force", "-1"}, `force: "-1" is not a non-negative number`},
		{[]string{"force", "9999"}, "9999 is not a schema version of this purplebook"},
	} {
		code, _, errOut := run(t, append([]string{"migrate", "--data-dir", dir}, c.args...)...)
		assert.Equal(t, 1, code, "%v", c.args)
		assert.Contains(t, errOut, c.msg, "%v", c.args)
	}
}

// TestMigrateForceZero: force 0 records that no migration is applied, and
// up then builds the schema from the start (it once recorded a version 0
// that no migration has, and up failed on it for good).
func TestMigrateForceZero(t *testing.T) {
	dir := t.TempDir()
	// A first migration that failed half-way and was repaired by hand: the
	// database is empty again but marked dirty at version 1.
	code, _, errOut := run(t, "migrate", "--data-dir", dir, "version")
	require.Equal(t, 0, code, errOut)
	code, out, errOut := run(t, "migrate", "--data-dir", dir, "force", "0")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "schema version 0 (latest ")
	assert.Contains(t, out, "dirty: false")
	code, out, errOut = run(t, "migrate", "--data-dir", dir, "up")
	require.Equal(t, 0, code, errOut)
	m := regexp.MustCompile(`schema version (\d+) \(latest (\d+)\), dirty: false`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, m[2], m[1], "up ran every migration after force 0")
}

// TestDataDirThatIsAFile: commands that open the database say the data
// directory cannot be created.
func TestDataDirThatIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	code, _, errOut := run(t, "mitre", "sync", "--data-dir", file, "--source", smallBundle(t), "--allow-unverified")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "create data dir")
	code, _, errOut = run(t, "migrate", "--data-dir", file, "up")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not a directory")
}
