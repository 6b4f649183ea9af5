package levels

import (
	"context"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/tally"
)

// refreshOutcomes recomputes the derived outcome cache of every mission test
// that has outcomes, after a change to the rank order or to
// counts_as_detected: outcome_level_id is the best-ranked level among the
// test's controls, detected_at the earliest logged/alerted/prevented time of
// a control whose level counts as detected. This is the rule
// app/missions applies on every outcome write (saveOutcomes); it is repeated
// here because the change comes from the vocabulary, not from a test. Only
// the cache changes: a test's version and updated_at stay, since nobody
// edited it. It returns the number of tests whose cache changed.
func refreshOutcomes(ctx context.Context, tx *dbx.Tx) (int, error) {
	type outcomeRow struct {
		TestID      string   `db:"mission_test_id"`
		LevelID     string   `db:"detection_level_id"`
		Rank        int      `db:"rank"`
		Counts      bool     `db:"counts_as_detected"`
		LoggedAt    *db.Time `db:"logged_at"`
		AlertedAt   *db.Time `db:"alerted_at"`
		PreventedAt *db.Time `db:"prevented_at"`
	}
	var rows []outcomeRow
	if err := tx.NewQuery(`SELECT o.mission_test_id, o.detection_level_id, l.rank, l.counts_as_detected,
		o.logged_at, o.alerted_at, o.prevented_at
		FROM mission_test_outcomes o JOIN detection_levels l ON l.id = o.detection_level_id`).
		WithContext(ctx).All(&rows); err != nil {
		return 0, fmt.Errorf("levels: read outcomes: %w", err)
	}
	type derived struct {
		level    string
		rank     int
		detected *db.Time
	}
	want := map[string]*derived{}
	for _, r := range rows {
		d := want[r.TestID]
		if d == nil {
			d = &derived{level: r.LevelID, rank: r.Rank}
			want[r.TestID] = d
		} else if r.Rank < d.rank {
			d.level, d.rank = r.LevelID, r.Rank
		}
		if r.Counts {
			for _, t := range []*db.Time{r.LoggedAt, r.AlertedAt, r.PreventedAt} {
				if t != nil && (d.detected == nil || t.Before(d.detected.Time)) {
					tt := *t
					d.detected = &tt
				}
			}
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	type testRow struct {
		ID         string   `db:"id"`
		MissionID  string   `db:"mission_id"`
		OutcomeID  *string  `db:"outcome_level_id"`
		DetectedAt *db.Time `db:"detected_at"`
	}
	var tests []testRow
	if err := tx.NewQuery(`SELECT id, mission_id, outcome_level_id, detected_at FROM mission_tests
		WHERE id IN (SELECT mission_test_id FROM mission_test_outcomes)`).WithContext(ctx).All(&tests); err != nil {
		return 0, fmt.Errorf("levels: read tests: %w", err)
	}
	changed := 0
	rederived := map[string][]string{} // mission → tests whose outcome level changed
	var missionOrder []string
	for _, t := range tests {
		d := want[t.ID]
		if d == nil {
			continue
		}
		if t.OutcomeID != nil && *t.OutcomeID == d.level && sameTime(t.DetectedAt, d.detected) {
			continue
		}
		var detected any
		if d.detected != nil {
			detected = *d.detected
		}
		if _, err := tx.Update("mission_tests", dbx.Params{"outcome_level_id": d.level, "detected_at": detected},
			dbx.HashExp{"id": t.ID}).WithContext(ctx).Execute(); err != nil {
			return 0, fmt.Errorf("levels: refresh outcome: %w", err)
		}
		changed++
		if t.OutcomeID == nil || *t.OutcomeID != d.level {
			if rederived[t.MissionID] == nil {
				missionOrder = append(missionOrder, t.MissionID)
			}
			rederived[t.MissionID] = append(rederived[t.MissionID], t.ID)
		}
	}
	// The results aggregates count tests per outcome level.
	for _, m := range missionOrder {
		if err := tally.TestsChanged(ctx, tx, m, rederived[m]...); err != nil {
			return 0, err
		}
	}
	return changed, nil
}

func sameTime(a, b *db.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b.Time)
}
