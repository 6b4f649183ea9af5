package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LockFile is <data-dir>/purplebook.lock. Every server running on the data
// dir holds a shared lock on it for its whole life; a restore holds an
// exclusive one while it rebuilds the instance. So a restore refuses while
// a server runs there, and a server refuses to start during a restore.
// The locks are the operating system's (flock, LockFileEx): a process that
// dies, however, releases them, so nothing stale is ever left to clean up.
const LockFile = "purplebook.lock"

// ErrLocked means another process holds the data dir's lock in a mode
// that excludes the one asked for.
var ErrLocked = errors.New("datadir: locked by another process")

// DirLock is a held lock on a data dir.
type DirLock struct {
	f *os.File
}

// LockShared takes the data dir's lock in shared mode (a server: several
// may share a data dir, a restore may not run beside any). It fails at
// once with ErrLocked when a restore holds it.
func LockShared(dataDir string) (*DirLock, error) { return lock(dataDir, false) }

// LockExclusive takes the data dir's lock in exclusive mode (a restore).
// It fails at once with ErrLocked when a server (or another restore) holds
// it.
func LockExclusive(dataDir string) (*DirLock, error) { return lock(dataDir, true) }

func lock(dataDir string, exclusive bool) (*DirLock, error) {
	if err := os.MkdirAll(dataDir, DirMode); err != nil {
		return nil, fmt.Errorf("datadir: create %s: %w", dataDir, err)
	}
	f, err := os.OpenFile(filepath.Join(dataDir, LockFile), os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("datadir: open lock: %w", err)
	}
	if err := flock(f, exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return &DirLock{f: f}, nil
}

// Close releases the lock.
func (l *DirLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the lock
	l.f = nil
	return err
}
