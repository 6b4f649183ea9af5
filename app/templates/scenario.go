package templates

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
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// MaxScenarioTests bounds a scenario's list.
const MaxScenarioTests = 500

type scenarioRow struct {
	ID          string   `db:"id"`
	Name        string   `db:"name"`
	Description string   `db:"description"`
	Version     int      `db:"version"`
	CreatedBy   *string  `db:"created_by"`
	CreatedAt   db.Time  `db:"created_at"`
	UpdatedAt   db.Time  `db:"updated_at"`
	DeletedAt   *db.Time `db:"deleted_at"`
}

var scenarioColumns = []string{"id", "name", "description", "version", "created_by", "created_at", "updated_at", "deleted_at"}

func notFoundScenario() error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such scenario template.")
}

func (s *Service) getScenarioRow(ctx context.Context, b dbx.Builder, id string) (scenarioRow, error) {
	var r scenarioRow
	if !db.ValidID(id) {
		return r, notFoundScenario()
	}
	err := b.Select(scenarioColumns...).From("scenario_templates").Where(dbx.HashExp{"id": id}).WithContext(ctx).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFoundScenario()
	}
	return r, err
}

func validateScenario(in *ScenarioInput) error {
	var inv apperr.Invalid
	in.Name = strings.TrimSpace(in.Name)
	text.Check(&inv, "name", in.Name, maxName, true)
	text.Check(&inv, "description", in.Description, maxText, false)
	if len(in.TestTemplateIDs) > MaxScenarioTests {
		inv.Add("test_template_ids", fmt.Sprintf("must have at most %d entries", MaxScenarioTests))
	}
	return inv.Err()
}

// checkEntries makes sure every id names an existing, live template.
func (s *Service) checkEntries(ctx context.Context, b dbx.Builder, ids []string) error {
	var bad []string
	distinct := map[string]bool{}
	for _, id := range ids {
		if !db.ValidID(id) {
			bad = append(bad, fmt.Sprintf("%q is not an id", text.Truncate(id, 40)))
			continue
		}
		distinct[id] = true
	}
	if len(distinct) > 0 {
		in := make([]any, 0, len(distinct))
		for id := range distinct {
			in = append(in, id)
		}
		var live []string
		if err := b.Select("id").From("test_templates").Where(dbx.And(dbx.In("id", in...), dbx.NewExp("deleted_at IS NULL"))).
			WithContext(ctx).Column(&live); err != nil {
			return err
		}
		ok := map[string]bool{}
		for _, id := range live {
			ok[id] = true
		}
		for id := range distinct {
			if !ok[id] {
				bad = append(bad, "must be live test templates ("+id+" is not)")
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return &apperr.Invalid{Message: "Some test templates cannot be used: " + strings.Join(bad, "; ") + ".",
			Fields: map[string]string{"test_template_ids": strings.Join(bad, "; ")}}
	}
	return nil
}

// writeEntries replaces the scenario's ordered list: delete and re-insert in
// the caller's transaction, so UNIQUE(scenario_id, position) never sees two
// rows at one position and a failure leaves the old order.
func writeEntries(ctx context.Context, tx *dbx.Tx, now db.Time, scenarioID string, ids []string) error {
	if _, err := tx.Delete("scenario_template_tests", dbx.HashExp{"scenario_id": scenarioID}).WithContext(ctx).Execute(); err != nil {
		return err
	}
	for i, id := range ids {
		if _, err := tx.Insert("scenario_template_tests", dbx.Params{"id": db.NewID(), "scenario_id": scenarioID,
			"test_template_id": id, "position": i, "created_at": now}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("templates: scenario entry %d: %w", i, err)
		}
	}
	return nil
}

// CreateScenario adds a scenario template with its ordered tests.
func (s *Service) CreateScenario(ctx context.Context, actor audit.Actor, in ScenarioInput) (Scenario, error) {
	if err := validateScenario(&in); err != nil {
		return Scenario{}, err
	}
	id := db.NewID()
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		if err := s.insertScenario(ctx, tx, actor, id, in); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), actor, audit.Event{Action: "scenario_template.create", ObjectType: "scenario_template",
			ObjectID: id, Details: map[string]any{"name": in.Name, "test_template_ids": in.TestTemplateIDs}})
	})
	if err != nil {
		return Scenario{}, err
	}
	return s.GetScenario(ctx, id)
}

func (s *Service) insertScenario(ctx context.Context, tx *dbx.Tx, actor audit.Actor, id string, in ScenarioInput) error {
	if err := s.checkEntries(ctx, tx, in.TestTemplateIDs); err != nil {
		return err
	}
	now := s.nowTime()
	p := dbx.Params{"id": id, "name": in.Name, "name_fold": db.Fold(in.Name), "search_fold": db.Fold(in.Name + " " + in.Description),
		"description": in.Description, "version": 1, "created_at": now, "updated_at": now}
	if actor.UserID != "" {
		p["created_by"] = actor.UserID
	}
	if _, err := tx.Insert("scenario_templates", p).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("templates: insert scenario: %w", err)
	}
	return writeEntries(ctx, tx, now, id, in.TestTemplateIDs)
}

// GetScenario returns a scenario with its tests (deleted templates shown as
// deleted) and its derived coverage.
func (s *Service) GetScenario(ctx context.Context, id string) (Scenario, error) {
	r, err := s.getScenarioRow(ctx, s.db.Read, id)
	if err != nil {
		return Scenario{}, err
	}
	out, err := s.loadScenarios(ctx, []scenarioRow{r})
	if err != nil {
		return Scenario{}, err
	}
	return out[0], nil
}

// ScenarioListParams filter scenario lists.
type ScenarioListParams struct {
	Q       string
	Deleted bool
	db.PageParams
}

// ListScenarios lists scenario templates by name.
func (s *Service) ListScenarios(ctx context.Context, p ScenarioListParams) (db.Page[Scenario], error) {
	p.PageParams = p.PageParams.Normalize()
	conds := []dbx.Expression{dbx.NewExp("deleted_at IS NULL")}
	if p.Deleted {
		conds[0] = dbx.NewExp("deleted_at IS NOT NULL")
	}
	if q := db.Fold(p.Q); q != "" {
		conds = append(conds, dbx.NewExp(`search_fold LIKE {:q} ESCAPE '\'`, dbx.Params{"q": db.LikeContains(q)}))
	}
	where := dbx.And(conds...)
	var total int
	if err := s.db.Read.Select("COUNT(*)").From("scenario_templates").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Scenario]{}, err
	}
	var rows []scenarioRow
	if err := s.db.Read.Select(scenarioColumns...).From("scenario_templates").Where(where).OrderBy("name_fold", "id").
		Limit(int64(p.PerPage)).Offset(p.Offset()).WithContext(ctx).All(&rows); err != nil {
		return db.Page[Scenario]{}, err
	}
	items, err := s.loadScenarios(ctx, rows)
	if err != nil {
		return db.Page[Scenario]{}, err
	}
	return db.NewPage(items, total, p.PageParams), nil
}

type entryRow struct {
	ScenarioID     string   `db:"scenario_id"`
	Position       int      `db:"position"`
	TestTemplateID string   `db:"test_template_id"`
	Name           string   `db:"name"`
	OpsecLevel     string   `db:"opsec_level"`
	Platforms      db.JSON  `db:"platforms"`
	DeletedAt      *db.Time `db:"deleted_at"`
}

func (s *Service) loadScenarios(ctx context.Context, rows []scenarioRow) ([]Scenario, error) {
	out := make([]Scenario, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]any, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var entries []entryRow
	if err := s.db.Read.Select("e.scenario_id", "e.position", "e.test_template_id", "t.name", "t.opsec_level", "t.platforms", "t.deleted_at").
		From("scenario_template_tests e").InnerJoin("test_templates t", dbx.NewExp("t.id = e.test_template_id")).
		Where(dbx.In("e.scenario_id", ids...)).OrderBy("e.scenario_id", "e.position").WithContext(ctx).All(&entries); err != nil {
		return nil, fmt.Errorf("templates: scenario entries: %w", err)
	}
	tplSet := map[string]bool{}
	for _, e := range entries {
		tplSet[e.TestTemplateID] = true
	}
	tplIDs := make([]string, 0, len(tplSet))
	for id := range tplSet {
		tplIDs = append(tplIDs, id)
	}
	tags, err := s.tagsFor(ctx, s.db.Read, tplIDs)
	if err != nil {
		return nil, err
	}
	byScenario := map[string][]ScenarioTest{}
	for _, e := range entries {
		st := ScenarioTest{Position: e.Position, TestTemplateID: e.TestTemplateID, Name: e.Name, OpsecLevel: e.OpsecLevel,
			Deleted: e.DeletedAt != nil, MitreTags: orEmpty(tags[e.TestTemplateID]), Platforms: []string{}}
		_ = json.Unmarshal(e.Platforms, &st.Platforms)
		byScenario[e.ScenarioID] = append(byScenario[e.ScenarioID], st)
	}
	for i, r := range rows {
		tests := byScenario[r.ID]
		if tests == nil {
			tests = []ScenarioTest{}
		}
		cov, err := s.coverage(ctx, tests)
		if err != nil {
			return nil, err
		}
		out[i] = Scenario{ID: r.ID, Name: r.Name, Description: r.Description, Version: r.Version, Tests: tests,
			TestCount: len(tests), Coverage: cov, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, DeletedAt: r.DeletedAt}
	}
	return out, nil
}

// coverage derives the tactics and techniques a list of tests covers: a
// technique tag covers it and its tactics, a subtechnique tag its parent and
// the parent's tactics, a tactic tag the tactic. Deleted entries count not.
func (s *Service) coverage(ctx context.Context, tests []ScenarioTest) (Coverage, error) {
	tactics := map[string]*CoverageItem{}
	techniques := map[string]*CoverageItem{}
	bump := func(m map[string]*CoverageItem, ext, name string, seen map[string]bool) {
		if seen[ext] {
			return
		}
		seen[ext] = true
		it, ok := m[ext]
		if !ok {
			it = &CoverageItem{ExternalID: ext, Name: name}
			m[ext] = it
		}
		it.Tests++
	}
	for _, t := range tests {
		if t.Deleted {
			continue
		}
		seenTa, seenTe := map[string]bool{}, map[string]bool{}
		for _, tag := range t.MitreTags {
			switch tag.Kind {
			case "tactic":
				bump(tactics, tag.ExternalID, tag.Name, seenTa)
			case "technique", "subtechnique":
				v, err := s.mitre.Technique(ctx, tag.ExternalID)
				if err != nil {
					continue
				}
				tech := v
				if v.Parent != nil {
					bump(techniques, v.Parent.ExternalID, v.Parent.Name, seenTe)
				} else {
					bump(techniques, tech.ExternalID, tech.Name, seenTe)
				}
				for _, ta := range v.Tactics {
					bump(tactics, ta.ExternalID, ta.Name, seenTa)
				}
			}
		}
	}
	order := map[string]int{}
	if all, err := s.mitre.Tactics(ctx, true); err == nil {
		for _, t := range all {
			order[t.ExternalID] = t.Position
		}
	}
	cov := Coverage{Tactics: []CoverageItem{}, Techniques: []CoverageItem{}}
	for _, it := range tactics {
		cov.Tactics = append(cov.Tactics, *it)
	}
	sort.Slice(cov.Tactics, func(i, j int) bool { return order[cov.Tactics[i].ExternalID] < order[cov.Tactics[j].ExternalID] })
	for _, it := range techniques {
		cov.Techniques = append(cov.Techniques, *it)
	}
	sort.Slice(cov.Techniques, func(i, j int) bool { return cov.Techniques[i].ExternalID < cov.Techniques[j].ExternalID })
	return cov, nil
}

// UpdateScenario patches name and description.
func (s *Service) UpdateScenario(ctx context.Context, actor audit.Actor, id string, up ScenarioUpdate) (Scenario, error) {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		r, err := s.liveScenario(ctx, tx, id, up.Version)
		if err != nil {
			return err
		}
		in := ScenarioInput{Name: r.Name, Description: r.Description}
		if up.Name.Set {
			in.Name = up.Name.Or("")
		}
		if up.Description.Set {
			in.Description = up.Description.Or("")
		}
		if err := validateScenario(&in); err != nil {
			return err
		}
		now := s.nowTime()
		if _, err := tx.Update("scenario_templates", dbx.Params{"name": in.Name, "name_fold": db.Fold(in.Name),
			"search_fold": db.Fold(in.Name + " " + in.Description), "description": in.Description,
			"version": r.Version + 1, "updated_at": now}, dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		details := map[string]any{}
		if in.Name != r.Name {
			details["name"] = map[string]any{"before": r.Name, "after": in.Name}
		}
		if in.Description != r.Description {
			details["description"] = map[string]any{"before": r.Description, "after": in.Description}
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: "scenario_template.update", ObjectType: "scenario_template", ObjectID: id, Details: details})
	})
	if err != nil {
		return Scenario{}, err
	}
	return s.GetScenario(ctx, id)
}

func (s *Service) liveScenario(ctx context.Context, tx *dbx.Tx, id string, version interface{ Get() (int, bool) }) (scenarioRow, error) {
	r, err := s.getScenarioRow(ctx, tx, id)
	if err != nil {
		return r, err
	}
	if r.DeletedAt != nil {
		return r, apperr.New(apperr.ErrConflict, "deleted", "This scenario template is deleted; restore it first.")
	}
	if v, ok := version.Get(); ok && v != r.Version {
		return r, apperr.New(apperr.ErrConflict, "version_conflict",
			"Someone else changed this scenario (version %d, you edited version %d). Reload and try again.", r.Version, v).
			WithDetails(map[string]any{"current_version": r.Version})
	}
	return r, nil
}

// ReplaceTests replaces the ordered list atomically. The same template may
// appear at several positions; a failure leaves the old order intact.
func (s *Service) ReplaceTests(ctx context.Context, actor audit.Actor, id string, ids []string, version interface{ Get() (int, bool) }) (Scenario, error) {
	if ids == nil {
		ids = []string{}
	}
	if len(ids) > MaxScenarioTests {
		return Scenario{}, &apperr.Invalid{Fields: map[string]string{"test_template_ids": fmt.Sprintf("must have at most %d entries", MaxScenarioTests)}}
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		r, err := s.liveScenario(ctx, tx, id, version)
		if err != nil {
			return err
		}
		var before []string
		if err := tx.Select("test_template_id").From("scenario_template_tests").Where(dbx.HashExp{"scenario_id": id}).
			OrderBy("position").WithContext(ctx).Column(&before); err != nil {
			return err
		}
		// Entries that point at templates deleted since may stay where they
		// are; new entries must be live templates.
		kept := map[string]bool{}
		for _, b := range before {
			kept[b] = true
		}
		var fresh []string
		for _, x := range ids {
			if !kept[x] {
				fresh = append(fresh, x)
			}
		}
		if err := s.checkEntries(ctx, tx, fresh); err != nil {
			return err
		}
		now := s.nowTime()
		if err := writeEntries(ctx, tx, now, id, ids); err != nil {
			return err
		}
		if _, err := tx.Update("scenario_templates", dbx.Params{"version": r.Version + 1, "updated_at": now},
			dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: "scenario_template.reorder", ObjectType: "scenario_template", ObjectID: id,
			Details: map[string]any{"before": before, "after": ids}})
	})
	if err != nil {
		return Scenario{}, err
	}
	return s.GetScenario(ctx, id)
}

// DeleteScenario soft-deletes; RestoreScenario brings it back.
func (s *Service) DeleteScenario(ctx context.Context, actor audit.Actor, id string) error {
	return s.setScenarioDeleted(ctx, actor, id, true)
}

// RestoreScenario undoes DeleteScenario.
func (s *Service) RestoreScenario(ctx context.Context, actor audit.Actor, id string) (Scenario, error) {
	if err := s.setScenarioDeleted(ctx, actor, id, false); err != nil {
		return Scenario{}, err
	}
	return s.GetScenario(ctx, id)
}

func (s *Service) setScenarioDeleted(ctx context.Context, actor audit.Actor, id string, deleted bool) error {
	return s.db.Tx(ctx, func(tx *dbx.Tx) error {
		r, err := s.getScenarioRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if (r.DeletedAt != nil) == deleted {
			if deleted {
				return notFoundScenario()
			}
			return apperr.New(apperr.ErrConflict, "not_deleted", "This scenario template is not deleted.")
		}
		now := s.nowTime()
		var at any
		action := "scenario_template.restore"
		if deleted {
			at, action = now, "scenario_template.delete"
		}
		if _, err := tx.Update("scenario_templates", dbx.Params{"deleted_at": at, "updated_at": now, "version": r.Version + 1},
			dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: action, ObjectType: "scenario_template", ObjectID: id,
			Details: map[string]any{"name": r.Name}})
	})
}

// UpsertScenarioByRef creates the scenario with id ref, or updates it, in tx
// (library exchange keeps scenario ids across instances). Unchanged content
// is reported as such.
func (s *Service) UpsertScenarioByRef(ctx context.Context, tx *dbx.Tx, actor audit.Actor, ref string, in ScenarioInput) (string, ImportOutcome, error) {
	if !db.ValidID(ref) {
		return "", "", &apperr.Invalid{Fields: map[string]string{"origin_id": "must be a UUID"}}
	}
	if err := validateScenario(&in); err != nil {
		return "", "", err
	}
	r, err := s.getScenarioRow(ctx, tx, ref)
	if errors.Is(err, apperr.ErrNotFound) {
		if err := s.insertScenario(ctx, tx, actor, ref, in); err != nil {
			return "", "", err
		}
		return ref, Created, audit.Record(ctx, tx, s.nowTime(), actor, audit.Event{Action: "scenario_template.import", ObjectType: "scenario_template",
			ObjectID: ref, Details: map[string]any{"name": in.Name, "outcome": "created"}})
	}
	if err != nil {
		return "", "", err
	}
	var cur []string
	if err := tx.Select("test_template_id").From("scenario_template_tests").Where(dbx.HashExp{"scenario_id": ref}).
		OrderBy("position").WithContext(ctx).Column(&cur); err != nil {
		return "", "", err
	}
	if r.Name == in.Name && r.Description == in.Description && strings.Join(cur, ",") == strings.Join(in.TestTemplateIDs, ",") {
		return ref, Unchanged, nil
	}
	if err := s.checkEntries(ctx, tx, in.TestTemplateIDs); err != nil {
		return "", "", err
	}
	now := s.nowTime()
	if _, err := tx.Update("scenario_templates", dbx.Params{"name": in.Name, "name_fold": db.Fold(in.Name),
		"search_fold": db.Fold(in.Name + " " + in.Description), "description": in.Description,
		"version": r.Version + 1, "updated_at": now}, dbx.HashExp{"id": ref}).WithContext(ctx).Execute(); err != nil {
		return "", "", err
	}
	if err := writeEntries(ctx, tx, now, ref, in.TestTemplateIDs); err != nil {
		return "", "", err
	}
	return ref, Updated, audit.Record(ctx, tx, now, actor, audit.Event{Action: "scenario_template.import", ObjectType: "scenario_template",
		ObjectID: ref, Details: map[string]any{"name": in.Name, "outcome": "updated"}})
}
