//go:build !race

package sssdtest

const raceEnabled = false
