package missionbundle

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
)

func clone(o obj) obj {
	out := make(obj, len(o))
	for k, v := range o {
		out[k] = v
	}
	return out
}

// merge3 merges one object that exists on both sides, field by field
// against the last exchanged state (base):
//   - equal on both sides: nothing to do;
//   - changed on one side only: that side wins (theirs is applied);
//   - changed on both sides differently, or no base known: a conflict,
//     the local value stays and the incoming one is recorded;
//   - deleted on one side and edited on the other: a conflict on
//     "deleted", never a silent delete (one-sided edits still apply).
//
// Blue fields are left alone when the bundle carries no blue data. It
// returns the merged object, the fields applied, and the fields compared.
func (p *plan) merge3(typ, id, name string, local, in obj) (obj, []string, []field) {
	base, hasBase := p.base(typ, id)
	fs := fieldsFor(typ, local, in, base)
	merged := clone(local)
	var applied []string
	baseVal := func(f field) (v []byte, ok bool) {
		if !hasBase {
			return nil, false
		}
		if x, ok := base[f.name]; ok {
			return x, true
		}
		if strings.HasPrefix(f.name, outcomePrefix) {
			return null, true // a control without an outcome then
		}
		return nil, false
	}
	inScope := func(f field) bool { return !f.blue || p.blue }
	conflict := func(f field) {
		p.conflicts = append(p.conflicts, ConflictItem{ObjectType: typ, ObjectID: id, Name: name, Field: f.name,
			Local: get(local, f), Incoming: get(in, f)})
	}
	// Deleted on one side, edited on the other.
	skipDeleted := false
	ld, id2 := !isNull(get(local, deletedField)), !isNull(get(in, deletedField))
	if ld != id2 {
		if bv, ok := baseVal(deletedField); ok && isNull(bv) {
			edited := func(side obj) bool {
				for _, f := range fs {
					if f.deleted || !inScope(f) {
						continue
					}
					if b, ok := baseVal(f); ok && !same(f, get(side, f), b) {
						return true
					}
				}
				return false
			}
			if (id2 && edited(local)) || (ld && edited(in)) {
				conflict(deletedField)
				skipDeleted = true
			}
		}
	}
	for _, f := range fs {
		if !inScope(f) || (f.deleted && skipDeleted) {
			continue
		}
		l, i := get(local, f), get(in, f)
		if same(f, l, i) {
			continue
		}
		b, ok := baseVal(f)
		switch {
		case !ok:
			conflict(f)
		case same(f, l, b):
			if err := set(merged, f, i); err != nil {
				conflict(f)
				continue
			}
			applied = append(applied, f.name)
		case same(f, i, b):
			// Changed here only: ours stays.
		default:
			conflict(f)
		}
	}
	return merged, applied, fs
}

// recordSync remembers what the peer sent for an object, to be the base of
// the next merge with it. Fields the bundle does not carry (blue data)
// keep their previous base, or take the merged value.
func (p *plan) recordSync(typ, id string, fs []field, in, merged obj) {
	old, hasOld := p.localBases[key{typ, id}]
	base := obj{}
	for _, f := range fs {
		v := get(in, f)
		if f.blue && !p.blue {
			v = get(merged, f)
			if hasOld {
				if x, ok := old.Base[f.name]; ok {
					v = x
				}
			}
		}
		if strings.HasPrefix(f.name, outcomePrefix) && isNull(v) {
			continue
		}
		base[f.name] = v
	}
	if hasOld && old.PeerSeq == p.meta.SyncSeq && bytes.Equal(obj(old.Base).encode(), base.encode()) {
		return // re-import of the same bundle: nothing new
	}
	p.syncs = append(p.syncs, syncOp{typ: typ, id: id, base: base, peerSeq: p.meta.SyncSeq})
}

func (p *plan) noteUpdate(typ, id, name string, applied []string) {
	p.report.change(group(typ), Change{ObjectType: typ, ObjectID: id, Name: name, Action: "update", Fields: applied})
}

func (p *plan) noteCreate(typ, id, name string) {
	p.report.change(group(typ), Change{ObjectType: typ, ObjectID: id, Name: name, Action: "create"})
}

func (p *plan) planMission() {
	in := p.in.Mission.Mission
	inObj := toObj(in)
	if p.local == nil {
		p.missionAction, p.mission = "create", in
		p.noteCreate(ObjMission, in.ID, in.Name)
		p.recordSync(ObjMission, in.ID, missionFields, inObj, inObj)
		return
	}
	lm := p.local.Mission.Mission
	merged, applied, fs := p.merge3(ObjMission, lm.ID, lm.Name, toObj(lm), inObj)
	p.recordSync(ObjMission, lm.ID, fs, inObj, merged)
	p.mission = lm
	if len(applied) == 0 {
		p.missionAction = "unchanged"
		p.report.Objects["mission"].Unchanged++
		return
	}
	_ = fromObj(merged, &p.mission)
	p.mission.Version, p.mission.UpdatedAt = lm.Version+1, p.now
	p.missionAction = "update"
	p.noteUpdate(ObjMission, lm.ID, lm.Name, applied)
}

func (p *plan) planCategories() {
	localCats := map[string]Category{}
	live := map[string]string{} // folded name → id, live categories after the merge
	if p.local != nil {
		for _, c := range p.local.Mission.Categories {
			localCats[c.ID] = c
			if c.DeletedAt == nil {
				live[db.Fold(c.Name)] = c.ID
			}
		}
	}
	for _, ic := range p.in.Mission.Categories {
		inObj := toObj(ic)
		lc, ok := localCats[ic.ID]
		if !ok {
			if other, clash := live[db.Fold(ic.Name)]; clash && ic.DeletedAt == nil {
				// Both sides made a category of this name: one category.
				p.catMap[ic.ID] = other
				p.report.Warnings = append(p.report.Warnings,
					fmt.Sprintf("The bundle's category %q joins the existing category of the same name.", ic.Name))
				continue
			}
			if ic.DeletedAt == nil {
				live[db.Fold(ic.Name)] = ic.ID
			}
			p.cats = append(p.cats, catOp{action: "create", rec: ic})
			p.noteCreate(ObjCategory, ic.ID, ic.Name)
			p.recordSync(ObjCategory, ic.ID, categoryFields, inObj, inObj)
			continue
		}
		lo := toObj(lc)
		merged, applied, fs := p.merge3(ObjCategory, lc.ID, lc.Name, lo, inObj)
		var rec Category
		_ = fromObj(merged, &rec)
		if rec.DeletedAt == nil {
			if other, clash := live[db.Fold(rec.Name)]; clash && other != lc.ID {
				// Taking theirs would give two live categories one name:
				// keep ours, let the lead decide.
				for _, f := range []field{categoryFields[0], deletedField} {
					if slices.Contains(applied, f.name) {
						_ = set(merged, f, get(lo, f))
						applied = slices.DeleteFunc(applied, func(n string) bool { return n == f.name })
						p.conflicts = append(p.conflicts, ConflictItem{ObjectType: ObjCategory, ObjectID: lc.ID, Name: lc.Name,
							Field: f.name, Local: get(lo, f), Incoming: get(inObj, f)})
					}
				}
				_ = fromObj(merged, &rec)
			}
		}
		if lc.DeletedAt == nil {
			delete(live, db.Fold(lc.Name))
		}
		if rec.DeletedAt == nil {
			live[db.Fold(rec.Name)] = rec.ID
		}
		p.recordSync(ObjCategory, lc.ID, fs, inObj, merged)
		if len(applied) == 0 {
			p.report.Objects["categories"].Unchanged++
			continue
		}
		rec.UpdatedAt = p.now
		p.cats = append(p.cats, catOp{action: "update", rec: rec})
		p.noteUpdate(ObjCategory, lc.ID, lc.Name, applied)
	}
}

func (p *plan) planScenarios() {
	localScn := map[string]Scenario{}
	if p.local != nil {
		for _, s := range p.local.Mission.Scenarios {
			localScn[s.ID] = s
		}
	}
	for _, is := range p.in.Mission.Scenarios {
		inObj := toObj(is)
		ls, ok := localScn[is.ID]
		if !ok {
			p.scns = append(p.scns, scnOp{action: "create", rec: is})
			p.noteCreate(ObjScenario, is.ID, is.Name)
			p.recordSync(ObjScenario, is.ID, scenarioFields, inObj, inObj)
			continue
		}
		merged, applied, fs := p.merge3(ObjScenario, ls.ID, ls.Name, toObj(ls), inObj)
		p.recordSync(ObjScenario, ls.ID, fs, inObj, merged)
		if len(applied) == 0 {
			p.report.Objects["scenarios"].Unchanged++
			continue
		}
		var rec Scenario
		_ = fromObj(merged, &rec)
		rec.UpdatedAt = p.now
		p.scns = append(p.scns, scnOp{action: "update", rec: rec})
		p.noteUpdate(ObjScenario, ls.ID, ls.Name, applied)
	}
}

func (p *plan) planTests() error {
	localTests := map[string]*Test{}
	if p.local != nil {
		for i := range p.local.Tests {
			localTests[p.local.Tests[i].ID] = &p.local.Tests[i]
		}
	}
	for i, it := range p.in.Tests {
		inObj := p.in.testObj(i)
		if it.CategoryID != nil {
			if to, ok := p.catMap[*it.CategoryID]; ok {
				it.CategoryID = &to
				inObj = clone(inObj)
				inObj["category_id"] = mustMarshal(to)
			}
		}
		lt, ok := localTests[it.ID]
		if !ok {
			p.tests = append(p.tests, testOp{action: "create", rec: it, outcomesChanged: true, tagsChanged: true})
			p.noteCreate(ObjTest, it.ID, it.Name)
			p.recordSync(ObjTest, it.ID, fieldsFor(ObjTest, inObj), inObj, inObj)
			continue
		}
		lo := testObj(*lt)
		merged, applied, fs := p.merge3(ObjTest, lt.ID, lt.Name, lo, inObj)
		p.recordSync(ObjTest, lt.ID, fs, inObj, merged)
		if len(applied) == 0 {
			p.tests = append(p.tests, testOp{action: "unchanged", rec: *lt, local: lt})
			continue
		}
		rec, err := testFromObj(merged, *lt, []Test{*lt, it}, p.now)
		if err != nil {
			return err
		}
		rec.Version, rec.UpdatedAt = lt.Version+1, p.now
		op := testOp{action: "update", rec: rec, local: lt}
		for _, f := range applied {
			if strings.HasPrefix(f, outcomePrefix) {
				op.outcomesChanged = true
			}
			if f == "mitre_tags" {
				op.tagsChanged = true
			}
		}
		p.tests = append(p.tests, op)
		p.noteUpdate(ObjTest, lt.ID, lt.Name, applied)
	}
	return nil
}

// planPositions keeps test positions unique per mission (deleted tests
// included): when merged positions collide, the test that did not move
// keeps its place and the others go to the end, in their order.
func (p *plan) planPositions() {
	inBundle := map[string]int{} // test id → index in p.tests
	for i, op := range p.tests {
		inBundle[op.rec.ID] = i
	}
	type slot struct {
		id    string
		pos   int
		moved bool // its position differs from the local one (or it is new)
	}
	var all []slot
	maxPos := -1
	if p.local != nil {
		for _, t := range p.local.Tests {
			if _, ok := inBundle[t.ID]; !ok {
				all = append(all, slot{id: t.ID, pos: t.Position})
			}
		}
	}
	for _, op := range p.tests {
		moved := op.local == nil || op.local.Position != op.rec.Position
		all = append(all, slot{id: op.rec.ID, pos: op.rec.Position, moved: moved})
	}
	for _, s := range all {
		maxPos = max(maxPos, s.pos)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].pos != all[j].pos {
			return all[i].pos < all[j].pos
		}
		if all[i].moved != all[j].moved {
			return !all[i].moved
		}
		return all[i].id < all[j].id
	})
	for i := 1; i < len(all); i++ {
		if all[i].pos != all[i-1].pos {
			continue
		}
		// all[i] collides with the test before it: it goes to the end.
		maxPos++
		idx, ok := inBundle[all[i].id]
		if !ok {
			continue // a local test sorted second only when both are local: cannot happen
		}
		op := &p.tests[idx]
		op.rec.Position = maxPos
		switch op.action {
		case "unchanged":
			op.action = "update"
			op.rec.Version, op.rec.UpdatedAt = op.local.Version+1, p.now
			p.noteUpdate(ObjTest, op.rec.ID, op.rec.Name, []string{"position"})
		case "update":
			if !slices.Contains(p.changeFields(op.rec.ID), "position") {
				p.addChangeField(op.rec.ID, "position")
			}
		}
	}
	for _, op := range p.tests {
		if op.action == "unchanged" {
			p.report.Objects["tests"].Unchanged++
		}
	}
}

func (p *plan) changeFields(id string) []string {
	for _, c := range p.report.Changes {
		if c.ObjectID == id {
			return c.Fields
		}
	}
	return nil
}

func (p *plan) addChangeField(id, f string) {
	for i := range p.report.Changes {
		if p.report.Changes[i].ObjectID == id {
			p.report.Changes[i].Fields = append(p.report.Changes[i].Fields, f)
		}
	}
}

func (p *plan) planEvidence() {
	localEv := map[string]Evidence{}
	testsHere := map[string]bool{}
	if p.local != nil {
		for _, e := range p.local.Evidence {
			localEv[e.ID] = e
		}
		for _, t := range p.local.Tests {
			testsHere[t.ID] = true
		}
	}
	for _, op := range p.tests {
		testsHere[op.rec.ID] = true
	}
	for _, ie := range p.in.Evidence {
		inObj := toObj(ie)
		le, ok := localEv[ie.ID]
		if ok {
			merged, applied, fs := p.merge3(ObjEvidence, le.ID, le.OriginalFilename, toObj(le), inObj)
			p.recordSync(ObjEvidence, le.ID, fs, inObj, merged)
			if len(applied) == 0 {
				p.report.Objects["evidence"].Unchanged++
				continue
			}
			var rec Evidence
			_ = fromObj(merged, &rec)
			rec.UpdatedAt = p.now
			p.evidence = append(p.evidence, evOp{action: "update", rec: rec})
			p.noteUpdate(ObjEvidence, le.ID, le.OriginalFilename, applied)
			continue
		}
		if ie.DeletedAt != nil {
			continue // deleted there and never here: nothing to unite
		}
		if !testsHere[ie.TestID] {
			continue
		}
		p.evidence = append(p.evidence, evOp{action: "create", rec: ie})
		p.noteCreate(ObjEvidence, ie.ID, ie.OriginalFilename)
		p.recordSync(ObjEvidence, ie.ID, evidenceFields, inObj, inObj)
	}
}

// planAudit adds the bundle's audit events this instance does not have.
func (p *plan) planAudit(ctx context.Context) error {
	have := map[string]bool{}
	if p.local != nil {
		for _, a := range p.local.Audit {
			have[a.ID] = true
		}
	}
	var fresh []any
	for _, a := range p.in.Audit {
		if !have[a.ID] {
			fresh = append(fresh, a.ID)
		}
	}
	for _, chunk := range chunks(fresh) {
		var taken []string
		if err := p.b.NewQuery(`SELECT id FROM audit_events WHERE id IN (` + placeholders(len(chunk)) + `)`).
			Bind(bindList(chunk)).WithContext(ctx).Column(&taken); err != nil {
			return fmt.Errorf("missionbundle: audit ids: %w", err)
		}
		for _, id := range taken {
			have[id] = true
		}
	}
	for _, a := range p.in.Audit {
		if have[a.ID] {
			continue
		}
		have[a.ID] = true
		p.audit = append(p.audit, a)
	}
	t := p.report.Objects["audit_events"]
	t.Created = len(p.audit)
	t.Unchanged = len(p.in.Audit) - len(p.audit)
	// New history is copied, but it is not a change of the engagement:
	// Changed counts the mission's data only.
	return nil
}

// planMembers adds the bundle's members who are not members here (local
// roles stay as they are), and the importer as lead of a new mission.
func (p *plan) planMembers() {
	here := map[string]bool{}
	if p.local != nil {
		for _, m := range p.local.Mission.Members {
			if id := p.userIDs[db.Fold(m.Email)]; id != "" {
				here[id] = true
			}
			here["email:"+db.Fold(m.Email)] = true
		}
	}
	for _, m := range p.in.Mission.Members {
		id := p.userID(&m.Email)
		if id == nil || here[*id] || here["email:"+db.Fold(m.Email)] {
			continue
		}
		here[*id] = true
		p.members = append(p.members, m)
		p.report.Objects["members"].Created++
		p.report.Changed++
	}
	if p.local == nil && p.c.UserID != "" && !here[p.c.UserID] {
		p.addImporter = true
	}
}

// checkBlobs verifies that every evidence file the plan creates has its
// content: staged from the bundle, or stored here already.
func (p *plan) checkBlobs(r *bundle.Reader) error {
	for _, op := range p.evidence {
		if op.action != "create" {
			continue
		}
		e, ok := r.Entry(BlobDir + op.rec.SHA256)
		switch {
		case ok && (e.Size != op.rec.Size || e.SHA256 != op.rec.SHA256):
			return bundle.Invalid("bundle_bad_document", e.Path, "The content of evidence %s does not match its metadata.", op.rec.ID)
		case !ok && !p.hasContent(op.rec.SHA256, op.rec.Size):
			return bundle.Invalid("bundle_missing_entry", BlobDir+op.rec.SHA256, "The bundle lacks the content of evidence %s.", op.rec.ID)
		}
	}
	return nil
}
