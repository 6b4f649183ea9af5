package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// place moves a complete temporary file to its content address. When the
// content is there already (an earlier upload of the same bytes) the
// temporary file is dropped. created reports whether this call made the
// content file, so a failed commit knows whether it may remove it again.
// The temporary file is gone when place returns, whatever the outcome.
func (s *Service) place(tmp, sum string, size int64) (created bool, err error) {
	final := s.contentPath(sum)
	st, err := os.Lstat(final)
	switch {
	case err == nil && st.Mode().IsRegular() && st.Size() == size:
		removeTemp(tmp)
		return false, nil
	case err == nil:
		// Same name, wrong size: a damaged copy. The new one replaces it;
		// other rows reference it, so it counts as not created here.
		slog.Warn("evidence_content_replaced", "sha256", sum, "size_on_disk", st.Size(), "size", size)
	case errors.Is(err, fs.ErrNotExist):
		created = true
	default:
		removeTemp(tmp)
		return false, fmt.Errorf("evidence: stat content: %w", err)
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		removeTemp(tmp)
		return false, fmt.Errorf("evidence: create %s: %w", dir, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		removeTemp(tmp)
		return false, fmt.Errorf("evidence: store content: %w", err)
	}
	syncDir(dir)
	return created, nil
}

// dropIfUnreferenced removes a content file this process just created when
// the row that was to reference it did not commit and no other row names
// it. Runs under s.commit. When in doubt (the query fails) the file stays:
// an orphan wastes space, a missing file loses evidence.
func (s *Service) dropIfUnreferenced(ctx context.Context, sum string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	used, err := referenced(ctx, s.db.Read, sum)
	if err != nil {
		slog.Warn("evidence_cleanup_skipped", "sha256", sum, "err", err)
		return
	}
	if used {
		return
	}
	if err := os.Remove(s.contentPath(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("evidence_cleanup_failed", "sha256", sum, "err", err)
	}
}

func removeTemp(path string) {
	if path == "" {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("evidence_tmp_remove_failed", "file", filepath.Base(path), "err", err)
	}
}

// syncDir makes a rename in dir durable where the platform allows it
// (not on Windows, where directories cannot be opened for sync).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
