package templates

// The template library's rows and queries: how templates are stored, read,
// listed and filtered. The rules (validation, tags, upserts) are in
// service.go.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/text"
)

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
		t.State = mitre.State(t.Revoked, t.Deprecated, t.Removed)
		out[t.TemplateID] = append(out[t.TemplateID], t)
	}
	return out, nil
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
	return apperr.New(apperr.ErrUnprocessable, "unknown_"+name, "No %s %q in the ATT&CK catalogue.", name, text.Truncate(value, 40)).
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
