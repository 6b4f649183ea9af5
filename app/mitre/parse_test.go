package mitre

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata lives in ../shared/testdata, read in place.
func testdata(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "testdata", "attack", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test data %s: %v", p, err)
	}
	return p
}

func parseFile(t testing.TB, name string) *Bundle {
	t.Helper()
	f, err := os.Open(testdata(t, name))
	require.NoError(t, err)
	defer f.Close()
	b, err := Parse(f, nil)
	require.NoError(t, err)
	return b
}

func ids[T any](xs []T, f func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func TestParseSmallBundle(t *testing.T) {
	b := parseFile(t, "enterprise-attack-small.json")
	assert.Equal(t, "2.0", b.SpecVersion)
	assert.Equal(t, EnterpriseDomain, b.Domain)
	assert.Equal(t, "", b.CollectionVersion, "enterprise bundles carry no collection")
	assert.Equal(t, 24, b.Objects)
	assert.False(t, b.Compressed)
	assert.Equal(t, b.SHA256, b.FileSHA256)

	// Tactic order from the matrix's tactic_refs.
	assert.Equal(t, []string{"TA0002", "TA0003", "TA0004"}, ids(b.Tactics, func(x Tactic) string { return x.ExternalID }))
	assert.Equal(t, []string{"execution", "persistence", "privilege-escalation"}, ids(b.Tactics, func(x Tactic) string { return x.Shortname }))
	assert.Equal(t, 1, b.Tactics[0].Position)

	assert.Equal(t, []string{"T1034", "T1053", "T1059", "T1060", "T1068", "T1106", "T1547"},
		ids(b.Techniques, func(x Technique) string { return x.ExternalID }))
	assert.Equal(t, []string{"T1053.004", "T1053.005", "T1059.001", "T1059.003", "T1547.001"},
		ids(b.Subtechniques, func(x Technique) string { return x.ExternalID }))

	by := map[string]Technique{}
	for _, x := range append(append([]Technique{}, b.Techniques...), b.Subtechniques...) {
		by[x.ExternalID] = x
	}
	// Revoked T1060 is replaced by T1547.001.
	assert.True(t, by["T1060"].Revoked)
	assert.Equal(t, by["T1547.001"].StixID, by["T1060"].RevokedBy)
	// Deprecated technique and subtechnique.
	assert.True(t, by["T1034"].Deprecated)
	assert.True(t, by["T1053.004"].Deprecated)
	assert.False(t, by["T1053.004"].Active())
	// Links from kill_chain_phases, a technique in several tactics.
	assert.Equal(t, []string{"execution", "persistence", "privilege-escalation"}, by["T1053"].Tactics)
	assert.Equal(t, []string{"execution"}, by["T1059"].Tactics)
	// Parents from subtechnique-of.
	assert.Equal(t, by["T1059"].StixID, by["T1059.001"].ParentStixID)
	assert.Equal(t, by["T1053"].StixID, by["T1053.004"].ParentStixID, "inactive subtechniques keep their parent")
	assert.Contains(t, by["T1059.001"].Platforms, "Windows")
	assert.Equal(t, "PowerShell", by["T1059.001"].Name)
	assert.True(t, strings.HasPrefix(by["T1059.001"].URL, "https://attack.mitre.org/techniques/T1059/001"))
}

func TestParseGzipAndHashes(t *testing.T) {
	raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(raw)
	require.NoError(t, w.Close())
	a, err := Parse(bytes.NewReader(raw), nil)
	require.NoError(t, err)
	b, err := Parse(bytes.NewReader(gz.Bytes()), nil)
	require.NoError(t, err)
	assert.True(t, b.Compressed)
	assert.Equal(t, a.SHA256, b.SHA256, "content hash ignores compression")
	assert.NotEqual(t, b.SHA256, b.FileSHA256)
	assert.Equal(t, a.Techniques, b.Techniques)
}

func skipFull(t *testing.T) {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("45 MB bundle: runs without -short and -race")
	}
}

func TestParseFullAndCoreAgree(t *testing.T) {
	skipFull(t)
	full := parseFile(t, "enterprise-attack.json.gz")
	core := parseFile(t, "enterprise-attack-core.json.gz")
	assert.Equal(t, "6efa25666ac16af7c36ba175635c82e670e5843be5eb61348ec41df0f38ada5f", full.SHA256)
	assert.Equal(t, 24771, full.Objects)
	assert.Len(t, full.Tactics, 14)
	assert.Equal(t, full.Tactics, core.Tactics)
	assert.Equal(t, full.Techniques, core.Techniques)
	assert.Equal(t, full.Subtechniques, core.Subtechniques)
	active := func(xs []Technique) int {
		n := 0
		for _, x := range xs {
			if x.Active() {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 216, active(full.Techniques))
	assert.Equal(t, 475, active(full.Subtechniques))
	assert.Equal(t, 835, len(full.Techniques)+len(full.Subtechniques))
	assert.Equal(t, "TA0043", full.Tactics[0].ExternalID, "Reconnaissance opens the enterprise matrix")
	assert.Equal(t, "TA0040", full.Tactics[13].ExternalID, "Impact closes it")
}

func TestParseICSIsSTIX21WithCollection(t *testing.T) {
	b := parseFile(t, "ics-attack-18.1.json.gz")
	assert.Equal(t, "2.1", b.SpecVersion)
	assert.Equal(t, "18.1", b.CollectionVersion)
	assert.Equal(t, "ics-attack", b.Domain)
}

func TestParseBadInput(t *testing.T) {
	raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(raw)
	require.NoError(t, w.Close())
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":            {nil, "empty"},
		"not json":         {[]byte("hello world"), "invalid JSON"},
		"array":            {[]byte("[1,2]"), "not a JSON object"},
		"not a bundle":     {[]byte(`{"type":"report","objects":[]}`), "expected \"bundle\""},
		"no objects":       {[]byte(`{"type":"bundle","spec_version":"2.0"}`), "no \"objects\""},
		"no patterns":      {[]byte(`{"type":"bundle","spec_version":"2.0","objects":[{"type":"identity","id":"identity--1"}]}`), "no ATT&CK techniques"},
		"objects not list": {[]byte(`{"type":"bundle","objects":{}}`), "not an array"},
		"wrong field type": {[]byte(`{"type":"bundle","spec_version":"2.0","objects":[{"type":"attack-pattern","name":5}]}`), "wrong type"},
		"truncated json":   {raw[:len(raw)/2], "truncated"},
		"truncated gzip":   {gz.Bytes()[:gz.Len()/2], "truncated or corrupt"},
		"stix 1":           {[]byte(`{"type":"bundle","spec_version":"1.2","objects":[{"type":"attack-pattern","id":"attack-pattern--1"}]}`), "unsupported STIX version"},
	}
	for name, c := range cases {
		_, err := Parse(bytes.NewReader(c.in), nil)
		require.Error(t, err, name)
		var pe *ParseError
		assert.ErrorAs(t, err, &pe, name)
		assert.Contains(t, err.Error(), c.want, name)
	}
}

func FuzzParse(f *testing.F) {
	raw, err := os.ReadFile(testdata(f, "enterprise-attack-small.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"type":"bundle","spec_version":"2.0","objects":[]}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Parse(bytes.NewReader(in), nil)
		if err != nil {
			return
		}
		// Whatever parses is internally consistent.
		if len(b.Techniques)+len(b.Subtechniques) == 0 || len(b.Tactics) == 0 {
			t.Fatalf("parsed a bundle without techniques or tactics")
		}
		for i, tc := range b.Tactics {
			if tc.Position != i+1 {
				t.Fatalf("tactic positions not dense: %d at %d", tc.Position, i)
			}
		}
	})
}
