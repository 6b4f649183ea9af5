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
	"slices"
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
// catalogue's current names, urls and states: the tag rows from b, the
// names from the catalogue snapshot (no join with the catalogue tables,
// whose long descriptions make every row a multi-page read). Should the
// snapshot not know a tagged row yet, the tags come from the tables.
func (s *Service) tagsFor(ctx context.Context, b dbx.Builder, ids []string) (map[string][]Tag, error) {
	out := map[string][]Tag{}
	if len(ids) == 0 {
		return out, nil
	}
	in := make([]any, len(ids))
	for i, id := range ids {
		in[i] = id
	}
	var refs []struct {
		TemplateID     string  `db:"test_template_id"`
		Kind           string  `db:"kind"`
		TacticID       *string `db:"tactic_id"`
		TechniqueID    *string `db:"technique_id"`
		SubtechniqueID *string `db:"subtechnique_id"`
	}
	if err := b.Select("test_template_id", "kind", "tactic_id", "technique_id", "subtechnique_id").From("test_template_mitre_tags").
		Where(dbx.In("test_template_id", in...)).WithContext(ctx).All(&refs); err != nil {
		return nil, fmt.Errorf("templates: tags: %w", err)
	}
	v, err := s.mitre.View(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]Tag, 0, len(refs))
	for _, r := range refs {
		id := r.TacticID
		if r.Kind == "technique" {
			id = r.TechniqueID
		} else if r.Kind == "subtechnique" {
			id = r.SubtechniqueID
		}
		e, ok := mitre.Entry{}, false
		if id != nil {
			e, ok = v.Entry(r.Kind, *id)
		}
		if !ok {
			return s.tagsFromTables(ctx, b, in)
		}
		rows = append(rows, Tag{Kind: r.Kind, ExternalID: e.ExternalID, Name: e.Name, URL: e.URL, State: e.State, TemplateID: r.TemplateID})
	}
	return groupTags(rows), nil
}

// tagsFromTables is tagsFor reading the names from the catalogue tables.
func (s *Service) tagsFromTables(ctx context.Context, b dbx.Builder, in []any) (map[string][]Tag, error) {
	var rows []Tag
	for _, k := range [][2]string{{"mitre_tactics", "tactic_id"}, {"mitre_techniques", "technique_id"}, {"mitre_subtechniques", "subtechnique_id"}} {
		var part []Tag
		if err := b.Select("tag.test_template_id", "tag.kind", "m.external_id", "m.name", "m.url", "m.revoked", "m.deprecated", "m.removed").
			From("test_template_mitre_tags tag").InnerJoin(k[0]+" m", dbx.NewExp("m.id = tag."+k[1])).
			Where(dbx.In("tag.test_template_id", in...)).WithContext(ctx).All(&part); err != nil {
			return nil, fmt.Errorf("templates: tags: %w", err)
		}
		for i := range part {
			part[i].State = mitre.State(part[i].Revoked, part[i].Deprecated, part[i].Removed)
		}
		rows = append(rows, part...)
	}
	return groupTags(rows), nil
}

// groupTags orders tags (tactics, techniques, subtechniques, each by id) and
// groups them by template.
func groupTags(rows []Tag) map[string][]Tag {
	kindOrder := map[string]int{"tactic": 0, "technique": 1, "subtechnique": 2}
	sort.Slice(rows, func(i, j int) bool {
		if kindOrder[rows[i].Kind] != kindOrder[rows[j].Kind] {
			return kindOrder[rows[i].Kind] < kindOrder[rows[j].Kind]
		}
		return rows[i].ExternalID < rows[j].ExternalID
	})
	out := map[string][]Tag{}
	for _, t := range rows {
		out[t.TemplateID] = append(out[t.TemplateID], t)
	}
	return out
}

// sortColumns are the list orders. Each is the order of one of the
// ix_test_templates_list_* indexes (migration 0004), read forwards or
// backwards, so a page is a walk along an index, never a sort of the
// matches; "-x" is the exact reverse of "x". created_at (API only, the
// library screen does not offer it) has no index and sorts the matches.
var sortColumns = map[string][]string{
	"name": {"name_fold ASC", "id ASC"}, "-name": {"name_fold DESC", "id DESC"},
	"created_at": {"created_at ASC", "id ASC"}, "-created_at": {"created_at DESC", "id DESC"},
	"updated_at": {"updated_at ASC", "id ASC"}, "-updated_at": {"updated_at DESC", "id DESC"},
	"opsec_level": {"opsec_level ASC", "name_fold ASC", "id ASC"}, "-opsec_level": {"opsec_level DESC", "name_fold DESC", "id DESC"},
}

// reverseOrder flips every term of an order.
func reverseOrder(order []string) []string {
	out := make([]string, len(order))
	for i, o := range order {
		col, dir, _ := strings.Cut(o, " ")
		if dir == "DESC" {
			out[i] = col + " ASC"
		} else {
			out[i] = col + " DESC"
		}
	}
	return out
}

// sparseMatches is how many matches a list takes in one pass: up to this
// many, the matches are collected (no order), counted and sorted in one
// statement; beyond it, counting and an index walk are cheaper than sorting
// (Service.sparse; tests lower it to reach both paths with few rows).
const sparseMatches = 500

// onePassAlways is the one-pass limit on PostgreSQL: every filtered list is
// the one statement. Its planner filters a sequential scan of the rows (it
// has no covering list index: see migration 0004) and sorts the matches
// with a bounded heap; a count is that same scan again, and a walk to a deep
// page fetches a row per index entry (EXPLAIN ANALYZE, 3,091 matches of
// 10,000, page 50: count plus walk cost twice the one statement).
const onePassAlways = 1 << 30

// List filters, sorts and pages the library.
//
// The match set is built once. A first statement collects up to
// sparseMatches+1 matches by the cheapest access path, without order
// (SQLite's planner would otherwise walk the sort index through every
// entry to find a few matches), then counts and sorts them and cuts the
// page: for a sparse result that is the whole answer. A dense result is
// counted by one pass over the covering list index, and the page is a walk
// along the sort order's index that stops at the page, starting from the far
// end when the page lies in the second half: it reads at most half of the
// matches and sorts nothing. A page past the end skips the walk. On
// PostgreSQL every filtered list takes the first statement (onePassAlways);
// the whole library (no filter) is counted (an index-only scan) and walked
// by index, its order led by deleted_at (walkLive) so that the planner sees
// the index's order. The page's rows and tags are then fetched by id.
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
	offset, limit := int(p.Offset()), p.PerPage
	total, ids := -1, []string(nil)
	if s.sparse != onePassAlways || p.filtered() {
		if total, ids, err = s.sparsePage(ctx, where, order, offset, limit); err != nil {
			return db.Page[Template]{}, err
		}
	}
	if total < 0 { // dense
		if err := s.db.Read.Select("COUNT(*)").From("test_templates").Where(where).WithContext(ctx).Row(&total); err != nil {
			return db.Page[Template]{}, fmt.Errorf("templates: count: %w", err)
		}
		if offset >= total {
			return db.NewPage([]Template{}, total, p.PageParams), nil
		}
		limit = min(limit, total-offset)
		order = s.walkOrder(p, order)
		reversed := offset+limit/2 > total/2
		if reversed {
			order, offset = reverseOrder(order), total-offset-limit
		}
		if err := walkQuery(s.db.Read, where, order, limit, offset).WithContext(ctx).Column(&ids); err != nil {
			return db.Page[Template]{}, fmt.Errorf("templates: list: %w", err)
		}
		if reversed {
			slices.Reverse(ids)
		}
	}
	items, err := s.byIDs(ctx, ids)
	if err != nil {
		return db.Page[Template]{}, err
	}
	return db.NewPage(items, total, p.PageParams), nil
}

// walkOrder is the order of the index walk of a dense list. All live rows
// share deleted_at (NULL), so leading the live list's order with it changes
// nothing, but it is the first column of the ix_test_templates_list_*
// indexes: PostgreSQL's planner takes "deleted_at IS NULL" for a range, not
// an equality, and without it sorted the whole library for one page. Every
// order's terms share one direction (sortColumns).
func (s *Service) walkOrder(p ListParams, order []string) []string {
	if s.walkLive && !p.Deleted {
		// In the direction of the first key, as the index is read in one
		// direction.
		_, dir, _ := strings.Cut(order[0], " ")
		return append([]string{"deleted_at " + dir}, order...)
	}
	return order
}

// walkQuery reads the page's ids along order.
func walkQuery(b dbx.Builder, where dbx.Expression, order []string, limit, offset int) *dbx.SelectQuery {
	return b.Select("id").From("test_templates").Where(where).OrderBy(order...).
		Limit(int64(limit)).Offset(int64(offset))
}

// filtered reports whether any filter but the live/deleted view is set.
func (p ListParams) filtered() bool {
	return p.Tactic != "" || p.Technique != "" || p.Subtechnique != "" || p.Opsec != "" || p.Platform != "" || p.Tag != "" ||
		strings.TrimSpace(p.Q) != ""
}

// sparsePage answers a list whose matches number at most s.sparse in
// one statement: the total and the page's ids in order. It returns total -1
// when there are more matches.
func (s *Service) sparsePage(ctx context.Context, where dbx.Expression, order []string, offset, limit int) (int, []string, error) {
	params := dbx.Params{"sp_cap": s.sparse + 1, "sp_max": s.sparse, "sp_limit": limit, "sp_offset": offset}
	cond := where.Build(s.db.Read, params)
	var keys, outer []string
	for _, o := range order {
		col, dir, _ := strings.Cut(o, " ")
		keys = append(keys, col)
		outer = append(outer, "p."+col+" "+dir)
	}
	cols := strings.Join(keys, ", ")
	var rows []struct {
		Total int     `db:"total"`
		ID    *string `db:"id"`
	}
	err := s.db.Read.NewQuery(`WITH m AS MATERIALIZED (SELECT ` + cols + ` FROM test_templates WHERE ` + cond + ` LIMIT {:sp_cap})
		SELECT c.n AS total, p.id AS id FROM (SELECT COUNT(*) AS n FROM m) c
		LEFT JOIN (SELECT ` + cols + ` FROM m WHERE (SELECT COUNT(*) FROM m) <= {:sp_max}
			ORDER BY ` + strings.Join(order, ", ") + ` LIMIT {:sp_limit} OFFSET {:sp_offset}) p ON 1 = 1
		ORDER BY ` + strings.Join(outer, ", ")).Bind(params).WithContext(ctx).All(&rows)
	if err != nil {
		return 0, nil, fmt.Errorf("templates: list: %w", err)
	}
	if len(rows) == 0 || rows[0].Total > s.sparse {
		return -1, nil, nil
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.ID != nil {
			ids = append(ids, *r.ID)
		}
	}
	return rows[0].Total, ids, nil
}

// byIDs reads templates with their tags, in the order of ids (ids that no
// longer exist are left out).
func (s *Service) byIDs(ctx context.Context, ids []string) ([]Template, error) {
	items := make([]Template, 0, len(ids))
	if len(ids) == 0 {
		return items, nil
	}
	in := make([]any, len(ids))
	for i, id := range ids {
		in[i] = id
	}
	var rows []row
	if err := s.db.Read.Select(rowColumns...).From("test_templates").Where(dbx.In("id", in...)).
		WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("templates: list: %w", err)
	}
	byID := make(map[string]row, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	tags, err := s.tagsFor(ctx, s.db.Read, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			continue
		}
		t := r.template()
		t.MitreTags = orEmpty(tags[id])
		items = append(items, t)
	}
	return items, nil
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
	// Terms in rising cost, as SQLite evaluates them in order: integer
	// tests first (the Bloom filter of every '|x|' value asked for, see
	// filtercols.go), then the short lists, the name and description last.
	var bits int64
	var lists []dbx.Expression
	list := func(col, key string, kind byte, value string) {
		v := db.Fold(value)
		bits |= bloomBit(kind, v)
		lists = append(lists, dbx.NewExp(col+` LIKE {:`+key+`} ESCAPE '\'`, dbx.Params{key: "%|" + db.EscapeLike(v) + "|%"}))
	}
	if p.Platform != "" {
		list("platforms_fold", "fpl", bitPlatform, p.Platform)
	}
	if p.Tag != "" {
		list("tags_fold", "ftg", bitTag, p.Tag)
	}
	// ATT&CK filters read the derived columns: "in this tactic" and "this
	// technique or one of its subtechniques" are one LIKE each. The
	// catalogue names unknown ids (422).
	if p.Tactic != "" {
		t, err := s.mitre.Tactic(ctx, p.Tactic)
		if err != nil {
			return nil, unknownFilter("tactic", p.Tactic)
		}
		list("tactics_fold", "fta", bitTactic, t.ExternalID)
	}
	if p.Technique != "" {
		if _, _, _, _, err := s.mitre.Resolve(ctx, "technique", p.Technique); err != nil {
			return nil, unknownFilter("technique", p.Technique)
		}
		list("techniques_fold", "fte", bitTechnique, p.Technique)
	}
	if p.Subtechnique != "" {
		if _, _, _, _, err := s.mitre.Resolve(ctx, "subtechnique", p.Subtechnique); err != nil {
			return nil, unknownFilter("subtechnique", p.Subtechnique)
		}
		list("techniques_fold", "fsu", bitTechnique, p.Subtechnique)
	}
	if bits != 0 {
		conds = append(conds, dbx.NewExp(`(filter_bits & {:fbits}) = {:fbits}`, dbx.Params{"fbits": bits}))
	}
	if p.Opsec != "" {
		if !opsecLevels[p.Opsec] {
			return nil, apperr.BadRequest("invalid_query", "opsec must be low, medium or high.").WithDetails(map[string]any{"opsec": "invalid"})
		}
		conds = append(conds, dbx.HashExp{"opsec_level": p.Opsec})
	}
	conds = append(conds, lists...)
	if q := db.Fold(p.Q); q != "" {
		conds = append(conds, dbx.NewExp(`search_fold LIKE {:fq} ESCAPE '\'`, dbx.Params{"fq": db.LikeContains(q)}))
	}
	return dbx.And(conds...), nil
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
	return refreshFilterColumns(ctx, tx, []string{templateID})
}
