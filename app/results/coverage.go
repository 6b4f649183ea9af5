package results

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/tally"
)

// CoverageParams filter the organisation-wide view. The date range is by
// month: a mission is in it when it started in one of its months (its
// start: starts_on, else the day it was created).
type CoverageParams struct {
	From       string   `json:"from"` // YYYY-MM (a YYYY-MM-DD counts for its month), inclusive
	To         string   `json:"to"`   // YYYY-MM (likewise), inclusive
	Statuses   []string `json:"status"`
	MissionIDs []string `json:"mission_id"`
	Q          string   `json:"q"` // mission name contains

	missionRows bool // tests: sum per-mission rows even where the organisation rows answer
}

// MaxCoverageMissions bounds the missions one coverage request reads.
const MaxCoverageMissions = 5000

var reMonth = regexp.MustCompile(`^\d{4}-\d{2}(-\d{2})?$`)

func (p *CoverageParams) validate() error {
	var inv apperr.Invalid
	for _, f := range []struct {
		name string
		v    *string
	}{{"from", &p.From}, {"to", &p.To}} {
		if *f.v == "" {
			continue
		}
		layout := "2006-01"
		if len(*f.v) == 10 {
			layout = "2006-01-02"
		}
		if _, err := time.Parse(layout, *f.v); err != nil || !reMonth.MatchString(*f.v) {
			inv.Add(f.name, "must be a month like 2026-03 (or a date like 2026-03-31)")
			continue
		}
		*f.v = (*f.v)[:7]
	}
	if p.From != "" && p.To != "" && p.To < p.From {
		inv.Add("to", "must not be before from")
	}
	for _, st := range p.Statuses {
		switch st {
		case missions.StatusPlanned, missions.StatusActive, missions.StatusCompleted, missions.StatusArchived:
		default:
			inv.Add("status", "must be planned, active, completed or archived")
		}
	}
	if len(p.MissionIDs) > 500 {
		inv.Add("mission_id", "must name at most 500 missions")
	}
	for _, id := range p.MissionIDs {
		if !db.ValidID(id) {
			inv.Add("mission_id", "must be mission ids")
			break
		}
	}
	if len([]rune(p.Q)) > 200 {
		inv.Add("q", "must be at most 200 characters")
	}
	return inv.Err()
}

// CoverageMission is a mission included in the view.
type CoverageMission struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Status   string  `json:"status"`
	StartsOn *string `json:"starts_on"`
	EndsOn   *string `json:"ends_on"`
	Date     string  `json:"date"` // start of its period
	Result   Result  `json:"result"`
}

// TrendPoint is one month or one mission of the trends.
type TrendPoint struct {
	Key          string   `json:"key"` // YYYY-MM or a mission id
	Label        string   `json:"label"`
	Result       Result   `json:"result"`
	BlockedShare *float64 `json:"blocked_share"` // tests blocked / (detected + missed)
}

// Coverage is GET /coverage.
type Coverage struct {
	Filters     CoverageParams    `json:"filters"`
	GeneratedAt db.Time           `json:"generated_at"`
	Legend      Legend            `json:"legend"`
	Missions    []CoverageMission `json:"missions"`
	Summary     Result            `json:"summary"`
	Techniques  TechniqueCounts   `json:"techniques"`
	Matrix      *Matrix           `json:"matrix"`
	Trends      struct {
		Months   []TrendPoint `json:"months"`
		Missions []TrendPoint `json:"missions"`
	} `json:"trends"`
}

type coverageMissionRow struct {
	ID        string  `db:"id"`
	Name      string  `db:"name"`
	Status    string  `db:"status"`
	StartsOn  *string `db:"starts_on"`
	EndsOn    *string `db:"ends_on"`
	CreatedAt db.Time `db:"created_at"`
}

// start is the mission's start day: starts_on, else the day it was created.
func (r coverageMissionRow) start() string {
	if r.StartsOn != nil && *r.StartsOn != "" {
		return *r.StartsOn
	}
	return r.CreatedAt.UTC().Format("2006-01-02")
}

// visibleMissions lists the missions the caller may see that pass the
// filters, oldest first.
func (s *Service) visibleMissions(ctx context.Context, c missions.Caller, p CoverageParams) ([]coverageMissionRow, error) {
	conds := []dbx.Expression{dbx.NewExp("m.deleted_at IS NULL")}
	if !c.Can("mission.read_all") {
		conds = append(conds, dbx.NewExp("m.id IN (SELECT mission_id FROM mission_members WHERE user_id = {:uid})", dbx.Params{"uid": c.UserID}))
	}
	if len(p.Statuses) > 0 {
		vals := make([]any, len(p.Statuses))
		for i, st := range p.Statuses {
			vals[i] = st
		}
		conds = append(conds, dbx.In("m.status", vals...))
	}
	if len(p.MissionIDs) > 0 {
		vals := make([]any, len(p.MissionIDs))
		for i, id := range p.MissionIDs {
			vals[i] = id
		}
		conds = append(conds, dbx.In("m.id", vals...))
	}
	if q := db.Fold(strings.TrimSpace(p.Q)); q != "" {
		conds = append(conds, dbx.NewExp(`m.name_fold LIKE {:q} ESCAPE '\'`, dbx.Params{"q": db.LikeContains(q)}))
	}
	var rows []coverageMissionRow
	if err := s.db.Read.Select("m.id", "m.name", "m.status", "m.starts_on", "m.ends_on", "m.created_at").From("missions m").
		Where(dbx.And(conds...)).OrderBy("m.created_at", "m.id").Limit(MaxCoverageMissions + 1).WithContext(ctx).All(&rows); err != nil {
		return nil, fmt.Errorf("results: coverage missions: %w", err)
	}
	if len(rows) > MaxCoverageMissions {
		return nil, apperr.New(apperr.ErrUnprocessable, "too_many_missions",
			"More than %d missions match; narrow the filters (date range, status or names).", MaxCoverageMissions)
	}
	out := rows[:0]
	for _, r := range rows {
		month := r.start()[:7]
		if p.From != "" && month < p.From || p.To != "" && month > p.To {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start() < out[j].start() })
	return out, nil
}

type techniqueCountRow struct {
	ExternalID string   `db:"external_id"`
	Bucket     string   `db:"bucket"`
	Tests      int      `db:"tests"`
	FirstAt    *db.Time `db:"first_at"`
	LastAt     *db.Time `db:"last_at"`
}

type monthCountRow struct {
	MissionID string `db:"mission_id"`
	Month     string `db:"month"`
	Bucket    string `db:"bucket"`
	Tests     int    `db:"tests"`
}

// Coverage computes the organisation-wide coverage and trends over the
// missions the caller may see.
func (s *Service) Coverage(ctx context.Context, c missions.Caller, p CoverageParams) (*Coverage, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	ms, err := s.visibleMissions(ctx, c, p)
	if err != nil {
		return nil, err
	}
	ls, err := s.levels(ctx, s.db.Read)
	if err != nil {
		return nil, err
	}
	sc := NewScale(ls)
	cat, err := s.mitre.Matrix(ctx)
	if err != nil {
		return nil, err
	}
	if p.Statuses == nil {
		p.Statuses = []string{}
	}
	if p.MissionIDs == nil {
		p.MissionIDs = []string{}
	}
	out := &Coverage{Filters: p, GeneratedAt: db.NewTime(s.now()), Legend: sc.legend(), Missions: []CoverageMission{},
		Matrix: newMatrix(cat)}
	out.Trends.Months, out.Trends.Missions = []TrendPoint{}, []TrendPoint{}
	out.Techniques.ByState = map[string]int{}
	if len(ms) == 0 {
		out.Summary = sc.Result(Counts{})
		return out, nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	prm := dbx.Params{}
	in := placeholders("m", ids, prm)

	// Technique counts: callers who see every mission, filtering by status
	// and month only, read the organisation rows (a few thousand per month);
	// others sum the rows of their missions.
	var trows []techniqueCountRow
	if c.Can("mission.read_all") && len(p.MissionIDs) == 0 && strings.TrimSpace(p.Q) == "" && !p.missionRows {
		conds := []string{"1 = 1"}
		op := dbx.Params{}
		if len(p.Statuses) > 0 {
			conds = append(conds, "status IN ("+placeholders("st", p.Statuses, op)+")")
		}
		if p.From != "" {
			conds = append(conds, "month >= {:from}")
			op["from"] = p.From
		}
		if p.To != "" {
			conds = append(conds, "month <= {:to}")
			op["to"] = p.To
		}
		if err := s.db.Read.NewQuery(`SELECT external_id, bucket, SUM(tests) AS tests, MIN(first_executed_at) AS first_at,
			MAX(last_executed_at) AS last_at FROM result_org_counts WHERE ` + strings.Join(conds, " AND ") + `
			GROUP BY external_id, bucket`).Bind(op).WithContext(ctx).All(&trows); err != nil {
			return nil, fmt.Errorf("results: coverage techniques: %w", err)
		}
	} else if err := s.db.Read.NewQuery(`SELECT external_id, bucket, SUM(tests) AS tests, MIN(first_executed_at) AS first_at,
		MAX(last_executed_at) AS last_at FROM result_technique_counts WHERE mission_id IN (` + in + `)
		GROUP BY external_id, bucket`).Bind(prm).WithContext(ctx).All(&trows); err != nil {
		return nil, fmt.Errorf("results: coverage techniques: %w", err)
	}
	var mrows []monthCountRow
	if err := s.db.Read.NewQuery(`SELECT mission_id, month, bucket, tests FROM result_month_counts
		WHERE mission_id IN (` + in + `)`).Bind(prm).WithContext(ctx).All(&mrows); err != nil {
		return nil, fmt.Errorf("results: coverage months: %w", err)
	}

	// Missions, months, summary.
	perMission := map[string]Counts{}
	perMonth := map[string]Counts{}
	all := Counts{}
	for _, r := range mrows {
		if perMission[r.MissionID] == nil {
			perMission[r.MissionID] = Counts{}
		}
		perMission[r.MissionID].Add(r.Bucket, r.Tests)
		all.Add(r.Bucket, r.Tests)
		if r.Month != "" {
			if perMonth[r.Month] == nil {
				perMonth[r.Month] = Counts{}
			}
			perMonth[r.Month].Add(r.Bucket, r.Tests)
		}
	}
	out.Summary = sc.Result(all)
	for _, m := range ms {
		start := m.start()
		res := sc.Result(perMission[m.ID])
		out.Missions = append(out.Missions, CoverageMission{ID: m.ID, Name: m.Name, Status: m.Status, StartsOn: m.StartsOn,
			EndsOn: m.EndsOn, Date: start, Result: res})
		out.Trends.Missions = append(out.Trends.Missions, sc.trendPoint(m.ID, m.Name, res))
	}
	months := make([]string, 0, len(perMonth))
	for k := range perMonth {
		months = append(months, k)
	}
	sort.Strings(months)
	for _, k := range months {
		out.Trends.Months = append(out.Trends.Months, sc.trendPoint(k, monthLabel(k), sc.Result(perMonth[k])))
	}

	// Techniques: own counts per tagged id; parents add their sub-techniques'
	// counts (a test tagged with both counts for each tag).
	type acc struct {
		counts      Counts
		first, last *db.Time
		lastBucket  string
	}
	own := map[string]*acc{}
	for _, r := range trows {
		a := own[r.ExternalID]
		if a == nil {
			a = &acc{counts: Counts{}}
			own[r.ExternalID] = a
		}
		a.counts.Add(r.Bucket, r.Tests)
		if r.FirstAt != nil && (a.first == nil || r.FirstAt.Before(a.first.Time)) {
			a.first = r.FirstAt
		}
		if r.LastAt != nil && r.Bucket != tally.Planned && r.Bucket != tally.Skipped &&
			(a.last == nil || r.LastAt.After(a.last.Time) || r.LastAt.Equal(a.last.Time) && worse(sc, r.Bucket, a.lastBucket)) {
			a.last, a.lastBucket = r.LastAt, r.Bucket
		}
	}
	fam := map[string]*acc{}
	for id, a := range own {
		parent := id
		if e, ok := cat.Lookup(id); ok && e.Parent != "" {
			parent = e.Parent
		} else if pid, _, found := strings.Cut(id, "."); found {
			parent = pid
		}
		f := fam[parent]
		if f == nil {
			f = &acc{counts: Counts{}}
			fam[parent] = f
		}
		f.counts.Merge(a.counts)
		if a.first != nil && (f.first == nil || a.first.Before(f.first.Time)) {
			f.first = a.first
		}
		if a.last != nil && (f.last == nil || a.last.After(f.last.Time) || a.last.Equal(f.last.Time) && worse(sc, a.lastBucket, f.lastBucket)) {
			f.last, f.lastBucket = a.last, a.lastBucket
		}
	}
	keys := map[string]bool{}
	for id := range own {
		keys[id] = true
	}
	for id := range fam {
		keys[id] = true
	}
	for _, id := range sortedKeys(keys) {
		tr := TechniqueResult{Own: sc.Result(Counts{})}
		a := own[id]
		if a != nil {
			tr.Own = sc.Result(a.counts)
		}
		src := a
		if f := fam[id]; f != nil && (src == nil || !strings.Contains(id, ".")) {
			src = f
		}
		tr.Result = sc.Result(src.counts)
		tr.FirstTested, tr.LastTested = src.first, src.last
		if src.last != nil {
			st := sc.stateOf(src.lastBucket)
			tr.LastResult = &st
		}
		out.Matrix.Results[id] = tr
		out.Matrix.place(cat, id, "")
		if a != nil {
			out.Techniques.Tested++
			if tr.Own.Executed > 0 {
				out.Techniques.Executed++
			}
			if tr.Own.Missed > 0 {
				out.Techniques.Missed++
			}
			out.Techniques.ByState[tr.Own.State]++
		}
	}
	sort.Strings(out.Matrix.Other)
	return out, nil
}

// worse reports whether bucket a is a worse result than b.
func worse(sc *Scale, a, b string) bool {
	ca, la := sc.Classify(a)
	cb, lb := sc.Classify(b)
	if la != nil && lb != nil {
		if (ca == ClassMissed) != (cb == ClassMissed) {
			return ca == ClassMissed
		}
		return la.Rank > lb.Rank
	}
	return la != nil && lb == nil && ca == ClassMissed
}

// stateOf is the state a single bucket shows.
func (sc *Scale) stateOf(bucket string) string {
	return sc.Result(Counts{bucket: 1}).State
}

func (sc *Scale) trendPoint(key, label string, r Result) TrendPoint {
	tp := TrendPoint{Key: key, Label: label, Result: r}
	if scored := r.Detected + r.Missed; scored > 0 {
		tp.BlockedShare = share(r.Levels[keyBlocked], scored)
	}
	return tp
}

func monthLabel(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return t.Format("Jan 2006")
}
