package auth

import (
	"math"
	"sync"
	"time"
)

// throttle slows down password guessing. Failures are counted per key; after
// `free` failures each further failure locks the key for an exponentially
// growing delay (1 s, 2 s, 4 s, …) capped at `max`. Keys are
// "acct:<email>|<addr>" (one account from one address: stopped hard) and
// "acct:<email>" (one account from anywhere: a much higher threshold and a
// one-minute cap, so a spread-out attack is slowed while nobody can lock the
// admin out for long). There is deliberately no per-address key: behind a
// shared proxy or NAT one guesser would lock every account of the office
// out. State is in memory: a restart clears it, which an operator can use
// as a last resort.
type throttle struct {
	mu    sync.Mutex
	now   func() time.Time
	state map[string]*throttleEntry
}

type throttleEntry struct {
	failures    int
	lockedUntil time.Time
	last        time.Time
}

type throttleRule struct {
	free int
	max  time.Duration
}

var (
	ruleAccountAddr = throttleRule{free: 5, max: 15 * time.Minute}
	ruleAccount     = throttleRule{free: 50, max: time.Minute}
	throttleForget  = 24 * time.Hour
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, state: map[string]*throttleEntry{}}
}

func throttleKeys(email, ip string) map[string]throttleRule {
	return map[string]throttleRule{
		"acct:" + email + "|" + ip: ruleAccountAddr,
		"acct:" + email:            ruleAccount,
	}
}

// wait returns how long the caller must wait before trying (0 = go ahead).
func (t *throttle) wait(email, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var longest time.Duration
	for k := range throttleKeys(email, ip) {
		if e, ok := t.state[k]; ok && e.lockedUntil.After(now) {
			longest = max(longest, e.lockedUntil.Sub(now))
		}
	}
	return longest
}

// fail records a failed attempt.
func (t *throttle) fail(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, rule := range throttleKeys(email, ip) {
		e, ok := t.state[k]
		if !ok || now.Sub(e.last) > throttleForget {
			e = &throttleEntry{}
			t.state[k] = e
		}
		e.failures++
		e.last = now
		if over := e.failures - rule.free; over > 0 {
			d := time.Duration(math.Min(float64(rule.max), float64(time.Second)*math.Pow(2, float64(over-1))))
			e.lockedUntil = now.Add(d)
		}
	}
	if len(t.state) > 100_000 { // bound memory under a spray of addresses
		for k, e := range t.state {
			if now.Sub(e.last) > time.Hour {
				delete(t.state, k)
			}
		}
	}
}

// succeed clears the account's counters for this address.
func (t *throttle) succeed(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.state, "acct:"+email+"|"+ip)
	delete(t.state, "acct:"+email)
}
