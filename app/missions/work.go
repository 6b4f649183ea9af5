package missions

import (
	"context"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// Work is what waits for one user across their open (planned or active)
// missions: the missions with progress and, by role, the tests to act on.
//
//   - to_execute (red): pending or in-progress tests assigned to me as red,
//     or unassigned in a mission where I am red;
//   - to_assess (blue): executed tests assigned to me as blue, or unassigned
//     in a mission where I am blue;
//   - to_review (lead): assessed or skipped tests of missions I lead — the
//     results to look over before completing the mission.
//
// Tests assigned to me come first, then the most recently changed.
type Work struct {
	Missions  WorkMissions `json:"missions"`
	Roles     []string     `json:"roles"` // my roles across my open missions
	ToExecute WorkList     `json:"to_execute"`
	ToAssess  WorkList     `json:"to_assess"`
	ToReview  WorkList     `json:"to_review"`
}

// WorkMissions are my open missions, most recently active first.
type WorkMissions struct {
	Items []Mission `json:"items"`
	Total int       `json:"total"`
}

// WorkList is one list of tests waiting for me (the first WorkLimit).
type WorkList struct {
	Items []WorkItem `json:"items"`
	Total int        `json:"total"`
}

// WorkItem is a test waiting for me.
type WorkItem struct {
	TestID       string  `json:"test_id" db:"id"`
	TestName     string  `json:"test_name" db:"name"`
	State        string  `json:"state" db:"state"`
	MissionID    string  `json:"mission_id" db:"mission_id"`
	MissionName  string  `json:"mission_name" db:"mission_name"`
	Role         string  `json:"role" db:"role"` // my role in the mission
	AssignedToMe bool    `json:"assigned_to_me" db:"assigned_to_me"`
	Outcome      *Level  `json:"outcome" db:"-"`
	UpdatedAt    db.Time `json:"updated_at" db:"updated_at"`

	OutcomeLevelID *string `json:"-" db:"outcome_level_id"`
}

// WorkLimit bounds each list of Work.
const WorkLimit = 20

// Work gathers what waits for the caller.
func (s *Service) Work(ctx context.Context, c Caller) (Work, error) {
	w := Work{Missions: WorkMissions{Items: []Mission{}}, Roles: []string{}}
	open := dbx.NewExp("m.deleted_at IS NULL AND m.status IN ('planned', 'active')")
	mine := dbx.NewExp("m.id IN (SELECT mission_id FROM mission_members WHERE user_id = {:uid})", dbx.Params{"uid": c.UserID})
	if err := s.db.Read.Select("COUNT(*)").From("missions m").Where(dbx.And(open, mine)).WithContext(ctx).Row(&w.Missions.Total); err != nil {
		return w, fmt.Errorf("missions: work: %w", err)
	}
	var rows []missionRow
	if err := s.db.Read.Select(prefixed("m.", missionColumns)...).From("missions m").Where(dbx.And(open, mine)).
		OrderBy("m.updated_at DESC", "m.id DESC").Limit(WorkLimit).WithContext(ctx).All(&rows); err != nil {
		return w, fmt.Errorf("missions: work: %w", err)
	}
	var roles []struct {
		MissionID string `db:"mission_id"`
		Role      string `db:"role"`
	}
	if err := s.db.Read.NewQuery(`SELECT mm.mission_id, mm.role FROM mission_members mm JOIN missions m ON m.id = mm.mission_id
		WHERE mm.user_id = {:uid} AND m.deleted_at IS NULL AND m.status IN ('planned', 'active')`).
		Bind(dbx.Params{"uid": c.UserID}).WithContext(ctx).All(&roles); err != nil {
		return w, fmt.Errorf("missions: work: %w", err)
	}
	byMission, held := map[string]string{}, map[string]bool{}
	for _, r := range roles {
		byMission[r.MissionID] = r.Role
		held[r.Role] = true
	}
	for _, r := range []string{RoleLead, RoleRed, RoleBlue, RoleViewer} {
		if held[r] {
			w.Roles = append(w.Roles, r)
		}
	}
	ms, err := s.withProgress(ctx, rows, byMission)
	if err != nil {
		return w, err
	}
	w.Missions.Items = ms
	lv, err := s.levelsByID(ctx, s.db.Read)
	if err != nil {
		return w, err
	}
	for _, q := range []struct {
		dst   *WorkList
		where string
		mine  string // the assignment column that makes a test mine
	}{
		{&w.ToExecute, `t.state IN ('pending', 'in_progress') AND (t.assigned_red_user_id = {:uid} OR (t.assigned_red_user_id IS NULL AND mm.role = 'red'))`, "t.assigned_red_user_id"},
		{&w.ToAssess, `t.state = 'executed' AND (t.assigned_blue_user_id = {:uid} OR (t.assigned_blue_user_id IS NULL AND mm.role = 'blue'))`, "t.assigned_blue_user_id"},
		{&w.ToReview, `t.state IN ('assessed', 'skipped') AND mm.role = 'lead'`, "NULL"},
	} {
		from := `FROM mission_tests t
			JOIN missions m ON m.id = t.mission_id AND m.deleted_at IS NULL AND m.status IN ('planned', 'active')
			JOIN mission_members mm ON mm.mission_id = t.mission_id AND mm.user_id = {:uid}
			WHERE t.deleted_at IS NULL AND ` + q.where
		p := dbx.Params{"uid": c.UserID}
		if err := s.db.Read.NewQuery(`SELECT COUNT(*) ` + from).Bind(p).WithContext(ctx).Row(&q.dst.Total); err != nil {
			return w, fmt.Errorf("missions: work: %w", err)
		}
		q.dst.Items = []WorkItem{}
		mineExpr := `CASE WHEN ` + q.mine + ` = {:uid} THEN 1 ELSE 0 END`
		if err := s.db.Read.NewQuery(`SELECT t.id, t.name, t.state, t.mission_id, m.name AS mission_name, mm.role,
			` + mineExpr + ` AS assigned_to_me, t.outcome_level_id, t.updated_at ` + from + `
			ORDER BY ` + mineExpr + ` DESC, t.updated_at DESC, t.id LIMIT ` + fmt.Sprint(WorkLimit)).
			Bind(p).WithContext(ctx).All(&q.dst.Items); err != nil {
			return w, fmt.Errorf("missions: work: %w", err)
		}
		for i, it := range q.dst.Items {
			if it.OutcomeLevelID != nil {
				if l, ok := lv[*it.OutcomeLevelID]; ok {
					q.dst.Items[i].Outcome = &l
				}
			}
		}
	}
	return w, nil
}
