package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/purplebook/purplebook/app/audit"
)

// GCOptions steer a garbage collection of content files.
type GCOptions struct {
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// MinAge spares content files modified more recently than this: with
	// another process sharing the data dir (the server beside a CLI run),
	// an upload there may have placed its file and not yet committed the
	// row. At server start, with no other process, 0 is safe.
	MinAge time.Duration
	// Actor is recorded in the audit event of a collection that removed
	// something.
	Actor audit.Actor
}

// GCReport is what a collection found and did.
type GCReport struct {
	DryRun     bool     `json:"dry_run"`
	Scanned    int      `json:"scanned"`      // content files looked at
	Referenced int      `json:"referenced"`   // of them named by a row (live or deleted)
	Orphans    []string `json:"orphans"`      // sha256 of files no row names
	OrphanSize int64    `json:"orphan_bytes"` // their total size
	Removed    int      `json:"removed"`      // orphans removed (0 in a dry run)
	Recent     int      `json:"recent"`       // orphans spared for being newer than MinAge
	Foreign    []string `json:"foreign"`      // files in evidence/ that are not content files (left alone)
	Missing    []string `json:"missing"`      // sha256 named by rows whose file is absent
}

// GC removes content files that no evidence row (live or soft-deleted)
// names: what a crash between placing a file and committing its row leaves
// behind. It runs under the upload lock, so no upload of this process can
// interleave; files of other processes are protected by MinAge. A run that
// removed something is audited with the hashes removed.
func (s *Service) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	rep := GCReport{DryRun: o.DryRun, Orphans: []string{}, Foreign: []string{}, Missing: []string{}}
	s.commit.Lock()
	defer s.commit.Unlock()
	var sums []string
	if err := s.db.Read.NewQuery("SELECT DISTINCT sha256 FROM evidence_files").WithContext(ctx).Column(&sums); err != nil {
		return rep, fmt.Errorf("evidence: gc: list rows: %w", err)
	}
	named := make(map[string]bool, len(sums))
	for _, x := range sums {
		named[x] = true
	}
	onDisk := map[string]bool{}
	cutoff := s.now().Add(-o.MinAge)
	var removed []string
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		if d.IsDir() {
			if p == s.root {
				return nil
			}
			if len(rel) == 2 && isHex(rel) {
				return nil
			}
			rep.Foreign = append(rep.Foreign, filepath.ToSlash(rel)+"/")
			return fs.SkipDir
		}
		dir, name := filepath.Split(rel)
		sum := filepath.Clean(dir) + name
		if !d.Type().IsRegular() || !validSum(sum) || len(name) != 62 {
			rep.Foreign = append(rep.Foreign, filepath.ToSlash(rel))
			return nil
		}
		rep.Scanned++
		onDisk[sum] = true
		if named[sum] {
			rep.Referenced++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rep.Orphans = append(rep.Orphans, sum)
		rep.OrphanSize += info.Size()
		if info.ModTime().After(cutoff) {
			rep.Recent++
			return nil
		}
		if o.DryRun {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("evidence: gc: remove %s: %w", sum, err)
		}
		removed = append(removed, sum)
		return nil
	})
	rep.Removed = len(removed)
	for x := range named {
		if !onDisk[x] {
			rep.Missing = append(rep.Missing, x)
		}
	}
	sort.Strings(rep.Missing)
	if err != nil {
		return rep, fmt.Errorf("evidence: gc: %w", err)
	}
	if len(removed) > 0 {
		shown := removed
		if len(shown) > 100 {
			shown = shown[:100]
		}
		if err := audit.Record(ctx, s.db.Write, s.nowTime(), o.Actor, audit.Event{Action: "evidence.gc", ObjectType: "evidence_file",
			Details: map[string]any{"removed": len(removed), "sha256": shown}}); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
