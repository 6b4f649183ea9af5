package instancebundle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/settings"
)

// Stored is a backup file in <data-dir>/backups.
type Stored struct {
	Name      string  `json:"name"`
	Size      int64   `json:"size"`
	CreatedAt db.Time `json:"created_at"`
}

// nameLayout is the time part of a stored backup's name (UTC, sortable).
const nameLayout = "20060102T150405.000Z"

var reName = regexp.MustCompile(`^purplebook-backup-(\d{8}T\d{6}\.\d{3}Z)\.pbz$`)

// storeMu makes "back up now" and the schedule take one backup at a time.
var storeMu sync.Mutex

func errNoBackup() error {
	return apperr.New(apperr.ErrNotFound, "backup_not_found", "There is no such backup.")
}

// Store takes a backup into Dir: written to a temporary file there, synced,
// then renamed, so the directory only ever holds complete backups.
func (s *Service) Store(ctx context.Context) (Stored, error) {
	storeMu.Lock()
	defer storeMu.Unlock()
	dir := s.Dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Stored{}, fmt.Errorf("instancebundle: create %s: %w", dir, err)
	}
	at := s.o.Now().UTC()
	name := "purplebook-backup-" + at.Format(nameLayout) + ".pbz"
	tmp, err := os.CreateTemp(dir, ".backup-*.tmp")
	if err != nil {
		return Stored{}, fmt.Errorf("instancebundle: create backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	_, err = s.WriteTo(ctx, bw, nil)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return Stored{}, fmt.Errorf("instancebundle: store backup: %w", err)
	}
	st, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return Stored{}, fmt.Errorf("instancebundle: store backup: %w", err)
	}
	return Stored{Name: name, Size: st.Size(), CreatedAt: db.NewTime(at)}, nil
}

// List returns the stored backups, newest first.
func (s *Service) List() ([]Stored, error) {
	entries, err := os.ReadDir(s.Dir())
	if errors.Is(err, fs.ErrNotExist) {
		return []Stored{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("instancebundle: list backups: %w", err)
	}
	out := []Stored{}
	for _, e := range entries {
		m := reName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		at, err := time.Parse(nameLayout, m[1])
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, Stored{Name: e.Name(), Size: info.Size(), CreatedAt: db.NewTime(at)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name })
	return out, nil
}

// Open opens a stored backup by name (only names Store gives are valid).
func (s *Service) Open(name string) (*os.File, Stored, error) {
	if !reName.MatchString(name) {
		return nil, Stored{}, errNoBackup()
	}
	list, err := s.List()
	if err != nil {
		return nil, Stored{}, err
	}
	for _, b := range list {
		if b.Name == name {
			f, err := os.Open(filepath.Join(s.Dir(), name))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, Stored{}, errNoBackup()
			}
			return f, b, err
		}
	}
	return nil, Stored{}, errNoBackup()
}

// Delete removes a stored backup.
func (s *Service) Delete(name string) error {
	if !reName.MatchString(name) {
		return errNoBackup()
	}
	err := os.Remove(filepath.Join(s.Dir(), name))
	if errors.Is(err, fs.ErrNotExist) {
		return errNoBackup()
	}
	return err
}

// Prune removes all but the newest keep stored backups.
func (s *Service) Prune(keep int) ([]string, error) {
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	for i := keep; i < len(list); i++ {
		if err := os.Remove(filepath.Join(s.Dir(), list[i].Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("instancebundle: prune: %w", err)
		}
		removed = append(removed, list[i].Name)
	}
	return removed, nil
}

// RunDue takes a scheduled backup when one is due under sch (the newest
// stored backup is IntervalHours old or older, or there is none) and then
// keeps the newest Keep. It reports the backup taken, if any.
func (s *Service) RunDue(ctx context.Context, sch settings.Schedule) (*Stored, error) {
	if sch.IntervalHours <= 0 {
		return nil, nil
	}
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	if len(list) > 0 && s.o.Now().Sub(list[0].CreatedAt.Time) < time.Duration(sch.IntervalHours)*time.Hour {
		return nil, nil
	}
	b, err := s.Store(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.Prune(max(sch.Keep, 1)); err != nil {
		return &b, err
	}
	return &b, nil
}

// Schedule runs scheduled backups until ctx ends, looking every minute
// whether one is due (the schedule is read each time: a change applies
// without a restart).
func (s *Service) Schedule(ctx context.Context, sch func(context.Context) (settings.Schedule, error)) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if cur, err := sch(ctx); err != nil {
			slog.Warn("backup_schedule_unreadable", "err", err)
		} else if b, err := s.RunDue(ctx, cur); err != nil {
			slog.Error("backup_scheduled_failed", "err", err)
		} else if b != nil {
			slog.Info("backup_scheduled", "name", b.Name, "size", b.Size)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
