package missionbundle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/tally"
)

// anchorLevelID is the seeded "blocked" level: level writes lock its row
// first (as app/levels does), so concurrent renumberings queue.
const anchorLevelID = "00000000-0000-7000-8000-000000000101"

// write carries out the plan inside tx.
func (p *plan) write(ctx context.Context, tx *dbx.Tx, src bundle.SourceInfo, fingerprint string) error {
	now := p.now
	changed := p.report.Changed > 0 || len(p.conflicts) > 0 || len(p.syncs) > 0 || len(p.audit) > 0
	details := map[string]any{"source_instance_id": src.InstanceID, "source_instance_name": src.InstanceName,
		"fingerprint": fingerprint, "trusted": src.Trusted, "sync_seq": p.meta.SyncSeq, "changed": p.report.Changed,
		"conflicts": len(p.conflicts), "created": p.report.Mission.Action == "create" && p.missionAction == "create"}
	if !changed {
		return audit.Record(ctx, tx, now, p.c.Actor, audit.Event{Action: "bundle.import", ObjectType: "mission",
			ObjectID: p.meta.MissionID, Details: details})
	}
	seq, err := p.s.o.Identity.NextSeq(ctx, tx, now)
	if err != nil {
		return err
	}
	if err := p.writeUsers(ctx, tx); err != nil {
		return err
	}
	if err := p.writeLevels(ctx, tx); err != nil {
		return err
	}
	before, err := tally.MissionKey(ctx, tx, p.meta.MissionID)
	if err != nil {
		return err
	}
	if err := p.writeMission(ctx, tx); err != nil {
		return err
	}
	if err := p.writeMembers(ctx, tx); err != nil {
		return err
	}
	if err := p.writeCategories(ctx, tx); err != nil {
		return err
	}
	if err := p.writeScenarios(ctx, tx); err != nil {
		return err
	}
	if err := p.writeTests(ctx, tx); err != nil {
		return err
	}
	if err := p.writeEvidence(ctx, tx); err != nil {
		return err
	}
	if err := p.writeAudit(ctx, tx); err != nil {
		return err
	}
	if err := p.writeConflicts(ctx, tx, src); err != nil {
		return err
	}
	if err := p.writeSync(ctx, tx, seq); err != nil {
		return err
	}
	if err := retally(ctx, tx, p.meta.MissionID, before); err != nil {
		return err
	}
	details["local_seq"] = seq
	return audit.Record(ctx, tx, now, p.c.Actor, audit.Event{Action: "bundle.import", ObjectType: "mission",
		ObjectID: p.meta.MissionID, Details: details})
}

func (p *plan) writeUsers(ctx context.Context, tx *dbx.Tx) error {
	for _, u := range p.newUsers {
		name := strings.TrimSpace(u.Name)
		if name == "" {
			name = u.Email
		}
		// An inactive placeholder: no password, disabled. An administrator
		// invites the address (the invitation activates this account) or
		// sets a password.
		if _, err := tx.Insert("users", dbx.Params{"id": u.ID, "email": u.Email, "email_fold": db.Fold(u.Email),
			"name": name, "name_fold": db.Fold(name), "password_hash": "", "disabled": true, "must_change_password": false,
			"mfa_enabled": false, "recovery_codes": "[]", "failed_login_count": 0, "created_at": p.now, "updated_at": p.now}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("missionbundle: create user %s: %w", u.Email, err)
		}
		if err := audit.Record(ctx, tx, p.now, p.c.Actor, audit.Event{Action: "user.create", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"email": u.Email, "via": "bundle", "inactive": true, "mission_id": p.meta.MissionID}}); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) writeLevels(ctx context.Context, tx *dbx.Tx) error {
	if len(p.newLevels) == 0 {
		return nil
	}
	if err := p.s.o.DB.LockForUpdate(ctx, tx, "detection_levels", anchorLevelID); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for _, l := range p.newLevels {
		if _, err := tx.Insert("detection_levels", dbx.Params{"id": l.ID, "key": l.Key, "name": l.Name, "description": l.Description,
			"rank": l.Rank, "color": l.Color, "counts_as_detected": l.CountsAsDetected, "is_system": false,
			"created_at": p.now, "updated_at": p.now}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("missionbundle: create detection level %s: %w", l.Key, err)
		}
		if err := audit.Record(ctx, tx, p.now, p.c.Actor, audit.Event{Action: "detection_level.create", ObjectType: "detection_level",
			ObjectID: l.ID, Details: map[string]any{"key": l.Key, "name": l.Name, "via": "bundle"}}); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) writeMission(ctx context.Context, tx *dbx.Tx) error {
	m := p.mission
	params := dbx.Params{"name": m.Name, "name_fold": db.Fold(m.Name), "description": m.Description, "status": m.Status,
		"starts_on": m.StartsOn, "ends_on": m.EndsOn, "version": m.Version, "updated_at": m.UpdatedAt, "deleted_at": m.DeletedAt}
	switch p.missionAction {
	case "create":
		params["id"], params["created_by"], params["created_at"] = m.ID, p.userID(m.CreatedBy), m.CreatedAt
		_, err := tx.Insert("missions", params).WithContext(ctx).Execute()
		if err != nil {
			return fmt.Errorf("missionbundle: create mission: %w", err)
		}
	case "update":
		if _, err := tx.Update("missions", params, dbx.HashExp{"id": m.ID}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("missionbundle: update mission: %w", err)
		}
	}
	return nil
}

func (p *plan) writeMembers(ctx context.Context, tx *dbx.Tx) error {
	add := func(userID, role string) error {
		_, err := tx.Insert("mission_members", dbx.Params{"id": db.NewID(), "mission_id": p.meta.MissionID, "user_id": userID,
			"role": role, "created_at": p.now, "updated_at": p.now}).WithContext(ctx).Execute()
		if err != nil {
			return fmt.Errorf("missionbundle: add member: %w", err)
		}
		return nil
	}
	for _, m := range p.members {
		if err := add(*p.userID(&m.Email), m.Role); err != nil {
			return err
		}
	}
	if p.addImporter {
		return add(p.c.UserID, "lead")
	}
	return nil
}

func (p *plan) writeCategories(ctx context.Context, tx *dbx.Tx) error {
	for _, op := range p.cats {
		c := op.rec
		params := dbx.Params{"name": c.Name, "name_fold": db.Fold(c.Name), "color": c.Color, "position": c.Position,
			"updated_at": c.UpdatedAt, "deleted_at": c.DeletedAt}
		var err error
		if op.action == "create" {
			params["id"], params["mission_id"], params["created_at"] = c.ID, p.meta.MissionID, c.CreatedAt
			_, err = tx.Insert("mission_categories", params).WithContext(ctx).Execute()
		} else {
			_, err = tx.Update("mission_categories", params, dbx.HashExp{"id": c.ID}).WithContext(ctx).Execute()
		}
		if err != nil {
			return fmt.Errorf("missionbundle: save category %s: %w", c.ID, err)
		}
	}
	return nil
}

// existing returns the subset of ids present in table.
func existing(ctx context.Context, b dbx.Builder, table string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, chunk := range chunks(dedupe(ids)) {
		var found []string
		if err := b.NewQuery(`SELECT id FROM ` + table + ` WHERE id IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).Column(&found); err != nil {
			return nil, fmt.Errorf("missionbundle: look up %s: %w", table, err)
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

func (p *plan) writeScenarios(ctx context.Context, tx *dbx.Tx) error {
	var tplIDs []string
	for _, op := range p.scns {
		if op.rec.ScenarioTemplateID != nil {
			tplIDs = append(tplIDs, *op.rec.ScenarioTemplateID)
		}
	}
	tpls, err := existing(ctx, tx, "scenario_templates", tplIDs)
	if err != nil {
		return err
	}
	for _, op := range p.scns {
		s := op.rec
		params := dbx.Params{"name": s.Name, "description": s.Description, "position": s.Position, "updated_at": s.UpdatedAt,
			"deleted_at": s.DeletedAt}
		if op.action == "create" {
			var tpl any
			if s.ScenarioTemplateID != nil && tpls[*s.ScenarioTemplateID] {
				tpl = *s.ScenarioTemplateID // a template of the same id exists here; else the link is dropped
			}
			params["id"], params["mission_id"], params["scenario_template_id"], params["created_at"] = s.ID, p.meta.MissionID, tpl, s.CreatedAt
			_, err = tx.Insert("mission_scenarios", params).WithContext(ctx).Execute()
		} else {
			_, err = tx.Update("mission_scenarios", params, dbx.HashExp{"id": s.ID}).WithContext(ctx).Execute()
		}
		if err != nil {
			return fmt.Errorf("missionbundle: save scenario %s: %w", s.ID, err)
		}
	}
	return nil
}

var testInsertColumns = append([]string{"mission_id", "name_fold"}, testColumns...)

func (p *plan) writeTests(ctx context.Context, tx *dbx.Tx) error {
	var lv []struct {
		ID               string `db:"id"`
		Key              string `db:"key"`
		Rank             int    `db:"rank"`
		CountsAsDetected bool   `db:"counts_as_detected"`
	}
	if err := tx.NewQuery(`SELECT id, key, rank, counts_as_detected FROM detection_levels`).WithContext(ctx).All(&lv); err != nil {
		return fmt.Errorf("missionbundle: levels: %w", err)
	}
	type lvl struct {
		id     string
		rank   int
		counts bool
	}
	byKey := map[string]lvl{}
	for _, l := range lv {
		byKey[l.Key] = lvl{l.ID, l.Rank, l.CountsAsDetected}
	}
	// References that must exist here: categories and scenarios of the
	// mission, templates of the library.
	var tplIDs []string
	for _, op := range p.tests {
		if op.action == "create" && op.rec.TestTemplateID != nil {
			tplIDs = append(tplIDs, *op.rec.TestTemplateID)
		}
	}
	tpls, err := existing(ctx, tx, "test_templates", tplIDs)
	if err != nil {
		return err
	}
	var cats, scns []string
	if err := tx.NewQuery(`SELECT id FROM mission_categories WHERE mission_id = {:m}`).Bind(dbx.Params{"m": p.meta.MissionID}).
		WithContext(ctx).Column(&cats); err != nil {
		return err
	}
	if err := tx.NewQuery(`SELECT id FROM mission_scenarios WHERE mission_id = {:m}`).Bind(dbx.Params{"m": p.meta.MissionID}).
		WithContext(ctx).Column(&scns); err != nil {
		return err
	}
	hasCat, hasScn := map[string]bool{}, map[string]bool{}
	for _, c := range cats {
		hasCat[c] = true
	}
	for _, s := range scns {
		hasScn[s] = true
	}
	ref := func(id *string, ok map[string]bool) any {
		if id == nil || !ok[*id] {
			return nil
		}
		return *id
	}
	row := func(t Test, templateID any) []any {
		var outcomeLevel, detected any
		if len(t.Outcomes) > 0 {
			cs := make([]levels.Control, len(t.Outcomes))
			for i, o := range t.Outcomes {
				l := byKey[o.Level]
				cs[i] = levels.Control{LevelID: l.id, Rank: l.rank, CountsAsDetected: l.counts, LoggedAt: db.TimePtr(o.LoggedAt),
					AlertedAt: db.TimePtr(o.AlertedAt), PreventedAt: db.TimePtr(o.PreventedAt)}
			}
			d := levels.Derive(db.TimePtr(t.StartedAt), db.TimePtr(t.ExecutedAt), cs)
			if d.LevelID != "" {
				outcomeLevel = d.LevelID
			}
			if d.DetectedAt != nil {
				detected = db.NewTime(*d.DetectedAt)
			}
		}
		return []any{p.meta.MissionID, db.Fold(t.Name), t.ID, ref(t.MissionScenarioID, hasScn), templateID, ref(t.CategoryID, hasCat),
			t.Position, t.Name, t.Description, t.Objective, t.Executor, t.CommandTemplate, t.CleanupCommand, t.PrerequisitesExecutor,
			string(t.Prerequisites), string(t.InputArguments), string(t.ArgumentValues), t.ElevationRequired, string(t.Platforms), t.ExpectedDetection,
			t.OpsecLevel, t.State, t.SkipReason, p.userID(t.AssignedRed), p.userID(t.AssignedBlue), t.Operator, t.StartedAt,
			t.FinishedAt, t.SourceHost, t.SourceIP, t.TargetHost, t.TargetIP, t.Tool, t.UserContext, t.CommandRun, t.Output,
			t.ExecutionResult, t.RedNotes, t.ExecutedAt, t.BlueNotes, outcomeLevel, detected, t.AssessedAt, t.Version,
			t.CreatedAt, t.UpdatedAt, t.DeletedAt}
	}
	// Positions are unique per mission: tests that move go to temporary
	// negative positions first, so no intermediate state collides.
	tmp := -1
	for _, op := range p.tests {
		if op.action == "update" && op.local != nil && op.local.Position != op.rec.Position {
			if _, err := tx.Update("mission_tests", dbx.Params{"position": tmp}, dbx.HashExp{"id": op.rec.ID}).
				WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("missionbundle: move test: %w", err)
			}
			tmp--
		}
	}
	var creates [][]any
	var outcomes, tags [][]any
	for _, op := range p.tests {
		switch op.action {
		case "create":
			var tpl any
			if op.rec.TestTemplateID != nil && tpls[*op.rec.TestTemplateID] {
				tpl = *op.rec.TestTemplateID
			}
			creates = append(creates, row(op.rec, tpl))
		case "update":
			r := row(op.rec, nil)
			params := dbx.Params{}
			for i, col := range testInsertColumns {
				switch col {
				case "id", "mission_id", "test_template_id", "created_at":
					continue
				}
				params[col] = r[i]
			}
			if _, err := tx.Update("mission_tests", params, dbx.HashExp{"id": op.rec.ID}).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("missionbundle: update test %s: %w", op.rec.ID, err)
			}
		default:
			continue
		}
		if op.action == "create" || op.outcomesChanged {
			for _, o := range op.rec.Outcomes {
				outcomes = append(outcomes, []any{o.ID, op.rec.ID, o.Control, o.Expected, byKey[o.Level].id, o.LoggedAt, o.AlertedAt,
					o.PreventedAt, o.AlertName, o.Notes, p.userID(o.AssessedBy), o.CreatedAt, o.UpdatedAt})
			}
		}
		if op.action == "create" || op.tagsChanged {
			for _, t := range op.rec.Tags {
				tags = append(tags, []any{t.ID, op.rec.ID, t.Kind, t.ExternalID, t.Name, t.URL, t.CreatedAt})
			}
		}
	}
	if err := db.InsertRows(ctx, tx, "mission_tests", testInsertColumns, creates); err != nil {
		return fmt.Errorf("missionbundle: create tests: %w", err)
	}
	// Outcome and tag rows of updated tests are replaced wholesale (their
	// ids are kept by testFromObj).
	for _, op := range p.tests {
		if op.action != "update" {
			continue
		}
		if op.outcomesChanged {
			if _, err := tx.Delete("mission_test_outcomes", dbx.HashExp{"mission_test_id": op.rec.ID}).WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
		if op.tagsChanged {
			if _, err := tx.Delete("mission_test_mitre_tags", dbx.HashExp{"mission_test_id": op.rec.ID}).WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
	}
	if err := p.freshIDs(ctx, tx, "mission_test_outcomes", outcomes); err != nil {
		return err
	}
	if err := p.freshIDs(ctx, tx, "mission_test_mitre_tags", tags); err != nil {
		return err
	}
	if err := db.InsertRows(ctx, tx, "mission_test_outcomes", []string{"id", "mission_test_id", "control", "expected",
		"detection_level_id", "logged_at", "alerted_at", "prevented_at", "alert_name", "notes", "assessed_by", "created_at",
		"updated_at"}, outcomes); err != nil {
		return fmt.Errorf("missionbundle: create outcomes: %w", err)
	}
	if err := db.InsertRows(ctx, tx, "mission_test_mitre_tags", []string{"id", "mission_test_id", "kind", "external_id", "name",
		"url", "created_at"}, tags); err != nil {
		return fmt.Errorf("missionbundle: create tags: %w", err)
	}
	return nil
}

// freshIDs gives new ids to rows (first column) whose id is taken by a row
// of another test: outcome and tag ids are row identities, not meaning.
func (p *plan) freshIDs(ctx context.Context, tx *dbx.Tx, table string, rows [][]any) error {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r[0].(string)
	}
	taken, err := existing(ctx, tx, table, ids)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range rows {
		id := r[0].(string)
		if taken[id] || seen[id] {
			r[0] = db.NewID()
		}
		seen[r[0].(string)] = true
	}
	return nil
}

func (p *plan) writeEvidence(ctx context.Context, tx *dbx.Tx) error {
	var rows [][]any
	for _, op := range p.evidence {
		e := op.rec
		if op.action == "create" {
			if !p.hasContent(e.SHA256, e.Size) {
				return fmt.Errorf("missionbundle: the content of evidence %s is not in place", e.ID)
			}
			rows = append(rows, []any{e.ID, e.TestID, e.Side, e.OriginalFilename, e.ContentType, e.Size, e.SHA256, e.Caption,
				p.userID(e.UploadedBy), e.CreatedAt, e.UpdatedAt, e.DeletedAt})
			continue
		}
		if _, err := tx.Update("evidence_files", dbx.Params{"caption": e.Caption, "side": e.Side, "updated_at": e.UpdatedAt,
			"deleted_at": e.DeletedAt}, dbx.HashExp{"id": e.ID}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("missionbundle: update evidence %s: %w", e.ID, err)
		}
	}
	if err := db.InsertRows(ctx, tx, "evidence_files", []string{"id", "mission_test_id", "side", "original_filename",
		"content_type", "size", "sha256", "caption", "uploaded_by", "created_at", "updated_at", "deleted_at"}, rows); err != nil {
		return fmt.Errorf("missionbundle: create evidence: %w", err)
	}
	return nil
}

func (p *plan) writeAudit(ctx context.Context, tx *dbx.Tx) error {
	// Through audit.Copy: the copied events join this instance's hash chain.
	entries := make([]audit.Entry, len(p.audit))
	for i, a := range p.audit {
		entries[i] = audit.Entry{ID: a.ID, At: a.At, ActorUserID: p.userID(a.Actor), ActorLabel: a.ActorLabel, Action: a.Action,
			ObjectType: a.ObjectType, ObjectID: a.ObjectID, Details: db.JSON(canon(a.Details)), IP: a.IP, RequestID: a.RequestID}
	}
	if err := audit.Copy(ctx, tx, entries); err != nil {
		return fmt.Errorf("missionbundle: copy audit events: %w", err)
	}
	return nil
}

// writeConflicts records new conflicts; a field already in conflict gets
// the newer incoming value.
func (p *plan) writeConflicts(ctx context.Context, tx *dbx.Tx, src bundle.SourceInfo) error {
	for _, c := range p.conflicts {
		var id string
		err := tx.NewQuery(`SELECT id FROM bundle_conflicts WHERE object_type = {:t} AND object_id = {:o} AND field = {:f}
			AND resolved_at IS NULL`).Bind(dbx.Params{"t": c.ObjectType, "o": c.ObjectID, "f": c.Field}).WithContext(ctx).Row(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.Insert("bundle_conflicts", dbx.Params{"id": db.NewID(), "mission_id": p.meta.MissionID,
				"object_type": c.ObjectType, "object_id": c.ObjectID, "object_name": c.Name, "field": c.Field,
				"local_value": string(c.Local), "incoming_value": string(c.Incoming), "peer_instance_id": src.InstanceID,
				"peer_instance_name": src.InstanceName, "created_at": p.now, "updated_at": p.now}).WithContext(ctx).Execute()
		case err == nil:
			_, err = tx.Update("bundle_conflicts", dbx.Params{"local_value": string(c.Local), "incoming_value": string(c.Incoming),
				"peer_instance_id": src.InstanceID, "peer_instance_name": src.InstanceName, "object_name": c.Name,
				"updated_at": p.now}, dbx.HashExp{"id": id}).WithContext(ctx).Execute()
		}
		if err != nil {
			return fmt.Errorf("missionbundle: record conflict: %w", err)
		}
	}
	return nil
}

func (p *plan) writeSync(ctx context.Context, tx *dbx.Tx, seq int64) error {
	// Replace the rows of the objects recorded: delete, then insert in
	// multi-row statements (thousands of tests make one statement per row
	// the slowest part of an apply).
	byType := map[string][]any{}
	for _, s := range p.syncs {
		byType[s.typ] = append(byType[s.typ], s.id)
	}
	for typ, ids := range byType {
		for _, chunk := range chunks(ids) {
			params := bindList(chunk)
			params["peer"], params["typ"] = p.peer, typ
			if _, err := tx.NewQuery(`DELETE FROM bundle_sync_states WHERE peer_instance_id = {:peer} AND object_type = {:typ}
				AND object_id IN (` + placeholders(len(chunk)) + `)`).Bind(params).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("missionbundle: record sync state: %w", err)
			}
		}
	}
	rows := make([][]any, len(p.syncs))
	for i, s := range p.syncs {
		rows[i] = []any{db.NewID(), p.peer, p.meta.MissionID, s.typ, s.id, string(s.base.encode()), s.peerSeq, seq, p.now}
	}
	if err := db.InsertRows(ctx, tx, "bundle_sync_states", []string{"id", "peer_instance_id", "mission_id", "object_type",
		"object_id", "base", "peer_seq", "local_seq", "updated_at"}, rows); err != nil {
		return fmt.Errorf("missionbundle: record sync state: %w", err)
	}
	return nil
}

// retally brings the results aggregates (app/tally) of a mission in line
// after a bulk write: its own rows, and the organisation rows of the key it
// had before (status, start month) when that moved.
func retally(ctx context.Context, tx dbx.Builder, missionID string, before tally.Key) error {
	if err := tally.RefreshMission(ctx, tx, missionID); err != nil {
		return err
	}
	return tally.MissionMoved(ctx, tx, missionID, before)
}
