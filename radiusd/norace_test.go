//go:build !race

package radiusd_test

const raceEnabled = false
