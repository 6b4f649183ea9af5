package templates

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
)

// Limits on what one Atomic import reads, over all its sources together.
const (
	MaxAtomicEntryBytes = 5 << 20   // one YAML file
	MaxAtomicBytes      = 200 << 20 // expanded: everything decompressed or read
	MaxAtomicEntries    = 20_000    // archive entries (every kind) and YAML files
)

// AtomicCollector reads Atomic Red Team sources — YAML files, zip or tar
// (optionally gzip) archives of an atomics/ tree, directories — and parses
// them, enforcing the limits above across all sources. Every problem with a
// source is an error that rejects the whole import: nothing is written
// until every source has been read and parsed.
type AtomicCollector struct {
	// TempDir holds zip uploads while they are read: the process's area in
	// the data dir, so a crash leaves nothing in the OS temp directory that
	// nobody removes ("" = os.TempDir(), for tests).
	TempDir string

	files    []*AtomicFile
	expanded int64
	entries  int
}

// NewAtomicCollector starts an empty collection whose zip archives are
// spooled in tempDir.
func NewAtomicCollector(tempDir string) *AtomicCollector { return &AtomicCollector{TempDir: tempDir} }

// Files returns the parsed files in the order they were read.
func (c *AtomicCollector) Files() []*AtomicFile { return c.files }

func rejectArchive(code, format string, args ...any) *apperr.Error {
	return apperr.Unprocessable(code, format, args...)
}

// Add reads one source named name (for messages): a YAML file, a zip, a tar
// or a tar.gz, recognised by content, not by name.
func (c *AtomicCollector) Add(name string, r io.Reader) error {
	name = displayName(name)
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(512)
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return c.addZip(name, br)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return rejectArchive("invalid_archive", "%s: not a valid gzip file: %v.", name, err)
		}
		defer zr.Close()
		lr := &limitedReader{c: c, r: zr, name: name}
		inner := bufio.NewReaderSize(lr, 4096)
		ih, _ := inner.Peek(512)
		if isTar(ih) {
			return c.addTar(name, inner)
		}
		return c.addYAML(strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".GZ"), inner, true)
	case isTar(head):
		lr := &limitedReader{c: c, r: br, name: name}
		return c.addTar(name, bufio.NewReader(lr))
	case bytes.HasPrefix(head, []byte("BZh")) || bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")) ||
		bytes.HasPrefix(head, []byte("7z\xbc\xaf\x27\x1c")) || bytes.HasPrefix(head, []byte("Rar!")) ||
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return rejectArchive("unsupported_archive", "%s: this archive format is not supported; send YAML files, a zip or a tar.gz.", name)
	}
	return c.addYAML(name, br, false)
}

func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// addYAML reads and parses one YAML file (bounded by the entry limit).
func (c *AtomicCollector) addYAML(name string, r io.Reader, counted bool) error {
	if err := c.countEntry(name); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxAtomicEntryBytes+1))
	if err != nil {
		return readError(name, err)
	}
	if len(data) > MaxAtomicEntryBytes {
		return entryTooLarge(name)
	}
	if !counted {
		if err := c.addExpanded(name, int64(len(data))); err != nil {
			return err
		}
	}
	return c.parse(name, data)
}

// readFailure is a read error shown as a 422 whose cause stays reachable:
// when the cause is the route's body limit, the HTTP layer answers 413.
type readFailure struct {
	msg   *apperr.Error
	cause error
}

func (e *readFailure) Error() string   { return e.msg.Error() }
func (e *readFailure) Unwrap() []error { return []error{e.msg, e.cause} }

func readError(name string, err error) error {
	return sourceError(err, rejectArchive("invalid_archive", "%s: cannot be read: %v.", name, err))
}

func readTarError(name string, err error) error {
	return sourceError(err, rejectArchive("invalid_archive", "%s: not a valid tar archive: %v.", name, err))
}

// sourceError keeps our own rejections (limits) as they are and wraps
// anything else.
func sourceError(err error, msg *apperr.Error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return &readFailure{msg: msg, cause: err}
}

func entryTooLarge(name string) error {
	return rejectArchive("entry_too_large", "%s is larger than %d MiB; nothing was imported.", name, MaxAtomicEntryBytes>>20).
		WithDetails(map[string]any{"file": name})
}

func (c *AtomicCollector) parse(name string, data []byte) error {
	if bytes.IndexByte(data, 0) >= 0 && !hasUTF16BOM(data) {
		return rejectArchive("invalid_yaml", "%s is not a YAML file, a zip or a tar.gz.", name).WithDetails(map[string]any{"file": name})
	}
	f, err := ParseAtomic(name, data)
	if err != nil {
		return rejectArchive("invalid_yaml", "%s; nothing was imported.", err.Error()).WithDetails(map[string]any{"file": name})
	}
	c.files = append(c.files, f)
	return nil
}

func hasUTF16BOM(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xfe, 0xff}) || bytes.HasPrefix(b, []byte{0xff, 0xfe})
}

func (c *AtomicCollector) countEntry(name string) error {
	c.entries++
	if c.entries > MaxAtomicEntries {
		return rejectArchive("too_many_entries", "%s: more than %d entries; nothing was imported.", name, MaxAtomicEntries)
	}
	return nil
}

func (c *AtomicCollector) addExpanded(name string, n int64) error {
	c.expanded += n
	if c.expanded > MaxAtomicBytes {
		return rejectArchive("archive_too_large", "%s: more than %d MiB once expanded; nothing was imported.", name, MaxAtomicBytes>>20)
	}
	return nil
}

// limitedReader counts decompressed bytes against the collector's budget.
type limitedReader struct {
	c    *AtomicCollector
	r    io.Reader
	name string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		if e := l.c.addExpanded(l.name, int64(n)); e != nil {
			return n, e
		}
	}
	return n, err
}

// ---------------------------------------------------------------------------
// Entry names

// entryPath checks an archive entry name and returns it cleaned (slash
// separated, no leading "./"). Absolute paths and ".." components are
// rejected: nothing is ever extracted, but such an archive is hostile.
func entryPath(archive, name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	show := displayName(name)
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':' && (n[0]|0x20) >= 'a' && (n[0]|0x20) <= 'z') {
		return "", rejectArchive("unsafe_path", "%s: entry %q has an absolute path; nothing was imported.", archive, show).
			WithDetails(map[string]any{"entry": show})
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", rejectArchive("unsafe_path", "%s: entry %q leaves the archive (..); nothing was imported.", archive, show).
				WithDetails(map[string]any{"entry": show})
		}
	}
	if strings.ContainsRune(n, 0) {
		return "", rejectArchive("unsafe_path", "%s: entry %q has a NUL byte in its name; nothing was imported.", archive, show)
	}
	return strings.TrimPrefix(path.Clean("/" + n)[1:], "/"), nil
}

// displayName keeps names printable and short in messages and reports.
func displayName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, n)
	if len(n) > 300 {
		n = n[:300] + "…"
	}
	return n
}

func isYAMLName(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// atomicsIndex is the position of the "atomics" directory in p, or -1.
func atomicsIndex(parts []string) int {
	for i := 0; i < len(parts)-1; i++ {
		if strings.EqualFold(parts[i], "atomics") {
			return i
		}
	}
	return -1
}

// selectYAML picks the Atomic definitions among YAML paths: when some lie
// under an atomics/ directory only those (without atomics/Indexes, the
// upstream aggregate files), else all of them. macOS resource forks
// (__MACOSX/, ._name) are never taken.
func selectYAML(paths []string) []string {
	var candidates, under []string
	for _, p := range paths {
		if !isYAMLName(p) {
			continue
		}
		if ignoredYAML(p) {
			continue
		}
		candidates = append(candidates, p)
		if atomicsIndex(strings.Split(p, "/")) >= 0 {
			under = append(under, p)
		}
	}
	if len(under) > 0 {
		return under
	}
	return candidates
}

// ignoredYAML: macOS resource forks and the upstream aggregate files.
func ignoredYAML(p string) bool {
	parts := strings.Split(p, "/")
	if strings.HasPrefix(parts[len(parts)-1], "._") || containsFold(parts, "__MACOSX") {
		return true
	}
	i := atomicsIndex(parts)
	return i >= 0 && i+2 < len(parts) && strings.EqualFold(parts[i+1], "Indexes")
}

func containsFold(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// zip

func (c *AtomicCollector) addZip(name string, r io.Reader) error {
	tmp, err := os.CreateTemp(c.TempDir, "purplebook-atomics-*.zip")
	if err != nil {
		return fmt.Errorf("templates: atomics: temp file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	n, err := io.Copy(tmp, io.LimitReader(r, MaxAtomicBytes+1))
	if err != nil {
		return readError(name, err)
	}
	if n > MaxAtomicBytes {
		return rejectArchive("archive_too_large", "%s is larger than %d MiB; nothing was imported.", name, MaxAtomicBytes>>20)
	}
	zr, err := zip.NewReader(tmp, n)
	if err != nil {
		return rejectArchive("invalid_archive", "%s: not a valid zip file: %v.", name, err)
	}
	// Check every entry before reading any.
	byPath := map[string]*zip.File{}
	var paths []string
	var declared uint64
	for _, f := range zr.File {
		if err := c.countEntry(name); err != nil {
			return err
		}
		p, err := entryPath(name, f.Name)
		if err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return rejectArchive("unsupported_entry", "%s: entry %q is a symbolic link; nothing was imported.", name, p).
				WithDetails(map[string]any{"entry": p})
		case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			return rejectArchive("unsupported_entry", "%s: entry %q is not a regular file; nothing was imported.", name, p).
				WithDetails(map[string]any{"entry": p})
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			continue
		}
		declared += f.UncompressedSize64
		if declared > MaxAtomicBytes {
			return rejectArchive("archive_too_large", "%s: more than %d MiB once expanded; nothing was imported.", name, MaxAtomicBytes>>20)
		}
		if _, dup := byPath[p]; !dup {
			paths = append(paths, p)
		}
		byPath[p] = f
	}
	selected := selectYAML(paths)
	for _, p := range selected {
		if byPath[p].UncompressedSize64 > MaxAtomicEntryBytes {
			return entryTooLarge(name + "/" + p)
		}
	}
	for _, p := range selected {
		f := byPath[p]
		rc, err := f.Open()
		if err != nil {
			return rejectArchive("invalid_archive", "%s: entry %q cannot be read: %v.", name, p, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, MaxAtomicEntryBytes+1))
		rc.Close()
		if err != nil {
			return rejectArchive("invalid_archive", "%s: entry %q cannot be read: %v.", name, p, err)
		}
		if len(data) > MaxAtomicEntryBytes {
			return entryTooLarge(name + "/" + p)
		}
		if err := c.addExpanded(name, int64(len(data))); err != nil {
			return err
		}
		if err := c.parse(name+"/"+p, data); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// tar

func (c *AtomicCollector) addTar(name string, r io.Reader) error {
	tr := tar.NewReader(r)
	type entry struct {
		path string
		data []byte
	}
	var entries []entry
	var paths []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return readTarError(name, err)
		}
		if err := c.countEntry(name); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		p, err := entryPath(name, h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still use TypeRegA
		case tar.TypeDir:
			continue
		case tar.TypeSymlink:
			return rejectArchive("unsupported_entry", "%s: entry %q is a symbolic link; nothing was imported.", name, p).
				WithDetails(map[string]any{"entry": p})
		case tar.TypeLink:
			return rejectArchive("unsupported_entry", "%s: entry %q is a hard link; nothing was imported.", name, p).
				WithDetails(map[string]any{"entry": p})
		default:
			return rejectArchive("unsupported_entry", "%s: entry %q is not a regular file; nothing was imported.", name, p).
				WithDetails(map[string]any{"entry": p})
		}
		paths = append(paths, p)
		if !isYAMLName(p) || ignoredYAML(p) {
			continue // read past it: the limited reader still counts it
		}
		if h.Size > MaxAtomicEntryBytes {
			return entryTooLarge(name + "/" + p)
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxAtomicEntryBytes+1))
		if err != nil {
			return readTarError(name, err)
		}
		if len(data) > MaxAtomicEntryBytes {
			return entryTooLarge(name + "/" + p)
		}
		entries = append(entries, entry{p, data})
	}
	// Drain trailing padding so the expanded size is complete.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return readTarError(name, err)
	}
	keep := map[string]bool{}
	for _, p := range selectYAML(paths) {
		keep[p] = true
	}
	for _, e := range entries {
		if keep[e.path] {
			if err := c.parse(name+"/"+e.path, e.data); err != nil {
				return err
			}
			delete(keep, e.path) // a path repeated in the tar counts once
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Paths (CLI)

// AddPath reads a file (YAML, zip, tar, tar.gz) or walks a directory for
// YAML files (under atomics/ when there is such a directory, else all of
// them). Symbolic links inside directories are not followed.
func (c *AtomicCollector) AddPath(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", p, err)
	}
	if !st.IsDir() {
		return c.addFile(p, p)
	}
	var rels []string
	err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if fp != p && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isYAMLName(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(p, fp)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", p, err)
	}
	// When p itself is (inside) an atomics directory, everything counts.
	abs, _ := filepath.Abs(p)
	inside := containsFold(strings.Split(filepath.ToSlash(abs), "/"), "atomics")
	sel := selectYAML(rels)
	if inside {
		sel = selectYAML(prefixAll("atomics/", rels))
		for i := range sel {
			sel[i] = strings.TrimPrefix(sel[i], "atomics/")
		}
	}
	sort.Strings(sel)
	for _, rel := range sel {
		fp := filepath.Join(p, filepath.FromSlash(rel))
		if err := c.addFile(fp, fp); err != nil {
			return err
		}
	}
	return nil
}

func prefixAll(prefix string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = prefix + x
	}
	return out
}

func (c *AtomicCollector) addFile(fp, name string) error {
	f, err := os.Open(fp)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", fp, err)
	}
	defer f.Close()
	return c.Add(name, f)
}
