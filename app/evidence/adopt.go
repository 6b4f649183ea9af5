package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Staged is a complete, verified file waiting to become evidence content
// (a blob extracted from a bundle): its content hashes to SHA256.
type Staged struct {
	Path   string
	SHA256 string
	Size   int64
}

// HasContent reports whether the content with this hash is stored with
// this size.
func (s *Service) HasContent(sum string, size int64) bool {
	if !validSum(sum) {
		return false
	}
	st, err := os.Lstat(s.contentPath(sum))
	return err == nil && st.Mode().IsRegular() && st.Size() == size
}

// OpenContent opens stored content for reading (bundle exports). A missing
// file or one of another size is evidence_missing.
func (s *Service) OpenContent(sum string, size int64) (*os.File, error) {
	if !validSum(sum) {
		return nil, errMissing()
	}
	f, err := os.Open(s.contentPath(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errMissing()
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: open content: %w", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		f.Close()
		return nil, errMissing()
	}
	return f, nil
}

// Adopt puts staged files into the content store, then runs commit (the
// transaction inserting the rows that name them), all under the lock that
// evidence uploads take, so no upload can decide to reuse a file that a
// failed adopt then removes. Content already stored is left as it is
// (the staged copy stays where it was). When commit fails, the content
// files Adopt created that no row references are removed again.
//
// A crash between the moves and the commit leaves content no row names:
// the caller journals the hashes first (bundle.Import.BeginAdopt), and
// DropUnreferenced removes them at the next start.
func (s *Service) Adopt(ctx context.Context, files []Staged, commit func() error) error {
	s.commit.Lock()
	defer s.commit.Unlock()
	var created []string
	for _, f := range files {
		if !validSum(f.SHA256) {
			return fmt.Errorf("evidence: adopt: invalid sha256 %q", f.SHA256)
		}
		if s.HasContent(f.SHA256, f.Size) {
			continue
		}
		if err := s.moveIn(f); err != nil {
			for _, sum := range created {
				s.dropIfUnreferenced(ctx, sum)
			}
			return err
		}
		created = append(created, f.SHA256)
	}
	if err := commit(); err != nil {
		for _, sum := range created {
			s.dropIfUnreferenced(ctx, sum)
		}
		return err
	}
	return nil
}

// moveIn links a staged file to its content address (the staged copy stays
// until its import is discarded, so a failed apply can be retried), or
// copies it there (through the temporary directory, then an atomic rename)
// when linking is not possible (another file system).
func (s *Service) moveIn(f Staged) error {
	final := s.contentPath(f.SHA256)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("evidence: create %s: %w", dir, err)
	}
	if err := os.Link(f.Path, final); err == nil {
		syncDir(dir)
		return nil
	}
	src, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("evidence: store content: %w", err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(s.tmp, "adopt-*")
	if err != nil {
		return fmt.Errorf("evidence: store content: %w", err)
	}
	n, err := io.Copy(tmp, src)
	if err == nil && n != f.Size {
		err = fmt.Errorf("staged file has %d bytes, want %d", n, f.Size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		removeTemp(tmp.Name())
		return fmt.Errorf("evidence: store content: %w", err)
	}
	syncDir(dir)
	return nil
}

// DropUnreferenced removes the content files of these hashes that no
// evidence row names: the recovery of an apply that moved content in and
// died before committing.
func (s *Service) DropUnreferenced(ctx context.Context, sums []string) {
	s.commit.Lock()
	defer s.commit.Unlock()
	for _, sum := range sums {
		if validSum(sum) {
			s.dropIfUnreferenced(ctx, sum)
		}
	}
}
