package mitre

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fullSHA = "6efa25666ac16af7c36ba175635c82e670e5843be5eb61348ec41df0f38ada5f"

var actor = audit.Actor{Label: "test"}

func newSvc(t *testing.T) (*Service, *db.DB) {
	t.Helper()
	d := dbtest.New(t)
	return New(Options{DB: d}), d
}

func syncFile(t *testing.T, s *Service, name string, p SyncParams) (*SyncResult, error) {
	t.Helper()
	f, err := os.Open(testdata(t, name))
	require.NoError(t, err)
	defer f.Close()
	p.Upload = f
	if p.Source == "" {
		p.Source = name
	}
	return s.Sync(context.Background(), p, actor)
}

func mustSync(t *testing.T, s *Service, name string, p SyncParams) *SyncResult {
	t.Helper()
	res, err := syncFile(t, s, name, p)
	require.NoError(t, err)
	return res
}

func smallSHA(t *testing.T) string {
	b := parseFile(t, "enterprise-attack-small.json")
	return b.SHA256
}

func TestSyncSmallBundle(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	ctx := context.Background()
	res := mustSync(t, s, "enterprise-attack-small.json", SyncParams{ExpectedSHA256: smallSHA(t), Version: "18.1"})
	assert.True(t, res.Verified)
	assert.Equal(t, "sha256", res.Verification)
	assert.Equal(t, "18.1", res.Version)
	assert.Equal(t, Counts{Tactics: 3, Techniques: 7, Subtechniques: 5, ActiveTechniques: 5, ActiveSubtechniques: 4}, res.Counts)
	assert.Len(t, res.Changes.Added, 15)
	assert.Empty(t, res.Changes.Removed)

	tactics, err := s.Tactics(ctx, false)
	require.NoError(t, err)
	require.Len(t, tactics, 3)
	assert.Equal(t, []string{"TA0002", "TA0003", "TA0004"}, []string{tactics[0].ExternalID, tactics[1].ExternalID, tactics[2].ExternalID})
	assert.Equal(t, 3, tactics[0].TechniqueCount, "execution: T1053, T1059, T1106 (active only)")

	// Inactive entries hidden by default, shown on request.
	list, err := s.Techniques(ctx, ListParams{})
	require.NoError(t, err)
	assert.Equal(t, 5, list.Total)
	for _, it := range list.Items {
		assert.NotContains(t, []string{"T1060", "T1034"}, it.ExternalID)
	}
	all, err := s.Techniques(ctx, ListParams{IncludeDeprecated: true})
	require.NoError(t, err)
	assert.Equal(t, 7, all.Total)

	// tactic by external id or shortname, case-insensitively.
	for _, key := range []string{"TA0003", "persistence", "Persistence", "ta0003"} {
		p, err := s.Techniques(ctx, ListParams{Tactic: key})
		require.NoError(t, err, key)
		assert.Equal(t, []string{"T1053", "T1547"}, extIDs(p.Items), key)
	}
	_, err = s.Techniques(ctx, ListParams{Tactic: "TA9999"})
	assert.ErrorIs(t, err, apperr.ErrUnprocessable)

	// Search: ids by prefix incl. subtechniques, names case-insensitively.
	p, err := s.Techniques(ctx, ListParams{Q: "t1059"})
	require.NoError(t, err)
	assert.Equal(t, []string{"T1059"}, extIDs(p.Items))
	subs, err := s.Subtechniques(ctx, ListParams{Q: "t1059"})
	require.NoError(t, err)
	assert.Equal(t, []string{"T1059.001", "T1059.003"}, extIDs(subs.Items))
	p, err = s.Techniques(ctx, ListParams{Q: "POWERSHELL"})
	require.NoError(t, err)
	assert.Equal(t, []string{"T1059"}, extIDs(p.Items), "found through its subtechnique")
	subs, err = s.Subtechniques(ctx, ListParams{Technique: "T1053"})
	require.NoError(t, err)
	assert.Equal(t, []string{"T1053.005"}, extIDs(subs.Items), "deprecated T1053.004 hidden")

	// Detail: revoked T1060 points at its replacement.
	d, err := s.Technique(ctx, "t1060")
	require.NoError(t, err)
	assert.Equal(t, "revoked", d.State)
	require.NotNil(t, d.ReplacedBy)
	assert.Equal(t, "T1547.001", d.ReplacedBy.ExternalID)
	d, err = s.Technique(ctx, "T1053")
	require.NoError(t, err)
	assert.NotEmpty(t, d.Description)
	assert.Equal(t, []string{"TA0002", "TA0003", "TA0004"}, []string{d.Tactics[0].ExternalID, d.Tactics[1].ExternalID, d.Tactics[2].ExternalID})
	assert.Len(t, d.Subtechniques, 2, "detail lists inactive subtechniques too, flagged")
	d, err = s.Technique(ctx, "T1059.001")
	require.NoError(t, err)
	assert.Equal(t, "subtechnique", d.Kind)
	assert.Equal(t, "T1059", d.Parent.ExternalID)
	_, err = s.Technique(ctx, "T0000")
	assert.ErrorIs(t, err, apperr.ErrNotFound)

	st, err := s.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.LastSync)
	assert.Equal(t, "18.1", st.Version)
	assert.Equal(t, DefaultPin.URL, st.URL)
}

func extIDs(items []TechniqueView) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ExternalID)
	}
	return out
}

func ids2(t *testing.T, d *db.DB) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, table := range []string{"mitre_tactics", "mitre_techniques", "mitre_subtechniques"} {
		var rows []struct {
			ID     string `db:"id"`
			StixID string `db:"stix_id"`
		}
		require.NoError(t, d.Read.Select("id", "stix_id").From(table).All(&rows))
		for _, r := range rows {
			m[r.StixID] = r.ID
		}
	}
	return m
}

func TestResyncIsNoOp(t *testing.T) {
	t.Parallel()
	s, d := newSvc(t)
	mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	before := ids2(t, d)
	res := mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	assert.Zero(t, res.Changes.Total(), "%+v", res.Changes)
	assert.Equal(t, before, ids2(t, d), "primary keys unchanged")
}

func TestSmallOverFullFlagsVanishedAndKeepsTags(t *testing.T) {
	skipFull(t)
	t.Parallel()
	s, d := newSvc(t)
	ctx := context.Background()
	res := mustSync(t, s, "enterprise-attack.json.gz", SyncParams{ExpectedSHA256: fullSHA})
	assert.Equal(t, 216, res.Counts.ActiveTechniques)
	assert.Equal(t, 835, res.Counts.Techniques+res.Counts.Subtechniques)
	assert.Equal(t, 475, res.Counts.ActiveSubtechniques)
	assert.Equal(t, 14, res.Counts.Tactics)
	assert.Equal(t, "unknown", res.Version, "enterprise bundles carry no version; none was given")

	// A template tagged with a technique the small bundle lacks (T1003).
	tech, _, _, _, err := s.Resolve(ctx, "technique", "T1003")
	require.NoError(t, err)
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	tplID := db.NewID()
	_, err = d.Write.Insert("test_templates", dbx.Params{"id": tplID, "name": "Dump LSASS", "name_fold": "dump lsass",
		"search_fold": "dump lsass", "created_at": now, "updated_at": now}).Execute()
	require.NoError(t, err)
	_, err = d.Write.Insert("test_template_mitre_tags", dbx.Params{"id": db.NewID(), "test_template_id": tplID,
		"kind": "technique", "technique_id": tech, "created_at": now}).Execute()
	require.NoError(t, err)
	before := ids2(t, d)

	res = mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	assert.Equal(t, "unverified", res.Verification)
	assert.NotEmpty(t, res.Changes.Removed)
	assert.Empty(t, res.Changes.Added)
	// Nothing deleted: every row and its key is still there.
	after := ids2(t, d)
	for stix, id := range before {
		assert.Equal(t, id, after[stix], stix)
	}
	// The tag still resolves, to a row flagged removed, and is reported.
	var state struct {
		ExternalID string `db:"external_id"`
		Removed    bool   `db:"removed"`
	}
	require.NoError(t, d.Read.NewQuery(`SELECT m.external_id, m.removed FROM test_template_mitre_tags tag
		JOIN mitre_techniques m ON m.id = tag.technique_id WHERE tag.test_template_id = {:t}`).Bind(dbx.Params{"t": tplID}).One(&state))
	assert.Equal(t, "T1003", state.ExternalID)
	assert.True(t, state.Removed)
	found := false
	for _, a := range res.AffectedTags {
		if a.ExternalID == "T1003" && a.TestTemplateID == tplID {
			found = true
			assert.Equal(t, "removed", a.State)
		}
	}
	assert.True(t, found, "affected tags list the template")
	list, err := s.Techniques(ctx, ListParams{Q: "T1003"})
	require.NoError(t, err)
	assert.Zero(t, list.Total, "removed entries are hidden from lists")
	detail, err := s.Technique(ctx, "T1003")
	require.NoError(t, err)
	assert.Equal(t, "removed", detail.State)

	// Syncing the full bundle again restores them.
	res = mustSync(t, s, "enterprise-attack.json.gz", SyncParams{ExpectedSHA256: fullSHA, Version: "18.1"})
	assert.NotEmpty(t, res.Changes.Restored)
	assert.Equal(t, before, ids2(t, d))
}

func TestFullAndCoreGiveSameCatalogue(t *testing.T) {
	skipFull(t)
	t.Parallel()
	a, _ := newSvc(t)
	b, _ := newSvc(t)
	ra := mustSync(t, a, "enterprise-attack.json.gz", SyncParams{AllowUnverified: true})
	rb := mustSync(t, b, "enterprise-attack-core.json.gz", SyncParams{AllowUnverified: true})
	assert.Equal(t, ra.Counts, rb.Counts)
	// The real catalogue, not two empty ones.
	require.Greater(t, ra.Counts.ActiveTechniques, 150)
	require.Greater(t, ra.Counts.ActiveSubtechniques, 300)
	ca, cb := catalogue(t, a), catalogue(t, b)
	assert.Len(t, ca, ra.Counts.Tactics+ra.Counts.Techniques+ra.Counts.Subtechniques, "every tactic, technique and subtechnique")
	assert.Equal(t, ca, cb)
}

// catalogue renders every tactic, technique and subtechnique (deprecated and
// revoked ones too) by external id, without database ids, so two databases
// can be compared. Every page is read; a failed query fails the test.
func catalogue(t *testing.T, s *Service) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	tactics, err := s.Tactics(ctx, true)
	require.NoError(t, err)
	for _, ta := range tactics {
		out = append(out, fmt.Sprintf("tactic %s %s %q %s position=%d techniques=%d", ta.ExternalID, ta.Shortname, ta.Name, ta.State, ta.Position, ta.TechniqueCount))
	}
	ref := func(r *SubRef) string {
		if r == nil {
			return "-"
		}
		return r.ExternalID + "/" + r.State
	}
	for _, list := range []func(context.Context, ListParams) (db.Page[TechniqueView], error){s.Techniques, s.Subtechniques} {
		for page := 1; ; page++ {
			p, err := list(ctx, ListParams{IncludeDeprecated: true, PageParams: db.PageParams{Page: page, PerPage: db.MaxPerPage}})
			require.NoError(t, err)
			for _, it := range p.Items {
				var tacs, subs []string
				for _, ta := range it.Tactics {
					tacs = append(tacs, ta.ExternalID)
				}
				for _, sub := range it.Subtechniques {
					subs = append(subs, ref(&sub))
				}
				out = append(out, fmt.Sprintf("%s %s %q %s %s platforms=%v tactics=%v parent=%s replaced_by=%s subs=%v",
					it.Kind, it.ExternalID, it.Name, it.State, it.URL, it.Platforms, tacs, ref(it.Parent), ref(it.ReplacedBy), subs))
			}
			if page*p.PerPage >= p.Total {
				break
			}
		}
	}
	return out
}

func catalogueState(t *testing.T, s *Service) string {
	t.Helper()
	st, err := s.Status(context.Background())
	require.NoError(t, err)
	b, _ := json.Marshal(st)
	return string(b)
}

func TestSHA256Pinning(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	sha := smallSHA(t)
	// Unverified without the flag: 422, nothing changes.
	before := catalogueState(t, s)
	_, err := syncFile(t, s, "enterprise-attack-small.json", SyncParams{})
	requireCode(t, err, "unverified_source")
	assert.Equal(t, before, catalogueState(t, s))
	// Mismatch: 422, nothing changes.
	_, err = syncFile(t, s, "enterprise-attack-small.json", SyncParams{ExpectedSHA256: strings.Repeat("a", 64)})
	requireCode(t, err, "sha256_mismatch")
	assert.Equal(t, before, catalogueState(t, s))
	// Malformed hash: validation error.
	_, err = syncFile(t, s, "enterprise-attack-small.json", SyncParams{ExpectedSHA256: "xyz"})
	assert.ErrorIs(t, err, apperr.ErrInvalid)
	// Match (upper case accepted).
	res, err := syncFile(t, s, "enterprise-attack-small.json", SyncParams{ExpectedSHA256: strings.ToUpper(sha)})
	require.NoError(t, err)
	assert.True(t, res.Verified)
	// Unverified with the flag.
	res, err = syncFile(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	require.NoError(t, err)
	assert.False(t, res.Verified)
	assert.Equal(t, "unverified", res.Verification)
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, code, ae.Code, ae.Message)
}

// stix21Enterprise turns the small bundle into what the official 2.1 release
// looks like: spec_version on every object and an x-mitre-collection.
func stix21Enterprise(t *testing.T, version string) []byte {
	raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	return rewrap(t, raw, rewrapOptions{stix21: true, collection: version})
}

func TestDefaultPinVerifiedByContent(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	good := stix21Enterprise(t, "18.1")
	// Another release: one object changed (its modified moved on), though
	// the collection still claims 18.1.
	other := rewrap(t, raw, rewrapOptions{stix21: true, collection: "18.1", mutate: bumpModified(3)})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "other.json") {
			_, _ = w.Write(other)
			return
		}
		_, _ = w.Write(good)
	}))
	defer srv.Close()
	d := dbtest.New(t)
	// The pin of this test is the small bundle's content.
	pin := Pin{URL: srv.URL + "/enterprise-attack-18.1.json", Version: "18.1", Digest: parseFile(t, "enterprise-attack-small.json").CanonicalDigest}
	s := New(Options{DB: d, Pin: &pin, Client: srv.Client()})
	res, err := s.Sync(context.Background(), SyncParams{}, actor)
	require.NoError(t, err)
	assert.True(t, res.Verified)
	assert.Equal(t, "pinned_release", res.Verification)
	assert.Equal(t, "18.1", res.Version)
	assert.Equal(t, "2.1", res.SpecVersion)
	assert.Equal(t, pin.URL, res.SourceURL)
	assert.Equal(t, pin.Digest, res.CanonicalDigest)

	// The pinned URL delivering something else is refused.
	pin2 := pin
	pin2.URL = srv.URL + "/other.json"
	s2 := New(Options{DB: dbtest.New(t), Pin: &pin2, Client: srv.Client()})
	_, err = s2.Sync(context.Background(), SyncParams{}, actor)
	requireCode(t, err, "pin_mismatch")

	// An uploaded copy of the pinned release verifies by content too; the
	// changed one, whatever its collection says, does not.
	s3 := New(Options{DB: dbtest.New(t), Pin: &pin})
	res, err = s3.Sync(context.Background(), SyncParams{Upload: bytes.NewReader(good), Source: "upload.json"}, actor)
	require.NoError(t, err)
	assert.Equal(t, "pinned_release", res.Verification)
	_, err = s3.Sync(context.Background(), SyncParams{Upload: bytes.NewReader(other), Source: "other.json"}, actor)
	requireCode(t, err, "unverified_source")
	// A bundle claiming another version than requested is refused.
	_, err = s3.Sync(context.Background(), SyncParams{Upload: bytes.NewReader(good), Version: "17.0"}, actor)
	requireCode(t, err, "version_mismatch")
}

func TestSyncBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	before := catalogueState(t, s)
	raw, _ := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	for name, body := range map[string][]byte{
		"empty":       {},
		"not json":    []byte("hello"),
		"not bundle":  []byte(`{"type":"x","objects":[]}`),
		"no patterns": []byte(`{"type":"bundle","spec_version":"2.0","objects":[{"type":"x-mitre-tactic","id":"x-mitre-tactic--1"}]}`),
		"truncated":   raw[:len(raw)-100],
		"gzip junk":   {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3},
	} {
		_, err := s.Sync(context.Background(), SyncParams{Upload: bytes.NewReader(body), AllowUnverified: true}, actor)
		requireCode(t, err, "invalid_bundle")
		assert.Equal(t, before, catalogueState(t, s), name)
	}
	// The console (trusted) gets clear messages; nothing changes.
	_, err := s.Sync(context.Background(), SyncParams{Source: "https://127.0.0.1:1/enterprise.json", AllowUnverified: true, Trusted: true}, actor)
	requireCode(t, err, "source_unreachable")
	assert.Contains(t, err.Error(), "upload the file instead")
	_, err = s.Sync(context.Background(), SyncParams{Source: "http://example.invalid/x.json", AllowUnverified: true, Trusted: true}, actor)
	requireCode(t, err, "insecure_source")
	_, err = s.Sync(context.Background(), SyncParams{Source: "relative/path.json", AllowUnverified: true, Trusted: true}, actor)
	requireCode(t, err, "invalid_source")
	_, err = s.Sync(context.Background(), SyncParams{Source: "/nonexistent/file.json", AllowUnverified: true, Trusted: true}, actor)
	requireCode(t, err, "source_unreadable")
	// Over the API (not trusted), every one of them reads the same.
	for _, src := range []string{"https://127.0.0.1:1/enterprise.json", "http://example.invalid/x.json", "relative/path.json",
		"/nonexistent/file.json", "/etc/passwd"} {
		_, err = s.Sync(context.Background(), SyncParams{Source: src, AllowUnverified: true}, actor)
		requireCode(t, err, "source_unavailable")
	}
	assert.Equal(t, before, catalogueState(t, s))
}

func TestICSBundleRefusedClearly(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	_, err := syncFile(t, s, "ics-attack-18.1.json.gz", SyncParams{AllowUnverified: true})
	requireCode(t, err, "unsupported_domain")
	assert.Contains(t, err.Error(), "ics-attack")
	assert.Contains(t, err.Error(), "STIX 2.1")
	assert.Contains(t, err.Error(), "18.1")
}

func TestServerPathSource(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	abs, err := os.Getwd()
	require.NoError(t, err)
	path := abs + "/" + testdata(t, "enterprise-attack-small.json")
	res, err := s.Sync(context.Background(), SyncParams{Source: path, AllowUnverified: true, Trusted: true}, actor)
	require.NoError(t, err)
	assert.Equal(t, path, res.SourceURL)
}

// TestSyncStopsAtSizeLimit checks the reader Sync wraps every bundle in: a
// bundle of exactly the limit parses, one byte more is too_large (413), and
// a well-formed body that never ends is cut off at the limit rather than read
// to its end.
func TestSyncStopsAtSizeLimit(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(testdata(t, "enterprise-attack-small.json"))
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	for name, file := range map[string][]byte{"plain": raw, "gzip": gz.Bytes()} {
		n := int64(len(file))
		_, err = Parse(&limitedReader{r: bytes.NewReader(file), n: n}, nil)
		require.NoError(t, err, "%s: exactly the limit", name)
		// One byte over (the last byte is outside the JSON document for the
		// plain file, the gzip trailer for the other), and far over.
		for _, limit := range []int64{n - 1, n / 2} {
			_, err = Parse(&limitedReader{r: bytes.NewReader(file), n: limit}, nil)
			require.ErrorIs(t, err, apperr.ErrTooLarge, "%s, limit %d of %d", name, limit, n)
			requireCode(t, err, "too_large")
		}
	}

	// JSON whitespace forever: valid so far, so only the limit stops it.
	endless := &countingReader{r: io.MultiReader(strings.NewReader(`{"type":"bundle","objects":[`), spaces{})}
	_, err = Parse(&limitedReader{r: endless, n: 1 << 20}, nil)
	requireCode(t, err, "too_large")
	assert.LessOrEqual(t, endless.n, int64(1<<20)+1)
}

type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

type hostList []string

func (h hostList) MitreSyncHosts(context.Context) ([]string, error) { return h, nil }

func TestHostAllowed(t *testing.T) {
	t.Parallel()
	allowed := []string{"attack.example.org", "mirror.example.org:8443", "10.0.0.5"}
	for raw, want := range map[string]bool{
		"https://attack.example.org/x":      true,
		"https://ATTACK.example.org./x":     true,
		"https://attack.example.org:443/x":  true,
		"https://attack.example.org:444/x":  false,
		"https://evil-attack.example.org/x": false,
		"https://example.org/x":             false,
		"https://mirror.example.org:8443/x": true,
		"https://mirror.example.org/x":      false,
		"https://10.0.0.5/x":                true,
		"https://10.0.0.6/x":                false,
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, want, hostAllowed(u, allowed), raw)
	}
}

// A redirect from an allowed host to one that is not is refused like the
// host itself: the server never follows it.
func TestRedirectToAnotherHostRefused(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/bundle.json", http.StatusFound)
	}))
	defer origin.Close()
	d := dbtest.New(t)
	u, _ := url.Parse(origin.URL)
	s := New(Options{DB: d, Client: origin.Client(), Hosts: hostList{u.Host}})
	_, err := s.Sync(context.Background(), SyncParams{Source: origin.URL + "/bundle.json", AllowUnverified: true}, actor)
	requireCode(t, err, "source_unavailable")
	assert.Zero(t, hits.Load(), "the redirect target was never contacted")
}
