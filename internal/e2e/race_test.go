//go:build race

package e2e

// Under `go test -race` the dird binary is built with the race detector
// too, so a data race in the server fails the test that provoked it: the
// race report lands in the log and dird exits 66 instead of 0.
const raceEnabled = true
