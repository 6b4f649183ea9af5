package missionbundle

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
)

// problems collects what is wrong with an incoming bundle's documents; a
// signed bundle can still come from a broken or hostile instance, so every
// value is checked against the rules the database and the API enforce
// before anything is planned.
type problems struct {
	list []string
}

func (p *problems) add(format string, args ...any) {
	if len(p.list) < 50 {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return bundle.Invalid("bundle_bad_document", "", "The bundle's documents are not valid: %s.", strings.Join(p.list, "; ")).
		WithDetails(map[string]any{"reason": "bundle_bad_document", "problems": p.list})
}

func (p *problems) text(what, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		p.add("%s is empty", what)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		p.add("%s is not valid text", what)
	case utf8.RuneCountInString(v) > max:
		p.add("%s is longer than %d characters", what, max)
	}
}

func (p *problems) id(what, v string) {
	if !db.ValidID(v) {
		p.add("%s has an invalid id %q", what, truncate(v, 40))
	}
}

func (p *problems) oneOf(what, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		p.add("%s %q is not one of %s", what, truncate(v, 40), strings.Join(allowed, ", "))
	}
}

func (p *problems) jsonArray(what string, raw json.RawMessage) {
	var a []any
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		p.add("%s is not a JSON array", what)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

var (
	reDate  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	reColor = regexp.MustCompile(`^(#[0-9a-fA-F]{6})?$`)
	reEmail = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
)

// Text limits, as the missions API applies them.
const (
	maxName      = 200
	maxText      = 20_000
	maxShort     = 500
	maxCommand   = 100_000
	maxOutput    = 1 << 20
	maxFilename  = 255
	maxLevelName = 60
)

// validate checks the incoming documents.
func validate(d *docs, meta Meta) error {
	var p problems
	m := d.Mission.Mission
	p.id("the mission", m.ID)
	if m.ID != meta.MissionID {
		p.add("mission.json describes mission %s, the manifest %s", truncate(m.ID, 40), truncate(meta.MissionID, 40))
	}
	p.text("the mission name", m.Name, maxName, true)
	p.text("the mission description", m.Description, maxText, false)
	p.oneOf("the mission status", m.Status, "planned", "active", "completed", "archived")
	for _, dt := range []*string{m.StartsOn, m.EndsOn} {
		if dt != nil && !reDate.MatchString(*dt) {
			p.add("a mission date is not YYYY-MM-DD")
		}
	}
	if m.StartsOn != nil && m.EndsOn != nil && *m.EndsOn < *m.StartsOn {
		p.add("the mission ends before it starts")
	}
	if m.Version < 1 {
		p.add("the mission version is below 1")
	}
	ids := map[string]bool{}
	unique := func(what, id string) {
		if ids[id] {
			p.add("%s %s appears twice", what, truncate(id, 40))
		}
		ids[id] = true
	}
	cats := map[string]bool{}
	for i, c := range d.Mission.Categories {
		what := fmt.Sprintf("category %d", i+1)
		p.id(what, c.ID)
		unique("category", c.ID)
		cats[c.ID] = true
		p.text(what+" name", c.Name, 100, true)
		if !reColor.MatchString(c.Color) {
			p.add("%s colour is not like #7c3aed", what)
		}
	}
	scns := map[string]bool{}
	for i, s := range d.Mission.Scenarios {
		what := fmt.Sprintf("scenario %d", i+1)
		p.id(what, s.ID)
		unique("scenario", s.ID)
		scns[s.ID] = true
		p.text(what+" name", s.Name, maxName, true)
		p.text(what+" description", s.Description, maxText, false)
		if s.ScenarioTemplateID != nil {
			p.id(what+" template", *s.ScenarioTemplateID)
		}
	}
	emails := map[string]bool{}
	for i, u := range d.Mission.Users {
		if !reEmail.MatchString(u.Email) || len(u.Email) > 320 {
			p.add("user %d has an invalid e-mail address", i+1)
		}
		emails[db.Fold(u.Email)] = true
		p.text(fmt.Sprintf("user %d name", i+1), u.Name, 200, false)
	}
	user := func(what string, e *string) {
		if e != nil && !emails[db.Fold(*e)] {
			p.add("%s names a user (%s) the bundle does not list", what, truncate(*e, 60))
		}
	}
	user("the mission creator", m.CreatedBy)
	for i, mb := range d.Mission.Members {
		user(fmt.Sprintf("member %d", i+1), &mb.Email)
		p.oneOf(fmt.Sprintf("member %d role", i+1), mb.Role, "lead", "red", "blue", "viewer")
	}
	levels := map[string]bool{}
	for i, l := range d.Mission.DetectionLevels {
		what := fmt.Sprintf("detection level %d", i+1)
		p.id(what, l.ID)
		p.text(what+" key", l.Key, 40, true)
		p.text(what+" name", l.Name, maxLevelName, true)
		p.text(what+" description", l.Description, 1000, false)
		if len(l.Color) != 7 || !reColor.MatchString(l.Color) {
			p.add("%s colour is not like #4CAF50", what)
		}
		levels[l.Key] = true
	}
	positions := map[int]bool{}
	tests := map[string]bool{}
	for i, t := range d.Tests {
		what := fmt.Sprintf("test %d", i+1)
		p.id(what, t.ID)
		unique("test", t.ID)
		tests[t.ID] = true
		if positions[t.Position] {
			p.add("%s shares its position with another test", what)
		}
		positions[t.Position] = true
		p.text(what+" name", t.Name, maxName, true)
		for _, f := range []struct {
			n   string
			v   string
			max int
		}{{"description", t.Description, maxText}, {"objective", t.Objective, maxText}, {"executor", t.Executor, 100},
			{"command", t.CommandTemplate, maxCommand}, {"cleanup command", t.CleanupCommand, maxCommand},
			{"prerequisites executor", t.PrerequisitesExecutor, 100}, {"expected detection", t.ExpectedDetection, maxText},
			{"skip reason", t.SkipReason, 2_000}, {"operator", t.Operator, maxName}, {"source host", t.SourceHost, maxShort},
			{"source IP", t.SourceIP, maxShort}, {"target host", t.TargetHost, maxShort}, {"target IP", t.TargetIP, maxShort},
			{"tool", t.Tool, maxShort}, {"user context", t.UserContext, maxShort}, {"command run", t.CommandRun, maxCommand},
			{"output", t.Output, maxOutput}, {"red notes", t.RedNotes, maxText}, {"blue notes", t.BlueNotes, maxText}} {
			p.text(what+" "+f.n, f.v, f.max, false)
		}
		p.jsonArray(what+" prerequisites", t.Prerequisites)
		p.jsonArray(what+" input arguments", t.InputArguments)
		if len(t.ArgumentValues) > 0 { // absent: a bundle made before argument values travelled
			var values map[string]string
			if err := json.Unmarshal(t.ArgumentValues, &values); err != nil || values == nil {
				p.add("%s argument values are not an object of texts", what)
			}
		}
		var plats []string
		if err := json.Unmarshal(t.Platforms, &plats); err != nil || plats == nil {
			p.add("%s platforms is not a list of names", what)
		}
		p.oneOf(what+" opsec level", t.OpsecLevel, "low", "medium", "high")
		p.oneOf(what+" state", t.State, "pending", "in_progress", "executed", "assessed", "skipped")
		if t.State == "skipped" && strings.TrimSpace(t.SkipReason) == "" {
			p.add("%s is skipped without a reason", what)
		}
		if t.ExecutionResult != nil {
			p.oneOf(what+" execution result", *t.ExecutionResult, "succeeded", "failed", "blocked")
		}
		if t.StartedAt != nil && t.FinishedAt != nil && t.FinishedAt.Before(t.StartedAt.Time) {
			p.add("%s finishes before it starts", what)
		}
		if t.Version < 1 {
			p.add("%s version is below 1", what)
		}
		if t.CategoryID != nil && !cats[*t.CategoryID] {
			p.add("%s names a category the bundle does not have", what)
		}
		if t.MissionScenarioID != nil && !scns[*t.MissionScenarioID] {
			p.add("%s names a scenario the bundle does not have", what)
		}
		if t.TestTemplateID != nil {
			p.id(what+" template", *t.TestTemplateID)
		}
		user(what+" red assignee", t.AssignedRed)
		user(what+" blue assignee", t.AssignedBlue)
		controls := map[string]bool{}
		for j, o := range t.Outcomes {
			ow := fmt.Sprintf("%s outcome %d", what, j+1)
			p.id(ow, o.ID)
			p.text(ow+" control", o.Control, 60, true)
			if controls[db.Fold(o.Control)] {
				p.add("%s control %q appears twice", what, truncate(o.Control, 60))
			}
			controls[db.Fold(o.Control)] = true
			if !levels[o.Level] {
				p.add("%s uses detection level %q, which the bundle does not describe", ow, truncate(o.Level, 40))
			}
			p.text(ow+" alert name", o.AlertName, maxShort, false)
			p.text(ow+" notes", o.Notes, maxText, false)
			user(ow+" assessor", o.AssessedBy)
		}
		if t.OutcomeLevel != nil && !levels[*t.OutcomeLevel] {
			p.add("%s outcome uses a detection level the bundle does not describe", what)
		}
		tagIDs := map[string]bool{}
		for j, tg := range t.Tags {
			tw := fmt.Sprintf("%s tag %d", what, j+1)
			p.id(tw, tg.ID)
			p.oneOf(tw+" kind", tg.Kind, "tactic", "technique", "subtechnique")
			p.text(tw+" id", tg.ExternalID, 20, true)
			p.text(tw+" name", tg.Name, maxName, false)
			p.text(tw+" url", tg.URL, 500, false)
			if tagIDs[tg.ExternalID] {
				p.add("%s tag %s appears twice", what, truncate(tg.ExternalID, 20))
			}
			tagIDs[tg.ExternalID] = true
		}
	}
	for i, e := range d.Evidence {
		what := fmt.Sprintf("evidence %d", i+1)
		p.id(what, e.ID)
		unique("evidence", e.ID)
		if !tests[e.TestID] {
			p.add("%s belongs to a test the bundle does not have", what)
		}
		p.oneOf(what+" side", e.Side, "red", "blue")
		p.text(what+" file name", e.OriginalFilename, maxFilename, true)
		p.text(what+" content type", e.ContentType, 200, true)
		p.text(what+" caption", e.Caption, maxShort, false)
		if !bundle.ValidSHA256(e.SHA256) {
			p.add("%s has an invalid sha256", what)
		}
		if e.Size < 0 {
			p.add("%s has a negative size", what)
		}
		user(what+" uploader", e.UploadedBy)
	}
	for i, a := range d.Audit {
		what := fmt.Sprintf("audit event %d", i+1)
		p.id(what, a.ID)
		p.text(what+" action", a.Action, 100, true)
		p.text(what+" actor", a.ActorLabel, 320, false)
		p.text(what+" object type", a.ObjectType, 100, false)
		p.text(what+" object id", a.ObjectID, 100, false)
		var det map[string]any
		if err := json.Unmarshal(a.Details, &det); err != nil || det == nil {
			p.add("%s details are not a JSON object", what)
		}
		user(what+" actor", a.Actor)
	}
	for i, sb := range d.Sync {
		what := fmt.Sprintf("sync record %d", i+1)
		p.id(what+" peer", sb.Peer)
		p.oneOf(what+" object type", sb.ObjectType, ObjMission, ObjCategory, ObjScenario, ObjTest, ObjEvidence)
		if sb.PeerSeq < 0 || sb.Base == nil {
			p.add("%s is incomplete", what)
		}
	}
	return p.err()
}

// invalidChoice is a bad user mapping in an apply.
func invalidChoice(email, problem string) error {
	return &apperr.Invalid{Message: fmt.Sprintf("User %s: %s.", email, problem),
		Fields: map[string]string{"users." + email: problem}}
}
