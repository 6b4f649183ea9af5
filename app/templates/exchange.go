package templates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// Library exchange: selected templates and scenarios as one JSON document
// that another instance imports idempotently.
//
// Identity. A template's origin_id is the id it had where it was first
// written: its own id, or — for a template that came from another instance —
// the origin recorded in its source_ref ("lib:<origin>"). An import matches
// a document template to, in order: the local template whose id is the
// origin (exporting and re-importing on one instance changes nothing), the
// template imported earlier from that origin (source_ref "lib:<origin>"),
// and for Atomic tests the template with that auto_generated_guid (so the
// library and an Atomic import never duplicate each other). Otherwise it is
// created: keyed by its guid when it is an Atomic test, else by
// "lib:<origin>". Scenarios keep their ids across instances
// (UpsertScenarioByRef).

// Library document format.
const (
	LibraryFormat        = "purplebook-library"
	LibraryFormatVersion = 1
	// MaxLibraryTemplates and MaxLibraryScenarios bound one document.
	MaxLibraryTemplates = 10_000
	MaxLibraryScenarios = 1_000
	// MaxLibraryBytes bounds an uploaded document.
	MaxLibraryBytes = 64 << 20
)

// Library is the exchange document.
type Library struct {
	Format        string            `json:"format"`
	FormatVersion int               `json:"format_version"`
	ExportedAt    string            `json:"exported_at"`
	AppVersion    string            `json:"app_version"`
	Templates     []LibraryTemplate `json:"templates"`
	Scenarios     []LibraryScenario `json:"scenarios"`
}

// LibraryTemplate is a test template in a library document: the fields of
// Input, ATT&CK tags by external id.
type LibraryTemplate struct {
	OriginID   string `json:"origin_id"`
	AtomicGUID string `json:"atomic_guid,omitempty"` // the Atomic Red Team auto_generated_guid, when it came from there
	Input
}

// LibraryScenario is a scenario template: its tests by origin id, in order
// (the same test may appear several times).
type LibraryScenario struct {
	OriginID      string   `json:"origin_id"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	TestOriginIDs []string `json:"test_origin_ids"`
}

// OutcomeCounts counts what an import did.
type OutcomeCounts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

func (c *OutcomeCounts) add(o ImportOutcome) {
	switch o {
	case Created:
		c.Created++
	case Updated:
		c.Updated++
	default:
		c.Unchanged++
	}
}

// LibraryItem is what happened to one document entry.
type LibraryItem struct {
	Kind     string        `json:"kind"` // test_template, scenario_template
	OriginID string        `json:"origin_id"`
	ID       string        `json:"id"` // the local id
	Name     string        `json:"name"`
	Outcome  ImportOutcome `json:"outcome"`
}

// LibraryWarning is something the import did not take as given.
type LibraryWarning struct {
	Kind     string `json:"kind"`
	OriginID string `json:"origin_id"`
	Name     string `json:"name"`
	Message  string `json:"message"`
}

// LibraryReport is the answer of a library import.
type LibraryReport struct {
	Templates  OutcomeCounts    `json:"templates"`
	Scenarios  OutcomeCounts    `json:"scenarios"`
	Items      []LibraryItem    `json:"items"`
	Warnings   []LibraryWarning `json:"warnings"`
	DurationMS int64            `json:"duration_ms"`
}

// ---------------------------------------------------------------------------
// Export

// ExportParams select what to export; templates used by the scenarios are
// included automatically.
type ExportParams struct {
	TemplateIDs []string
	ScenarioIDs []string
	AppVersion  string
}

func originOf(r row) string {
	if r.SourceRef != nil && strings.HasPrefix(*r.SourceRef, libRefPrefix) {
		return strings.TrimPrefix(*r.SourceRef, libRefPrefix)
	}
	return r.ID
}

const libRefPrefix = "lib:"

func dedupe(xs []string) []string {
	out := make([]string, 0, len(xs))
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func unknownIDs(field, what string, ids []string) error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such %s: %s.", what, strings.Join(ids, ", ")).
		WithDetails(map[string]any{field: "include unknown ids: " + strings.Join(ids, ", ")})
}

// ExportLibrary builds the exchange document: the requested templates in
// the order given, then those the scenarios use that were not requested, in
// scenario order; deleted ones are exported too (they were asked for by id
// or are still entries of a scenario).
func (s *Service) ExportLibrary(ctx context.Context, p ExportParams) (*Library, error) {
	tplIDs, scIDs := dedupe(p.TemplateIDs), dedupe(p.ScenarioIDs)
	if len(tplIDs) == 0 && len(scIDs) == 0 {
		return nil, (&apperr.Invalid{Message: "Choose the test templates or scenario templates to export.",
			Fields: map[string]string{"template_ids": "must list templates or scenarios"}})
	}
	if len(scIDs) > MaxLibraryScenarios || len(tplIDs) > MaxLibraryTemplates {
		return nil, &apperr.Invalid{Message: fmt.Sprintf("Export at most %d test templates and %d scenarios at once.", MaxLibraryTemplates, MaxLibraryScenarios),
			Fields: map[string]string{"template_ids": "has too many entries"}}
	}
	for _, list := range [][]string{tplIDs, scIDs} {
		var bad []string
		for _, id := range list {
			if !db.ValidID(id) {
				bad = append(bad, text.Truncate(id, 40))
			}
		}
		if len(bad) > 0 {
			return nil, unknownIDs("ids", "test or scenario template", bad)
		}
	}
	doc := &Library{Format: LibraryFormat, FormatVersion: LibraryFormatVersion, ExportedAt: s.nowTime().String(),
		AppVersion: p.AppVersion, Templates: []LibraryTemplate{}, Scenarios: []LibraryScenario{}}

	// Scenarios and their ordered entries.
	var scRows []scenarioRow
	if len(scIDs) > 0 {
		if err := s.db.Read.Select(scenarioColumns...).From("scenario_templates").Where(dbx.In("id", anys(scIDs)...)).
			WithContext(ctx).All(&scRows); err != nil {
			return nil, fmt.Errorf("templates: export: scenarios: %w", err)
		}
	}
	scByID := map[string]scenarioRow{}
	for _, r := range scRows {
		scByID[r.ID] = r
	}
	var missing []string
	for _, id := range scIDs {
		if _, ok := scByID[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, unknownIDs("scenario_ids", "scenario template", missing)
	}
	var entries []entryRow
	if len(scIDs) > 0 {
		if err := s.db.Read.Select("scenario_id", "position", "test_template_id").From("scenario_template_tests").
			Where(dbx.In("scenario_id", anys(scIDs)...)).OrderBy("scenario_id", "position").WithContext(ctx).All(&entries); err != nil {
			return nil, fmt.Errorf("templates: export: entries: %w", err)
		}
	}
	byScenario := map[string][]string{}
	for _, e := range entries {
		byScenario[e.ScenarioID] = append(byScenario[e.ScenarioID], e.TestTemplateID)
	}
	all := append([]string{}, tplIDs...)
	for _, id := range scIDs {
		all = append(all, byScenario[id]...)
	}
	all = dedupe(all)
	if len(all) > MaxLibraryTemplates {
		return nil, &apperr.Invalid{Message: fmt.Sprintf("Export at most %d test templates at once.", MaxLibraryTemplates),
			Fields: map[string]string{"template_ids": "has too many entries"}}
	}

	// Templates with their tags.
	rows := map[string]row{}
	const batch = 500
	for lo := 0; lo < len(all); lo += batch {
		var part []row
		if err := s.db.Read.Select(rowColumns...).From("test_templates").Where(dbx.In("id", anys(all[lo:min(lo+batch, len(all))])...)).
			WithContext(ctx).All(&part); err != nil {
			return nil, fmt.Errorf("templates: export: templates: %w", err)
		}
		for _, r := range part {
			rows[r.ID] = r
		}
	}
	missing = nil
	for _, id := range tplIDs {
		if _, ok := rows[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, unknownIDs("template_ids", "test template", missing)
	}
	tags := map[string][]Tag{}
	for lo := 0; lo < len(all); lo += batch {
		part, err := s.tagsFor(ctx, s.db.Read, all[lo:min(lo+batch, len(all))])
		if err != nil {
			return nil, err
		}
		for k, v := range part {
			tags[k] = v
		}
	}
	origin := map[string]string{}
	for _, id := range all {
		r := rows[id]
		t := r.template()
		t.MitreTags = tags[id]
		in := t.input()
		in.Source, in.SourceRef = "", ""
		if in.MitreTags == nil {
			in.MitreTags = []TagRef{}
		}
		lt := LibraryTemplate{OriginID: originOf(r), Input: in}
		if r.Source == "atomic" && r.SourceRef != nil {
			lt.AtomicGUID = *r.SourceRef
		}
		origin[id] = lt.OriginID
		doc.Templates = append(doc.Templates, lt)
	}
	for _, id := range scIDs {
		r := scByID[id]
		ls := LibraryScenario{OriginID: r.ID, Name: r.Name, Description: r.Description, TestOriginIDs: []string{}}
		for _, tid := range byScenario[id] {
			ls.TestOriginIDs = append(ls.TestOriginIDs, origin[tid])
		}
		doc.Scenarios = append(doc.Scenarios, ls)
	}
	return doc, nil
}

func anys(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// ---------------------------------------------------------------------------
// Import

// DecodeLibrary reads a library document. Malformed JSON and wrong types
// are a 422 naming the place; unknown fields are ignored (a newer minor
// version may add some).
func DecodeLibrary(r io.Reader) (*Library, error) {
	var doc Library
	dec := json.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, &apperr.Invalid{Message: fmt.Sprintf("The library document is not valid JSON (error at byte %d).", syn.Offset),
				Fields: map[string]string{"document": "is not valid JSON"}}
		case errors.As(err, &typ):
			field := strings.ReplaceAll(typ.Field, ".Input.", ".") // the embedded struct is not part of the format
			if field == "" {
				field = "document"
			}
			return nil, &apperr.Invalid{Message: fmt.Sprintf("The library document has a value of the wrong type at %s.", field),
				Fields: map[string]string{field: "must be " + typ.Type.Kind().String()}}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &apperr.Invalid{Message: "The library document is empty or cut short.", Fields: map[string]string{"document": "is incomplete"}}
		}
		return nil, sourceError(err, apperr.Unprocessable("invalid_library", "The library document cannot be read: %v.", err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && !strings.Contains(err.Error(), "invalid character") {
			return nil, sourceError(err, apperr.Unprocessable("invalid_library", "The library document cannot be read: %v.", err))
		}
		return nil, &apperr.Invalid{Message: "The library document must be exactly one JSON object.", Fields: map[string]string{"document": "has data after its JSON object"}}
	}
	return &doc, nil
}

var reOrigin = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._:-]{0,99}$`)

// validate checks the whole document before anything is written and lists
// every problem, keyed by its place (templates[3].name).
func (doc *Library) validate() error {
	inv := apperr.Invalid{}
	if doc.Format != LibraryFormat {
		inv.Add("format", fmt.Sprintf("must be %q", LibraryFormat))
	}
	switch {
	case doc.FormatVersion > LibraryFormatVersion:
		inv.Add("format_version", fmt.Sprintf("is %d, written by a newer Purplebook; this one reads version %d", doc.FormatVersion, LibraryFormatVersion))
	case doc.FormatVersion != LibraryFormatVersion:
		inv.Add("format_version", fmt.Sprintf("must be %d", LibraryFormatVersion))
	}
	if len(doc.Templates) > MaxLibraryTemplates {
		inv.Add("templates", fmt.Sprintf("must have at most %d entries", MaxLibraryTemplates))
	}
	if len(doc.Scenarios) > MaxLibraryScenarios {
		inv.Add("scenarios", fmt.Sprintf("must have at most %d entries", MaxLibraryScenarios))
	}
	if len(doc.Templates) == 0 && len(doc.Scenarios) == 0 {
		inv.Add("templates", "must not be empty: the document holds no templates and no scenarios")
	}
	if len(inv.Fields) > 0 {
		return libraryInvalid(&inv)
	}
	origins := map[string]bool{}
	for i := range doc.Templates {
		t := &doc.Templates[i]
		at := fmt.Sprintf("templates[%d]", i)
		t.OriginID = strings.TrimSpace(t.OriginID)
		switch {
		case !reOrigin.MatchString(t.OriginID):
			inv.Add(at+".origin_id", "must be 1 to 100 letters, digits or . _ : -")
		case origins[t.OriginID]:
			inv.Add(at+".origin_id", fmt.Sprintf("appears twice (%s)", t.OriginID))
		}
		origins[t.OriginID] = true
		t.AtomicGUID = strings.ToLower(strings.TrimSpace(t.AtomicGUID))
		if t.AtomicGUID != "" && !reGUID.MatchString(t.AtomicGUID) {
			inv.Add(at+".atomic_guid", "must be a GUID")
		}
		check := t.Input
		if err := check.normalize(); err != nil {
			var fi *apperr.Invalid
			if errors.As(err, &fi) {
				for k, v := range fi.Fields {
					inv.Add(at+"."+k, v)
				}
			}
		}
		if len(inv.Fields) >= 50 {
			break
		}
	}
	scOrigins := map[string]bool{}
	for j := range doc.Scenarios {
		sc := &doc.Scenarios[j]
		at := fmt.Sprintf("scenarios[%d]", j)
		switch {
		case !db.ValidID(sc.OriginID):
			inv.Add(at+".origin_id", "must be a UUID")
		case scOrigins[sc.OriginID]:
			inv.Add(at+".origin_id", fmt.Sprintf("appears twice (%s)", sc.OriginID))
		}
		scOrigins[sc.OriginID] = true
		check := ScenarioInput{Name: sc.Name, Description: sc.Description, TestTemplateIDs: sc.TestOriginIDs}
		if err := validateScenario(&check); err != nil {
			var fi *apperr.Invalid
			if errors.As(err, &fi) {
				for k, v := range fi.Fields {
					if k == "test_template_ids" {
						k = "test_origin_ids"
					}
					inv.Add(at+"."+k, v)
				}
			}
		}
		var unknown []string
		for _, o := range sc.TestOriginIDs {
			if !origins[o] {
				unknown = append(unknown, text.Truncate(o, 40))
			}
		}
		if len(unknown) > 0 {
			inv.Add(at+".test_origin_ids", "must name templates of the document; unknown: "+strings.Join(dedupe(unknown), ", "))
		}
		if len(inv.Fields) >= 50 {
			break
		}
	}
	return libraryInvalid(&inv)
}

func libraryInvalid(inv *apperr.Invalid) error {
	if len(inv.Fields) == 0 {
		return nil
	}
	keys := make([]string, 0, len(inv.Fields))
	for k := range inv.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	first := keys[0] + ": " + inv.Fields[keys[0]]
	inv.Message = fmt.Sprintf("The library document is invalid (%d problems; first: %s). Nothing was imported.", len(keys), first)
	if len(keys) == 1 {
		inv.Message = fmt.Sprintf("The library document is invalid: %s. Nothing was imported.", first)
	}
	return inv
}

// HasScenarios tells the HTTP layer to check scenario permissions too.
func (doc *Library) HasScenarios() bool { return len(doc.Scenarios) > 0 }

type matchRow struct {
	ID        string  `db:"id"`
	Source    string  `db:"source"`
	SourceRef *string `db:"source_ref"`
}

// ImportLibrary applies a document in one transaction; a bad document
// writes nothing.
func (s *Service) ImportLibrary(ctx context.Context, actor audit.Actor, doc *Library) (*LibraryReport, error) {
	start := s.now()
	var rep *LibraryReport
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var err error
		rep, err = s.ImportLibraryTx(ctx, tx, actor, doc)
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.DurationMS = s.now().Sub(start).Milliseconds()
	return rep, nil
}

// ImportLibraryTx is ImportLibrary inside the caller's transaction (library
// bundles import templates, levels and controls together; their dry run
// rolls it back).
func (s *Service) ImportLibraryTx(ctx context.Context, tx *dbx.Tx, actor audit.Actor, doc *Library) (*LibraryReport, error) {
	if err := doc.validate(); err != nil {
		return nil, err
	}
	rep := &LibraryReport{Items: []LibraryItem{}, Warnings: []LibraryWarning{}}
	err := func() error {
		byID, byRef, err := s.libraryMatches(ctx, tx, doc)
		if err != nil {
			return err
		}
		local := map[string]string{} // origin → local id
		usedBy := map[string]string{}
		for _, t := range doc.Templates {
			m, ok := byID[t.OriginID]
			if !ok {
				m, ok = byRef[libRefPrefix+t.OriginID]
			}
			if !ok && t.AtomicGUID != "" {
				m, ok = byRef[t.AtomicGUID]
			}
			warn := func(msg string) {
				rep.Warnings = append(rep.Warnings, LibraryWarning{Kind: "test_template", OriginID: t.OriginID, Name: t.Name, Message: msg})
			}
			if ok {
				if prev, dup := usedBy[m.ID]; dup {
					local[t.OriginID] = m.ID
					warn(fmt.Sprintf("matches the same local template as origin %s; imported once", prev))
					continue
				}
				usedBy[m.ID] = t.OriginID
			}
			in := t.Input
			var id string
			var outcome ImportOutcome
			var warnings []string
			switch {
			case ok && m.SourceRef != nil:
				in.Source, in.SourceRef = m.Source, *m.SourceRef
				id, outcome, warnings, err = s.UpsertBySourceRef(ctx, tx, actor, in)
			case ok:
				id = m.ID
				outcome, warnings, err = s.updateMatched(ctx, tx, actor, m.ID, in)
			case t.AtomicGUID != "":
				in.Source, in.SourceRef = "atomic", t.AtomicGUID
				id, outcome, warnings, err = s.UpsertBySourceRef(ctx, tx, actor, in)
			default:
				in.Source, in.SourceRef = "import", libRefPrefix+t.OriginID
				id, outcome, warnings, err = s.UpsertBySourceRef(ctx, tx, actor, in)
			}
			if err != nil {
				return fmt.Errorf("template %s: %w", t.OriginID, err)
			}
			if !ok {
				usedBy[id] = t.OriginID
			}
			local[t.OriginID] = id
			rep.Templates.add(outcome)
			rep.Items = append(rep.Items, LibraryItem{Kind: "test_template", OriginID: t.OriginID, ID: id, Name: strings.TrimSpace(t.Name), Outcome: outcome})
			for _, w := range warnings {
				warn(w)
			}
		}
		for j, sc := range doc.Scenarios {
			in := ScenarioInput{Name: sc.Name, Description: sc.Description, TestTemplateIDs: make([]string, len(sc.TestOriginIDs))}
			for i, o := range sc.TestOriginIDs {
				in.TestTemplateIDs[i] = local[o]
			}
			id, outcome, err := s.UpsertScenarioByRef(ctx, tx, actor, sc.OriginID, in)
			if err != nil {
				var inv *apperr.Invalid
				if errors.As(err, &inv) {
					fields := map[string]string{}
					for k, v := range inv.Fields {
						fields[fmt.Sprintf("scenarios[%d].%s", j, k)] = v
					}
					return &apperr.Invalid{Message: fmt.Sprintf("Scenario %q cannot be imported: %s Nothing was imported.", text.Truncate(sc.Name, 80), inv.Error()), Fields: fields}
				}
				return fmt.Errorf("scenario %s: %w", sc.OriginID, err)
			}
			rep.Scenarios.add(outcome)
			rep.Items = append(rep.Items, LibraryItem{Kind: "scenario_template", OriginID: sc.OriginID, ID: id, Name: strings.TrimSpace(sc.Name), Outcome: outcome})
		}
		return audit.Record(ctx, tx, s.nowTime(), actor, audit.Event{Action: "library.import", ObjectType: "test_template",
			Details: map[string]any{"app_version": text.Truncate(doc.AppVersion, 60), "exported_at": text.Truncate(doc.ExportedAt, 40),
				"templates": rep.Templates, "scenarios": rep.Scenarios}})
	}()
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// libraryMatches loads the local templates a document may match: by id
// and by source_ref (lib:<origin> and Atomic guids).
func (s *Service) libraryMatches(ctx context.Context, tx *dbx.Tx, doc *Library) (map[string]matchRow, map[string]matchRow, error) {
	var ids, refs []string
	for _, t := range doc.Templates {
		if db.ValidID(t.OriginID) {
			ids = append(ids, t.OriginID)
		}
		refs = append(refs, libRefPrefix+t.OriginID)
		if t.AtomicGUID != "" {
			refs = append(refs, t.AtomicGUID)
		}
	}
	byID, byRef := map[string]matchRow{}, map[string]matchRow{}
	const batch = 500
	load := func(col string, keys []string, into map[string]matchRow) error {
		for lo := 0; lo < len(keys); lo += batch {
			var rows []matchRow
			if err := tx.Select("id", "source", "source_ref").From("test_templates").Where(dbx.In(col, anys(keys[lo:min(lo+batch, len(keys))])...)).
				WithContext(ctx).All(&rows); err != nil {
				return fmt.Errorf("templates: library: match: %w", err)
			}
			for _, r := range rows {
				if col == "id" {
					into[r.ID] = r
				} else if r.SourceRef != nil {
					into[*r.SourceRef] = r
				}
			}
		}
		return nil
	}
	if err := load("id", ids, byID); err != nil {
		return nil, nil, err
	}
	if err := load("source_ref", refs, byRef); err != nil {
		return nil, nil, err
	}
	return byID, byRef, nil
}

// updateMatched brings a local template without a source_ref (one written
// on this instance) to the document's state, or reports it unchanged. Its
// source stays what it is.
func (s *Service) updateMatched(ctx context.Context, tx *dbx.Tx, actor audit.Actor, id string, in Input) (ImportOutcome, []string, error) {
	r, err := s.getRow(ctx, tx, id)
	if err != nil {
		return "", nil, err
	}
	if err := in.normalize(); err != nil {
		return "", nil, err
	}
	resolved, warnings, err := s.resolveTags(ctx, in.MitreTags, true)
	if err != nil {
		return "", nil, err
	}
	cur := r.template()
	tags, err := s.tagsFor(ctx, tx, []string{id})
	if err != nil {
		return "", nil, err
	}
	cur.MitreTags = tags[id]
	curIn := cur.input()
	curIn.normalize() //nolint:errcheck // stored data was valid
	newIn := in
	newIn.MitreTags = nil
	for _, t := range resolved {
		newIn.MitreTags = append(newIn.MitreTags, TagRef{Kind: t.kind, ExternalID: t.ext})
	}
	if sameInput(curIn, newIn) {
		return Unchanged, warnings, nil
	}
	p := in.params()
	now := s.nowTime()
	p["version"], p["updated_at"] = r.Version+1, now
	if _, err := tx.Update("test_templates", p, dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
		return "", nil, fmt.Errorf("templates: library: update: %w", err)
	}
	if err := writeTags(ctx, tx, now, id, resolved); err != nil {
		return "", nil, err
	}
	return Updated, warnings, audit.Record(ctx, tx, now, actor, audit.Event{Action: "test_template.import", ObjectType: "test_template",
		ObjectID: id, Details: map[string]any{"name": in.Name, "source": "library", "outcome": "updated", "changes": diff(curIn, newIn)}})
}

// LiveIDs lists the ids of every live test template and scenario template
// (a library bundle carries the whole library).
func (s *Service) LiveIDs(ctx context.Context) (templateIDs, scenarioIDs []string, err error) {
	if err = s.db.Read.NewQuery("SELECT id FROM test_templates WHERE deleted_at IS NULL ORDER BY id").WithContext(ctx).Column(&templateIDs); err != nil {
		return nil, nil, fmt.Errorf("templates: list ids: %w", err)
	}
	if err = s.db.Read.NewQuery("SELECT id FROM scenario_templates WHERE deleted_at IS NULL ORDER BY id").WithContext(ctx).Column(&scenarioIDs); err != nil {
		return nil, nil, fmt.Errorf("templates: list ids: %w", err)
	}
	return templateIDs, scenarioIDs, nil
}
