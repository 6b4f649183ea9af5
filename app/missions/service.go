package missions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/purplebook/purplebook/app/tally"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/purplebook/purplebook/app/text"
)

// Options are the service's dependencies.
type Options struct {
	DB        *db.DB
	Templates *templates.Service // tests are copied from templates and scenarios
	Mitre     *mitre.Service     // the board's tactic filter
	Levels    *levels.Service    // the detection-level vocabulary outcomes use
	Settings  *settings.Service  // the security controls tests are assessed against
	Notify    *notify.Service    // tells the other side about state changes
	Now       func() time.Time   // nil = time.Now
}

// Service is the missions capability.
type Service struct {
	db        *db.DB
	templates *templates.Service
	mitre     *mitre.Service
	levels    *levels.Service
	settings  *settings.Service
	notify    *notify.Service
	now       func() time.Time
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: o.DB, templates: o.Templates, mitre: o.Mitre, levels: o.Levels, settings: o.Settings,
		notify: o.Notify, now: o.Now}
}

// nowTime is the service clock's current time as the database keeps it.
func (s *Service) nowTime() db.Time { return db.NewTime(s.now()) }

func errNoMission() error { return apperr.New(apperr.ErrNotFound, "not_found", "No such mission.") }

// access is a caller's standing in one mission.
type access struct {
	mission missionRow
	role    string // member role, or "lead" for callers with mission.read_all who are not members
	member  bool
}

// load returns the mission if the caller may see it: members, or holders of
// mission.read_all. Others get 404, so existence does not leak.
func (s *Service) load(ctx context.Context, b dbx.Builder, c Caller, id string) (access, error) {
	var a access
	if !db.ValidID(id) {
		return a, errNoMission()
	}
	err := b.Select(missionColumns...).From("missions").Where(dbx.HashExp{"id": id, "deleted_at": nil}).WithContext(ctx).One(&a.mission)
	if errors.Is(err, sql.ErrNoRows) {
		return a, errNoMission()
	}
	if err != nil {
		return a, err
	}
	var role string
	err = b.Select("role").From("mission_members").Where(dbx.HashExp{"mission_id": id, "user_id": c.UserID}).WithContext(ctx).Row(&role)
	switch {
	case err == nil:
		a.role, a.member = role, true
	case errors.Is(err, sql.ErrNoRows):
		if !c.Can("mission.read_all") {
			return a, errNoMission()
		}
		a.role = RoleLead // global readers act as leads where their permissions allow
	default:
		return a, err
	}
	return a, nil
}

// need demands a permission and one of the roles.
func need(c Caller, a access, perm string, roles ...string) error {
	if !c.Can(perm) {
		return apperr.New(apperr.ErrForbidden, "forbidden", "You need the %q permission to do this.", perm).
			WithDetails(map[string]any{"permission": perm})
	}
	if !slices.Contains(roles, a.role) {
		return apperr.New(apperr.ErrForbidden, "role_required", "In this mission your role is %s; this needs %s.",
			orNone(a.role), strings.Join(roles, " or ")).WithDetails(map[string]any{"role": a.role, "roles": roles})
	}
	return nil
}

func orNone(r string) string {
	if r == "" {
		return "none"
	}
	return r
}

// planning loads a mission for a planning change: mission.update, the lead
// role, and a mission that is open (not completed or archived).
func (s *Service) planning(ctx context.Context, tx *dbx.Tx, c Caller, missionID string) (access, error) {
	a, err := s.load(ctx, tx, c, missionID)
	if err != nil {
		return a, err
	}
	if err := need(c, a, "mission.update", RoleLead); err != nil {
		return a, err
	}
	return a, writable(a)
}

// ReadOnly reports whether a mission in this status takes no changes:
// completed and archived missions are read-only until a lead reopens them
// (completed → active; archived → completed → active). Only status changes
// and deleting the mission remain possible.
func ReadOnly(status string) bool { return status == StatusCompleted || status == StatusArchived }

// writable refuses changes to read-only (completed or archived) missions:
// its tests, categories, scenarios, members and evidence included.
func writable(a access) error {
	if ReadOnly(a.mission.Status) {
		how := "a lead reopens it"
		if a.mission.Status == StatusArchived {
			how = "a lead unarchives and reopens it"
		}
		return apperr.New(apperr.ErrConflict, "mission_read_only", "This mission is %s and read-only until %s.", a.mission.Status, how).
			WithDetails(map[string]any{"status": a.mission.Status})
	}
	return nil
}

var reDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func checkDate(inv *apperr.Invalid, field string, v *string) {
	if v == nil || *v == "" {
		return
	}
	if !reDate.MatchString(*v) {
		inv.Add(field, "must be a date like 2026-03-31")
		return
	}
	if _, err := time.Parse("2006-01-02", *v); err != nil {
		inv.Add(field, "is not a valid date")
	}
}

// Create creates a mission; its creator becomes its lead.
func (s *Service) Create(ctx context.Context, c Caller, in MissionInput) (Mission, error) {
	var inv apperr.Invalid
	in.Name = strings.TrimSpace(in.Name)
	text.Check(&inv, "name", in.Name, 200, true)
	text.Check(&inv, "description", in.Description, 20_000, false)
	checkDate(&inv, "starts_on", in.StartsOn)
	checkDate(&inv, "ends_on", in.EndsOn)
	if in.StartsOn != nil && in.EndsOn != nil && *in.StartsOn != "" && *in.EndsOn != "" && *in.EndsOn < *in.StartsOn {
		inv.Add("ends_on", "must not be before the start date")
	}
	if err := inv.Err(); err != nil {
		return Mission{}, err
	}
	id := db.NewID()
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		p := dbx.Params{"id": id, "name": in.Name, "name_fold": db.Fold(in.Name), "description": in.Description,
			"status": StatusPlanned, "starts_on": nilIfEmpty(in.StartsOn), "ends_on": nilIfEmpty(in.EndsOn), "version": 1,
			"created_by": nilIfEmpty(&c.UserID), "created_at": now, "updated_at": now}
		if _, err := tx.Insert("missions", p).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("missions: create: %w", err)
		}
		if c.UserID != "" {
			if _, err := tx.Insert("mission_members", dbx.Params{"id": db.NewID(), "mission_id": id, "user_id": c.UserID,
				"role": RoleLead, "created_at": now, "updated_at": now}).WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.create", ObjectType: "mission", ObjectID: id,
			Details: map[string]any{"name": in.Name}})
	})
	if err != nil {
		return Mission{}, err
	}
	return s.Get(ctx, c, id)
}

// Get returns a visible mission with progress.
func (s *Service) Get(ctx context.Context, c Caller, id string) (Mission, error) {
	a, err := s.load(ctx, s.db.Read, c, id)
	if err != nil {
		return Mission{}, err
	}
	ms, err := s.withProgress(ctx, []missionRow{a.mission}, map[string]string{id: memberRole(a)})
	if err != nil {
		return Mission{}, err
	}
	return ms[0], nil
}

func memberRole(a access) string {
	if a.member {
		return a.role
	}
	return ""
}

// ListParams filter the mission list.
type ListParams struct {
	Status string
	Q      string
	db.PageParams
}

// List returns the missions the caller may see: their own, or all with
// mission.read_all.
func (s *Service) List(ctx context.Context, c Caller, p ListParams) (db.Page[Mission], error) {
	p.PageParams = p.PageParams.Normalize()
	conds := []dbx.Expression{dbx.NewExp("m.deleted_at IS NULL")}
	if !c.Can("mission.read_all") {
		conds = append(conds, dbx.NewExp("m.id IN (SELECT mission_id FROM mission_members WHERE user_id = {:uid})", dbx.Params{"uid": c.UserID}))
	}
	if p.Status != "" {
		if _, ok := transitions[p.Status]; !ok {
			return db.Page[Mission]{}, apperr.BadRequest("invalid_query", "status must be planned, active, completed or archived.").
				WithDetails(map[string]any{"status": "invalid"})
		}
		conds = append(conds, dbx.HashExp{"m.status": p.Status})
	}
	if q := db.Fold(p.Q); q != "" {
		conds = append(conds, dbx.NewExp(`m.name_fold LIKE {:q} ESCAPE '\'`, dbx.Params{"q": db.LikeContains(q)}))
	}
	where := dbx.And(conds...)
	var total int
	if err := s.db.Read.Select("COUNT(*)").From("missions m").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Mission]{}, err
	}
	cols := make([]string, len(missionColumns))
	for i, col := range missionColumns {
		cols[i] = "m." + col
	}
	var rows []missionRow
	if err := s.db.Read.Select(cols...).From("missions m").Where(where).
		OrderBy("m.updated_at DESC", "m.id DESC").Limit(int64(p.PerPage)).Offset(p.Offset()).WithContext(ctx).All(&rows); err != nil {
		return db.Page[Mission]{}, err
	}
	roles := map[string]string{}
	var mine []struct {
		MissionID string `db:"mission_id"`
		Role      string `db:"role"`
	}
	if err := s.db.Read.Select("mission_id", "role").From("mission_members").Where(dbx.HashExp{"user_id": c.UserID}).
		WithContext(ctx).All(&mine); err != nil {
		return db.Page[Mission]{}, err
	}
	for _, m := range mine {
		roles[m.MissionID] = m.Role
	}
	items, err := s.withProgress(ctx, rows, roles)
	if err != nil {
		return db.Page[Mission]{}, err
	}
	return db.NewPage(items, total, p.PageParams), nil
}

// Update patches a mission; status moves through the lifecycle.
func (s *Service) Update(ctx context.Context, c Caller, id string, up MissionUpdate) (Mission, error) {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		a, err := s.load(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if err := need(c, a, "mission.update", RoleLead); err != nil {
			return err
		}
		m := a.mission
		if v, ok := up.Version.Get(); ok && v != m.Version {
			return apperr.New(apperr.ErrConflict, "version_conflict", "Someone else changed this mission (version %d, you edited version %d). Reload and try again.",
				m.Version, v).WithDetails(map[string]any{"current_version": m.Version})
		}
		onlyStatus := !up.Name.Set && !up.Description.Set && !up.StartsOn.Set && !up.EndsOn.Set
		if !onlyStatus {
			if err := writable(a); err != nil {
				return err
			}
		}
		var inv apperr.Invalid
		name, desc, starts, ends, status := m.Name, m.Description, m.StartsOn, m.EndsOn, m.Status
		if up.Name.Set {
			name = strings.TrimSpace(up.Name.Or(""))
		}
		if up.Description.Set {
			desc = up.Description.Or("")
		}
		if up.StartsOn.Set {
			starts = nil
			if v, ok := up.StartsOn.Get(); ok && v != "" {
				starts = &v
			}
		}
		if up.EndsOn.Set {
			ends = nil
			if v, ok := up.EndsOn.Get(); ok && v != "" {
				ends = &v
			}
		}
		text.Check(&inv, "name", name, 200, true)
		text.Check(&inv, "description", desc, 20_000, false)
		checkDate(&inv, "starts_on", starts)
		checkDate(&inv, "ends_on", ends)
		if starts != nil && ends != nil && *ends < *starts {
			inv.Add("ends_on", "must not be before the start date")
		}
		if up.Status.Set {
			next := up.Status.Or("")
			if _, ok := transitions[next]; !ok {
				inv.Add("status", "must be planned, active, completed or archived")
			} else if next != m.Status && !slices.Contains(transitions[m.Status], next) {
				return apperr.New(apperr.ErrConflict, "invalid_transition", "A %s mission cannot become %s (allowed: %s).",
					m.Status, next, strings.Join(transitions[m.Status], ", ")).WithDetails(map[string]any{"status": m.Status, "allowed": transitions[m.Status]})
			}
			status = next
		}
		if err := inv.Err(); err != nil {
			return err
		}
		resultKey, err := tally.MissionKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Update("missions", dbx.Params{"name": name, "name_fold": db.Fold(name), "description": desc,
			"starts_on": nilIfEmpty(starts), "ends_on": nilIfEmpty(ends), "status": status, "version": m.Version + 1, "updated_at": now},
			dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		// The organisation-wide results count missions by status and start month.
		if err := tally.MissionMoved(ctx, tx, id, resultKey); err != nil {
			return err
		}
		details := map[string]any{}
		diffField := func(k string, before, after any) {
			if fmt.Sprint(before) != fmt.Sprint(after) {
				details[k] = map[string]any{"before": before, "after": after}
			}
		}
		diffField("name", m.Name, name)
		diffField("description", m.Description, desc)
		diffField("starts_on", deref(m.StartsOn), deref(starts))
		diffField("ends_on", deref(m.EndsOn), deref(ends))
		diffField("status", m.Status, status)
		if status == StatusCompleted && m.Status != StatusCompleted {
			// Completing with open tests is allowed (the SPA asks first);
			// the audit log keeps what was still open.
			open, err := openTests(ctx, tx, id)
			if err != nil {
				return err
			}
			details["open_tests"] = open
		}
		if status != m.Status {
			members, err := s.memberIDs(ctx, tx, id)
			if err != nil {
				return err
			}
			if err := s.notify.Create(ctx, tx, now, members, c.UserID, "mission.status_changed", with(map[string]any{
				"mission_id": id, "mission_name": name, "from": m.Status, "to": status}, c.by())); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.update", ObjectType: "mission", ObjectID: id, Details: details})
	})
	if err := s.changed(ctx, c, err, notify.Event{Kind: "mission.updated", MissionID: id}); err != nil {
		return Mission{}, err
	}
	return s.Get(ctx, c, id)
}

// Delete soft-deletes a mission.
func (s *Service) Delete(ctx context.Context, c Caller, id string) error {
	members, _ := s.memberIDs(ctx, s.db.Read, id) // after the delete they are gone from view
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		a, err := s.load(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if err := need(c, a, "mission.delete", RoleLead); err != nil {
			return err
		}
		resultKey, err := tally.MissionKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Update("missions", dbx.Params{"deleted_at": now, "updated_at": now, "version": a.mission.Version + 1},
			dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		if err := tally.MissionMoved(ctx, tx, id, resultKey); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.delete", ObjectType: "mission", ObjectID: id,
			Details: map[string]any{"name": a.mission.Name}})
	})
	if err == nil && s.notify != nil {
		s.notify.Publish(members, notify.Event{Kind: "mission.deleted", MissionID: id, ActorID: c.UserID})
	}
	return err
}

// ---------------------------------------------------------------------------
// Members

// Members lists a mission's members.
func (s *Service) Members(ctx context.Context, c Caller, id string) ([]Member, error) {
	if _, err := s.load(ctx, s.db.Read, c, id); err != nil {
		return nil, err
	}
	out := []Member{}
	err := s.db.Read.NewQuery(`SELECT mm.user_id, u.email, u.name, mm.role, mm.created_at FROM mission_members mm
		JOIN users u ON u.id = mm.user_id WHERE mm.mission_id = {:m} ORDER BY u.name_fold`).
		Bind(dbx.Params{"m": id}).WithContext(ctx).All(&out)
	return out, err
}

var roles = []string{RoleLead, RoleRed, RoleBlue, RoleViewer}

// SetMember adds a user with a role, or changes their role.
func (s *Service) SetMember(ctx context.Context, c Caller, missionID, userID, role string) (Member, error) {
	if !slices.Contains(roles, role) {
		return Member{}, &apperr.Invalid{Fields: map[string]string{"role": "must be lead, red, blue or viewer"}}
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		a, err := s.load(ctx, tx, c, missionID)
		if err != nil {
			return err
		}
		if err := need(c, a, "mission.manage_members", RoleLead); err != nil {
			return err
		}
		if err := writable(a); err != nil {
			return err
		}
		if !db.ValidID(userID) {
			return &apperr.Invalid{Fields: map[string]string{"user_id": "is not a user id"}}
		}
		var n int
		if err := tx.Select("COUNT(*)").From("users").Where(dbx.HashExp{"id": userID, "deleted_at": nil, "disabled": false}).
			WithContext(ctx).Row(&n); err != nil {
			return err
		}
		if n == 0 {
			return &apperr.Invalid{Fields: map[string]string{"user_id": "is not an active user"}}
		}
		var cur string
		err = tx.Select("role").From("mission_members").Where(dbx.HashExp{"mission_id": missionID, "user_id": userID}).WithContext(ctx).Row(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.Insert("mission_members", dbx.Params{"id": db.NewID(), "mission_id": missionID, "user_id": userID,
				"role": role, "created_at": now, "updated_at": now}).WithContext(ctx).Execute(); err != nil {
				return err
			}
			if err := s.notify.Create(ctx, tx, now, []string{userID}, c.UserID, "mission.member_added", with(map[string]any{
				"mission_id": missionID, "mission_name": a.mission.Name, "role": role}, c.by())); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if cur == RoleLead && role != RoleLead {
				if err := s.keepALead(ctx, tx, missionID, userID); err != nil {
					return err
				}
			}
			if _, err := tx.Update("mission_members", dbx.Params{"role": role, "updated_at": now},
				dbx.HashExp{"mission_id": missionID, "user_id": userID}).WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.member_set", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"user_id": userID, "role": map[string]any{"before": cur, "after": role}}})
	})
	if err := s.changed(ctx, c, err, notify.Event{Kind: "members.changed", MissionID: missionID}); err != nil {
		return Member{}, err
	}
	ms, err := s.Members(ctx, c, missionID)
	if err != nil {
		return Member{}, err
	}
	for _, m := range ms {
		if m.UserID == userID {
			return m, nil
		}
	}
	return Member{}, errNoMission()
}

// RemoveMember takes a user out of a mission.
func (s *Service) RemoveMember(ctx context.Context, c Caller, missionID, userID string) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		a, err := s.load(ctx, tx, c, missionID)
		if err != nil {
			return err
		}
		if err := need(c, a, "mission.manage_members", RoleLead); err != nil {
			return err
		}
		if err := writable(a); err != nil {
			return err
		}
		var cur string
		err = tx.Select("role").From("mission_members").Where(dbx.HashExp{"mission_id": missionID, "user_id": userID}).WithContext(ctx).Row(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.ErrNotFound, "not_found", "This user is not a member of the mission.")
		}
		if err != nil {
			return err
		}
		if cur == RoleLead {
			if err := s.keepALead(ctx, tx, missionID, userID); err != nil {
				return err
			}
		}
		if _, err := tx.Delete("mission_members", dbx.HashExp{"mission_id": missionID, "user_id": userID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.member_removed", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"user_id": userID, "role": cur}})
	})
	return s.changed(ctx, c, err, notify.Event{Kind: "members.changed", MissionID: missionID})
}

// ---------------------------------------------------------------------------
// Categories

// Categories lists a mission's live categories.
func (s *Service) Categories(ctx context.Context, c Caller, missionID string) ([]Category, error) {
	if _, err := s.load(ctx, s.db.Read, c, missionID); err != nil {
		return nil, err
	}
	out := []Category{}
	err := s.db.Read.Select("id", "name", "color", "position").From("mission_categories").
		Where(dbx.HashExp{"mission_id": missionID, "deleted_at": nil}).OrderBy("position", "name_fold").WithContext(ctx).All(&out)
	return out, err
}

var reColor = regexp.MustCompile(`^(#[0-9a-fA-F]{6})?$`)

// CategoryInput creates or patches a category.
type CategoryInput struct {
	Name     *string `json:"name"`
	Color    *string `json:"color"`
	Position *int    `json:"position"`
}

// SaveCategory creates (id "") or updates a category.
func (s *Service) SaveCategory(ctx context.Context, c Caller, missionID, id string, in CategoryInput) (Category, error) {
	var out Category
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		_, err := s.planning(ctx, tx, c, missionID)
		if err != nil {
			return err
		}
		cur := Category{}
		if id != "" {
			if !db.ValidID(id) {
				return apperr.New(apperr.ErrNotFound, "not_found", "No such category.")
			}
			err := tx.Select("id", "name", "color", "position").From("mission_categories").
				Where(dbx.HashExp{"id": id, "mission_id": missionID, "deleted_at": nil}).WithContext(ctx).One(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.New(apperr.ErrNotFound, "not_found", "No such category.")
			}
			if err != nil {
				return err
			}
		}
		if in.Name != nil {
			cur.Name = strings.TrimSpace(*in.Name)
		}
		if in.Color != nil {
			cur.Color = *in.Color
		}
		if in.Position != nil {
			cur.Position = *in.Position
		}
		var inv apperr.Invalid
		text.Check(&inv, "name", cur.Name, 100, true)
		if !reColor.MatchString(cur.Color) {
			inv.Add("color", "must be a colour like #7c3aed, or empty")
		}
		if cur.Position < 0 || cur.Position > 10_000 {
			inv.Add("position", "must be between 0 and 10000")
		}
		if err := inv.Err(); err != nil {
			return err
		}
		var clash int
		if err := tx.NewQuery(`SELECT COUNT(*) FROM mission_categories WHERE mission_id = {:m} AND name_fold = {:n} AND deleted_at IS NULL AND id <> {:id}`).
			Bind(dbx.Params{"m": missionID, "n": db.Fold(cur.Name), "id": id}).WithContext(ctx).Row(&clash); err != nil {
			return err
		}
		if clash > 0 {
			return apperr.New(apperr.ErrConflict, "name_taken", "This mission already has a category named %q.", cur.Name).
				WithDetails(map[string]any{"name": "is already in use"})
		}
		p := dbx.Params{"name": cur.Name, "name_fold": db.Fold(cur.Name), "color": cur.Color, "position": cur.Position, "updated_at": now}
		action := "mission.category_update"
		if id == "" {
			cur.ID = db.NewID()
			p["id"], p["mission_id"], p["created_at"] = cur.ID, missionID, now
			action = "mission.category_create"
			_, err = tx.Insert("mission_categories", p).WithContext(ctx).Execute()
		} else {
			_, err = tx.Update("mission_categories", p, dbx.HashExp{"id": id}).WithContext(ctx).Execute()
		}
		if err != nil {
			return err
		}
		out = cur
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: action, ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"category_id": cur.ID, "name": cur.Name}})
	})
	return out, s.changed(ctx, c, err, notify.Event{Kind: "categories.changed", MissionID: missionID})
}

// DeleteCategory soft-deletes a category; its tests become uncategorised.
func (s *Service) DeleteCategory(ctx context.Context, c Caller, missionID, id string) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := s.planning(ctx, tx, c, missionID); err != nil {
			return err
		}
		if !db.ValidID(id) {
			return apperr.New(apperr.ErrNotFound, "not_found", "No such category.")
		}
		res, err := tx.Update("mission_categories", dbx.Params{"deleted_at": now, "updated_at": now},
			dbx.HashExp{"id": id, "mission_id": missionID, "deleted_at": nil}).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.ErrNotFound, "not_found", "No such category.")
		}
		if _, err := tx.Update("mission_tests", dbx.Params{"category_id": nil}, dbx.HashExp{"category_id": id}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "mission.category_delete", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"category_id": id}})
	})
	return s.changed(ctx, c, err, notify.Event{Kind: "categories.changed", MissionID: missionID})
}
