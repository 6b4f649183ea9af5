package results

import (
	"math"
	"sort"
	"time"

	"github.com/purplebook/purplebook/app/db"
)

// Times to log, alert and prevent, in seconds from the execution start.
type Times struct {
	Log     *float64 `json:"log,omitempty"`
	Alert   *float64 `json:"alert,omitempty"`
	Prevent *float64 `json:"prevent,omitempty"`
}

// controlFacts is one control's outcome as the time derivation needs it.
type controlFacts struct {
	Detected    bool // the control's level counts as detected
	LoggedAt    *db.Time
	AlertedAt   *db.Time
	PreventedAt *db.Time
}

// executionStart is where the times run from: started_at, else executed_at.
func executionStart(startedAt, executedAt *db.Time) *time.Time {
	switch {
	case startedAt != nil:
		return &startedAt.Time
	case executedAt != nil:
		return &executedAt.Time
	}
	return nil
}

func since(start *time.Time, at *db.Time) *float64 {
	if start == nil || at == nil {
		return nil
	}
	v := math.Max(0, at.Sub(*start).Seconds())
	return &v
}

// controlTimes are one control's times: unset when the control's level does
// not count as detected, never negative.
func controlTimes(start *time.Time, c controlFacts) Times {
	if !c.Detected {
		return Times{}
	}
	return Times{Log: since(start, c.LoggedAt), Alert: since(start, c.AlertedAt), Prevent: since(start, c.PreventedAt)}
}

// overallTimes are a test's times: the earliest over its controls.
func overallTimes(per []Times) Times {
	var out Times
	low := func(dst **float64, v *float64) {
		if v != nil && (*dst == nil || *v < **dst) {
			x := *v
			*dst = &x
		}
	}
	for _, t := range per {
		low(&out.Log, t.Log)
		low(&out.Alert, t.Alert)
		low(&out.Prevent, t.Prevent)
	}
	return out
}

// Distribution summarises durations (seconds).
type Distribution struct {
	N         int       `json:"n"`
	Min       *float64  `json:"min"`
	P25       *float64  `json:"p25"`
	Median    *float64  `json:"median"`
	P75       *float64  `json:"p75"`
	P90       *float64  `json:"p90"`
	Max       *float64  `json:"max"`
	Mean      *float64  `json:"mean"`
	Histogram []HistBin `json:"histogram"`
}

// HistBin is one histogram bucket: durations below Upper seconds (and at or
// above the previous bucket's); the last bucket has no upper bound.
type HistBin struct {
	Label string   `json:"label"`
	Upper *float64 `json:"upper"`
	N     int      `json:"n"`
}

var histEdges = []struct {
	label string
	upper float64
}{{"< 1 min", 60}, {"1–5 min", 300}, {"5–15 min", 900}, {"15–60 min", 3600}, {"1–4 h", 4 * 3600}, {"4–24 h", 24 * 3600}, {"> 24 h", 0}}

// quantile is the linear interpolation between closest ranks (type 7).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func distribution(values []float64) Distribution {
	d := Distribution{N: len(values), Histogram: make([]HistBin, len(histEdges))}
	for i, e := range histEdges {
		d.Histogram[i].Label = e.label
		if e.upper > 0 {
			u := e.upper
			d.Histogram[i].Upper = &u
		}
	}
	if len(values) == 0 {
		return d
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	f := func(x float64) *float64 { return &x }
	sum := 0.0
	for _, x := range v {
		sum += x
		for i, e := range histEdges {
			if e.upper == 0 || x < e.upper {
				d.Histogram[i].N++
				break
			}
		}
	}
	d.Min, d.Max, d.Mean = f(v[0]), f(v[len(v)-1]), f(sum/float64(len(v)))
	d.P25, d.Median, d.P75, d.P90 = f(quantile(v, 0.25)), f(quantile(v, 0.5)), f(quantile(v, 0.75)), f(quantile(v, 0.9))
	return d
}
