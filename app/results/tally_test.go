package results_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aggRow is one row of the results aggregates, as stored or as recomputed.
type aggRow struct {
	Mission, Key, Bucket string
	Tests                int
	First, Last          string
}

// storedAggregates reads both aggregate tables.
func storedAggregates(t *testing.T, e *env) (tech, month, org []aggRow) {
	t.Helper()
	var rows []struct {
		MissionID  string   `db:"mission_id"`
		ExternalID string   `db:"external_id"`
		Bucket     string   `db:"bucket"`
		Tests      int      `db:"tests"`
		First      *db.Time `db:"first_executed_at"`
		Last       *db.Time `db:"last_executed_at"`
	}
	require.NoError(t, e.db.Read.NewQuery(`SELECT mission_id, external_id, bucket, tests, first_executed_at, last_executed_at
		FROM result_technique_counts`).All(&rows))
	for _, r := range rows {
		tech = append(tech, aggRow{r.MissionID, r.ExternalID, r.Bucket, r.Tests, ts(r.First), ts(r.Last)})
	}
	var mrows []struct {
		MissionID string `db:"mission_id"`
		Month     string `db:"month"`
		Bucket    string `db:"bucket"`
		Tests     int    `db:"tests"`
	}
	require.NoError(t, e.db.Read.NewQuery(`SELECT mission_id, month, bucket, tests FROM result_month_counts`).All(&mrows))
	for _, r := range mrows {
		month = append(month, aggRow{Mission: r.MissionID, Key: r.Month, Bucket: r.Bucket, Tests: r.Tests})
	}
	var orows []struct {
		Status     string   `db:"status"`
		Month      string   `db:"month"`
		ExternalID string   `db:"external_id"`
		Bucket     string   `db:"bucket"`
		Tests      int      `db:"tests"`
		First      *db.Time `db:"first_executed_at"`
		Last       *db.Time `db:"last_executed_at"`
	}
	require.NoError(t, e.db.Read.NewQuery(`SELECT status, month, external_id, bucket, tests, first_executed_at, last_executed_at
		FROM result_org_counts`).All(&orows))
	for _, r := range orows {
		org = append(org, aggRow{r.Status + "/" + r.Month, r.ExternalID, r.Bucket, r.Tests, ts(r.First), ts(r.Last)})
	}
	sortAgg(tech)
	sortAgg(month)
	sortAgg(org)
	return tech, month, org
}

func ts(t *db.Time) string {
	if t == nil {
		return ""
	}
	return t.String()
}

func sortAgg(xs []aggRow) {
	sort.Slice(xs, func(i, j int) bool {
		a, b := xs[i], xs[j]
		if a.Mission != b.Mission {
			return a.Mission < b.Mission
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Bucket < b.Bucket
	})
}

// recomputedAggregates derives the aggregates from scratch from the mission
// tables, in Go, following docs/RESULTS.md.
func recomputedAggregates(t *testing.T, e *env) (tech, month, org []aggRow) {
	t.Helper()
	var tests []struct {
		ID         string   `db:"id"`
		MissionID  string   `db:"mission_id"`
		State      string   `db:"state"`
		Outcome    *string  `db:"outcome_level_id"`
		StartedAt  *db.Time `db:"started_at"`
		ExecutedAt *db.Time `db:"executed_at"`
	}
	require.NoError(t, e.db.Read.NewQuery(`SELECT id, mission_id, state, outcome_level_id, started_at, executed_at
		FROM mission_tests WHERE deleted_at IS NULL`).All(&tests))
	var tags []struct {
		TestID string `db:"mission_test_id"`
		Kind   string `db:"kind"`
		ID     string `db:"external_id"`
	}
	require.NoError(t, e.db.Read.NewQuery(`SELECT mission_test_id, kind, external_id FROM mission_test_mitre_tags`).All(&tags))
	type k struct{ m, key, b string }
	techAcc, monthAcc := map[k]*aggRow{}, map[k]*aggRow{}
	bucketOf := map[string]string{}
	startOf := map[string]string{}
	missionOf := map[string]string{}
	for _, tt := range tests {
		b := ""
		switch {
		case tt.State == "skipped":
			b = "skipped"
		case tt.State == "pending" || tt.State == "in_progress":
			b = "planned"
		case tt.Outcome == nil:
			b = "unassessed"
		default:
			b = *tt.Outcome
		}
		start := ""
		if tt.State == "executed" || tt.State == "assessed" {
			if tt.StartedAt != nil {
				start = tt.StartedAt.String()
			} else if tt.ExecutedAt != nil {
				start = tt.ExecutedAt.String()
			}
		}
		bucketOf[tt.ID], startOf[tt.ID], missionOf[tt.ID] = b, start, tt.MissionID
		month := ""
		if start != "" {
			month = start[:7]
		}
		key := k{tt.MissionID, month, b}
		if monthAcc[key] == nil {
			monthAcc[key] = &aggRow{Mission: tt.MissionID, Key: month, Bucket: b}
		}
		monthAcc[key].Tests++
	}
	for _, g := range tags {
		if g.Kind == "tactic" {
			continue
		}
		b, live := bucketOf[g.TestID]
		if !live {
			continue
		}
		key := k{missionOf[g.TestID], g.ID, b}
		r := techAcc[key]
		if r == nil {
			r = &aggRow{Mission: key.m, Key: g.ID, Bucket: b}
			techAcc[key] = r
		}
		r.Tests++
		if s := startOf[g.TestID]; s != "" {
			if r.First == "" || s < r.First {
				r.First = s
			}
			if s > r.Last {
				r.Last = s
			}
		}
	}
	for _, r := range techAcc {
		tech = append(tech, *r)
	}
	for _, r := range monthAcc {
		month = append(month, *r)
	}
	// Organisation rows: the technique rows of the live missions summed per
	// status and start month (starts_on, else the creation day).
	var ms []struct {
		ID        string   `db:"id"`
		Status    string   `db:"status"`
		StartsOn  *string  `db:"starts_on"`
		CreatedAt db.Time  `db:"created_at"`
		DeletedAt *db.Time `db:"deleted_at"`
	}
	require.NoError(t, e.db.Read.NewQuery(`SELECT id, status, starts_on, created_at, deleted_at FROM missions`).All(&ms))
	keyOf := map[string]string{}
	for _, m := range ms {
		if m.DeletedAt != nil {
			continue
		}
		month := m.CreatedAt.UTC().Format("2006-01")
		if m.StartsOn != nil {
			month = (*m.StartsOn)[:7]
		}
		keyOf[m.ID] = m.Status + "/" + month
	}
	orgAcc := map[k]*aggRow{}
	for _, r := range tech {
		key, live := keyOf[r.Mission]
		if !live {
			continue
		}
		kk := k{key, r.Key, r.Bucket}
		o := orgAcc[kk]
		if o == nil {
			o = &aggRow{Mission: key, Key: r.Key, Bucket: r.Bucket}
			orgAcc[kk] = o
		}
		o.Tests += r.Tests
		if r.First != "" && (o.First == "" || r.First < o.First) {
			o.First = r.First
		}
		if r.Last > o.Last {
			o.Last = r.Last
		}
	}
	for _, r := range orgAcc {
		org = append(org, *r)
	}
	sortAgg(tech)
	sortAgg(month)
	sortAgg(org)
	return tech, month, org
}

func requireAggregatesFresh(t *testing.T, e *env, step string) {
	t.Helper()
	st, sm, so := storedAggregates(t, e)
	rt, rm, ro := recomputedAggregates(t, e)
	require.Equal(t, rt, st, "technique aggregates after %s", step)
	require.Equal(t, rm, sm, "month aggregates after %s", step)
	require.Equal(t, ro, so, "organisation aggregates after %s", step)
}

// TestAggregatesEqualRecomputationAfterRandomWrites drives the real
// services with random writes (tests added ad hoc and by scenario,
// executed, assessed with random outcomes, outcomes cleared, states moved
// back, skipped, deleted, scenarios removed, detection levels reordered and
// re-flagged, the catalogue re-synced) and checks after each batch that the
// aggregates equal a recomputation from scratch.
func TestAggregatesEqualRecomputationAfterRandomWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(16, 42))
	pool := []string{"T1059", "T1059.001", "T1059.003", "T1003.001", "T1021.002", "T1547.001", "T1566.001", "T1112", "T1027", "TA0002", "TA0007"}
	levelKeys := []string{"blocked", "alerted", "logged", "none", "not_applicable", "tbd"}
	controls := []string{"EDR", "SIEM", "AV"}
	var lib []string
	for i := 0; i < 6; i++ {
		tpl, err := e.set.Templates.Create(e.ctx, e.lead.Actor, templates.Input{Name: fmt.Sprintf("lib %d", i),
			MitreTags: []templates.TagRef{{ExternalID: pool[i]}, {ExternalID: pool[(i+3)%len(pool)]}}})
		require.NoError(t, err)
		lib = append(lib, tpl.ID)
	}
	sc, err := e.set.Templates.CreateScenario(e.ctx, e.lead.Actor, templates.ScenarioInput{Name: "scn", TestTemplateIDs: lib})
	require.NoError(t, err)
	mids := []string{e.mission("Op A", ""), e.mission("Op B", ""), e.mission("Op C", "")}
	type live struct{ mission, id string }
	var tests []live
	var scenarios []live
	ops := 0
	buckets := map[string]bool{}
	assessed := 0
	for batch := 0; batch < 8; batch++ {
		for i := 0; i < 40; i++ {
			ops++
			e.clock.Add(time.Duration(rng.IntN(72)) * time.Hour) // spreads executions over months
			writable := func(mid string) {
				// Completed and archived missions are read-only: reopen.
				if m, err := e.set.Missions.Get(e.ctx, e.lead, mid); err == nil && missions.ReadOnly(m.Status) {
					if m.Status == "archived" {
						e.setStatus(mid, "completed")
					}
					e.setStatus(mid, "active")
				}
			}
			m := mids[rng.IntN(len(mids))]
			writable(m)
			switch op := rng.IntN(10); {
			case op < 2 || len(tests) == 0:
				var tags []string
				for _, id := range pool {
					if rng.IntN(4) == 0 {
						tags = append(tags, id)
					}
				}
				tests = append(tests, live{m, e.addTest(m, fmt.Sprintf("t%d", ops), tags...)})
			case op == 2 && rng.IntN(3) == 0:
				// The mission itself moves: status, start date, or (rarely) a new one.
				mid := mids[rng.IntN(len(mids))]
				m, err := e.set.Missions.Get(e.ctx, e.lead, mid)
				require.NoError(t, err)
				switch rng.IntN(3) {
				case 0:
					next := map[string]string{"planned": "active", "active": "completed", "completed": "archived", "archived": "completed"}[m.Status]
					e.setStatus(mid, next)
				case 1:
					writable(mid)
					day := e.clock.Now().AddDate(0, -rng.IntN(14), 0).Format("2006-01-02")
					_, err := e.set.Missions.Update(e.ctx, e.lead, mid, missions.MissionUpdate{StartsOn: patch.Value(day)})
					require.NoError(t, err)
				default:
					mids = append(mids, e.mission(fmt.Sprintf("Op %d", ops), ""))
				}
			case op == 3 && batch%3 == 0:
				res, err := e.set.Missions.InstantiateScenario(e.ctx, e.lead, m, sc.ID)
				require.NoError(t, err)
				scenarios = append(scenarios, live{m, res.Scenario.ID})
				for _, id := range res.TestIDs {
					tests = append(tests, live{m, id})
				}
			default:
				l := tests[rng.IntN(len(tests))]
				tt, err := e.set.Missions.GetTest(e.ctx, e.lead, l.mission, l.id)
				if err != nil {
					continue // deleted meanwhile
				}
				writable(l.mission)
				p := missions.TestPatch{}
				switch tt.State {
				case "pending", "in_progress":
					switch rng.IntN(5) {
					case 0:
						p.State = patch.Value("skipped")
						p.SkipReason = patch.Value("no lab")
					case 1, 2, 3:
						p.State = patch.Value("executed")
						p.StartedAt = patch.Value(db.NewTime(e.clock.Now().Add(-time.Duration(rng.IntN(600)) * time.Second)))
					default:
						p.State = patch.Value("in_progress")
						if tt.State == "in_progress" {
							p.State = patch.Value("pending")
						}
					}
				case "executed", "assessed":
					switch rng.IntN(7) {
					case 0:
						p.State = patch.Value("in_progress")
					case 1:
						ins := []missions.OutcomeInput{}
						for _, o := range tt.Outcomes {
							ins = append(ins, missions.OutcomeInput{Control: o.Control, DetectionLevel: patch.Null[string]()})
						}
						p.Outcomes = patch.Value(ins)
					case 2:
						if err := e.set.Missions.DeleteTest(e.ctx, e.lead, l.mission, l.id); err != nil {
							t.Fatal(err)
						}
						continue
					default:
						var ins []missions.OutcomeInput
						for _, c := range controls {
							if rng.IntN(2) == 0 {
								ins = append(ins, missions.OutcomeInput{Control: c, DetectionLevel: patch.Value(levelKeys[rng.IntN(len(levelKeys))])})
							}
						}
						p.Outcomes = patch.Value(ins)
					}
				case "skipped":
					p.State = patch.Value("pending")
				}
				after, err := e.set.Missions.PatchTest(e.ctx, e.lead, l.mission, l.id, p)
				if err != nil {
					t.Fatalf("op %d on %s (%s): %v", ops, l.id, tt.State, err)
				}
				if after.Outcome != nil {
					assessed++
				}
			}
		}
		requireAggregatesFresh(t, e, fmt.Sprintf("batch %d (%d ops)", batch, ops))
		st, _, _ := storedAggregates(t, e)
		for _, r := range st {
			buckets[r.Bucket] = true
		}
		switch batch {
		case 2:
			// Reordering the vocabulary re-derives outcomes (app/levels).
			ls, err := e.set.Levels.List(e.ctx)
			require.NoError(t, err)
			order := make([]string, len(ls))
			for i, l := range ls {
				order[len(ls)-1-i] = l.ID
			}
			_, err = e.set.Levels.Reorder(e.ctx, e.lead.Actor, order)
			require.NoError(t, err)
			requireAggregatesFresh(t, e, "a reorder")
		case 4:
			if len(scenarios) > 0 {
				s := scenarios[0]
				require.NoError(t, e.set.Missions.DeleteScenario(e.ctx, e.lead, s.mission, s.id))
				requireAggregatesFresh(t, e, "a scenario removal")
			}
			ls, err := e.set.Levels.List(e.ctx)
			require.NoError(t, err)
			for _, l := range ls {
				if l.Key == "logged" {
					_, err := e.set.Levels.Update(e.ctx, e.lead.Actor, l.ID, levels.UpdateParams{CountsAsDetected: patch.Value(false), Rank: patch.Value(1)})
					require.NoError(t, err)
				}
			}
			requireAggregatesFresh(t, e, "a level update")
		case 5:
			// A deleted mission leaves the organisation rows.
			require.NoError(t, e.set.Missions.Delete(e.ctx, e.lead, mids[0]))
			mids = mids[1:]
			requireAggregatesFresh(t, e, "a mission deletion")
		case 6:
			// A catalogue re-sync (another bundle, then back) changes nothing.
			before, beforeMonths, beforeOrg := storedAggregates(t, e)
			e.sync("enterprise-attack-small.json")
			e.sync("enterprise-attack-core.json.gz")
			after, afterMonths, afterOrg := storedAggregates(t, e)
			assert.Equal(t, before, after)
			assert.Equal(t, beforeMonths, afterMonths)
			assert.Equal(t, beforeOrg, afterOrg)
			requireAggregatesFresh(t, e, "a catalogue re-sync")
		}
	}
	assert.GreaterOrEqual(t, len(buckets), 8, "the walk reached many buckets: %v", buckets)
	assert.Greater(t, assessed, 40, "outcomes recorded")
}
