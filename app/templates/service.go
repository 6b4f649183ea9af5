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
)

// Options are the service's dependencies.
type Options struct {
	DB    *db.DB
	Mitre *mitre.Service   // tags are resolved against its catalogue
	Now   func() time.Time // nil = time.Now
}

// Service is the template library.
type Service struct {
	db    *db.DB
	mitre *mitre.Service
	now   func() time.Time
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: o.DB, mitre: o.Mitre, now: o.Now}
}

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

func checkText(inv *apperr.Invalid, field, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		inv.Add(field, "is required")
	case utf8.RuneCountInString(v) > max:
		inv.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		inv.Add(field, "must be valid text")
	}
}

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
			inv.Add(field, fmt.Sprintf("entries must be at most %d characters, without '|'", maxLen))
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
	checkText(&inv, "name", in.Name, maxName, true)
	checkText(&inv, "description", in.Description, maxText, false)
	checkText(&inv, "objective", in.Objective, maxText, false)
	checkText(&inv, "executor", in.Executor, 60, false)
	checkText(&inv, "command", in.Command, maxCommand, false)
	checkText(&inv, "cleanup_command", in.CleanupCommand, maxCommand, false)
	checkText(&inv, "prerequisites_executor", in.PrerequisitesExecutor, 60, false)
	checkText(&inv, "expected_detection", in.ExpectedDetection, maxText, false)
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
		checkText(&inv, "prerequisites", p.Description+p.PrereqCommand+p.GetPrereqCommand, maxCommand, false)
	}
	if len(in.InputArguments) > maxArgs {
		inv.Add("input_arguments", fmt.Sprintf("must have at most %d entries", maxArgs))
	}
	names := map[string]bool{}
	for _, a := range in.InputArguments {
		switch {
		case strings.TrimSpace(a.Name) == "":
			inv.Add("input_arguments", "every argument needs a name")
		case names[a.Name]:
			inv.Add("input_arguments", fmt.Sprintf("argument %q appears twice", a.Name))
		}
		names[a.Name] = true
		switch a.Default.(type) {
		case nil, string, float64, bool, json.Number, int, int64:
		default:
			inv.Add("input_arguments", fmt.Sprintf("default of %q must be a string, number, boolean or null", a.Name))
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
			unknown = append(unknown, fmt.Sprintf("%s (kind must be tactic, technique or subtechnique)", truncate(r.ExternalID, 30)))
			continue
		}
		key := kind + ":" + ext
		if seen[key] {
			continue // duplicates merged
		}
		seen[key] = true
		id, _, _, state, err := s.mitre.Resolve(ctx, kind, ext)
		if errors.Is(err, apperr.ErrNotFound) {
			unknown = append(unknown, fmt.Sprintf("%s %s", kind, truncate(ext, 30)))
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
			Fields: map[string]string{"mitre_tags": "unknown: " + strings.Join(unknown, ", ")}}
	}
	return out, warnings, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ---------------------------------------------------------------------------
// Rows

type row struct {
	ID                    string   `db:"id"`
	Name                  string   `db:"name"`
	Description           string   `db:"description"`
	Objective             string   `db:"objective"`
	Executor              string   `db:"executor"`
	Command               string   `db:"command"`
	CleanupCommand        string   `db:"cleanup_command"`
	PrerequisitesExecutor string   `db:"prerequisites_executor"`
	Prerequisites         db.JSON  `db:"prerequisites"`
	InputArguments        db.JSON  `db:"input_arguments"`
	ElevationRequired     bool     `db:"elevation_required"`
	Platforms             db.JSON  `db:"platforms"`
	ExpectedDetection     string   `db:"expected_detection"`
	OpsecLevel            string   `db:"opsec_level"`
	Tags                  db.JSON  `db:"tags"`
	Source                string   `db:"source"`
	SourceRef             *string  `db:"source_ref"`
	CreatedBy             *string  `db:"created_by"`
	Version               int      `db:"version"`
	CreatedAt             db.Time  `db:"created_at"`
	UpdatedAt             db.Time  `db:"updated_at"`
	DeletedAt             *db.Time `db:"deleted_at"`
}

var rowColumns = []string{"id", "name", "description", "objective", "executor", "command", "cleanup_command",
	"prerequisites_executor", "prerequisites", "input_arguments", "elevation_required", "platforms",
	"expected_detection", "opsec_level", "tags", "source", "source_ref", "created_by", "version",
	"created_at", "updated_at", "deleted_at"}

func (r row) template() Template {
	t := Template{ID: r.ID, Name: r.Name, Description: r.Description, Objective: r.Objective, Executor: r.Executor,
		Command: r.Command, CleanupCommand: r.CleanupCommand, PrerequisitesExecutor: r.PrerequisitesExecutor,
		ElevationRequired: r.ElevationRequired, ExpectedDetection: r.ExpectedDetection, OpsecLevel: r.OpsecLevel,
		Source: r.Source, SourceRef: r.SourceRef, CreatedBy: r.CreatedBy, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, DeletedAt: r.DeletedAt,
		Prerequisites: []Prerequisite{}, InputArguments: []InputArgument{}, Platforms: []string{}, Tags: []string{}, MitreTags: []Tag{}}
	_ = json.Unmarshal(r.Prerequisites, &t.Prerequisites)
	_ = json.Unmarshal(r.InputArguments, &t.InputArguments)
	_ = json.Unmarshal(r.Platforms, &t.Platforms)
	_ = json.Unmarshal(r.Tags, &t.Tags)
	return t
}

// input turns a stored template back into its desired-state form.
func (t Template) input() Input {
	in := Input{Name: t.Name, Description: t.Description, Objective: t.Objective, Executor: t.Executor, Command: t.Command,
		CleanupCommand: t.CleanupCommand, PrerequisitesExecutor: t.PrerequisitesExecutor, Prerequisites: t.Prerequisites,
		InputArguments: t.InputArguments, ElevationRequired: t.ElevationRequired, Platforms: t.Platforms,
		ExpectedDetection: t.ExpectedDetection, OpsecLevel: t.OpsecLevel, Tags: t.Tags, Source: t.Source}
	if t.SourceRef != nil {
		in.SourceRef = *t.SourceRef
	}
	for _, m := range t.MitreTags {
		in.MitreTags = append(in.MitreTags, TagRef{Kind: m.Kind, ExternalID: m.ExternalID})
	}
	return in
}

func pipeFold(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	f := make([]string, len(xs))
	for i, x := range xs {
		f[i] = db.Fold(x)
	}
	return "|" + strings.Join(f, "|") + "|"
}

func (in Input) params() dbx.Params {
	return dbx.Params{
		"name": in.Name, "name_fold": db.Fold(in.Name), "search_fold": db.Fold(in.Name + " " + in.Description),
		"description": in.Description, "objective": in.Objective, "executor": in.Executor, "command": in.Command,
		"cleanup_command": in.CleanupCommand, "prerequisites_executor": in.PrerequisitesExecutor,
		"prerequisites": string(db.MustJSON(in.Prerequisites)), "input_arguments": string(db.MustJSON(in.InputArguments)),
		"elevation_required": in.ElevationRequired, "platforms": string(db.MustJSON(in.Platforms)),
		"platforms_fold": pipeFold(in.Platforms), "expected_detection": in.ExpectedDetection, "opsec_level": in.OpsecLevel,
		"tags": string(db.MustJSON(in.Tags)), "tags_fold": pipeFold(in.Tags),
	}
}

// ---------------------------------------------------------------------------
// Reads

func (s *Service) getRow(ctx context.Context, b dbx.Builder, id string) (row, error) {
	var r row
	if !db.ValidID(id) {
		return r, apperr.New(apperr.ErrNotFound, "not_found", "No such test template.")
	}
	err := b.Select(rowColumns...).From("test_templates").Where(dbx.HashExp{"id": id}).WithContext(ctx).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.New(apperr.ErrNotFound, "not_found", "No such test template.")
	}
	return r, err
}

// Get returns a template (deleted ones too: they are shown as deleted).
func (s *Service) Get(ctx context.Context, id string) (Template, error) {
	r, err := s.getRow(ctx, s.db.Read, id)
	if err != nil {
		return Template{}, err
	}
	t := r.template()
	tags, err := s.tagsFor(ctx, s.db.Read, []string{id})
	if err != nil {
		return Template{}, err
	}
	t.MitreTags = orEmpty(tags[id])
	return t, nil
}

func orEmpty(t []Tag) []Tag {
	if t == nil {
		return []Tag{}
	}
	return t
}

// tagsFor renders the ATT&CK tags of the given templates with the
// catalogue's current names, urls and states.
func (s *Service) tagsFor(ctx context.Context, b dbx.Builder, ids []string) (map[string][]Tag, error) {
	out := map[string][]Tag{}
	if len(ids) == 0 {
		return out, nil
	}
	in := make([]any, len(ids))
	for i, id := range ids {
		in[i] = id
	}
	var rows []Tag
	q := func(kind, table, col string) error {
		var part []Tag
		err := b.Select("tag.test_template_id", "tag.kind", "m.external_id", "m.name", "m.url", "m.revoked", "m.deprecated", "m.removed").
			From("test_template_mitre_tags tag").InnerJoin(table+" m", dbx.NewExp("m.id = tag."+col)).
			Where(dbx.In("tag.test_template_id", in...)).WithContext(ctx).All(&part)
		rows = append(rows, part...)
		return err
	}
	for _, k := range [][3]string{{"tactic", "mitre_tactics", "tactic_id"}, {"technique", "mitre_techniques", "technique_id"},
		{"subtechnique", "mitre_subtechniques", "subtechnique_id"}} {
		if err := q(k[0], k[1], k[2]); err != nil {
			return nil, fmt.Errorf("templates: tags: %w", err)
		}
	}
	kindOrder := map[string]int{"tactic": 0, "technique": 1, "subtechnique": 2}
	sort.Slice(rows, func(i, j int) bool {
		if kindOrder[rows[i].Kind] != kindOrder[rows[j].Kind] {
			return kindOrder[rows[i].Kind] < kindOrder[rows[j].Kind]
		}
		return rows[i].ExternalID < rows[j].ExternalID
	})
	for _, t := range rows {
		t.State = state(t.Revoked, t.Deprecated, t.Removed)
		out[t.TemplateID] = append(out[t.TemplateID], t)
	}
	return out, nil
}

func state(revoked, deprecated, removed bool) string {
	switch {
	case revoked:
		return "revoked"
	case deprecated:
		return "deprecated"
	case removed:
		return "removed"
	}
	return "active"
}

var sortColumns = map[string][]string{
	"name": {"name_fold ASC", "id ASC"}, "-name": {"name_fold DESC", "id DESC"},
	"created_at": {"created_at ASC", "id ASC"}, "-created_at": {"created_at DESC", "id DESC"},
	"updated_at": {"updated_at ASC", "id ASC"}, "-updated_at": {"updated_at DESC", "id DESC"},
	"opsec_level": {"opsec_level ASC", "name_fold ASC"}, "-opsec_level": {"opsec_level DESC", "name_fold ASC"},
}

// List filters, sorts and pages the library.
func (s *Service) List(ctx context.Context, p ListParams) (db.Page[Template], error) {
	p.PageParams = p.PageParams.Normalize()
	order, ok := sortColumns[p.Sort]
	if p.Sort == "" {
		order, ok = sortColumns["name"], true
	}
	if !ok {
		return db.Page[Template]{}, apperr.BadRequest("invalid_query", "sort must be one of name, created_at, updated_at, opsec_level (prefix - for descending).").
			WithDetails(map[string]any{"sort": "unknown sort key"})
	}
	where, err := s.filter(ctx, p)
	if err != nil {
		return db.Page[Template]{}, err
	}
	var total int
	if err := s.db.Read.Select("COUNT(*)").From("test_templates").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Template]{}, fmt.Errorf("templates: count: %w", err)
	}
	var rows []row
	if err := s.db.Read.Select(rowColumns...).From("test_templates").Where(where).OrderBy(order...).
		Limit(int64(p.PerPage)).Offset(p.Offset()).WithContext(ctx).All(&rows); err != nil {
		return db.Page[Template]{}, fmt.Errorf("templates: list: %w", err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	tags, err := s.tagsFor(ctx, s.db.Read, ids)
	if err != nil {
		return db.Page[Template]{}, err
	}
	items := make([]Template, len(rows))
	for i, r := range rows {
		items[i] = r.template()
		items[i].MitreTags = orEmpty(tags[r.ID])
	}
	return db.NewPage(items, total, p.PageParams), nil
}

func unknownFilter(name, value string) error {
	return apperr.New(apperr.ErrUnprocessable, "unknown_"+name, "No %s %q in the ATT&CK catalogue.", name, truncate(value, 40)).
		WithDetails(map[string]any{name: "unknown"})
}

func (s *Service) filter(ctx context.Context, p ListParams) (dbx.Expression, error) {
	conds := []dbx.Expression{dbx.NewExp("deleted_at IS NULL")}
	if p.Deleted {
		conds[0] = dbx.NewExp("deleted_at IS NOT NULL")
	}
	// ATT&CK filters: the catalogue snapshot turns "in this tactic" and
	// "this technique or its subtechniques" into id lists, so the query is
	// one indexed lookup per tag column (SQLite's multi-index OR).
	if p.Tactic != "" {
		ta, techs, subs, err := s.mitre.TacticMembers(ctx, p.Tactic)
		if err != nil {
			return nil, unknownFilter("tactic", p.Tactic)
		}
		conds = append(conds, tagFilter(ta, techs, subs))
	}
	if p.Technique != "" {
		te, subs, err := s.mitre.SubtechniqueIDs(ctx, p.Technique)
		if err != nil {
			return nil, unknownFilter("technique", p.Technique)
		}
		conds = append(conds, tagFilter("", []string{te}, subs))
	}
	if p.Subtechnique != "" {
		id, _, _, _, err := s.mitre.Resolve(ctx, "subtechnique", strings.ToUpper(p.Subtechnique))
		if err != nil {
			return nil, unknownFilter("subtechnique", p.Subtechnique)
		}
		conds = append(conds, dbx.NewExp(`id IN (SELECT test_template_id FROM test_template_mitre_tags WHERE subtechnique_id = {:fsu})`,
			dbx.Params{"fsu": id}))
	}
	if p.Opsec != "" {
		if !opsecLevels[p.Opsec] {
			return nil, apperr.BadRequest("invalid_query", "opsec must be low, medium or high.").WithDetails(map[string]any{"opsec": "invalid"})
		}
		conds = append(conds, dbx.HashExp{"opsec_level": p.Opsec})
	}
	if p.Platform != "" {
		conds = append(conds, dbx.NewExp(`platforms_fold LIKE {:fpl} ESCAPE '\'`, dbx.Params{"fpl": "%|" + db.EscapeLike(db.Fold(p.Platform)) + "|%"}))
	}
	if p.Tag != "" {
		conds = append(conds, dbx.NewExp(`tags_fold LIKE {:ftg} ESCAPE '\'`, dbx.Params{"ftg": "%|" + db.EscapeLike(db.Fold(p.Tag)) + "|%"}))
	}
	if q := db.Fold(p.Q); q != "" {
		conds = append(conds, dbx.NewExp(`search_fold LIKE {:fq} ESCAPE '\'`, dbx.Params{"fq": db.LikeContains(q)}))
	}
	return dbx.And(conds...), nil
}

// tagFilter matches templates tagged with the tactic or any of the listed
// techniques or subtechniques.
func tagFilter(tacticID string, techniqueIDs, subtechniqueIDs []string) dbx.Expression {
	params := dbx.Params{}
	var or []string
	list := func(col, prefix string, ids []string) {
		if len(ids) == 0 {
			return
		}
		ph := make([]string, len(ids))
		for i, id := range ids {
			k := fmt.Sprintf("%s%d", prefix, i)
			params[k] = id
			ph[i] = "{:" + k + "}"
		}
		or = append(or, col+" IN ("+strings.Join(ph, ", ")+")")
	}
	if tacticID != "" {
		params["tgta"] = tacticID
		or = append(or, "tactic_id = {:tgta}")
	}
	list("technique_id", "tgte", techniqueIDs)
	list("subtechnique_id", "tgsu", subtechniqueIDs)
	if len(or) == 0 {
		return dbx.NewExp("1 = 0")
	}
	return dbx.NewExp("id IN (SELECT test_template_id FROM test_template_mitre_tags WHERE "+strings.Join(or, " OR ")+")", params)
}

// ---------------------------------------------------------------------------
// Writes

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

func writeTags(ctx context.Context, tx *dbx.Tx, now db.Time, templateID string, tags []resolvedTag) error {
	if _, err := tx.Delete("test_template_mitre_tags", dbx.HashExp{"test_template_id": templateID}).WithContext(ctx).Execute(); err != nil {
		return err
	}
	for _, t := range tags {
		p := dbx.Params{"id": db.NewID(), "test_template_id": templateID, "kind": t.kind, "created_at": now,
			"tactic_id": nil, "technique_id": nil, "subtechnique_id": nil}
		p[t.kind+"_id"] = t.id
		if _, err := tx.Insert("test_template_mitre_tags", p).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("templates: tag %s: %w", t.ext, err)
		}
	}
	return nil
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
