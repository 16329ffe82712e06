//go:build race

package httpapi

// raceEnabled: the race detector slows Go code many times over, the
// pure-Go SQLite far more than argon2id, so timings mean nothing.
const raceEnabled = true
