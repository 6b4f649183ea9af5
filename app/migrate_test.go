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
	} {
		code, _, errOut := run(t, append([]string{"migrate", "--data-dir", dir}, c.args...)...)
		assert.Equal(t, 1, code, "%v", c.args)
		assert.Contains(t, errOut, c.msg, "%v", c.args)
	}
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
