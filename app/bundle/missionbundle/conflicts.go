package missionbundle

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/tally"
)

// Conflict is a merge conflict as the conflicts screen shows it.
type Conflict struct {
	ID               string          `json:"id" db:"id"`
	MissionID        string          `json:"mission_id" db:"mission_id"`
	ObjectType       string          `json:"object_type" db:"object_type"`
	ObjectID         string          `json:"object_id" db:"object_id"`
	ObjectName       string          `json:"object_name" db:"object_name"`
	Field            string          `json:"field" db:"field"`
	Local            json.RawMessage `json:"local" db:"-"`
	Incoming         json.RawMessage `json:"incoming" db:"-"`
	LocalRaw         db.JSON         `json:"-" db:"local_value"`
	IncomingRaw      db.JSON         `json:"-" db:"incoming_value"`
	PeerInstanceID   string          `json:"peer_instance_id" db:"peer_instance_id"`
	PeerInstanceName string          `json:"peer_instance_name" db:"peer_instance_name"`
	CreatedAt        db.Time         `json:"created_at" db:"created_at"`
	UpdatedAt        db.Time         `json:"updated_at" db:"updated_at"`
	ResolvedAt       *db.Time        `json:"resolved_at" db:"resolved_at"`
	ResolvedBy       *string         `json:"resolved_by" db:"resolved_by"`
	Resolution       *string         `json:"resolution" db:"resolution"`
}

const conflictColumns = `id, mission_id, object_type, object_id, object_name, field, local_value, incoming_value,
	peer_instance_id, peer_instance_name, created_at, updated_at, resolved_at, resolved_by, resolution`

func (c *Conflict) fill() {
	c.Local, c.Incoming = canon(json.RawMessage(c.LocalRaw)), canon(json.RawMessage(c.IncomingRaw))
}

// Conflicts lists a mission's conflicts, open ones first (newest first),
// then the 100 most recently resolved. Members of the mission see them.
func (s *Service) Conflicts(ctx context.Context, c missions.Caller, missionID string) ([]Conflict, error) {
	if _, _, err := s.o.Missions.Access(ctx, s.o.DB.Read, c, missionID); err != nil {
		return nil, err
	}
	var open, done []Conflict
	if err := s.o.DB.Read.NewQuery(`SELECT ` + conflictColumns + ` FROM bundle_conflicts
		WHERE mission_id = {:m} AND resolved_at IS NULL ORDER BY created_at DESC, id`).Bind(dbx.Params{"m": missionID}).
		WithContext(ctx).All(&open); err != nil {
		return nil, fmt.Errorf("missionbundle: conflicts: %w", err)
	}
	if err := s.o.DB.Read.NewQuery(`SELECT ` + conflictColumns + ` FROM bundle_conflicts
		WHERE mission_id = {:m} AND resolved_at IS NOT NULL ORDER BY resolved_at DESC, id LIMIT 100`).Bind(dbx.Params{"m": missionID}).
		WithContext(ctx).All(&done); err != nil {
		return nil, fmt.Errorf("missionbundle: conflicts: %w", err)
	}
	out := append(open, done...)
	if out == nil {
		out = []Conflict{}
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// OpenConflicts counts a mission's open conflicts.
func (s *Service) OpenConflicts(ctx context.Context, missionID string) (int, error) {
	var n int
	err := s.o.DB.Read.NewQuery(`SELECT COUNT(*) FROM bundle_conflicts WHERE mission_id = {:m} AND resolved_at IS NULL`).
		Bind(dbx.Params{"m": missionID}).WithContext(ctx).Row(&n)
	return n, err
}

func errNoConflict() error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such conflict in this mission.")
}

// Resolve settles an open conflict: "mine" keeps the local value, "theirs"
// writes the incoming one (the object's version goes up). Leads only; the
// resolution is audited.
func (s *Service) Resolve(ctx context.Context, c missions.Caller, missionID, conflictID, choice string) (Conflict, error) {
	if choice != "mine" && choice != "theirs" {
		return Conflict{}, &apperr.Invalid{Fields: map[string]string{"choice": "must be mine or theirs"}}
	}
	if !db.ValidID(conflictID) {
		return Conflict{}, errNoConflict()
	}
	var out Conflict
	err := s.o.DB.Tx(ctx, func(tx *dbx.Tx) error {
		if err := s.o.Missions.NeedLead(ctx, tx, c, missionID); err != nil {
			return err
		}
		var cf Conflict
		err := tx.NewQuery(`SELECT ` + conflictColumns + ` FROM bundle_conflicts WHERE id = {:id} AND mission_id = {:m}`).
			Bind(dbx.Params{"id": conflictID, "m": missionID}).WithContext(ctx).One(&cf)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoConflict()
		}
		if err != nil {
			return err
		}
		cf.fill()
		if cf.ResolvedAt != nil {
			return apperr.New(apperr.ErrConflict, "conflict_resolved", "This conflict was resolved already (%s).", *cf.Resolution)
		}
		now := s.now()
		var current json.RawMessage
		if choice == "theirs" {
			before, err := tally.MissionKey(ctx, tx, missionID)
			if err != nil {
				return err
			}
			if current, err = s.takeTheirs(ctx, tx, c, missionID, cf, now); err != nil {
				return err
			}
			if err := retally(ctx, tx, missionID, before); err != nil {
				return err
			}
		}
		var by any
		if c.UserID != "" {
			by = c.UserID
		}
		if _, err := tx.Update("bundle_conflicts", dbx.Params{"resolved_at": now, "resolved_by": by, "resolution": choice,
			"updated_at": now}, dbx.HashExp{"id": cf.ID}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("missionbundle: resolve: %w", err)
		}
		chosen := cf.Local
		if choice == "theirs" {
			chosen = cf.Incoming
		}
		if err := audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "bundle.conflict_resolve", ObjectType: "mission",
			ObjectID: missionID, Details: map[string]any{"conflict_id": cf.ID, "object_type": cf.ObjectType, "object_id": cf.ObjectID,
				"object_name": cf.ObjectName, "field": cf.Field, "choice": choice, "value": json.RawMessage(chosen),
				"peer_instance_name": cf.PeerInstanceName}}); err != nil {
			return err
		}
		_ = current
		res := choice
		cf.ResolvedAt, cf.Resolution, cf.UpdatedAt = &now, &res, now
		if c.UserID != "" {
			cf.ResolvedBy = &c.UserID
		}
		out = cf
		return nil
	})
	return out, err
}

// takeTheirs writes a conflict's incoming value into its object.
func (s *Service) takeTheirs(ctx context.Context, tx *dbx.Tx, c missions.Caller, missionID string, cf Conflict, now db.Time) (json.RawMessage, error) {
	d, err := load(ctx, tx, missionID)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, apperr.New(apperr.ErrNotFound, "not_found", "No such mission.")
	}
	p := &plan{s: s, b: tx, c: c, in: &docs{}, local: d, self: s.o.Identity.ID(), now: now, report: newReport(),
		meta: Meta{MissionID: missionID}, hasContent: s.o.Evidence.HasContent, levelIDs: map[string]string{}}
	gone := apperr.New(apperr.ErrConflict, "object_gone", "The %s this conflict is about no longer exists.", cf.ObjectType)
	f := field{name: cf.Field}
	for _, spec := range fieldsFor(cf.ObjectType) {
		if spec.name == cf.Field {
			f = spec
		}
	}
	if _, ok := map[string]bool{ObjMission: true, ObjCategory: true, ObjScenario: true, ObjTest: true, ObjEvidence: true}[cf.ObjectType]; !ok {
		return nil, gone
	}
	// Users named by the value are mapped to local accounts by e-mail.
	if err := p.mapLocalUsers(ctx, cf.Incoming); err != nil {
		return nil, err
	}
	switch cf.ObjectType {
	case ObjMission:
		o := toObj(d.Mission.Mission)
		if err := set(o, f, cf.Incoming); err != nil {
			return nil, err
		}
		_ = fromObj(o, &p.mission)
		p.mission.Version, p.mission.UpdatedAt, p.missionAction = d.Mission.Mission.Version+1, now, "update"
		return cf.Incoming, p.writeMission(ctx, tx)
	case ObjCategory:
		for _, cat := range d.Mission.Categories {
			if cat.ID != cf.ObjectID {
				continue
			}
			o := toObj(cat)
			if err := set(o, f, cf.Incoming); err != nil {
				return nil, err
			}
			var rec Category
			_ = fromObj(o, &rec)
			if rec.DeletedAt == nil {
				for _, other := range d.Mission.Categories {
					if other.ID != rec.ID && other.DeletedAt == nil && db.Fold(other.Name) == db.Fold(rec.Name) {
						return nil, apperr.New(apperr.ErrConflict, "name_taken", "This mission already has a category named %q.", rec.Name)
					}
				}
			}
			rec.UpdatedAt = now
			p.cats = []catOp{{action: "update", rec: rec}}
			return cf.Incoming, p.writeCategories(ctx, tx)
		}
	case ObjScenario:
		for _, sc := range d.Mission.Scenarios {
			if sc.ID != cf.ObjectID {
				continue
			}
			o := toObj(sc)
			if err := set(o, f, cf.Incoming); err != nil {
				return nil, err
			}
			var rec Scenario
			_ = fromObj(o, &rec)
			rec.UpdatedAt = now
			p.scns = []scnOp{{action: "update", rec: rec}}
			return cf.Incoming, p.writeScenarios(ctx, tx)
		}
	case ObjTest:
		for i := range d.Tests {
			t := &d.Tests[i]
			if t.ID != cf.ObjectID {
				continue
			}
			o := testObj(*t)
			if err := set(o, f, cf.Incoming); err != nil {
				return nil, err
			}
			rec, err := testFromObj(o, *t, []Test{*t}, now)
			if err != nil {
				return nil, err
			}
			rec.Version, rec.UpdatedAt = t.Version+1, now
			if rec.Position != t.Position {
				for _, other := range d.Tests {
					if other.ID != t.ID && other.Position == rec.Position {
						return nil, apperr.New(apperr.ErrConflict, "position_taken",
							"Another test holds position %d now; reorder the tests instead.", rec.Position)
					}
				}
			}
			p.tests = []testOp{{action: "update", rec: rec, local: t, outcomesChanged: len(f.name) > len(outcomePrefix) &&
				f.name[:len(outcomePrefix)] == outcomePrefix, tagsChanged: f.name == "mitre_tags"}}
			if err := p.checkLevels(ctx, rec); err != nil {
				return nil, err
			}
			return cf.Incoming, p.writeTests(ctx, tx)
		}
	case ObjEvidence:
		for _, e := range d.Evidence {
			if e.ID != cf.ObjectID {
				continue
			}
			o := toObj(e)
			if err := set(o, f, cf.Incoming); err != nil {
				return nil, err
			}
			var rec Evidence
			_ = fromObj(o, &rec)
			rec.UpdatedAt = now
			p.evidence = []evOp{{action: "update", rec: rec}}
			return cf.Incoming, p.writeEvidence(ctx, tx)
		}
	}
	return nil, gone
}

// mapLocalUsers fills the plan's user map with the local accounts of every
// e-mail address in v (a field value).
func (p *plan) mapLocalUsers(ctx context.Context, v json.RawMessage) error {
	p.userIDs = map[string]string{}
	var emails []any
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case string:
			if reEmail.MatchString(t) {
				emails = append(emails, db.Fold(t))
			}
		case map[string]any:
			for _, y := range t {
				walk(y)
			}
		case []any:
			for _, y := range t {
				walk(y)
			}
		}
	}
	var x any
	_ = json.Unmarshal(v, &x)
	walk(x)
	for _, u := range p.local.Mission.Users {
		emails = append(emails, db.Fold(u.Email))
	}
	for _, chunk := range chunks(emails) {
		var rows []struct {
			ID   string `db:"id"`
			Fold string `db:"email_fold"`
		}
		if err := p.b.NewQuery(`SELECT id, email_fold FROM users WHERE deleted_at IS NULL AND email_fold IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).All(&rows); err != nil {
			return err
		}
		for _, r := range rows {
			p.userIDs[r.Fold] = r.ID
		}
	}
	return nil
}

// checkLevels refuses an outcome whose detection level does not exist here.
func (p *plan) checkLevels(ctx context.Context, t Test) error {
	for _, o := range t.Outcomes {
		var n int
		if err := p.b.Select("COUNT(*)").From("detection_levels").Where(dbx.HashExp{"key": o.Level}).WithContext(ctx).Row(&n); err != nil {
			return err
		}
		if n == 0 {
			return apperr.New(apperr.ErrConflict, "level_missing", "The detection level %q does not exist here any more.", o.Level)
		}
	}
	return nil
}
