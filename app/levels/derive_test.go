package levels

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func at(hhmm string) *time.Time {
	t, err := time.Parse("2006-01-02 15:04", "2031-07-08 "+hhmm)
	if err != nil {
		panic(err)
	}
	return &t
}

func dur(d time.Duration) *time.Duration { return &d }

var (
	blocked = Control{LevelID: "blocked", Rank: 1, CountsAsDetected: true}
	alerted = Control{LevelID: "alerted", Rank: 2, CountsAsDetected: true}
	logged  = Control{LevelID: "logged", Rank: 3, CountsAsDetected: true}
	none    = Control{LevelID: "none", Rank: 4}
)

func with(c Control, logged, alerted, prevented *time.Time) Control {
	c.LoggedAt, c.AlertedAt, c.PreventedAt = logged, alerted, prevented
	return c
}

// The case issue 13 reported: started 10:04, finished (executed) 10:06, EDR
// alerted 10:09, SIEM logged 10:04. Time counts from the start, not from
// executed_at, so nothing is "detected before executed".
func TestDeriveCountsFromTheStart(t *testing.T) {
	t.Parallel()
	d := Derive(at("10:04"), at("10:06"), []Control{
		with(alerted, nil, at("10:09"), nil), // EDR
		with(logged, at("10:04"), nil, nil),  // SIEM
	})
	assert.Equal(t, "alerted", d.LevelID, "the best-ranked level")
	assert.Equal(t, at("10:04"), d.DetectedAt)
	assert.Equal(t, at("10:04"), d.Start)
	assert.Equal(t, Times{ToAlert: dur(5 * time.Minute)}, d.Controls[0])
	assert.Equal(t, Times{ToLog: dur(0)}, d.Controls[1])
	assert.Equal(t, Times{ToLog: dur(0), ToAlert: dur(5 * time.Minute)}, d.Overall)
	assert.Equal(t, dur(0), d.ToDetect)
}

func TestDerive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		started, executed *time.Time
		controls          []Control
		level             string
		detectedAt        *time.Time
		overall           Times
		toDetect          *time.Duration
		controlTimes      []Times
	}{
		{name: "no outcomes", started: at("10:00"), controls: nil, controlTimes: []Times{}},
		{name: "executed_at when no start is known", executed: at("10:06"),
			controls: []Control{with(alerted, nil, at("10:09"), nil)},
			level:    "alerted", detectedAt: at("10:09"),
			overall: Times{ToAlert: dur(3 * time.Minute)}, toDetect: dur(3 * time.Minute),
			controlTimes: []Times{{ToAlert: dur(3 * time.Minute)}}},
		{name: "no start at all: detection time but no durations",
			controls: []Control{with(logged, at("10:01"), nil, nil)},
			level:    "logged", detectedAt: at("10:01"), controlTimes: []Times{{}}},
		{name: "a time before the start counts as 0, never negative", started: at("10:00"),
			controls: []Control{with(blocked, at("09:58"), nil, at("10:02"))},
			level:    "blocked", detectedAt: at("09:58"),
			overall: Times{ToLog: dur(0), ToPrevent: dur(2 * time.Minute)}, toDetect: dur(0),
			controlTimes: []Times{{ToLog: dur(0), ToPrevent: dur(2 * time.Minute)}}},
		{name: "levels that do not count as detected set nothing", started: at("10:00"),
			controls: []Control{with(none, at("10:01"), at("10:02"), nil)},
			level:    "none", controlTimes: []Times{{}}},
		{name: "overall is the minimum over detecting controls", started: at("10:00"),
			controls: []Control{
				with(logged, at("10:07"), nil, nil),
				with(alerted, at("10:03"), at("10:05"), nil),
				with(none, at("10:01"), nil, nil), // not detected: ignored
				with(alerted, nil, at("10:04"), nil),
			},
			level: "alerted", detectedAt: at("10:03"),
			overall:  Times{ToLog: dur(3 * time.Minute), ToAlert: dur(4 * time.Minute)},
			toDetect: dur(3 * time.Minute),
			controlTimes: []Times{{ToLog: dur(7 * time.Minute)}, {ToLog: dur(3 * time.Minute), ToAlert: dur(5 * time.Minute)}, {},
				{ToAlert: dur(4 * time.Minute)}}},
		{name: "a detecting level without times: outcome but no detection", started: at("10:00"),
			controls: []Control{alerted, none}, level: "alerted", controlTimes: []Times{{}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Derive(tc.started, tc.executed, tc.controls)
			assert.Equal(t, tc.level, d.LevelID)
			assert.Equal(t, tc.detectedAt, d.DetectedAt)
			assert.Equal(t, tc.overall, d.Overall)
			assert.Equal(t, tc.toDetect, d.ToDetect)
			assert.Equal(t, tc.controlTimes, d.Controls)
			if d.ToDetect != nil {
				assert.Equal(t, max(d.DetectedAt.Sub(*d.Start), 0), *d.ToDetect, "the first detection, from the start")
			}
		})
	}
}

// Derive does not keep pointers into its arguments' times that a caller
// might change afterwards.
func TestDeriveCopiesDetectedAt(t *testing.T) {
	t.Parallel()
	logged := at("10:01")
	d := Derive(at("10:00"), nil, []Control{with(alerted, logged, nil, nil)})
	*logged = logged.Add(time.Hour)
	assert.Equal(t, at("10:01"), d.DetectedAt)
}
