package datadir

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenTempClearsDeadProcessesOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := TempRoot(dir)
	mk := func(name string, pid int) string {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(p, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(p, ownerFile), []byte(strconv.Itoa(pid)), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(p, "upload-1"), []byte("data"), 0o600))
		return p
	}
	dead := mk("1-dead", 99_999_999)
	live := mk("2-live", os.Getppid()) // the go tool that runs us
	noOwner := filepath.Join(root, "no-owner")
	require.NoError(t, os.MkdirAll(noOwner, 0o700))
	stray := filepath.Join(root, "purplebook-atomics-1.zip")
	require.NoError(t, os.WriteFile(stray, []byte("PK"), 0o600))

	tmp, cleaned, err := OpenTemp(dir)
	require.NoError(t, err)
	assert.NoDirExists(t, dead)
	assert.NoDirExists(t, noOwner)
	assert.NoFileExists(t, stray)
	assert.DirExists(t, live, "a live process's area is left alone")
	assert.True(t, tmp.OthersAlive())
	assert.Len(t, cleaned.Removed, 3)
	assert.EqualValues(t, len("99999999")+len("data")+len("PK"), cleaned.Bytes)

	f, err := tmp.CreateTemp("upload-*")
	require.NoError(t, err)
	f.Close()
	assert.Equal(t, tmp.Dir(), filepath.Dir(f.Name()))
	// Opening a second area in this process leaves the first alone; an
	// area with this process's pid that it did not open (an earlier
	// process with the same pid, before a reboot) goes.
	reused := mk(strconv.Itoa(os.Getpid())+"-earlier", os.Getpid())
	tmp2, _, err := OpenTemp(dir)
	require.NoError(t, err)
	assert.DirExists(t, tmp.Dir())
	assert.NoDirExists(t, reused)
	require.NoError(t, tmp2.Close())
	require.NoError(t, tmp.Close())
	assert.NoDirExists(t, tmp.Dir())
}

func TestPrepareAndSecure(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "evidence", "ab"), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "evidence", "ab", "cd"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "purplebook.db-wal"), nil, 0o644))
	require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "link")))
	db := filepath.Join(dir, "purplebook.db")
	require.NoError(t, Prepare(dir, db))
	st, err := os.Stat(db)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), "created private")
	st, err = os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), st.Mode().Perm())
	st, err = os.Stat(db + "-wal")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())

	n, err := Secure(dir)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "evidence/, evidence/ab/ and the file")
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		assert.Equal(t, want, info.Mode().Perm(), p)
		return nil
	}))
	st, err = os.Stat("/etc/hostname")
	if err == nil {
		assert.NotEqual(t, fs.FileMode(0o600), st.Mode().Perm()&0o077|0o600, "links are not followed")
	}
	n, err = Secure(dir)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to tighten")
}
