package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

var fileColumns = []string{"id", "mission_test_id", "side", "original_filename", "content_type", "size", "sha256",
	"caption", "uploaded_by", "created_at"}

func errNoEvidence() error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such evidence.")
}

// getLive returns a live (not deleted) evidence row.
func getLive(ctx context.Context, b dbx.Builder, id string) (File, error) {
	var f File
	if !db.ValidID(id) {
		return f, errNoEvidence()
	}
	err := b.Select(fileColumns...).From("evidence_files").Where(dbx.HashExp{"id": id, "deleted_at": nil}).
		WithContext(ctx).One(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return f, errNoEvidence()
	}
	if err != nil {
		return f, fmt.Errorf("evidence: get: %w", err)
	}
	return f, nil
}

func insertFile(ctx context.Context, tx *dbx.Tx, f File, now db.Time) error {
	var by any
	if f.UploadedBy != nil {
		by = *f.UploadedBy
	}
	_, err := tx.Insert("evidence_files", dbx.Params{
		"id": f.ID, "mission_test_id": f.MissionTestID, "side": f.Side, "original_filename": f.OriginalFilename,
		"content_type": f.ContentType, "size": f.Size, "sha256": f.SHA256, "caption": f.Caption, "uploaded_by": by,
		"created_at": now, "updated_at": now,
	}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("evidence: insert: %w", err)
	}
	return nil
}

// listLive returns one page of a test's live evidence, oldest first.
func listLive(ctx context.Context, b dbx.Builder, testID string, p db.PageParams) (db.Page[File], error) {
	where := dbx.HashExp{"mission_test_id": testID, "deleted_at": nil}
	var total int
	if err := b.Select("COUNT(*)").From("evidence_files").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[File]{}, fmt.Errorf("evidence: count: %w", err)
	}
	var items []File
	if err := b.Select(fileColumns...).From("evidence_files").Where(where).OrderBy("created_at", "id").
		Limit(int64(p.PerPage)).Offset(p.Offset()).WithContext(ctx).All(&items); err != nil {
		return db.Page[File]{}, fmt.Errorf("evidence: list: %w", err)
	}
	return db.NewPage(items, total, p), nil
}

// softDelete marks a live row deleted; a row deleted meanwhile is not found.
func softDelete(ctx context.Context, tx *dbx.Tx, id string, now db.Time) error {
	res, err := tx.Update("evidence_files", dbx.Params{"deleted_at": now, "updated_at": now},
		dbx.HashExp{"id": id, "deleted_at": nil}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("evidence: delete: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errNoEvidence()
	}
	return nil
}

// referenced reports whether any row, live or deleted, names the content:
// deleted rows keep their content for bundles and backups.
func referenced(ctx context.Context, b dbx.Builder, sum string) (bool, error) {
	var n int
	if err := b.Select("COUNT(*)").From("evidence_files").Where(dbx.HashExp{"sha256": sum}).
		WithContext(ctx).Row(&n); err != nil {
		return false, fmt.Errorf("evidence: count references: %w", err)
	}
	return n > 0, nil
}
