package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
)

// List returns one page of a test's live evidence, oldest first. The
// mission must be visible to the caller and the test live (else 404).
func (s *Service) List(ctx context.Context, c missions.Caller, missionID, testID string, p db.PageParams) (db.Page[File], error) {
	if !c.Can("evidence.read") {
		return db.Page[File]{}, forbidden("evidence.read")
	}
	if _, err := s.missions.TestAccess(ctx, c, missionID, testID); err != nil {
		return db.Page[File]{}, err
	}
	return listLive(ctx, s.db.Read, testID, p.Normalize())
}

// access finds a live evidence row the caller may see, with its mission and
// the caller's role there. Anything invisible is "No such evidence.".
func (s *Service) access(ctx context.Context, c missions.Caller, id string) (File, string, string, error) {
	f, err := getLive(ctx, s.db.Read, id)
	if err != nil {
		return File{}, "", "", err
	}
	missionID, err := s.missions.TestMission(ctx, f.MissionTestID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return File{}, "", "", errNoEvidence()
		}
		return File{}, "", "", err
	}
	role, err := s.missions.TestAccess(ctx, c, missionID, f.MissionTestID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return File{}, "", "", errNoEvidence()
		}
		return File{}, "", "", err
	}
	return f, missionID, role, nil
}

func errMissing() error {
	return apperr.New(apperr.ErrNotFound, "evidence_missing",
		"The stored file of this evidence is missing or damaged; an administrator can restore it from a backup.")
}

// Open returns an evidence file's metadata and its content, opened for
// reading (the caller closes it). The content is checked to exist with the
// recorded size; a missing or damaged file is logged and answered with
// 404 evidence_missing.
func (s *Service) Open(ctx context.Context, c missions.Caller, id string) (File, *os.File, error) {
	if !c.Can("evidence.read") {
		return File{}, nil, forbidden("evidence.read")
	}
	f, _, _, err := s.access(ctx, c, id)
	if err != nil {
		return File{}, nil, err
	}
	if !validSum(f.SHA256) {
		slog.ErrorContext(ctx, "evidence_damaged", "evidence_id", f.ID, "reason", "sha256 is not lowercase hex")
		return File{}, nil, errMissing()
	}
	path := s.contentPath(f.SHA256)
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		slog.ErrorContext(ctx, "evidence_missing", "evidence_id", f.ID, "sha256", f.SHA256, "path", path)
		return File{}, nil, errMissing()
	}
	if err != nil {
		return File{}, nil, fmt.Errorf("evidence: open content: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return File{}, nil, fmt.Errorf("evidence: stat content: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() != f.Size {
		fh.Close()
		slog.ErrorContext(ctx, "evidence_damaged", "evidence_id", f.ID, "sha256", f.SHA256, "path", path,
			"size", f.Size, "size_on_disk", st.Size())
		return File{}, nil, errMissing()
	}
	return f, fh, nil
}

// Delete soft-deletes evidence: the uploader or a lead of the mission may,
// with the evidence.delete permission. The content file stays: other rows
// may share it, and bundles and backups reference content.
func (s *Service) Delete(ctx context.Context, c missions.Caller, id string) error {
	if !c.Can("evidence.delete") {
		return forbidden("evidence.delete")
	}
	f, missionID, role, err := s.access(ctx, c, id)
	if err != nil {
		return err
	}
	mine := f.UploadedBy != nil && *f.UploadedBy == c.UserID && c.UserID != ""
	if role != missions.RoleLead && !mine {
		return apperr.New(apperr.ErrForbidden, "not_uploader",
			"Only the uploader or a lead of the mission can delete this evidence (your role: %s).", orNone(role)).
			WithDetails(map[string]any{"role": role})
	}
	if err := s.missions.Writable(ctx, c, missionID); err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if err := softDelete(ctx, tx, f.ID, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "evidence.delete", ObjectType: "evidence_file", ObjectID: f.ID,
			Details: map[string]any{"mission_id": missionID, "mission_test_id": f.MissionTestID, "side": f.Side,
				"name": f.OriginalFilename, "sha256": f.SHA256, "size": f.Size}})
	})
	if err == nil {
		s.missions.TestChanged(ctx, c, missionID, f.MissionTestID)
	}
	return err
}
