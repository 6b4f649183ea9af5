package bundle_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newIdentity(t testing.TB, name string) *bundle.Identity {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return bundle.NewIdentity(db.NewID(), name, key)
}

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// writeBundle writes a small bundle: two JSON documents, a text blob and a
// PNG-looking blob.
func writeBundle(t testing.TB, id *bundle.Identity) ([]byte, map[string][]byte) {
	t.Helper()
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(t, 100_000)...)
	text := []byte(strings.Repeat("2026-03-01 12:00:00 powershell.exe -enc ... blocked by EDR\n", 2000))
	var buf bytes.Buffer
	var progressed int64
	w := bundle.NewWriter(&buf, id, bundle.Header{Kind: bundle.KindMission, AppVersion: "v1.2.3", SchemaVersion: 2,
		CreatedAt: testTime, Meta: map[string]any{"mission_id": "m1"}}, func(n int64) { progressed = n })
	require.NoError(t, w.WriteJSON("mission.json", map[string]any{"name": "Op Red"}))
	require.NoError(t, w.WriteJSON("tests.json", []map[string]any{{"name": "t1"}}))
	sums := map[string][]byte{}
	for _, b := range [][]byte{png, text} {
		s := sha256.Sum256(b)
		sum := hex.EncodeToString(s[:])
		e, err := w.WriteFile("evidence/"+sum, bytes.NewReader(b))
		require.NoError(t, err)
		require.EqualValues(t, len(b), e.Size)
		require.Equal(t, sum, e.SHA256)
		sums["evidence/"+sum] = b
	}
	require.NoError(t, w.Close())
	assert.Equal(t, int64(buf.Len()), progressed, "progress reports every byte written")
	assert.Equal(t, int64(buf.Len()), w.Written())
	return buf.Bytes(), sums
}

func open(t testing.TB, b []byte) (*bundle.Reader, error) {
	t.Helper()
	return bundle.NewReader(bytes.NewReader(b), int64(len(b)), bundle.DefaultLimits)
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	id := newIdentity(t, "Red laptop")
	b, blobs := writeBundle(t, id)

	r, err := open(t, b)
	require.NoError(t, err)
	m := r.Manifest()
	assert.Equal(t, 1, m.FormatVersion)
	assert.Equal(t, bundle.KindMission, m.Kind)
	assert.Equal(t, "v1.2.3", m.AppVersion)
	assert.Equal(t, 2, m.SchemaVersion)
	assert.Equal(t, "2026-03-01T12:00:00.000Z", m.CreatedAt)
	assert.Equal(t, id.ID(), m.Source.InstanceID)
	assert.Equal(t, "Red laptop", m.Source.InstanceName)
	assert.JSONEq(t, `{"mission_id":"m1"}`, string(m.Meta))
	assert.Equal(t, id.Fingerprint(), r.Fingerprint())
	assert.True(t, strings.HasPrefix(r.Fingerprint(), "SHA256:"))
	require.Len(t, m.Entries, 4)
	assert.Equal(t, "mission.json", m.Entries[0].Path)

	staged := map[string]*bytes.Buffer{}
	require.NoError(t, r.Verify(context.Background(), func(e bundle.Entry) (io.Writer, error) {
		if strings.HasPrefix(e.Path, "evidence/") {
			staged[e.Path] = &bytes.Buffer{}
			return staged[e.Path], nil
		}
		return nil, nil
	}, nil))
	assert.True(t, r.Verified())
	for p, want := range blobs {
		assert.Equal(t, want, staged[p].Bytes(), "staged copy of %s is byte-identical", p)
	}
	// The same on two goroutines: every copy whole, finished as verified.
	r2, err := open(t, b)
	require.NoError(t, err)
	var mu sync.Mutex
	copies, finished := map[string]*bytes.Buffer{}, map[string]bool{}
	var progressed atomic.Int64
	require.NoError(t, r2.VerifyConcurrent(context.Background(), 2, func(e bundle.Entry) (io.Writer, func(error) error, error) {
		if !strings.HasPrefix(e.Path, "evidence/") {
			return nil, nil, nil
		}
		buf := &bytes.Buffer{}
		mu.Lock()
		copies[e.Path] = buf
		mu.Unlock()
		return buf, func(err error) error {
			mu.Lock()
			finished[e.Path] = err == nil
			mu.Unlock()
			return nil
		}, nil
	}, func(n int64) { progressed.Store(n) }))
	assert.True(t, r2.Verified())
	var total int64
	for _, e := range r2.Manifest().Entries {
		total += e.Size
	}
	assert.Equal(t, total, progressed.Load(), "progress counts every entry's bytes")
	for p, want := range blobs {
		assert.Equal(t, want, copies[p].Bytes(), "concurrent staged copy of %s is byte-identical", p)
		assert.True(t, finished[p], "%s finished as verified", p)
	}
	var doc map[string]any
	require.NoError(t, r.ReadJSON("mission.json", &doc))
	assert.Equal(t, "Op Red", doc["name"])

	// Already-compressed blobs are stored, the rest deflated.
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	methods := map[string]uint16{}
	for _, f := range zr.File {
		methods[f.Name] = f.Method
	}
	for p, content := range blobs {
		if bytes.HasPrefix(content, []byte("\x89PNG")) {
			assert.Equal(t, zip.Store, methods[p], "PNG stored")
		} else {
			assert.Equal(t, zip.Deflate, methods[p], "text deflated")
		}
	}
	assert.Equal(t, zip.Deflate, methods["tests.json"])
	// The manifest and its signature come last, after the entries they describe.
	assert.Equal(t, bundle.ManifestPath, zr.File[len(zr.File)-2].Name)
	assert.Equal(t, bundle.SignaturePath, zr.File[len(zr.File)-1].Name)
}

func TestCompressible(t *testing.T) {
	t.Parallel()
	assert.True(t, bundle.Compressible([]byte(strings.Repeat("log line\n", 1000))))
	assert.False(t, bundle.Compressible(randomBytes(t, 4096)), "random data does not shrink")
	assert.False(t, bundle.Compressible([]byte("\xff\xd8\xff\xe0 JPEG")))
	assert.False(t, bundle.Compressible(append([]byte("RIFF\x00\x00\x00\x00WEBP"), make([]byte, 600)...)))
	assert.True(t, bundle.Compressible(nil))
}

// file is one entry of a forged zip.
type file struct {
	name    string
	data    []byte
	mode    fs.FileMode
	method  uint16
	declare int64 // declared uncompressed size when >= 0 and raw
	raw     bool  // write data as already-deflated bytes with the declared size
	flags   uint16
}

// forge builds a zip of files and adds a manifest listing manifestEntries
// (nil: every file as it is), signed by id unless sign is false; edit may
// change the manifest before it is signed.
func forge(t testing.TB, id *bundle.Identity, files []file, edit func(*bundle.Manifest)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	m := bundle.Manifest{FormatVersion: 1, Kind: bundle.KindMission, AppVersion: "test", SchemaVersion: 2,
		CreatedAt: testTime.Format(time.RFC3339), Meta: json.RawMessage(`{}`),
		Source: bundle.Source{InstanceID: id.ID(), InstanceName: id.Name(), PublicKey: bundle.EncodePublicKey(id.Public())}}
	for _, f := range files {
		fh := &zip.FileHeader{Name: f.name, Method: f.method, Flags: f.flags}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		if f.raw {
			fh.CRC32 = crc32.ChecksumIEEE(f.data)
			fh.CompressedSize64 = uint64(len(f.data))
			fh.UncompressedSize64 = uint64(f.declare)
			w, err := zw.CreateRaw(fh)
			require.NoError(t, err)
			_, err = w.Write(f.data)
			require.NoError(t, err)
		} else {
			w, err := zw.CreateHeader(fh)
			require.NoError(t, err)
			_, err = w.Write(f.data)
			require.NoError(t, err)
		}
		s := sha256.Sum256(f.data)
		m.Entries = append(m.Entries, bundle.Entry{Path: f.name, Size: int64(len(f.data)), SHA256: hex.EncodeToString(s[:])})
	}
	if edit != nil {
		edit(&m)
	}
	mb, err := json.Marshal(m)
	require.NoError(t, err)
	w, err := zw.Create(bundle.ManifestPath)
	require.NoError(t, err)
	_, err = w.Write(mb)
	require.NoError(t, err)
	sig, _ := json.Marshal(bundle.Signature{Algorithm: "ed25519", Signature: base64.StdEncoding.EncodeToString(id.Sign(mb))})
	w, err = zw.Create(bundle.SignaturePath)
	require.NoError(t, err)
	_, err = w.Write(sig)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func deflate(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	fw, err := flate.NewWriter(&out, flate.BestCompression)
	require.NoError(t, err)
	_, err = fw.Write(b)
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	return out.Bytes()
}

// refused asserts a 422 with the given reason, from opening or verifying,
// one entry after the other and on several goroutines (which must not
// report a damaged entry's staged copy as good).
func refused(t *testing.T, b []byte, lim bundle.Limits, reason string) {
	t.Helper()
	for _, concurrent := range []bool{false, true} {
		r, err := bundle.NewReader(bytes.NewReader(b), int64(len(b)), lim)
		var good sync.Map
		if err == nil && !concurrent {
			err = r.Verify(context.Background(), nil, nil)
		} else if err == nil {
			err = r.VerifyConcurrent(context.Background(), 3, func(e bundle.Entry) (io.Writer, func(error) error, error) {
				return io.Discard, func(err error) error {
					if err == nil {
						good.Store(e.Path, true)
					}
					return nil
				}, nil
			}, nil)
		}
		require.Error(t, err)
		var ae *apperr.Error
		require.True(t, errors.As(err, &ae), "want an *apperr.Error, got %T: %v", err, err)
		assert.ErrorIs(t, err, apperr.ErrUnprocessable)
		assert.Equal(t, reason, ae.Details["reason"], ae.Message)
		assert.False(t, r != nil && r.Verified(), "a refused bundle is not verified")
		if path, ok := ae.Details["entry"].(string); ok && path != "" {
			_, staged := good.Load(path)
			assert.False(t, staged, "the damaged entry %s was finished as good", path)
		}
	}
}

func TestHostileArchivesAreRefused(t *testing.T) {
	t.Parallel()
	id := newIdentity(t, "A")
	doc := []byte(`{"ok":true}`)
	ok := file{name: "mission.json", data: doc, method: zip.Deflate}
	small := bundle.DefaultLimits
	small.MaxEntryBytes, small.MaxTotalBytes, small.MaxEntries = 1000, 1500, 4
	zeros := make([]byte, 10<<20)

	cases := []struct {
		name   string
		bundle []byte
		lim    bundle.Limits
		reason string
	}{
		{"absolute path", forge(t, id, []file{ok, {name: "/etc/passwd", data: doc}}, nil), bundle.DefaultLimits, "bundle_bad_path"},
		{"dot-dot", forge(t, id, []file{ok, {name: "../../x", data: doc}}, nil), bundle.DefaultLimits, "bundle_bad_path"},
		{"dot-dot inside", forge(t, id, []file{ok, {name: "evidence/../../x", data: doc}}, nil), bundle.DefaultLimits, "bundle_bad_path"},
		{"backslash", forge(t, id, []file{ok, {name: `..\..\x`, data: doc}}, nil), bundle.DefaultLimits, "bundle_bad_path"},
		{"drive letter", forge(t, id, []file{ok, {name: `c:/x`, data: doc}}, nil), bundle.DefaultLimits, "bundle_bad_path"},
		{"symlink", forge(t, id, []file{ok, {name: "evidence/link", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}}, nil),
			bundle.DefaultLimits, "bundle_symlink"},
		{"directory", forge(t, id, []file{ok, {name: "evidence/", data: nil, mode: fs.ModeDir | 0o755}}, nil), bundle.DefaultLimits, "bundle_bad_path"},
		{"duplicate", forge(t, id, []file{ok, ok}, func(m *bundle.Manifest) { m.Entries = m.Entries[:1] }), bundle.DefaultLimits, "bundle_duplicate_entry"},
		{"not in manifest", forge(t, id, []file{ok, {name: "extra.json", data: doc}}, func(m *bundle.Manifest) { m.Entries = m.Entries[:1] }),
			bundle.DefaultLimits, "bundle_unlisted_entry"},
		{"missing from zip", forge(t, id, []file{ok}, func(m *bundle.Manifest) {
			m.Entries = append(m.Entries, bundle.Entry{Path: "tests.json", Size: 2, SHA256: strings.Repeat("a", 64)})
		}), bundle.DefaultLimits, "bundle_missing_entry"},
		{"size differs from manifest", forge(t, id, []file{ok}, func(m *bundle.Manifest) { m.Entries[0].Size++ }),
			bundle.DefaultLimits, "bundle_entry_corrupt"},
		{"entry over limit", forge(t, id, []file{ok, {name: "big.bin", data: make([]byte, 1001), method: zip.Deflate}}, nil), small, "bundle_entry_too_large"},
		{"total over limit", forge(t, id, []file{{name: "a.bin", data: make([]byte, 900)}, {name: "b.bin", data: make([]byte, 900)}}, nil),
			small, "bundle_too_large"},
		{"too many entries", forge(t, id, []file{{name: "a", data: doc}, {name: "b", data: doc}, {name: "c", data: doc}}, nil), small,
			"bundle_too_many_entries"},
		{"zip bomb declared", forge(t, id, []file{{name: "bomb.bin", data: deflate(t, zeros), method: zip.Deflate, raw: true, declare: 10 << 20}},
			func(m *bundle.Manifest) { m.Entries[0].Size = 10 << 20 }), small, "bundle_entry_too_large"},
		{"zip bomb lying about its size", forge(t, id, []file{{name: "bomb.bin", data: deflate(t, zeros), method: zip.Deflate, raw: true, declare: 100}},
			func(m *bundle.Manifest) { m.Entries[0].Size = 100 }), bundle.DefaultLimits, "bundle_entry_corrupt"},
		{"encrypted", forge(t, id, []file{{name: "a.bin", data: doc, flags: 0x1}}, nil), bundle.DefaultLimits, "bundle_encrypted"},
		{"newer format", forge(t, id, []file{ok}, func(m *bundle.Manifest) { m.FormatVersion = 2; m.AppVersion = "v9.0.0" }),
			bundle.DefaultLimits, "bundle_too_new"},
		{"unknown kind", forge(t, id, []file{ok}, func(m *bundle.Manifest) { m.Kind = "spreadsheet" }), bundle.DefaultLimits, "bundle_bad_manifest"},
		{"manifest lists the manifest", forge(t, id, []file{ok}, func(m *bundle.Manifest) {
			m.Entries = append(m.Entries, bundle.Entry{Path: "manifest.json", Size: 1, SHA256: strings.Repeat("a", 64)})
		}), bundle.DefaultLimits, "bundle_bad_manifest"},
		{"not a zip", []byte("MZ this is a Windows program, not a bundle"), bundle.DefaultLimits, "bundle_not_zip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { refused(t, tc.bundle, tc.lim, tc.reason) })
	}
}

func TestNewerFormatSaysUpgrade(t *testing.T) {
	t.Parallel()
	id := newIdentity(t, "A")
	b := forge(t, id, []file{{name: "a.json", data: []byte("{}")}}, func(m *bundle.Manifest) { m.FormatVersion = 3; m.AppVersion = "v9.1.0" })
	_, err := open(t, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "made by Purplebook v9.1.0")
	assert.Contains(t, err.Error(), "upgrade")
}

func TestTamperingIsDetected(t *testing.T) {
	t.Parallel()
	id := newIdentity(t, "A")
	good, _ := writeBundle(t, id)

	t.Run("entry content changed, CRC intact", func(t *testing.T) {
		t.Parallel()
		// Rebuild the zip with one entry's content replaced (a valid zip,
		// CRC recomputed), keeping the signed manifest: only the sha256
		// catches it.
		b := rewrite(t, good, func(name string, data []byte) []byte {
			if name == "tests.json" {
				return bytes.Replace(data, []byte("t1"), []byte("t2"), 1)
			}
			return data
		})
		refused(t, b, bundle.DefaultLimits, "bundle_entry_corrupt")
		r, err := open(t, b)
		require.NoError(t, err, "the structure and signature are intact")
		var v any
		err = r.ReadJSON("tests.json", &v)
		require.Error(t, err, "reading the changed document alone is refused too")
		assert.Contains(t, err.Error(), "sha256")
	})
	t.Run("stored entry byte flipped", func(t *testing.T) {
		t.Parallel()
		b := bytes.Clone(good)
		i := bytes.Index(b, []byte("\x89PNG"))
		require.Positive(t, i)
		b[i+5000] ^= 0xff
		refused(t, b, bundle.DefaultLimits, "bundle_entry_corrupt")
	})
	t.Run("manifest changed", func(t *testing.T) {
		t.Parallel()
		// A valid zip whose manifest names another instance, with the
		// original signature.
		b := rewrite(t, good, func(name string, data []byte) []byte {
			if name == bundle.ManifestPath {
				out := bytes.Replace(data, []byte(`"instance_name": "A"`), []byte(`"instance_name": "B"`), 1)
				require.NotEqual(t, data, out)
				return out
			}
			return data
		})
		refused(t, b, bundle.DefaultLimits, "bundle_signature_invalid")
	})
	t.Run("signed by another key than it names", func(t *testing.T) {
		t.Parallel()
		other := newIdentity(t, "Mallory")
		b := forge(t, other, []file{{name: "a.json", data: []byte("{}")}}, func(m *bundle.Manifest) {
			m.Source = bundle.Source{InstanceID: id.ID(), InstanceName: "A", PublicKey: bundle.EncodePublicKey(id.Public())}
		})
		refused(t, b, bundle.DefaultLimits, "bundle_signature_invalid")
	})
	t.Run("unsigned", func(t *testing.T) {
		t.Parallel()
		zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
		require.NoError(t, err)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			if f.Name == bundle.SignaturePath {
				continue
			}
			require.NoError(t, zw.Copy(f))
		}
		require.NoError(t, zw.Close())
		refused(t, buf.Bytes(), bundle.DefaultLimits, "bundle_unsigned")
	})
}

// rewrite copies a zip, passing every entry's content through edit.
func rewrite(t testing.TB, b []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		require.NoError(t, err)
		_, err = w.Write(edit(f.Name, data))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestIdentityKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, bundle.KeyFile)
	k1, err := bundle.LoadKey(p)
	require.NoError(t, err)
	st, err := os.Stat(p)
	require.NoError(t, err)
	if os.PathSeparator == '/' {
		assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
	}
	k2, err := bundle.LoadKey(p)
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the key is created once and read afterwards")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, left, 1, "no temporary file left behind")

	require.NoError(t, os.WriteFile(p, []byte("garbage"), 0o600))
	_, err = bundle.LoadKey(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "move it away")
}
