package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The same block seen by two test binaries is counted once, covered when
// either ran it.
const profile = `mode: set
example.com/m/app/a/a.go:1.1,2.1 3 1
example.com/m/app/a/a.go:3.1,4.1 1 0
example.com/m/app/b/b.go:1.1,2.1 4 1
example.com/m/app/a/a.go:1.1,2.1 3 0
example.com/m/app/a/a.go:3.1,4.1 1 0
example.com/m/app/c/c.go:1.1,2.1 2 0
`

func TestSummariseMergesBinaries(t *testing.T) {
	pkgs, err := summarise(strings.NewReader(profile))
	require.NoError(t, err)
	require.Len(t, pkgs, 3)
	assert.Equal(t, pkgCover{name: "example.com/m/app/c", stmts: 2, covered: 0}, pkgs[0])
	assert.Equal(t, pkgCover{name: "example.com/m/app/a", stmts: 4, covered: 3}, pkgs[1])
	assert.Equal(t, pkgCover{name: "example.com/m/app/b", stmts: 4, covered: 4}, pkgs[2])

	_, err = summarise(strings.NewReader("mode: set\nnot a profile line\n"))
	assert.Error(t, err)
}

func TestRunFlagsPackagesUnderMinimum(t *testing.T) {
	file := t.TempDir() + "/cover.out"
	require.NoError(t, writeFile(file, profile))
	var out bytes.Buffer
	assert.Equal(t, 1, run([]string{"-min", "70", file}, &out, &out))
	assert.Contains(t, out.String(), "under 70%: example.com/m/app/c")
	assert.NotContains(t, out.String(), "under 70%: example.com/m/app/c, ")

	out.Reset()
	assert.Equal(t, 0, run([]string{"-min", "70", "-exclude", "app/c", file}, &out, &out))
	assert.Contains(t, out.String(), "under 70% but exempt: example.com/m/app/c")
}

func writeFile(name, s string) error { return os.WriteFile(name, []byte(s), 0o644) }
