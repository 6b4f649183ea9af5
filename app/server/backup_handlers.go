package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/uptrace/bunrouter"
)

// recordBackup audits a backup action: a backup carries everything, so
// every download, creation and deletion is in the trail.
func (s *Server) recordBackup(req bunrouter.Request, action, name string) error {
	return audit.Record(req.Context(), s.opts.DB.Write, db.NewTime(s.opts.Now()), principal(req).Actor(meta(req)),
		audit.Event{Action: action, ObjectType: "backup", ObjectID: name})
}

// downloadBackup streams a fresh backup of the instance: one read snapshot
// while the server goes on serving, never held whole in memory.
func (s *Server) downloadBackup(w http.ResponseWriter, req bunrouter.Request) error {
	name := "purplebook-backup-" + s.opts.Now().UTC().Format("20060102T150405Z") + ".pbz"
	if err := s.recordBackup(req, "backup.download", name); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", BundleContentType)
	h.Set("Content-Disposition", contentDisposition("attachment", name))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := s.opts.Backups.WriteTo(req.Context(), w, nil); err != nil {
		slog.ErrorContext(req.Context(), "backup_download_failed", "err", err)
		// The status is sent: abort, so the client sees a broken download
		// rather than a short file.
		panic(http.ErrAbortHandler)
	}
	return nil
}

type backupList struct {
	Items     []instancebundle.Stored `json:"items"`
	Schedule  settings.Schedule       `json:"schedule"`
	Directory string                  `json:"directory"`
}

func (s *Server) listBackups(w http.ResponseWriter, req bunrouter.Request) error {
	items, err := s.opts.Backups.List()
	if err != nil {
		return err
	}
	sch, err := s.opts.Settings.BackupSchedule(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, backupList{Items: items, Schedule: sch, Directory: s.opts.Backups.Dir()})
}

// createBackup takes a backup into <data-dir>/backups now ("back up now").
func (s *Server) createBackup(w http.ResponseWriter, req bunrouter.Request) error {
	var in struct{}
	if err := decodeOptionalJSON(req, &in); err != nil {
		return err
	}
	b, err := s.opts.Backups.Store(req.Context())
	if err != nil {
		return err
	}
	if err := s.recordBackup(req, "backup.create", b.Name); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, b)
}

func (s *Server) downloadStoredBackup(w http.ResponseWriter, req bunrouter.Request) error {
	f, b, err := s.opts.Backups.Open(req.Param("name"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.recordBackup(req, "backup.download", b.Name); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", BundleContentType)
	h.Set("Content-Disposition", contentDisposition("attachment", b.Name))
	h.Set("Content-Length", strconv.FormatInt(b.Size, 10))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		return errResponseWritten
	}
	return nil
}

func (s *Server) deleteBackup(w http.ResponseWriter, req bunrouter.Request) error {
	name := req.Param("name")
	if err := s.opts.Backups.Delete(name); err != nil {
		return err
	}
	if err := s.recordBackup(req, "backup.delete", name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) putBackupSchedule(w http.ResponseWriter, req bunrouter.Request) error {
	var in json.RawMessage
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	sch, err := s.opts.Settings.PutBackupSchedule(req.Context(), principal(req).Actor(meta(req)), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sch)
}
