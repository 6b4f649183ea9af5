package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newExchangeLib is a library whose catalogue holds the small bundle.
func newExchangeLib(t *testing.T) (*Service, *db.DB) {
	t.Helper()
	d := dbtest.New(t)
	m := mitre.New(mitre.Options{DB: d})
	syncBundle(t, m, "enterprise-attack-small.json")
	return New(Options{DB: d, Mitre: m}), d
}

// roundTrip encodes and decodes a document as the wire would.
func roundTrip(t *testing.T, doc *Library) *Library {
	t.Helper()
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	out, err := DecodeLibrary(bytes.NewReader(b))
	require.NoError(t, err)
	return out
}

// canonical replaces origin ids by positions and drops the export time,
// so documents of two instances compare.
func canonical(t *testing.T, doc *Library) string {
	t.Helper()
	pos := map[string]string{}
	c := *doc
	c.ExportedAt = ""
	c.Templates = append([]LibraryTemplate{}, doc.Templates...)
	for i := range c.Templates {
		pos[c.Templates[i].OriginID] = string(rune('A' + i))
		c.Templates[i].OriginID = pos[c.Templates[i].OriginID]
	}
	c.Scenarios = append([]LibraryScenario{}, doc.Scenarios...)
	for i := range c.Scenarios {
		ids := make([]string, len(c.Scenarios[i].TestOriginIDs))
		for j, o := range c.Scenarios[i].TestOriginIDs {
			ids[j] = pos[o]
		}
		c.Scenarios[i].TestOriginIDs = ids
	}
	b, err := json.MarshalIndent(c, "", " ")
	require.NoError(t, err)
	return string(b)
}

func TestLibraryRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, dA := newExchangeLib(t)
	b, dB := newExchangeLib(t)

	// Instance A: two hand-written templates, Atomic tests, a scenario that
	// repeats a test.
	ps, err := a.Create(ctx, importer, Input{Name: "PowerShell cradle", Description: "downloads", Objective: "see it", OpsecLevel: "high",
		Platforms: []string{"windows"}, Tags: []string{"initial"}, ExpectedDetection: "EDR alert",
		InputArguments: []InputArgument{{Name: "url", Type: "url", Default: "http://x"}, {Name: "n", Type: "integer", Default: 3.0}, {Name: "z", Default: nil}},
		Prerequisites:  []Prerequisite{{Description: "d", PrereqCommand: "p", GetPrereqCommand: "g"}},
		MitreTags:      []TagRef{{ExternalID: "T1059.001"}, {ExternalID: "TA0002"}}})
	require.NoError(t, err)
	task, err := a.Create(ctx, importer, Input{Name: "Scheduled task", MitreTags: []TagRef{{ExternalID: "T1053.005"}}})
	require.NoError(t, err)
	data, err := os.ReadFile(atomicsFile(t, "T1547.001"))
	require.NoError(t, err)
	_, err = a.ImportAtomics(ctx, importer, []NamedReader{{Name: "T1547.001.yaml", R: bytes.NewReader(data)}})
	require.NoError(t, err)
	page, err := a.List(ctx, ListParams{Q: "Reg Key Run", PageParams: db.PageParams{PerPage: 1}})
	require.NoError(t, err)
	require.NotEmpty(t, page.Items)
	atomic := page.Items[0]
	sc, err := a.CreateScenario(ctx, importer, ScenarioInput{Name: "Persistence drill", Description: "run in order",
		TestTemplateIDs: []string{ps.ID, atomic.ID, ps.ID}})
	require.NoError(t, err)

	docA, err := a.ExportLibrary(ctx, ExportParams{TemplateIDs: []string{task.ID}, ScenarioIDs: []string{sc.ID}, AppVersion: "test"})
	require.NoError(t, err)
	assert.Equal(t, LibraryFormat, docA.Format)
	assert.Equal(t, 1, docA.FormatVersion)
	assert.NotEmpty(t, docA.ExportedAt)
	require.Len(t, docA.Templates, 3, "the scenario's templates come along")
	assert.Equal(t, []string{task.ID, ps.ID, atomic.ID}, []string{docA.Templates[0].OriginID, docA.Templates[1].OriginID, docA.Templates[2].OriginID})
	assert.Equal(t, *atomic.SourceRef, docA.Templates[2].AtomicGUID)
	assert.Empty(t, docA.Templates[0].AtomicGUID)
	assert.Equal(t, []TagRef{{Kind: "tactic", ExternalID: "TA0002"}, {Kind: "subtechnique", ExternalID: "T1059.001"}}, docA.Templates[1].MitreTags)
	require.Len(t, docA.Scenarios, 1)
	assert.Equal(t, LibraryScenario{OriginID: sc.ID, Name: "Persistence drill", Description: "run in order",
		TestOriginIDs: []string{ps.ID, atomic.ID, ps.ID}}, docA.Scenarios[0])

	// Into a fresh instance.
	repB, err := b.ImportLibrary(ctx, importer, roundTrip(t, docA))
	require.NoError(t, err)
	assert.Equal(t, OutcomeCounts{Created: 3}, repB.Templates)
	assert.Equal(t, OutcomeCounts{Created: 1}, repB.Scenarios)
	assert.Empty(t, repB.Warnings)
	require.Len(t, repB.Items, 4)
	assert.Equal(t, 3, dbtest.Count(t, dB, "test_templates"))
	scB, err := b.GetScenario(ctx, sc.ID)
	require.NoError(t, err)
	require.Len(t, scB.Tests, 3)
	assert.Equal(t, scB.Tests[0].TestTemplateID, scB.Tests[2].TestTemplateID, "the repeated test stays repeated")
	psB, err := b.Get(ctx, scB.Tests[0].TestTemplateID)
	require.NoError(t, err)
	assert.Equal(t, "import", psB.Source)
	assert.Equal(t, "lib:"+ps.ID, *psB.SourceRef)
	assert.Equal(t, ps.InputArguments, psB.InputArguments)
	atomicB, err := b.Get(ctx, scB.Tests[1].TestTemplateID)
	require.NoError(t, err)
	assert.Equal(t, "atomic", atomicB.Source, "an Atomic test stays keyed by its guid")
	assert.Equal(t, *atomic.SourceRef, *atomicB.SourceRef)

	// B's export equals A's but for ids and time.
	var bIDs []string
	for _, it := range repB.Items[:3] {
		bIDs = append(bIDs, it.ID)
	}
	docB, err := b.ExportLibrary(ctx, ExportParams{TemplateIDs: bIDs[:1], ScenarioIDs: []string{sc.ID}, AppVersion: "test"})
	require.NoError(t, err)
	assert.Equal(t, canonical(t, docA), canonical(t, docB))
	assert.Equal(t, docA.Templates[0].OriginID, docB.Templates[0].OriginID, "an imported template keeps its origin")
	assert.Equal(t, docA.Scenarios[0].OriginID, docB.Scenarios[0].OriginID)

	// Idempotent everywhere: A's document into B again, B's into A, A's into A.
	for _, c := range []struct {
		name string
		s    *Service
		doc  *Library
	}{{"A into B", b, docA}, {"B into B", b, docB}, {"B into A", a, docB}, {"A into A", a, docA}} {
		rep, err := c.s.ImportLibrary(ctx, importer, roundTrip(t, c.doc))
		require.NoError(t, err, c.name)
		assert.Equal(t, OutcomeCounts{Unchanged: 3}, rep.Templates, c.name)
		assert.Equal(t, OutcomeCounts{Unchanged: 1}, rep.Scenarios, c.name)
	}
	assert.Equal(t, 3, dbtest.Count(t, dB, "test_templates"))
	assert.Equal(t, 2+sampleTests["T1547.001"], dbtest.Count(t, dA, "test_templates"))

	// An Atomic import on B updates the library's Atomic test, no duplicate.
	rep, err := b.ImportAtomics(ctx, importer, []NamedReader{{Name: "T1547.001.yaml", R: bytes.NewReader(data)}})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Unchanged)
	assert.Equal(t, sampleTests["T1547.001"]-1, rep.Created)

	// A change on B travels back to A as an update.
	_, err = b.Update(ctx, importer, psB.ID, UpdateParams{Description: patch.Value("downloads and runs")})
	require.NoError(t, err)
	docB, err = b.ExportLibrary(ctx, ExportParams{TemplateIDs: []string{psB.ID}})
	require.NoError(t, err)
	rep2, err := a.ImportLibrary(ctx, importer, roundTrip(t, docB))
	require.NoError(t, err)
	assert.Equal(t, OutcomeCounts{Updated: 1}, rep2.Templates)
	got, err := a.Get(ctx, ps.ID)
	require.NoError(t, err)
	assert.Equal(t, "downloads and runs", got.Description)
	assert.Equal(t, "manual", got.Source, "the original keeps its source")
}

func TestLibraryExportErrors(t *testing.T) {
	t.Parallel()
	s, _ := newExchangeLib(t)
	ctx := context.Background()
	_, err := s.ExportLibrary(ctx, ExportParams{})
	assert.True(t, errors.Is(err, apperr.ErrInvalid), "%v", err)
	_, err = s.ExportLibrary(ctx, ExportParams{TemplateIDs: []string{db.NewID()}})
	assert.True(t, errors.Is(err, apperr.ErrNotFound), "%v", err)
	_, err = s.ExportLibrary(ctx, ExportParams{ScenarioIDs: []string{db.NewID()}})
	assert.True(t, errors.Is(err, apperr.ErrNotFound), "%v", err)
	_, err = s.ExportLibrary(ctx, ExportParams{TemplateIDs: []string{"nope"}})
	assert.True(t, errors.Is(err, apperr.ErrNotFound), "%v", err)
}

func TestLibraryBadDocuments(t *testing.T) {
	t.Parallel()
	s, d := newExchangeLib(t)
	ctx := context.Background()
	scID := db.NewID()
	good := func() string {
		return `{"format":"purplebook-library","format_version":1,"templates":[
			{"origin_id":"t1","name":"one","mitre_tags":[{"external_id":"T1059"}]},
			{"origin_id":"t2","name":"two","input_arguments":[{"name":"a","default":1}]}],
		  "scenarios":[{"origin_id":"` + scID + `","name":"s","test_origin_ids":["t1","t2","t1"]}]}`
	}
	cases := []struct {
		name, doc string
		fields    []string
	}{
		{"not json", `{"format":`, []string{"document"}},
		{"trailing", good() + `{}`, []string{"document"}},
		{"wrong type", strings.Replace(good(), `"name":"one"`, `"name":1`, 1), []string{"templates.name"}},
		{"wrong format", strings.Replace(good(), "purplebook-library", "other", 1), []string{"format"}},
		{"newer version", strings.Replace(good(), `"format_version":1`, `"format_version":2`, 1), []string{"format_version"}},
		{"empty", `{"format":"purplebook-library","format_version":1}`, []string{"templates"}},
		{"field problems", strings.Replace(strings.Replace(good(), `"name":"one"`, `"name":"","opsec_level":"extreme"`, 1), `"origin_id":"t2"`, `"origin_id":"t1"`, 1),
			[]string{"templates[0].name", "templates[0].opsec_level", "templates[1].origin_id"}},
		{"bad origin", strings.Replace(good(), `"origin_id":"t2"`, `"origin_id":"../x y"`, 1), []string{"templates[1].origin_id", "scenarios[0].test_origin_ids"}},
		{"scenario problems", strings.Replace(strings.Replace(good(), scID, "not-a-uuid", 1), `"t1","t2","t1"`, `"t1","t9"`, 1),
			[]string{"scenarios[0].origin_id", "scenarios[0].test_origin_ids"}},
	}
	for _, c := range cases {
		doc, err := DecodeLibrary(strings.NewReader(c.doc))
		if err == nil {
			_, err = s.ImportLibrary(ctx, importer, doc)
		}
		var inv *apperr.Invalid
		require.True(t, errors.As(err, &inv), "%s: %v", c.name, err)
		for _, f := range c.fields {
			assert.Contains(t, inv.Fields, f, "%s: %v", c.name, inv.Fields)
		}
		assert.Zero(t, dbtest.Count(t, d, "test_templates"), c.name)
	}

	// The good one works, with a warning for an unknown id.
	doc, err := DecodeLibrary(strings.NewReader(strings.Replace(good(), "T1059", "T1999", 1)))
	require.NoError(t, err)
	rep, err := s.ImportLibrary(ctx, importer, doc)
	require.NoError(t, err)
	assert.Equal(t, OutcomeCounts{Created: 2}, rep.Templates)
	require.Len(t, rep.Warnings, 1)
	assert.Contains(t, rep.Warnings[0].Message, "T1999")

	// A scenario whose template was deleted locally cannot be rewritten:
	// the whole import fails, nothing changes.
	var t1 string
	for _, it := range rep.Items {
		if it.OriginID == "t1" {
			t1 = it.ID
		}
	}
	require.NoError(t, s.Delete(ctx, importer, t1))
	doc, err = DecodeLibrary(strings.NewReader(strings.Replace(good(), `"name":"s"`, `"name":"s2"`, 1)))
	require.NoError(t, err)
	_, err = s.ImportLibrary(ctx, importer, doc)
	var inv *apperr.Invalid
	require.True(t, errors.As(err, &inv), "%v", err)
	assert.Contains(t, inv.Message, "Scenario \"s2\"")
	sc, err := s.GetScenario(ctx, scID)
	require.NoError(t, err)
	assert.Equal(t, "s", sc.Name)
}
