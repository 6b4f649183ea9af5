package diag

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/db"
)

// System is the answer of GET /api/v1/system: what an administrator needs
// to know about this instance's installation.
type System struct {
	Version   string   `json:"version"`
	GoVersion string   `json:"go_version"`
	OS        string   `json:"os"`
	Arch      string   `json:"arch"`
	DataDir   string   `json:"data_dir"`
	Disk      Disk     `json:"disk"`
	Database  DBStatus `json:"database"`
	// DatabaseBytes is the database's size as the engine reports it (for
	// PostgreSQL it lives on the database server, not in the data dir).
	DatabaseBytes *int64  `json:"database_bytes"`
	Backups       Backups `json:"backups"`
}

// Disk is the data directory's use of its file system.
type Disk struct {
	DataDirBytes  int64 `json:"data_dir_bytes"` // every file under the data dir
	EvidenceBytes int64 `json:"evidence_bytes"` // under evidence/
	EvidenceFiles int   `json:"evidence_files"`
	// Free and total space of the file system holding the data dir; null
	// when the platform does not say.
	FreeBytes  *uint64 `json:"free_bytes"`
	TotalBytes *uint64 `json:"total_bytes"`
	Error      string  `json:"error,omitempty"` // the data dir could not be read completely
}

// Backups describes <data-dir>/backups. Count 0 means no backup exists yet.
type Backups struct {
	Dir        string      `json:"dir"`
	Count      int         `json:"count"`
	TotalBytes int64       `json:"total_bytes"`
	Latest     *BackupFile `json:"latest"`
	Error      string      `json:"error,omitempty"`
}

// BackupFile is one file in the backups directory.
type BackupFile struct {
	Name       string `json:"name"`
	Bytes      int64  `json:"bytes"`
	ModifiedAt string `json:"modified_at"` // RFC 3339, UTC
}

// SystemInfo gathers the system status. Problems reading the disk are
// reported in the result, not as errors (like Database).
func SystemInfo(ctx context.Context, d *db.DB, dataDir string) System {
	st := System{Version: BuildVersion(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		DataDir: dataDir, Database: Database(ctx, d)}
	if st.Database.Reachable {
		if n, err := d.Size(ctx); err == nil {
			st.DatabaseBytes = &n
		}
	}
	st.Disk = diskUse(ctx, dataDir)
	if free, total, ok := diskSpace(dataDir); ok {
		st.Disk.FreeBytes, st.Disk.TotalBytes = &free, &total
	}
	st.Backups = backups(filepath.Join(dataDir, "backups"))
	return st
}

// diskUse sums the sizes of the regular files under dir (symbolic links
// are not followed).
func diskUse(ctx context.Context, dir string) Disk {
	var u Disk
	evidence := filepath.Join(dir, "evidence") + string(filepath.Separator)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			u.Error = "some files could not be read"
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		u.DataDirBytes += info.Size()
		if strings.HasPrefix(path, evidence) {
			u.EvidenceBytes += info.Size()
			u.EvidenceFiles++
		}
		return nil
	})
	if err != nil {
		u.Error = "the data directory could not be read"
	}
	return u
}

func backups(dir string) Backups {
	b := Backups{Dir: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			b.Error = "the backups directory could not be read"
		}
		return b
	}
	var files []BackupFile
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, BackupFile{Name: e.Name(), Bytes: info.Size(), ModifiedAt: info.ModTime().UTC().Format("2006-01-02T15:04:05Z07:00")})
		b.TotalBytes += info.Size()
	}
	b.Count = len(files)
	if len(files) > 0 {
		sort.Slice(files, func(i, j int) bool { return files[i].ModifiedAt > files[j].ModifiedAt })
		b.Latest = &files[0]
	}
	return b
}
