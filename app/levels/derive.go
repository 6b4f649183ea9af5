package levels

import (
	"context"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/tally"
)

// Control is one security control's recorded outcome for a test, as Derive
// reads it: its detection level (id, rank, whether it counts as detected)
// and the times blue recorded.
type Control struct {
	LevelID          string
	Rank             int // 1 is best
	CountsAsDetected bool
	LoggedAt         *time.Time
	AlertedAt        *time.Time
	PreventedAt      *time.Time
}

// Times are how long after the start of the execution something was
// logged, alerted on and prevented. A nil duration is unset: nothing of
// that kind was detected, or no start is known.
type Times struct {
	ToLog     *time.Duration
	ToAlert   *time.Duration
	ToPrevent *time.Duration
}

// Detected reports whether any of the times is set.
func (t Times) Detected() bool { return t.ToLog != nil || t.ToAlert != nil || t.ToPrevent != nil }

// Earliest is the smallest of the times set (nil when none is).
func (t Times) Earliest() *time.Duration {
	return minDuration(minDuration(t.ToLog, t.ToAlert), t.ToPrevent)
}

// Derived is what a test's per-control outcomes amount to.
type Derived struct {
	// LevelID is the best-ranked level among the controls ("" when no
	// control has an outcome): the test's outcome.
	LevelID string
	// DetectedAt is the earliest logged, alerted or prevented time of a
	// control whose level counts as detected (nil when none did).
	DetectedAt *time.Time
	// Start is the time the durations count from: the execution start
	// (started_at), or executed_at when no start is known (nil: neither).
	Start *time.Time
	// Controls holds each control's times, in the order given.
	Controls []Times
	// Overall holds, per kind, the minimum over the controls whose level
	// counts as detected.
	Overall Times
	// ToDetect is the smallest of Overall's times: how long the first
	// detection of any kind took.
	ToDetect *time.Duration
}

// Derive computes a test's outcome and detection times from its
// per-control outcomes. It is the one definition of them: missions applies
// it when blue records outcomes, this package when the level vocabulary
// changes, and reports use it for their figures. It is pure: it reads
// nothing but its arguments.
//
//   - The outcome is the best-ranked (lowest rank) level among the controls.
//   - Detection time (DetectedAt) is the earliest logged, alerted or
//     prevented time of a control whose level counts as detected.
//   - Times count from the execution start: startedAt, or executedAt when
//     no start is known; with neither, every duration is unset.
//   - Per control, time to log / alert / prevent is that control's
//     logged_at / alerted_at / prevented_at minus the start, set only when
//     the time is recorded and the control's level counts as detected. A
//     time before the start counts as 0: never negative.
//   - Overall, each of the three is the minimum over the controls;
//     ToDetect is the minimum of the three.
func Derive(startedAt, executedAt *time.Time, controls []Control) Derived {
	d := Derived{Start: startedAt, Controls: make([]Times, len(controls))}
	if d.Start == nil {
		d.Start = executedAt
	}
	best := 0
	for i, c := range controls {
		if d.LevelID == "" || c.Rank < best {
			d.LevelID, best = c.LevelID, c.Rank
		}
		if !c.CountsAsDetected {
			continue
		}
		for _, t := range []*time.Time{c.LoggedAt, c.AlertedAt, c.PreventedAt} {
			if t != nil && (d.DetectedAt == nil || t.Before(*d.DetectedAt)) {
				tt := *t
				d.DetectedAt = &tt
			}
		}
		if d.Start == nil {
			continue
		}
		ct := Times{ToLog: since(*d.Start, c.LoggedAt), ToAlert: since(*d.Start, c.AlertedAt), ToPrevent: since(*d.Start, c.PreventedAt)}
		d.Controls[i] = ct
		d.Overall.ToLog = minDuration(d.Overall.ToLog, ct.ToLog)
		d.Overall.ToAlert = minDuration(d.Overall.ToAlert, ct.ToAlert)
		d.Overall.ToPrevent = minDuration(d.Overall.ToPrevent, ct.ToPrevent)
	}
	d.ToDetect = d.Overall.Earliest()
	return d
}

// since is t − start, at least 0; nil when t is.
func since(start time.Time, t *time.Time) *time.Duration {
	if t == nil {
		return nil
	}
	v := max(t.Sub(start), 0)
	return &v
}

func minDuration(a, b *time.Duration) *time.Duration {
	switch {
	case a == nil:
		return b
	case b == nil || *a <= *b:
		return a
	}
	return b
}

// refreshOutcomes recomputes the derived outcome cache of every mission
// test that has outcomes (outcome_level_id, detected_at: see Derive), after
// a change to the rank order or to counts_as_detected. app/missions writes
// the same cache on every outcome write; this runs here because the change
// comes from the vocabulary, not from a test. Only the cache changes: a
// test's version and updated_at stay, since nobody edited it. It returns
// the number of tests whose cache changed.
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
	controls := map[string][]Control{}
	for _, r := range rows {
		controls[r.TestID] = append(controls[r.TestID], Control{LevelID: r.LevelID, Rank: r.Rank, CountsAsDetected: r.Counts,
			LoggedAt: db.TimePtr(r.LoggedAt), AlertedAt: db.TimePtr(r.AlertedAt), PreventedAt: db.TimePtr(r.PreventedAt)})
	}
	if len(controls) == 0 {
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
		cs, ok := controls[t.ID]
		if !ok {
			continue
		}
		d := Derive(nil, nil, cs)
		if t.OutcomeID != nil && *t.OutcomeID == d.LevelID && sameTime(db.TimePtr(t.DetectedAt), d.DetectedAt) {
			continue
		}
		var detected any
		if d.DetectedAt != nil {
			detected = db.NewTime(*d.DetectedAt)
		}
		if _, err := tx.Update("mission_tests", dbx.Params{"outcome_level_id": d.LevelID, "detected_at": detected},
			dbx.HashExp{"id": t.ID}).WithContext(ctx).Execute(); err != nil {
			return 0, fmt.Errorf("levels: refresh outcome: %w", err)
		}
		changed++
		if t.OutcomeID == nil || *t.OutcomeID != d.LevelID {
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

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
