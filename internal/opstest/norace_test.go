//go:build !race

package opstest

const raceEnabled = false
