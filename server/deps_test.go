package server

import (
	"slices"
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps checks who may import server: only cmd/dird and
// internal/dirdtest (and tests).
func TestDeps(t *testing.T) {
	users := deptest.Importers(t, "server")
	if len(users) == 0 {
		t.Fatal("nothing imports server: the check is looking at the wrong tree")
	}
	for _, u := range users {
		if !slices.Contains([]string{"cmd/dird", "internal/dirdtest"}, u) {
			t.Errorf("%s imports server; only cmd/dird and internal/dirdtest may", u)
		}
	}
}
