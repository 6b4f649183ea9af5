package mitre

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rewrapOptions describe another serialisation of the same bundle.
type rewrapOptions struct {
	stix21     bool   // spec_version on every object, none on the bundle (attack-stix-data's layout)
	collection string // add an x-mitre-collection with this x_mitre_version
	reverse    bool   // objects in reverse order
	indent     bool   // pretty-printed
	gzip       bool
	mutate     func(i int, obj []byte) []byte // change the i-th object (raw JSON)
}

// rewrap re-serialises a STIX bundle object by object (streaming: the 45 MB
// bundle is never decoded into maps) with a new bundle id.
func rewrap(t testing.TB, raw []byte, o rewrapOptions) []byte {
	t.Helper()
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		raw, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var objs []json.RawMessage
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		if k != "objects" {
			var skip json.RawMessage
			require.NoError(t, dec.Decode(&skip))
			continue
		}
		_, err = dec.Token()
		require.NoError(t, err)
		for dec.More() {
			var obj json.RawMessage
			require.NoError(t, dec.Decode(&obj))
			objs = append(objs, obj)
		}
		_, err = dec.Token()
		require.NoError(t, err)
	}
	for i := range objs {
		if o.mutate != nil {
			objs[i] = o.mutate(i, objs[i])
		}
		if o.stix21 {
			objs[i] = append([]byte(`{"spec_version":"2.1",`), bytes.TrimSpace(objs[i])[1:]...)
		}
	}
	if o.reverse {
		for i, j := 0, len(objs)-1; i < j; i, j = i+1, j-1 {
			objs[i], objs[j] = objs[j], objs[i]
		}
	}
	if o.collection != "" {
		objs = append(objs, json.RawMessage(fmt.Sprintf(`{"type":"x-mitre-collection","id":"x-mitre-collection--1f5f1533-f617-4ca8-9ab4-6a02367fa019",`+
			`"spec_version":"2.1","created":"2018-01-17T12:56:55.080Z","modified":"2025-11-12T00:00:00.000Z","name":"Enterprise ATT&CK",`+
			`"x_mitre_version":%q,"x_mitre_contents":[]}`, o.collection)))
	}
	var buf bytes.Buffer
	buf.WriteString(`{"type":"bundle","id":"bundle--0b9f3b7e-2f8c-4c39-8f4a-3c2b0f6e9d11",`)
	if !o.stix21 {
		buf.WriteString(`"spec_version":"2.0",`)
	}
	buf.WriteString(`"objects":[`)
	for i, obj := range objs {
		if i > 0 {
			buf.WriteByte(',')
		}
		if o.indent {
			var ind bytes.Buffer
			require.NoError(t, json.Indent(&ind, obj, "  ", "  "))
			buf.WriteString("\n  ")
			obj = ind.Bytes()
		}
		buf.Write(obj)
	}
	buf.WriteString("]}\n")
	if !o.gzip {
		return buf.Bytes()
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(buf.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return gz.Bytes()
}

var reModified = regexp.MustCompile(`"modified"\s*:\s*"[^"]*"`)

// bumpModified changes the modified timestamp of the n-th object that has one.
func bumpModified(n int) func(int, []byte) []byte {
	seen := 0
	return func(_ int, obj []byte) []byte {
		if !reModified.Match(obj) {
			return obj
		}
		seen++
		if seen != n {
			return obj
		}
		return reModified.ReplaceAll(obj, []byte(`"modified": "2099-01-01T00:00:00.000Z"`))
	}
}

func parseBytes(t testing.TB, b []byte) *Bundle {
	t.Helper()
	out, err := Parse(bytes.NewReader(b), nil)
	require.NoError(t, err)
	return out
}

func TestCanonicalDigestDefinition(t *testing.T) {
	t.Parallel()
	// The definition on a tiny bundle, computed by hand: x-mitre-collection
	// left out, created used when modified is missing, timestamps
	// normalised, lines sorted.
	bundle := `{"type":"bundle","spec_version":"2.0","objects":[
		{"type":"x-mitre-tactic","id":"x-mitre-tactic--b","modified":"2025-01-02T03:04:05.100+01:00",
		 "external_references":[{"source_name":"mitre-attack","external_id":"TA0001"}],"x_mitre_shortname":"a"},
		{"type":"marking-definition","id":"marking-definition--a","created":"2017-06-01T00:00:00Z"},
		{"type":"x-mitre-collection","id":"x-mitre-collection--z","modified":"2025-01-01T00:00:00Z","x_mitre_version":"1"},
		{"type":"attack-pattern","id":"attack-pattern--c","modified":"2025-01-01T00:00:00.000Z",
		 "external_references":[{"source_name":"mitre-attack","external_id":"T0001"}],"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"a"}]}]}`
	lines := "attack-pattern--c\t2025-01-01T00:00:00Z\n" +
		"marking-definition--a\t2017-06-01T00:00:00Z\n" +
		"x-mitre-tactic--b\t2025-01-02T02:04:05.1Z\n"
	var want canonicalPairs
	want.lines = []string{lines}
	assert.Equal(t, want.digest(), parseBytes(t, []byte(bundle)).CanonicalDigest)
	assert.Equal(t, "2025-01-02T02:04:05.1Z", canonicalTime("2025-01-02T03:04:05.100+01:00"))
	assert.Equal(t, "not a time", canonicalTime("not a time"))
}

// TestCanonicalDigestForms: the small bundle in every serialisation has one
// digest; a changed, removed or added object changes it.
func TestCanonicalDigestForms(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	want := parseBytes(t, raw).CanonicalDigest
	for name, o := range map[string]rewrapOptions{
		"stix 2.0 rewrapped":         {},
		"stix 2.1 with collection":   {stix21: true, collection: "18.1"},
		"stix 2.1 gzipped, reversed": {stix21: true, collection: "18.1", reverse: true, gzip: true},
		"pretty-printed, gzipped":    {indent: true, gzip: true},
		"collection claiming 17.0":   {stix21: true, collection: "17.0"},
		"whitespace inside the timestamp": {mutate: func(_ int, b []byte) []byte {
			return bytes.Replace(b, []byte(`"modified":`), []byte(`"modified" :  `), 1)
		}},
	} {
		b := parseBytes(t, rewrap(t, raw, o))
		assert.Equal(t, want, b.CanonicalDigest, name)
	}
	for name, o := range map[string]rewrapOptions{
		"an object modified": {mutate: bumpModified(1)},
		"an object removed": {mutate: func(i int, b []byte) []byte {
			if bytes.Contains(b, []byte(`"type": "relationship"`)) || bytes.Contains(b, []byte(`"type":"relationship"`)) {
				return bytes.Replace(b, []byte(`relationship--`), []byte(`relationship--0`), 1) // another id: one removed, one added
			}
			return b
		}},
	} {
		b := parseBytes(t, rewrap(t, raw, o))
		assert.NotEqual(t, want, b.CanonicalDigest, name)
	}
}

// TestPinnedDigest: the pinned 18.1 release verifies as mitre/cti's STIX 2.0
// bundle (gzipped and plain), as attack-stix-data's STIX 2.1 layout with its
// collection object, re-wrapped and re-ordered; a copy with one changed
// object does not, and neither does the core subset.
func TestPinnedDigest(t *testing.T) {
	skipFull(t)
	gz, err := os.ReadFile(testdata(t, "enterprise-attack.json.gz"))
	require.NoError(t, err)
	s := New(Options{DB: dbtest.New(t)})
	verifyOnly := func(b []byte) (SyncInfo, error) {
		bundle := parseBytes(t, b)
		return s.verify(bundle, SyncParams{Upload: bytes.NewReader(nil)}, "upload")
	}
	full := parseBytes(t, gz)
	assert.Equal(t, DefaultPin.Digest, full.CanonicalDigest, "the pin is the digest of the release in the test data")
	plain := rewrap(t, gz, rewrapOptions{})
	for name, b := range map[string][]byte{
		"mitre/cti STIX 2.0, gzipped (as shipped)": gz,
		"mitre/cti STIX 2.0, plain":                plain,
		"STIX 2.1 with collection, reversed":       rewrap(t, gz, rewrapOptions{stix21: true, collection: "18.1", reverse: true}),
	} {
		info, err := verifyOnly(b)
		require.NoError(t, err, name)
		assert.True(t, info.Verified, name)
		assert.Equal(t, "pinned_release", info.Verification, name)
		assert.Equal(t, "18.1", info.Version, name)
	}
	_, err = verifyOnly(rewrap(t, gz, rewrapOptions{mutate: bumpModified(100)}))
	requireCode(t, err, "unverified_source")
	_, err = verifyOnly(rewrap(t, gz, rewrapOptions{stix21: true, collection: "18.1", mutate: bumpModified(5000)}))
	requireCode(t, err, "unverified_source")
	_, err = syncFile(t, s, "enterprise-attack-core.json.gz", SyncParams{})
	requireCode(t, err, "unverified_source")

	// Through the whole sync: the STIX 2.1 form, gzipped, is applied as the
	// verified pinned release.
	res, err := s.Sync(context.Background(), SyncParams{Upload: bytes.NewReader(rewrap(t, gz, rewrapOptions{stix21: true, collection: "18.1", gzip: true})),
		Source: "enterprise-attack-18.1.json.gz"}, actor)
	require.NoError(t, err)
	assert.True(t, res.Verified)
	assert.Equal(t, "pinned_release", res.Verification)
	assert.Equal(t, "2.1", res.SpecVersion)
	st, err := s.Status(context.Background())
	require.NoError(t, err)
	assert.True(t, st.Verified)
	assert.Equal(t, DefaultPin.Digest, st.CanonicalDigest)
}

// TestVerifyAfterImport: an unverified import is verified later by the
// sha256 of the file, of its content, or by the canonical digest; a wrong
// sum changes nothing.
func TestVerifyAfterImport(t *testing.T) {
	t.Parallel()
	for _, which := range []string{"file", "content", "digest"} {
		s, d := newSvc(t)
		raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
		require.NoError(t, err)
		gz := rewrap(t, raw, rewrapOptions{gzip: true})
		res, err := s.Sync(context.Background(), SyncParams{Upload: bytes.NewReader(gz), Source: "small.json.gz", AllowUnverified: true}, actor)
		require.NoError(t, err)
		require.False(t, res.Verified)
		sum := map[string]string{"file": res.FileSHA256, "content": res.SHA256, "digest": res.CanonicalDigest}[which]
		require.NotEqual(t, res.SHA256, res.FileSHA256, "gzipped: two different sums")

		_, err = s.Verify(context.Background(), "zz", actor)
		require.ErrorIs(t, err, apperr.ErrInvalid)
		_, err = s.Verify(context.Background(), fullSHA, actor)
		requireCode(t, err, "sha256_mismatch")
		st, err := s.Status(context.Background())
		require.NoError(t, err)
		assert.False(t, st.Verified, "a wrong sum changes nothing")

		info, err := s.Verify(context.Background(), "  "+strings.ToUpper(sum)+" ", actor)
		require.NoError(t, err, which)
		assert.True(t, info.Verified)
		assert.Equal(t, "sha256", info.Verification)
		st, err = s.Status(context.Background())
		require.NoError(t, err)
		assert.True(t, st.Verified, which)
		require.NotNil(t, st.VerifiedAt)
		assert.Equal(t, 1, countVerifyEvents(t, d))
		_, err = s.Verify(context.Background(), sum, actor)
		require.NoError(t, err, "again: no change")
		assert.Equal(t, 1, countVerifyEvents(t, d))
	}
	s, _ := newSvc(t)
	_, err := s.Verify(context.Background(), fullSHA, actor)
	requireCode(t, err, "no_catalogue")
}

func countVerifyEvents(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	require.NoError(t, d.Read.NewQuery(`SELECT COUNT(*) FROM audit_events WHERE action = 'mitre.verify'`).Row(&n))
	return n
}
