//go:build race

package browsertest

// Under -race the dird binary is built with the race detector too.
const raceEnabled = true
