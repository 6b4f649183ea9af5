// Package datadir owns the hygiene of the data directory: its modes
// (directories 0700, files 0600: the database, its -wal and -shm, the keys,
// the evidence) and the temporary area every process works in,
// <data-dir>/tmp/<run>/, cleared of dead processes' leftovers at start.
//
// Every temporary file of the application lives in that area, never in
// the OS temp directory: a crash leaves it where the next start finds and
// removes it, and renaming a finished file into the data dir stays on one
// filesystem (atomic). Each process (the server, a CLI command) gets its
// own run directory marked with its pid, so processes sharing a data dir
// never remove each other's files; a new process removes the run
// directories whose process is gone: no request can own them any more.
package datadir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// Modes of everything in the data dir.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// Prepare creates the data dir (0700) or tightens an existing one, and
// makes the SQLite database file exist with mode 0600 before SQLite opens
// it: SQLite gives its -wal and -shm files the database file's mode, so the
// three are private from the first byte. dbPath "" skips the database.
func Prepare(dir, dbPath string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create data dir %s: %w", dir, err)
	}
	if err := tighten(dir, DirMode); err != nil {
		return err
	}
	if dbPath == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), DirMode); err != nil {
		return fmt.Errorf("datadir: create %s: %w", filepath.Dir(dbPath), err)
	}
	f, err := os.OpenFile(dbPath, os.O_RDONLY|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("datadir: create %s: %w", dbPath, err)
	}
	_ = f.Close()
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", dbPath + "-journal"} {
		if err := tighten(p, FileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Secure walks the data dir and takes group and other permissions away
// from every directory (to 0700) and regular file (to 0600) that has them,
// as an older version may have left them. Symbolic links are not followed.
// It returns how many it changed. Windows has no such modes: nothing to do.
func Secure(dir string) (int, error) {
	if runtime.GOOS == "windows" {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		want := FileMode
		switch {
		case d.IsDir():
			want = DirMode
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if info.Mode().Perm()&^want != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&want); err != nil {
				return fmt.Errorf("datadir: chmod %s: %w", p, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// tighten removes group and other permissions from one path.
func tighten(p string, want fs.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&^want != 0 {
		if err := os.Chmod(p, st.Mode().Perm()&want); err != nil {
			return fmt.Errorf("datadir: chmod %s: %w", p, err)
		}
	}
	return nil
}

// TempRoot is <data-dir>/tmp, the parent of every process's run directory.
func TempRoot(dataDir string) string { return filepath.Join(dataDir, "tmp") }

// ownerFile holds the pid of the process owning a run directory.
const ownerFile = "owner"

// Temp is one process's temporary area, <data-dir>/tmp/<run>/.
type Temp struct {
	dir    string
	others int
}

// Cleanup is what OpenTemp removed: the run directories of processes that
// are gone, and loose entries of the tmp root.
type Cleanup struct {
	Removed []string // paths removed
	Bytes   int64    // their size
}

// OpenTemp creates this process's temporary area under <data-dir>/tmp and
// removes what processes that are gone left there (everything in the tmp
// root that is not the run directory of a live process). The caller
// closes it at exit.
func OpenTemp(dataDir string) (*Temp, Cleanup, error) {
	var c Cleanup
	root := TempRoot(dataDir)
	if err := os.MkdirAll(root, DirMode); err != nil {
		return nil, c, fmt.Errorf("datadir: create %s: %w", root, err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, c, fmt.Errorf("datadir: read %s: %w", root, err)
	}
	others := 0
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		if e.IsDir() {
			if _, mine := opened.Load(p); mine {
				continue // an area this process opened and still uses
			}
			if pid, ok := owner(p); ok && pid != os.Getpid() && processAlive(pid) {
				others++
				continue // a live process's area
			}
		}
		size := sizeOf(p)
		if err := os.RemoveAll(p); err != nil {
			slog.Warn("tmp_cleanup_failed", "path", p, "err", err)
			continue
		}
		c.Removed = append(c.Removed, p)
		c.Bytes += size
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(root, strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, DirMode); err != nil {
		return nil, c, fmt.Errorf("datadir: create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), FileMode); err != nil {
		return nil, c, fmt.Errorf("datadir: create %s: %w", dir, err)
	}
	opened.Store(dir, true)
	return &Temp{dir: dir, others: others}, c, nil
}

// opened holds the areas this process has open: an area with this
// process's pid that is not among them was left by an earlier process that
// had the same pid (after a reboot) and may go.
var opened sync.Map

func owner(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

func sizeOf(p string) int64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// Dir is the process's temporary directory.
func (t *Temp) Dir() string { return t.dir }

// OthersAlive reports whether other live processes had temporary areas in
// the data dir when this one opened (a CLI command beside the server):
// cleanups that could race with their work must then be careful.
func (t *Temp) OthersAlive() bool { return t.others > 0 }

// CreateTemp creates a new temporary file (0600) in the area; the caller
// removes it (or renames it into place) when done.
func (t *Temp) CreateTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(t.dir, pattern)
	if errors.Is(err, fs.ErrNotExist) { // removed under us: make it again
		if err = os.MkdirAll(t.dir, DirMode); err == nil {
			f, err = os.CreateTemp(t.dir, pattern)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("datadir: temporary file: %w", err)
	}
	return f, nil
}

// Close removes the area and everything still in it.
func (t *Temp) Close() error {
	if t == nil {
		return nil
	}
	opened.Delete(t.dir)
	return os.RemoveAll(t.dir)
}
