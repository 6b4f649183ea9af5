package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
)

// ReadError is a failure to read the upload from the client: a dropped
// connection, a malformed multipart body, the request's body limit. It is
// not a server fault; it wraps the reader's error.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "evidence: read upload: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Upload is one evidence upload in progress: Begin checks the caller may
// upload, ReadFile streams the content to a temporary file, SetSide and
// SetCaption take the form fields (before or after the file), Commit
// stores it. Always defer Discard: it removes the temporary file unless
// Commit consumed it.
type Upload struct {
	s         *Service
	c         missions.Caller
	missionID string
	testID    string
	role      string
	max       int64

	side, caption string
	sideSet       bool
	captionSet    bool

	tmp     string // temporary file, "" when none
	hasFile bool
	sum     string
	size    int64
	ctype   string
	name    string
}

func forbidden(perm string) error {
	return apperr.New(apperr.ErrForbidden, "forbidden", "You need the %q permission to do this.", perm).
		WithDetails(map[string]any{"permission": perm})
}

// uploadAccess checks that c may add evidence to the test now: the
// permission, the mission visible and the test live (else 404), a role that
// works on tests (viewers only look), and a mission that is not archived.
func (s *Service) uploadAccess(ctx context.Context, c missions.Caller, missionID, testID string) (string, error) {
	if !c.Can("evidence.upload") {
		return "", forbidden("evidence.upload")
	}
	role, err := s.missions.TestAccess(ctx, c, missionID, testID)
	if err != nil {
		return "", err
	}
	if roles := []string{missions.RoleLead, missions.RoleRed, missions.RoleBlue}; !slices.Contains(roles, role) {
		return "", apperr.New(apperr.ErrForbidden, "role_required",
			"In this mission your role is %s; uploading evidence needs lead, red or blue.", orNone(role)).
			WithDetails(map[string]any{"role": role, "roles": roles})
	}
	if err := s.missions.Writable(ctx, c, missionID); err != nil {
		return "", err
	}
	return role, nil
}

func orNone(r string) string {
	if r == "" {
		return "none"
	}
	return r
}

// Begin starts an upload to a mission test. It checks access before any
// byte of the file is read, and reads the size limit for this upload.
func (s *Service) Begin(ctx context.Context, c missions.Caller, missionID, testID string) (*Upload, error) {
	role, err := s.uploadAccess(ctx, c, missionID, testID)
	if err != nil {
		return nil, err
	}
	max, err := s.limits.EvidenceMaxBytes(ctx)
	if err != nil {
		return nil, fmt.Errorf("evidence: size limit: %w", err)
	}
	return &Upload{s: s, c: c, missionID: missionID, testID: testID, role: role, max: max}, nil
}

// Limit is the largest file this upload accepts, in bytes.
func (u *Upload) Limit() int64 { return u.max }

// HasFile reports whether ReadFile has received the content.
func (u *Upload) HasFile() bool { return u.hasFile }

func tooLarge(max int64) error {
	return apperr.New(apperr.ErrTooLarge, "too_large", "The file is larger than the evidence size limit of %s.", humanBytes(max)).
		WithDetails(map[string]any{"limit_bytes": max})
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// copyBuf is the streaming buffer: memory per upload stays at this size
// whatever the file's.
const copyBuf = 256 << 10

// ReadFile streams the file's content from r to a temporary file (0600)
// while computing its sha256, sniffing its type from the first 512 bytes
// (the client's claim is ignored) and enforcing the size limit. name is the
// client's file name, kept only as sanitised metadata. On any failure the
// temporary file is removed: an oversized upload leaves nothing on disk.
// Errors reading r come back as *ReadError.
func (u *Upload) ReadFile(r io.Reader, name string) (err error) {
	if u.hasFile || u.tmp != "" {
		return apperr.BadRequest("invalid_multipart", "Send exactly one file part.")
	}
	f, err := os.CreateTemp(u.s.tmp, "upload-*")
	if errors.Is(err, fs.ErrNotExist) { // the tmp directory was removed under us
		if err = os.MkdirAll(u.s.tmp, 0o700); err == nil {
			f, err = os.CreateTemp(u.s.tmp, "upload-*")
		}
	}
	if err != nil {
		return fmt.Errorf("evidence: create temporary file: %w", err)
	}
	u.tmp = f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			removeTemp(u.tmp)
			u.tmp = ""
		}
	}()

	h := sha256.New()
	head := make([]byte, 0, 512)
	buf := make([]byte, copyBuf)
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > u.max {
				return tooLarge(u.max)
			}
			if len(head) < cap(head) {
				head = append(head, buf[:min(k, cap(head)-len(head))]...)
			}
			h.Write(buf[:k])
			if _, werr := f.Write(buf[:k]); werr != nil {
				return fmt.Errorf("evidence: write temporary file: %w", werr)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return &ReadError{Err: rerr}
		}
	}
	if n == 0 {
		return &apperr.Invalid{Message: "The file is empty.", Fields: map[string]string{"file": "is empty"}}
	}
	// Durable before it can be renamed into place and referenced by a row.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("evidence: sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("evidence: close temporary file: %w", err)
	}
	u.hasFile = true
	u.sum = hex.EncodeToString(h.Sum(nil))
	u.size = n
	u.ctype = http.DetectContentType(head)
	u.name = SanitizeFilename(name)
	return nil
}

// SetSide takes the side field: red or blue. Red members may only add red
// evidence and blue members only blue; leads either.
func (u *Upload) SetSide(v string) error {
	v = strings.TrimSpace(v)
	if v != SideRed && v != SideBlue {
		return &apperr.Invalid{Message: "side must be red or blue.", Fields: map[string]string{"side": "must be red or blue"}}
	}
	if (u.role == missions.RoleRed || u.role == missions.RoleBlue) && v != u.role {
		return apperr.New(apperr.ErrForbidden, "field_forbidden",
			"You may not set side to %s in this mission (your role: %s; you can add %s evidence only).", v, u.role, u.role).
			WithDetails(map[string]any{"fields": []string{"side"}, "role": u.role})
	}
	u.side, u.sideSet = v, true
	return nil
}

// SetCaption takes the caption field (at most 500 characters).
func (u *Upload) SetCaption(v string) error {
	v = strings.TrimSpace(v)
	switch {
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return &apperr.Invalid{Fields: map[string]string{"caption": "must be valid text"}}
	case utf8.RuneCountInString(v) > maxCaption:
		return &apperr.Invalid{Fields: map[string]string{"caption": fmt.Sprintf("must be at most %d characters", maxCaption)}}
	}
	u.caption, u.captionSet = v, true
	return nil
}

// defaultSide: blue members add blue evidence, everyone else red.
func (u *Upload) defaultSide() string {
	if u.role == missions.RoleBlue {
		return SideBlue
	}
	return SideRed
}

// Commit stores the upload: the content at its address (deduplicated), the
// row and its audit event in one transaction. If the transaction fails, a
// content file this upload created and no row references is removed.
func (u *Upload) Commit(ctx context.Context) (File, error) {
	if !u.hasFile {
		return File{}, &apperr.Invalid{Message: `Attach the file as the "file" part.`, Fields: map[string]string{"file": "is required"}}
	}
	if u.tmp == "" {
		return File{}, fmt.Errorf("evidence: upload committed twice")
	}
	s := u.s
	// The upload may have taken minutes: check again that the test is live,
	// the mission writable and the caller still a member who may upload.
	role, err := s.uploadAccess(ctx, u.c, u.missionID, u.testID)
	if err != nil {
		return File{}, err
	}
	u.role = role
	if !u.sideSet {
		u.side = u.defaultSide()
	} else if err := u.SetSide(u.side); err != nil {
		return File{}, err
	}
	f := File{ID: db.NewID(), MissionTestID: u.testID, Side: u.side, OriginalFilename: u.name, ContentType: u.ctype,
		Size: u.size, SHA256: u.sum, Caption: u.caption}
	if u.c.UserID != "" {
		by := u.c.UserID
		f.UploadedBy = &by
	}

	s.commit.Lock()
	defer s.commit.Unlock()
	created, err := s.place(u.tmp, u.sum, u.size)
	u.tmp = "" // place consumed it
	if err != nil {
		return File{}, err
	}
	now := s.nowTime()
	f.CreatedAt = now
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		if s.failTx != nil {
			if err := s.failTx(); err != nil {
				return err
			}
		}
		if err := insertFile(ctx, tx, f, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, u.c.Actor, audit.Event{Action: "evidence.upload", ObjectType: "evidence_file", ObjectID: f.ID,
			Details: map[string]any{"mission_id": u.missionID, "mission_test_id": u.testID, "side": f.Side,
				"name": f.OriginalFilename, "sha256": f.SHA256, "size": f.Size, "content_type": f.ContentType,
				"deduplicated": !created}})
	})
	if err != nil {
		if created {
			s.dropIfUnreferenced(ctx, u.sum)
		}
		return File{}, err
	}
	s.missions.TestChanged(ctx, u.c, u.missionID, u.testID)
	return f, nil
}

// Discard removes the temporary file unless Commit consumed it. Safe to
// call more than once.
func (u *Upload) Discard() {
	if u == nil {
		return
	}
	removeTemp(u.tmp)
	u.tmp = ""
}
