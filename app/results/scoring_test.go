package results_test

import (
	"math"
	"testing"

	"github.com/purplebook/purplebook/app/results"
	"github.com/purplebook/purplebook/app/tally"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seeded vocabulary (schema 0001), as rows.
func seededLevels() []results.Level {
	return []results.Level{
		{ID: "id-blocked", Key: "blocked", Name: "Blocked", Rank: 1, Color: "#1B7F3B", CountsAsDetected: true},
		{ID: "id-alerted", Key: "alerted", Name: "Alerted", Rank: 2, Color: "#4CAF50", CountsAsDetected: true},
		{ID: "id-logged", Key: "logged", Name: "Logged", Rank: 3, Color: "#F2B705", CountsAsDetected: true},
		{ID: "id-none", Key: "none", Name: "None", Rank: 4, Color: "#D32F2F"},
		{ID: "id-na", Key: "not_applicable", Name: "Not applicable", Rank: 5, Color: "#9E9E9E"},
		{ID: "id-tbd", Key: "tbd", Name: "To be determined", Rank: 6, Color: "#607D8B"},
	}
}

func TestScaleScoresAndClasses(t *testing.T) {
	t.Parallel()
	sc := results.NewScale(seededLevels())
	want := map[string]struct {
		class string
		score *int
	}{
		"blocked": {results.ClassDetected, ptr(100)}, "alerted": {results.ClassDetected, ptr(67)}, "logged": {results.ClassDetected, ptr(33)},
		"none": {results.ClassMissed, ptr(0)}, "not_applicable": {results.ClassNotApplicable, nil}, "tbd": {results.ClassUnassessed, nil},
	}
	for _, l := range sc.Levels {
		assert.Equal(t, want[l.Key].class, l.Class, l.Key)
		assert.Equal(t, want[l.Key].score, l.Score, l.Key)
	}
	// A fourth detected level ("found by incident response", after logged):
	// D = 4, so 100, 75, 50, 25; the order follows rank, not input order.
	ls := append(seededLevels(), results.Level{ID: "id-ir", Key: "found_by_ir", Name: "Found by IR", Rank: 7, Color: "#8E24AA", CountsAsDetected: true})
	ls[0], ls[6] = ls[6], ls[0]
	sc = results.NewScale(ls)
	got := map[string]int{}
	for _, l := range sc.Levels {
		if l.Score != nil {
			got[l.Key] = *l.Score
		}
	}
	assert.Equal(t, map[string]int{"blocked": 100, "alerted": 75, "logged": 50, "found_by_ir": 25, "none": 0}, got)
	assert.Equal(t, "blocked", sc.Levels[0].Key, "rank order")
}

func ptr[T any](v T) *T { return &v }

// TestResultEveryCombination walks every combination of buckets present
// (the six levels, planned, unassessed, skipped; each with its own count)
// and checks the result against the definition in docs/RESULTS.md,
// computed here independently.
func TestResultEveryCombination(t *testing.T) {
	t.Parallel()
	sc := results.NewScale(seededLevels())
	buckets := []string{"id-blocked", "id-alerted", "id-logged", "id-none", "id-na", "id-tbd", tally.Planned, tally.Unassessed, tally.Skipped}
	score := map[string]int{"id-blocked": 100, "id-alerted": 67, "id-logged": 33, "id-none": 0}
	key := map[string]string{"id-blocked": "blocked", "id-alerted": "alerted", "id-logged": "logged", "id-none": "none"}
	color := map[string]string{"id-blocked": "#1B7F3B", "id-alerted": "#4CAF50", "id-logged": "#F2B705", "id-none": "#D32F2F"}
	for mask := 0; mask < 1<<len(buckets); mask++ {
		c := results.Counts{}
		for i, b := range buckets {
			if mask&(1<<i) != 0 {
				c.Add(b, i+1) // distinct counts expose mix-ups
			}
		}
		r := sc.Result(c)
		n := func(b string) int { return c[b] }
		detected := n("id-blocked") + n("id-alerted") + n("id-logged")
		missed := n("id-none")
		require.Equal(t, detected, r.Detected, "mask %b", mask)
		require.Equal(t, missed, r.Missed)
		require.Equal(t, n("id-na"), r.NotApplicable)
		require.Equal(t, n("id-tbd")+n(tally.Unassessed), r.Unassessed, "tbd is not assessed, never missed")
		require.Equal(t, n(tally.Planned), r.Planned)
		require.Equal(t, n(tally.Skipped), r.Skipped)
		total := 0
		for _, v := range c {
			total += v
		}
		require.Equal(t, total, r.Tests)
		require.Equal(t, detected+missed+n("id-na"), r.Assessed)
		require.Equal(t, r.Assessed+r.Unassessed, r.Executed)
		if detected+missed == 0 {
			require.Nil(t, r.Score)
			require.Nil(t, r.DetectedShare)
			require.Nil(t, r.Worst)
			switch {
			case r.Unassessed > 0:
				require.Equal(t, results.StateUnassessed, r.State)
				require.Equal(t, "#607D8B", r.Color)
			case r.NotApplicable > 0:
				require.Equal(t, results.StateNotApplicable, r.State)
				require.Equal(t, "#9E9E9E", r.Color)
			case r.Planned > 0:
				require.Equal(t, results.StatePlanned, r.State)
				require.Empty(t, r.Color)
			case r.Skipped > 0:
				require.Equal(t, results.StateSkipped, r.State)
			default:
				require.Equal(t, results.StateUntested, r.State)
			}
			continue
		}
		sum := 0
		for b, s := range score {
			sum += n(b) * s
		}
		require.Equal(t, int(math.Floor(float64(sum)/float64(detected+missed)+0.5)), *r.Score, "mask %b", mask)
		require.InDelta(t, float64(detected)/float64(detected+missed), *r.DetectedShare, 1e-9)
		// Worst: a miss beats any detection; else the highest rank.
		worst, best := "", ""
		for _, b := range []string{"id-blocked", "id-alerted", "id-logged"} {
			if n(b) > 0 {
				worst = b
				if best == "" {
					best = b
				}
			}
		}
		if missed > 0 {
			worst = "id-none"
			if best == "" {
				best = "id-none"
			}
		}
		require.Equal(t, key[worst], *r.Worst, "mask %b", mask)
		require.Equal(t, key[best], *r.Best, "mask %b", mask)
		require.Equal(t, key[worst], r.State)
		require.Equal(t, color[worst], r.Color)
		for b, k := range key {
			require.Equal(t, n(b), r.Levels[k], k)
		}
	}
}

func TestUnknownBucketIsUnassessed(t *testing.T) {
	t.Parallel()
	sc := results.NewScale(seededLevels())
	r := sc.Result(results.Counts{"a-level-that-no-longer-exists": 2})
	assert.Equal(t, 2, r.Unassessed)
	assert.Equal(t, results.StateUnassessed, r.State)
}
