package bundle

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/klauspost/compress/flate"
	"hash"
	"io"
	"time"

	"github.com/purplebook/purplebook/app/db"
)

// Header is what a kind says about its bundle; the writer adds the source,
// the entries and the signature.
type Header struct {
	Kind          string
	AppVersion    string
	SchemaVersion int
	CreatedAt     time.Time
	Meta          any // the kind's header, marshalled into manifest.meta
}

// Writer writes a bundle to an io.Writer as it goes: nothing is held whole
// in memory, so a bundle of any size needs the same few hundred kilobytes.
// Entries are written one after the other (Create ends the previous one);
// Close adds manifest.json, signs it into manifest.sig and ends the zip.
// The first error sticks: every later call returns it.
type Writer struct {
	out     *countWriter
	zw      *zip.Writer
	id      *Identity
	hdr     Header
	entries []Entry
	names   map[string]bool
	cur     *entryWriter
	err     error
	closed  bool
}

// countWriter counts the bytes written through it and reports them.
type countWriter struct {
	w        io.Writer
	n        int64
	progress func(int64)
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}

// NewWriter starts a bundle of kind hdr.Kind signed by id. progress, when
// not nil, is called with the bundle's size so far after every write.
func NewWriter(w io.Writer, id *Identity, hdr Header, progress func(written int64)) *Writer {
	cw := &countWriter{w: w, progress: progress}
	zw := zip.NewWriter(cw)
	// Speed over ratio: the level-1 deflater still shrinks JSON and logs
	// several times, at a multiple of the default level's throughput.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	wr := &Writer{out: cw, zw: zw, id: id, hdr: hdr, names: map[string]bool{}}
	if id == nil {
		wr.err = errors.New("bundle: no instance identity to sign with")
	}
	return wr
}

// Written is the number of bytes of the bundle written so far.
func (w *Writer) Written() int64 { return w.out.n }

// entryWriter hashes and counts an entry's content on its way into the zip.
type entryWriter struct {
	path string
	zw   io.Writer
	h    hash.Hash
	n    int64
}

func (e *entryWriter) Write(p []byte) (int, error) {
	n, err := e.zw.Write(p)
	e.h.Write(p[:n])
	e.n += int64(n)
	return n, err
}

// Create starts the entry path; write its content to the returned writer
// before the next Create or Close. compress deflates it; pass false for
// content that is already compressed.
func (w *Writer) Create(path string, compress bool) (io.Writer, error) {
	if err := w.begin(path); err != nil {
		return nil, err
	}
	zf, err := w.zw.CreateHeader(w.fileHeader(path, compress))
	if err != nil {
		w.err = fmt.Errorf("bundle: create %s: %w", path, err)
		return nil, w.err
	}
	w.cur = &entryWriter{path: path, zw: zf, h: sha256.New()}
	return w.cur, nil
}

// begin ends the current entry and claims path for the next.
func (w *Writer) begin(path string) error {
	if err := w.finishEntry(); err != nil {
		return err
	}
	if w.closed {
		return errors.New("bundle: writer closed")
	}
	if !ValidPath(path) || path == ManifestPath || path == SignaturePath {
		w.err = fmt.Errorf("bundle: invalid entry name %q", path)
		return w.err
	}
	if w.names[path] {
		w.err = fmt.Errorf("bundle: entry %q written twice", path)
		return w.err
	}
	w.names[path] = true
	return nil
}

func (w *Writer) fileHeader(path string, compress bool) *zip.FileHeader {
	fh := &zip.FileHeader{Name: path, Method: zip.Store, Modified: w.hdr.CreatedAt.UTC()}
	if compress {
		fh.Method = zip.Deflate
	}
	fh.SetMode(0o644)
	return fh
}

func (w *Writer) finishEntry() error {
	if w.err != nil {
		return w.err
	}
	if w.cur == nil {
		return nil
	}
	w.entries = append(w.entries, Entry{Path: w.cur.path, Size: w.cur.n, SHA256: hex.EncodeToString(w.cur.h.Sum(nil))})
	w.cur = nil
	return nil
}

// WriteJSON writes v as a deflated JSON document.
func (w *Writer) WriteJSON(path string, v any) error {
	ew, err := w.Create(path, true)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(ew, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		w.err = fmt.Errorf("bundle: write %s: %w", path, err)
		return w.err
	}
	if err := bw.Flush(); err != nil {
		w.err = fmt.Errorf("bundle: write %s: %w", path, err)
		return w.err
	}
	return nil
}

// sniffBytes is how much of a file WriteFile looks at to decide whether
// deflating it is worth the time.
const sniffBytes = 64 << 10

// WriteFile copies r into the entry path, stored when its first bytes show
// an already-compressed format (images, archives, video, PDF) or do not
// shrink by a tenth when deflated, deflated otherwise. It returns the
// finished entry (size and sha256 of what was read).
func (w *Writer) WriteFile(path string, r io.Reader) (Entry, error) {
	br := bufio.NewReaderSize(r, sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		w.err = fmt.Errorf("bundle: read %s: %w", path, err)
		return Entry{}, w.err
	}
	ew, err := w.Create(path, Compressible(head))
	if err != nil {
		return Entry{}, err
	}
	buf := make([]byte, 256<<10)
	if _, err := io.CopyBuffer(ew, br, buf); err != nil {
		w.err = fmt.Errorf("bundle: write %s: %w", path, err)
		return Entry{}, w.err
	}
	if err := w.finishEntry(); err != nil {
		return Entry{}, err
	}
	return w.entries[len(w.entries)-1], nil
}

// compressedMagic are the leading bytes of formats that are compressed
// already: deflating them again costs time and saves nothing.
var compressedMagic = [][]byte{
	[]byte("\x89PNG"), []byte("\xff\xd8\xff"), []byte("GIF8"), []byte("PK\x03\x04"), []byte("PK\x05\x06"),
	{0x1f, 0x8b}, []byte("BZh"), []byte("\xfd7zXZ\x00"), []byte("7z\xbc\xaf\x27\x1c"), []byte("Rar!"),
	{0x28, 0xb5, 0x2f, 0xfd}, []byte("%PDF"), []byte("MSCF"), []byte("ID3"), []byte("OggS"), []byte("\x1a\x45\xdf\xa3"),
	[]byte("wOFF"), []byte("wOF2"), {0x04, 0x22, 0x4d, 0x18},
}

// Compressible reports whether content starting with head is worth
// deflating: not a known compressed format, and a sample shrinks by more
// than a tenth at the fastest level.
func Compressible(head []byte) bool {
	if len(head) == 0 {
		return true
	}
	for _, m := range compressedMagic {
		if bytes.HasPrefix(head, m) {
			return false
		}
	}
	// RIFF containers (WebP, AVI, WAV) and ISO media (MP4, MOV, HEIC).
	if len(head) >= 12 && (string(head[0:4]) == "RIFF" && (string(head[8:12]) == "WEBP" || string(head[8:12]) == "AVI ") ||
		string(head[4:8]) == "ftyp") {
		return false
	}
	if len(head) < 512 {
		return true
	}
	var out countOnly
	fw, _ := flate.NewWriter(&out, flate.BestSpeed)
	_, _ = fw.Write(head)
	_ = fw.Close()
	return out.n < int64(len(head))*9/10
}

type countOnly struct{ n int64 }

func (c *countOnly) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// Close ends the last entry, writes manifest.json and manifest.sig and the
// zip's central directory. It does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.finishEntry(); err != nil {
		return err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	m := Manifest{
		FormatVersion: FormatVersion,
		Kind:          w.hdr.Kind,
		AppVersion:    w.hdr.AppVersion,
		SchemaVersion: w.hdr.SchemaVersion,
		CreatedAt:     db.NewTime(w.hdr.CreatedAt).String(),
		Source:        Source{InstanceID: w.id.ID(), InstanceName: w.id.Name(), PublicKey: EncodePublicKey(w.id.Public())},
		Entries:       w.entries,
	}
	if m.Entries == nil {
		m.Entries = []Entry{}
	}
	meta, err := json.Marshal(w.hdr.Meta)
	if err != nil {
		w.err = fmt.Errorf("bundle: manifest meta: %w", err)
		return w.err
	}
	m.Meta = meta
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		w.err = fmt.Errorf("bundle: manifest: %w", err)
		return w.err
	}
	mb = append(mb, '\n')
	sb, err := json.Marshal(Signature{Algorithm: "ed25519", Signature: encodeSig(w.id.Sign(mb))})
	if err != nil {
		w.err = err
		return err
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{ManifestPath, mb}, {SignaturePath, append(sb, '\n')}} {
		fw, err := w.zw.CreateHeader(w.fileHeader(e.name, e.name == ManifestPath))
		if err != nil {
			w.err = fmt.Errorf("bundle: write %s: %w", e.name, err)
			return w.err
		}
		if _, err := fw.Write(e.data); err != nil {
			w.err = fmt.Errorf("bundle: write %s: %w", e.name, err)
			return w.err
		}
	}
	if err := w.zw.Close(); err != nil {
		w.err = fmt.Errorf("bundle: finish zip: %w", err)
		return w.err
	}
	return nil
}
