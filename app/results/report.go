package results

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
)

// Report is everything the CSV, JSON and HTML reports show.
type Report struct {
	Format       string          `json:"format"` // "purplebook-results-report"
	Version      int             `json:"version"`
	Organisation string          `json:"organisation"`
	Mission      MissionInfo     `json:"mission"`
	Members      []memberRow     `json:"members"`
	GeneratedAt  db.Time         `json:"generated_at"`
	Controls     []string        `json:"controls"` // every control of the configured list and of the data, in that order
	Results      *MissionResults `json:"results"`
	Tests        []ReportTest    `json:"tests"` // mission order

	logo  string
	scale *Scale
}

// ReportTest is one test with every red and blue field.
type ReportTest struct {
	ID                string         `json:"id"`
	Position          int            `json:"position"`
	Name              string         `json:"name"`
	Scenario          string         `json:"scenario"`
	Category          string         `json:"category"`
	Description       string         `json:"description"`
	Objective         string         `json:"objective"`
	Platforms         []string       `json:"platforms"`
	OpsecLevel        string         `json:"opsec_level"`
	Executor          string         `json:"executor"`
	CommandPlanned    string         `json:"command_planned"`
	ExpectedDetection string         `json:"expected_detection"`
	State             string         `json:"state"`
	SkipReason        string         `json:"skip_reason"`
	Class             string         `json:"result"`
	Outcome           *string        `json:"outcome"`
	OutcomeName       string         `json:"outcome_name"`
	Color             string         `json:"-"` // the outcome level's colour (HTML)
	Score             *int           `json:"score"`
	Techniques        []TagRef       `json:"techniques"`
	Tactics           []string       `json:"tactics"`
	Red               RedLog         `json:"red"`
	Blue              BlueAssessment `json:"blue"`
	Times             Times          `json:"times"`
	Evidence          []evidenceRow  `json:"evidence"`
	Version           int            `json:"version"`
	CreatedAt         db.Time        `json:"created_at"`
	UpdatedAt         db.Time        `json:"updated_at"`
}

// TagRef is a technique tag as copied onto the test.
type TagRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RedLog is the operator log.
type RedLog struct {
	Operator        string   `json:"operator"`
	AssignedTo      string   `json:"assigned_to"`
	StartedAt       *db.Time `json:"started_at"`
	FinishedAt      *db.Time `json:"finished_at"`
	ExecutedAt      *db.Time `json:"executed_at"`
	SourceHost      string   `json:"source_host"`
	SourceIP        string   `json:"source_ip"`
	TargetHost      string   `json:"target_host"`
	TargetIP        string   `json:"target_ip"`
	Tool            string   `json:"tool"`
	UserContext     string   `json:"user_context"`
	Command         string   `json:"command"`
	Output          string   `json:"output"`
	ExecutionResult string   `json:"execution_result"`
	Notes           string   `json:"notes"`
}

// BlueAssessment is the blue side of a test.
type BlueAssessment struct {
	AssignedTo string          `json:"assigned_to"`
	AssessedAt *db.Time        `json:"assessed_at"`
	DetectedAt *db.Time        `json:"detected_at"`
	Notes      string          `json:"notes"`
	Outcomes   []ReportOutcome `json:"outcomes"`
}

// ReportOutcome is one control's outcome.
type ReportOutcome struct {
	Control     string   `json:"control"`
	Expected    bool     `json:"expected"`
	Outcome     string   `json:"outcome"`
	OutcomeName string   `json:"outcome_name"`
	LoggedAt    *db.Time `json:"logged_at"`
	AlertedAt   *db.Time `json:"alerted_at"`
	PreventedAt *db.Time `json:"prevented_at"`
	Times       Times    `json:"times"`
	AlertName   string   `json:"alert_name"`
	Notes       string   `json:"notes"`
}

// MissionReport assembles a mission's report.
func (s *Service) MissionReport(ctx context.Context, c missions.Caller, missionID string) (*Report, error) {
	d, err := s.loadMission(ctx, c, missionID, loadReport)
	if err != nil {
		return nil, err
	}
	res := s.compute(d)
	rows, err := s.reportRows(ctx, s.db.Read, missionID)
	if err != nil {
		return nil, err
	}
	ev, err := s.missionEvidence(ctx, s.db.Read, missionID)
	if err != nil {
		return nil, err
	}
	members, err := s.missionMembers(ctx, s.db.Read, missionID)
	if err != nil {
		return nil, err
	}
	org, err := s.organisation(ctx)
	if err != nil {
		return nil, err
	}
	if members == nil {
		members = []memberRow{}
	}
	rep := &Report{Format: "purplebook-results-report", Version: 1, Organisation: org.Name, Mission: res.Mission, Members: members,
		GeneratedAt: res.GeneratedAt, Results: res, logo: org.Logo, scale: d.scale}
	seen := map[string]bool{}
	for _, name := range d.controls {
		if !seen[name] {
			seen[name] = true
			rep.Controls = append(rep.Controls, name)
		}
	}
	var extra []string
	for _, o := range d.outcomes {
		if !seen[o.Control] {
			seen[o.Control] = true
			extra = append(extra, o.Control)
		}
	}
	sort.Strings(extra)
	rep.Controls = append(rep.Controls, extra...)
	if rep.Controls == nil {
		rep.Controls = []string{}
	}
	evBy := map[string][]evidenceRow{}
	for _, e := range ev {
		evBy[e.TestID] = append(evBy[e.TestID], e)
	}
	byID := map[string]testRow{}
	for _, t := range d.tests {
		byID[t.ID] = t
	}
	ordered := append([]TestResult(nil), res.Tests...)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].Position < ordered[j].Position })
	sc := d.scale
	for _, tr := range ordered {
		r := rows[tr.ID]
		t := byID[tr.ID]
		rt := ReportTest{ID: tr.ID, Position: tr.Position, Name: tr.Name, Scenario: deref(r.Scenario, ""), Category: deref(r.Category, ""),
			Description: r.Description, Objective: r.Objective, Platforms: []string{}, OpsecLevel: r.OpsecLevel, Executor: r.Executor,
			CommandPlanned: r.CommandTemplate, ExpectedDetection: r.ExpectedDetection, State: tr.State, SkipReason: r.SkipReason,
			Class: tr.Class, Outcome: tr.Outcome, OutcomeName: outcomeLabel(sc, tr), Score: tr.Score, Techniques: []TagRef{},
			Tactics: tr.Tactics, Times: tr.Times, Evidence: evBy[tr.ID], Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
		_ = json.Unmarshal(r.Platforms, &rt.Platforms)
		if tr.Outcome != nil {
			if l, ok := sc.ByKey(*tr.Outcome); ok {
				rt.Color = l.Color
			}
		}
		for _, id := range tr.Techniques {
			rt.Techniques = append(rt.Techniques, TagRef{ID: id, Name: tr.TagNames[id]})
		}
		rt.Red = RedLog{Operator: r.Operator, AssignedTo: deref(r.AssignedRed, ""), StartedAt: t.StartedAt, FinishedAt: r.FinishedAt,
			ExecutedAt: t.ExecutedAt, SourceHost: r.SourceHost, SourceIP: r.SourceIP, TargetHost: r.TargetHost, TargetIP: r.TargetIP,
			Tool: r.Tool, UserContext: r.UserContext, Command: r.CommandRun, Output: r.Output, ExecutionResult: deref(r.ExecutionResult, ""),
			Notes: r.RedNotes}
		rt.Blue = BlueAssessment{AssignedTo: deref(r.AssignedBlue, ""), AssessedAt: t.AssessedAt, DetectedAt: r.DetectedAt,
			Notes: r.BlueNotes, Outcomes: []ReportOutcome{}}
		for _, co := range tr.Controls {
			name := co.Outcome
			if l, ok := sc.ByKey(co.Outcome); ok {
				name = l.Name
			}
			rt.Blue.Outcomes = append(rt.Blue.Outcomes, ReportOutcome{Control: co.Control, Expected: co.Expected, Outcome: co.Outcome,
				OutcomeName: name, LoggedAt: co.LoggedAt, AlertedAt: co.AlertedAt, PreventedAt: co.Prevented, Times: co.Times,
				AlertName: co.AlertName, Notes: co.Notes})
		}
		if rt.Evidence == nil {
			rt.Evidence = []evidenceRow{}
		}
		rep.Tests = append(rep.Tests, rt)
	}
	if rep.Tests == nil {
		rep.Tests = []ReportTest{}
	}
	return rep, nil
}
