package templates

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// archiveEntry is one entry of a test archive.
type archiveEntry struct {
	name string
	data []byte
	mode fs.FileMode // 0 = regular file
	link string      // symlink or hardlink target
	kind byte        // tar type flag override
}

// sampleEntries lays the shared sample out as an upstream checkout would:
// atomics/<ID>/<ID>.yaml plus things to ignore.
func sampleEntries(t testing.TB, prefix string) []archiveEntry {
	t.Helper()
	var es []archiveEntry
	for _, id := range sampleIDs() {
		data, err := os.ReadFile(atomicsFile(t, id))
		require.NoError(t, err)
		es = append(es, archiveEntry{name: prefix + "atomics/" + id + "/", mode: fs.ModeDir},
			archiveEntry{name: prefix + "atomics/" + id + "/" + id + ".yaml", data: data},
			archiveEntry{name: prefix + "atomics/" + id + "/src/payload.ps1", data: []byte("Write-Host hi")})
	}
	return append(es,
		archiveEntry{name: prefix + "atomics/Indexes/index.yaml", data: bytes.Repeat([]byte("# aggregate\n"), 480_000)}, // 5.5 MiB: never read
		archiveEntry{name: prefix + ".github/workflows/ci.yml", data: []byte("on: push\n")},                             // outside atomics/
		archiveEntry{name: "__MACOSX/" + prefix + "atomics/T1027/._T1027.yaml", data: []byte{0, 5, 22, 7, 0, 2}},
		archiveEntry{name: prefix + "README.md", data: []byte("# Atomic Red Team")},
	)
}

func makeZip(t testing.TB, es []archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if len(e.data) == 0 || len(e.data) > 1<<20 {
			h.Method = zip.Store // empty entries and big padding: keep the test fast under -race
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		require.NoError(t, err)
		data := e.data
		if e.link != "" {
			data = []byte(e.link)
		}
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func makeTarGz(t testing.TB, es []archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(t, err)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		switch {
		case e.kind != 0:
			h.Typeflag, h.Size, h.Linkname = e.kind, 0, e.link
		case e.mode.IsDir():
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write(e.data)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func collect(name string, data []byte) (*AtomicCollector, error) {
	c := NewAtomicCollector(os.TempDir())
	return c, c.Add(name, bytes.NewReader(data))
}

func TestArchivesOfTheSample(t *testing.T) {
	t.Parallel()
	zipData := makeZip(t, sampleEntries(t, "atomic-red-team-master/"))
	tgz := makeTarGz(t, sampleEntries(t, "atomic-red-team-master/"))
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"atomics.zip", zipData},
		{"atomics.tar.gz", tgz},
		{"misnamed.yaml", zipData}, // sniffed by content, not by name
		{"upload", tgz},
	} {
		col, err := collect(c.name, c.data)
		require.NoError(t, err, c.name)
		files := col.Files()
		require.Len(t, files, len(sampleTests), c.name)
		tests := 0
		for _, f := range files {
			assert.True(t, strings.HasPrefix(f.File, c.name+"/atomic-red-team-master/atomics/T"), f.File)
			assert.Equal(t, sampleTests[f.AttackTechnique], len(f.Tests), f.File)
			tests += len(f.Tests)
		}
		assert.Equal(t, sampleTotal, tests, c.name)
	}

	// Without an atomics/ directory every YAML file counts.
	flat := []archiveEntry{}
	for _, id := range []string{"T1027", "T1566.001"} {
		data, err := os.ReadFile(atomicsFile(t, id))
		require.NoError(t, err)
		flat = append(flat, archiveEntry{name: id + ".yml", data: data})
	}
	col, err := collect("flat.zip", makeZip(t, flat))
	require.NoError(t, err)
	assert.Len(t, col.Files(), 2)

	// A plain tar and a gzipped single YAML file.
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "x/T1566.001.yaml", Mode: 0o644, Size: int64(len(flat[1].data))}))
	_, _ = tw.Write(flat[1].data)
	require.NoError(t, tw.Close())
	col, err = collect("plain.tar", tarBuf.Bytes())
	require.NoError(t, err)
	require.Len(t, col.Files(), 1)
	var gzBuf bytes.Buffer
	gz := gzip.NewWriter(&gzBuf)
	_, _ = gz.Write(flat[1].data)
	require.NoError(t, gz.Close())
	col, err = collect("T1566.001.yaml.gz", gzBuf.Bytes())
	require.NoError(t, err)
	require.Len(t, col.Files(), 1)
	assert.Equal(t, "T1566.001.yaml", col.Files()[0].File)
	assert.Len(t, col.Files()[0].Tests, 2)
}

func rejectCode(t *testing.T, err error) string {
	t.Helper()
	require.Error(t, err)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%T %v", err, err)
	assert.True(t, errors.Is(err, apperr.ErrUnprocessable), "%v", err)
	return ae.Code
}

func TestArchiveAttacksRejectedAndNothingImported(t *testing.T) {
	t.Parallel()
	s, _, d := newAtomicLib(t)
	// A small valid tree (the full sample is read in TestArchivesOfTheSample):
	// the hostile entry comes last, after good ones were read.
	var good []archiveEntry
	for _, id := range []string{"T1027", "T1566.001"} {
		data, err := os.ReadFile(atomicsFile(t, id))
		require.NoError(t, err)
		good = append(good, archiveEntry{name: "atomics/" + id + "/" + id + ".yaml", data: data},
			archiveEntry{name: "atomics/" + id + "/src/payload.ps1", data: []byte("Write-Host hi")})
	}
	with := func(extra ...archiveEntry) []archiveEntry {
		return append(append([]archiveEntry{}, good...), extra...)
	}
	yaml := []byte("attack_technique: T1027\natomic_tests: []\n")
	big := bytes.Repeat([]byte("# padding\n"), MaxAtomicEntryBytes/10+1)
	many := make([]archiveEntry, 0, MaxAtomicEntries+1)
	for i := 0; i <= MaxAtomicEntries; i++ {
		many = append(many, archiveEntry{name: "atomics/x/" + strconv.Itoa(i) + ".txt"})
	}
	cases := []struct {
		name, code, message string
		zip, tgz            []archiveEntry
	}{
		{name: "zip slip", code: "unsafe_path", message: `"../x.yaml" leaves the archive`,
			zip: with(archiveEntry{name: "../x.yaml", data: yaml}), tgz: with(archiveEntry{name: "../x.yaml", data: yaml})},
		{name: "nested zip slip", code: "unsafe_path", message: "leaves the archive",
			zip: with(archiveEntry{name: "atomics/T1027/../../../etc/x.yaml", data: yaml}), tgz: with(archiveEntry{name: `atomics\..\..\x.yaml`, data: yaml})},
		{name: "absolute path", code: "unsafe_path", message: "absolute path",
			zip: with(archiveEntry{name: "/etc/atomics/x.yaml", data: yaml}), tgz: with(archiveEntry{name: "C:/atomics/x.yaml", data: yaml})},
		{name: "symlink", code: "unsupported_entry", message: "symbolic link",
			zip: with(archiveEntry{name: "atomics/T9/T9.yaml", mode: fs.ModeSymlink | 0o777, link: "/etc/passwd"}),
			tgz: with(archiveEntry{name: "atomics/T9/T9.yaml", kind: tar.TypeSymlink, link: "/etc/passwd"})},
		{name: "hard link", code: "unsupported_entry", message: "hard link",
			tgz: with(archiveEntry{name: "atomics/T9/T9.yaml", kind: tar.TypeLink, link: "atomics/T1027/T1027.yaml"})},
		{name: "device", code: "unsupported_entry", message: "not a regular file",
			zip: with(archiveEntry{name: "atomics/dev", mode: fs.ModeDevice | fs.ModeCharDevice | 0o600}),
			tgz: with(archiveEntry{name: "atomics/dev", kind: tar.TypeChar})},
		{name: "oversized entry", code: "entry_too_large", message: "larger than 5 MiB",
			zip: with(archiveEntry{name: "atomics/T9/T9.yaml", data: big}), tgz: with(archiveEntry{name: "atomics/T9/T9.yaml", data: big})},
		{name: "too many entries", code: "too_many_entries", message: "more than 20000 entries", zip: many, tgz: many},
		{name: "broken yaml", code: "invalid_yaml", message: "line 2",
			zip: with(archiveEntry{name: "atomics/T9/T9.yaml", data: []byte("a: b\n - c: [\n")}),
			tgz: with(archiveEntry{name: "atomics/T9/T9.yaml", data: []byte("a: b\n - c: [\n")})},
	}
	for _, c := range cases {
		for kind, es := range map[string][]archiveEntry{"zip": c.zip, "tar.gz": c.tgz} {
			if es == nil {
				continue
			}
			data := []byte(nil)
			if kind == "zip" {
				data = makeZip(t, es)
			} else {
				data = makeTarGz(t, es)
			}
			_, err := s.ImportAtomics(context.Background(), importer, []NamedReader{
				{Name: "fine.yaml", R: strings.NewReader(quirkyYAML)},
				{Name: "evil." + kind, R: bytes.NewReader(data)},
			})
			assert.Equal(t, c.code, rejectCode(t, err), "%s %s: %v", c.name, kind, err)
			assert.Contains(t, err.Error(), c.message, "%s %s", c.name, kind)
			assert.Contains(t, err.Error(), "evil."+kind, "%s %s", c.name, kind)
			assert.Zero(t, dbtest.Count(t, d, "test_templates"), "%s %s: nothing imported", c.name, kind)
		}
	}

	// A single YAML file over the limit, and other formats.
	_, err := s.ImportAtomics(context.Background(), importer, []NamedReader{{Name: "huge.yaml", R: bytes.NewReader(big)}})
	assert.Equal(t, "entry_too_large", rejectCode(t, err))
	_, err = s.ImportAtomics(context.Background(), importer, []NamedReader{{Name: "x.tar.bz2", R: strings.NewReader("BZh91AY&SY")}})
	assert.Equal(t, "unsupported_archive", rejectCode(t, err))
	_, err = s.ImportAtomics(context.Background(), importer, []NamedReader{{Name: "bin.yaml", R: bytes.NewReader([]byte{1, 0, 2, 0})}})
	assert.Equal(t, "invalid_yaml", rejectCode(t, err))
	_, err = s.ImportAtomics(context.Background(), importer, []NamedReader{{Name: "cut.zip", R: bytes.NewReader(makeZip(t, good)[:2000])}})
	assert.Equal(t, "invalid_archive", rejectCode(t, err))
	tgz := makeTarGz(t, good)
	_, err = s.ImportAtomics(context.Background(), importer, []NamedReader{{Name: "cut.tar.gz", R: bytes.NewReader(tgz[:len(tgz)/2])}})
	assert.Equal(t, "invalid_archive", rejectCode(t, err))
	assert.Zero(t, dbtest.Count(t, d, "test_templates"))
}

// The expanded-size limit, with a budget lowered for the test: zeros
// compress a thousandfold, so a small tar.gz expands past it.
func TestArchiveExpansionLimit(t *testing.T) {
	t.Parallel()
	zeros := make([]byte, 3<<20)
	data := makeTarGz(t, []archiveEntry{{name: "atomics/payload.bin", data: zeros}, {name: "atomics/T1/T1.yaml", data: []byte("atomic_tests: []\n")}})
	require.Less(t, len(data), 64<<10)
	c := NewAtomicCollector(t.TempDir())
	c.expanded = MaxAtomicBytes - 2<<20 // as if earlier sources had used most of the budget
	assert.Equal(t, "archive_too_large", rejectCode(t, c.Add("bomb.tar.gz", bytes.NewReader(data))))

	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, err := zw.Create("atomics/T1/T1.yaml")
	require.NoError(t, err)
	_, _ = w.Write(append([]byte("atomic_tests: []\n#"), bytes.Repeat([]byte(" "), 3<<20)...))
	require.NoError(t, zw.Close())
	c = NewAtomicCollector(t.TempDir())
	c.expanded = MaxAtomicBytes - 2<<20
	assert.Equal(t, "archive_too_large", rejectCode(t, c.Add("bomb.zip", bytes.NewReader(zbuf.Bytes()))))
}

func TestEntryPaths(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"atomics/T1/T1.yaml": "atomics/T1/T1.yaml", "./atomics/T1/T1.yaml": "atomics/T1/T1.yaml",
		`atomics\T1\T1.yaml`: "atomics/T1/T1.yaml", "a//b/./c.yaml": "a/b/c.yaml", "..foo/x.yaml": "..foo/x.yaml",
	} {
		got, err := entryPath("a.zip", in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"/x.yaml", `\x.yaml`, "c:/x.yaml", `C:\x.yaml`, "..", "a/../../b", `a\..\b`, "a/..", "x\x00.yaml"} {
		_, err := entryPath("a.zip", in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, []string{"atomics/T1/T1.yaml", "x/atomics/T2/T2.yml"}, selectYAML([]string{
		"atomics/T1/T1.yaml", "x/atomics/T2/T2.yml", "atomics/Indexes/index.yaml", "other/config.yaml", "atomics/T1/x.md",
		"__MACOSX/atomics/T1/._T1.yaml", "atomics/T1/._T1.yaml",
	}))
	assert.Equal(t, []string{"a.yaml", "b/c.YML"}, selectYAML([]string{"a.yaml", "b/c.YML", "d.json"}))
}
