package diag

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSystemInfo: disk use of the data dir (evidence apart), free space,
// the database and the backups — none, then two, the latest named.
func TestSystemInfo(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	dir := t.TempDir()
	ctx := context.Background()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret.key"), make([]byte, 32), 0o600))

	st := SystemInfo(ctx, d, dir)
	assert.Equal(t, dir, st.DataDir)
	assert.Equal(t, runtime.GOOS, st.OS)
	assert.True(t, st.Database.Reachable)
	require.NotNil(t, st.DatabaseBytes)
	assert.Positive(t, *st.DatabaseBytes)
	assert.EqualValues(t, 32, st.Disk.DataDirBytes)
	assert.Zero(t, st.Disk.EvidenceFiles)
	assert.Empty(t, st.Disk.Error)
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		require.NotNil(t, st.Disk.FreeBytes)
		require.NotNil(t, st.Disk.TotalBytes)
		assert.LessOrEqual(t, *st.Disk.FreeBytes, *st.Disk.TotalBytes)
	}
	assert.Zero(t, st.Backups.Count, "no backups yet")
	assert.Nil(t, st.Backups.Latest)
	assert.Empty(t, st.Backups.Error, "a missing backups dir is not an error")

	ev := filepath.Join(dir, "evidence", "ab")
	require.NoError(t, os.MkdirAll(ev, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(ev, "abcdef"), make([]byte, 100), 0o600))
	bk := filepath.Join(dir, "backups")
	require.NoError(t, os.MkdirAll(bk, 0o700))
	older, newer := filepath.Join(bk, "a.pbz"), filepath.Join(bk, "b.pbz")
	require.NoError(t, os.WriteFile(older, make([]byte, 10), 0o600))
	require.NoError(t, os.WriteFile(newer, make([]byte, 20), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bk, ".partial"), make([]byte, 5), 0o600))
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(older, base, base.Add(time.Hour)))
	require.NoError(t, os.Chtimes(newer, base, base))

	st = SystemInfo(ctx, d, dir)
	assert.EqualValues(t, 32+100+10+20+5, st.Disk.DataDirBytes)
	assert.EqualValues(t, 100, st.Disk.EvidenceBytes)
	assert.Equal(t, 1, st.Disk.EvidenceFiles)
	assert.Equal(t, 2, st.Backups.Count, "hidden files are not backups")
	assert.EqualValues(t, 30, st.Backups.TotalBytes)
	require.NotNil(t, st.Backups.Latest)
	assert.Equal(t, "a.pbz", st.Backups.Latest.Name, "by modification time")
	assert.Equal(t, "2030-01-02T04:04:05Z", st.Backups.Latest.ModifiedAt)

	missing := SystemInfo(ctx, d, filepath.Join(dir, "nope"))
	assert.NotEmpty(t, missing.Disk.Error)
}
