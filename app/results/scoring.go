package results

import (
	"math"
	"sort"

	"github.com/purplebook/purplebook/app/tally"
)

// The scoring (docs/RESULTS.md is the user-facing description; keep both in
// step). Everything here is pure: it turns test counts per result bucket
// (tally.Planned, tally.Skipped, tally.Unassessed or a detection level id)
// into a result, given the detection levels.

// Classes of a test's result.
const (
	ClassPlanned       = "planned"        // pending or in progress: not run yet
	ClassSkipped       = "skipped"        // skipped by red: left out of every share and score
	ClassUnassessed    = "unassessed"     // executed, no outcome yet (or "to be determined")
	ClassNotApplicable = "not_applicable" // every control said "not applicable"
	ClassDetected      = "detected"       // outcome level counts as detected (blocked, alerted, logged…)
	ClassMissed        = "missed"         // outcome level does not count as detected (none…)
)

// System level keys (app/levels: system levels keep their key).
const (
	keyBlocked       = "blocked"
	keyTBD           = "tbd"
	keyNotApplicable = "not_applicable"
)

// States of a technique cell that are not a level key.
const (
	StateUntested      = "untested"
	StatePlanned       = "planned"
	StateSkipped       = "skipped"
	StateUnassessed    = "unassessed"
	StateNotApplicable = "not_applicable"
)

// Level is a detection level as results use it.
type Level struct {
	ID               string `json:"id" db:"id"`
	Key              string `json:"key" db:"key"`
	Name             string `json:"name" db:"name"`
	Rank             int    `json:"rank" db:"rank"`
	Color            string `json:"color" db:"color"`
	CountsAsDetected bool   `json:"counts_as_detected" db:"counts_as_detected"`
	// Class is detected, missed, unassessed (tbd) or not_applicable.
	Class string `json:"class" db:"-"`
	// Score is the 0–100 score of a test with this outcome; nil for levels
	// that are not scored (tbd, not applicable).
	Score *int `json:"score" db:"-"`
}

// Scale is the scoring vocabulary: the detection levels in rank order with
// their class and score.
type Scale struct {
	Levels []Level
	byID   map[string]*Level
	byKey  map[string]*Level
}

// NewScale classifies and scores the levels. A detected level's score is
// 100·(D−i)/D, rounded, where D is the number of levels that count as
// detected and i the level's 0-based position among them by rank (best
// first): with the defaults blocked 100, alerted 67, logged 33. Levels that
// do not count as detected score 0, except "tbd" (unassessed) and
// "not_applicable", which are not scored.
func NewScale(levels []Level) *Scale {
	ls := append([]Level(nil), levels...)
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Rank < ls[j].Rank })
	d := 0
	for _, l := range ls {
		if l.CountsAsDetected && l.Key != keyTBD && l.Key != keyNotApplicable {
			d++
		}
	}
	s := &Scale{byID: map[string]*Level{}, byKey: map[string]*Level{}}
	i := 0
	for _, l := range ls {
		switch {
		case l.Key == keyTBD:
			l.Class = ClassUnassessed
		case l.Key == keyNotApplicable:
			l.Class = ClassNotApplicable
		case l.CountsAsDetected:
			l.Class = ClassDetected
			v := int(math.Round(100 * float64(d-i) / float64(d)))
			l.Score = &v
			i++
		default:
			l.Class = ClassMissed
			v := 0
			l.Score = &v
		}
		s.Levels = append(s.Levels, l)
	}
	for i := range s.Levels {
		s.byID[s.Levels[i].ID] = &s.Levels[i]
		s.byKey[s.Levels[i].Key] = &s.Levels[i]
	}
	return s
}

// Level returns a level by id.
func (s *Scale) Level(id string) (*Level, bool) {
	l, ok := s.byID[id]
	return l, ok
}

// ByKey returns a level by key.
func (s *Scale) ByKey(key string) (*Level, bool) {
	l, ok := s.byKey[key]
	return l, ok
}

// Classify returns the class of a bucket and, for outcome buckets, the level.
// A bucket naming a level that no longer exists counts as unassessed.
func (s *Scale) Classify(bucket string) (string, *Level) {
	switch bucket {
	case tally.Planned:
		return ClassPlanned, nil
	case tally.Skipped:
		return ClassSkipped, nil
	case tally.Unassessed:
		return ClassUnassessed, nil
	}
	l, ok := s.byID[bucket]
	if !ok {
		return ClassUnassessed, nil
	}
	return l.Class, l
}

// Counts are tests per bucket.
type Counts map[string]int

// Add counts n tests in a bucket.
func (c Counts) Add(bucket string, n int) { c[bucket] += n }

// Merge adds other's counts.
func (c Counts) Merge(other Counts) {
	for k, v := range other {
		c[k] += v
	}
}

// Result is the result of a set of tests (a technique, a tactic, a mission).
type Result struct {
	Tests         int `json:"tests"`
	Planned       int `json:"planned"`
	Executed      int `json:"executed"` // unassessed + not applicable + detected + missed
	Assessed      int `json:"assessed"` // not applicable + detected + missed
	Unassessed    int `json:"unassessed"`
	Skipped       int `json:"skipped"`
	NotApplicable int `json:"not_applicable"`
	Detected      int `json:"detected"`
	Missed        int `json:"missed"`
	// Levels counts tests per outcome level key (scored levels only).
	Levels map[string]int `json:"levels"`
	// Best and Worst are level keys among the scored outcomes; detected
	// outcomes always rank above missed ones.
	Best  *string `json:"best"`
	Worst *string `json:"worst"`
	// DetectedShare is detected / (detected + missed), 0–1.
	DetectedShare *float64 `json:"detected_share"`
	// Score is the mean test score over detected and missed tests, 0–100.
	Score *int `json:"score"`
	// State decides the colour: the worst level's key, or unassessed,
	// not_applicable, planned, skipped, untested.
	State string `json:"state"`
	Color string `json:"color"`
}

// Result turns counts into a result.
func (s *Scale) Result(c Counts) Result {
	r := Result{Levels: map[string]int{}}
	sum := 0
	var best, worst *Level
	// rankKey orders outcomes for best/worst: detected before missed, then rank.
	rankKey := func(l *Level) int {
		if l.Class == ClassMissed {
			return 1<<20 + l.Rank
		}
		return l.Rank
	}
	for bucket, n := range c {
		if n <= 0 {
			continue
		}
		r.Tests += n
		class, l := s.Classify(bucket)
		switch class {
		case ClassPlanned:
			r.Planned += n
		case ClassSkipped:
			r.Skipped += n
		case ClassUnassessed:
			r.Unassessed += n
		case ClassNotApplicable:
			r.NotApplicable += n
		case ClassDetected, ClassMissed:
			if class == ClassDetected {
				r.Detected += n
			} else {
				r.Missed += n
			}
			r.Levels[l.Key] += n
			sum += n * *l.Score
			if best == nil || rankKey(l) < rankKey(best) {
				best = l
			}
			if worst == nil || rankKey(l) > rankKey(worst) {
				worst = l
			}
		}
	}
	r.Assessed = r.NotApplicable + r.Detected + r.Missed
	r.Executed = r.Assessed + r.Unassessed
	if scored := r.Detected + r.Missed; scored > 0 {
		share := float64(r.Detected) / float64(scored)
		r.DetectedShare = &share
		v := int(math.Floor(float64(sum)/float64(scored) + 0.5))
		r.Score = &v
		r.Best, r.Worst = &best.Key, &worst.Key
		r.State, r.Color = worst.Key, worst.Color
		return r
	}
	switch {
	case r.Unassessed > 0:
		r.State = StateUnassessed
		if l, ok := s.byKey[keyTBD]; ok {
			r.Color = l.Color
		}
	case r.NotApplicable > 0:
		r.State = StateNotApplicable
		if l, ok := s.byKey[keyNotApplicable]; ok {
			r.Color = l.Color
		}
	case r.Planned > 0:
		r.State = StatePlanned
	case r.Skipped > 0:
		r.State = StateSkipped
	default:
		r.State = StateUntested
	}
	return r
}

// Share returns n/d or nil when d is 0.
func share(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	v := float64(n) / float64(d)
	return &v
}
