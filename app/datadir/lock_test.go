package datadir

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockSharedExcludesExclusive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1, err := LockShared(dir)
	require.NoError(t, err)
	s2, err := LockShared(dir)
	require.NoError(t, err, "two servers may share a data dir")
	_, err = LockExclusive(dir)
	assert.ErrorIs(t, err, ErrLocked, "a restore refuses while a server runs")
	require.NoError(t, s1.Close())
	_, err = LockExclusive(dir)
	assert.ErrorIs(t, err, ErrLocked, "one server is enough to refuse")
	require.NoError(t, s2.Close())

	x, err := LockExclusive(dir)
	require.NoError(t, err)
	_, err = LockShared(dir)
	assert.ErrorIs(t, err, ErrLocked, "a server refuses to start during a restore")
	require.NoError(t, x.Close())
	s, err := LockShared(dir)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.NoError(t, (*DirLock)(nil).Close())
}
