// Package tally keeps the results aggregates (tables result_technique_counts,
// result_month_counts and result_org_counts, schema 0003_results) up to date. Every write that
// changes a mission test's state, derived outcome, execution time, tags or
// existence calls TestsChanged (or RefreshMission) in the same transaction,
// so the organisation-wide coverage and the trends (app/results) read small
// pre-counted rows instead of every mission test.
//
// The aggregates count tests per result bucket, which does not depend on how
// the detection levels are configured: "planned" (pending or in progress),
// "skipped", "unassessed" (executed or assessed without a derived outcome),
// or the id of the derived outcome level. Scores, colours and states are
// computed from the buckets when read (docs/RESULTS.md).
//
// Each refresh recomputes the affected rows from the mission tests with one
// grouped query: the aggregate always equals a recomputation from scratch,
// whatever the order of writes (app/results tests check it after random
// writes). result_org_counts sums the technique rows of the live missions
// sharing a status and start month; it is recomputed for the affected keys
// from result_technique_counts, so a mission's status, start or deletion
// moves its counts (MissionMoved).
package tally

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
)

// Buckets that are not a detection level id.
const (
	Planned    = "planned"
	Skipped    = "skipped"
	Unassessed = "unassessed"
)

// bucketSQL classifies a mission test (alias t). Shared by every query here
// and by the migration that filled the tables for existing missions.
const bucketSQL = `CASE WHEN t.state = 'skipped' THEN 'skipped' WHEN t.state IN ('pending', 'in_progress') THEN 'planned'
	WHEN t.outcome_level_id IS NULL THEN 'unassessed' ELSE t.outcome_level_id END`

// startSQL is the execution start of an executed test (started_at, else
// executed_at); NULL for tests not executed.
const startSQL = `CASE WHEN t.state IN ('executed', 'assessed') THEN COALESCE(t.started_at, t.executed_at) END`

// monthSQL is a mission's (alias m) start month: starts_on, else the day
// it was created.
const monthSQL = `COALESCE(substr(m.starts_on, 1, 7), substr(m.created_at, 1, 7))`

// Key is where a mission's counts sit in result_org_counts.
type Key struct {
	Status string
	Month  string // YYYY-MM
	Live   bool   // false: deleted (or unknown), counted nowhere
}

// MissionKey reads a mission's key.
func MissionKey(ctx context.Context, b dbx.Builder, missionID string) (Key, error) {
	var rows []struct {
		Status string `db:"status"`
		Month  string `db:"month"`
	}
	if err := b.NewQuery(`SELECT m.status, ` + monthSQL + ` AS month FROM missions m WHERE m.id = {:m} AND m.deleted_at IS NULL`).
		Bind(dbx.Params{"m": missionID}).WithContext(ctx).All(&rows); err != nil {
		return Key{}, fmt.Errorf("tally: mission key: %w", err)
	}
	if len(rows) == 0 {
		return Key{}, nil
	}
	return Key{Status: rows[0].Status, Month: rows[0].Month, Live: true}, nil
}

// MissionMoved recomputes the organisation rows of the mission's key before
// a change (status, start date, deletion) and of its key now.
func MissionMoved(ctx context.Context, tx dbx.Builder, missionID string, before Key) error {
	now, err := MissionKey(ctx, tx, missionID)
	if err != nil {
		return err
	}
	if now == before {
		return nil
	}
	for _, k := range []Key{before, now} {
		if k.Live {
			if err := refreshOrg(ctx, tx, k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bucket classifies a test as the SQL does (for callers holding a test in
// memory, and for tests).
func Bucket(state string, outcomeLevelID *string) string {
	switch {
	case state == "skipped":
		return Skipped
	case state == "pending" || state == "in_progress":
		return Planned
	case outcomeLevelID == nil || *outcomeLevelID == "":
		return Unassessed
	default:
		return *outcomeLevelID
	}
}

// maxIn bounds the number of values bound in one IN list.
const maxIn = 500

func params(prefix string, xs []string) (string, dbx.Params) {
	p := dbx.Params{}
	ph := make([]string, len(xs))
	for i, x := range xs {
		k := fmt.Sprintf("%s%d", prefix, i)
		p[k] = x
		ph[i] = "{:" + k + "}"
	}
	return strings.Join(ph, ", "), p
}

// Facts are what the aggregates count of one test.
type Facts struct {
	State          string
	OutcomeLevelID *string
	StartedAt      *time.Time
	ExecutedAt     *time.Time
}

// Month is the month row a test counts in, as the SQL computes it: the
// UTC month of its execution start (started_at, else executed_at) when
// executed or assessed, else "".
func Month(f Facts) string {
	if f.State != "executed" && f.State != "assessed" {
		return ""
	}
	switch {
	case f.StartedAt != nil:
		return f.StartedAt.UTC().Format("2006-01")
	case f.ExecutedAt != nil:
		return f.ExecutedAt.UTC().Format("2006-01")
	}
	return ""
}

// TestUpdated refreshes the aggregates after one test changed from before
// to after (a PATCH): the technique and organisation rows of its tags are
// recomputed, its month row moves by one (no scan of the mission).
func TestUpdated(ctx context.Context, tx dbx.Builder, missionID, testID string, before, after Facts) error {
	if err := refreshTechniquesOf(ctx, tx, missionID, []string{testID}); err != nil {
		return err
	}
	from, to := [2]string{Month(before), Bucket(before.State, before.OutcomeLevelID)}, [2]string{Month(after), Bucket(after.State, after.OutcomeLevelID)}
	if from == to {
		return nil
	}
	p := dbx.Params{"m": missionID, "mo": from[0], "b": from[1]}
	// tests > 0 holds: the last one goes, the others count down.
	if _, err := tx.NewQuery(`DELETE FROM result_month_counts WHERE mission_id = {:m} AND month = {:mo} AND bucket = {:b} AND tests = 1`).
		Bind(p).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: month out: %w", err)
	}
	if _, err := tx.NewQuery(`UPDATE result_month_counts SET tests = tests - 1 WHERE mission_id = {:m} AND month = {:mo} AND bucket = {:b}`).
		Bind(p).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: month out: %w", err)
	}
	if _, err := tx.NewQuery(`INSERT INTO result_month_counts (mission_id, month, bucket, tests) VALUES ({:m}, {:mo}, {:b}, 1)
		ON CONFLICT (mission_id, month, bucket) DO UPDATE SET tests = result_month_counts.tests + 1`).
		Bind(dbx.Params{"m": missionID, "mo": to[0], "b": to[1]}).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: month in: %w", err)
	}
	return nil
}

// TestsChanged refreshes the aggregates after the given tests of one mission
// changed (created, updated, deleted or restored): the technique rows of
// their ATT&CK tags, and the mission's month rows.
func TestsChanged(ctx context.Context, tx dbx.Builder, missionID string, testIDs ...string) error {
	if len(testIDs) == 0 {
		return nil
	}
	if err := refreshTechniquesOf(ctx, tx, missionID, testIDs); err != nil {
		return err
	}
	return refreshMonths(ctx, tx, missionID)
}

// refreshTechniquesOf recomputes the technique and organisation rows of the
// tags of the given tests.
func refreshTechniquesOf(ctx context.Context, tx dbx.Builder, missionID string, testIDs []string) error {
	ext := map[string]bool{}
	for start := 0; start < len(testIDs); start += maxIn {
		chunk := testIDs[start:min(start+maxIn, len(testIDs))]
		in, p := params("tid", chunk)
		var ids []string
		if err := tx.NewQuery(`SELECT DISTINCT external_id FROM mission_test_mitre_tags
			WHERE kind IN ('technique', 'subtechnique') AND mission_test_id IN (` + in + `)`).
			Bind(p).WithContext(ctx).Column(&ids); err != nil {
			return fmt.Errorf("tally: tags of changed tests: %w", err)
		}
		for _, id := range ids {
			ext[id] = true
		}
	}
	if len(ext) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ext))
	for id := range ext {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	if err := refreshTechniques(ctx, tx, missionID, keys); err != nil {
		return err
	}
	k, err := MissionKey(ctx, tx, missionID)
	if err != nil || !k.Live {
		return err
	}
	return refreshOrg(ctx, tx, k, keys)
}

// RefreshMission recomputes every aggregate row of one mission (after a
// bulk change such as an import).
func RefreshMission(ctx context.Context, tx dbx.Builder, missionID string) error {
	if _, err := tx.Delete("result_technique_counts", dbx.HashExp{"mission_id": missionID}).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: clear mission: %w", err)
	}
	if _, err := tx.NewQuery(`INSERT INTO result_technique_counts (mission_id, external_id, bucket, tests, first_executed_at, last_executed_at)
		SELECT t.mission_id, g.external_id, ` + bucketSQL + `, COUNT(*), MIN(` + startSQL + `), MAX(` + startSQL + `)
		FROM mission_test_mitre_tags g JOIN mission_tests t ON t.id = g.mission_test_id
		WHERE t.mission_id = {:m} AND t.deleted_at IS NULL AND g.kind IN ('technique', 'subtechnique')
		GROUP BY 1, 2, 3`).Bind(dbx.Params{"m": missionID}).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: mission techniques: %w", err)
	}
	k, err := MissionKey(ctx, tx, missionID)
	if err != nil {
		return err
	}
	if k.Live {
		if err := refreshOrg(ctx, tx, k, nil); err != nil {
			return err
		}
	}
	return refreshMonths(ctx, tx, missionID)
}

// RebuildAll recomputes every aggregate row of every mission.
func RebuildAll(ctx context.Context, tx dbx.Builder) error {
	for _, table := range []string{"result_technique_counts", "result_month_counts", "result_org_counts"} {
		if _, err := tx.NewQuery("DELETE FROM " + table).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("tally: clear %s: %w", table, err)
		}
	}
	if _, err := tx.NewQuery(`INSERT INTO result_technique_counts (mission_id, external_id, bucket, tests, first_executed_at, last_executed_at)
		SELECT t.mission_id, g.external_id, ` + bucketSQL + `, COUNT(*), MIN(` + startSQL + `), MAX(` + startSQL + `)
		FROM mission_test_mitre_tags g JOIN mission_tests t ON t.id = g.mission_test_id
		WHERE t.deleted_at IS NULL AND g.kind IN ('technique', 'subtechnique')
		GROUP BY 1, 2, 3`).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: rebuild techniques: %w", err)
	}
	if _, err := tx.NewQuery(`INSERT INTO result_month_counts (mission_id, month, bucket, tests)
		SELECT t.mission_id, COALESCE(substr(` + startSQL + `, 1, 7), ''), ` + bucketSQL + `, COUNT(*)
		FROM mission_tests t WHERE t.deleted_at IS NULL
		GROUP BY 1, 2, 3`).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: rebuild months: %w", err)
	}
	if _, err := tx.NewQuery(`INSERT INTO result_org_counts (status, month, external_id, bucket, tests, first_executed_at, last_executed_at)
		SELECT m.status, ` + monthSQL + `, a.external_id, a.bucket, SUM(a.tests), MIN(a.first_executed_at), MAX(a.last_executed_at)
		FROM result_technique_counts a JOIN missions m ON m.id = a.mission_id WHERE m.deleted_at IS NULL
		GROUP BY 1, 2, 3, 4`).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: rebuild organisation: %w", err)
	}
	return nil
}

// refreshOrg recomputes the organisation rows of one key, for the given
// technique ids (nil: all of the key).
func refreshOrg(ctx context.Context, tx dbx.Builder, k Key, ext []string) error {
	run := func(in string, p dbx.Params) error {
		p["st"], p["mo"] = k.Status, k.Month
		del := `DELETE FROM result_org_counts WHERE status = {:st} AND month = {:mo}`
		sel := `INSERT INTO result_org_counts (status, month, external_id, bucket, tests, first_executed_at, last_executed_at)
			SELECT m.status, ` + monthSQL + `, a.external_id, a.bucket, SUM(a.tests), MIN(a.first_executed_at), MAX(a.last_executed_at)
			FROM result_technique_counts a JOIN missions m ON m.id = a.mission_id
			WHERE m.deleted_at IS NULL AND m.status = {:st} AND ` + monthSQL + ` = {:mo}`
		if in != "" {
			del += ` AND external_id IN (` + in + `)`
			sel += ` AND a.external_id IN (` + in + `)`
		}
		sel += ` GROUP BY 1, 2, 3, 4`
		if _, err := tx.NewQuery(del).Bind(p).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("tally: clear organisation rows: %w", err)
		}
		if _, err := tx.NewQuery(sel).Bind(p).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("tally: organisation rows: %w", err)
		}
		return nil
	}
	if ext == nil {
		return run("", dbx.Params{})
	}
	for start := 0; start < len(ext); start += maxIn {
		in, p := params("ext", ext[start:min(start+maxIn, len(ext))])
		if err := run(in, p); err != nil {
			return err
		}
	}
	return nil
}

// refreshTechniques recomputes the rows of the given technique ids of one
// mission.
func refreshTechniques(ctx context.Context, tx dbx.Builder, missionID string, ext []string) error {
	for start := 0; start < len(ext); start += maxIn {
		chunk := ext[start:min(start+maxIn, len(ext))]
		in, p := params("ext", chunk)
		p["m"] = missionID
		if _, err := tx.NewQuery(`DELETE FROM result_technique_counts WHERE mission_id = {:m} AND external_id IN (` + in + `)`).
			Bind(p).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("tally: clear techniques: %w", err)
		}
		if _, err := tx.NewQuery(`INSERT INTO result_technique_counts (mission_id, external_id, bucket, tests, first_executed_at, last_executed_at)
			SELECT t.mission_id, g.external_id, ` + bucketSQL + `, COUNT(*), MIN(` + startSQL + `), MAX(` + startSQL + `)
			FROM mission_test_mitre_tags g JOIN mission_tests t ON t.id = g.mission_test_id
			WHERE t.mission_id = {:m} AND t.deleted_at IS NULL AND g.kind IN ('technique', 'subtechnique')
			AND g.external_id IN (` + in + `)
			GROUP BY 1, 2, 3`).Bind(p).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("tally: techniques: %w", err)
		}
	}
	return nil
}

// refreshMonths recomputes the month rows of one mission (a mission holds at
// most a few thousand tests: one indexed grouped scan).
func refreshMonths(ctx context.Context, tx dbx.Builder, missionID string) error {
	if _, err := tx.Delete("result_month_counts", dbx.HashExp{"mission_id": missionID}).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: clear months: %w", err)
	}
	if _, err := tx.NewQuery(`INSERT INTO result_month_counts (mission_id, month, bucket, tests)
		SELECT t.mission_id, COALESCE(substr(` + startSQL + `, 1, 7), ''), ` + bucketSQL + `, COUNT(*)
		FROM mission_tests t WHERE t.mission_id = {:m} AND t.deleted_at IS NULL
		GROUP BY 1, 2, 3`).Bind(dbx.Params{"m": missionID}).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("tally: months: %w", err)
	}
	return nil
}
