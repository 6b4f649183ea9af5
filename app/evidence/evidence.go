// Package evidence keeps the files attached to mission tests: screenshots,
// logs, captures. Metadata lives in evidence_files; contents live on disk,
// content-addressed by sha256 under <data-dir>/evidence/ab/cdef… (the first
// two hex digits name the directory), so identical uploads share one file.
//
// Uploads stream to a temporary file in the process's temporary area of the
// data dir (<data-dir>/tmp/<run>, see app/datadir) while the hash is computed: nothing is ever held whole in memory, an upload over the
// size limit leaves nothing behind, and a content file appears at its final
// name only complete (fsync, then an atomic rename).
//
// The package uses net/http for one pure function only,
// http.DetectContentType (the WHATWG sniffing algorithm); it has no HTTP
// handlers.
package evidence

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
)

// MaxLimit is the largest evidence_max_bytes the settings accept (8 GiB); an
// upload route's body limit must be at least this plus room for the
// multipart framing and fields.
const MaxLimit int64 = 8 << 30

// Sides of a test an evidence file belongs to.
const (
	SideRed  = "red"
	SideBlue = "blue"
)

// maxCaption is the longest caption, in characters.
const maxCaption = 500

// Limits reads the size limit per upload, so a changed setting applies to
// the next request (auth.Service implements it).
type Limits interface {
	EvidenceMaxBytes(ctx context.Context) (int64, error)
}

// Options are the service's dependencies.
type Options struct {
	DB       *db.DB
	Missions *missions.Service
	Limits   Limits
	DataDir  string           // evidence lives in DataDir/evidence
	TempDir  string           // uploads are spooled here (same filesystem as DataDir)
	Now      func() time.Time // nil = time.Now
}

// Service is the evidence capability.
type Service struct {
	db       *db.DB
	missions *missions.Service
	limits   Limits
	now      func() time.Time
	root     string // <data-dir>/evidence
	tmp      string // the process's temporary area

	// commit serialises "place the content file, insert the row, remove the
	// file again if the insert failed" within this process, so a failed
	// upload never removes a file that a concurrent upload of the same bytes
	// has just decided to reuse.
	commit sync.Mutex

	// failTx, when set (tests), makes the commit transaction fail.
	failTx func() error
}

// New builds the service and creates the evidence directory (0700). The
// temporary uploads an older version kept in <data-dir>/evidence/tmp are
// removed: no request can own them now.
func New(o Options) (*Service, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("evidence: no data directory")
	}
	if o.TempDir == "" {
		return nil, fmt.Errorf("evidence: no temporary directory")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	root := filepath.Join(o.DataDir, "evidence")
	s := &Service{db: o.DB, missions: o.Missions, limits: o.Limits, now: o.Now, root: root, tmp: o.TempDir}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("evidence: create %s: %w", root, err)
	}
	legacy := filepath.Join(root, "tmp")
	if _, err := os.Lstat(legacy); err == nil {
		if err := os.RemoveAll(legacy); err != nil {
			slog.Warn("evidence_tmp_cleanup_failed", "dir", legacy, "err", err)
		} else {
			slog.Info("evidence_tmp_removed", "dir", legacy)
		}
	}
	return s, nil
}

// nowTime is the service clock's current time as the database keeps it.
func (s *Service) nowTime() db.Time { return db.NewTime(s.now()) }

// Dir is the directory holding the content files (for backups and bundles).
func (s *Service) Dir() string { return s.root }

// contentPath is where the content with hash sum lives. sum must pass
// validSum: it becomes part of a path.
func (s *Service) contentPath(sum string) string {
	return filepath.Join(s.root, sum[:2], sum[2:])
}

// validSum reports whether sum is a sha256 in lowercase hex, the only form
// that may name a content file (rows can also arrive from bundles).
func validSum(sum string) bool {
	if len(sum) != 64 {
		return false
	}
	for i := 0; i < len(sum); i++ {
		if c := sum[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// File is an evidence file's metadata.
type File struct {
	ID               string  `json:"id" db:"id"`
	MissionTestID    string  `json:"mission_test_id" db:"mission_test_id"`
	Side             string  `json:"side" db:"side"`
	OriginalFilename string  `json:"original_filename" db:"original_filename"`
	ContentType      string  `json:"content_type" db:"content_type"` // sniffed from the content
	Size             int64   `json:"size" db:"size"`
	SHA256           string  `json:"sha256" db:"sha256"`
	Caption          string  `json:"caption" db:"caption"`
	UploadedBy       *string `json:"uploaded_by" db:"uploaded_by"`
	CreatedAt        db.Time `json:"created_at" db:"created_at"`
}
