//go:build !race

package mitre

const raceEnabled = false
