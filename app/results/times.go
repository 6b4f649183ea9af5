package results

import (
	"math"
	"sort"
	"time"

	"github.com/purplebook/purplebook/app/levels"
)

// Times to log, alert and prevent, in seconds from the execution start.
type Times struct {
	Log     *float64 `json:"log,omitempty"`
	Alert   *float64 `json:"alert,omitempty"`
	Prevent *float64 `json:"prevent,omitempty"`
}

// seconds converts levels.Derive's durations.
func seconds(t levels.Times) Times {
	f := func(d *time.Duration) *float64 {
		if d == nil {
			return nil
		}
		v := d.Seconds()
		return &v
	}
	return Times{Log: f(t.ToLog), Alert: f(t.ToAlert), Prevent: f(t.ToPrevent)}
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
