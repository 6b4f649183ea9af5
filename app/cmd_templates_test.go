package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplatesImportAtomicsCommand(t *testing.T) {
	dir := t.TempDir()
	atomics := filepath.Join("..", "..", "shared", "testdata", "atomics")

	code, out, errOut := run(t, "templates", "import-atomics", "--data-dir", dir, atomics)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Imported 13 files, 236 Atomic tests in ")
	assert.Contains(t, out, "236 created, 0 updated, 0 unchanged, 0 skipped")
	assert.Contains(t, out, "T1112       90 tests:  90 created")
	assert.Contains(t, out, "catalogue is empty")
	assert.Contains(t, out, "… and ")

	// Again, one file given directly and the directory: all unchanged, as JSON.
	code, out, errOut = run(t, "templates", "import-atomics", "--data-dir", dir, "--json",
		filepath.Join(atomics, "T1566.001", "T1566.001.yaml"), filepath.Join(atomics, "T1027"))
	require.Equal(t, 0, code, errOut)
	var rep struct {
		Files, Tests, Created, Updated, Unchanged int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, 2, rep.Files)
	assert.Equal(t, 13, rep.Tests)
	assert.Equal(t, 13, rep.Unchanged)
	assert.Zero(t, rep.Created+rep.Updated)

	// Errors name the file; nothing is imported.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("atomic_tests:\n - [\n"), 0o600))
	code, _, errOut = run(t, "templates", "import-atomics", "--data-dir", dir, bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "bad.yaml: line")
	code, _, errOut = run(t, "templates", "import-atomics", "--data-dir", dir, filepath.Join(dir, "missing"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "missing")

	code, _, errOut = run(t, "templates", "import-atomics", "--data-dir", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "at least one PATH")
	code, _, errOut = run(t, "templates")
	assert.Equal(t, 2, code)
	assert.True(t, strings.Contains(errOut, "Usage: purplebook templates import-atomics"))
	code, _, _ = run(t, "templates", "--help")
	assert.Equal(t, 0, code)
	code, _, errOut = run(t, "templates", "frob")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unknown templates action")
}
