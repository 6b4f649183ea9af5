package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/purplebook/purplebook/app/db"
)

// Reader is an opened bundle whose structure, manifest and signature have
// been checked. Entry contents are checked as they are read: Verify reads
// them all; OpenEntry and ReadJSON check the one they read.
type Reader struct {
	f        *os.File
	zr       *zip.Reader
	size     int64
	lim      Limits
	manifest Manifest
	raw      []byte // manifest.json as signed
	pub      ed25519.PublicKey
	files    map[string]*zip.File
	entries  map[string]Entry
	verified bool
}

// Open opens the bundle file at path and checks, before anything of it is
// used: that it is a zip; that every entry name is a plain relative path
// (no absolute or ".." paths, no backslashes, no directories, symlinks or
// other special files, no duplicates, no encryption, stored or deflated
// only); the limits on entry count and declared sizes; the manifest (format
// version, kind, source) and its signature by the key it names; and that
// the manifest lists exactly the other entries with their declared sizes.
// Every refusal is a 422 (*apperr.Error) saying why.
func Open(path string, lim Limits) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("bundle: stat: %w", err)
	}
	r, err := NewReader(f, st.Size(), lim)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

// NewReader is Open over any io.ReaderAt of the given size.
func NewReader(ra io.ReaderAt, size int64, lim Limits) (*Reader, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, Invalid("bundle_not_zip", "", "This is not a Purplebook bundle: the file is not a readable zip archive.")
	}
	// klauspost's inflater reads deflate about twice as fast as the
	// standard library's (the decompression of the logs in a bundle was
	// the largest per-byte cost of an import).
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
	r := &Reader{zr: zr, size: size, lim: lim, files: map[string]*zip.File{}}
	if err := r.checkStructure(); err != nil {
		return nil, err
	}
	if err := r.readManifest(); err != nil {
		return nil, err
	}
	return r, nil
}

// Close releases the file (when Open opened it).
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Manifest returns the checked manifest.
func (r *Reader) Manifest() Manifest { return r.manifest }

// PublicKey is the key that signed the bundle (the one its manifest names).
func (r *Reader) PublicKey() ed25519.PublicKey { return r.pub }

// Fingerprint is the signing key's fingerprint.
func (r *Reader) Fingerprint() string { return Fingerprint(r.pub) }

// Size is the size of the bundle file.
func (r *Reader) Size() int64 { return r.size }

// Has reports whether the manifest lists path.
func (r *Reader) Has(path string) bool { _, ok := r.entries[path]; return ok }

// Entry returns the manifest's entry for path.
func (r *Reader) Entry(path string) (Entry, bool) { e, ok := r.entries[path]; return e, ok }

func (r *Reader) checkStructure() error {
	if len(r.zr.File) > r.lim.MaxEntries {
		return Invalid("bundle_too_many_entries", "", "The bundle has %d entries; at most %d are accepted.", len(r.zr.File), r.lim.MaxEntries)
	}
	var total uint64
	for _, f := range r.zr.File {
		name := f.Name
		switch {
		case !ValidPath(name):
			return Invalid("bundle_bad_path", name, "The bundle contains an entry with a name that is not allowed (absolute, \"..\", backslash or unexpected characters): %q.", printable(name))
		case f.Mode()&fs.ModeSymlink != 0:
			return Invalid("bundle_symlink", name, "The bundle contains a symbolic link (%s); bundles hold plain files only.", printable(name))
		case f.Mode().IsDir() || !f.Mode().IsRegular():
			return Invalid("bundle_special_file", name, "The bundle contains a directory or special file (%s); bundles hold plain files only.", printable(name))
		case f.Flags&0x1 != 0:
			return Invalid("bundle_encrypted", name, "The bundle contains an encrypted entry (%s).", printable(name))
		case f.Method != zip.Store && f.Method != zip.Deflate:
			return Invalid("bundle_compression", name, "The entry %s uses an unsupported compression method.", printable(name))
		}
		if _, dup := r.files[name]; dup {
			return Invalid("bundle_duplicate_entry", name, "The bundle contains the entry %s twice.", printable(name))
		}
		if f.UncompressedSize64 > uint64(r.lim.MaxEntryBytes) {
			return Invalid("bundle_entry_too_large", name, "The entry %s is larger than the limit of %d bytes.", printable(name), r.lim.MaxEntryBytes)
		}
		total += f.UncompressedSize64
		if total > uint64(r.lim.MaxTotalBytes) {
			return Invalid("bundle_too_large", "", "The bundle's content is larger than the limit of %d bytes.", r.lim.MaxTotalBytes)
		}
		r.files[name] = f
	}
	return nil
}

// readSmall reads a whole entry of at most max bytes, checking that it
// inflates to exactly its declared size.
func (r *Reader) readSmall(f *zip.File, max int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(max) {
		return nil, Invalid("bundle_entry_too_large", f.Name, "The entry %s is larger than the limit of %d bytes.", f.Name, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, Invalid("bundle_entry_unreadable", f.Name, "The entry %s cannot be read: %v.", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil || int64(len(b)) != int64(f.UncompressedSize64) {
		return nil, Invalid("bundle_entry_corrupt", f.Name, "The entry %s is damaged: its content does not match its size.", f.Name)
	}
	return b, nil
}

func (r *Reader) readManifest() error {
	mf, ok := r.files[ManifestPath]
	if !ok {
		return Invalid("bundle_no_manifest", "", "This is not a Purplebook bundle: it has no manifest.json.")
	}
	raw, err := r.readSmall(mf, r.lim.MaxManifestBytes)
	if err != nil {
		return err
	}
	// The format version first, on its own: a newer format may change
	// anything else, and deserves "upgrade", not "malformed".
	var head struct {
		FormatVersion *int   `json:"format_version"`
		AppVersion    string `json:"app_version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.FormatVersion == nil {
		return Invalid("bundle_bad_manifest", ManifestPath, "The bundle's manifest.json is not a Purplebook manifest.")
	}
	if *head.FormatVersion > FormatVersion {
		return Invalid("bundle_too_new", "",
			"This bundle was made by Purplebook %s (bundle format %d); this Purplebook reads format %d and older: upgrade Purplebook to import it.",
			printable(head.AppVersion), *head.FormatVersion, FormatVersion).
			WithDetails(map[string]any{"reason": "bundle_too_new", "app_version": printable(head.AppVersion),
				"format_version": *head.FormatVersion, "supported_format_version": FormatVersion})
	}
	if *head.FormatVersion < 1 {
		return Invalid("bundle_bad_manifest", ManifestPath, "The bundle's format version %d is not valid.", *head.FormatVersion)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Invalid("bundle_bad_manifest", ManifestPath, "The bundle's manifest.json is malformed: %v.", err)
	}
	if !slices.Contains(Kinds, m.Kind) {
		return Invalid("bundle_bad_manifest", ManifestPath, "The bundle is of an unknown kind %q.", printable(m.Kind))
	}
	if !db.ValidID(m.Source.InstanceID) {
		return Invalid("bundle_bad_manifest", ManifestPath, "The bundle's source instance id is not valid.")
	}
	pub, err := ParsePublicKey(m.Source.PublicKey)
	if err != nil {
		return Invalid("bundle_bad_manifest", ManifestPath, "The bundle's source public key is not valid: %v.", err)
	}
	// The signature, over the exact bytes read.
	sf, ok := r.files[SignaturePath]
	if !ok {
		return Invalid("bundle_unsigned", "", "The bundle is not signed (manifest.sig is missing).")
	}
	sraw, err := r.readSmall(sf, 4<<10)
	if err != nil {
		return err
	}
	var sig Signature
	if err := json.Unmarshal(sraw, &sig); err != nil || sig.Algorithm != "ed25519" {
		return Invalid("bundle_signature_invalid", SignaturePath, "The bundle's signature is malformed or not ed25519.")
	}
	sb, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || len(sb) != ed25519.SignatureSize || !ed25519.Verify(pub, raw, sb) {
		return Invalid("bundle_signature_invalid", SignaturePath,
			"The bundle's signature does not match its manifest: the bundle was changed after it was signed, or signed by another key.")
	}
	// Entries: exactly the other files of the zip, with their sizes.
	r.entries = make(map[string]Entry, len(m.Entries))
	for _, e := range m.Entries {
		switch {
		case !ValidPath(e.Path) || e.Path == ManifestPath || e.Path == SignaturePath:
			return Invalid("bundle_bad_manifest", e.Path, "The manifest lists an entry with a name that is not allowed: %q.", printable(e.Path))
		case !ValidSHA256(e.SHA256):
			return Invalid("bundle_bad_manifest", e.Path, "The manifest's sha256 of %s is not valid.", e.Path)
		case e.Size < 0:
			return Invalid("bundle_bad_manifest", e.Path, "The manifest's size of %s is negative.", e.Path)
		}
		if _, dup := r.entries[e.Path]; dup {
			return Invalid("bundle_bad_manifest", e.Path, "The manifest lists %s twice.", e.Path)
		}
		f, ok := r.files[e.Path]
		if !ok {
			return Invalid("bundle_missing_entry", e.Path, "The bundle lacks %s, which its manifest lists.", e.Path)
		}
		if f.UncompressedSize64 != uint64(e.Size) {
			return Invalid("bundle_entry_corrupt", e.Path, "The entry %s is damaged: its size differs from the manifest's.", e.Path)
		}
		r.entries[e.Path] = e
	}
	for name := range r.files {
		if _, listed := r.entries[name]; !listed && name != ManifestPath && name != SignaturePath {
			return Invalid("bundle_unlisted_entry", name, "The bundle contains %s, which its manifest does not list.", printable(name))
		}
	}
	r.manifest, r.raw, r.pub = m, raw, pub
	return nil
}

// verifyingReader reads one entry, at most its declared size, and fails at
// the end when the size or the sha256 differs from the manifest's.
type verifyingReader struct {
	rc   io.ReadCloser
	e    Entry
	h    hash.Hash
	n    int64
	done bool
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.done {
		return 0, io.EOF
	}
	if rem := v.e.Size - v.n + 1; int64(len(p)) > rem {
		p = p[:rem] // one byte more than declared reveals an overlong entry
	}
	n, err := v.rc.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if v.n > v.e.Size {
		return 0, Invalid("bundle_entry_corrupt", v.e.Path, "The entry %s is damaged: it is longer than the manifest says.", v.e.Path)
	}
	if errors.Is(err, io.EOF) {
		v.done = true
		if v.n != v.e.Size || hex.EncodeToString(v.h.Sum(nil)) != v.e.SHA256 {
			return n, Invalid("bundle_entry_corrupt", v.e.Path, "The entry %s is damaged or was changed: its sha256 differs from the manifest's.", v.e.Path)
		}
		return n, io.EOF
	}
	if err != nil {
		// The zip reader's own checks (CRC, truncated data) end here.
		return n, Invalid("bundle_entry_corrupt", v.e.Path, "The entry %s cannot be read: %v.", v.e.Path, err)
	}
	return n, nil
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// OpenEntry opens a listed entry. Reading it to the end verifies it: a
// damaged or altered entry makes the last Read fail with a 422.
func (r *Reader) OpenEntry(path string) (io.ReadCloser, error) {
	e, ok := r.entries[path]
	if !ok {
		return nil, Invalid("bundle_missing_entry", path, "The bundle lacks %s.", path)
	}
	rc, err := r.files[path].Open()
	if err != nil {
		return nil, Invalid("bundle_entry_unreadable", path, "The entry %s cannot be read: %v.", path, err)
	}
	return &verifyingReader{rc: rc, e: e, h: sha256.New()}, nil
}

// ReadJSON decodes the JSON document at path into v (unknown fields are an
// error), after checking its size against the document limit and its
// content against the manifest.
func (r *Reader) ReadJSON(path string, v any) error {
	e, ok := r.entries[path]
	if !ok {
		return Invalid("bundle_missing_entry", path, "The bundle lacks %s.", path)
	}
	if e.Size > r.lim.MaxDocumentBytes {
		return Invalid("bundle_entry_too_large", path, "The document %s is larger than the limit of %d bytes.", path, r.lim.MaxDocumentBytes)
	}
	rc, err := r.OpenEntry(path)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Invalid("bundle_bad_document", path, "The document %s is malformed: %v.", path, err)
	}
	if dec.More() {
		return Invalid("bundle_bad_document", path, "The document %s has trailing data.", path)
	}
	return nil
}

// Verify reads every listed entry and checks its size and sha256. For each
// entry, stage (when not nil) may return a writer that receives the
// content as it is read (an extracted copy: evidence blobs are staged this
// way, so the bundle is read once); it returns nil to skip. progress, when
// not nil, gets the bytes read so far. The first damaged entry ends it with
// a 422.
func (r *Reader) Verify(ctx context.Context, stage func(e Entry) (io.Writer, error), progress func(int64)) error {
	buf := make([]byte, 256<<10)
	var done int64
	for _, e := range r.manifest.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		var w io.Writer = io.Discard
		if stage != nil {
			sw, err := stage(e)
			if err != nil {
				return err
			}
			if sw != nil {
				w = sw
			}
		}
		if err := r.verifyEntry(e, w, buf, func(n int64) {
			done += n
			if progress != nil {
				progress(done)
			}
		}); err != nil {
			return err
		}
	}
	r.verified = true
	return nil
}

// verifyEntry reads one entry through its checks into w, reporting the
// bytes of each read to read.
func (r *Reader) verifyEntry(e Entry, w io.Writer, buf []byte, read func(int64)) error {
	rc, err := r.OpenEntry(e.Path)
	if err != nil {
		return err
	}
	defer rc.Close()
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return fmt.Errorf("bundle: stage %s: %w", e.Path, werr)
			}
			read(int64(n))
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// VerifyConcurrent is Verify on several goroutines at once (entries are
// independent: each is inflated, hashed and staged by one worker), for
// bundles of many large entries. stage may be called concurrently; the
// writer it returns, when not nil, is closed by the worker once the entry
// was read, with the entry's error (nil: verified) — it must not be
// trusted before then. progress is called by one goroutine at a time.
func (r *Reader) VerifyConcurrent(ctx context.Context, workers int, stage func(e Entry) (io.Writer, func(error) error, error),
	progress func(int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		done    int64
		first   error
		entries = make(chan Entry)
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	read := func(n int64) {
		mu.Lock()
		done += n
		if progress != nil {
			progress(done)
		}
		mu.Unlock()
	}
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for e := range entries {
				var w io.Writer = io.Discard
				var finish func(error) error
				if stage != nil {
					sw, fin, err := stage(e)
					if err != nil {
						fail(err)
						continue
					}
					if sw != nil {
						w, finish = sw, fin
					}
				}
				err := r.verifyEntry(e, w, buf, read)
				if finish != nil {
					if ferr := finish(err); err == nil {
						err = ferr
					}
				}
				if err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for _, e := range r.manifest.Entries {
		select {
		case entries <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(entries)
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.verified = true
	return nil
}

// Verified reports whether Verify has checked every entry.
func (r *Reader) Verified() bool { return r.verified }
