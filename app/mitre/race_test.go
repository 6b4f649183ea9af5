//go:build race

package mitre

// raceEnabled: the race detector slows JSON decoding ~10x, so the 45 MB
// bundle tests run in the (non-race) PostgreSQL pass of make test instead;
// the small bundle covers the concurrent reader under the race detector.
const raceEnabled = true
