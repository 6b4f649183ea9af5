package missionbundle

import (
	"context"
	"errors"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
)

// plan is what importing a bundle does, computed from the incoming
// documents and the local state read through one builder: the dry run
// reports it, the apply computes it again inside its transaction and
// writes it.
type plan struct {
	s      *Service
	b      dbx.Builder
	c      missions.Caller
	in     *docs
	meta   Meta
	local  *docs // nil: the mission is new here
	self   string
	peer   string
	blue   bool
	now    db.Time
	report *Report

	userIDs   map[string]string // folded e-mail → local user id ("" = none)
	newUsers  []newUser
	levelIDs  map[string]string // level key → local id
	newLevels []Level

	missionAction string // create | update | unchanged
	mission       Mission
	cats          []catOp
	catMap        map[string]string // incoming category id → local id (same name)
	scns          []scnOp
	tests         []testOp
	evidence      []evOp
	audit         []AuditEvent
	members       []Member
	addImporter   bool
	conflicts     []ConflictItem
	syncs         []syncOp
	localBases    map[key]SyncBase // our rows about the peer
	bundleBases   map[key]SyncBase // the bundle's rows about us
	hasContent    func(sum string, size int64) bool
	staged        func(sum string) bool
}

type newUser struct {
	ID    string
	Email string
	Name  string
}

type catOp struct {
	action string
	rec    Category
}

type scnOp struct {
	action string
	rec    Scenario
}

type testOp struct {
	action          string
	rec             Test
	local           *Test
	outcomesChanged bool
	tagsChanged     bool
}

type evOp struct {
	action string
	rec    Evidence
}

type syncOp struct {
	typ, id string
	base    obj
	peerSeq int64
}

type key struct{ typ, id string }

// buildPlan plans the import of the incoming documents in through b.
func (s *Service) buildPlan(ctx context.Context, b dbx.Builder, c missions.Caller, in *docs, meta Meta, src bundle.SourceInfo,
	choices []UserChoice, hasContent func(string, int64) bool, staged func(string) bool) (*plan, error) {
	local, err := load(ctx, b, meta.MissionID)
	if err != nil {
		return nil, err
	}
	p := &plan{s: s, b: b, c: c, in: in, meta: meta, local: local, self: s.o.Identity.ID(), peer: src.InstanceID,
		blue: meta.Options.Blue, now: s.now(), report: newReport(), catMap: map[string]string{},
		hasContent: hasContent, staged: staged}
	p.report.Mission = MissionInfo{ID: meta.MissionID, Name: in.Mission.Mission.Name, Exists: local != nil, Action: "create"}
	if local != nil {
		p.report.Mission.Action = "merge"
		if local.Mission.Mission.DeletedAt != nil {
			return nil, apperr.New(apperr.ErrConflict, "mission_deleted",
				"The mission %q was deleted on this instance, so this bundle cannot be merged into it.", local.Mission.Mission.Name)
		}
		if err := s.o.Missions.NeedLead(ctx, b, c, meta.MissionID); err != nil {
			if errors.Is(err, apperr.ErrNotFound) {
				return nil, apperr.New(apperr.ErrForbidden, "mission_not_lead",
					"This bundle updates the mission %q, which exists here; only its leads can import into it.", local.Mission.Mission.Name)
			}
			return nil, err
		}
	} else if !c.Can("mission.create") {
		return nil, forbidden("mission.create")
	}
	p.indexBases()
	if err := p.checkIDs(ctx); err != nil {
		return nil, err
	}
	if err := p.mapUsers(ctx, choices); err != nil {
		return nil, err
	}
	if err := p.mapLevels(ctx); err != nil {
		return nil, err
	}
	p.planMission()
	p.planCategories()
	p.planScenarios()
	if err := p.planTests(); err != nil {
		return nil, err
	}
	p.planPositions()
	p.planEvidence()
	if err := p.planAudit(ctx); err != nil {
		return nil, err
	}
	p.planMembers()
	if p.conflicts == nil {
		p.conflicts = []ConflictItem{}
	}
	p.report.Conflicts = p.conflicts
	for _, cf := range p.conflicts {
		p.tally(cf.ObjectType).Conflicts++
	}
	return p, nil
}

func (p *plan) tally(typ string) *Tally {
	switch typ {
	case ObjMission:
		return p.report.Objects["mission"]
	case ObjCategory:
		return p.report.Objects["categories"]
	case ObjScenario:
		return p.report.Objects["scenarios"]
	case ObjEvidence:
		return p.report.Objects["evidence"]
	}
	return p.report.Objects["tests"]
}

func group(typ string) string {
	switch typ {
	case ObjMission:
		return "mission"
	case ObjCategory:
		return "categories"
	case ObjScenario:
		return "scenarios"
	case ObjEvidence:
		return "evidence"
	}
	return "tests"
}

// checkIDs refuses a bundle whose new objects carry ids that belong to
// other missions here: ids are preserved, so they must be free.
func (p *plan) checkIDs(ctx context.Context) error {
	have := map[string]bool{}
	if p.local != nil {
		for _, c := range p.local.Mission.Categories {
			have[c.ID] = true
		}
		for _, s := range p.local.Mission.Scenarios {
			have[s.ID] = true
		}
		for _, t := range p.local.Tests {
			have[t.ID] = true
		}
		for _, e := range p.local.Evidence {
			have[e.ID] = true
		}
	}
	check := func(table string, ids []string) error {
		var fresh []any
		for _, id := range ids {
			if !have[id] {
				fresh = append(fresh, id)
			}
		}
		for _, chunk := range chunks(fresh) {
			var taken []string
			if err := p.b.NewQuery(`SELECT id FROM ` + table + ` WHERE id IN (` + placeholders(len(chunk)) + `)`).
				Bind(bindList(chunk)).WithContext(ctx).Column(&taken); err != nil {
				return fmt.Errorf("missionbundle: check ids: %w", err)
			}
			if len(taken) > 0 {
				return bundle.Invalid("bundle_id_conflict", "",
					"The bundle's %s %s already belongs to another mission here; it cannot be imported.", table, taken[0])
			}
		}
		return nil
	}
	if p.local == nil {
		if err := check("missions", []string{p.meta.MissionID}); err != nil {
			return err
		}
	}
	ids := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	in := p.in
	for _, t := range []struct {
		table string
		ids   []string
	}{
		{"mission_categories", ids(len(in.Mission.Categories), func(i int) string { return in.Mission.Categories[i].ID })},
		{"mission_scenarios", ids(len(in.Mission.Scenarios), func(i int) string { return in.Mission.Scenarios[i].ID })},
		{"mission_tests", ids(len(in.Tests), func(i int) string { return in.Tests[i].ID })},
		{"evidence_files", ids(len(in.Evidence), func(i int) string { return in.Evidence[i].ID })},
	} {
		if err := check(t.table, t.ids); err != nil {
			return err
		}
	}
	return nil
}

// mapUsers matches the bundle's users to local accounts by e-mail and
// applies the importer's choices for the others.
func (p *plan) mapUsers(ctx context.Context, choices []UserChoice) error {
	p.userIDs = map[string]string{}
	roles := map[string]string{}
	for _, m := range p.in.Mission.Members {
		roles[db.Fold(m.Email)] = m.Role
	}
	folds := make([]any, 0, len(p.in.Mission.Users))
	for _, u := range p.in.Mission.Users {
		folds = append(folds, db.Fold(u.Email))
	}
	found := map[string]string{}
	for _, chunk := range chunks(folds) {
		var rows []struct {
			ID   string `db:"id"`
			Fold string `db:"email_fold"`
		}
		if err := p.b.NewQuery(`SELECT id, email_fold FROM users WHERE deleted_at IS NULL AND email_fold IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).All(&rows); err != nil {
			return fmt.Errorf("missionbundle: match users: %w", err)
		}
		for _, r := range rows {
			found[r.Fold] = r.ID
		}
	}
	byEmail := map[string]UserChoice{}
	for _, ch := range choices {
		byEmail[db.Fold(ch.Email)] = ch
	}
	for _, u := range p.in.Mission.Users {
		f := db.Fold(u.Email)
		m := UserMapping{Email: u.Email, Name: u.Name, Role: roles[f]}
		if id, ok := found[f]; ok {
			m.Status, m.Action, m.UserID = "matched", "map", id
			p.userIDs[f] = id
			p.report.Users = append(p.report.Users, m)
			continue
		}
		m.Status, m.Action = "unknown", "create"
		if ch, ok := byEmail[f]; ok && ch.Action != "" {
			m.Action = ch.Action
		}
		switch m.Action {
		case "create":
			id := db.NewID()
			p.newUsers = append(p.newUsers, newUser{ID: id, Email: u.Email, Name: u.Name})
			p.userIDs[f] = id
			p.report.Objects["users"].Created++
			p.report.Changed++
		case "map":
			ch := byEmail[f]
			if !db.ValidID(ch.UserID) {
				return invalidChoice(u.Email, "map needs the user_id of an existing account")
			}
			var n int
			if err := p.b.Select("COUNT(*)").From("users").Where(dbx.HashExp{"id": ch.UserID, "deleted_at": nil}).
				WithContext(ctx).Row(&n); err != nil {
				return err
			}
			if n == 0 {
				return invalidChoice(u.Email, "no account has this user_id")
			}
			m.UserID = ch.UserID
			p.userIDs[f] = ch.UserID
		case "skip":
			p.userIDs[f] = ""
		default:
			return invalidChoice(u.Email, "action must be create, map or skip")
		}
		p.report.Users = append(p.report.Users, m)
	}
	return nil
}

// userID is the local account for an e-mail address (nil: none).
func (p *plan) userID(email *string) *string {
	if email == nil {
		return nil
	}
	id := p.userIDs[db.Fold(*email)]
	if id == "" {
		return nil
	}
	return &id
}

// mapLevels finds the bundle's detection levels here by key; missing ones
// are created after the existing ones.
func (p *plan) mapLevels(ctx context.Context) error {
	var have []struct {
		ID   string `db:"id"`
		Key  string `db:"key"`
		Rank int    `db:"rank"`
	}
	if err := p.b.NewQuery(`SELECT id, key, rank FROM detection_levels`).WithContext(ctx).All(&have); err != nil {
		return fmt.Errorf("missionbundle: levels: %w", err)
	}
	p.levelIDs = map[string]string{}
	ids := map[string]bool{}
	maxRank := 0
	for _, l := range have {
		p.levelIDs[l.Key] = l.ID
		ids[l.ID] = true
		maxRank = max(maxRank, l.Rank)
	}
	for _, l := range p.in.Mission.DetectionLevels {
		if _, ok := p.levelIDs[l.Key]; ok {
			continue
		}
		if ids[l.ID] {
			l.ID = db.NewID()
		}
		maxRank++
		l.Rank = maxRank
		p.newLevels = append(p.newLevels, l)
		p.levelIDs[l.Key] = l.ID
		ids[l.ID] = true
		p.report.Objects["detection_levels"].Created++
		p.report.Changed++
		p.report.Warnings = append(p.report.Warnings, fmt.Sprintf("The detection level %q (%s) does not exist here and will be added.", l.Name, l.Key))
	}
	return nil
}

// base is the last exchanged state of an object with the bundle's source:
// what we last received from it, or what it last received from us (sent
// back in its sync.json), whichever is newer on our sync clock.
func (p *plan) base(typ, id string) (obj, bool) {
	var best obj
	bestSeq := int64(-1)
	if sb, ok := p.localBases[key{typ, id}]; ok {
		best, bestSeq = obj(sb.Base), sb.localSeq
	}
	if sb, ok := p.bundleBases[key{typ, id}]; ok && sb.PeerSeq > bestSeq {
		best, bestSeq = obj(sb.Base), sb.PeerSeq
	}
	return best, bestSeq >= 0
}

func (p *plan) indexBases() {
	p.localBases, p.bundleBases = map[key]SyncBase{}, map[key]SyncBase{}
	if p.local != nil {
		for _, sb := range p.local.Sync {
			if sb.Peer == p.peer {
				p.localBases[key{sb.ObjectType, sb.ObjectID}] = sb
			}
		}
	}
	for _, sb := range p.in.Sync {
		if sb.Peer == p.self {
			p.bundleBases[key{sb.ObjectType, sb.ObjectID}] = sb
		}
	}
}
