package templates

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/text"
)

// Options are the service's dependencies.
type Options struct {
	DB *db.DB
	// Mitre is the catalogue tags are resolved against. New registers
	// RefreshFilterColumns as its sync hook, so every sync keeps the library's
	// derived filter columns (filtercols.go) true in the sync's transaction.
	Mitre *mitre.Service
	Now   func() time.Time // nil = time.Now
	// TempDir holds archive uploads while they are read (the process's
	// area in the data dir); "" = the OS temp directory (tests only).
	TempDir string
}

// Service is the template library.
type Service struct {
	db      *db.DB
	mitre   *mitre.Service
	now     func() time.Time
	tempDir string
	sparse  int // List: one-pass limit (sparseMatches)
	// walkLive: List's index walk of the live list orders by deleted_at
	// first (PostgreSQL, see List).
	walkLive bool
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Mitre != nil {
		o.Mitre.OnSync(RefreshFilterColumns)
	}
	sparse, walkLive := sparseMatches, false
	if o.DB != nil && o.DB.Driver() == db.Postgres {
		sparse, walkLive = onePassAlways, true
	}
	return &Service{db: o.DB, mitre: o.Mitre, now: o.Now, tempDir: o.TempDir, sparse: sparse, walkLive: walkLive}
}

// NewAtomicCollector starts an Atomic import whose archives are read
// through the service's temporary directory.
func (s *Service) NewAtomicCollector() *AtomicCollector { return NewAtomicCollector(s.tempDir) }

// nowTime is the service clock's current time as the database keeps it.
func (s *Service) nowTime() db.Time { return db.NewTime(s.now()) }

// Limits on fields, in characters.
const (
	maxName     = 200
	maxText     = 20_000
	maxCommand  = 100_000
	maxList     = 100
	maxTagLen   = 60
	maxArgs     = 50
	maxMitreTag = 50
)

var opsecLevels = map[string]bool{"low": true, "medium": true, "high": true}

// ---------------------------------------------------------------------------
// Validation and normalisation

// cleanList trims, drops empties and duplicates (case-insensitively), keeps order.
func cleanList(inv *apperr.Invalid, field string, xs []string, maxLen int) []string {
	out := []string{}
	seen := map[string]bool{}
	if len(xs) > maxList {
		inv.Add(field, fmt.Sprintf("must have at most %d entries", maxList))
		return out
	}
	for _, x := range xs {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if utf8.RuneCountInString(x) > maxLen || strings.ContainsAny(x, "|\x00") {
			inv.Add(field, fmt.Sprintf("must have entries of at most %d characters, without '|'", maxLen))
			continue
		}
		k := db.Fold(x)
		if !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

func (in *Input) normalize() error {
	var inv apperr.Invalid
	in.Name = strings.TrimSpace(in.Name)
	text.Check(&inv, "name", in.Name, maxName, true)
	text.Check(&inv, "description", in.Description, maxText, false)
	text.Check(&inv, "objective", in.Objective, maxText, false)
	text.Check(&inv, "executor", in.Executor, 60, false)
	text.Check(&inv, "command", in.Command, maxCommand, false)
	text.Check(&inv, "cleanup_command", in.CleanupCommand, maxCommand, false)
	text.Check(&inv, "prerequisites_executor", in.PrerequisitesExecutor, 60, false)
	text.Check(&inv, "expected_detection", in.ExpectedDetection, maxText, false)
	if in.OpsecLevel == "" {
		in.OpsecLevel = "medium"
	}
	if !opsecLevels[in.OpsecLevel] {
		inv.Add("opsec_level", "must be low, medium or high")
	}
	in.Platforms = cleanList(&inv, "platforms", in.Platforms, maxTagLen)
	in.Tags = cleanList(&inv, "tags", in.Tags, maxTagLen)
	if in.Prerequisites == nil {
		in.Prerequisites = []Prerequisite{}
	}
	if in.InputArguments == nil {
		in.InputArguments = []InputArgument{}
	}
	if len(in.Prerequisites) > maxArgs {
		inv.Add("prerequisites", fmt.Sprintf("must have at most %d entries", maxArgs))
	}
	for _, p := range in.Prerequisites {
		text.Check(&inv, "prerequisites", p.Description+p.PrereqCommand+p.GetPrereqCommand, maxCommand, false)
	}
	if len(in.InputArguments) > maxArgs {
		inv.Add("input_arguments", fmt.Sprintf("must have at most %d entries", maxArgs))
	}
	names := map[string]bool{}
	for _, a := range in.InputArguments {
		switch {
		case strings.TrimSpace(a.Name) == "":
			inv.Add("input_arguments", "must each have a name")
		case names[a.Name]:
			inv.Add("input_arguments", fmt.Sprintf("must not name an argument twice (%q)", a.Name))
		}
		names[a.Name] = true
		switch a.Default.(type) {
		case nil, string, float64, bool, json.Number, int, int64:
		default:
			inv.Add("input_arguments", fmt.Sprintf("must have defaults that are text, numbers, true/false or empty (%q has not)", a.Name))
		}
	}
	if len(in.MitreTags) > maxMitreTag {
		inv.Add("mitre_tags", fmt.Sprintf("must have at most %d entries", maxMitreTag))
	}
	return inv.Err()
}

var (
	reTactic = regexp.MustCompile(`^TA\d{4}$`)
	reTech   = regexp.MustCompile(`^T\d{4}$`)
	reSub    = regexp.MustCompile(`^T\d{4}\.\d{3}$`)
)

// InferKind guesses the kind of an ATT&CK external id.
func InferKind(ext string) string {
	ext = strings.ToUpper(strings.TrimSpace(ext))
	switch {
	case reTactic.MatchString(ext):
		return "tactic"
	case reSub.MatchString(ext):
		return "subtechnique"
	case reTech.MatchString(ext):
		return "technique"
	}
	return ""
}

type resolvedTag struct {
	kind, ext, id, state string
}

// resolveTags resolves and merges tags. Unknown ids are a 422 naming them
// (or, lenient, dropped with a warning); inactive ones are accepted with a
// warning.
func (s *Service) resolveTags(ctx context.Context, refs []TagRef, lenient bool) ([]resolvedTag, []string, error) {
	var out []resolvedTag
	var warnings, unknown []string
	seen := map[string]bool{}
	for _, r := range refs {
		ext := strings.ToUpper(strings.TrimSpace(r.ExternalID))
		kind := strings.ToLower(strings.TrimSpace(r.Kind))
		if kind == "" {
			kind = InferKind(ext)
		}
		if kind != "tactic" && kind != "technique" && kind != "subtechnique" {
			unknown = append(unknown, fmt.Sprintf("%s (kind must be tactic, technique or subtechnique)", text.Truncate(r.ExternalID, 30)))
			continue
		}
		key := kind + ":" + ext
		if seen[key] {
			continue // duplicates merged
		}
		seen[key] = true
		id, _, _, state, err := s.mitre.Resolve(ctx, kind, ext)
		if errors.Is(err, apperr.ErrNotFound) {
			unknown = append(unknown, fmt.Sprintf("%s %s", kind, text.Truncate(ext, 30)))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if state != "active" {
			warnings = append(warnings, fmt.Sprintf("%s %s is %s in the ATT&CK catalogue", kind, ext, state))
		}
		out = append(out, resolvedTag{kind: kind, ext: ext, id: id, state: state})
	}
	if len(unknown) > 0 {
		if lenient {
			for _, u := range unknown {
				warnings = append(warnings, "unknown ATT&CK id "+u+" (not tagged)")
			}
			return out, warnings, nil
		}
		return nil, nil, &apperr.Invalid{Message: "Unknown ATT&CK ids: " + strings.Join(unknown, ", ") + ".",
			Fields: map[string]string{"mitre_tags": "include unknown ATT&CK ids: " + strings.Join(unknown, ", ")}}
	}
	return out, warnings, nil
}

// ---------------------------------------------------------------------------
// Writes (the queries they share are in store.go)

// Create adds a template.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in Input) (Template, error) {
	in.Source, in.SourceRef = "manual", ""
	var id string
	var warnings []string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var err error
		id, warnings, err = s.insert(ctx, tx, actor, in, false)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), actor, audit.Event{Action: "test_template.create", ObjectType: "test_template", ObjectID: id,
			Details: map[string]any{"name": in.Name}})
	})
	if err != nil {
		return Template{}, err
	}
	t, err := s.Get(ctx, id)
	t.Warnings = warnings
	return t, err
}

// insert validates and writes a new template with its tags.
func (s *Service) insert(ctx context.Context, tx *dbx.Tx, actor audit.Actor, in Input, lenient bool) (string, []string, error) {
	if err := in.normalize(); err != nil {
		return "", nil, err
	}
	tags, warnings, err := s.resolveTags(ctx, in.MitreTags, lenient)
	if err != nil {
		return "", nil, err
	}
	id, now := db.NewID(), s.nowTime()
	p := in.params()
	p["id"], p["source"], p["created_at"], p["updated_at"], p["version"] = id, orDefault(in.Source, "manual"), now, now, 1
	if in.SourceRef != "" {
		p["source_ref"] = in.SourceRef
	}
	if actor.UserID != "" {
		p["created_by"] = actor.UserID
	}
	if _, err := tx.Insert("test_templates", p).WithContext(ctx).Execute(); err != nil {
		return "", nil, fmt.Errorf("templates: insert: %w", err)
	}
	if err := writeTags(ctx, tx, now, id, tags); err != nil {
		return "", nil, err
	}
	return id, warnings, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Update applies a PATCH: absent fields stay, null clears (to the empty or
// default value), a value sets. Every bad field is reported at once.
func (s *Service) Update(ctx context.Context, actor audit.Actor, id string, up UpdateParams) (Template, error) {
	var warnings []string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		r, err := s.getRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.DeletedAt != nil {
			return apperr.New(apperr.ErrConflict, "deleted", "This test template is deleted; restore it first.")
		}
		if v, ok := up.Version.Get(); ok && v != r.Version {
			return apperr.New(apperr.ErrConflict, "version_conflict",
				"Someone else changed this test template (version %d, you edited version %d). Reload and try again.", r.Version, v).
				WithDetails(map[string]any{"current_version": r.Version})
		}
		cur := r.template()
		tags, err := s.tagsFor(ctx, tx, []string{id})
		if err != nil {
			return err
		}
		cur.MitreTags = tags[id]
		in := cur.input()
		before := in
		str := func(f interface {
			Get() (string, bool)
		}, set bool, dst *string) {
			if v, ok := f.Get(); ok {
				*dst = v
			} else if set {
				*dst = ""
			}
		}
		str(up.Name, up.Name.Set, &in.Name)
		str(up.Description, up.Description.Set, &in.Description)
		str(up.Objective, up.Objective.Set, &in.Objective)
		str(up.Executor, up.Executor.Set, &in.Executor)
		str(up.Command, up.Command.Set, &in.Command)
		str(up.CleanupCommand, up.CleanupCommand.Set, &in.CleanupCommand)
		str(up.PrerequisitesExecutor, up.PrerequisitesExecutor.Set, &in.PrerequisitesExecutor)
		str(up.ExpectedDetection, up.ExpectedDetection.Set, &in.ExpectedDetection)
		str(up.OpsecLevel, up.OpsecLevel.Set, &in.OpsecLevel) // null → "" → default medium
		if up.Prerequisites.Set {
			in.Prerequisites = up.Prerequisites.Or(nil)
		}
		if up.InputArguments.Set {
			in.InputArguments = up.InputArguments.Or(nil)
		}
		if up.ElevationRequired.Set {
			in.ElevationRequired = up.ElevationRequired.Or(false)
		}
		if up.Platforms.Set {
			in.Platforms = up.Platforms.Or(nil)
		}
		if up.Tags.Set {
			in.Tags = up.Tags.Or(nil)
		}
		if up.MitreTags.Set {
			in.MitreTags = up.MitreTags.Or(nil)
		}
		if up.Name.Null {
			in.Name = "" // reported as required
		}
		if err := in.normalize(); err != nil {
			return err
		}
		resolved, w, err := s.resolveTags(ctx, in.MitreTags, false)
		if err != nil {
			return err
		}
		warnings = w
		p := in.params()
		now := s.nowTime()
		p["version"], p["updated_at"] = r.Version+1, now
		if _, err := tx.Update("test_templates", p, dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("templates: update: %w", err)
		}
		if up.MitreTags.Set {
			if err := writeTags(ctx, tx, now, id, resolved); err != nil {
				return err
			}
		} else if err := refreshFilterColumns(ctx, tx, []string{id}); err != nil { // platforms and tags feed filter_bits
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: "test_template.update", ObjectType: "test_template", ObjectID: id,
			Details: diff(before, in)})
	})
	if err != nil {
		return Template{}, err
	}
	t, err := s.Get(ctx, id)
	t.Warnings = warnings
	return t, err
}

// diff lists changed fields with before and after values.
func diff(a, b Input) map[string]any {
	am, bm := map[string]any{}, map[string]any{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	_ = json.Unmarshal(ja, &am)
	_ = json.Unmarshal(jb, &bm)
	out := map[string]any{}
	for k, v := range bm {
		if x, y := mustJSON(am[k]), mustJSON(v); x != y {
			out[k] = map[string]any{"before": am[k], "after": v}
		}
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Delete soft-deletes a template: hidden from lists and pickers; scenarios
// keep their entries and show them as deleted.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id string) error {
	return s.setDeleted(ctx, actor, id, true)
}

// Restore brings a deleted template back.
func (s *Service) Restore(ctx context.Context, actor audit.Actor, id string) (Template, error) {
	if err := s.setDeleted(ctx, actor, id, false); err != nil {
		return Template{}, err
	}
	return s.Get(ctx, id)
}

func (s *Service) setDeleted(ctx context.Context, actor audit.Actor, id string, deleted bool) error {
	return s.db.Tx(ctx, func(tx *dbx.Tx) error {
		r, err := s.getRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if (r.DeletedAt != nil) == deleted {
			if deleted {
				return apperr.New(apperr.ErrNotFound, "not_found", "No such test template.")
			}
			return apperr.New(apperr.ErrConflict, "not_deleted", "This test template is not deleted.")
		}
		now := s.nowTime()
		var at any
		action := "test_template.restore"
		if deleted {
			at, action = now, "test_template.delete"
		}
		if _, err := tx.Update("test_templates", dbx.Params{"deleted_at": at, "updated_at": now, "version": r.Version + 1},
			dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: action, ObjectType: "test_template", ObjectID: id,
			Details: map[string]any{"name": r.Name}})
	})
}

// ImportOutcome is what an import did with one template.
type ImportOutcome string

// Import outcomes.
const (
	Created   ImportOutcome = "created"
	Updated   ImportOutcome = "updated"
	Unchanged ImportOutcome = "unchanged"
)

// UpsertBySourceRef creates or updates the template keyed by in.SourceRef
// (an Atomic auto_generated_guid, a library-exchange id), inside tx. Unknown
// ATT&CK ids become warnings. A template deleted locally is updated but
// stays deleted.
func (s *Service) UpsertBySourceRef(ctx context.Context, tx *dbx.Tx, actor audit.Actor, in Input) (string, ImportOutcome, []string, error) {
	if in.SourceRef == "" {
		return "", "", nil, errors.New("templates: upsert without a source ref")
	}
	var r row
	err := tx.Select(rowColumns...).From("test_templates").Where(dbx.HashExp{"source_ref": in.SourceRef}).WithContext(ctx).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		id, w, err := s.insert(ctx, tx, actor, in, true)
		if err != nil {
			return "", "", nil, err
		}
		return id, Created, w, audit.Record(ctx, tx, s.nowTime(), actor, audit.Event{Action: "test_template.import", ObjectType: "test_template",
			ObjectID: id, Details: map[string]any{"name": in.Name, "source": in.Source, "source_ref": in.SourceRef, "outcome": "created"}})
	}
	if err != nil {
		return "", "", nil, err
	}
	if err := in.normalize(); err != nil {
		return "", "", nil, err
	}
	resolved, warnings, err := s.resolveTags(ctx, in.MitreTags, true)
	if err != nil {
		return "", "", nil, err
	}
	cur := r.template()
	tags, err := s.tagsFor(ctx, tx, []string{r.ID})
	if err != nil {
		return "", "", nil, err
	}
	cur.MitreTags = tags[r.ID]
	curIn := cur.input()
	curIn.normalize() //nolint:errcheck // stored data was valid
	newIn := in
	newIn.MitreTags = nil
	for _, t := range resolved {
		newIn.MitreTags = append(newIn.MitreTags, TagRef{Kind: t.kind, ExternalID: t.ext})
	}
	if sameInput(curIn, newIn) {
		return r.ID, Unchanged, warnings, nil
	}
	p := in.params()
	now := s.nowTime()
	p["version"], p["updated_at"], p["source"] = r.Version+1, now, orDefault(in.Source, r.Source)
	if _, err := tx.Update("test_templates", p, dbx.HashExp{"id": r.ID}).WithContext(ctx).Execute(); err != nil {
		return "", "", nil, fmt.Errorf("templates: update: %w", err)
	}
	if err := writeTags(ctx, tx, now, r.ID, resolved); err != nil {
		return "", "", nil, err
	}
	return r.ID, Updated, warnings, audit.Record(ctx, tx, now, actor, audit.Event{Action: "test_template.import", ObjectType: "test_template",
		ObjectID: r.ID, Details: map[string]any{"name": in.Name, "source": in.Source, "source_ref": in.SourceRef, "outcome": "updated",
			"changes": diff(curIn, newIn)}})
}

func sameInput(a, b Input) bool {
	norm := func(in Input) string {
		sort.Slice(in.MitreTags, func(i, j int) bool {
			return in.MitreTags[i].Kind+in.MitreTags[i].ExternalID < in.MitreTags[j].Kind+in.MitreTags[j].ExternalID
		})
		in.Source, in.SourceRef = "", ""
		return mustJSON(in) + mustJSON(in.MitreTags)
	}
	return norm(a) == norm(b)
}

// Preview validates an input and resolves its tags without saving: the
// template an ad-hoc mission test is copied from.
func (s *Service) Preview(ctx context.Context, in Input) (Template, error) {
	if err := in.normalize(); err != nil {
		return Template{}, err
	}
	resolved, warnings, err := s.resolveTags(ctx, in.MitreTags, false)
	if err != nil {
		return Template{}, err
	}
	t := Template{Name: in.Name, Description: in.Description, Objective: in.Objective, Executor: in.Executor, Command: in.Command,
		CleanupCommand: in.CleanupCommand, PrerequisitesExecutor: in.PrerequisitesExecutor, Prerequisites: in.Prerequisites,
		InputArguments: in.InputArguments, ElevationRequired: in.ElevationRequired, Platforms: in.Platforms,
		ExpectedDetection: in.ExpectedDetection, OpsecLevel: in.OpsecLevel, Tags: in.Tags, Source: "manual", Warnings: warnings,
		MitreTags: []Tag{}}
	for _, r := range resolved {
		_, name, url, st, err := s.mitre.Resolve(ctx, r.kind, r.ext)
		if err != nil {
			return Template{}, err
		}
		t.MitreTags = append(t.MitreTags, Tag{Kind: r.kind, ExternalID: r.ext, Name: name, URL: url, State: st})
	}
	return t, nil
}
