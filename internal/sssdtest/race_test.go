//go:build race

package sssdtest

// Under `go test -race` the dird binary is built with the race detector.
const raceEnabled = true
