//go:build race

package radiusd_test

// Under go test -race the dird binary is built with the race detector
// too, so a race in the server shows as a failed run of the binary.
const raceEnabled = true
