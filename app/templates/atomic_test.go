package templates

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var importer = audit.Actor{Label: "atomic-test"}

// atomicsDir is the shared Atomic Red Team sample, read in place.
func atomicsDir() string {
	return filepath.Join("..", "..", "..", "shared", "testdata", "atomics")
}

func atomicsFile(t testing.TB, id string) string {
	t.Helper()
	return filepath.Join(atomicsDir(), id, id+".yaml")
}

// sampleTests is what the shared sample holds, counted by reading the files
// (every test there has an auto_generated_guid, so none is skipped).
var sampleTests = map[string]int{
	"T1003.001": 14, "T1021.002": 4, "T1027": 11, "T1053.005": 12, "T1055": 13, "T1059.001": 22, "T1070.004": 11,
	"T1087.001": 11, "T1112": 90, "T1136.001": 10, "T1218.011": 16, "T1547.001": 20, "T1566.001": 2,
}

const sampleTotal = 236

func sampleIDs() []string {
	ids := make([]string, 0, len(sampleTests))
	for id := range sampleTests {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// newAtomicLib is a library on a fresh database with an empty catalogue.
func newAtomicLib(t testing.TB) (*Service, *mitre.Service, *db.DB) {
	t.Helper()
	d := dbtest.New(t)
	m := mitre.New(mitre.Options{DB: d})
	return New(Options{DB: d, Mitre: m}), m, d
}

func syncBundle(t testing.TB, m *mitre.Service, name string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "testdata", "attack", name))
	require.NoError(t, err)
	defer f.Close()
	_, err = m.Sync(context.Background(), mitre.SyncParams{Upload: f, AllowUnverified: true, Source: name}, importer)
	require.NoError(t, err)
}

func parseSample(t testing.TB, id string) *AtomicFile {
	t.Helper()
	data, err := os.ReadFile(atomicsFile(t, id))
	require.NoError(t, err)
	f, err := ParseAtomic(id+".yaml", data)
	require.NoError(t, err)
	return f
}

func testByGUID(f *AtomicFile, guid string) *AtomicTest {
	for i := range f.Tests {
		if f.Tests[i].GUID == guid {
			return &f.Tests[i]
		}
	}
	return nil
}

func TestParseAtomicSample(t *testing.T) {
	t.Parallel()
	total := 0
	for _, id := range sampleIDs() {
		f := parseSample(t, id)
		assert.Equal(t, id, f.AttackTechnique)
		assert.Equal(t, sampleTests[id], f.Found, id)
		assert.Len(t, f.Tests, sampleTests[id], id)
		assert.Empty(t, f.Skipped, id)
		assert.Empty(t, f.Warnings, id)
		total += len(f.Tests)
		for _, tc := range f.Tests {
			in := tc.Input
			assert.NotEmpty(t, in.Name)
			assert.NotEmpty(t, in.Command, "%s %s", id, in.Name)
			assert.Equal(t, "atomic", in.Source)
			assert.Equal(t, tc.GUID, in.SourceRef)
			assert.Equal(t, []string{"atomic"}, in.Tags)
			assert.Equal(t, []TagRef{{Kind: InferKind(id), ExternalID: id}}, in.MitreTags)
			assert.Empty(t, in.Objective)
			assert.Empty(t, in.ExpectedDetection)
			require.NoError(t, in.normalize(), "%s %s", id, in.Name)
		}
	}
	assert.Equal(t, sampleTotal, total)

	// A manual executor keeps its steps as the command.
	f := parseSample(t, "T1003.001")
	m := testByGUID(f, "dea6c349-f1c6-44f3-87a1-1ed33a59a607")
	require.NotNil(t, m)
	assert.Equal(t, "manual", m.Input.Executor)
	assert.True(t, strings.HasPrefix(m.Input.Command, "1. Open Task Manager:\n"), m.Input.Command)
	assert.Equal(t, 5, m.Index)
	// Dependencies and their executor.
	first := f.Tests[0].Input
	assert.Equal(t, "powershell", first.PrerequisitesExecutor)
	require.Len(t, first.Prerequisites, 1)
	assert.Contains(t, first.Prerequisites[0].PrereqCommand, "procdump")
	assert.NotEmpty(t, first.Prerequisites[0].GetPrereqCommand)
	assert.True(t, first.ElevationRequired)
	assert.Equal(t, []string{"windows"}, first.Platforms)

	for _, c := range []struct{ file, guid string }{
		{"T1027", "e68b945c-52d0-4dd9-a5e8-d173d70c448f"}, {"T1059.001", "cc50fa2a-a4be-42af-a88f-e347ba0bf4d7"}} {
		tc := testByGUID(parseSample(t, c.file), c.guid)
		require.NotNil(t, tc)
		assert.Equal(t, "manual", tc.Input.Executor)
		assert.True(t, strings.HasPrefix(tc.Input.Command, "1. "), tc.Input.Command)
	}

	// An empty cleanup_command (null in YAML) is empty text.
	tc := testByGUID(parseSample(t, "T1218.011"), "8a7f56ee-10e7-444c-a139-0109438288eb")
	require.NotNil(t, tc)
	assert.Equal(t, "", tc.Input.CleanupCommand)
	assert.Equal(t, "powershell", tc.Input.Executor)
	assert.False(t, tc.Input.ElevationRequired)
	assert.Equal(t, []InputArgument{{Name: "exe_to_launch", Description: "Path of the executable to launch", Type: "path",
		Default: `'%windir%\System32\calc.exe'`}}, tc.Input.InputArguments)

	// An integer-typed argument whose default is quoted stays text.
	tc = nil
	for _, x := range parseSample(t, "T1112").Tests {
		if len(x.Input.InputArguments) == 1 && x.Input.InputArguments[0].Name == "remove_rdp_access_during_cleanup" {
			tc = &x
			break
		}
	}
	require.NotNil(t, tc)
	assert.Equal(t, InputArgument{Name: "remove_rdp_access_during_cleanup", Description: "Set to 1 if you want the cleanup to remove RDP access to machine",
		Type: "integer", Default: "0"}, tc.Input.InputArguments[0])

	// Input arguments keep the file's order.
	f = parseSample(t, "T1021.002")
	names := []string{}
	for _, a := range f.Tests[0].Input.InputArguments {
		names = append(names, a.Name)
	}
	assert.Equal(t, []string{"user_name", "share_name", "password", "computer_name"}, names)
}

// quirkyYAML has what upstream drift produces: capitalised keys and types,
// numeric, boolean and null defaults, a null cleanup, manual steps, a test
// without a guid, scalars where lists are expected and the reverse.
const quirkyYAML = `
Attack_Technique: t1059.001
Display_Name: PowerShell
atomic_tests:
- Name: Quirky one
  Auto_Generated_GUID: 11111111-2222-4333-8444-555555555555
  Description:
  - first line
  - second line
  Supported_Platforms: Windows
  input_arguments:
    count:
      description: how many
      Type: Integer
      default: 5
    ratio:
      type: Float
      default: 1.5
    flag:
      type: Bool
      default: true
    nothing:
      type: String
      default: null
    missing:
      type: STRING
    big:
      type: integer
      default: 123456789012345678901234
    hex:
      type: integer
      default: 0x1F
    when:
      default: 2024-01-02
    bare: just a value
  dependencies:
    description: a single mapping, not a list
    prereq_command: exit 0
  executor:
    Name: PowerShell
    command: 12345
    cleanup_command: null
    elevation_required: "yes"
- name: Manual one
  auto_generated_guid: "{AAAAAAAA-2222-4333-8444-555555555555}"
  supported_platforms: [linux, macOS]
  executor:
    name: manual
    steps: |
      1. Do this
      2. Then that
- name: No guid here
  executor: {name: sh, command: id}
- name: Bad guid
  auto_generated_guid: "not a guid!"
- 42
- name: Executor as text
  auto_generated_guid: 99999999-2222-4333-8444-555555555555
  executor: bash
  elevation_required: maybe
`

func TestParseAtomicQuirks(t *testing.T) {
	t.Parallel()
	f, err := ParseAtomic("quirks.yaml", []byte(quirkyYAML))
	require.NoError(t, err)
	assert.Equal(t, "T1059.001", f.AttackTechnique)
	assert.Equal(t, "PowerShell", f.DisplayName)
	assert.Equal(t, 6, f.Found)
	require.Len(t, f.Tests, 3)
	require.Len(t, f.Skipped, 3)
	assert.Equal(t, "#3 No guid here", f.Skipped[0].Test)
	assert.Contains(t, f.Skipped[0].Message, "no auto_generated_guid")
	assert.Contains(t, f.Skipped[1].Message, "is not a GUID")
	assert.Equal(t, "#5", f.Skipped[2].Test)
	assert.Contains(t, f.Skipped[2].Message, "must be a mapping")

	q := f.Tests[0].Input
	assert.Equal(t, "Quirky one", q.Name)
	assert.Equal(t, "11111111-2222-4333-8444-555555555555", q.SourceRef)
	assert.Equal(t, "first line\nsecond line", q.Description)
	assert.Equal(t, []string{"windows"}, q.Platforms)
	assert.Equal(t, "powershell", q.Executor)
	assert.Equal(t, "12345", q.Command, "a number where text is expected")
	assert.Equal(t, "", q.CleanupCommand)
	assert.True(t, q.ElevationRequired, `"yes" is true`)
	assert.Equal(t, []TagRef{{Kind: "subtechnique", ExternalID: "T1059.001"}}, q.MitreTags)
	assert.Equal(t, []InputArgument{
		{Name: "count", Description: "how many", Type: "integer", Default: int64(5)},
		{Name: "ratio", Type: "float", Default: 1.5},
		{Name: "flag", Type: "bool", Default: true},
		{Name: "nothing", Type: "string", Default: nil},
		{Name: "missing", Type: "string", Default: nil},
		{Name: "big", Type: "integer", Default: "123456789012345678901234"},
		{Name: "hex", Type: "integer", Default: "0x1F"},
		{Name: "when", Default: "2024-01-02"},
		{Name: "bare", Default: "just a value"},
	}, q.InputArguments)
	assert.Equal(t, []Prerequisite{{Description: "a single mapping, not a list", PrereqCommand: "exit 0"}}, q.Prerequisites)

	m := f.Tests[1].Input
	assert.Equal(t, "aaaaaaaa-2222-4333-8444-555555555555", m.SourceRef, "braces stripped, lower-cased")
	assert.Equal(t, "manual", m.Executor)
	assert.Equal(t, "1. Do this\n2. Then that\n", m.Command)
	assert.Equal(t, []string{"linux", "macos"}, m.Platforms)

	x := f.Tests[2].Input
	assert.Equal(t, "bash", x.Executor)
	assert.False(t, x.ElevationRequired)
	require.NotEmpty(t, f.Warnings)
	assert.Contains(t, f.Warnings[len(f.Warnings)-1].Message, `elevation_required "maybe" is not true or false`)
	for _, tc := range f.Tests {
		in := tc.Input
		require.NoError(t, in.normalize())
	}
}

func TestParseAtomicOddDocuments(t *testing.T) {
	t.Parallel()
	_, err := ParseAtomic("broken.yaml", []byte("attack_technique: T1027\natomic_tests:\n- name: a\n  description: [unclosed\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.yaml")
	assert.Contains(t, err.Error(), "line ")

	for _, c := range []struct{ doc, warning string }{
		{"", "empty"},
		{"# only a comment\n", "empty"},
		{"just: a mapping\n", "no atomic_tests"},
		{"plain scalar\n", "no atomic_tests"},
		{"attack_technique: nonsense\natomic_tests: []\n", "not an ATT&CK technique id"},
	} {
		f, err := ParseAtomic("odd.yaml", []byte(c.doc))
		require.NoError(t, err, c.doc)
		assert.Zero(t, f.Found)
		require.NotEmpty(t, f.Warnings, c.doc)
		assert.Contains(t, f.Warnings[0].Message, c.warning)
	}

	// Anchors, aliases, merge keys and a self-referencing alias.
	f, err := ParseAtomic("anchors.yaml", []byte(`
attack_technique: T1027
base: &base
  supported_platforms: [linux]
  executor: &ex {name: sh, command: echo hi}
atomic_tests:
- <<: *base
  name: merged
  auto_generated_guid: 21111111-2222-4333-8444-555555555555
- &loop
  name: loop
  auto_generated_guid: 31111111-2222-4333-8444-555555555555
  executor: *ex
  description: *loop
`))
	require.NoError(t, err)
	require.Len(t, f.Tests, 2)
	assert.Equal(t, []string{"linux"}, f.Tests[0].Input.Platforms)
	assert.Equal(t, "echo hi", f.Tests[0].Input.Command)
	assert.Equal(t, "echo hi", f.Tests[1].Input.Command)

	// A bare list of tests is accepted too (no technique, so no tag).
	f, err = ParseAtomic("bare.yaml", []byte("- name: x\n  auto_generated_guid: 41111111-2222-4333-8444-555555555555\n"))
	require.NoError(t, err)
	require.Len(t, f.Tests, 1)
	assert.Empty(t, f.Tests[0].Input.MitreTags)
}

// importSample imports the whole shared sample from disk.
func importSample(t testing.TB, s *Service) *ImportReport {
	t.Helper()
	c := NewAtomicCollector(t.TempDir())
	require.NoError(t, c.AddPath(atomicsDir()))
	rep, err := s.ImportAtomicFiles(context.Background(), importer, c)
	require.NoError(t, err)
	return rep
}

func perFile(rep *ImportReport) map[string]FileReport {
	out := map[string]FileReport{}
	for _, f := range rep.PerFile {
		out[f.AttackTechnique] = f
	}
	return out
}

func TestImportAtomicsSampleIdempotent(t *testing.T) {
	t.Parallel()
	s, _, d := newAtomicLib(t)
	ctx := context.Background()
	rep := importSample(t, s)
	assert.Equal(t, len(sampleTests), rep.Files)
	assert.Equal(t, sampleTotal, rep.Tests)
	assert.Equal(t, sampleTotal, rep.Created)
	assert.Zero(t, rep.Updated)
	assert.Zero(t, rep.Unchanged)
	assert.Empty(t, rep.Skipped)
	pf := perFile(rep)
	require.Len(t, pf, len(sampleTests))
	for id, n := range sampleTests {
		assert.Equal(t, FileReport{File: pf[id].File, AttackTechnique: id, Tests: n, Created: n}, pf[id], id)
		assert.True(t, strings.HasSuffix(filepath.ToSlash(pf[id].File), "atomics/"+id+"/"+id+".yaml"), pf[id].File)
	}
	// Empty catalogue: one general warning, then one per test for its id.
	require.Len(t, rep.Warnings, 1+sampleTotal)
	assert.Contains(t, rep.Warnings[0].Message, "catalogue is empty")
	assert.Contains(t, rep.Warnings[1].Message, "unknown ATT&CK id")
	assert.NotEmpty(t, rep.Warnings[1].File)
	assert.NotEmpty(t, rep.Warnings[1].Test)
	assert.Equal(t, sampleTotal, dbtest.Count(t, d, "test_templates"))
	assert.Zero(t, dbtest.Count(t, d, "test_template_mitre_tags"))

	// What a template looks like.
	page, err := s.List(ctx, ListParams{Q: "Dump LSASS.exe Memory using Windows Task Manager"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	tpl := page.Items[0]
	assert.Equal(t, "atomic", tpl.Source)
	require.NotNil(t, tpl.SourceRef)
	assert.Equal(t, "dea6c349-f1c6-44f3-87a1-1ed33a59a607", *tpl.SourceRef)
	assert.Equal(t, "manual", tpl.Executor)
	assert.Equal(t, []string{"atomic"}, tpl.Tags)
	assert.Equal(t, "medium", tpl.OpsecLevel)

	// Re-import: nothing changes.
	again := importSample(t, s)
	assert.Zero(t, again.Created)
	assert.Zero(t, again.Updated)
	assert.Equal(t, sampleTotal, again.Unchanged)
	for id, n := range sampleTests {
		assert.Equal(t, n, perFile(again)[id].Unchanged, id)
	}
	assert.Equal(t, sampleTotal, dbtest.Count(t, d, "test_templates"))

	// What the team curates survives a re-import; an upstream change is an
	// update that keeps it.
	up := UpdateParams{Objective: patch.Value("Prove LSASS access is detected"), OpsecLevel: patch.Value("high"),
		Tags: patch.Value([]string{"atomic", "credential-access"}), Command: patch.Value("tampered")}
	_, err = s.Update(ctx, importer, tpl.ID, up)
	require.NoError(t, err)
	again = importSample(t, s)
	assert.Equal(t, 1, again.Updated, "the command is Atomic's and comes back")
	assert.Equal(t, sampleTotal-1, again.Unchanged)
	got, err := s.Get(ctx, tpl.ID)
	require.NoError(t, err)
	assert.Equal(t, "Prove LSASS access is detected", got.Objective)
	assert.Equal(t, "high", got.OpsecLevel)
	assert.Equal(t, []string{"atomic", "credential-access"}, got.Tags)
	assert.True(t, strings.HasPrefix(got.Command, "1. Open Task Manager"))
}

func TestImportAtomicsTagsWhenCatalogueSynced(t *testing.T) {
	t.Parallel()
	s, m, d := newAtomicLib(t)
	ctx := context.Background()
	// Imported before the catalogue exists: untagged, with warnings.
	first := importSample(t, s)
	assert.Equal(t, sampleTotal, first.Created)
	assert.Zero(t, dbtest.Count(t, d, "test_template_mitre_tags"))

	syncBundle(t, m, "enterprise-attack-core.json.gz") // every technique and subtechnique of v18.1, a tenth of the full bundle
	rep := importSample(t, s)
	assert.Equal(t, sampleTotal, rep.Updated, "now tagged")
	assert.Empty(t, rep.Warnings, "every technique of the sample is in ATT&CK v18.1")
	assert.Equal(t, sampleTotal, dbtest.Count(t, d, "test_template_mitre_tags"))

	page, err := s.List(ctx, ListParams{Technique: "T1059", PageParams: db.PageParams{PerPage: 200}})
	require.NoError(t, err)
	assert.Equal(t, sampleTests["T1059.001"], page.Total, "subtechnique tags found through their technique")
	tag := page.Items[0].MitreTags[0]
	assert.Equal(t, "subtechnique", tag.Kind)
	assert.Equal(t, "T1059.001", tag.ExternalID)
	assert.Equal(t, "PowerShell", tag.Name)
	page, err = s.List(ctx, ListParams{Tactic: "defense-evasion", Q: "registry", PageParams: db.PageParams{PerPage: 200}})
	require.NoError(t, err)
	assert.NotZero(t, page.Total)

	// An extra ATT&CK tag added by the team survives a re-import.
	tpl := page.Items[0]
	refs := []TagRef{{ExternalID: "TA0005"}}
	for _, m := range tpl.MitreTags {
		refs = append(refs, TagRef{Kind: m.Kind, ExternalID: m.ExternalID})
	}
	_, err = s.Update(ctx, importer, tpl.ID, UpdateParams{MitreTags: patch.Value(refs)})
	require.NoError(t, err)
	rep = importSample(t, s)
	assert.Equal(t, sampleTotal, rep.Unchanged)
	got, err := s.Get(ctx, tpl.ID)
	require.NoError(t, err)
	assert.Len(t, got.MitreTags, len(refs))
	assertFoldsTrue(t, s, m, d) // the re-import's updates kept the filter columns

	// The bulk insert of a first import into a synced catalogue (createMany)
	// writes them too.
	s2, m2, d2 := newAtomicLib(t)
	syncBundle(t, m2, "enterprise-attack-core.json.gz")
	assert.Equal(t, sampleTotal, importSample(t, s2).Created)
	assertFoldsTrue(t, s2, m2, d2)
}

func TestImportAtomicsQuirksAndSkips(t *testing.T) {
	t.Parallel()
	s, m, _ := newAtomicLib(t)
	syncBundle(t, m, "enterprise-attack-small.json")
	ctx := context.Background()
	dup := strings.Replace(quirkyYAML, "Quirky one", "Quirky twin", 1)
	unknown := "attack_technique: T9999\natomic_tests:\n- name: unknown technique\n  auto_generated_guid: 51111111-2222-4333-8444-555555555555\n" +
		"  executor: {name: sh, command: id}\n- name: too long\n  auto_generated_guid: 61111111-2222-4333-8444-555555555555\n" +
		"  executor: {name: sh, command: " + strings.Repeat("x", maxCommand+1) + "}\n"
	rep, err := s.ImportAtomics(ctx, importer, []NamedReader{
		{Name: "quirks.yaml", R: strings.NewReader(quirkyYAML)},
		{Name: "twin.yaml", R: strings.NewReader(dup)},
		{Name: "unknown.yml", R: strings.NewReader(unknown)},
	})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Files)
	assert.Equal(t, 14, rep.Tests)
	assert.Equal(t, 4, rep.Created, "3 quirky + the unknown technique")
	reasons := map[string]string{}
	for _, sk := range rep.Skipped {
		reasons[sk.File+" "+sk.Test] = sk.Reason
	}
	assert.Len(t, rep.Skipped, 3+6+1, "3 in each quirky file, the twin's 3 repeated guids, the over-long command")
	assert.Contains(t, reasons["twin.yaml #1 Quirky twin"], "also used by quirks.yaml #1 Quirky one")
	assert.Contains(t, reasons["unknown.yml #2 too long"], "command")
	var unknownWarned bool
	for _, w := range rep.Warnings {
		if w.File == "unknown.yml" && strings.Contains(w.Message, "T9999") {
			unknownWarned = true
		}
	}
	assert.True(t, unknownWarned, "%+v", rep.Warnings)

	page, err := s.List(ctx, ListParams{Q: "Quirky one"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	q := page.Items[0]
	require.Len(t, q.MitreTags, 1)
	assert.Equal(t, "T1059.001", q.MitreTags[0].ExternalID)
	defaults := map[string]any{}
	for _, a := range q.InputArguments {
		defaults[a.Name] = a.Default
	}
	assert.Equal(t, map[string]any{"count": 5.0, "ratio": 1.5, "flag": true, "nothing": nil, "missing": nil,
		"big": "123456789012345678901234", "hex": "0x1F", "when": "2024-01-02", "bare": "just a value"}, defaults)

	again, err := s.ImportAtomics(ctx, importer, []NamedReader{{Name: "quirks.yaml", R: strings.NewReader(quirkyYAML)}})
	require.NoError(t, err)
	assert.Equal(t, 3, again.Unchanged, "numbers, booleans and nulls compare equal after a round trip")
	assert.Zero(t, again.Updated+again.Created)

	_, err = s.ImportAtomics(ctx, importer, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "No Atomic Red Team YAML file")
}

// BenchmarkImportAtomicsSample imports the whole shared sample (read from
// disk, parsed, written in one transaction) into a fresh database per
// iteration and reports the median (bench/templates-import.sh runs it with
// -benchtime 5x on both backends).
func BenchmarkImportAtomicsSample(b *testing.B) {
	var ms []float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _, _ := newAtomicLib(b)
		b.StartTimer()
		start := time.Now()
		rep := importSample(b, s)
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		if rep.Created != sampleTotal {
			b.Fatalf("created %d", rep.Created)
		}
	}
	sort.Float64s(ms)
	b.ReportMetric(ms[len(ms)/2], "ms-median")
	b.ReportMetric(float64(sampleTotal), "tests")
}
