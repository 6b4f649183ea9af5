package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

// ImportsOptions configure the staging area.
type ImportsOptions struct {
	Root   string // <data-dir>/bundles/staging
	Limits Limits
	TTL    time.Duration // an unapplied import is removed after this long
	Now    func() time.Time
	// Recover is given, at start, the blob hashes an apply had moved into
	// the content store when its process died before the journal was
	// removed; it removes those no row references (evidence's
	// DropIfUnreferenced). May be nil when no kind adopts blobs.
	Recover func(ctx context.Context, sums []string)
}

// DefaultTTL is how long an uploaded bundle waits for its apply.
const DefaultTTL = 2 * time.Hour

// maxPerUser bounds the pending imports of one user; a new upload past it
// discards that user's oldest.
const maxPerUser = 5

// Imports is a process's staging area for bundles being imported: each
// import gets a directory holding the uploaded file and the blobs extracted
// while it was verified, and lives in memory until it is applied,
// discarded or expires. Every process (the server, a CLI import) stages
// under Root/<run id>, marked with its pid, so processes sharing a data dir
// never remove each other's imports; a new process removes the areas of
// processes that are gone, after undoing what an interrupted apply had
// moved into the content store (the journal, see BeginAdopt).
type Imports struct {
	o   ImportsOptions
	dir string
	mu  sync.Mutex
	m   map[string]*Import
}

// Import is one staged bundle.
type Import struct {
	ID        string
	UserID    string
	Dir       string
	CreatedAt time.Time
	ExpiresAt time.Time

	reader *Reader

	mu     sync.Mutex // one plan or apply at a time
	staged map[string]string
	done   bool
	// State is the kind's memory of the import between the dry run and the
	// apply (its report, the options it saw); guarded by Lock.
	State any
}

// journalFile lists the blobs an apply is moving into the content store;
// ownerFile holds the pid of the process owning a staging area.
const (
	journalFile = "adopt.json"
	ownerFile   = "owner"
)

// NewImports creates this process's staging area and clears those of
// processes that are gone: an apply they left interrupted after moving
// blobs is recovered through o.Recover first.
func NewImports(ctx context.Context, o ImportsOptions) (*Imports, error) {
	if o.Root == "" {
		return nil, errors.New("bundle: no staging directory")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		return nil, errors.New("bundle: no clock")
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits
	}
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, fmt.Errorf("bundle: create %s: %w", o.Root, err)
	}
	runs, err := os.ReadDir(o.Root)
	if err != nil {
		return nil, fmt.Errorf("bundle: read %s: %w", o.Root, err)
	}
	for _, run := range runs {
		p := filepath.Join(o.Root, run.Name())
		if run.IsDir() {
			if b, err := os.ReadFile(filepath.Join(p, ownerFile)); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != os.Getpid() && processAlive(pid) {
					continue // another live process's area
				}
			}
			recoverArea(ctx, p, o.Recover)
		}
		if err := os.RemoveAll(p); err != nil {
			slog.Warn("bundle_staging_cleanup_failed", "path", p, "err", err)
		}
	}
	dir := filepath.Join(o.Root, db.NewID())
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle: create staging: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("bundle: create staging: %w", err)
	}
	return &Imports{o: o, dir: dir, m: map[string]*Import{}}, nil
}

// recoverArea undoes the interrupted applies of a dead process's area.
func recoverArea(ctx context.Context, area string, rec func(context.Context, []string)) {
	imports, err := os.ReadDir(area)
	if err != nil {
		return
	}
	for _, e := range imports {
		if !e.IsDir() {
			continue
		}
		sums, err := readJournal(filepath.Join(area, e.Name(), journalFile))
		if err != nil || len(sums) == 0 {
			continue
		}
		slog.Warn("bundle_apply_interrupted", "import_id", e.Name(), "blobs", len(sums))
		if rec != nil {
			rec(ctx, sums)
		}
	}
}

// Close removes this process's staging area (every pending import).
func (im *Imports) Close() {
	im.mu.Lock()
	var all []*Import
	for _, imp := range im.m {
		all = append(all, imp)
	}
	im.mu.Unlock()
	for _, imp := range all {
		im.Discard(imp)
	}
	if err := os.RemoveAll(im.dir); err != nil {
		slog.Warn("bundle_staging_cleanup_failed", "path", im.dir, "err", err)
	}
}

func readJournal(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sums []string
	if err := json.Unmarshal(b, &sums); err != nil {
		return nil, err
	}
	out := sums[:0]
	for _, s := range sums {
		if ValidSHA256(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Limits are the reader limits of this staging area.
func (im *Imports) Limits() Limits { return im.o.Limits }

func (im *Imports) newImport(userID string) (*Import, error) {
	id := db.NewID()
	dir := filepath.Join(im.dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle: create staging: %w", err)
	}
	now := im.o.Now()
	return &Import{ID: id, UserID: userID, Dir: dir, CreatedAt: now, ExpiresAt: now.Add(im.o.TTL), staged: map[string]string{}}, nil
}

// Receive streams an uploaded bundle into a new staging directory, at most
// limit bytes (more is a 413 and leaves nothing), then opens and checks it
// (Open's checks). The caller verifies the content next (Stage).
func (im *Imports) Receive(ctx context.Context, userID string, body io.Reader, limit int64) (*Import, error) {
	im.Sweep()
	imp, err := im.newImport(userID)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			imp.remove()
		}
	}()
	path := filepath.Join(imp.Dir, "bundle.pbz")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bundle: create upload: %w", err)
	}
	n, err := io.CopyBuffer(f, io.LimitReader(body, limit+1), make([]byte, 256<<10))
	cerr := f.Close()
	if err != nil {
		return nil, &ReadError{Err: err}
	}
	if cerr != nil {
		return nil, fmt.Errorf("bundle: write upload: %w", cerr)
	}
	if n > limit {
		return nil, apperr.New(apperr.ErrTooLarge, "too_large", "The bundle is larger than the limit of %d bytes.", limit).
			WithDetails(map[string]any{"limit_bytes": limit})
	}
	if n == 0 {
		return nil, &apperr.Invalid{Message: "The bundle file is empty.", Fields: map[string]string{"file": "is empty"}}
	}
	r, err := Open(path, im.o.Limits)
	if err != nil {
		return nil, err
	}
	imp.reader = r
	im.add(imp)
	ok = true
	return imp, nil
}

// ReadError is a failure to read the upload from the client.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "bundle: read upload: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// OpenFile stages a bundle that is a file already (the CLI): it is read in
// place, not copied.
func (im *Imports) OpenFile(ctx context.Context, userID, path string) (*Import, error) {
	im.Sweep()
	r, err := Open(path, im.o.Limits)
	if err != nil {
		return nil, err
	}
	imp, err := im.newImport(userID)
	if err != nil {
		r.Close()
		return nil, err
	}
	imp.reader = r
	im.add(imp)
	return imp, nil
}

func (im *Imports) add(imp *Import) {
	im.mu.Lock()
	var mine []*Import
	for _, o := range im.m {
		if o.UserID == imp.UserID {
			mine = append(mine, o)
		}
	}
	im.m[imp.ID] = imp
	im.mu.Unlock()
	if len(mine) >= maxPerUser {
		sort.Slice(mine, func(i, j int) bool { return mine[i].CreatedAt.Before(mine[j].CreatedAt) })
		for _, o := range mine[:len(mine)-maxPerUser+1] {
			im.Discard(o)
		}
	}
}

func errNoImport() error {
	return apperr.New(apperr.ErrNotFound, "import_not_found",
		"No such import: it was applied or discarded already, or it expired (uploads wait %s). Upload the bundle again.", DefaultTTL)
}

// Get returns the caller's pending import.
func (im *Imports) Get(id, userID string) (*Import, error) {
	im.Sweep()
	im.mu.Lock()
	defer im.mu.Unlock()
	imp, ok := im.m[id]
	if !ok || imp.UserID != userID {
		return nil, errNoImport()
	}
	return imp, nil
}

// Discard removes an import and its staging directory. An import in use
// (Lock held) is removed when its user releases it.
func (im *Imports) Discard(imp *Import) {
	im.mu.Lock()
	delete(im.m, imp.ID)
	im.mu.Unlock()
	imp.mu.Lock()
	defer imp.mu.Unlock()
	imp.done = true
	imp.remove()
}

// Sweep discards expired imports.
func (im *Imports) Sweep() {
	now := im.o.Now()
	im.mu.Lock()
	var old []*Import
	for _, imp := range im.m {
		if now.After(imp.ExpiresAt) {
			old = append(old, imp)
		}
	}
	im.mu.Unlock()
	for _, imp := range old {
		if imp.mu.TryLock() { // in use: the next sweep takes it
			imp.mu.Unlock()
			slog.Info("bundle_import_expired", "import_id", imp.ID)
			im.Discard(imp)
		}
	}
}

// Pending counts the imports waiting (tests, diagnostics).
func (im *Imports) Pending() int {
	im.mu.Lock()
	defer im.mu.Unlock()
	return len(im.m)
}

func (imp *Import) remove() {
	if imp.reader != nil {
		imp.reader.Close()
	}
	if err := os.RemoveAll(imp.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("bundle_staging_cleanup_failed", "path", imp.Dir, "err", err)
	}
}

// Lock takes the import for a plan or an apply; it fails when the import
// was discarded meanwhile.
func (imp *Import) Lock() error {
	imp.mu.Lock()
	if imp.done {
		imp.mu.Unlock()
		return errNoImport()
	}
	return nil
}

// Unlock releases it.
func (imp *Import) Unlock() { imp.mu.Unlock() }

// Reader is the opened bundle.
func (imp *Import) Reader() *Reader { return imp.reader }

// Stage verifies every entry of the bundle (Reader.Verify) and extracts
// those need selects into the staging directory, named by their sha256.
// Staged files are flushed to disk before Stage returns, so an apply can
// move them into place and commit; the flushes run in the background
// while the next entries are read, so they overlap with the extraction.
func (imp *Import) Stage(ctx context.Context, need func(Entry) bool, progress func(int64)) error {
	dir := filepath.Join(imp.Dir, "staged")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bundle: create staging: %w", err)
	}
	// Entries are verified and staged on two goroutines (inflating and
	// hashing gigabytes is CPU work), and each staged file is fsynced on
	// the flusher's while the next ones are read.
	flush := newFlusher(2)
	var mu sync.Mutex // imp.staged
	err := imp.reader.VerifyConcurrent(ctx, stageWorkers, func(e Entry) (io.Writer, func(error) error, error) {
		if need == nil || !need(e) {
			return nil, nil, nil
		}
		mu.Lock()
		_, ok := imp.staged[e.SHA256]
		mu.Unlock()
		if ok {
			return nil, nil, nil
		}
		p := filepath.Join(dir, e.SHA256)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("bundle: stage %s: %w", e.Path, err)
		}
		return f, func(err error) error {
			if err != nil {
				// Damaged: never staged (a retry must not trust the copy).
				f.Close()
				os.Remove(p)
				return nil
			}
			mu.Lock()
			imp.staged[e.SHA256] = p
			mu.Unlock()
			flush.add(f)
			return nil
		}, nil
	}, progress)
	if ferr := flush.wait(); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// stageWorkers is how many entries Stage verifies at once.
var stageWorkers = min(2, max(1, runtime.NumCPU()))

// flusher fsyncs and closes files on a few goroutines.
type flusher struct {
	ch   chan *os.File
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	once sync.Once
}

func newFlusher(workers int) *flusher {
	f := &flusher{ch: make(chan *os.File, 64)}
	for range workers {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for file := range f.ch {
				err := file.Sync()
				if cerr := file.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					f.mu.Lock()
					if f.err == nil {
						f.err = fmt.Errorf("bundle: flush staged file: %w", err)
					}
					f.mu.Unlock()
				}
			}
		}()
	}
	return f
}

func (f *flusher) add(file *os.File) { f.ch <- file }

func (f *flusher) wait() error {
	f.once.Do(func() { close(f.ch) })
	f.wg.Wait()
	return f.err
}

// Staged returns the staged copy of the blob with this sha256.
func (imp *Import) Staged(sum string) (string, bool) {
	p, ok := imp.staged[sum]
	return p, ok
}

// BeginAdopt records, durably, the blobs an apply is about to move into the
// content store, so that a crash before its commit can be undone at the
// next start (NewImports → Recover). EndAdopt removes the record.
func (imp *Import) BeginAdopt(sums []string) error {
	if len(sums) == 0 {
		return nil
	}
	b, _ := json.Marshal(sums)
	p := filepath.Join(imp.Dir, journalFile)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("bundle: write journal: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("bundle: write journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("bundle: write journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bundle: write journal: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("bundle: write journal: %w", err)
	}
	syncDir(imp.Dir)
	return nil
}

// EndAdopt removes the journal once the apply committed or was undone.
func (imp *Import) EndAdopt() {
	if err := os.Remove(filepath.Join(imp.Dir, journalFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("bundle_journal_remove_failed", "import_id", imp.ID, "err", err)
	}
}

// syncDir makes renames in dir durable where the platform allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
