package bundle_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/bundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func source(path string, content func() []byte) bundle.FileSource {
	return bundle.FileSource{Path: path, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content())), nil }}
}

// WriteFiles writes what WriteFile would, in order, whichever way each file
// goes: deflated ahead, stored (read again at its turn), or too large to
// hold and streamed; the bundle verifies and every entry is byte-identical.
func TestWriteFilesConcurrent(t *testing.T) {
	t.Parallel()
	id := newIdentity(t, "A")
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(t, 300_000)...)
	logs := []byte(strings.Repeat("2026-03-01 12:00:00 host-7 EventID=4688 proc=powershell.exe\n", 20_000))
	big := wordSoup(t, 24<<20) // deflates to more than the 4 MB held
	contents := [][]byte{logs, png, big, {}, []byte("x"), png[:70_000], logs[:100]}
	var files []bundle.FileSource
	for i, c := range contents {
		files = append(files, source(fmt.Sprintf("evidence/%02d", i), func() []byte { return c }))
	}
	var buf bytes.Buffer
	w := bundle.NewWriter(&buf, id, bundle.Header{Kind: bundle.KindMission, CreatedAt: testTime, Meta: map[string]any{}}, nil)
	require.NoError(t, w.WriteJSON("mission.json", map[string]any{"a": 1}))
	var order []int
	require.NoError(t, w.WriteFiles(context.Background(), files, func(i int, e bundle.Entry) error {
		order = append(order, i)
		s := sha256.Sum256(contents[i])
		assert.Equal(t, hex.EncodeToString(s[:]), e.SHA256, "entry %d", i)
		assert.EqualValues(t, len(contents[i]), e.Size, "entry %d", i)
		return nil
	}))
	require.NoError(t, w.WriteJSON("tests.json", []int{}))
	require.NoError(t, w.Close())
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, order)

	r, err := open(t, buf.Bytes())
	require.NoError(t, err)
	got := map[string]*bytes.Buffer{}
	require.NoError(t, r.Verify(context.Background(), func(e bundle.Entry) (io.Writer, error) {
		got[e.Path] = &bytes.Buffer{}
		return got[e.Path], nil
	}, nil))
	paths := []string{"mission.json"}
	for i, c := range contents {
		p := fmt.Sprintf("evidence/%02d", i)
		paths = append(paths, p)
		assert.True(t, bytes.Equal(c, got[p].Bytes()), "%s is byte-identical", p)
	}
	paths = append(paths, "tests.json")
	var listed []string
	for _, e := range r.Manifest().Entries {
		listed = append(listed, e.Path)
	}
	assert.Equal(t, paths, listed, "entries in the order written")
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	methods := map[string]uint16{}
	packed := map[string]uint64{}
	for _, f := range zr.File {
		methods[f.Name] = f.Method
		packed[f.Name] = f.CompressedSize64
	}
	assert.Equal(t, zip.Deflate, methods["evidence/00"], "logs are deflated")
	assert.Equal(t, zip.Store, methods["evidence/01"], "a PNG is stored")
	assert.Equal(t, zip.Deflate, methods["evidence/02"], "a file too large to hold is still deflated, streamed")
	assert.Greater(t, packed["evidence/02"], uint64(4<<20), "evidence/02 is too large to hold once deflated")
	assert.Less(t, packed["evidence/02"], uint64(len(big))*3/4, "and it shrank")
}

// A stored file that changes between its hashing and its copy fails the
// export instead of shipping content under the wrong checksum; an error of
// done ends it, and the writer stays failed.
func TestWriteFilesRefusesChangedContent(t *testing.T) {
	t.Parallel()
	id := newIdentity(t, "A")
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(t, 100_000)...)
	opened := 0
	changing := bundle.FileSource{Path: "evidence/a", Open: func() (io.ReadCloser, error) {
		opened++
		c := bytes.Clone(png)
		if opened > 1 {
			c[5000] ^= 1
		}
		return io.NopCloser(bytes.NewReader(c)), nil
	}}
	w := bundle.NewWriter(io.Discard, id, bundle.Header{Kind: bundle.KindMission, CreatedAt: testTime, Meta: map[string]any{}}, nil)
	err := w.WriteFiles(context.Background(), []bundle.FileSource{changing}, func(int, bundle.Entry) error { return nil })
	require.ErrorContains(t, err, "changed while it was written")
	require.Error(t, w.Close())

	w = bundle.NewWriter(io.Discard, id, bundle.Header{Kind: bundle.KindMission, CreatedAt: testTime, Meta: map[string]any{}}, nil)
	files := []bundle.FileSource{source("evidence/a", func() []byte { return png }), source("evidence/b", func() []byte { return png })}
	err = w.WriteFiles(context.Background(), files, func(i int, _ bundle.Entry) error {
		if i == 0 {
			return fmt.Errorf("damaged")
		}
		return nil
	})
	require.ErrorContains(t, err, "damaged")
	require.Error(t, w.Close())
}

// wordSoup is text of n bytes: random words from a vocabulary of 512, a
// line of 12 words each. Any 64 KB sample repeats its words (so it tests
// compressible), and the whole deflates to about a quarter of n: the word
// order is random.
func wordSoup(t testing.TB, n int) []byte {
	raw := randomBytes(t, 512*5+n/5)
	words := make([]string, 512)
	for i := range words {
		words[i] = hex.EncodeToString(raw[i*5 : i*5+5])
	}
	pick := raw[512*5:]
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString(words[(int(pick[(2*i)%len(pick)])<<1|int(pick[(2*i+1)%len(pick)])>>7)%512])
		if i%12 == 11 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}
