package results

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/purplebook/purplebook/app/db"
)

// CSV report: one row per test, every red and blue field, then seven
// columns per security control. RFC 4180 (encoding/csv, CRLF line ends),
// UTF-8. Options: a byte-order mark so Excel reads UTF-8, and Excel-safe
// cells (a leading ' before text starting with = + - @ tab or CR, so a
// command such as =cmd|'/C calc'!A0 stays text instead of a formula; the
// data then differs from the stored text by that one character).

// CSVOptions tune the CSV.
type CSVOptions struct {
	BOM       bool
	ExcelSafe bool
}

var csvBaseColumns = []string{
	"mission_id", "mission_name", "test_id", "position", "name", "scenario", "category", "state", "result", "outcome", "score",
	"techniques", "technique_names", "tactics", "platforms", "opsec_level", "objective", "description", "expected_detection",
	"executor", "command_planned", "skip_reason",
	"operator", "assigned_red", "started_at", "finished_at", "executed_at", "source_host", "source_ip", "target_host", "target_ip",
	"tool", "user_context", "command_run", "output", "execution_result", "red_notes",
	"assigned_blue", "assessed_at", "detected_at", "time_to_log_s", "time_to_alert_s", "time_to_prevent_s", "blue_notes",
	"evidence",
}

var csvControlColumns = []string{"outcome", "expected", "logged_at", "alerted_at", "prevented_at", "alert_name", "notes"}

// CSVHeader returns the header row for the given controls.
func CSVHeader(controls []string) []string {
	h := append([]string(nil), csvBaseColumns...)
	for _, c := range controls {
		for _, col := range csvControlColumns {
			h = append(h, c+": "+col)
		}
	}
	return h
}

func tstr(t *db.Time) string {
	if t == nil {
		return ""
	}
	return t.String()
}

func fstr(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// CSVRows returns the data rows (without the header), unescaped.
func (r *Report) CSVRows() [][]string {
	out := make([][]string, 0, len(r.Tests))
	for _, t := range r.Tests {
		ids := make([]string, len(t.Techniques))
		names := make([]string, len(t.Techniques))
		for i, g := range t.Techniques {
			ids[i], names[i] = g.ID, g.Name
		}
		outcome, score := "", ""
		if t.Outcome != nil {
			outcome = *t.Outcome
		}
		if t.Score != nil {
			score = strconv.Itoa(*t.Score)
		}
		ev := make([]string, len(t.Evidence))
		for i, e := range t.Evidence {
			ev[i] = fmt.Sprintf("%s (%s, sha256 %s)", e.Filename, e.Side, e.SHA256)
		}
		row := []string{
			r.Mission.ID, r.Mission.Name, t.ID, strconv.Itoa(t.Position), t.Name, t.Scenario, t.Category, t.State, t.Class, outcome, score,
			strings.Join(ids, "; "), strings.Join(names, "; "), strings.Join(t.Tactics, "; "), strings.Join(t.Platforms, "; "),
			t.OpsecLevel, t.Objective, t.Description, t.ExpectedDetection, t.Executor, t.CommandPlanned, t.SkipReason,
			t.Red.Operator, t.Red.AssignedTo, tstr(t.Red.StartedAt), tstr(t.Red.FinishedAt), tstr(t.Red.ExecutedAt),
			t.Red.SourceHost, t.Red.SourceIP, t.Red.TargetHost, t.Red.TargetIP, t.Red.Tool, t.Red.UserContext, t.Red.Command,
			t.Red.Output, t.Red.ExecutionResult, t.Red.Notes,
			t.Blue.AssignedTo, tstr(t.Blue.AssessedAt), tstr(t.Blue.DetectedAt), fstr(t.Times.Log), fstr(t.Times.Alert),
			fstr(t.Times.Prevent), t.Blue.Notes, strings.Join(ev, "; "),
		}
		by := map[string]ReportOutcome{}
		for _, o := range t.Blue.Outcomes {
			by[o.Control] = o
		}
		for _, c := range r.Controls {
			o, ok := by[c]
			if !ok {
				row = append(row, make([]string, len(csvControlColumns))...)
				continue
			}
			row = append(row, o.Outcome, strconv.FormatBool(o.Expected), tstr(o.LoggedAt), tstr(o.AlertedAt), tstr(o.PreventedAt),
				o.AlertName, o.Notes)
		}
		out = append(out, row)
	}
	return out
}

// excelSafe neutralises text Excel would run as a formula.
func excelSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// WriteCSV writes the report as CSV.
func (r *Report) WriteCSV(w io.Writer, o CSVOptions) error {
	if o.BOM {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader(r.Controls)); err != nil {
		return err
	}
	for _, row := range r.CSVRows() {
		if o.ExcelSafe {
			for i := range row {
				row[i] = excelSafe(row[i])
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
